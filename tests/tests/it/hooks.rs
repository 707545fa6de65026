//! Hooks over HTTP: overridden recipe functions see every path that reaches them (login,
//! verification, refresh, sign-out, the by-user functions), the endpoint hooks run around
//! refresh and sign-out on actix-web and axum, and disabled endpoints reach the app.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sessionward::core::{CreatedSession, NewSession, RefreshRequest};
use sessionward::hooks::{HookFuture, Original, SessionApis, SessionFunctions};
use sessionward::{
    ErrorResponse, RequestInfo, SessionContainer, SessionError, Tenants, VerifyOptions,
};
use sessionward_examples::{demo, demo_axum};
use sessionward_tests::{TestServer, client, embedded_config, login, serve, serve_axum};

/// What the overrides saw, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }

    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Stamps new sessions, refuses the user `blocked`, and logs refreshes and revocations.
struct Policy(Log);

impl SessionFunctions for Policy {
    fn create_new_session<'a>(
        &'a self,
        mut new: NewSession,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<CreatedSession, SessionError>> {
        Box::pin(async move {
            self.0.push(format!("create:{}", new.recipe_user_id));
            new.access_token_payload
                .insert("stamp".into(), json!("hooked"));
            // Protected fields set here are still dropped by the original.
            new.access_token_payload
                .insert("sub".into(), json!("forged"));
            original.create_new_session(new).await
        })
    }

    fn get_session<'a>(
        &'a self,
        request: Option<RequestInfo<'a>>,
        _options: &'a VerifyOptions,
        verified: Result<Option<SessionContainer>, SessionError>,
    ) -> HookFuture<'a, Result<Option<SessionContainer>, SessionError>> {
        Box::pin(async move {
            let path = request.map_or("-", |r| r.path());
            match verified? {
                Some(session) if session.user_id() == "blocked" => {
                    self.0.push(format!("refused:{path}"));
                    Err(SessionError::Unauthorised {
                        clear_tokens: true,
                        reason: "blocked user",
                    })
                }
                other => Ok(other),
            }
        })
    }

    fn refresh_session<'a>(
        &'a self,
        request: RefreshRequest,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<CreatedSession, SessionError>> {
        Box::pin(async move {
            let created = original.refresh_session(request).await?;
            self.0.push(format!("refresh:{}", created.session.handle));
            Ok(created)
        })
    }

    fn revoke_session<'a>(
        &'a self,
        handle: String,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<bool, SessionError>> {
        Box::pin(async move {
            self.0.push(format!("revoke:{handle}"));
            original.revoke_session(handle).await
        })
    }

    fn revoke_all_sessions_for_user<'a>(
        &'a self,
        user_id: String,
        tenants: Tenants<'a>,
        original: Original<'a>,
    ) -> HookFuture<'a, Result<Vec<String>, SessionError>> {
        Box::pin(async move {
            self.0.push(format!("revoke-all:{user_id}"));
            original
                .revoke_all_sessions_for_user(user_id, tenants)
                .await
        })
    }
}

