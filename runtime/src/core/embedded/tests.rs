//! Tests of the embedded core: tempdir-based, manual clock, no background thread.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use tempfile::TempDir;

use super::keys::{KeyPlan, KeyPolicy, SigningKey, generate_key, generate_pkcs8};
use super::mint::{AccessClaims, hash1, hash2, mint_access_token};
use super::options::Clock;
use super::sqlite::{DB_FILE, SCHEMA_VERSION};
use super::*;
use crate::core::{AccessTokenVersion, IssuedToken, SessionCore};
use crate::util::sha256_hex;

mod legacy;

/// 2027-01-15, an arbitrary fixed start for the manual clock.
const START_MS: u64 = 1_800_000_000_000;

struct Fixture {
    dir: TempDir,
    clock: Clock,
    core: EmbeddedCore,
}

fn options(clock: &Clock) -> EmbeddedCoreOptions {
    EmbeddedCoreOptions {
        background_maintenance: false,
        clock: clock.clone(),
        ..EmbeddedCoreOptions::default()
    }
}

fn fixture() -> Fixture {
    fixture_with(|_| {})
}

fn fixture_with(tweak: impl FnOnce(&mut EmbeddedCoreOptions)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START_MS);
    let mut options = options(&clock);
    tweak(&mut options);
    let core = EmbeddedCore::open(dir.path(), options).unwrap();
    Fixture { dir, clock, core }
}

fn new_session(user: &str) -> NewSession {
    NewSession {
        tenant_id: "public".into(),
        recipe_user_id: user.into(),
        access_token_payload: json!({"role": "admin"}).as_object().unwrap().clone(),
        session_data: json!({"db": 1}),
        enable_anti_csrf: false,
        use_dynamic_signing_key: true,
        access_token_version: AccessTokenVersion::default(),
    }
}

fn verify_request(token: &IssuedToken, check_database: bool) -> VerifyRequest {
    VerifyRequest {
        access_token: token.token.clone(),
        anti_csrf_token: None,
        do_anti_csrf_check: false,
        enable_anti_csrf: false,
        check_database,
    }
}

fn refresh_request(refresh_token: &str) -> RefreshRequest {
    RefreshRequest {
        refresh_token: refresh_token.to_owned(),
        anti_csrf_token: None,
        enable_anti_csrf: false,
        use_dynamic_signing_key: Some(true),
        access_token_version: AccessTokenVersion::default(),
    }
}

fn decode_segment(token: &str, index: usize) -> Map<String, Value> {
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

fn payload(token: &IssuedToken) -> Map<String, Value> {
    decode_segment(&token.token, 1)
}

fn kid(token: &IssuedToken) -> String {
    decode_segment(&token.token, 0)["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn refreshed(core: &EmbeddedCore, refresh_token: &str) -> CreatedSession {
    match core
        .refresh_session(refresh_request(refresh_token))
        .await
        .unwrap()
    {
        RefreshOutcome::Ok(created) => created,
        other => panic!("refresh failed: {other:?}"),
    }
}

async fn is_theft(core: &EmbeddedCore, refresh_token: &str) -> bool {
    matches!(
        core.refresh_session(refresh_request(refresh_token))
            .await
            .unwrap(),
        RefreshOutcome::TokenTheftDetected { .. }
    )
}

/// Verifies `token` in the core; returns the replacement token, if any.
async fn verified(
    core: &EmbeddedCore,
    token: &IssuedToken,
    check_database: bool,
) -> Option<IssuedToken> {
    match core
        .verify_session(verify_request(token, check_database))
        .await
        .unwrap()
    {
        VerifyOutcome::Ok {
            new_access_token, ..
        } => new_access_token,
        other => panic!("verify failed: {other:?}"),
    }
}

async fn jwks_kids(core: &EmbeddedCore) -> Vec<String> {
    core.key_source()
        .fetch_keys()
        .await
        .unwrap()
        .keys
        .into_iter()
        .map(|k| k.common.key_id.unwrap())
        .collect()
}

fn sql(dir: &TempDir) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap()
}

fn count(dir: &TempDir, table: &str) -> i64 {
    sql(dir)
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn created_session_verifies_locally_and_in_the_core() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();

    let header = decode_segment(&created.access_token.token, 0);
    assert_eq!(
        Value::Object(header),
        json!({"alg": "RS256", "typ": "JWT", "version": "5", "kid": format!("d-{START_MS}")})
    );
    let claims = payload(&created.access_token);
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["rsub"], "user-1");
    assert_eq!(claims["tId"], "public");
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["iat"], START_MS / 1000);
    assert_eq!(claims["exp"], START_MS / 1000 + 3600);
    assert_eq!(claims["sessionHandle"], created.session.handle.as_str());
    assert_eq!(
        claims["refreshTokenHash1"],
        sha256_hex(created.refresh_token.token.as_bytes())
    );
    assert_eq!(claims["parentRefreshTokenHash1"], Value::Null);
    assert_eq!(claims["antiCsrfToken"], Value::Null);
    assert_eq!(created.access_token.expiry_ms, START_MS + 3_600_000);
    assert_eq!(
        created.refresh_token.expiry_ms,
        START_MS + 100 * 24 * 3_600_000
    );

    // Opaque, cookie-safe, ≥ 32 random bytes.
    let rt = &created.refresh_token.token;
    assert!(rt.len() >= 43);
    assert!(
        rt.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );

    // An external verifier with the core's key source accepts it.
    let cache = crate::keys::JwksCache::new(f.core.key_source());
    let token = crate::token::parse_access_token(&created.access_token.token).unwrap();
    let info = crate::token::verify_access_token(token, &cache, START_MS)
        .await
        .unwrap();
    assert_eq!(info.session_handle, created.session.handle);

    assert!(
        verified(&f.core, &created.access_token, false)
            .await
            .is_none()
    );
    assert!(
        verified(&f.core, &created.access_token, true)
            .await
            .is_none()
    );
}

