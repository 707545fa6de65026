//! The vectors of docs/protocol.md Appendix A, and hand-minted tokens.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{
    KeyPair as _, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PSS_SHA256, RsaEncoding,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value, json};

use super::*;
use crate::keys::{JwksCache, StaticKeySource};

const FIXTURE: &str = include_str!("../../tests/fixtures/appendix_a.txt");
/// Before 2100-01-01 (the vectors' `exp`), after `v5_expired`.
const NOW: u64 = 1_800_000_000_000;
const EXP_2100_MS: u64 = 4_102_444_800_000;
const DYNAMIC_KID: &str = "d-1700000000000";
const STATIC_KID: &str = "s-7a1e2f10-0000-4000-8000-000000000001";
const MINTED_KID: &str = "d-test-minted";

// ---------------------------------------------------------------- fixtures

/// The Appendix A JWKS and the `(name, token)` lines (the `front` line included).
fn appendix() -> (JwkSet, Vec<(&'static str, &'static str)>) {
    let split = FIXTURE.find("\nv5\n").unwrap() + 1;
    let jwks = serde_json::from_str(&FIXTURE[..split]).unwrap();
    let lines: Vec<&str> = FIXTURE[split..].lines().collect();
    assert_eq!(lines.len() % 2, 0);
    let pairs = lines.chunks(2).map(|pair| (pair[0], pair[1])).collect();
    (jwks, pairs)
}

fn vector(name: &str) -> &'static str {
    appendix()
        .1
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1
}

/// The Appendix A keys; the long cooldown makes fetch counts independent of test speed.
fn appendix_cache() -> JwksCache {
    JwksCache::new(Arc::new(StaticKeySource::new(appendix().0)))
        .with_cooldown(Duration::from_secs(3600))
}

/// A freshly generated key (once per test binary) with its JWK under [`MINTED_KID`].
struct Minter {
    pair: KeyPair,
    jwks: JwkSet,
}

fn minter() -> &'static Minter {
    static MINTER: OnceLock<Minter> = OnceLock::new();
    MINTER.get_or_init(|| {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let jwks = serde_json::from_value(json!({"keys": [
            {"kty": "RSA", "kid": MINTED_KID, "n": n, "e": e, "alg": "RS256", "use": "sig"}
        ]}))
        .unwrap();
        Minter { pair, jwks }
    })
}

fn rsa_sign(encoding: &'static dyn RsaEncoding, message: &str) -> Vec<u8> {
    let pair = &minter().pair;
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        encoding,
        &SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .unwrap();
    signature
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// `header.payload.signature` with the segments given as text, signed RS256 over them.
fn sign_segments(header: &str, payload: &str) -> String {
    let input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(rsa_sign(&RSA_PKCS1_SHA256, &input));
    format!("{input}.{signature}")
}

fn mint(header: &Value, payload: &Value) -> String {
    sign_segments(&b64(header), &b64(payload))
}

fn header(version: &str) -> Value {
    json!({"alg": "RS256", "typ": "JWT", "version": version, "kid": MINTED_KID})
}

fn payload_v5(exp: u64) -> Value {
    json!({
        "sub": "user-1", "exp": exp, "iat": 1_700_000_000u64,
        "sessionHandle": "3f0a7c1e-1111-4222-8333-944455556666",
        "refreshTokenHash1": "a".repeat(64), "parentRefreshTokenHash1": null,
        "antiCsrfToken": null, "custom": "x", "tId": "public", "rsub": "user-1"
    })
}

fn payload_v2(expiry_ms: u64) -> Value {
    json!({
        "sessionHandle": "3f0a7c1e-1111-4222-8333-944455556666", "userId": "user-1",
        "refreshTokenHash1": "a".repeat(64), "parentRefreshTokenHash1": null,
        "userData": {"custom": "x"}, "antiCsrfToken": null,
        "expiryTime": expiry_ms, "timeCreated": 1_700_000_000_000u64
    })
}

/// A v2 token: literal header, standard base64 with padding everywhere.
fn mint_v2(payload: &Value) -> String {
    let header = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIyIn0=";
    let input = format!(
        "{header}.{}",
        STANDARD.encode(serde_json::to_vec(payload).unwrap())
    );
    let signature = STANDARD.encode(rsa_sign(&RSA_PKCS1_SHA256, &input));
    format!("{input}.{signature}")
}

/// The minted key plus the Appendix A keys (so v2 has to try more than one).
fn minted_cache() -> JwksCache {
    let mut set = appendix().0;
    set.keys.extend(minter().jwks.keys.iter().cloned());
    JwksCache::new(Arc::new(StaticKeySource::new(set)))
}

async fn verify(raw: &str, cache: &JwksCache, now_ms: u64) -> Result<AccessTokenInfo, TokenError> {
    verify_access_token(parse_access_token(raw)?, cache, now_ms).await
}

fn malformed(raw: &str) -> bool {
    parse_access_token(raw).is_err_and(|e| e.is_parse_error())
}

// ---------------------------------------------------------------- Appendix A

#[test]
fn fixture_matches_the_spec_layout() {
    let (jwks, pairs) = appendix();
    assert_eq!(jwks.keys.len(), 2);
    let names: Vec<_> = pairs.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "v5",
            "v4",
            "v3",
            "v5_expired",
            "v5_bad_signature",
            "v5_static_kid",
            "v5_with_parent",
            "v5_unknown_kid",
            "v5_missing_rsub",
            "v5_stt1",
            "v5_anticsrf",
            "v2",
            "non_st_hs256",
            "front"
        ]
    );
}

