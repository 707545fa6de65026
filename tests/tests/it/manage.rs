//! Session management without a request, by handle and by user, against the embedded core and
//! through `CoreClient` (the embedded core served over CDI in process): list, inspect, change
//! and revoke sessions as an account page or a "sign out everywhere" would.

use serde_json::{Map, json};
use sessionward::claims::{ClaimFetchError, IntoValidator, PrimitiveClaim};
use sessionward::core::NewSession;
use sessionward::{AntiCsrf, SessionConfig, SessionError, Tenants, VerifyOptions};
use sessionward_tests::embedded_config;

use crate::core_client::{API_KEY, Running, cdi_core};

/// A session the core created: its handle and access token.
struct Created {
    handle: String,
    access_token: String,
}

async fn create(config: &SessionConfig, tenant: &str, user: &str) -> Created {
    let created = config
        .core()
        .create_session(NewSession {
            tenant_id: tenant.to_owned(),
            recipe_user_id: user.to_owned(),
            access_token_payload: Map::from_iter([("theme".to_owned(), json!("dark"))]),
            session_data: json!({"device": "laptop"}),
            enable_anti_csrf: false,
            use_dynamic_signing_key: true,
            access_token_version: sessionward::core::AccessTokenVersion::default(),
        })
        .await
        .expect("create a session");
    Created {
        handle: created.session.handle,
        access_token: created.access_token.token,
    }
}

fn sorted(mut handles: Vec<String>) -> Vec<String> {
    handles.sort();
    handles
}

/// Every management function against `config`, whichever core it uses.
async fn manage_sessions(config: &SessionConfig) {
    let laptop = create(config, "public", "u1").await;
    let phone = create(config, "public", "u1").await;
    let other_tenant = create(config, "t1", "u1").await;
    let someone_else = create(config, "public", "u2").await;

    // Listing, by tenant or across tenants.
    let public = config
        .get_all_session_handles_for_user("u1", Tenants::One("public"))
        .await
        .unwrap();
    assert_eq!(
        sorted(public),
        sorted(vec![laptop.handle.clone(), phone.handle.clone()])
    );
    let everywhere = config
        .get_all_session_handles_for_user("u1", Tenants::All)
        .await
        .unwrap();
    assert_eq!(everywhere.len(), 3, "{everywhere:?}");
    assert!(everywhere.contains(&other_tenant.handle));

    // Inspecting.
    let info = config
        .get_session_information(&other_tenant.handle)
        .await
        .unwrap()
        .expect("the session exists");
    assert_eq!(
        (info.user_id.as_str(), info.tenant_id.as_str()),
        ("u1", "t1")
    );
    assert_eq!(info.session_data, json!({"device": "laptop"}));
    assert_eq!(info.user_data_in_jwt.get("theme"), Some(&json!("dark")));
    assert!(info.expiry_ms > info.time_created_ms);
    assert!(
        config
            .get_session_information("no-such-handle")
            .await
            .unwrap()
            .is_none()
    );

    // Database-only data.
    assert!(
        config
            .update_session_data_in_database(&phone.handle, json!({"device": "phone"}))
            .await
            .unwrap()
    );
    let info = config
        .get_session_information(&phone.handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.session_data, json!({"device": "phone"}));
    assert!(
        !config
            .update_session_data_in_database("no-such-handle", json!({}))
            .await
            .unwrap()
    );

    // The access-token payload by handle: merged, null removes, protected fields refused.
    assert!(
        config
            .merge_into_access_token_payload(&phone.handle, json!({"plan": "pro", "theme": null}))
            .await
            .unwrap()
    );
    let payload = config
        .get_session_information(&phone.handle)
        .await
        .unwrap()
        .unwrap()
        .user_data_in_jwt;
    assert_eq!(payload.get("plan"), Some(&json!("pro")));
    assert!(!payload.contains_key("theme"), "{payload:?}");
    let refused = config
        .merge_into_access_token_payload(&phone.handle, json!({"sub": "u2"}))
        .await;
    assert!(
        matches!(refused, Err(SessionError::Internal(_))),
        "{refused:?}"
    );
    assert!(
        !config
            .merge_into_access_token_payload("no-such-handle", json!({"plan": "pro"}))
            .await
            .unwrap()
    );

    // Revoking one: the core confirms, and a database-checked verification refuses its token
    // while the other sessions still verify.
    let checked = VerifyOptions::new(true).check_database(true);
    assert!(config.revoke_session(&laptop.handle).await.unwrap());
    assert!(!config.revoke_session(&laptop.handle).await.unwrap());
    let gone = config
        .get_session_without_request_response(&laptop.access_token, None, &checked)
        .await;
    assert!(
        matches!(gone, Err(SessionError::Unauthorised { .. })),
        "{gone:?}"
    );
    let alive = config
        .get_session_without_request_response(&phone.access_token, None, &checked)
        .await
        .unwrap()
        .expect("a session");
    assert_eq!(alive.handle(), phone.handle);

    // Several, then every session of a user.
    let revoked = config
        .revoke_multiple_sessions([someone_else.handle.clone(), "no-such-handle".to_owned()])
        .await
        .unwrap();
    assert_eq!(revoked, vec![someone_else.handle.clone()]);
    assert!(
        config
            .revoke_multiple_sessions(Vec::<String>::new())
            .await
            .unwrap()
            .is_empty()
    );
    let revoked = config
        .revoke_all_sessions_for_user("u1", Tenants::One("public"))
        .await
        .unwrap();
    assert_eq!(revoked, vec![phone.handle.clone()]);
    assert_eq!(
        config
            .get_all_session_handles_for_user("u1", Tenants::All)
            .await
            .unwrap(),
        vec![other_tenant.handle.clone()]
    );
    let revoked = config
        .revoke_all_sessions_for_user("u1", Tenants::All)
        .await
        .unwrap();
    assert_eq!(revoked, vec![other_tenant.handle.clone()]);
    for token in [&phone.access_token, &other_tenant.access_token] {
        let gone = config
            .get_session_without_request_response(token, None, &checked)
            .await;
        assert!(
            matches!(gone, Err(SessionError::Unauthorised { .. })),
            "{gone:?}"
        );
    }
}