/// The protected fields each version carries (docs/protocol.md §1.4); the custom `role` too.
fn claim_names(token: &IssuedToken) -> Vec<String> {
    let mut names: Vec<String> = payload(token).keys().cloned().collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn each_access_token_version_is_minted_parsed_and_verified() {
    let v3 = [
        "antiCsrfToken",
        "exp",
        "iat",
        "parentRefreshTokenHash1",
        "refreshTokenHash1",
        "role",
        "sessionHandle",
        "sub",
    ];
    for (version, extra) in [
        (AccessTokenVersion::V3, &[][..]),
        (AccessTokenVersion::V4, &["tId"][..]),
        (AccessTokenVersion::V5, &["rsub", "tId"][..]),
    ] {
        let f = fixture();
        let mut new = new_session("user-1");
        new.access_token_version = version;
        let created = f.core.create_session(new).await.unwrap();
        let number = version.number();
        let header = decode_segment(&created.access_token.token, 0);
        assert_eq!(
            Value::Object(header),
            json!({"alg": "RS256", "typ": "JWT", "version": number.to_string(), "kid": format!("d-{START_MS}")})
        );
        let mut expected: Vec<&str> = v3.iter().chain(extra).copied().collect();
        expected.sort_unstable();
        assert_eq!(claim_names(&created.access_token), expected, "v{number}");

        // Our parser reads the version from the header, and the signature verifies.
        let cache = crate::keys::JwksCache::new(f.core.key_source());
        let token = crate::token::parse_access_token(&created.access_token.token).unwrap();
        assert_eq!(token.version, number);
        let info = crate::token::verify_access_token(token, &cache, START_MS)
            .await
            .unwrap();
        assert_eq!(
            (info.user_id.as_str(), info.tenant_id.as_str()),
            ("user-1", "public")
        );

        // A refresh mints the version it is asked for; the promotion at verify and a
        // regeneration keep the version of the token they are given, as the core does.
        let mut request = refresh_request(&created.refresh_token.token);
        request.access_token_version = version;
        let RefreshOutcome::Ok(child) = f.core.refresh_session(request).await.unwrap() else {
            panic!("refresh failed");
        };
        assert_eq!(
            decode_segment(&child.access_token.token, 0)["version"],
            number.to_string()
        );
        let promoted = verified(&f.core, &child.access_token, false).await.unwrap();
        assert_eq!(
            decode_segment(&promoted.token, 0)["version"],
            number.to_string()
        );
        assert_eq!(claim_names(&promoted), expected);
        let RegenerateOutcome::Ok {
            new_access_token: Some(regenerated),
            ..
        } = f
            .core
            .regenerate_access_token(
                promoted.token.clone(),
                payload(&created.access_token)
                    .into_iter()
                    .filter(|(k, _)| k == "role")
                    .collect(),
            )
            .await
            .unwrap()
        else {
            panic!("regenerate failed");
        };
        assert_eq!(
            decode_segment(&regenerated.token, 0)["version"],
            number.to_string()
        );
        assert_eq!(claim_names(&regenerated), expected);
    }
}

#[tokio::test]
async fn a_refresh_without_a_key_type_keeps_the_sessions() {
    let f = fixture();
    let mut new = new_session("user-1");
    new.use_dynamic_signing_key = false;
    let created = f.core.create_session(new).await.unwrap();
    assert!(kid(&created.access_token).starts_with("s-"));
    let mut request = refresh_request(&created.refresh_token.token);
    request.use_dynamic_signing_key = None;
    let RefreshOutcome::Ok(child) = f.core.refresh_session(request).await.unwrap() else {
        panic!("refresh failed");
    };
    assert!(kid(&child.access_token).starts_with("s-"));
    let mut request = refresh_request(&child.refresh_token.token);
    request.use_dynamic_signing_key = Some(true);
    let RefreshOutcome::Ok(grandchild) = f.core.refresh_session(request).await.unwrap() else {
        panic!("refresh failed");
    };
    assert!(kid(&grandchild.access_token).starts_with("d-"));
}

#[tokio::test]
async fn protected_payload_fields_are_rejected() {
    let f = fixture();
    let mut new = new_session("user-1");
    new.access_token_payload.insert("sub".into(), json!("evil"));
    assert!(matches!(
        f.core.create_session(new).await,
        Err(CoreError::BadRequest(_))
    ));
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let bad = json!({"exp": 1}).as_object().unwrap().clone();
    assert!(matches!(
        f.core
            .update_access_token_payload(created.session.handle.clone(), bad.clone())
            .await,
        Err(CoreError::BadRequest(_))
    ));
    assert!(matches!(
        f.core
            .regenerate_access_token(created.access_token.token, bad)
            .await,
        Err(CoreError::BadRequest(_))
    ));
}

#[tokio::test]
async fn refresh_issues_a_child_carrying_the_parent_hash() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let rt0 = created.refresh_token.token;
    f.clock.advance(Duration::from_secs(5));
    let child = refreshed(&f.core, &rt0).await;
    assert_ne!(child.refresh_token.token, rt0);
    assert_eq!(child.session.handle, created.session.handle);
    assert_eq!(child.session.user_data_in_jwt["role"], "admin");
    let claims = payload(&child.access_token);
    assert_eq!(claims["parentRefreshTokenHash1"], hash1(&rt0));
    assert_eq!(
        claims["refreshTokenHash1"],
        hash1(&child.refresh_token.token)
    );
    assert_eq!(claims["iat"], START_MS / 1000 + 5);
    assert_eq!(
        child.refresh_token.expiry_ms,
        START_MS + 5000 + 100 * 24 * 3_600_000
    );
    // Not committed yet: the stored current token is still the parent.
    let stored = f
        .core
        .shared
        .store
        .session(created.session.handle.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.refresh_hash2, hash2(&rt0));
}

