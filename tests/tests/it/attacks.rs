//! Attacks on the demo app over real HTTP. Every forged, tampered, replayed or
//! malformed credential gets 401 (or the HTTP parser's 4xx), never 200 and never 5xx, and the
//! server keeps serving: `/health` is checked after each attack. The embedded core's own
//! signing key is read from its store to forge tokens that only fail on the point tested.
//! Each attack runs on SQLite and on PostgreSQL.

use std::sync::Arc;
use std::time::Instant;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _};
use serde_json::{Value, json};
use sessionward::{AntiCsrf, SessionConfig};
use sessionward_examples::demo;
use sessionward_tests::{
    LoggedIn, Store, TestServer, TestStore, client, login, on_both_stores, serve,
};

use crate::support::{
    FaultyCore, Signer, SourceMode, assert_healthy, b64, now_s, payload, pem, raw_request,
    segment_json, signing_input,
};

const UNAUTHORISED: &str = "unauthorised";
const TRY_REFRESH: &str = "try refresh token";

on_both_stores!(
    the_real_session_works,
    alg_none_is_not_a_token,
    hs256_with_the_public_key_as_secret_is_refused,
    other_algorithms_are_refused,
    tampered_tokens_are_refused,
    hostile_kids_are_refused_without_key_fetches,
    malformed_tokens_are_refused,
    expired_and_wrong_type_tokens_are_refused,
    tokens_used_in_the_wrong_place_are_refused,
    replayed_refresh_token_after_rotation_is_theft,
    anti_csrf_token_missing_wrong_or_foreign_is_refused,
    duplicate_cookies_and_authorization_headers_are_refused,
    oversized_headers_are_refused,
    crlf_and_control_bytes_in_headers_are_refused,
    burst_of_unknown_kids_causes_a_handful_of_key_fetches,
);

/// The demo app on the embedded core, a logged-in header session, and the core's signing key.
struct Target {
    store: TestStore,
    core: Arc<FaultyCore>,
    config: SessionConfig,
    server: TestServer,
    session: LoggedIn,
    signer: Signer,
}

impl Target {
    async fn start(
        store: Store,
        customise: fn(sessionward::SessionConfigBuilder) -> sessionward::SessionConfigBuilder,
    ) -> Self {
        let store = TestStore::new(store).await;
        let embedded = store.config(|b| b);
        let core = FaultyCore::new(Arc::clone(embedded.core()), SourceMode::Normal);
        let config = customise(SessionConfig::builder().core(core.clone()))
            .build()
            .expect("config");
        let server = serve(Some(config.clone()), demo::routes);
        let session = login(&server, "victim", "header").await;
        let signer = Signer::of_token(&store.signing_keys().await, &session.access_token);
        Self {
            store,
            core,
            config,
            server,
            session,
            signer,
        }
    }

    /// A valid payload for `user` expiring in an hour.
    fn payload(&self, user: &str) -> Value {
        payload(user, now_s() + 3600, json!({}))
    }

    /// Sends `token` to `GET /user` as a bearer token and as the `sAccessToken` cookie; both
    /// must be refused with 401 and one of `messages`; then `/health` must answer.
    async fn refused(&self, label: &str, token: &str, messages: &[&str]) {
        let requests = [
            client()
                .get(self.server.url("/user"))
                .header("authorization", format!("Bearer {token}")),
            client()
                .get(self.server.url("/user"))
                .header("cookie", format!("sAccessToken={token}")),
        ];
        for (how, request) in ["bearer", "cookie"].into_iter().zip(requests) {
            let label = format!("{label} ({how})");
            match request.send().await {
                Ok(response) => expect_401(response, &label, messages).await,
                // reqwest refuses header values it cannot send: nothing reached the server.
                Err(error) => assert!(error.is_builder(), "{label}: {error}"),
            }
            assert_healthy(&self.server, &label).await;
        }
    }
}

async fn expect_401(response: reqwest::Response, label: &str, messages: &[&str]) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 401, "{label}: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        messages.contains(&message),
        "{label}: message {message:?}, expected one of {messages:?}"
    );
}