/// Claims of a session held only by its handle, whichever core `config` uses.
async fn claims_by_handle(config: &SessionConfig) {
    let tier = PrimitiveClaim::<String>::new("tier");
    let fetched_tier = PrimitiveClaim::<String>::new("tier").with_fetch(|input| async move {
        Ok::<_, ClaimFetchError>(Some(format!("gold-{}", input.user_id)))
    });
    let session = create(config, "public", "claims-user").await;
    let handle = session.handle.as_str();

    assert_eq!(
        config
            .get_claim_value_by_handle(handle, &tier)
            .await
            .unwrap(),
        None
    );
    assert!(
        config
            .set_claim_value_by_handle(handle, &tier, "pro".to_owned())
            .await
            .unwrap()
    );
    assert_eq!(
        config
            .get_claim_value_by_handle(handle, &tier)
            .await
            .unwrap(),
        Some("pro".to_owned())
    );
    assert!(
        config
            .fetch_and_set_claim_by_handle(handle, &fetched_tier)
            .await
            .unwrap()
    );
    assert_eq!(
        config
            .get_claim_value_by_handle(handle, &tier)
            .await
            .unwrap(),
        Some("gold-claims-user".to_owned())
    );
    // The rest of the payload is kept.
    let payload = config
        .get_session_information(handle)
        .await
        .unwrap()
        .unwrap()
        .user_data_in_jwt;
    assert_eq!(payload.get("theme"), Some(&json!("dark")));
    assert!(config.remove_claim_by_handle(handle, &tier).await.unwrap());
    assert_eq!(
        config
            .get_claim_value_by_handle(handle, &tier)
            .await
            .unwrap(),
        None
    );

    // Validating by handle fetches the missing value first, then checks.
    let gold = fetched_tier
        .has_value("gold-claims-user".to_owned())
        .into_validator();
    let platinum = tier.has_value("platinum".to_owned()).into_validator();
    let failures = config
        .validate_claims_for_session_handle(handle, std::slice::from_ref(&gold))
        .await
        .unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        config
            .get_claim_value_by_handle(handle, &tier)
            .await
            .unwrap(),
        Some("gold-claims-user".to_owned())
    );
    let failures = config
        .validate_claims_for_session_handle(handle, std::slice::from_ref(&platinum))
        .await
        .unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].id, "tier");
    let missing = config
        .validate_claims_for_session_handle("no-such-handle", &[])
        .await;
    assert!(
        matches!(missing, Err(SessionError::Unauthorised { .. })),
        "{missing:?}"
    );
    // A payload checked as it is, nothing fetched.
    let payload = config
        .get_session_information(handle)
        .await
        .unwrap()
        .unwrap()
        .user_data_in_jwt;
    assert!(
        config
            .validate_claims_in_jwt_payload(&payload, &[gold])
            .is_empty()
    );
    let failures = config.validate_claims_in_jwt_payload(&payload, &[platinum]);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(config.remove_claim_by_handle(handle, &tier).await.unwrap());

    // No fetcher anywhere: a clear error. No such session: false, or an error for a read.
    let no_fetcher = config.fetch_and_set_claim_by_handle(handle, &tier).await;
    assert!(
        matches!(no_fetcher, Err(SessionError::Internal(_))),
        "{no_fetcher:?}"
    );
    assert!(
        !config
            .set_claim_value_by_handle("no-such-handle", &tier, "pro".to_owned())
            .await
            .unwrap()
    );
    assert!(
        !config
            .fetch_and_set_claim_by_handle("no-such-handle", &fetched_tier)
            .await
            .unwrap()
    );
    let missing = config
        .get_claim_value_by_handle("no-such-handle", &tier)
        .await;
    assert!(
        matches!(missing, Err(SessionError::Unauthorised { .. })),
        "{missing:?}"
    );
}