#[tokio::test]
async fn verify_promotes_a_refreshed_token_and_old_refresh_tokens_become_theft() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let rt0 = created.refresh_token.token;
    let child = refreshed(&f.core, &rt0).await;
    f.clock.advance(Duration::from_secs(60));

    let promoted = verified(&f.core, &child.access_token, false)
        .await
        .expect("a token fresh from a refresh is replaced");
    let claims = payload(&promoted);
    assert_eq!(claims["parentRefreshTokenHash1"], Value::Null);
    assert_eq!(
        claims["refreshTokenHash1"],
        hash1(&child.refresh_token.token)
    );
    assert_eq!(claims["exp"], (START_MS + 60_000) / 1000 + 3600);
    assert_eq!(claims["role"], "admin");
    let stored = f
        .core
        .shared
        .store
        .session(created.session.handle.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.refresh_hash2, hash2(&child.refresh_token.token));
    assert_eq!(stored.expiry_ms, START_MS + 60_000 + 100 * 24 * 3_600_000);

    // The same (already promoted) token again: still replaced, without a parent.
    let again = verified(&f.core, &child.access_token, false).await.unwrap();
    assert_eq!(payload(&again)["parentRefreshTokenHash1"], Value::Null);
    // The promoted token needs no core call.
    assert!(verified(&f.core, &promoted, false).await.is_none());

    // Replaying the old refresh token after promotion is theft, even right away.
    match f.core.refresh_session(refresh_request(&rt0)).await.unwrap() {
        RefreshOutcome::TokenTheftDetected {
            handle,
            user_id,
            recipe_user_id,
        } => {
            assert_eq!(handle, created.session.handle);
            assert_eq!(user_id, "user-1");
            assert_eq!(recipe_user_id, "user-1");
        }
        other => panic!("expected theft, got {other:?}"),
    }

    // The child refresh token keeps working.
    let grandchild = refreshed(&f.core, &child.refresh_token.token).await;
    assert_eq!(
        payload(&grandchild.access_token)["parentRefreshTokenHash1"],
        hash1(&child.refresh_token.token)
    );
}

#[tokio::test]
async fn refreshing_with_the_child_promotes_it() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let rt0 = created.refresh_token.token;
    let c1 = refreshed(&f.core, &rt0).await;
    f.clock.advance(Duration::from_secs(120));
    // The access token of c1 was never used: refreshing with c1 commits the rotation.
    let c2 = refreshed(&f.core, &c1.refresh_token.token).await;
    assert_eq!(
        payload(&c2.access_token)["parentRefreshTokenHash1"],
        hash1(&c1.refresh_token.token)
    );
    let stored = f
        .core
        .shared
        .store
        .session(created.session.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.refresh_hash2, hash2(&c1.refresh_token.token));
    assert_eq!(stored.expiry_ms, START_MS + 120_000 + 100 * 24 * 3_600_000);
    assert!(is_theft(&f.core, &rt0).await);
    // c1 is still current (on theft the HTTP layer revokes the session).
    refreshed(&f.core, &c1.refresh_token.token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_share_one_child() {
    let f = fixture();
    let core = Arc::new(f.core);
    let created = core.create_session(new_session("user-1")).await.unwrap();
    let rt0 = created.refresh_token.token;

    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let core = Arc::clone(&core);
            let rt0 = rt0.clone();
            tokio::spawn(async move { core.refresh_session(refresh_request(&rt0)).await })
        })
        .collect();
    let mut children = Vec::new();
    for task in tasks {
        match task.await.unwrap().unwrap() {
            RefreshOutcome::Ok(created) => children.push(created),
            other => panic!("a concurrent refresh failed: {other:?}"),
        }
    }
    let first = children[0].refresh_token.token.clone();
    assert!(children.iter().all(|c| c.refresh_token.token == first));
    // One child stored, not 32.
    assert_eq!(count(&f.dir, "refresh_tokens"), 2);

    // Using it works, and the chain continues.
    let promoted = verified(&core, &children[7].access_token, false).await;
    assert!(promoted.is_some());
    let next = refreshed(&core, &first).await;
    assert_ne!(next.refresh_token.token, first);
    assert!(is_theft(&core, &rt0).await);
}

#[tokio::test]
async fn after_the_grace_window_a_second_child_differs_and_the_loser_is_theft() {
    let f = fixture_with(|o| o.refresh_grace = Duration::from_secs(30));
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let rt0 = created.refresh_token.token;
    let c1 = refreshed(&f.core, &rt0).await;
    f.clock.advance(Duration::from_secs(29));
    let same = refreshed(&f.core, &rt0).await;
    assert_eq!(same.refresh_token.token, c1.refresh_token.token);

    f.clock.advance(Duration::from_secs(2));
    let c2 = refreshed(&f.core, &rt0).await;
    assert_ne!(c2.refresh_token.token, c1.refresh_token.token);
    // A third refresh inside the new window gets c2 again.
    assert_eq!(
        refreshed(&f.core, &rt0).await.refresh_token.token,
        c2.refresh_token.token
    );

    // c2 is used first: it wins.
    assert!(verified(&f.core, &c2.access_token, false).await.is_some());
    // c1's access token is a sibling: valid, not replaced.
    assert!(verified(&f.core, &c1.access_token, false).await.is_none());
    // Using c1's refresh token now is theft.
    assert!(is_theft(&f.core, &c1.refresh_token.token).await);
    refreshed(&f.core, &c2.refresh_token.token).await;
}

#[tokio::test]
async fn without_grace_every_refresh_gets_its_own_child() {
    let f = fixture_with(|o| o.refresh_grace = Duration::ZERO);
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let rt0 = created.refresh_token.token;
    let c1 = refreshed(&f.core, &rt0).await;
    f.clock.advance(Duration::from_millis(1));
    let c2 = refreshed(&f.core, &rt0).await;
    assert_ne!(c1.refresh_token.token, c2.refresh_token.token);
    refreshed(&f.core, &c1.refresh_token.token).await;
    assert!(is_theft(&f.core, &c2.refresh_token.token).await);
}