#[test]
fn appendix_a_version_kid_and_structure() {
    /// `None`: parse or structure failure; else version and kid.
    type Expected = Option<(u8, Option<&'static str>)>;
    let rows: [(&str, Expected); 13] = [
        ("v5", Some((5, Some(DYNAMIC_KID)))),
        ("v4", Some((4, Some(DYNAMIC_KID)))),
        ("v3", Some((3, Some(DYNAMIC_KID)))),
        ("v5_expired", Some((5, Some(DYNAMIC_KID)))),
        ("v5_bad_signature", Some((5, Some(DYNAMIC_KID)))),
        ("v5_static_kid", Some((5, Some(STATIC_KID)))),
        ("v5_with_parent", Some((5, Some(DYNAMIC_KID)))),
        ("v5_unknown_kid", Some((5, Some("d-1")))),
        ("v5_missing_rsub", None),
        ("v5_stt1", None),
        ("v5_anticsrf", Some((5, Some(DYNAMIC_KID)))),
        ("v2", Some((2, None))),
        ("non_st_hs256", None),
    ];
    for (name, expected) in rows {
        let raw = vector(name);
        match (parse_access_token(raw), expected) {
            (Ok(token), Some((version, kid))) => {
                assert_eq!(token.version, version, "{name}");
                assert_eq!(token.kid.as_deref(), kid, "{name}");
                assert_eq!(token.raw, raw);
                assert_eq!(format!("{}.{}", token.signing_input, token.signature), raw);
            }
            (Err(error), None) => assert!(error.is_parse_error(), "{name}: {error}"),
            (result, _) => panic!("{name}: unexpected {:?}", result.map(|t| t.version)),
        }
    }
    assert_eq!(
        parse_access_token(vector("v5_missing_rsub")).unwrap_err(),
        TokenError::Malformed("payload field rsub is missing or not a string")
    );
    assert_eq!(
        parse_access_token(vector("v5_stt1")).unwrap_err(),
        TokenError::Malformed("wrong token type (stt)")
    );
}

#[tokio::test]
async fn appendix_a_verify() {
    let cache = appendix_cache();

    let v5 = verify(vector("v5"), &cache, NOW).await.unwrap();
    assert_eq!((v5.version, v5.kid.as_deref()), (5, Some(DYNAMIC_KID)));
    assert_eq!(v5.user_id, "user-1");
    assert_eq!(v5.recipe_user_id, "user-1");
    assert_eq!(v5.tenant_id, "public");
    assert_eq!(v5.session_handle, "3f0a7c1e-1111-4222-8333-944455556666");
    assert_eq!(v5.refresh_token_hash1, "a".repeat(64));
    assert_eq!(v5.parent_refresh_token_hash1, None);
    assert_eq!(v5.anti_csrf_token, None);
    assert_eq!(v5.expiry_ms, EXP_2100_MS);
    assert_eq!(v5.time_created_ms, 1_700_000_000_000);
    // v3+: the whole payload, protected props included.
    assert_eq!(v5.payload["custom"], "x");
    assert_eq!(v5.payload["sub"], "user-1");
    assert_eq!(v5.payload["iss"], "http://localhost:3001/auth");
    assert_eq!(
        v5.payload["st-ev"],
        json!({"v": true, "t": 1_700_000_000_000u64})
    );

    let v4 = verify(vector("v4"), &cache, NOW).await.unwrap();
    assert_eq!(v4.version, 4);
    assert_eq!(v4.tenant_id, "tenant1");
    assert_eq!(v4.recipe_user_id, "user-1");
    assert_eq!(v4.expiry_ms, EXP_2100_MS);

    let v3 = verify(vector("v3"), &cache, NOW).await.unwrap();
    assert_eq!(v3.version, 3);
    assert_eq!(v3.tenant_id, "public");
    assert_eq!(v3.recipe_user_id, "user-1");

    assert_eq!(
        verify(vector("v5_expired"), &cache, NOW).await.unwrap_err(),
        TokenError::Expired
    );
    assert_eq!(
        verify(vector("v5_bad_signature"), &cache, NOW)
            .await
            .unwrap_err(),
        TokenError::BadSignature
    );

    let static_kid = verify(vector("v5_static_kid"), &cache, NOW).await.unwrap();
    assert_eq!(static_kid.kid.as_deref(), Some(STATIC_KID));

    let parent = verify(vector("v5_with_parent"), &cache, NOW).await.unwrap();
    assert_eq!(parent.parent_refresh_token_hash1, Some("b".repeat(64)));

    assert_eq!(
        verify(vector("v5_unknown_kid"), &cache, NOW)
            .await
            .unwrap_err(),
        TokenError::UnknownKey
    );

    let anti_csrf = verify(vector("v5_anticsrf"), &cache, NOW).await.unwrap();
    assert_eq!(
        anti_csrf.anti_csrf_token.as_deref(),
        Some("9c4e1d2a-aaaa-4bbb-8ccc-dddddddddddd")
    );

    let v2 = verify(vector("v2"), &cache, NOW).await.unwrap();
    assert_eq!((v2.version, v2.kid.as_deref()), (2, None));
    assert_eq!(v2.user_id, "user-1");
    assert_eq!(v2.recipe_user_id, "user-1");
    assert_eq!(v2.tenant_id, "public");
    assert_eq!(v2.expiry_ms, EXP_2100_MS);
    assert_eq!(v2.time_created_ms, 1_700_000_000_000);
    assert_eq!(v2.parent_refresh_token_hash1, None);
    assert_eq!(v2.anti_csrf_token, None);
    // v2: the payload is `userData`.
    assert_eq!(
        Value::Object(Map::clone(&v2.payload)),
        json!({"custom": "x"})
    );

    // Structure failures and the foreign JWT never get as far as verification.
    for name in ["v5_missing_rsub", "v5_stt1", "non_st_hs256"] {
        assert!(malformed(vector(name)), "{name}");
    }
    // One fetch for the whole table (the unknown kid lookup is within the cooldown).
    assert_eq!(cache.fetch_count(), 1);
}

#[tokio::test]
async fn appendix_a_verify_from_cache_only() {
    let cache = appendix_cache();
    let cold = verify_access_token_cached(parse_access_token(vector("v5")).unwrap(), &cache, NOW);
    assert_eq!(cold.unwrap_err(), TokenError::UnknownKey);
    let cold_v2 =
        verify_access_token_cached(parse_access_token(vector("v2")).unwrap(), &cache, NOW);
    assert_eq!(cold_v2.unwrap_err(), TokenError::UnknownKey);

    verify(vector("v5"), &cache, NOW).await.unwrap();
    let cached =
        |name| verify_access_token_cached(parse_access_token(vector(name)).unwrap(), &cache, NOW);
    assert_eq!(cached("v5").unwrap().user_id, "user-1");
    assert_eq!(cached("v4").unwrap().tenant_id, "tenant1");
    assert_eq!(cached("v2").unwrap().user_id, "user-1");
    assert_eq!(cached("v5_expired").unwrap_err(), TokenError::Expired);
    assert_eq!(
        cached("v5_bad_signature").unwrap_err(),
        TokenError::BadSignature
    );
    assert_eq!(
        cached("v5_unknown_kid").unwrap_err(),
        TokenError::UnknownKey
    );
    assert_eq!(cache.fetch_count(), 1);
}

// ---------------------------------------------------------------- minted tokens

#[tokio::test]
async fn minted_v5_round_trip() {
    let cache = minted_cache();
    let mut payload = payload_v5(4_102_444_800);
    payload["sub"] = " \tuser-2\u{feff} ".into();
    payload["rsub"] = "recipe-2 ".into();
    payload["tId"] = "tenant-9".into();
    payload["parentRefreshTokenHash1"] = "  ".into();
    payload["antiCsrfToken"] = 42.into();
    payload["stt"] = 0.into();
    let info = verify(&mint(&header("5"), &payload), &cache, NOW)
        .await
        .unwrap();
    assert_eq!(info.kid.as_deref(), Some(MINTED_KID));
    assert_eq!(info.user_id, "user-2");
    assert_eq!(info.recipe_user_id, "recipe-2");
    assert_eq!(info.tenant_id, "tenant-9");
    assert_eq!(info.parent_refresh_token_hash1.as_deref(), Some(""));
    assert_eq!(info.anti_csrf_token, None);
    // The payload is returned untouched (not trimmed).
    assert_eq!(info.payload["sub"], " \tuser-2\u{feff} ");
}

#[tokio::test]
async fn minted_v3_and_v4() {
    let cache = minted_cache();
    let mut v3 = payload_v5(4_102_444_800);
    v3.as_object_mut()
        .unwrap()
        .retain(|k, _| k != "tId" && k != "rsub");
    let mut no_version = header("3");
    no_version.as_object_mut().unwrap().remove("version");
    for header in [header("3"), no_version] {
        let info = verify(&mint(&header, &v3), &cache, NOW).await.unwrap();
        assert_eq!((info.version, info.tenant_id.as_str()), (3, "public"));
    }
    // v4 requires tId.
    assert!(malformed(&mint(&header("4"), &v3)));
    v3["tId"] = "t".into();
    let info = verify(&mint(&header("4"), &v3), &cache, NOW).await.unwrap();
    assert_eq!((info.version, info.tenant_id.as_str()), (4, "t"));
    // v5 also requires rsub.
    assert!(malformed(&mint(&header("5"), &v3)));
}

#[tokio::test]
async fn minted_v2_tries_each_key() {
    let cache = minted_cache();
    let info = verify(&mint_v2(&payload_v2(EXP_2100_MS)), &cache, NOW)
        .await
        .unwrap();
    assert_eq!((info.version, info.user_id.as_str()), (2, "user-1"));
    assert_eq!(
        Value::Object(Map::clone(&info.payload)),
        json!({"custom": "x"})
    );

    // userData may be any value; the payload is then empty.
    let mut null_data = payload_v2(EXP_2100_MS);
    null_data["userData"] = Value::Null;
    let info = verify(&mint_v2(&null_data), &cache, NOW).await.unwrap();
    assert!(info.payload.is_empty());
    // …but it must be present.
    null_data.as_object_mut().unwrap().remove("userData");
    assert!(malformed(&mint_v2(&null_data)));

    // Not signed by any cached key.
    let only_appendix = appendix_cache();
    let raw = mint_v2(&payload_v2(EXP_2100_MS));
    assert_eq!(
        verify(&raw, &only_appendix, NOW).await.unwrap_err(),
        TokenError::BadSignature
    );
}

#[tokio::test]
async fn expiry_boundary_has_no_leeway() {
    let cache = minted_cache();
    let exp = 1_800_000_000u64;
    let raw = mint(&header("5"), &payload_v5(exp));
    assert_eq!(
        verify(&raw, &cache, exp * 1000 - 1)
            .await
            .unwrap()
            .expiry_ms,
        exp * 1000
    );
    assert_eq!(
        verify(&raw, &cache, exp * 1000).await.unwrap_err(),
        TokenError::Expired
    );

    // v2: expired only when expiryTime < now.
    let expiry = 1_800_000_000_123u64;
    let raw = mint_v2(&payload_v2(expiry));
    assert_eq!(
        verify(&raw, &cache, expiry).await.unwrap().expiry_ms,
        expiry
    );
    assert_eq!(
        verify(&raw, &cache, expiry + 1).await.unwrap_err(),
        TokenError::Expired
    );

    // Fractional and negative exp.
    let mut fractional = payload_v5(0);
    fractional["exp"] = json!(1_800_000_000.5);
    let raw = mint(&header("5"), &fractional);
    assert!(verify(&raw, &cache, 1_800_000_000_499).await.is_ok());
    assert_eq!(
        verify(&raw, &cache, 1_800_000_000_500).await.unwrap_err(),
        TokenError::Expired
    );
    let mut negative = payload_v5(0);
    negative["exp"] = json!(-1);
    let raw = mint(&header("5"), &negative);
    assert_eq!(
        verify(&raw, &cache, 0).await.unwrap_err(),
        TokenError::Expired
    );
}

#[tokio::test]
async fn other_algorithms_are_never_accepted() {
    let cache = minted_cache();
    let payload = b64(&payload_v5(4_102_444_800));
    let with_alg =
        |alg: &str| b64(&json!({"alg": alg, "typ": "JWT", "version": "5", "kid": MINTED_KID}));

    // alg none, empty signature.
    assert!(malformed(&format!("{}.{payload}.", with_alg("none"))));
    // HS256 with the RSA public key bytes as the HMAC secret (the classic confusion attack).
    let secret = minter().pair.public_key().as_ref().to_vec();
    let hmac_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
    let hs256_input = format!("{}.{payload}", with_alg("HS256"));
    let tag = URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&hmac_key, hs256_input.as_bytes()));
    assert!(malformed(&format!("{hs256_input}.{tag}")));
    // The same MAC under an RS256 header is just a bad signature.
    let rs256_input = format!("{}.{payload}", with_alg("RS256"));
    let tag = URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&hmac_key, rs256_input.as_bytes()));
    assert_eq!(
        verify(&format!("{rs256_input}.{tag}"), &cache, NOW)
            .await
            .unwrap_err(),
        TokenError::BadSignature
    );
    // RS384 and PS256 signatures made with the right key.
    for (alg, encoding) in [
        ("RS384", &RSA_PKCS1_SHA384 as &'static dyn RsaEncoding),
        ("PS256", &RSA_PSS_SHA256),
    ] {
        let input = format!("{}.{payload}", with_alg(alg));
        let signature = URL_SAFE_NO_PAD.encode(rsa_sign(encoding, &input));
        assert!(malformed(&format!("{input}.{signature}")), "{alg}");
        // Relabelled as RS256 it fails the RS256 check.
        let relabelled = format!("{rs256_input}.{signature}");
        assert_eq!(
            verify(&relabelled, &cache, NOW).await.unwrap_err(),
            TokenError::BadSignature
        );
    }
    for alg in ["ES256", "EdDSA", "HS512", "rs256", "RS256 ", ""] {
        assert!(
            malformed(&format!("{}.{payload}.c2ln", with_alg(alg))),
            "{alg:?}"
        );
    }
    let no_alg = b64(&json!({"typ": "JWT", "version": "5", "kid": MINTED_KID}));
    assert!(malformed(&format!("{no_alg}.{payload}.c2ln")));
}

