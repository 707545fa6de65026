//! The verified-token cache's guarantees, checked through real verification.

use std::time::Duration;

use actix_web::test::TestRequest;
use serde_json::json;

use super::*;
use crate::config::{AntiCsrf, SessionConfig, SessionConfigBuilder};
use crate::core::{CreatedSession, NewSession, RefreshOutcome, RefreshRequest};
use crate::error::SessionError;
use crate::protocol::{SessionContainer, VerifyOptions};

/// Verifies `req` as a route with `options` does.
async fn verify_request(
    req: &actix_web::HttpRequest,
    config: &SessionConfig,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, SessionError> {
    crate::protocol::verify_request(req, config, options, |_| {}).await
}

/// A config with the cache on (10 000 tokens, as by default), then `tweak`.
fn config(
    tweak: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
) -> (tempfile::TempDir, SessionConfig) {
    let dir = tempfile::tempdir().unwrap();
    let builder = SessionConfig::builder()
        .data_dir(dir.path())
        .verified_token_cache(10_000);
    let config = tweak(builder).build().unwrap();
    (dir, config)
}

fn cache(config: &SessionConfig) -> &VerifiedTokenCache {
    config.inner().verified_tokens.as_deref().unwrap()
}

async fn create(config: &SessionConfig, user: &str, anti_csrf: bool) -> CreatedSession {
    config
        .core()
        .create_session(NewSession {
            tenant_id: "public".into(),
            recipe_user_id: user.into(),
            access_token_payload: json!({"n": user}).as_object().unwrap().clone(),
            session_data: json!({}),
            enable_anti_csrf: anti_csrf,
            use_dynamic_signing_key: true,
            access_token_version: crate::core::AccessTokenVersion::default(),
        })
        .await
        .unwrap()
}

async fn verify(
    config: &SessionConfig,
    token: &str,
    options: &VerifyOptions,
) -> Result<SessionContainer, SessionError> {
    config
        .get_session_without_request_response(token, None, options)
        .await
        .map(Option::unwrap)
}

/// A verification result for a token that was never signed: the bound is the cache's.
fn fake_info(i: usize) -> AccessTokenInfo {
    AccessTokenInfo {
        version: 5,
        kid: Some("d-1".into()),
        user_id: format!("user-{i}"),
        recipe_user_id: format!("user-{i}"),
        tenant_id: "public".into(),
        session_handle: format!("handle-{i}"),
        refresh_token_hash1: "a".repeat(64),
        parent_refresh_token_hash1: None,
        anti_csrf_token: None,
        expiry_ms: u64::MAX,
        time_created_ms: 0,
        payload: Arc::default(),
    }
}

#[test]
fn the_cache_is_on_by_default_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = SessionConfig::builder()
        .data_dir(dir.path())
        .build()
        .unwrap();
    let cache = config.inner().verified_tokens.as_deref().unwrap();
    assert_eq!(cache.entries.capacity(), DEFAULT_CAPACITY as u64);
    assert_eq!(cache.ttl, DEFAULT_TTL);
    let other_dir = tempfile::tempdir().unwrap();
    let off = SessionConfig::builder()
        .data_dir(other_dir.path())
        .disable_verified_token_cache()
        .build()
        .unwrap();
    assert!(off.inner().verified_tokens.is_none());
}

#[test]
fn a_flood_of_distinct_tokens_never_exceeds_the_capacity() {
    let cache = VerifiedTokenCache::new(100, DEFAULT_TTL).unwrap();
    let key = Arc::new(Rs256Key::from_components(&[0xC1; 256], &[1, 0, 1]).unwrap());
    for i in 0..20_000 {
        let raw = format!("token-{i}-{}", "x".repeat(i % 9000));
        let entry = CachedToken {
            info: Arc::new(fake_info(i)),
            key: Arc::clone(&key),
            key_set: 1,
            signing_input: raw.as_str().into(),
            live_until_ms: u64::MAX,
            weight: raw.len().div_ceil(WEIGHT_UNIT).max(1) as u64,
        };
        cache.entries.insert(TokenKey::of(&raw), Arc::new(entry));
        assert!(
            cache.weight() <= cache.capacity(),
            "weight {} at {i}",
            cache.weight()
        );
        assert!(cache.len() <= 100, "len {} at {i}", cache.len());
    }
    assert_eq!(cache.capacity(), 100);
    assert!(cache.len() > 0);
}

