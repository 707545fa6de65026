//! The SessionContainer API over real HTTP: payload merges and claims reach the client,
//! database session data, revocation, times, tokens; the request-less and SSR checks; plain
//! extractors; error handlers; test utilities.

use actix_web::{HttpRequest, HttpResponse, Responder, get, post, put, web};
use base64::Engine as _;
use serde_json::{Value, json};
use sessionward::claims::{ClaimFetchError, EmailVerified, PrimitiveClaim, Roles, SessionClaim};
use sessionward::prelude::*;
use sessionward::testing::TestSession;
use sessionward::{ErrorResponse, SsrSession, VerifyOptions};
use sessionward_tests::{TestServer, client, embedded_config, serve};

fn front_token_payload(response: &reqwest::Response) -> Value {
    let front = response.headers()["front-token"].to_str().unwrap();
    let json: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(front)
            .unwrap(),
    )
    .unwrap();
    json["up"].clone()
}

#[post("/merge")]
#[verify_session]
async fn merge(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    session
        .merge_into_access_token_payload(json!({"color": "blue", "sub": "ignored"}))
        .await?;
    Ok(HttpResponse::Ok().json(session.access_token_payload()))
}

#[get("/data")]
#[verify_session]
async fn get_data(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    Ok(HttpResponse::Ok().json(session.get_session_data_from_database().await?))
}

