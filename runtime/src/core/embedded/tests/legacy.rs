//! v2 access tokens (CDI before 2.21): the legacy format, the legacy key kept apart from the
//! JWKS keys, and the full session cycle.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

use super::*;
use crate::core::LegacyHandshake;

/// The v2 header segment, as old SDKs compare it.
const V2_HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIyIn0=";

fn v2_session(user: &str) -> NewSession {
    NewSession {
        access_token_version: AccessTokenVersion::V2,
        ..new_session(user)
    }
}

fn v2_refresh(refresh_token: &str) -> RefreshRequest {
    RefreshRequest {
        use_dynamic_signing_key: None,
        access_token_version: AccessTokenVersion::V2,
        ..refresh_request(refresh_token)
    }
}

/// The payload of a v2 token (standard base64).
fn v2_payload(token: &IssuedToken) -> Map<String, Value> {
    let segment = token.token.split('.').nth(1).unwrap();
    serde_json::from_slice(&STANDARD.decode(segment).unwrap()).unwrap()
}

/// Whether `public_key` (base64 SPKI DER, as the handshake sends it) verifies `token`, as an
/// old SDK checks it: RS256 over `header.payload`, the signature in standard base64.
fn verifies_with(public_key: &str, token: &str) -> bool {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let der = STANDARD.decode(public_key).unwrap();
    let Ok(signature) = STANDARD.decode(signature) else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
        .verify(input.as_bytes(), &signature)
        .is_ok()
}

async fn handshake(core: &EmbeddedCore) -> LegacyHandshake {
    core.legacy_handshake().await.unwrap()
}

async fn verify_outcome(core: &EmbeddedCore, token: &str) -> VerifyOutcome {
    let token = IssuedToken {
        token: token.to_owned(),
        expiry_ms: 0,
        created_ms: 0,
    };
    core.verify_session(verify_request(&token, false))
        .await
        .unwrap()
}

#[tokio::test]
async fn v2_tokens_have_the_legacy_format_and_the_handshake_key_verifies_them() {
    let f = fixture();
    let created = f.core.create_session(v2_session("user-1")).await.unwrap();
    let token = &created.access_token;
    let segments: Vec<&str> = token.token.split('.').collect();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[0], V2_HEADER);
    // Standard base64 with padding: a 2048-bit signature is 256 bytes, 344 characters.
    assert_eq!(segments[2].len(), 344);
    assert!(segments[2].ends_with('='));
    let payload = v2_payload(token);
    let names: Vec<&str> = payload.keys().map(String::as_str).collect();
    // No parent hash or anti-CSRF token on a first token: the core leaves unset fields out.
    assert_eq!(
        names,
        [
            "userId",
            "expiryTime",
            "timeCreated",
            "sessionHandle",
            "refreshTokenHash1",
            "userData"
        ]
    );
    assert_eq!(payload["userId"], "user-1");
    assert_eq!(payload["userData"], json!({"role": "admin"}));
    assert_eq!(payload["sessionHandle"], json!(created.session.handle));
    assert_eq!(payload["timeCreated"], json!(START_MS));
    // Milliseconds, not whole seconds as in v3+.
    let validity = millis(EmbeddedCoreOptions::default().access_token_validity);
    assert_eq!(payload["expiryTime"], json!(START_MS + validity));
    assert_eq!(token.expiry_ms, START_MS + validity);

    let handshake = handshake(&f.core).await;
    assert_eq!(handshake.keys.len(), 1);
    let key = &handshake.keys[0];
    assert!(verifies_with(&key.public_key, &token.token));
    assert_eq!(key.created_ms, START_MS);
    assert_eq!(
        key.expiry_ms,
        START_MS + super::super::legacy::LEGACY_KEY_VALIDITY_MS
    );
    assert_eq!(handshake.access_token_validity_ms, validity);

    // The signature is the proof: no database check, no new token.
    assert!(verified(&f.core, token, false).await.is_none());
    // With the anti-CSRF token in the payload when asked for.
    let mut with_csrf = v2_session("user-2");
    with_csrf.enable_anti_csrf = true;
    let created = f.core.create_session(with_csrf).await.unwrap();
    assert_eq!(
        v2_payload(&created.access_token)["antiCsrfToken"],
        json!(created.anti_csrf_token.unwrap())
    );
}

