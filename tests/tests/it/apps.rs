//! Config handling: two apps with different configs in one process, a missing config, and the
//! configurable statuses of the older contract (440).

use actix_web::{HttpResponse, Responder, get, web};
use serde_json::{Value, json};
use sessionward::prelude::*;
use sessionward_tests::{client, embedded_config, login, serve};

#[get("/user")]
#[verify_session]
async fn user(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[actix_web::test]
async fn two_apps_with_different_configs_in_one_process() {
    let (_a_dir, a_config) = embedded_config(|b| b);
    let (_b_dir, b_config) = embedded_config(|b| {
        b.session_expired_status(actix_web::http::StatusCode::from_u16(440).unwrap())
    });
    let a = serve(Some(a_config), sessionward_examples::demo::routes);
    let b = serve(Some(b_config), sessionward_examples::demo::routes);

    let a_session = login(&a, "alice", "header").await;
    let b_session = login(&b, "bob", "header").await;
    let ok = client()
        .get(a.url("/user"))
        .bearer_auth(&a_session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.json::<Value>().await.unwrap()["userId"], "alice");
    let ok = client()
        .get(b.url("/user"))
        .bearer_auth(&b_session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.json::<Value>().await.unwrap()["userId"], "bob");

    // Each app trusts only its own keys, and answers with its own status codes.
    let cross = client()
        .get(b.url("/user"))
        .bearer_auth(&a_session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status().as_u16(), 440);
    assert_eq!(
        cross.json::<Value>().await.unwrap(),
        json!({"message": "try refresh token"})
    );
    let cross = client()
        .get(a.url("/user"))
        .bearer_auth(&b_session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status().as_u16(), 401);
}

#[actix_web::test]
async fn missing_config_is_a_clear_500() {
    let server = serve(None, |cfg: &mut web::ServiceConfig| {
        cfg.service(user);
    });
    let response = client().get(server.url("/user")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "internal error"})
    );
}

#[actix_web::test]
async fn legacy_440_contract_for_missing_sessions() {
    let (_dir, config) = embedded_config(|b| {
        b.session_expired_status(actix_web::http::StatusCode::from_u16(440).unwrap())
    });
    let server = serve(Some(config), |cfg: &mut web::ServiceConfig| {
        cfg.service(user);
    });
    let response = client().get(server.url("/user")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 440);
}

#[actix_web::test]
async fn keys_survive_a_restart_of_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let build = || {
        SessionConfig::builder()
            .data_dir(dir.path())
            .build()
            .unwrap()
    };
    let first = serve(Some(build()), sessionward_examples::demo::routes);
    let session = login(&first, "persistent", "header").await;
    drop(first);
    let second = serve(Some(build()), sessionward_examples::demo::routes);
    let response = client()
        .get(second.url("/user"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