async fn the_real_session_works(store: Store) {
    let t = Target::start(store, |b| b).await;
    let response = client()
        .get(t.server.url("/user"))
        .bearer_auth(&t.session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A token forged with the core's own key verifies: the forging helpers are sound, so the
    // refusals below are about the point each one tests.
    let forged = t.signer.token(&t.payload("forged-with-the-real-key"));
    let response = client()
        .get(t.server.url("/user"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["userId"],
        "forged-with-the-real-key"
    );
}

async fn alg_none_is_not_a_token(store: Store) {
    let t = Target::start(store, |b| b).await;
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = json!({"alg": alg, "typ": "JWT", "version": "5", "kid": t.signer.kid});
        let input = signing_input(&header, &t.payload("admin"));
        t.refused(
            &format!("alg {alg:?}, empty signature"),
            &format!("{input}."),
            &[UNAUTHORISED],
        )
        .await;
        // Even with a valid RS256 signature over the same bytes, `alg` must be RS256.
        let signature = t.signer.sign_with(&signature::RSA_PKCS1_SHA256, &input);
        t.refused(
            &format!("alg {alg:?}, real signature"),
            &format!("{input}.{signature}"),
            &[UNAUTHORISED],
        )
        .await;
    }
    let header = json!({"typ": "JWT", "version": "5", "kid": t.signer.kid});
    let input = signing_input(&header, &t.payload("admin"));
    let signature = t.signer.sign_with(&signature::RSA_PKCS1_SHA256, &input);
    t.refused(
        "alg missing",
        &format!("{input}.{signature}"),
        &[UNAUTHORISED],
    )
    .await;
}

async fn hs256_with_the_public_key_as_secret_is_refused(store: Store) {
    let t = Target::start(store, |b| b).await;
    let public = t.signer.pair.public_key();
    let pkcs1_der = public.as_ref().to_vec();
    let spki_der = public.as_der().unwrap().as_ref().to_vec();
    let jwk = serde_json::to_string(&t.signer.jwk(&t.signer.kid)).unwrap();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("SPKI PEM", pem("PUBLIC KEY", &spki_der).into_bytes()),
        ("PKCS#1 PEM", pem("RSA PUBLIC KEY", &pkcs1_der).into_bytes()),
        ("SPKI DER", spki_der),
        ("PKCS#1 DER", pkcs1_der),
        ("JWK JSON", jwk.into_bytes()),
        (
            "modulus",
            public.modulus().big_endian_without_leading_zero().to_vec(),
        ),
    ];
    for alg in ["HS256", "HS384", "HS512"] {
        let header = json!({"alg": alg, "typ": "JWT", "version": "5", "kid": t.signer.kid});
        let input = signing_input(&header, &t.payload("admin"));
        for (name, secret) in &secrets {
            let hmac_alg = match alg {
                "HS256" => aws_lc_rs::hmac::HMAC_SHA256,
                "HS384" => aws_lc_rs::hmac::HMAC_SHA384,
                _ => aws_lc_rs::hmac::HMAC_SHA512,
            };
            let key = aws_lc_rs::hmac::Key::new(hmac_alg, secret);
            let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
            let token = format!("{input}.{}", b64(tag.as_ref()));
            t.refused(
                &format!("{alg} keyed with the {name}"),
                &token,
                &[UNAUTHORISED],
            )
            .await;
        }
        // The same HMAC under an `RS256` header: the RSA check fails.
        let header = t.signer.header();
        let input = signing_input(&header, &t.payload("admin"));
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secrets[0].1);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        t.refused(
            "HMAC tag under an RS256 header",
            &format!("{input}.{}", b64(tag.as_ref())),
            &[TRY_REFRESH],
        )
        .await;
    }
}