#[tokio::test]
async fn the_legacy_key_is_not_in_the_jwks_and_signs_nothing_else() {
    let f = fixture();
    let v2 = f.core.create_session(v2_session("user-1")).await.unwrap();
    let v5 = f.core.create_session(new_session("user-1")).await.unwrap();
    let legacy = handshake(&f.core).await.keys.remove(0);
    // No JWKS key verifies the v2 token, and the legacy key verifies no v5 token.
    let jwks = f.core.key_source().fetch_keys().await.unwrap();
    assert!(
        jwks.keys
            .iter()
            .all(|k| !k.common.key_id.as_deref().unwrap().starts_with("l-"))
    );
    let (input, signature) = v5.access_token.token.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let der = STANDARD.decode(&legacy.public_key).unwrap();
    assert!(
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
            .verify(input.as_bytes(), &raw)
            .is_err()
    );
    let (v2_input, v2_signature) = v2.access_token.token.rsplit_once('.').unwrap();
    let v2_signature = STANDARD.decode(v2_signature).unwrap();
    for jwk in &jwks.keys {
        let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
            panic!("an RSA key");
        };
        let key = crate::keys::Rs256Key::from_components(
            &URL_SAFE_NO_PAD.decode(&rsa.n).unwrap(),
            &URL_SAFE_NO_PAD.decode(&rsa.e).unwrap(),
        )
        .unwrap();
        assert!(
            !key.verifies(v2_input.as_bytes(), &v2_signature),
            "a JWKS key verifies the v2 token"
        );
    }
    assert!(verifies_with(&legacy.public_key, &v2.access_token.token));
}

