//! Config options over HTTP on the demo's routes: the cookie domain and access-token path on
//! `Set-Cookie`, a moved API base path, the claim-failure status, and the token-theft handler.

use sessionward::ErrorResponse;
use sessionward_examples::demo;
use sessionward_tests::{client, embedded_config, login, serve};

/// The first `Set-Cookie` header for cookie `name`.
fn set_cookie<'a>(set_cookies: &'a [String], name: &str) -> &'a str {
    set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {set_cookies:?}"))
}

#[actix_web::test]
async fn cookie_domain_and_paths_reach_set_cookie_and_the_endpoints_move() {
    let (_dir, config) = embedded_config(|b| {
        b.cookie_domain(".Example.com")
            .access_token_path("/api")
            .api_base_path("/session-api")
    });
    let server = serve(Some(config), demo::routes);
    let session = login(&server, "domains", "cookie").await;

    let access = set_cookie(&session.set_cookies, "sAccessToken");
    assert!(access.contains("; Domain=.example.com;"), "{access}");
    assert!(access.contains("; Path=/api;"), "{access}");
    let refresh = set_cookie(&session.set_cookies, "sRefreshToken");
    assert!(refresh.contains("; Domain=.example.com;"), "{refresh}");
    assert!(
        refresh.contains("; Path=/session-api/session/refresh;"),
        "{refresh}"
    );

    // Refresh is served under the new base path only.
    let cookie = format!("sRefreshToken={}", session.refresh_token);
    let moved = client()
        .post(server.url("/session-api/session/refresh"))
        .header("cookie", &cookie)
        .header("rid", "session")
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let old = client()
        .post(server.url("/auth/session/refresh"))
        .header("cookie", &cookie)
        .header("rid", "session")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 404);
}

#[actix_web::test]
async fn a_failed_claim_answers_the_configured_status() {
    let (_dir, config) = embedded_config(|b| b.invalid_claim_status(422u16));
    let server = serve(Some(config), demo::routes);
    let session = login(&server, "no-admin", "header").await;
    let response = client()
        .get(server.url("/admin"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["message"], "invalid claim");
    assert_eq!(body["claimValidationErrors"][0]["id"], "st-role");
}

#[actix_web::test]
async fn the_token_theft_handler_answers_a_replayed_refresh_token() {
    let (_dir, config) = embedded_config(|b| {
        b.on_token_theft_detected(|request, _| {
            ErrorResponse::json(
                401,
                &serde_json::json!({"message": "signed out for safety", "path": request.path()}),
            )
        })
    });
    let server = serve(Some(config), demo::routes);
    let session = login(&server, "victim", "header").await;
    let refresh = |token: String| {
        client()
            .post(server.url("/auth/session/refresh"))
            .header("st-auth-mode", "header")
            .bearer_auth(token)
            .send()
    };
    let rotated = refresh(session.refresh_token.clone()).await.unwrap();
    assert_eq!(rotated.status(), 200);
    // The client uses its new access token: the rotation is committed.
    let access = rotated.headers()["st-access-token"]
        .to_str()
        .unwrap()
        .to_owned();
    let used = client()
        .get(server.url("/user"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);

    let replay = refresh(session.refresh_token.clone()).await.unwrap();
    assert_eq!(replay.status(), 401);
    // The handler's answer, with the tokens cleared as the error calls for.
    assert_eq!(replay.headers()["front-token"], "remove");
    let body: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"message": "signed out for safety", "path": "/auth/session/refresh"})
    );
}