async fn other_algorithms_are_refused(store: Store) {
    let t = Target::start(store, |b| b).await;
    let claims = t.payload("admin");
    // RSA variants made with the core's own private key.
    for (alg, encoding) in [
        (
            "RS384",
            &signature::RSA_PKCS1_SHA384 as &'static dyn signature::RsaEncoding,
        ),
        ("RS512", &signature::RSA_PKCS1_SHA512),
        ("PS256", &signature::RSA_PSS_SHA256),
        ("PS384", &signature::RSA_PSS_SHA384),
    ] {
        let header = json!({"alg": alg, "typ": "JWT", "version": "5", "kid": t.signer.kid});
        let input = signing_input(&header, &claims);
        let token = format!("{input}.{}", t.signer.sign_with(encoding, &input));
        t.refused(&format!("{alg} with the real key"), &token, &[UNAUTHORISED])
            .await;
        // The same signature scheme under an honest-looking RS256 header.
        let input = signing_input(&t.signer.header(), &claims);
        let token = format!("{input}.{}", t.signer.sign_with(encoding, &input));
        t.refused(
            &format!("{alg} signature, RS256 header"),
            &token,
            &[TRY_REFRESH],
        )
        .await;
    }
    // ES256 and EdDSA with keys of their own (the JWKS has no such keys).
    let rng = SystemRandom::new();
    let ec = signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
        .expect("EC key");
    let ed = signature::Ed25519KeyPair::generate().expect("Ed25519 key");
    for alg in ["ES256", "EdDSA", "RS256"] {
        let header = json!({"alg": alg, "typ": "JWT", "version": "5", "kid": t.signer.kid});
        let input = signing_input(&header, &claims);
        for (scheme, signature) in [
            (
                "ES256",
                b64(ec.sign(&rng, input.as_bytes()).unwrap().as_ref()),
            ),
            ("EdDSA", b64(ed.sign(input.as_bytes()).as_ref())),
        ] {
            let expected = if alg == "RS256" {
                TRY_REFRESH
            } else {
                UNAUTHORISED
            };
            t.refused(
                &format!("{scheme} signature under alg {alg}"),
                &format!("{input}.{signature}"),
                &[expected],
            )
            .await;
        }
    }
}

async fn tampered_tokens_are_refused(store: Store) {
    let t = Target::start(store, |b| b).await;
    let token = t.session.access_token.clone();
    let [header, body, sig]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();

    // One payload field changed, re-encoded, signature kept.
    let mut claims = segment_json(&token, 1);
    claims.insert("sub".into(), json!("admin"));
    let forged = format!(
        "{header}.{}.{sig}",
        b64(serde_json::to_vec(&claims).unwrap())
    );
    t.refused("payload sub changed", &forged, &[TRY_REFRESH])
        .await;

    // One character changed at a spread of positions in each segment.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (segment, which) in [(header, 0), (body, 1), (sig, 2)] {
        for position in (0..segment.len()).step_by((segment.len() / 6).max(1)) {
            let mut bytes = segment.as_bytes().to_vec();
            let old = bytes[position];
            bytes[position] = *alphabet
                .iter()
                .find(|&&c| c != old && c.is_ascii_alphabetic() == old.is_ascii_alphabetic())
                .unwrap();
            let changed = String::from_utf8(bytes).unwrap();
            let mut parts = [header, body, sig];
            parts[which] = &changed;
            t.refused(
                &format!("segment {which} char {position} changed"),
                &parts.join("."),
                &[UNAUTHORISED, TRY_REFRESH],
            )
            .await;
        }
    }

    // Signature removed, truncated, or made by another key.
    for (label, forged) in [
        ("signature removed", format!("{header}.{body}.")),
        ("signature segment removed", format!("{header}.{body}")),
        (
            "signature truncated",
            format!("{header}.{body}.{}", &sig[..sig.len() / 2]),
        ),
        ("signature doubled", format!("{header}.{body}.{sig}{sig}")),
    ] {
        t.refused(label, &forged, &[UNAUTHORISED, TRY_REFRESH])
            .await;
    }
    let foreign = Signer::foreign(&t.signer.kid);
    let input = format!("{header}.{body}");
    let forged = format!(
        "{input}.{}",
        foreign.sign_with(&signature::RSA_PKCS1_SHA256, &input)
    );
    t.refused(
        "signed by another key under the real kid",
        &forged,
        &[TRY_REFRESH],
    )
    .await;
    // Another key that brings its own public key along (jwk / jku / x5u headers are ignored).
    let mut evil_header = foreign.header();
    evil_header["kid"] = json!("d-666");
    evil_header["jwk"] = serde_json::to_value(foreign.jwk("d-666")).unwrap();
    evil_header["jku"] = json!("http://127.0.0.1:9/jwks.json");
    evil_header["x5u"] = json!("http://127.0.0.1:9/cert.pem");
    let forged = foreign.sign_json(&evil_header, &t.payload("admin"));
    let before = t.core.control.fetches();
    t.refused("embedded jwk / jku header", &forged, &[TRY_REFRESH])
        .await;
    assert!(
        t.core.control.fetches() <= before + 1,
        "one refetch at most"
    );

    // A legacy v2 token (literal header, tried against every key) forged with another key.
    let v2_header = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIyIn0=";
    let v2_payload = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        serde_json::to_vec(&json!({
            "sessionHandle": "h", "userId": "admin", "refreshTokenHash1": "a",
            "parentRefreshTokenHash1": null, "userData": {}, "antiCsrfToken": null,
            "expiryTime": (now_s() + 3600) * 1000, "timeCreated": now_s() * 1000
        }))
        .unwrap(),
    );
    let input = format!("{v2_header}.{v2_payload}");
    let forged = format!(
        "{input}.{}",
        foreign.sign_with(&signature::RSA_PKCS1_SHA256, &input)
    );
    t.refused("v2 token signed by another key", &forged, &[TRY_REFRESH])
        .await;
}

