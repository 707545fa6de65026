//! The axum adapter over HTTP: the layer's refresh and sign-out endpoints, `get_session` with
//! `?` answered with the configured status, changes written by the layer, and the demo's
//! contract where it differs from what `demo.rs` covers.

use std::time::Duration;

use serde_json::{Value, json};
use sessionward_examples::demo_axum;
use sessionward_tests::{client, embedded_config, login, serve_axum};

#[actix_web::test]
async fn the_layer_serves_refresh_and_sign_out() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve_axum(demo_axum::app(&config));
    let session = login(&server, "axum-user", "header").await;

    let refreshed = client()
        .post(server.url("/auth/session/refresh"))
        .bearer_auth(&session.refresh_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    let header = |name: &str| {
        refreshed
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let access = header("st-access-token").expect("a new access token");
    assert_ne!(access, session.access_token);
    assert!(header("st-refresh-token").is_some());
    assert!(header("front-token").is_some());
    assert_eq!(refreshed.json::<Value>().await.unwrap(), json!({}));

    // The refreshed token works (the core promotes it on first use) and signs out.
    let user = client()
        .get(server.url("/user"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 200);
    let promoted = user
        .headers()
        .get("st-access-token")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or(access);
    let signed_out = client()
        .post(server.url("/auth/signout"))
        .bearer_auth(&promoted)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 200);
    assert_eq!(signed_out.headers().get("front-token").unwrap(), "remove");
    assert_eq!(
        signed_out.json::<Value>().await.unwrap(),
        json!({"status": "OK"})
    );

    // An unknown refresh token: 401 and cleared tokens.
    let unknown = client()
        .post(server.url("/auth/session/refresh"))
        .bearer_auth("not-a-refresh-token")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    assert_eq!(unknown.headers().get("front-token").unwrap(), "remove");
}

#[actix_web::test]
async fn get_session_errors_returned_with_question_mark_get_the_configured_status() {
    let (_dir, config) = embedded_config(|b| {
        b.session_expired_status(440u16)
            .access_token_validity(Duration::from_secs(1))
    });
    let server = serve_axum(demo_axum::app(&config));
    let missing = client().get(server.url("/legacy")).send().await.unwrap();
    assert_eq!(missing.status(), 440);
    assert_eq!(
        missing.text().await.unwrap(),
        r#"{"message":"unauthorised"}"#
    );
    let session = login(&server, "legacy-axum", "header").await;
    let ok = client()
        .get(server.url("/legacy"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({"userId": "legacy-axum"})
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let expired = client()
            .get(server.url("/legacy"))
            .bearer_auth(&session.access_token)
            .send()
            .await
            .unwrap();
        if expired.status() == 440 {
            assert_eq!(
                expired.text().await.unwrap(),
                r#"{"message":"try refresh token"}"#
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the token never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