#[tokio::test]
async fn anti_csrf_tokens_are_checked_on_refresh_and_verify() {
    let f = fixture();
    let mut new = new_session("user-1");
    new.enable_anti_csrf = true;
    let created = f.core.create_session(new).await.unwrap();
    let anti_csrf = created.anti_csrf_token.clone().unwrap();
    assert_eq!(payload(&created.access_token)["antiCsrfToken"], anti_csrf);
    let rt0 = created.refresh_token.token.clone();

    let with = |token: Option<&str>| RefreshRequest {
        refresh_token: rt0.clone(),
        anti_csrf_token: token.map(str::to_owned),
        enable_anti_csrf: true,
        use_dynamic_signing_key: Some(true),
        access_token_version: AccessTokenVersion::default(),
    };
    for wrong in [None, Some("nope")] {
        assert!(matches!(
            f.core.refresh_session(with(wrong)).await.unwrap(),
            RefreshOutcome::Unauthorised(_)
        ));
    }
    let RefreshOutcome::Ok(child) = f
        .core
        .refresh_session(with(Some(&anti_csrf)))
        .await
        .unwrap()
    else {
        panic!("refresh with the right anti-CSRF token failed");
    };
    let child_anti_csrf = child.anti_csrf_token.clone().unwrap();
    assert_ne!(child_anti_csrf, anti_csrf);
    assert_eq!(
        payload(&child.access_token)["antiCsrfToken"],
        child_anti_csrf
    );
    // Without anti-CSRF in use, the token is not checked.
    assert!(matches!(
        f.core.refresh_session(refresh_request(&rt0)).await.unwrap(),
        RefreshOutcome::Ok(_)
    ));

    let verify = |sent: Option<&str>| VerifyRequest {
        access_token: created.access_token.token.clone(),
        anti_csrf_token: sent.map(str::to_owned),
        do_anti_csrf_check: true,
        enable_anti_csrf: true,
        check_database: false,
    };
    assert!(matches!(
        f.core.verify_session(verify(Some("nope"))).await.unwrap(),
        VerifyOutcome::TryRefreshToken
    ));
    assert!(matches!(
        f.core.verify_session(verify(None)).await.unwrap(),
        VerifyOutcome::TryRefreshToken
    ));
    assert!(matches!(
        f.core
            .verify_session(verify(Some(&anti_csrf)))
            .await
            .unwrap(),
        VerifyOutcome::Ok { .. }
    ));
}

#[tokio::test]
async fn bad_tokens_are_rejected() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let garbage = IssuedToken {
        token: "not-a-token".into(),
        expiry_ms: 0,
        created_ms: 0,
    };
    assert!(matches!(
        f.core
            .verify_session(verify_request(&garbage, true))
            .await
            .unwrap(),
        VerifyOutcome::Unauthorised
    ));
    // Change one character in the middle of the signature (full 6 bits each).
    let mut tampered = created.access_token.clone();
    let at = tampered.token.len() - 20;
    let replacement = if &tampered.token[at..=at] == "A" {
        "B"
    } else {
        "A"
    };
    tampered.token.replace_range(at..=at, replacement);
    assert!(matches!(
        f.core
            .verify_session(verify_request(&tampered, false))
            .await
            .unwrap(),
        VerifyOutcome::TryRefreshToken
    ));
    f.clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        f.core
            .verify_session(verify_request(&created.access_token, true))
            .await
            .unwrap(),
        VerifyOutcome::TryRefreshToken
    ));
    for rt in ["", "unknown-token", &"x".repeat(5000)] {
        assert!(matches!(
            f.core.refresh_session(refresh_request(rt)).await.unwrap(),
            RefreshOutcome::Unauthorised(_)
        ));
    }
}

#[tokio::test]
async fn revoked_sessions_fail_database_checks_and_refresh() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let handle = created.session.handle.clone();
    let revoked = f
        .core
        .revoke_sessions(vec![handle.clone(), "missing".into(), handle.clone()])
        .await
        .unwrap();
    assert_eq!(revoked, vec![handle.clone()]);
    assert!(matches!(
        f.core
            .verify_session(verify_request(&created.access_token, true))
            .await
            .unwrap(),
        VerifyOutcome::Unauthorised
    ));
    // Without a database check the signature alone decides (as with the core).
    assert!(
        verified(&f.core, &created.access_token, false)
            .await
            .is_none()
    );
    assert!(matches!(
        f.core
            .refresh_session(refresh_request(&created.refresh_token.token))
            .await
            .unwrap(),
        RefreshOutcome::Unauthorised(_)
    ));
    assert!(f.core.session_information(handle).await.unwrap().is_none());
    assert_eq!(count(&f.dir, "refresh_tokens"), 0);
}

#[tokio::test]
async fn a_revoked_session_cannot_promote() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let child = refreshed(&f.core, &created.refresh_token.token).await;
    f.core
        .revoke_sessions(vec![created.session.handle])
        .await
        .unwrap();
    assert!(matches!(
        f.core
            .verify_session(verify_request(&child.access_token, false))
            .await
            .unwrap(),
        VerifyOutcome::Unauthorised
    ));
}