#[tokio::test]
async fn changed_payload_byte_is_a_bad_signature() {
    let cache = minted_cache();
    let raw = mint(&header("5"), &payload_v5(4_102_444_800));
    let (input, signature) = raw.rsplit_once('.').unwrap();
    let (header_segment, _) = input.split_once('.').unwrap();
    let mut changed = payload_v5(4_102_444_800);
    changed["custom"] = "y".into();
    let forged = format!("{header_segment}.{}.{signature}", b64(&changed));
    assert_eq!(
        verify(&forged, &cache, NOW).await.unwrap_err(),
        TokenError::BadSignature
    );

    // Flipping one character of the signature segment, or re-padding it, also fails.
    let mut flipped = raw.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert_eq!(
        verify(&flipped, &cache, NOW).await.unwrap_err(),
        TokenError::BadSignature
    );
    assert_eq!(
        verify(&format!("{raw}="), &cache, NOW).await.unwrap_err(),
        TokenError::BadSignature
    );
}

#[tokio::test]
async fn lenient_base64_is_verified_over_the_original_text() {
    let cache = minted_cache();
    // Standard alphabet with padding for header and payload; a `custom` value chosen so the
    // payload encoding contains `+` or `/`.
    let mut payload = payload_v5(4_102_444_800);
    payload["custom"] = "??>>??>>~~~".into();
    let payload_segment = STANDARD.encode(serde_json::to_vec(&payload).unwrap());
    assert!(payload_segment.contains(['+', '/']));
    let header_segment = STANDARD.encode(serde_json::to_vec(&header("5")).unwrap());
    let raw = sign_segments(&header_segment, &payload_segment);
    let info = verify(&raw, &cache, NOW).await.unwrap();
    assert_eq!(info.payload["custom"], "??>>??>>~~~");

    // Mixed alphabets decode too.
    let mixed = payload_segment.replacen('+', "-", 1);
    let mixed = if mixed == payload_segment {
        payload_segment.replacen('/', "_", 1)
    } else {
        mixed
    };
    let raw = sign_segments(&header_segment, &mixed);
    let token = parse_access_token(&raw).unwrap();
    assert_eq!(token.payload["custom"], "??>>??>>~~~");
}