async fn hostile_kids_are_refused_without_key_fetches(store: Store) {
    let t = Target::start(store, |b| b).await;
    let claims = t.payload("admin");
    let before = t.core.control.fetches();
    let long = format!("d-{}", "1".repeat(10 * 1024));
    let hostile: Vec<Value> = vec![
        Value::Null,
        json!(""),
        json!(long),
        json!("../../../../etc/passwd"),
        json!("d-1/../../signing-keys.json"),
        json!("..\\..\\sessions.sqlite3"),
        json!("d-1%2f..%2f..%2fx"),
        json!("file:///etc/passwd"),
        json!("http://127.0.0.1:9/jwks.json"),
        json!("d-1\u{0000}"),
        json!("d-1' OR '1'='1"),
        json!("d-1\r\nX-Injected: 1"),
        json!(1_700_000_000_000u64),
        json!({"kid": "d-1"}),
        json!(["d-1"]),
    ];
    for kid in &hostile {
        let mut header = t.signer.header();
        match kid {
            Value::Null => {
                header.as_object_mut().unwrap().remove("kid");
            }
            other => header["kid"] = other.clone(),
        }
        let token = t.signer.sign_json(&header, &claims);
        let label = format!("kid {:.40}", kid.to_string());
        t.refused(&label, &token, &[UNAUTHORISED]).await;
    }
    assert_eq!(
        t.core.control.fetches(),
        before,
        "a malformed kid must never reach the key source"
    );
    // A well-formed unknown kid signed by the real key: one refetch, then "try refresh".
    let mut header = t.signer.header();
    header["kid"] = json!("d-1");
    t.refused(
        "unknown kid",
        &t.signer.sign_json(&header, &claims),
        &[TRY_REFRESH],
    )
    .await;
}

async fn malformed_tokens_are_refused(store: Store) {
    let t = Target::start(store, |b| b).await;
    let token = &t.session.access_token;
    let deep = format!(
        "{}.{}.c2ln",
        b64(serde_json::to_vec(&t.signer.header()).unwrap()),
        b64(format!("{}{}", "[".repeat(5000), "]".repeat(5000)))
    );
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("one segment", "abc".into()),
        ("two segments", token.rsplit_once('.').unwrap().0.to_owned()),
        ("four segments", format!("{token}.x")),
        ("five segments", format!("{token}.{token}")),
        ("only dots", "...".into()),
        ("two dots", "..".into()),
        ("non-base64 segments", "%%%.&&&.***".into()),
        ("spaces inside", token.replacen('.', ". ", 1)),
        ("unicode", "ĥëäđ.päÿłøäđ.šïğ".into()),
        (
            "padding chaos",
            format!("{}====", token.replacen('.', "==.", 1)),
        ),
        (
            "payload not JSON",
            format!("{}.bm90IGpzb24.c2ln", b64(b"{\"alg\":\"RS256\"}")),
        ),
        (
            "header is an array",
            format!("{}.{}.c2ln", b64(b"[1,2,3]"), b64(b"{}")),
        ),
        ("deeply nested payload", deep),
        ("version 6", {
            let mut header = t.signer.header();
            header["version"] = json!("6");
            t.signer.sign_json(&header, &t.payload("admin"))
        }),
        ("version as number", {
            let mut header = t.signer.header();
            header["version"] = json!(5);
            t.signer.sign_json(&header, &t.payload("admin"))
        }),
        ("version 5x", {
            let mut header = t.signer.header();
            header["version"] = json!("5x");
            t.signer.sign_json(&header, &t.payload("admin"))
        }),
        ("typ JWE", {
            let mut header = t.signer.header();
            header["typ"] = json!("JWE");
            t.signer.sign_json(&header, &t.payload("admin"))
        }),
        ("v5 without rsub", {
            let mut claims = t.payload("admin");
            claims.as_object_mut().unwrap().remove("rsub");
            t.signer.token(&claims)
        }),
        (
            "sub is a number",
            t.signer
                .token(&payload("x", now_s() + 60, json!({"sub": 1}))),
        ),
        (
            "token too large",
            format!("{token}{}", "A".repeat(17 * 1024)),
        ),
    ];
    for (label, token) in cases {
        t.refused(label, &token, &[UNAUTHORISED]).await;
    }
}