#[tokio::test]
async fn handles_per_user_and_revoke_all() {
    let f = fixture();
    let mut a1 = new_session("user-a");
    let a2 = new_session("user-a");
    let mut a3 = new_session("user-a");
    a3.tenant_id = "t2".into();
    let b = new_session("user-b");
    a1.session_data = Value::Null;
    let a1 = f.core.create_session(a1).await.unwrap().session.handle;
    f.clock.advance(Duration::from_millis(1));
    let a2 = f.core.create_session(a2).await.unwrap().session.handle;
    let a3 = f.core.create_session(a3).await.unwrap().session.handle;
    let b = f.core.create_session(b).await.unwrap().session.handle;

    let handles = |tenant: &str, user: &str, across: bool| {
        f.core
            .session_handles_for_user(tenant.into(), user.into(), across)
    };
    assert_eq!(
        handles("public", "user-a", false).await.unwrap(),
        vec![a1.clone(), a2.clone()]
    );
    let mut across = handles("public", "user-a", true).await.unwrap();
    across.sort();
    let mut expected = vec![a1.clone(), a2.clone(), a3.clone()];
    expected.sort();
    assert_eq!(across, expected);

    let mut revoked = f
        .core
        .revoke_all_sessions_for_user("public".into(), "user-a".into(), false)
        .await
        .unwrap();
    revoked.sort();
    let mut expected = vec![a1, a2];
    expected.sort();
    assert_eq!(revoked, expected);
    assert_eq!(
        handles("public", "user-a", true).await.unwrap(),
        vec![a3.clone()]
    );
    assert_eq!(
        f.core
            .revoke_all_sessions_for_user("public".into(), "user-a".into(), true)
            .await
            .unwrap(),
        vec![a3]
    );
    assert!(handles("t2", "user-a", true).await.unwrap().is_empty());
    assert_eq!(handles("public", "user-b", false).await.unwrap(), vec![b]);
}

#[tokio::test]
async fn session_data_and_payload_round_trip() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let handle = created.session.handle.clone();
    let info = f
        .core
        .session_information(handle.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.session_data, json!({"db": 1}));
    assert_eq!(
        Value::Object(info.user_data_in_jwt),
        json!({"role": "admin"})
    );
    assert_eq!(info.user_id, "user-1");
    assert_eq!(info.recipe_user_id, "user-1");
    assert_eq!(info.tenant_id, "public");
    assert_eq!(info.time_created_ms, START_MS);
    assert_eq!(info.expiry_ms, START_MS + 100 * 24 * 3_600_000);

    let data = json!({"nested": {"list": [1, 2, 3]}, "s": "ü"});
    assert!(
        f.core
            .update_session_data(handle.clone(), data.clone())
            .await
            .unwrap()
    );
    let info = f.core.session_information(handle.clone()).await.unwrap();
    assert_eq!(info.unwrap().session_data, data);
    assert!(
        f.core
            .update_session_data(handle.clone(), Value::Null)
            .await
            .unwrap()
    );
    let info = f.core.session_information(handle.clone()).await.unwrap();
    assert_eq!(info.unwrap().session_data, json!({}));
    assert!(
        !f.core
            .update_session_data("missing".into(), json!({}))
            .await
            .unwrap()
    );

    // A new payload by handle: the next check_database verify and refresh carry it.
    let new_payload = json!({"role": "user", "x": 1}).as_object().unwrap().clone();
    assert!(
        f.core
            .update_access_token_payload(handle.clone(), new_payload.clone())
            .await
            .unwrap()
    );
    assert!(
        !f.core
            .update_access_token_payload("missing".into(), new_payload.clone())
            .await
            .unwrap()
    );
    let replaced = verified(&f.core, &created.access_token, true)
        .await
        .expect("a changed payload gives a new token");
    assert_eq!(payload(&replaced)["role"], "user");
    assert_eq!(payload(&replaced)["x"], 1);
    assert!(verified(&f.core, &replaced, true).await.is_none());
    let child = refreshed(&f.core, &created.refresh_token.token).await;
    assert_eq!(payload(&child.access_token)["role"], "user");
    assert_eq!(
        Value::Object(child.session.user_data_in_jwt),
        Value::Object(new_payload)
    );
}

#[tokio::test]
async fn regenerate_keeps_expiry_and_key_type() {
    let f = fixture();
    let mut new = new_session("user-1");
    new.use_dynamic_signing_key = false;
    let created = f.core.create_session(new).await.unwrap();
    assert!(kid(&created.access_token).starts_with("s-"));
    f.clock.advance(Duration::from_secs(10));

    let new_payload = json!({"role": "x"}).as_object().unwrap().clone();
    let RegenerateOutcome::Ok {
        session,
        new_access_token: Some(token),
    } = f
        .core
        .regenerate_access_token(created.access_token.token.clone(), new_payload.clone())
        .await
        .unwrap()
    else {
        panic!("regenerate failed");
    };
    assert_eq!(session.user_data_in_jwt, new_payload);
    let old = payload(&created.access_token);
    let claims = payload(&token);
    assert_eq!(claims["exp"], old["exp"]);
    assert_eq!(claims["iat"], START_MS / 1000 + 10);
    assert_eq!(claims["role"], "x");
    assert_eq!(claims["refreshTokenHash1"], old["refreshTokenHash1"]);
    assert_eq!(token.expiry_ms, created.access_token.expiry_ms);
    assert_eq!(kid(&token), kid(&created.access_token));
    let info = f
        .core
        .session_information(created.session.handle.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.user_data_in_jwt, new_payload);

    // Expired: the payload is stored, no token.
    f.clock.advance(Duration::from_secs(3600));
    let later = json!({"role": "later"}).as_object().unwrap().clone();
    assert!(matches!(
        f.core
            .regenerate_access_token(created.access_token.token.clone(), later)
            .await
            .unwrap(),
        RegenerateOutcome::Ok {
            new_access_token: None,
            ..
        }
    ));
    let info = f
        .core
        .session_information(created.session.handle.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.user_data_in_jwt["role"], "later");

    // Gone or garbage: unauthorised.
    f.core
        .revoke_sessions(vec![created.session.handle])
        .await
        .unwrap();
    for token in [created.access_token.token, "garbage".into()] {
        assert!(matches!(
            f.core
                .regenerate_access_token(token, Map::new())
                .await
                .unwrap(),
            RegenerateOutcome::Unauthorised
        ));
    }
}

