//! docs/protocol.md Appendix A over HTTP: each vector sent as a bearer token and as a cookie to a
//! route whose core publishes the Appendix A keys.

use actix_web::{HttpResponse, Responder, get, post, web};
use serde_json::{Value, json};
use sessionward::core::VerifyOutcome;
use sessionward::prelude::*;
use sessionward_tests::{AppendixA, FixedKeysCore, TestServer, client, serve};

#[get("/user")]
#[verify_session]
async fn user(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().json(json!({
        "userId": session.user_id(),
        "recipeUserId": session.recipe_user_id(),
        "tenantId": session.tenant_id(),
        "handle": session.handle(),
        "custom": session.access_token_payload().get("custom"),
    }))
}

#[post("/user")]
#[verify_session(anti_csrf = false)]
async fn user_post_no_csrf(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

fn start(
    verify_answer: fn() -> VerifyOutcome,
) -> (TestServer, std::sync::Arc<FixedKeysCore>, AppendixA) {
    let vectors = AppendixA::load();
    let core = FixedKeysCore::new(vectors.jwks.clone(), verify_answer);
    let config = SessionConfig::builder()
        .core(core.clone())
        .build()
        .expect("config");
    let server = serve(Some(config), |cfg: &mut web::ServiceConfig| {
        cfg.service(user).service(user_post_no_csrf);
    });
    (server, core, vectors)
}

async fn get_with_bearer(server: &TestServer, token: &str) -> (u16, Value) {
    let response = client()
        .get(server.url("/user"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get_with_cookie(server: &TestServer, token: &str) -> (u16, Value) {
    let response = client()
        .get(server.url("/user"))
        .header("cookie", format!("sAccessToken={token}"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const TRY_REFRESH: &str = r#"{"message":"try refresh token"}"#;
const UNAUTHORISED: &str = r#"{"message":"unauthorised"}"#;

fn body(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[actix_web::test]
async fn valid_vectors_verify_by_header_and_cookie() {
    let (server, core, vectors) = start(|| VerifyOutcome::Unauthorised);
    for (name, tenant) in [
        ("v5", "public"),
        ("v4", "tenant1"),
        ("v3", "public"),
        ("v5_anticsrf", "public"),
    ] {
        for (status, json) in [
            get_with_bearer(&server, vectors.token(name)).await,
            get_with_cookie(&server, vectors.token(name)).await,
        ] {
            assert_eq!(status, 200, "{name}: {json}");
            assert_eq!(json["userId"], "user-1", "{name}");
            assert_eq!(json["recipeUserId"], "user-1", "{name}");
            assert_eq!(json["tenantId"], tenant, "{name}");
            assert_eq!(
                json["handle"], "3f0a7c1e-1111-4222-8333-944455556666",
                "{name}"
            );
            assert_eq!(json["custom"], "x", "{name}");
        }
    }
    assert_eq!(core.verify_calls(), 0, "fast path: no core call");
}

#[actix_web::test]
async fn v2_legacy_token_verifies() {
    let (server, _core, vectors) = start(|| VerifyOutcome::Unauthorised);
    let (status, json) = get_with_bearer(&server, vectors.token("v2")).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["userId"], "user-1");
    assert_eq!(json["tenantId"], "public");
}

#[actix_web::test]
async fn failing_vectors_ask_for_a_refresh() {
    let (server, _core, vectors) = start(|| VerifyOutcome::Unauthorised);
    // Expired, tampered, unknown key, and static key while dynamic keys are configured.
    for name in [
        "v5_expired",
        "v5_bad_signature",
        "v5_unknown_kid",
        "v5_static_kid",
    ] {
        let (status, json) = get_with_bearer(&server, vectors.token(name)).await;
        assert_eq!((status, json), (401, body(TRY_REFRESH)), "{name}");
        let (status, json) = get_with_cookie(&server, vectors.token(name)).await;
        assert_eq!((status, json), (401, body(TRY_REFRESH)), "{name} (cookie)");
    }
}

#[actix_web::test]
async fn non_session_tokens_are_ignored_as_candidates() {
    let (server, _core, vectors) = start(|| VerifyOutcome::Unauthorised);
    // Failing the structure check means "no token", not "bad token".
    for name in ["v5_missing_rsub", "v5_stt1", "non_st_hs256"] {
        let (status, json) = get_with_bearer(&server, vectors.token(name)).await;
        assert_eq!((status, json), (401, body(UNAUTHORISED)), "{name}");
    }
    // A third-party bearer token does not hide a valid cookie session.
    let response = client()
        .get(server.url("/user"))
        .bearer_auth(vectors.token("non_st_hs256"))
        .header("cookie", format!("sAccessToken={}", vectors.token("v5")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[actix_web::test]
async fn rotated_token_goes_to_the_core() {
    let (server, core, vectors) = start(|| VerifyOutcome::Unauthorised);
    let response = client()
        .get(server.url("/user"))
        .bearer_auth(vectors.token("v5_with_parent"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // The core said the session is gone: tokens are cleared.
    assert_eq!(response.headers()["front-token"], "remove");
    assert_eq!(response.json::<Value>().await.unwrap(), body(UNAUTHORISED));
    assert_eq!(core.verify_calls(), 1);

    let (server, core, vectors) = start(|| VerifyOutcome::TryRefreshToken);
    let (status, json) = get_with_bearer(&server, vectors.token("v5_with_parent")).await;
    assert_eq!((status, json), (401, body(TRY_REFRESH)));
    assert_eq!(core.verify_calls(), 1);
}

#[actix_web::test]
async fn duplicate_access_cookies_ask_for_a_refresh() {
    let (server, _core, vectors) = start(|| VerifyOutcome::Unauthorised);
    let response = client()
        .get(server.url("/user"))
        .header(
            "cookie",
            format!(
                "sAccessToken={}; sAccessToken={}",
                vectors.token("v5"),
                vectors.token("v4")
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap(), body(TRY_REFRESH));
}

#[actix_web::test]
async fn legacy_id_refresh_cookie_asks_for_a_refresh() {
    let (server, _core, vectors) = start(|| VerifyOutcome::Unauthorised);
    let response = client()
        .get(server.url("/user"))
        .header(
            "cookie",
            format!("sIdRefreshToken=x; sAccessToken={}", vectors.token("v5")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap(), body(TRY_REFRESH));
}

#[actix_web::test]
async fn several_authorization_headers_are_refused() {
    let (server, _core, vectors) = start(|| VerifyOutcome::Unauthorised);
    let response = client()
        .get(server.url("/user"))
        .header("authorization", format!("Bearer {}", vectors.token("v5")))
        .header("authorization", format!("Bearer {}", vectors.token("v4")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