async fn expired_and_wrong_type_tokens_are_refused(store: Store) {
    let t = Target::start(store, |b| b).await;
    let now = now_s();
    t.refused(
        "expired by one second",
        &t.signer.token(&payload("victim", now - 1, json!({}))),
        &[TRY_REFRESH],
    )
    .await;
    t.refused(
        "expiring this second",
        &t.signer.token(&payload("victim", now, json!({}))),
        &[TRY_REFRESH],
    )
    .await;
    t.refused(
        "exp negative",
        &t.signer.token(&payload("victim", 0, json!({"exp": -1}))),
        &[TRY_REFRESH],
    )
    .await;
    t.refused(
        "exp a string",
        &t.signer
            .token(&payload("victim", 0, json!({"exp": "9999999999"}))),
        &[UNAUTHORISED],
    )
    .await;
    for stt in [
        json!(1),
        json!("0"),
        json!(true),
        json!(null),
        json!(0.5),
        json!([0]),
    ] {
        t.refused(
            &format!("stt {stt}"),
            &t.signer
                .token(&payload("victim", now + 3600, json!({"stt": stt}))),
            &[UNAUTHORISED],
        )
        .await;
    }
    // The core's static key (`s-…`) signs nothing while dynamic keys are configured.
    let keys = t.store.signing_keys().await;
    let static_kid = keys
        .iter()
        .map(|(kid, _)| kid)
        .find(|kid| kid.starts_with("s-"))
        .expect("a static key");
    let static_signer = Signer::from_keys(&keys, static_kid);
    t.refused(
        "signed with the static key",
        &static_signer.token(&t.payload("victim")),
        &[TRY_REFRESH],
    )
    .await;
}

async fn tokens_used_in_the_wrong_place_are_refused(store: Store) {
    let t = Target::start(store, |b| b).await;
    // A refresh token is not an access token.
    t.refused(
        "refresh token on /user",
        &t.session.refresh_token,
        &[UNAUTHORISED],
    )
    .await;
    // An access token is not a refresh token.
    for request in [
        client()
            .post(t.server.url("/auth/session/refresh"))
            .bearer_auth(&t.session.access_token),
        client().post(t.server.url("/auth/session/refresh")).header(
            "cookie",
            format!("sRefreshToken={}", t.session.access_token),
        ),
    ] {
        let response = request.send().await.unwrap();
        expect_401(
            response,
            "access token on the refresh route",
            &[UNAUTHORISED],
        )
        .await;
        assert_healthy(&t.server, "access token on the refresh route").await;
    }
    // The front-token is not a token either.
    t.refused(
        "front-token on /user",
        &t.session.front_token,
        &[UNAUTHORISED],
    )
    .await;
}

async fn refresh_with(server: &TestServer, refresh_token: &str) -> reqwest::Response {
    client()
        .post(server.url("/auth/session/refresh"))
        .bearer_auth(refresh_token)
        .send()
        .await
        .unwrap()
}