#[tokio::test]
async fn refresh_switches_the_key_type_on_request() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let mut request = refresh_request(&created.refresh_token.token);
    request.use_dynamic_signing_key = Some(false);
    let RefreshOutcome::Ok(child) = f.core.refresh_session(request).await.unwrap() else {
        panic!("refresh failed");
    };
    assert!(kid(&child.access_token).starts_with("s-"));
    let promoted = verified(&f.core, &child.access_token, false).await.unwrap();
    assert!(kid(&promoted).starts_with("s-"));
}

#[tokio::test]
async fn keys_and_sessions_survive_a_restart() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let kids = jwks_kids(&f.core).await;
    assert_eq!(kids.len(), 2);
    drop(f.core);

    let core = EmbeddedCore::open(f.dir.path(), options(&f.clock)).unwrap();
    assert_eq!(jwks_kids(&core).await, kids);
    assert!(verified(&core, &created.access_token, true).await.is_none());
    let child = refreshed(&core, &created.refresh_token.token).await;
    assert_eq!(kid(&child.access_token), format!("d-{START_MS}"));
    drop(core);

    let core = EmbeddedCore::open(f.dir.path(), options(&f.clock)).unwrap();
    assert!(verified(&core, &child.access_token, false).await.is_some());
}

#[tokio::test]
async fn rotation_publishes_the_new_key_before_use_and_keeps_the_old_one() {
    let f = fixture_with(|o| {
        o.signing_key_rotation = Duration::from_secs(10);
        o.signing_key_overlap = Duration::from_secs(2);
    });
    let first_kid = format!("d-{START_MS}");
    let old = f.core.create_session(new_session("user-1")).await.unwrap();
    assert_eq!(kid(&old.access_token), first_kid);

    // Not due yet.
    f.clock.advance(Duration::from_secs(7));
    f.core.maintain().await;
    assert_eq!(
        f.core.shared.keys.current().dynamic_kids(),
        vec![&first_kid]
    );

    // Due at rotation − overlap: published, not yet signing.
    f.clock.advance(Duration::from_secs(1));
    f.core.maintain().await;
    let second_kid = format!("d-{}", START_MS + 8000);
    let kids = jwks_kids(&f.core).await;
    assert!(kids.contains(&first_kid) && kids.contains(&second_kid));
    let during_overlap = f.core.create_session(new_session("user-1")).await.unwrap();
    assert_eq!(kid(&during_overlap.access_token), first_kid);

    // After the overlap the new key signs; old tokens still verify.
    f.clock.advance(Duration::from_secs(2));
    let new = f.core.create_session(new_session("user-1")).await.unwrap();
    assert_eq!(kid(&new.access_token), second_kid);
    assert!(verified(&f.core, &old.access_token, true).await.is_none());
    assert!(verified(&f.core, &new.access_token, true).await.is_none());
    let cache = crate::keys::JwksCache::new(f.core.key_source());
    for token in [&old.access_token, &new.access_token] {
        let parsed = crate::token::parse_access_token(&token.token).unwrap();
        crate::token::verify_access_token(parsed, &cache, f.clock.now())
            .await
            .unwrap();
    }

    // Once no token of the first key can be valid, it is deleted (static key stays).
    f.clock.advance(Duration::from_secs(3600 + 2));
    f.core.maintain().await;
    let kids = jwks_kids(&f.core).await;
    assert!(!kids.contains(&first_kid));
    assert!(kids.contains(&second_kid));
    assert!(kids.iter().any(|k| k.starts_with("s-")));
}

#[test]
fn key_policy_plans_rotation_and_deletion() {
    let policy = KeyPolicy {
        rotation_ms: 100_000,
        overlap_ms: 1_000,
        validity_ms: 10_000,
    };
    assert_eq!(
        policy.plan(&[], 5),
        KeyPlan {
            rotate: true,
            drop: vec![],
            next_due_ms: 5
        }
    );
    assert_eq!(policy.rotation_due_at(0), 99_000);
    assert_eq!(policy.plan(&[("d-0", 0)], 98_999).next_due_ms, 99_000);
    assert!(!policy.plan(&[("d-0", 0)], 98_999).rotate);
    assert!(policy.plan(&[("d-0", 0)], 99_000).rotate);
    // d-0 retires when d-99000 activates (100 000), removable 11 000 later.
    let keys = [("d-0", 0), ("d-99000", 99_000)];
    let plan = policy.plan(&keys, 110_999);
    assert!(plan.drop.is_empty());
    assert_eq!(plan.next_due_ms, 111_000);
    assert_eq!(policy.plan(&keys, 111_000).drop, vec!["d-0".to_owned()]);
    // Signer: the newest active key; a lone new key signs at once.
    assert_eq!(policy.signer(&[0, 99_000], 99_999), Some(0));
    assert_eq!(policy.signer(&[0, 99_000], 100_000), Some(1));
    assert_eq!(policy.signer(&[50], 50), Some(0));
    assert_eq!(policy.signer(&[], 50), None);
    // A rotation interval shorter than the overlap never spins.
    let tight = KeyPolicy {
        rotation_ms: 1_000,
        overlap_ms: 60_000,
        validity_ms: 1,
    };
    assert_eq!(tight.rotation_due_at(0), 500);
}