#[tokio::test]
async fn unknown_minted_kid() {
    let cache = appendix_cache();
    let raw = mint(&header("5"), &payload_v5(4_102_444_800));
    assert_eq!(
        verify(&raw, &cache, NOW).await.unwrap_err(),
        TokenError::UnknownKey
    );
    let token = parse_access_token(&raw).unwrap();
    assert_eq!(
        verify_access_token_cached(token, &cache, NOW).unwrap_err(),
        TokenError::UnknownKey
    );
}

// ---------------------------------------------------------------- parse rejections

#[test]
fn oversized_token_is_rejected_before_decoding() {
    let raw = mint(&header("5"), &payload_v5(4_102_444_800));
    let mut big = payload_v5(4_102_444_800);
    big["pad"] = "x".repeat(MAX_ACCESS_TOKEN_LEN).into();
    let big = mint(&header("5"), &big);
    assert_eq!(
        parse_access_token(&big).unwrap_err(),
        TokenError::Malformed("token is too large")
    );
    let garbage = "!".repeat(MAX_ACCESS_TOKEN_LEN + 1);
    assert_eq!(
        parse_access_token(&garbage).unwrap_err(),
        TokenError::Malformed("token is too large")
    );
    assert!(parse_access_token(&raw).is_ok());
}

#[test]
fn invalid_kids_are_rejected() {
    let payload = payload_v5(4_102_444_800);
    let with_kid = |kid: Value| {
        mint(
            &json!({"alg": "RS256", "typ": "JWT", "version": "5", "kid": kid}),
            &payload,
        )
    };
    for kid in [
        json!("a".repeat(257)),
        json!("../../etc/passwd"),
        json!("d-1/../../x"),
        json!("d 1"),
        json!("d-1\n"),
        json!("d-é"),
        json!(""),
        json!(null),
        json!(17),
    ] {
        assert!(malformed(&with_kid(kid.clone())), "{kid}");
    }
    let longest = "k".repeat(256);
    assert_eq!(
        parse_access_token(&with_kid(json!(longest))).unwrap().kid,
        Some(longest)
    );
    let token = with_kid(json!("s-A.b:c_d-9"));
    assert_eq!(
        parse_access_token(&token).unwrap().kid.as_deref(),
        Some("s-A.b:c_d-9")
    );
}