fn header_of(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

async fn replayed_refresh_token_after_rotation_is_theft(store: Store) {
    let t = Target::start(store, |b| b).await;
    let stolen = t.session.refresh_token.clone();
    let rotated = refresh_with(&t.server, &stolen).await;
    assert_eq!(rotated.status(), 200);
    let access = header_of(&rotated, "st-access-token");
    let refresh = header_of(&rotated, "st-refresh-token");
    // The legitimate client uses its new token: the rotation is committed.
    let used = client()
        .get(t.server.url("/user"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    let promoted = header_of(&used, "st-access-token");

    let replay = refresh_with(&t.server, &stolen).await;
    assert_eq!(replay.headers()["front-token"], "remove");
    expect_401(replay, "replayed refresh token", &["token theft detected"]).await;
    assert_healthy(&t.server, "theft").await;
    // The session is revoked for everyone: the thief's and the victim's refresh tokens.
    expect_401(
        refresh_with(&t.server, &refresh).await,
        "victim's refresh after theft",
        &[UNAUTHORISED],
    )
    .await;
    expect_401(
        refresh_with(&t.server, &stolen).await,
        "second replay",
        &[UNAUTHORISED, "token theft detected"],
    )
    .await;
    // Documented limit: the promoted access token stays valid until it expires
    // (check_database routes refuse it at once, see lifecycle.rs).
    let response = client()
        .get(t.server.url("/user"))
        .bearer_auth(&promoted)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn anti_csrf_token_missing_wrong_or_foreign_is_refused(store: Store) {
    let t = Target::start(store, |b| b.anti_csrf(AntiCsrf::ViaToken)).await;
    let victim = login(&t.server, "csrf-victim", "cookie").await;
    let other = login(&t.server, "csrf-attacker", "cookie").await;
    let cookie = format!("sAccessToken={}", victim.access_token);
    let own = victim.anti_csrf.clone().expect("anti-csrf token");
    let foreign = other.anti_csrf.clone().expect("anti-csrf token");
    for (label, value) in [
        ("missing", None),
        ("empty", Some(String::new())),
        (
            "wrong",
            Some("9c4e1d2a-aaaa-4bbb-8ccc-dddddddddddd".to_owned()),
        ),
        ("another session's", Some(foreign.clone())),
        ("own with a suffix", Some(format!("{own}x"))),
        ("own upper-cased", Some(own.to_uppercase())),
    ] {
        for path in ["/user", "/auth/signout"] {
            let mut request = client().post(t.server.url(path)).header("cookie", &cookie);
            if let Some(value) = &value {
                request = request.header("anti-csrf", value);
            }
            let response = request.send().await.unwrap();
            expect_401(
                response,
                &format!("{label} anti-CSRF on {path}"),
                &[TRY_REFRESH],
            )
            .await;
            assert_healthy(&t.server, label).await;
        }
    }
    // The refused sign-outs changed nothing: the session still works with its own token.
    let response = client()
        .post(t.server.url("/user"))
        .header("cookie", &cookie)
        .header("anti-csrf", &own)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Refresh with another session's anti-CSRF token.
    let response = client()
        .post(t.server.url("/auth/session/refresh"))
        .header("cookie", format!("sRefreshToken={}", victim.refresh_token))
        .header("anti-csrf", &foreign)
        .send()
        .await
        .unwrap();
    expect_401(
        response,
        "refresh with a foreign anti-CSRF token",
        &[UNAUTHORISED],
    )
    .await;

    // Custom-header mode: a cross-site form cannot add `rid`.
    let t = Target::start(store, |b| b.anti_csrf(AntiCsrf::ViaCustomHeader)).await;
    let victim = login(&t.server, "csrf-victim", "cookie").await;
    let cookie = format!("sAccessToken={}", victim.access_token);
    for path in ["/user", "/auth/signout"] {
        let response = client()
            .post(t.server.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        expect_401(response, &format!("no rid on {path}"), &[TRY_REFRESH]).await;
    }
    let response = client()
        .post(t.server.url("/user"))
        .header("cookie", &cookie)
        .header("rid", "anti-csrf")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the session survived the forged sign-out"
    );
}

async fn duplicate_cookies_and_authorization_headers_are_refused(store: Store) {
    let t = Target::start(store, |b| b).await;
    let cookie_session = login(&t.server, "cookie-user", "cookie").await;
    let token = &cookie_session.access_token;
    // docs/protocol.md §3.7: several sAccessToken cookies ⇒ "try refresh token", however sent.
    for (label, request) in [
        (
            "two sAccessToken in one Cookie header",
            client().get(t.server.url("/user")).header(
                "cookie",
                format!("sAccessToken={token}; sAccessToken={token}"),
            ),
        ),
        (
            "sAccessToken in two Cookie headers",
            client()
                .get(t.server.url("/user"))
                .header("cookie", format!("sAccessToken={token}"))
                .header("cookie", format!("a=b; sAccessToken={token}")),
        ),
        (
            "valid then forged sAccessToken",
            client().get(t.server.url("/user")).header(
                "cookie",
                format!(
                    "sAccessToken={token}; sAccessToken={}",
                    t.signer.token(&t.payload("admin"))
                ),
            ),
        ),
    ] {
        expect_401(request.send().await.unwrap(), label, &[TRY_REFRESH]).await;
        assert_healthy(&t.server, label).await;
    }
    // Several Authorization headers are never valid HTTP: refused, not guessed.
    let valid = format!("Bearer {}", t.session.access_token);
    for count in [2usize, 50] {
        let mut request =
            String::from("GET /user HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        for _ in 0..count {
            request.push_str(&format!("Authorization: {valid}\r\n"));
        }
        request.push_str("\r\n");
        let status = raw_request(&t.server, request.as_bytes());
        assert_eq!(status, Some(401), "{count} Authorization headers");
        assert_healthy(&t.server, "several Authorization headers").await;
    }
    // More headers than the HTTP parser accepts: its own 4xx, or a closed connection.
    let mut request =
        String::from("GET /user HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for _ in 0..500 {
        request.push_str(&format!("Authorization: {valid}\r\n"));
    }
    request.push_str("\r\n");
    let status = raw_request(&t.server, request.as_bytes());
    assert!(
        status.is_none_or(|s| (400..500).contains(&s)),
        "500 headers: {status:?}"
    );
    assert_healthy(&t.server, "500 headers").await;
}

async fn oversized_headers_are_refused(store: Store) {
    let t = Target::start(store, |b| b).await;
    let valid = &t.session.access_token;
    // Larger than the session reader scans (64 kB) but within actix's header limit: ignored.
    let padded = format!("pad={}; sAccessToken={valid}", "x".repeat(70 * 1024));
    let request = format!(
        "GET /user HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: {padded}\r\n\r\n"
    );
    let status = raw_request(&t.server, request.as_bytes());
    assert!(
        status.is_none_or(|s| (400..500).contains(&s)),
        "70 kB cookie: {status:?}"
    );
    assert_healthy(&t.server, "70 kB cookie").await;
    // 1 MB cookie and 1 MB bearer token: the HTTP layer refuses them (431/400) or hangs up.
    let huge = "A".repeat(1024 * 1024);
    for header in [
        format!("Cookie: sAccessToken={huge}"),
        format!("Authorization: Bearer {huge}"),
        format!("Cookie: sRefreshToken={huge}"),
    ] {
        for path in ["/user", "/auth/session/refresh"] {
            let method = if path == "/user" { "GET" } else { "POST" };
            let request = format!(
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{header}\r\n\r\n"
            );
            let status = raw_request(&t.server, request.as_bytes());
            assert!(
                status.is_none_or(|s| (400..500).contains(&s)),
                "1 MB {:.20} on {path}: {status:?}",
                header
            );
            assert_healthy(&t.server, "1 MB header").await;
        }
    }
    // A 12 kB token (within the parser's limit) of garbage: still just 401.
    t.refused(
        "12 kB garbage token",
        &"A".repeat(12 * 1024),
        &[UNAUTHORISED],
    )
    .await;
}

async fn crlf_and_control_bytes_in_headers_are_refused(store: Store) {
    let t = Target::start(store, |b| b.anti_csrf(AntiCsrf::ViaToken)).await;
    let valid = t.session.access_token.clone();
    let head = "GET /user HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        (
            "bare CR in Authorization",
            format!("{head}Authorization: Bearer x\rSet-Cookie: evil=1\r\n\r\n").into_bytes(),
            &[400],
        ),
        (
            "obs-fold continuation of Authorization",
            format!("{head}Authorization: Bearer\r\n {valid}\r\n\r\n").into_bytes(),
            &[400, 401],
        ),
        (
            "NUL in Authorization",
            format!("{head}Authorization: Bearer {valid}\0x\r\n\r\n").into_bytes(),
            &[400],
        ),
        (
            "bare LF splits the header",
            format!("{head}Authorization: Bearer forged\nSet-Cookie: evil=1\r\n\r\n").into_bytes(),
            &[400, 401],
        ),
        (
            "space before the colon",
            format!("{head}Authorization : Bearer {valid}\r\n\r\n").into_bytes(),
            &[400, 401],
        ),
        (
            "non-UTF-8 bearer",
            {
                let mut bytes = format!("{head}Authorization: Bearer ").into_bytes();
                bytes.extend_from_slice(b"\xff\xfe\x80");
                bytes.extend_from_slice(b"\r\n\r\n");
                bytes
            },
            &[400, 401],
        ),
        (
            "non-UTF-8 cookie",
            {
                let mut bytes = format!("{head}Cookie: sAccessToken=").into_bytes();
                bytes.extend_from_slice(b"\xff\xfe\x80");
                bytes.extend_from_slice(b"\r\n\r\n");
                bytes
            },
            &[400, 401],
        ),
    ];
    for (label, request, allowed) in cases {
        let status = raw_request(&t.server, &request);
        assert!(
            status.is_none_or(|s| allowed.contains(&s)),
            "{label}: {status:?}, expected one of {allowed:?}"
        );
        assert_healthy(&t.server, label).await;
    }

    // Percent-encoded CRLF decoded from cookies never reaches a response header.
    let cookie_session = login(&t.server, "crlf-user", "cookie").await;
    let anti_csrf = cookie_session.anti_csrf.unwrap();
    for (path, cookie) in [
        (
            "/auth/session/refresh",
            "sRefreshToken=x%0D%0ASet-Cookie:%20evil=1".to_owned(),
        ),
        (
            "/user",
            format!(
                "sAccessToken={}%0D%0ASet-Cookie:%20evil=1",
                cookie_session.access_token
            ),
        ),
        (
            "/user",
            "sAccessToken=%0D%0A%0D%0AHTTP/1.1%20200%20OK".to_owned(),
        ),
    ] {
        let response = client()
            .post(t.server.url(path))
            .header("cookie", cookie)
            .header("anti-csrf", format!("{anti_csrf}%0D%0AX-Evil: 1"))
            .send()
            .await
            .unwrap();
        let headers = format!("{:?}", response.headers());
        assert!(!headers.contains("evil"), "{path}: {headers}");
        expect_401(response, path, &[UNAUTHORISED, TRY_REFRESH]).await;
        assert_healthy(&t.server, path).await;
    }
}

/// A random decimal number of up to 18 digits.
fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes) % 1_000_000_000_000_000_000
}