#[tokio::test]
async fn expired_sessions_are_deleted() {
    let f = fixture_with(|o| o.refresh_token_validity = Duration::from_secs(120));
    let short = f.core.create_session(new_session("user-1")).await.unwrap();
    let kept = f.core.create_session(new_session("user-2")).await.unwrap();
    refreshed(&f.core, &short.refresh_token.token).await;
    f.clock.advance(Duration::from_secs(100));
    // Renews `kept` (promotion extends the expiry).
    let kept_child = refreshed(&f.core, &kept.refresh_token.token).await;
    refreshed(&f.core, &kept_child.refresh_token.token).await;
    assert_eq!(count(&f.dir, "sessions"), 2);

    f.clock.advance(Duration::from_secs(30));
    assert!(matches!(
        f.core
            .refresh_session(refresh_request(&short.refresh_token.token))
            .await
            .unwrap(),
        RefreshOutcome::Unauthorised(_)
    ));
    f.core.maintain().await;
    assert_eq!(count(&f.dir, "sessions"), 1);
    // The expired session's tokens went with it; of `kept`, its first token (issued more than
    // the refresh validity ago, not current) was pruned: the current and its child remain.
    assert_eq!(count(&f.dir, "refresh_tokens"), 2);
    let store = &f.core.shared.store;
    assert!(
        store
            .refresh_token(hash2(&kept.refresh_token.token))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .refresh_token(hash2(&kept_child.refresh_token.token))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        f.core
            .session_information(kept.session.handle)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn database_has_a_schema_version_and_a_secret_and_is_private() {
    let f = fixture();
    let conn = sql(&f.dir);
    let version: String = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION.to_string());
    let secret: String = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'server_secret'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(secret.len(), 64);
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in [DB_FILE.to_owned(), format!("{DB_FILE}-wal")] {
            let mode = std::fs::metadata(f.dir.path().join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

#[test]
fn a_corrupt_or_newer_database_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE), vec![b'x'; 8192]).unwrap();
    let clock = Clock::manual(START_MS);
    let error = EmbeddedCore::open(dir.path(), options(&clock)).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");

    let dir = tempfile::tempdir().unwrap();
    drop(EmbeddedCore::open(dir.path(), options(&clock)).unwrap());
    sql(&dir)
        .execute(
            "UPDATE meta SET value = '999' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let error = EmbeddedCore::open(dir.path(), options(&clock)).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
}

#[tokio::test]
async fn the_old_key_file_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let dynamic = generate_key(true, 1_700_000_000_000).unwrap();
    let mut fixed = generate_key(false, 1_700_000_000_000).unwrap();
    fixed.kid = "s-7a1e2f10-0000-4000-8000-000000000001".into();
    let entries: Vec<Value> = [&dynamic, &fixed]
        .iter()
        .map(|k| json!({"kid": k.kid, "createdAtMs": k.created_ms, "pkcs8": STANDARD.encode(&k.pkcs8)}))
        .collect();
    let file = json!({ "keys": entries });
    std::fs::write(
        dir.path().join(keys::LEGACY_KEY_FILE),
        serde_json::to_vec(&file).unwrap(),
    )
    .unwrap();

    let clock = Clock::manual(START_MS);
    let core = EmbeddedCore::open(dir.path(), options(&clock)).unwrap();
    assert!(!dir.path().join(keys::LEGACY_KEY_FILE).exists());
    assert!(dir.path().join(keys::IMPORTED_KEY_FILE).exists());
    let kids = jwks_kids(&core).await;
    assert!(kids.contains(&dynamic.kid), "{kids:?}");
    assert!(kids.contains(&fixed.kid));

    // The imported static key signs; the imported dynamic key (long due for rotation) still
    // verifies the tokens it signed.
    let mut new = new_session("user-1");
    new.use_dynamic_signing_key = false;
    let created = core.create_session(new).await.unwrap();
    assert_eq!(kid(&created.access_token), fixed.kid);
    let old_key = SigningKey::from_stored(&dynamic).unwrap();
    let handle = created.session.handle.clone();
    let old_token = mint_access_token(
        &old_key,
        &AccessClaims {
            version: AccessTokenVersion::V5,
            handle: &handle,
            user_id: "user-1",
            recipe_user_id: "user-1",
            tenant_id: "public",
            payload: &Map::new(),
            refresh_token_hash1: &hash1(&created.refresh_token.token),
            parent_refresh_token_hash1: None,
            anti_csrf_token: None,
            issued_ms: START_MS,
            expiry_ms: START_MS + 60_000,
        },
    )
    .unwrap();
    assert!(verified(&core, &old_token, false).await.is_none());

    // Reopening does not import again (the file was renamed) and keeps the keys.
    drop(core);
    let core = EmbeddedCore::open(dir.path(), options(&clock)).unwrap();
    assert_eq!(jwks_kids(&core).await, kids);
}

#[tokio::test]
async fn an_invalid_old_key_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(keys::LEGACY_KEY_FILE), b"{not json").unwrap();
    let clock = Clock::manual(START_MS);
    let error = EmbeddedCore::open(dir.path(), options(&clock)).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
}

#[tokio::test]
async fn two_cores_on_one_directory_share_sessions_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START_MS);
    let mut opts = options(&clock);
    opts.signing_key_rotation = Duration::from_secs(10);
    opts.signing_key_overlap = Duration::from_secs(2);
    let a = EmbeddedCore::open(dir.path(), opts.clone()).unwrap();
    let b = EmbeddedCore::open(dir.path(), opts).unwrap();
    assert_eq!(jwks_kids(&a).await, jwks_kids(&b).await);

    let created = a.create_session(new_session("user-1")).await.unwrap();
    assert!(verified(&b, &created.access_token, true).await.is_none());
    let child = refreshed(&b, &created.refresh_token.token).await;
    assert!(verified(&a, &child.access_token, false).await.is_some());
    assert!(is_theft(&b, &created.refresh_token.token).await);

    // Both rotate at the same time: one new key.
    clock.advance(Duration::from_secs(8));
    a.maintain().await;
    b.maintain().await;
    let kids = a.shared.keys.current().dynamic_kids().len();
    assert_eq!(kids, 2);
    assert_eq!(b.shared.keys.current().dynamic_kids().len(), 2);
    clock.advance(Duration::from_secs(2));
    let newer = a.create_session(new_session("user-2")).await.unwrap();
    assert_eq!(kid(&newer.access_token), format!("d-{}", START_MS + 8000));
    assert!(verified(&b, &newer.access_token, true).await.is_none());
    assert!(jwks_kids(&b).await.contains(&kid(&newer.access_token)));

    assert_eq!(
        b.revoke_sessions(vec![newer.session.handle.clone()])
            .await
            .unwrap(),
        vec![newer.session.handle]
    );
    assert!(matches!(
        a.verify_session(verify_request(&newer.access_token, true))
            .await
            .unwrap(),
        VerifyOutcome::Unauthorised
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_are_all_committed() {
    let f = fixture();
    let core = Arc::new(f.core);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let core = Arc::clone(&core);
            tokio::spawn(
                async move { core.create_session(new_session(&format!("user-{i}"))).await },
            )
        })
        .collect();
    let mut handles = Vec::new();
    for task in tasks {
        handles.push(task.await.unwrap().unwrap().session.handle);
    }
    handles.sort();
    handles.dedup();
    assert_eq!(handles.len(), 64);
    drop(core);
    assert_eq!(count(&f.dir, "sessions"), 64);
}