#[test]
fn version_is_strict_decimal() {
    let payload = payload_v5(4_102_444_800);
    let with_version = |version: Value| {
        mint(
            &json!({"alg": "RS256", "typ": "JWT", "version": version, "kid": MINTED_KID}),
            &payload,
        )
    };
    for version in [
        "5x",
        "",
        " 5",
        "5 ",
        "+5",
        "-5",
        "5.0",
        "0x5",
        "1",
        "2",
        "0",
        "6",
        "256",
        "99999999999",
    ] {
        assert!(malformed(&with_version(json!(version))), "{version:?}");
    }
    for version in [json!(5), json!(null), json!(["5"]), json!(true)] {
        assert!(malformed(&with_version(version.clone())), "{version}");
    }
    assert_eq!(
        parse_access_token(&with_version(json!("05")))
            .unwrap()
            .version,
        5
    );
    assert_eq!(
        parse_access_token(&with_version(json!("4")))
            .unwrap()
            .version,
        4
    );
}

#[test]
fn header_shape_is_checked() {
    let payload = b64(&payload_v5(4_102_444_800));
    let headers = [
        json!({"alg": "RS256", "version": "5", "kid": MINTED_KID}),
        json!({"alg": "RS256", "typ": "jwt", "version": "5", "kid": MINTED_KID}),
        json!({"alg": "RS256", "typ": "JWT", "version": "5"}),
        json!(["RS256", "JWT", MINTED_KID, "5"]),
        json!("RS256"),
    ];
    for header in headers {
        assert!(
            malformed(&format!("{}.{payload}.c2ln", b64(&header))),
            "{header}"
        );
    }
    let duplicate = URL_SAFE_NO_PAD
        .encode(r#"{"alg":"RS256","typ":"JWT","version":"5","kid":"k","alg":"HS256"}"#);
    assert!(malformed(&format!("{duplicate}.{payload}.c2ln")));
    let escaped = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS\u0032\u00356","typ":"JWT","kid":"k"}"#);
    assert_eq!(
        parse_access_token(&format!("{escaped}.{payload}.c2ln"))
            .unwrap()
            .version,
        3
    );
    // Non-literal v2 headers and garbage.
    let v2_json = b64(&json!({"alg": "RS256", "typ": "JWT", "version": "2"}));
    for raw in [
        format!("{v2_json}.{payload}.c2ln"),
        format!("bm90IGpzb24.{payload}.c2ln"),
        format!("!!!.{payload}.c2ln"),
        format!("{}.bm90IGpzb24.c2ln", b64(&header("5"))),
        format!("{}.{}.c2ln", b64(&header("5")), b64(&json!([1, 2]))),
        format!("{}..c2ln", b64(&header("5"))),
    ] {
        assert!(malformed(&raw), "{raw}");
    }
}

#[test]
fn segment_count_is_exactly_three() {
    let raw = mint(&header("5"), &payload_v5(4_102_444_800));
    let (input, _) = raw.rsplit_once('.').unwrap();
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        input.into(),
        format!("{raw}.x"),
        format!(".{raw}"),
    ] {
        assert!(malformed(&bad), "{bad}");
    }
    // An empty signature parses (it fails verification later).
    assert!(parse_access_token(&format!("{input}.")).is_ok());
}