#[tokio::test]
async fn only_verified_tokens_enter_and_valid_ones_stay_bounded() {
    let (_dir, config) = config(|b| b.verified_token_cache(4));
    let options = VerifyOptions::new(true);
    let mut tokens = Vec::new();
    for i in 0..12 {
        let created = create(&config, &format!("u{i}"), false).await;
        tokens.push(created.access_token.token);
    }
    // Garbage, and well-formed tokens with a broken signature, are rejected and not cached.
    let valid = &tokens[0];
    let (input, signature) = valid.rsplit_once('.').unwrap();
    let mut flipped = signature.as_bytes().to_vec();
    for i in 0..200 {
        let garbage = format!("garbage-{i}");
        assert!(verify(&config, &garbage, &options).await.is_err());
        let at = i % flipped.len();
        flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
        let forged = format!("{input}.{}", String::from_utf8_lossy(&flipped));
        assert!(verify(&config, &forged, &options).await.is_err());
    }
    assert_eq!(cache(&config).len(), 0);
    for token in &tokens {
        verify(&config, token, &options).await.unwrap();
        assert!(cache(&config).len() <= 4);
    }
    assert!(cache(&config).len() > 0);
}

#[tokio::test]
async fn a_cached_signature_under_another_header_or_payload_never_hits() {
    let (_dir, config) = config(|b| b);
    let created = create(&config, "mallory", false).await;
    let token = &created.access_token.token;
    let options = VerifyOptions::new(true);
    verify(&config, token, &options).await.unwrap();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let (header, payload) = input.split_once('.').unwrap();
    // Same signature (same cache key), other signed text: one character of the payload,
    // another user's payload, the header, and the bare signature.
    let mut other_payload = payload.as_bytes().to_vec();
    other_payload[0] = if other_payload[0] == b'e' { b'f' } else { b'e' };
    let other = create(&config, "victim", false).await.access_token.token;
    let victim_input = other.rsplit_once('.').unwrap().0;
    for forged in [
        format!(
            "{header}.{}.{signature}",
            String::from_utf8_lossy(&other_payload)
        ),
        format!("{victim_input}.{signature}"),
        format!("{header}x.{payload}.{signature}"),
        signature.to_owned(),
    ] {
        let key = TokenKey::of(&forged);
        assert!(key == TokenKey::of(token), "same key by construction");
        assert!(
            cache(&config)
                .get(&key, &forged, crate::util::now_ms())
                .is_none()
        );
        assert!(verify(&config, &forged, &options).await.is_err());
    }
    assert!(
        cache(&config)
            .get(&TokenKey::of(token), token, crate::util::now_ms())
            .is_some()
    );
}

#[tokio::test]
async fn a_hit_gives_the_same_session_as_a_signature_check() {
    let (dir, config) = config(|b| b);
    let nocache = SessionConfig::builder()
        .data_dir(dir.path())
        .disable_verified_token_cache()
        .build()
        .unwrap();
    let created = create(&config, "alice", false).await;
    let token = &created.access_token.token;
    let options = VerifyOptions::new(true);
    let first = verify(&config, token, &options).await.unwrap();
    assert_eq!(cache(&config).len(), 1);
    let hit = verify(&config, token, &options).await.unwrap();
    let plain = verify(&nocache, token, &options).await.unwrap();
    assert!(nocache.inner().verified_tokens.is_none());
    for session in [&hit, &plain] {
        assert_eq!(session.user_id(), first.user_id());
        assert_eq!(session.handle(), first.handle());
        assert_eq!(session.tenant_id(), first.tenant_id());
        assert_eq!(session.access_token_payload(), first.access_token_payload());
        assert_eq!(
            session.access_token_expiry_ms(),
            first.access_token_expiry_ms()
        );
    }
    // The payload's JSON text is made once per cached token: every session of it shares it.
    let (first_payload, hit_payload) = (first.access_token_payload(), hit.access_token_payload());
    assert!(std::ptr::eq(
        first_payload.as_raw_json(),
        hit_payload.as_raw_json()
    ));
    assert_eq!(
        plain.access_token_payload().as_raw_json().get(),
        serde_json::to_string(&first_payload).unwrap()
    );
}