#[tokio::test]
async fn a_v2_token_signed_by_a_jwks_key_or_tampered_is_refused() {
    let f = fixture();
    let created = f.core.create_session(v2_session("user-1")).await.unwrap();
    let (input, _) = created.access_token.token.rsplit_once('.').unwrap();
    let dynamic = f.core.shared.keys.signer(true, START_MS).unwrap();
    let fixed = f.core.shared.keys.signer(false, START_MS).unwrap();
    for key in [&dynamic, &fixed] {
        // The same v2 header and payload, signed by a key of the JWKS.
        let forged = format!(
            "{input}.{}",
            STANDARD.encode(key.sign_raw(input.as_bytes()).unwrap())
        );
        assert!(matches!(
            verify_outcome(&f.core, &forged).await,
            VerifyOutcome::TryRefreshToken
        ));
        assert!(matches!(
            f.core
                .regenerate_access_token(forged, Map::new())
                .await
                .unwrap(),
            RegenerateOutcome::Unauthorised
        ));
    }

    // A v3 token signed by the legacy key, claiming a JWKS kid or a legacy-looking one.
    let legacy = f
        .core
        .shared
        .legacy
        .existing(&*f.core.shared.store)
        .await
        .unwrap()
        .unwrap();
    let v5 = f.core.create_session(new_session("user-1")).await.unwrap();
    let (v5_input, _) = v5.access_token.token.rsplit_once('.').unwrap();
    let legacy_signed = URL_SAFE_NO_PAD.encode(
        STANDARD
            .decode(legacy.sign(v5_input.as_bytes()).unwrap())
            .unwrap(),
    );
    assert!(matches!(
        verify_outcome(&f.core, &format!("{v5_input}.{legacy_signed}")).await,
        VerifyOutcome::TryRefreshToken
    ));
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT","version":"5","kid":"l-0"}"#);
    let payload_segment = v5_input.split_once('.').unwrap().1;
    let input = format!("{header}.{payload_segment}");
    let signature = URL_SAFE_NO_PAD.encode(
        STANDARD
            .decode(legacy.sign(input.as_bytes()).unwrap())
            .unwrap(),
    );
    assert!(matches!(
        verify_outcome(&f.core, &format!("{input}.{signature}")).await,
        VerifyOutcome::TryRefreshToken
    ));

    // A v2 token whose header or payload was changed after signing.
    let token = &created.access_token.token;
    let (_, rest) = token.split_once('.').unwrap();
    let v1_header = STANDARD.encode(r#"{"alg":"RS256","typ":"JWT","version":"1"}"#);
    let other_header = STANDARD.encode(r#"{"alg":"RS256","typ":"JWT","version":"2","kid":"x"}"#);
    let mut payload = v2_payload(&created.access_token);
    payload["userId"] = json!("someone-else");
    let (_, signature) = token.rsplit_once('.').unwrap();
    let other_payload = format!(
        "{V2_HEADER}.{}.{signature}",
        STANDARD.encode(Value::Object(payload).to_string())
    );
    for tampered in [
        format!("{v1_header}.{rest}"),
        format!("{other_header}.{rest}"),
        other_payload,
    ] {
        assert!(
            !matches!(
                verify_outcome(&f.core, &tampered).await,
                VerifyOutcome::Ok { .. }
            ),
            "{tampered}"
        );
    }
}

#[tokio::test]
async fn v2_sessions_refresh_promote_regenerate_and_revoke() {
    let f = fixture();
    let created = f.core.create_session(v2_session("user-1")).await.unwrap();
    f.clock.advance(Duration::from_secs(10));
    let child = match f
        .core
        .refresh_session(v2_refresh(&created.refresh_token.token))
        .await
        .unwrap()
    {
        RefreshOutcome::Ok(child) => child,
        other => panic!("refresh failed: {other:?}"),
    };
    let payload = v2_payload(&child.access_token);
    assert_eq!(
        payload["parentRefreshTokenHash1"],
        json!(hash1(&created.refresh_token.token))
    );
    assert_eq!(payload["timeCreated"], json!(START_MS + 10_000));
    let key = handshake(&f.core).await.keys.remove(0);
    assert!(verifies_with(&key.public_key, &child.access_token.token));

    // First use of the child: promoted, and the new token is v2 without the parent hash.
    let promoted = verified(&f.core, &child.access_token, false).await.unwrap();
    assert!(promoted.token.starts_with(V2_HEADER));
    assert!(!v2_payload(&promoted).contains_key("parentRefreshTokenHash1"));
    assert!(verifies_with(&key.public_key, &promoted.token));
    assert!(verified(&f.core, &promoted, false).await.is_none());
    // The first refresh token is now stale: theft.
    assert!(matches!(
        f.core
            .refresh_session(v2_refresh(&created.refresh_token.token))
            .await
            .unwrap(),
        RefreshOutcome::TokenTheftDetected { .. }
    ));

    // Regenerate: v2 again, the new payload, the same expiry.
    let RegenerateOutcome::Ok {
        new_access_token: Some(regenerated),
        session,
    } = f
        .core
        .regenerate_access_token(
            promoted.token.clone(),
            json!({"role": "viewer"}).as_object().unwrap().clone(),
        )
        .await
        .unwrap()
    else {
        panic!("regenerate failed");
    };
    assert_eq!(
        session.user_data_in_jwt,
        *json!({"role": "viewer"}).as_object().unwrap()
    );
    let regenerated_payload = v2_payload(&regenerated);
    assert_eq!(regenerated_payload["userData"], json!({"role": "viewer"}));
    assert_eq!(
        regenerated_payload["expiryTime"],
        v2_payload(&promoted)["expiryTime"]
    );
    assert!(verifies_with(&key.public_key, &regenerated.token));

    // Revoked: the database check fails, the refresh is unauthorised.
    f.core
        .revoke_sessions(vec![session.handle.clone()])
        .await
        .unwrap();
    assert!(matches!(
        f.core
            .verify_session(verify_request(&regenerated, true))
            .await
            .unwrap(),
        VerifyOutcome::Unauthorised
    ));
    assert!(matches!(
        f.core
            .refresh_session(v2_refresh(&child.refresh_token.token))
            .await
            .unwrap(),
        RefreshOutcome::Unauthorised(_)
    ));

    // An expired v2 token asks for a refresh.
    let later = f.core.create_session(v2_session("user-2")).await.unwrap();
    f.clock.advance(Duration::from_secs(24 * 3600));
    assert!(matches!(
        verify_outcome(&f.core, &later.access_token.token).await,
        VerifyOutcome::TryRefreshToken
    ));
}

#[tokio::test]
async fn instances_on_one_store_agree_on_one_legacy_key() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START_MS);
    let a = EmbeddedCore::open(dir.path(), options(&clock)).unwrap();
    let b = EmbeddedCore::open(dir.path(), options(&clock)).unwrap();
    // No key until a caller needs one, then both create at once: one is stored.
    assert_eq!(count(&dir, "legacy_signing_keys"), 0);
    let (ka, kb) = tokio::join!(a.legacy_handshake(), b.legacy_handshake());
    assert_eq!(ka.unwrap().keys, kb.unwrap().keys);
    assert_eq!(count(&dir, "legacy_signing_keys"), 1);

    let created = a.create_session(v2_session("user-1")).await.unwrap();
    assert!(verified(&b, &created.access_token, false).await.is_none());
    // A restart reads the same key.
    drop(a);
    let c = EmbeddedCore::open(dir.path(), options(&clock)).unwrap();
    assert!(verified(&c, &created.access_token, false).await.is_none());
    assert_eq!(handshake(&c).await, handshake(&b).await);
}

#[tokio::test]
async fn without_a_legacy_key_no_v2_token_verifies() {
    let f = fixture();
    // A well-formed v2 token signed by some RSA key, before this store has a legacy key.
    let stranger = SigningKey::from_stored(&generate_key(true, START_MS).unwrap()).unwrap();
    let payload = json!({
        "userId": "u", "expiryTime": START_MS + 60_000, "timeCreated": START_MS,
        "sessionHandle": "h", "refreshTokenHash1": "r", "userData": {}
    });
    let input = format!("{V2_HEADER}.{}", STANDARD.encode(payload.to_string()));
    let token = format!(
        "{input}.{}",
        STANDARD.encode(stranger.sign_raw(input.as_bytes()).unwrap())
    );
    assert!(matches!(
        verify_outcome(&f.core, &token).await,
        VerifyOutcome::TryRefreshToken
    ));
    // Verifying does not create the key.
    assert_eq!(count(&f.dir, "legacy_signing_keys"), 0);
}