#[test]
fn structure_check() {
    let sign_v5 = |payload: &Value| mint(&header("5"), payload);
    for stt in [json!(0), json!(0.0)] {
        let mut payload = payload_v5(4_102_444_800);
        payload["stt"] = stt;
        assert!(parse_access_token(&sign_v5(&payload)).is_ok());
    }
    for stt in [
        json!(1),
        json!(false),
        json!("0"),
        json!(null),
        json!(-1),
        json!([0]),
    ] {
        let mut payload = payload_v5(4_102_444_800);
        payload["stt"] = stt.clone();
        assert_eq!(
            parse_access_token(&sign_v5(&payload)).unwrap_err(),
            TokenError::Malformed("wrong token type (stt)"),
            "{stt}"
        );
    }
    for field in [
        "sub",
        "exp",
        "iat",
        "sessionHandle",
        "refreshTokenHash1",
        "rsub",
        "tId",
    ] {
        let mut missing = payload_v5(4_102_444_800);
        missing.as_object_mut().unwrap().remove(field);
        assert!(malformed(&sign_v5(&missing)), "missing {field}");
        let mut mistyped = payload_v5(4_102_444_800);
        mistyped[field] = if field == "exp" || field == "iat" {
            json!("1")
        } else {
            json!(1)
        };
        assert!(malformed(&sign_v5(&mistyped)), "mistyped {field}");
    }
    for field in [
        "sessionHandle",
        "userId",
        "refreshTokenHash1",
        "expiryTime",
        "timeCreated",
    ] {
        let mut missing = payload_v2(EXP_2100_MS);
        missing.as_object_mut().unwrap().remove(field);
        assert!(malformed(&mint_v2(&missing)), "v2 missing {field}");
    }
    // Optional fields may be absent; the core's null is absent too.
    let mut minimal = payload_v5(4_102_444_800);
    minimal
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k != "parentRefreshTokenHash1" && k != "antiCsrfToken");
    assert!(parse_access_token(&sign_v5(&minimal)).is_ok());
}