#[tokio::test]
async fn tokens_fresh_from_a_refresh_and_check_database_routes_skip_the_cache() {
    let (_dir, config) = config(|b| b);
    let created = create(&config, "bob", false).await;
    let RefreshOutcome::Ok(refreshed) = config
        .core()
        .refresh_session(RefreshRequest {
            refresh_token: created.refresh_token.token.clone(),
            anti_csrf_token: None,
            enable_anti_csrf: false,
            use_dynamic_signing_key: Some(true),
            access_token_version: crate::core::AccessTokenVersion::default(),
        })
        .await
        .unwrap()
    else {
        panic!("refresh failed");
    };
    // Carries parentRefreshTokenHash1: goes to the core, never cached.
    verify(
        &config,
        &refreshed.access_token.token,
        &VerifyOptions::new(true),
    )
    .await
    .unwrap();
    assert_eq!(cache(&config).len(), 0);
    // check_database neither fills the cache…
    let strict = VerifyOptions::new(true).check_database(true);
    verify(&config, &created.access_token.token, &strict)
        .await
        .unwrap();
    assert_eq!(cache(&config).len(), 0);
    // …nor reads it: a revoked session is refused although its token was cached.
    verify(
        &config,
        &created.access_token.token,
        &VerifyOptions::new(true),
    )
    .await
    .unwrap();
    assert_eq!(cache(&config).len(), 1);
    config
        .core()
        .revoke_sessions(vec![created.session.handle.clone()])
        .await
        .unwrap();
    assert!(matches!(
        verify(&config, &created.access_token.token, &strict).await,
        Err(SessionError::Unauthorised { .. })
    ));
}

#[tokio::test]
async fn revocation_evicts_by_session_and_by_user() {
    let (_dir, config) = config(|b| b);
    let options = VerifyOptions::new(true);
    let a = create(&config, "carol", false).await;
    let b = create(&config, "carol", false).await;
    let c = create(&config, "dave", false).await;
    for token in [&a, &b, &c] {
        verify(&config, &token.access_token.token, &options)
            .await
            .unwrap();
    }
    assert_eq!(cache(&config).len(), 3);
    // Sign-out path: SessionContainer::revoke_session.
    let session = verify(&config, &a.access_token.token, &options)
        .await
        .unwrap();
    session.revoke_session().await.unwrap();
    assert_eq!(cache(&config).len(), 2);
    config
        .core()
        .revoke_all_sessions_for_user("public".into(), "carol".into(), true)
        .await
        .unwrap();
    assert_eq!(cache(&config).len(), 1);
    let remaining = TokenKey::of(&c.access_token.token);
    let remaining_token = &c.access_token.token;
    assert!(
        cache(&config)
            .get(&remaining, remaining_token, crate::util::now_ms())
            .is_some()
    );
}