async fn get_user(server: &TestServer, access_token: &str) -> (u16, Value) {
    let response = client()
        .get(server.url("/user"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(server: &TestServer, path: &str, token: &str) -> reqwest::Response {
    client()
        .post(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn overridden_functions_see_login_verification_refresh_sign_out_and_by_user_calls() {
    let log = Log::default();
    let (_dir, config) = embedded_config(|b| b.override_functions(Policy(log.clone())));
    let server = serve(Some(config.clone()), demo::routes);

    let alice = login(&server, "alice", "header").await;
    let (status, body) = get_user(&server, &alice.access_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accessTokenPayload"]["stamp"], "hooked");
    assert_eq!(body["accessTokenPayload"]["sub"], "alice");
    let handle = body["sessionHandle"].as_str().unwrap().to_owned();

    let blocked = login(&server, "blocked", "header").await;
    let (status, body) = get_user(&server, &blocked.access_token).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "unauthorised");

    let refreshed = post(&server, "/auth/session/refresh", &alice.refresh_token).await;
    assert_eq!(refreshed.status(), 200);
    let new_access = refreshed
        .headers()
        .get("st-access-token")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let signed_out = post(&server, "/auth/signout", &new_access).await;
    assert_eq!(signed_out.status(), 200);

    let revoked = config
        .revoke_all_sessions_for_user("blocked", Tenants::All)
        .await
        .unwrap();
    assert_eq!(revoked.len(), 1);

    assert_eq!(
        log.events(),
        [
            "create:alice".to_owned(),
            "create:blocked".to_owned(),
            "refused:/user".to_owned(),
            format!("refresh:{handle}"),
            format!("revoke:{handle}"),
            "revoke-all:blocked".to_owned(),
        ]
    );
}

#[actix_web::test]
async fn the_get_session_override_also_sees_sessions_verified_without_a_request() {
    let log = Log::default();
    let (_dir, config) = embedded_config(|b| b.override_functions(Policy(log.clone())));
    let session = config
        .create_new_session_without_request_response(
            "public",
            "blocked",
            Value::Null,
            Value::Null,
            true,
        )
        .await
        .unwrap();
    let error = config
        .get_session_without_request_response(
            &session.get_access_token(),
            None,
            &VerifyOptions::new(true),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, SessionError::Unauthorised { .. }),
        "{error}"
    );
    assert_eq!(log.events(), ["create:blocked", "refused:-"]);
}

/// Rate-limits refreshes and records who signed out.
struct Apis {
    log: Log,
}

impl SessionApis for Apis {
    fn before_refresh<'a>(
        &'a self,
        request: RequestInfo<'a>,
    ) -> HookFuture<'a, Option<ErrorResponse>> {
        Box::pin(async move {
            self.log.push(format!("before-refresh:{}", request.path()));
            Some(ErrorResponse::json(
                429,
                &json!({"message": "too many refreshes"}),
            ))
        })
    }

    fn before_sign_out<'a>(
        &'a self,
        _request: RequestInfo<'a>,
    ) -> HookFuture<'a, Option<ErrorResponse>> {
        Box::pin(async move {
            self.log.push("before-sign-out");
            None
        })
    }

    fn after_sign_out<'a>(
        &'a self,
        _request: RequestInfo<'a>,
        outcome: Result<&'a SessionContainer, &'a SessionError>,
    ) -> HookFuture<'a, ()> {
        Box::pin(async move {
            match outcome {
                Ok(session) => self.log.push(format!("signed-out:{}", session.user_id())),
                Err(error) => self.log.push(format!("sign-out-failed:{}", error.kind())),
            }
        })
    }
}