async fn burst_of_unknown_kids_causes_a_handful_of_key_fetches(store: Store) {
    const TOTAL: usize = 10_000;
    const SIGNED: usize = 100;
    const TASKS: usize = 32;
    let t = Target::start(store, |b| b).await;
    // Warm the cache with the real session, then count.
    let response = client()
        .get(t.server.url("/user"))
        .bearer_auth(&t.session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let fetches_before = t.core.control.fetches();
    let cache_before = t.config.keys().fetch_count();

    let foreign = Signer::foreign("unused");
    let claims = t.payload("admin");
    let body = b64(serde_json::to_vec(&claims).unwrap());
    let mut tokens = Vec::with_capacity(TOTAL);
    for i in 0..TOTAL {
        let kid = if i % 2 == 0 {
            format!("d-{}", random_u64())
        } else {
            format!("s-{:016x}-{:016x}", random_u64(), random_u64())
        };
        let header = json!({"alg": "RS256", "typ": "JWT", "version": "5", "kid": kid});
        if i < SIGNED {
            tokens.push(foreign.sign_json(&header, &claims));
        } else {
            let input = format!("{}.{body}", b64(serde_json::to_vec(&header).unwrap()));
            tokens.push(format!("{input}.{}", b64(kid.as_bytes())));
        }
    }
    let tokens = Arc::new(tokens);
    let started = Instant::now();
    let http = client();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let tokens = Arc::clone(&tokens);
        let url = t.server.url("/user");
        let http = http.clone();
        tasks.push(actix_web::rt::spawn(async move {
            let mut statuses = Vec::new();
            for token in tokens.iter().skip(task).step_by(TASKS) {
                let response = http.get(&url).bearer_auth(token).send().await.unwrap();
                statuses.push(response.status().as_u16());
            }
            statuses
        }));
    }
    let mut count = 0;
    for task in tasks {
        for status in task.await.unwrap() {
            assert_eq!(status, 401);
            count += 1;
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(count, TOTAL);
    let fetches = t.core.control.fetches() - fetches_before;
    let cache_fetches = t.config.keys().fetch_count() - cache_before;
    eprintln!(
        "{TOTAL} unknown kids in {elapsed:?}: {fetches} key-source fetches ({cache_fetches} by the cache)"
    );
    // The cooldown after a fruitless refetch doubles (500 ms, 1 s, 2 s, … up to 30 s), so
    // the number of fetches grows with the logarithm of the burst's length, not with the
    // number of kids: a handful, then one per 30 s.
    let allowed = 8 + (elapsed.as_secs() / 30) as usize;
    assert!(
        fetches <= allowed,
        "{fetches} fetches for {TOTAL} unknown kids in {elapsed:?} (allowed {allowed})"
    );
    assert_healthy(&t.server, "the burst").await;
    // The real session is unaffected.
    let response = client()
        .get(t.server.url("/user"))
        .bearer_auth(&t.session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