#[tokio::test]
async fn entries_end_with_the_ttl() {
    let (_dir, config) = config(|b| b.verified_token_cache_ttl(Duration::from_millis(50)));
    let created = create(&config, "erin", false).await;
    let token = &created.access_token.token;
    verify(&config, token, &VerifyOptions::new(true))
        .await
        .unwrap();
    let key = TokenKey::of(token);
    assert!(
        cache(&config)
            .get(&key, token, crate::util::now_ms())
            .is_some()
    );
    // Past the token's expiry: gone at once.
    assert!(cache(&config).get(&key, token, u64::MAX).is_none());
    verify(&config, token, &VerifyOptions::new(true))
        .await
        .unwrap();
    std::thread::sleep(Duration::from_millis(80));
    assert!(
        cache(&config)
            .get(&key, token, crate::util::now_ms())
            .is_none()
    );
    assert_eq!(cache(&config).len(), 0);
}

#[tokio::test]
async fn a_refetched_key_set_makes_cached_tokens_miss() {
    let (_dir, config) = config(|b| b);
    let created = create(&config, "frank", false).await;
    let token = &created.access_token.token;
    let options = VerifyOptions::new(true);
    verify(&config, token, &options).await.unwrap();
    let entry = cache(&config)
        .get(&TokenKey::of(token), token, crate::util::now_ms())
        .unwrap();
    assert!(
        cache(&config)
            .reuse(&entry, &config.inner().keys)
            .await
            .is_some()
    );
    assert!(
        cache(&config)
            .reuse_now(&entry, &config.inner().keys)
            .is_some()
    );
    let fetches = config.keys().fetch_count();
    config.keys().invalidate();
    assert!(
        cache(&config)
            .reuse_now(&entry, &config.inner().keys)
            .is_none()
    );
    // The refetch builds new key objects: the entry no longer matches, the token is
    // checked again and cached with the new key.
    assert!(
        cache(&config)
            .reuse(&entry, &config.inner().keys)
            .await
            .is_none()
    );
    assert_eq!(config.keys().fetch_count(), fetches + 1);
    verify(&config, token, &options).await.unwrap();
    let renewed = cache(&config)
        .get(&TokenKey::of(token), token, crate::util::now_ms())
        .unwrap();
    assert!(
        cache(&config)
            .reuse(&renewed, &config.inner().keys)
            .await
            .is_some()
    );
    assert!(
        cache(&config)
            .reuse_now(&renewed, &config.inner().keys)
            .is_some()
    );
    assert!(
        cache(&config)
            .reuse_now(&entry, &config.inner().keys)
            .is_none()
    );
}

#[actix_web::test]
async fn anti_csrf_is_checked_on_every_hit() {
    let (_dir, config) = config(|b| b.anti_csrf(AntiCsrf::ViaToken));
    let created = create(&config, "grace", true).await;
    let anti_csrf = created.anti_csrf_token.clone().unwrap();
    let token = &created.access_token.token;
    let post = |header: Option<&str>| {
        let mut req = TestRequest::post()
            .uri("/user")
            .insert_header(("cookie", format!("sAccessToken={token}")));
        if let Some(header) = header {
            req = req.insert_header(("anti-csrf", header.to_owned()));
        }
        req.to_http_request()
    };
    let options = VerifyOptions::new(true);
    verify_request(&post(Some(&anti_csrf)), &config, &options)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cache(&config).len(), 1);
    for wrong in [None, Some("wrong")] {
        assert!(matches!(
            verify_request(&post(wrong), &config, &options).await,
            Err(SessionError::TryRefreshToken { .. })
        ));
    }
    verify_request(&post(Some(&anti_csrf)), &config, &options)
        .await
        .unwrap()
        .unwrap();
}

#[actix_web::test]
async fn two_cookies_are_still_an_error_on_a_hit() {
    let (_dir, config) = config(|b| b);
    let created = create(&config, "heidi", false).await;
    let token = &created.access_token.token;
    let options = VerifyOptions::new(true);
    verify(&config, token, &options).await.unwrap();
    let req = TestRequest::get()
        .uri("/user")
        .insert_header((
            "cookie",
            format!("sAccessToken={token}; sAccessToken={token}"),
        ))
        .to_http_request();
    assert!(matches!(
        verify_request(&req, &config, &options).await,
        Err(SessionError::TryRefreshToken { .. })
    ));
}