async fn endpoint_hooks_run_around_the_endpoints(server: &TestServer, log: &Log) {
    let session = login(server, "hooked-apis", "header").await;
    let refused = post(server, "/auth/session/refresh", &session.refresh_token).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("st-access-token").is_none());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["message"], "too many refreshes");

    let signed_out = post(server, "/auth/signout", &session.access_token).await;
    assert_eq!(signed_out.status(), 200);
    let no_token = client()
        .post(server.url("/auth/signout"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    assert_eq!(
        log.events(),
        [
            "before-refresh:/auth/session/refresh",
            "before-sign-out",
            "signed-out:hooked-apis",
            "before-sign-out",
            "sign-out-failed:unauthorised",
        ]
    );
}

#[actix_web::test]
async fn endpoint_hooks_run_around_refresh_and_sign_out_on_actix() {
    let log = Log::default();
    let (_dir, config) = embedded_config(|b| b.override_apis(Apis { log: log.clone() }));
    let server = serve(Some(config), demo::routes);
    endpoint_hooks_run_around_the_endpoints(&server, &log).await;
}

#[actix_web::test]
async fn endpoint_hooks_run_around_refresh_and_sign_out_on_axum() {
    let log = Log::default();
    let (_dir, config) = embedded_config(|b| b.override_apis(Apis { log: log.clone() }));
    let server = serve_axum(demo_axum::app(&config));
    endpoint_hooks_run_around_the_endpoints(&server, &log).await;
}

async fn disabled_endpoints_are_left_to_the_app(server: &TestServer) {
    let session = login(server, "no-endpoints", "header").await;
    let refresh = post(server, "/auth/session/refresh", &session.refresh_token).await;
    assert_eq!(refresh.status(), 404);
    let sign_out = post(server, "/auth/signout", &session.access_token).await;
    assert_eq!(sign_out.status(), 404);
    // The session is untouched: it still verifies.
    assert_eq!(get_user(server, &session.access_token).await.0, 200);
}

#[actix_web::test]
async fn disabled_endpoints_are_left_to_the_app_on_actix_and_axum() {
    let (_dir, config) =
        embedded_config(|b| b.disable_refresh_endpoint().disable_sign_out_endpoint());
    let server = serve(Some(config.clone()), demo::routes);
    disabled_endpoints_are_left_to_the_app(&server).await;
    let server = serve_axum(demo_axum::app(&config));
    disabled_endpoints_are_left_to_the_app(&server).await;
}

/// Answers a missing session with a redirect and a failed claim with 418, each after awaiting
/// (as a handler that reads a tenant's settings would).
fn async_handlers(
    log: Log,
) -> impl FnOnce(sessionward::SessionConfigBuilder) -> sessionward::SessionConfigBuilder {
    move |builder| {
        let unauthorised = log.clone();
        builder
            .on_unauthorised_async(move |request, error| {
                let log = unauthorised.clone();
                Box::pin(async move {
                    tokio::task::yield_now().await;
                    log.push(format!("unauthorised:{}", error.kind()));
                    ErrorResponse::redirect(format!("/login?next={}", request.path()))
                })
            })
            .on_invalid_claim_async(move |_request, error| {
                let log = log.clone();
                Box::pin(async move {
                    tokio::task::yield_now().await;
                    log.push(format!("invalid-claim:{}", error.kind()));
                    ErrorResponse::json(418, &json!({"message": "not an admin"}))
                })
            })
    }
}

async fn async_error_handlers_answer(server: &TestServer, log: &Log) {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let no_session = no_redirects.get(server.url("/user")).send().await.unwrap();
    assert_eq!(no_session.status(), 302);
    assert_eq!(no_session.headers()["location"], "/login?next=/user");

    let session = login(server, "not-admin", "header").await;
    let admin = client()
        .get(server.url("/admin"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 418);
    let body: Value = admin.json().await.unwrap();
    assert_eq!(body["message"], "not an admin");
    assert_eq!(
        log.events(),
        ["unauthorised:unauthorised", "invalid-claim:invalid_claims"]
    );
}

#[actix_web::test]
async fn async_error_handlers_answer_on_actix() {
    let log = Log::default();
    let (_dir, config) = embedded_config(async_handlers(log.clone()));
    let server = serve(Some(config), demo::routes);
    async_error_handlers_answer(&server, &log).await;
}

#[actix_web::test]
async fn async_error_handlers_answer_on_axum() {
    let log = Log::default();
    let (_dir, config) = embedded_config(async_handlers(log.clone()));
    let server = serve_axum(demo_axum::app(&config));
    async_error_handlers_answer(&server, &log).await;
}

#[actix_web::test]
async fn the_revoke_override_sees_the_revocation_of_a_detected_token_theft() {
    let log = Log::default();
    let (_dir, config) = embedded_config(|b| b.override_functions(Policy(log.clone())));
    let server = serve(Some(config), demo::routes);
    let bob = login(&server, "bob", "header").await;
    let rotated = post(&server, "/auth/session/refresh", &bob.refresh_token).await;
    assert_eq!(rotated.status(), 200);
    let access = rotated.headers()["st-access-token"]
        .to_str()
        .unwrap()
        .to_owned();
    // Using the new access token commits the rotation; the old refresh token is then stolen.
    let (status, body) = get_user(&server, &access).await;
    assert_eq!(status, 200);
    let handle = body["sessionHandle"].as_str().unwrap().to_owned();
    let replay = post(&server, "/auth/session/refresh", &bob.refresh_token).await;
    assert_eq!(replay.status(), 401);
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["message"], "token theft detected");
    assert!(
        log.events().contains(&format!("revoke:{handle}")),
        "{:?}",
        log.events()
    );
}