#[put("/data")]
#[verify_session]
async fn put_data(
    session: SessionContainer,
    body: web::Json<Value>,
) -> Result<HttpResponse, SessionError> {
    session
        .update_session_data_in_database(body.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[post("/make-admin")]
#[verify_session]
async fn make_admin(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    session
        .set_claim_value(&Roles, vec!["admin".to_owned()])
        .await?;
    Ok(HttpResponse::Ok().json(session.get_claim_value(&Roles)))
}

#[post("/drop-roles")]
#[verify_session]
async fn drop_roles(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    session.remove_claim(&Roles).await?;
    Ok(HttpResponse::Ok().json(session.get_claim_value(&Roles)))
}

#[post("/fetch-ev")]
#[verify_session]
async fn fetch_ev(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    session.fetch_and_set_claim(&EmailVerified).await?;
    Ok(HttpResponse::Ok().json(session.get_claim_value(&EmailVerified)))
}

#[get("/assert-admin")]
#[verify_session]
async fn assert_admin(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    session.assert_claims([Roles::includes("admin")]).await?;
    Ok(HttpResponse::Ok().finish())
}

#[get("/admin")]
#[verify_session(claims = [Roles::includes("admin")])]
async fn admin(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[get("/verified")]
#[verify_session(claims = [EmailVerified])]
async fn verified(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().json(session.get_claim_value(&EmailVerified))
}

#[post("/revoke")]
#[verify_session]
async fn revoke(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    session.revoke_session().await?;
    Ok(HttpResponse::Ok().finish())
}

#[get("/times")]
#[verify_session]
async fn times(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    Ok(HttpResponse::Ok().json(json!({
        "created": session.get_time_created().await?,
        "expiry": session.get_expiry().await?,
        "accessExpiry": session.access_token_expiry_ms(),
    })))
}

#[get("/tokens")]
#[verify_session]
async fn tokens(session: SessionContainer) -> impl Responder {
    let tokens = session.get_all_session_tokens_dangerously();
    HttpResponse::Ok().json(json!({
        "accessToken": tokens.access_token,
        "updated": tokens.access_and_front_token_updated,
        "hasRefresh": tokens.refresh_token.is_some(),
    }))
}

#[get("/plain")]
async fn plain(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[get("/maybe")]
async fn maybe(session: MaybeSession) -> impl Responder {
    HttpResponse::Ok().json(json!({"userId": session.0.as_ref().map(|s| s.user_id())}))
}

#[get("/get-session")]
async fn by_get_session(req: HttpRequest) -> Result<WithSession<HttpResponse>, SessionError> {
    let session = get_session(&req, &VerifyOptions::new(false)).await?;
    Ok(WithSession::new(HttpResponse::Ok().json(
        json!({"userId": session.as_ref().map(|s| s.user_id())}),
    )))
}

#[get("/page")]
async fn page(req: HttpRequest) -> HttpResponse {
    let Ok(config) = SessionConfig::from_request(&req) else {
        return HttpResponse::InternalServerError().finish();
    };
    match config.ssr_session(&req).await {
        SsrSession::Valid { user_id, .. } => HttpResponse::Ok().body(format!("<h1>{user_id}</h1>")),
        SsrSession::RefreshNeeded => HttpResponse::TemporaryRedirect()
            .insert_header(("location", "/refresh-session?redirect=/page"))
            .finish(),
        SsrSession::NoSession => HttpResponse::TemporaryRedirect()
            .insert_header(("location", "/login"))
            .finish(),
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(merge)
        .service(get_data)
        .service(put_data)
        .service(make_admin)
        .service(drop_roles)
        .service(fetch_ev)
        .service(assert_admin)
        .service(admin)
        .service(verified)
        .service(revoke)
        .service(times)
        .service(tokens)
        .service(plain)
        .service(maybe)
        .service(by_get_session)
        .service(page);
}

fn config_with_fetcher(b: sessionward::SessionConfigBuilder) -> sessionward::SessionConfigBuilder {
    b.fetch_claim(&EmailVerified, |input| async move {
        Ok::<_, ClaimFetchError>(Some(input.user_id.starts_with("verified")))
    })
}

async fn start() -> (tempfile::TempDir, SessionConfig, TestServer) {
    let (dir, config) = embedded_config(config_with_fetcher);
    let server = serve(Some(config.clone()), routes);
    (dir, config, server)
}

async fn as_user(config: &SessionConfig, user: &str) -> String {
    TestSession::for_user(user)
        .create(config)
        .await
        .unwrap()
        .access_token
}

#[actix_web::test]
async fn merge_reaches_the_client_with_a_front_token() {
    let (_dir, config, server) = start().await;
    let token = as_user(&config, "u1").await;
    let response = client()
        .post(server.url("/merge"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let new_token = response.headers()["st-access-token"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_token, token);
    assert_eq!(front_token_payload(&response)["color"], "blue");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["color"], "blue");
    assert_eq!(body["sub"], "u1", "protected fields cannot be merged");
    // The new token carries the payload.
    let response = client()
        .get(server.url("/tokens"))
        .bearer_auth(&new_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["accessToken"],
        new_token
    );
}

#[actix_web::test]
async fn session_data_round_trip() {
    let (_dir, config, server) = start().await;
    let token = as_user(&config, "u2").await;
    let data = client()
        .get(server.url("/data"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(data.json::<Value>().await.unwrap(), json!({}));
    let put = client()
        .put(server.url("/data"))
        .bearer_auth(&token)
        .json(&json!({"cart": [1, 2]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let data = client()
        .get(server.url("/data"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(data.json::<Value>().await.unwrap(), json!({"cart": [1, 2]}));
}

#[actix_web::test]
async fn set_and_remove_claims_change_what_routes_allow() {
    let (_dir, config, server) = start().await;
    let token = as_user(&config, "u3").await;
    assert_eq!(
        client()
            .get(server.url("/admin"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let assert = client()
        .get(server.url("/assert-admin"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(assert.status(), 403);
    assert_eq!(
        assert.json::<Value>().await.unwrap()["claimValidationErrors"][0]["id"],
        "st-role"
    );

    let made = client()
        .post(server.url("/make-admin"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let admin_token = made.headers()["st-access-token"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made.json::<Value>().await.unwrap(), json!(["admin"]));
    assert_eq!(
        client()
            .get(server.url("/admin"))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(server.url("/assert-admin"))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let dropped = client()
        .post(server.url("/drop-roles"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    let plain_token = dropped.headers()["st-access-token"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(dropped.json::<Value>().await.unwrap(), Value::Null);
    assert!(
        front_token_payload_of(&plain_token)
            .get("st-role")
            .is_none()
    );
    assert_eq!(
        client()
            .get(server.url("/admin"))
            .bearer_auth(&plain_token)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

fn front_token_payload_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[actix_web::test]
async fn missing_claim_is_fetched_during_verification() {
    let (_dir, config, server) = start().await;
    // No st-ev in the token: the registered fetcher runs, the new value is stored, and the
    // new token goes to the client — on success and on a 403 alike.
    let good = as_user(&config, "verified-alice").await;
    let response = client()
        .get(server.url("/verified"))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(front_token_payload(&response)["st-ev"]["v"], true);
    assert_eq!(response.json::<Value>().await.unwrap(), json!(true));

    let bad = as_user(&config, "bob").await;
    let response = client()
        .get(server.url("/verified"))
        .bearer_auth(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(front_token_payload(&response)["st-ev"]["v"], false);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "invalid claim", "claimValidationErrors": [
            {"id": "st-ev", "reason": {"message": "wrong value", "expectedValue": true, "actualValue": false}}
        ]})
    );

    // fetch_and_set_claim uses the same fetcher.
    let response = client()
        .post(server.url("/fetch-ev"))
        .bearer_auth(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<Value>().await.unwrap(), json!(false));
}

#[actix_web::test]
async fn custom_claim_with_its_own_fetch() {
    let tier = PrimitiveClaim::<String>::new("tier").with_fetch(|input| async move {
        Ok::<_, ClaimFetchError>(Some(format!("{}-tier", input.user_id)))
    });
    let key = tier.key().to_owned();
    let (_dir, config) =
        embedded_config(|b| b.global_claim(tier.has_value("gold-tier".to_owned())));
    let server = serve(Some(config.clone()), routes);
    let gold = as_user(&config, "gold").await;
    let response = client()
        .get(server.url("/tokens"))
        .bearer_auth(&gold)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(front_token_payload(&response)[&key]["v"], "gold-tier");
    let other = as_user(&config, "lead").await;
    let response = client()
        .get(server.url("/tokens"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<Value>().await.unwrap()["claimValidationErrors"][0],
        json!({"id": "tier", "reason": {"message": "wrong value", "expectedValue": "gold-tier", "actualValue": "lead-tier"}})
    );
}

#[actix_web::test]
async fn revoke_times_and_tokens() {
    let (_dir, config, server) = start().await;
    let token = as_user(&config, "u4").await;
    let response = client()
        .get(server.url("/times"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let when: Value = response.json().await.unwrap();
    assert!(when["expiry"].as_u64().unwrap() > when["created"].as_u64().unwrap());
    assert!(when["expiry"].as_u64().unwrap() > when["accessExpiry"].as_u64().unwrap());
    let held: Value = client()
        .get(server.url("/tokens"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        held,
        json!({"accessToken": token, "updated": false, "hasRefresh": false})
    );

    let revoked = client()
        .post(server.url("/revoke"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(revoked.headers()["front-token"], "remove");
    assert_eq!(revoked.headers()["st-access-token"], "");
    let data = client()
        .get(server.url("/data"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(data.status(), 401, "a revoked session has no data");
}

#[actix_web::test]
async fn plain_extractors_and_get_session() {
    let (_dir, config, server) = start().await;
    let token = as_user(&config, "u5").await;
    assert_eq!(
        client()
            .get(server.url("/plain"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let ok = client()
        .get(server.url("/plain"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.text().await.unwrap(), "u5");

    let none = client().get(server.url("/maybe")).send().await.unwrap();
    assert_eq!(none.json::<Value>().await.unwrap(), json!({"userId": null}));
    let some = client()
        .get(server.url("/maybe"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(some.json::<Value>().await.unwrap(), json!({"userId": "u5"}));
    let bad = client()
        .get(server.url("/maybe"))
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401, "an invalid token is not 'no session'");

    let none = client()
        .get(server.url("/get-session"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.json::<Value>().await.unwrap(), json!({"userId": null}));
    let some = client()
        .get(server.url("/get-session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(some.json::<Value>().await.unwrap(), json!({"userId": "u5"}));
}

#[actix_web::test]
async fn ssr_check_redirects_instead_of_401() {
    let (_dir, config, server) = start().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects.get(server.url("/page")).send().await.unwrap();
    assert_eq!(response.status(), 307);
    assert_eq!(response.headers()["location"], "/login");
    let token = as_user(&config, "ssr-user").await;
    let response = no_redirects
        .get(server.url("/page"))
        .header("cookie", format!("sAccessToken={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "<h1>ssr-user</h1>");
    let mut tampered = token.clone();
    tampered.pop();
    let response = no_redirects
        .get(server.url("/page"))
        .header("cookie", format!("sAccessToken={tampered}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["location"],
        "/refresh-session?redirect=/page"
    );
}

#[actix_web::test]
async fn request_less_verification() {
    let (_dir, config, _server) = start().await;
    let token = as_user(&config, "ws-user").await;
    let session = config
        .get_session_without_request_response(&token, None, &VerifyOptions::new(true))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.user_id(), "ws-user");
    let none = config
        .get_session_without_request_response("garbage", None, &VerifyOptions::new(false))
        .await
        .unwrap();
    assert!(none.is_none());
    let err = config
        .get_session_without_request_response(
            &token,
            None,
            &VerifyOptions::new(true).claim(Roles::includes("admin")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SessionError::InvalidClaims(_)));
}

#[actix_web::test]
async fn error_handlers_replace_the_defaults() {
    let (_dir, config) = embedded_config(|b| {
        b.on_unauthorised(|req, _| ErrorResponse::redirect(format!("/login?next={}", req.path())))
            .on_invalid_claim(|_, error| match error {
                SessionError::InvalidClaims(errors) => {
                    ErrorResponse::text(403, format!("missing: {}", errors[0].id))
                }
                _ => ErrorResponse::new(403),
            })
            .on_try_refresh_token(|_, _| ErrorResponse::text(401, "refresh please"))
    });
    let server = serve(Some(config.clone()), routes);
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects.get(server.url("/admin")).send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/login?next=/admin");
    let token = as_user(&config, "plain-user").await;
    let response = client()
        .get(server.url("/admin"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "missing: st-role");
    let response = client()
        .get(server.url("/admin"))
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "refresh please");
}

fn without_email_check(
    global: &[sessionward::claims::ValidatorRef],
    _: &SessionContainer,
) -> Vec<sessionward::claims::ValidatorRef> {
    global
        .iter()
        .filter(|v| v.id() != "st-ev")
        .cloned()
        .collect()
}

#[get("/needs-email")]
#[verify_session]
async fn needs_email(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[get("/resend-email")]
#[verify_session(override_claims = without_email_check)]
async fn resend_email(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

/// The async form: drops the email check for users a (slow) lookup calls trusted.
fn trusted_skip_email_check<'a>(
    global: &'a [sessionward::claims::ValidatorRef],
    session: &'a SessionContainer,
) -> sessionward::core::BoxFuture<'a, Vec<sessionward::claims::ValidatorRef>> {
    Box::pin(async move {
        tokio::task::yield_now().await;
        let trusted = session.user_id().starts_with("trusted-");
        global
            .iter()
            .filter(|v| !(trusted && v.id() == "st-ev"))
            .cloned()
            .collect()
    })
}

#[get("/trusted-area")]
#[verify_session(override_claims = trusted_skip_email_check)]
async fn trusted_area(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[get("/t/{tenant}/items")]
#[verify_session(tenant_param = "tenant")]
async fn tenant_items(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.tenant_id().to_owned())
}

#[actix_web::test]
async fn override_claims_replaces_the_global_validators() {
    let (_dir, config) = embedded_config(|b| b.global_claim(EmailVerified));
    let server = serve(Some(config.clone()), |cfg: &mut web::ServiceConfig| {
        cfg.service(needs_email).service(resend_email);
    });
    let token = as_user(&config, "unverified").await;
    let response = client()
        .get(server.url("/needs-email"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = client()
        .get(server.url("/resend-email"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn status_of(server: &TestServer, path: &str, token: &str) -> u16 {
    client()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn an_async_override_claims_function_chooses_per_session_on_actix_and_axum() {
    use axum::routing::get as axum_get;
    use sessionward::axum::{SessionLayer, verify_session as axum_verify_session};

    #[axum_verify_session(override_claims = trusted_skip_email_check)]
    async fn trusted_area_axum(session: SessionContainer) -> String {
        session.user_id().to_owned()
    }

    let (_dir, config) = embedded_config(|b| b.global_claim(EmailVerified));
    let actix = serve(Some(config.clone()), |cfg: &mut web::ServiceConfig| {
        cfg.service(trusted_area);
    });
    let axum = sessionward_tests::serve_axum(
        axum::Router::new()
            .route("/trusted-area", axum_get(trusted_area_axum))
            .layer(SessionLayer::new(config.clone())),
    );
    let trusted = as_user(&config, "trusted-1").await;
    let other = as_user(&config, "someone").await;
    for server in [&actix, &axum] {
        assert_eq!(status_of(server, "/trusted-area", &trusted).await, 200);
        assert_eq!(status_of(server, "/trusted-area", &other).await, 403);
    }
}

#[actix_web::test]
async fn tenant_param_refuses_other_tenants_with_403() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve(Some(config.clone()), |cfg: &mut web::ServiceConfig| {
        cfg.service(tenant_items);
    });
    let acme = TestSession::for_user("u")
        .in_tenant("acme")
        .create(&config)
        .await
        .unwrap();
    let response = client()
        .get(server.url("/t/acme/items"))
        .bearer_auth(&acme.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "acme");
    let response = client()
        .get(server.url("/t/globex/items"))
        .bearer_auth(&acme.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "invalid claim", "claimValidationErrors": [
            {"id": "st-tenant", "reason": {"message": "wrong tenant", "expectedValue": "globex", "actualValue": "acme"}}
        ]})
    );
}