/// Creating and refreshing sessions without a request, whichever core `config` uses.
async fn without_a_request(config: &SessionConfig) {
    let session = config
        .create_new_session_without_request_response(
            "public",
            "u9",
            json!({"plan": "free", "sub": "ignored"}),
            json!({"n": 1}),
            false,
        )
        .await
        .unwrap();
    let tokens = session.get_all_session_tokens_dangerously();
    assert_eq!(session.get_access_token(), tokens.access_token);
    let refresh_token = tokens
        .refresh_token
        .expect("a new session has a refresh token");
    let verified = config
        .get_session_without_request_response(&tokens.access_token, None, &VerifyOptions::new(true))
        .await
        .unwrap()
        .expect("a session");
    assert_eq!(verified.user_id(), "u9");
    assert_eq!(verified.access_token_payload()["plan"], json!("free"));
    let info = config
        .get_session_information(session.handle())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.session_data, json!({"n": 1}));

    let refreshed = config
        .refresh_session_without_request_response(&refresh_token, true, None)
        .await
        .unwrap();
    assert_eq!(refreshed.handle(), session.handle());
    let new_tokens = refreshed.get_all_session_tokens_dangerously();
    assert_ne!(new_tokens.access_token, tokens.access_token);
    assert_eq!(refreshed.get_access_token(), new_tokens.access_token);
    let new_refresh = new_tokens.refresh_token.expect("a rotated refresh token");
    assert_ne!(new_refresh, refresh_token);
    // The new access token is good, and with the session revoked its refresh token is refused.
    let checked = VerifyOptions::new(true).check_database(true);
    config
        .get_session_without_request_response(&new_tokens.access_token, None, &checked)
        .await
        .unwrap()
        .expect("a session");
    assert!(config.revoke_session(session.handle()).await.unwrap());
    let refused = config
        .refresh_session_without_request_response(&new_refresh, true, None)
        .await;
    assert!(
        matches!(refused, Err(SessionError::Unauthorised { .. })),
        "{refused:?}"
    );
    let garbage = config
        .refresh_session_without_request_response("not-a-refresh-token", true, None)
        .await;
    assert!(
        matches!(garbage, Err(SessionError::Unauthorised { .. })),
        "{garbage:?}"
    );
}

#[actix_web::test]
async fn sessions_are_managed_by_handle_and_user_on_the_embedded_core() {
    let (_dir, config) = embedded_config(|builder| builder);
    manage_sessions(&config).await;
    without_a_request(&config).await;
    claims_by_handle(&config).await;
}

#[actix_web::test]
async fn request_less_sessions_get_an_anti_csrf_token_unless_disabled() {
    let (_dir, config) = embedded_config(|builder| builder.anti_csrf(AntiCsrf::ViaToken));
    let with = config
        .create_new_session_without_request_response("public", "u1", json!({}), json!({}), false)
        .await
        .unwrap()
        .get_all_session_tokens_dangerously();
    let anti_csrf = with
        .anti_csrf_token
        .expect("VIA_TOKEN issues an anti-CSRF token");
    let without = config
        .create_new_session_without_request_response("public", "u1", json!({}), json!({}), true)
        .await
        .unwrap()
        .get_all_session_tokens_dangerously();
    assert!(without.anti_csrf_token.is_none());

    // Refreshing with anti-CSRF on needs the session's anti-CSRF token.
    let refresh_token = with.refresh_token.unwrap();
    let wrong = config
        .refresh_session_without_request_response(&refresh_token, false, Some("wrong"))
        .await;
    assert!(
        matches!(wrong, Err(SessionError::Unauthorised { .. })),
        "{wrong:?}"
    );
    config
        .refresh_session_without_request_response(&refresh_token, false, Some(&anti_csrf))
        .await
        .unwrap();
}

#[actix_web::test]
async fn sessions_are_managed_by_handle_and_user_through_a_core_client() {
    let (_dir, _core, server): (_, _, Running) = cdi_core();
    let config = SessionConfig::builder()
        .supertokens_core(&server.base, Some(API_KEY))
        .unwrap()
        .build()
        .unwrap();
    manage_sessions(&config).await;
    without_a_request(&config).await;
    claims_by_handle(&config).await;
    server.stop().await;
}

#[actix_web::test]
async fn a_core_that_is_down_is_a_503_not_an_empty_answer() {
    let config = SessionConfig::builder()
        .supertokens_core("http://127.0.0.1:9", Some(API_KEY))
        .unwrap()
        .build()
        .unwrap();
    let listed = config
        .get_all_session_handles_for_user("u1", Tenants::All)
        .await;
    assert!(
        matches!(listed, Err(SessionError::CoreUnavailable(_))),
        "{listed:?}"
    );
    let revoked = config.revoke_session("h").await;
    assert!(
        matches!(revoked, Err(SessionError::CoreUnavailable(_))),
        "{revoked:?}"
    );
}