// ---------------------------------------------------------------- errors and Debug

#[tokio::test]
async fn errors_and_debug_never_show_the_token() {
    let cache = appendix_cache();
    let raw = vector("v5_anticsrf");
    let (_, signature) = raw.rsplit_once('.').unwrap();
    let token = parse_access_token(raw).unwrap();
    let debug = format!("{token:?}");
    assert!(
        !debug.contains(signature) && !debug.contains("9c4e1d2a"),
        "{debug}"
    );
    let info = verify_access_token(token, &cache, NOW).await.unwrap();
    let debug = format!("{info:?}");
    assert!(
        debug.contains("user-1") && debug.contains("[redacted]"),
        "{debug}"
    );
    assert!(
        !debug.contains("9c4e1d2a") && debug.contains("\"custom\""),
        "{debug}"
    );

    for raw in [
        vector("v5_bad_signature"),
        vector("v5_expired"),
        vector("v5_unknown_kid"),
    ] {
        let error = verify(raw, &cache, NOW).await.unwrap_err();
        assert!(!error.is_parse_error());
        let shown = format!("{error} {error:?}");
        assert!(
            !shown.contains(&raw[..20]) && !shown.contains(&raw[raw.len() - 20..]),
            "{shown}"
        );
    }
    let error = parse_access_token(vector("non_st_hs256")).unwrap_err();
    assert!(error.is_parse_error());
    assert!(!error.to_string().contains("eyJ"));
    assert!(!TokenError::KeysUnavailable.is_parse_error());
    assert!(!TokenError::Expired.is_parse_error());
}

#[test]
fn verify_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let cache = appendix_cache();
    let token = parse_access_token(vector("v5")).unwrap();
    assert_send(&verify_access_token(token, &cache, NOW));
}