#[test]
fn real_key_generation_gives_a_usable_key() {
    let pkcs8 = generate_pkcs8().unwrap();
    let key = SigningKey::from_stored(&store::StoredKey {
        kid: "d-1".into(),
        created_ms: 1,
        pkcs8,
    })
    .unwrap();
    assert!(key.sign(b"message").unwrap().len() > 300);
}

#[tokio::test]
async fn debug_output_redacts_secrets() {
    let f = fixture();
    let created = f.core.create_session(new_session("user-1")).await.unwrap();
    let stored = f.core.shared.store.signing_keys().await.unwrap();
    let printed = format!(
        "{created:?} {:?} {:?} {:?}",
        f.core, stored, f.core.shared.secret
    );
    assert!(!printed.contains(&created.refresh_token.token));
    assert!(!printed.contains(&created.access_token.token));
    assert!(!printed.contains(&STANDARD.encode(&stored[0].pkcs8)[..40]));
    assert!(printed.contains("<redacted>"));
}

/// Create and refresh throughput with fsynced group commits (`--ignored --nocapture`);
/// compare with the printed time of one signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput probe: prints numbers, asserts nothing about time"]
async fn throughput_probe() {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(EmbeddedCore::open(dir.path(), EmbeddedCoreOptions::default()).unwrap());
    let n = 2000;
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let core = Arc::clone(&core);
            tokio::spawn(async move { core.create_session(new_session(&format!("u{i}"))).await })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        created.push(task.await.unwrap().unwrap());
    }
    let create = started.elapsed();
    let started = std::time::Instant::now();
    let tasks: Vec<_> = created
        .iter()
        .map(|c| {
            let core = Arc::clone(&core);
            let rt = c.refresh_token.token.clone();
            tokio::spawn(async move { core.refresh_session(refresh_request(&rt)).await })
        })
        .collect();
    for task in tasks {
        assert!(matches!(
            task.await.unwrap().unwrap(),
            RefreshOutcome::Ok(_)
        ));
    }
    let refresh = started.elapsed();
    let key = core
        .shared
        .keys
        .signer(true, crate::util::now_ms())
        .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..200 {
        key.sign(b"x").unwrap();
    }
    eprintln!(
        "create {:.0}/s, refresh {:.0}/s, one signature {:?}",
        f64::from(n) / create.as_secs_f64(),
        f64::from(n) / refresh.as_secs_f64(),
        started.elapsed() / 200
    );
}

fn new_jwt(payload: Value, validity_secs: u64, use_static_signing_key: bool) -> NewJwt {
    NewJwt {
        payload: payload.as_object().unwrap().clone(),
        validity_secs,
        use_static_signing_key,
        jwks_domain: "https://api.example.com".into(),
    }
}

#[tokio::test]
async fn jwts_carry_the_payload_and_the_cores_claims() {
    let f = fixture();
    let jwt = f
        .core
        .create_jwt(new_jwt(json!({"sub": "u1", "scope": ["a"]}), 3600, true))
        .await
        .unwrap();
    let header = decode_segment(&jwt, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert!(
        header["kid"].as_str().unwrap().starts_with("s-"),
        "{header:?}"
    );
    assert!(!header.contains_key("version"), "not an access token");
    let claims = decode_segment(&jwt, 1);
    assert_eq!(claims["sub"], "u1");
    assert_eq!(claims["scope"], json!(["a"]));
    assert_eq!(claims["iss"], "https://api.example.com");
    assert_eq!(claims["iat"], json!(START_MS / 1000));
    assert_eq!(claims["exp"], json!(START_MS / 1000 + 3600));
    // The signature is the published key's.
    let kids = jwks_kids(&f.core).await;
    assert!(kids.contains(&header["kid"].as_str().unwrap().to_owned()));

    let dynamic = f
        .core
        .create_jwt(new_jwt(json!({}), 60, false))
        .await
        .unwrap();
    let kid = decode_segment(&dynamic, 0)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(kid.starts_with("d-"), "{kid}");
}

#[tokio::test]
async fn the_callers_iss_iat_and_exp_win() {
    let f = fixture();
    let jwt = f
        .core
        .create_jwt(new_jwt(
            json!({"iss": "https://issuer.example", "iat": 5, "exp": 10}),
            3600,
            true,
        ))
        .await
        .unwrap();
    let claims = decode_segment(&jwt, 1);
    assert_eq!(claims["iss"], "https://issuer.example");
    assert_eq!(claims["iat"], 5);
    assert_eq!(claims["exp"], 10);
}

#[tokio::test]
async fn jwt_validity_must_be_positive_and_bounded() {
    let f = fixture();
    for validity in [0, crate::core::MAX_JWT_VALIDITY_SECS + 1] {
        let error = f
            .core
            .create_jwt(new_jwt(json!({}), validity, true))
            .await
            .unwrap_err();
        assert!(
            matches!(error, CoreError::BadRequest(_)),
            "{validity}: {error}"
        );
    }
    f.core
        .create_jwt(new_jwt(json!({}), crate::core::MAX_JWT_VALIDITY_SECS, true))
        .await
        .unwrap();
}
