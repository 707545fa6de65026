//! `#[verify_session]` in every placement: above and below the route attribute, with
//! `web::resource` registration, guard-only, session at any position; and verification before
//! the handler's other extractors (401 before 400).

use actix_web::{HttpResponse, Responder, get, post, web};
use serde::Deserialize;
use serde_json::{Value, json};
use sessionward::prelude::*;
use sessionward_tests::{client, embedded_config, login, serve};

#[derive(Deserialize)]
struct Cmd {
    n: u32,
}

#[verify_session]
#[post("/above")]
async fn macro_above(session: SessionContainer, body: web::Json<Cmd>) -> impl Responder {
    HttpResponse::Ok().json(json!({"user": session.user_id(), "n": body.n}))
}

#[post("/below")]
#[verify_session]
async fn macro_below(
    body: web::Json<Cmd>,
    session: sessionward::SessionContainer,
) -> impl Responder {
    HttpResponse::Ok().json(json!({"user": session.user_id(), "n": body.n}))
}

/// Registered by hand below; no route attribute.
#[verify_session]
async fn by_resource(path: web::Path<u32>, session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().json(json!({"user": session.user_id(), "id": path.into_inner()}))
}

/// Guard only: no session parameter.
#[get("/guard-only/{id}")]
#[verify_session]
async fn guard_only(path: web::Path<u32>) -> String {
    format!("item {}", path.into_inner())
}

/// Bare claim type: EmailVerified's default validator.
#[get("/verified")]
#[verify_session(claims = [EmailVerified])]
async fn verified(_session: SessionContainer) -> &'static str {
    "verified"
}

/// A handler that returns an error still answers through the guard.
#[get("/fails")]
#[verify_session]
async fn fails(_session: SessionContainer) -> Result<String, actix_web::Error> {
    Err(actix_web::error::ErrorConflict("handler error"))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(macro_above)
        .service(macro_below)
        .service(web::resource("/resource/{id}").route(web::get().to(by_resource)))
        .service(guard_only)
        .service(verified)
        .service(fails);
}

#[actix_web::test]
async fn invalid_body_without_session_is_401_not_400() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve(Some(config), routes);
    for path in ["/above", "/below"] {
        let response = client()
            .post(server.url(path))
            .header("content-type", "application/json")
            .body("{ this is not json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"message": "unauthorised"})
        );
    }
}

#[actix_web::test]
async fn invalid_body_with_session_is_400() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve(Some(config), |cfg: &mut web::ServiceConfig| {
        routes(cfg);
        sessionward_examples::demo::routes(cfg);
    });
    let session = login(&server, "u", "header").await;
    let response = client()
        .post(server.url("/above"))
        .bearer_auth(&session.access_token)
        .header("content-type", "application/json")
        .body("{ this is not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[actix_web::test]
async fn both_attribute_orders_and_resource_registration_work() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve(Some(config), |cfg: &mut web::ServiceConfig| {
        routes(cfg);
        sessionward_examples::demo::routes(cfg);
    });
    let session = login(&server, "order-user", "header").await;
    for path in ["/above", "/below"] {
        let response = client()
            .post(server.url(path))
            .bearer_auth(&session.access_token)
            .json(&json!({"n": 7}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"user": "order-user", "n": 7})
        );
    }
    let response = client()
        .get(server.url("/resource/42"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"user": "order-user", "id": 42})
    );
    let response = client()
        .get(server.url("/resource/42"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let response = client()
        .get(server.url("/guard-only/5"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "item 5");
    let response = client()
        .get(server.url("/guard-only/5"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Demo users have no st-ev claim: EmailVerified's default validator fails.
    let response = client()
        .get(server.url("/verified"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "invalid claim", "claimValidationErrors": [
            {"id": "st-ev", "reason": {"message": "value does not exist", "expectedValue": true}}
        ]})
    );

    let response = client()
        .get(server.url("/fails"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
}
