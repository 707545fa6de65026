//! Anti-CSRF for cookie sessions (docs/protocol.md §5): custom header and token modes; header
//! sessions are exempt; a failed check is a 401 (never 403).

use serde_json::Value;
use sessionward::AntiCsrf;
use sessionward_examples::{demo, demo_axum};
use sessionward_tests::{TestServer, client, embedded_config, login, serve, serve_axum};

/// The actix-web demo and the axum demo on one config: every test runs against both.
fn both(config: &sessionward::SessionConfig) -> [TestServer; 2] {
    [
        serve(Some(config.clone()), demo::routes),
        serve_axum(demo_axum::app(config)),
    ]
}

#[actix_web::test]
async fn custom_header_mode_needs_rid_on_cookie_posts() {
    let (_dir, config) = embedded_config(|b| b.anti_csrf(AntiCsrf::ViaCustomHeader));
    for server in &both(&config) {
        let session = login(server, "csrf-user", "cookie").await;
        let cookie = format!("sAccessToken={}", session.access_token);

        let response = client()
            .post(server.url("/user"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.json::<Value>().await.unwrap()["message"],
            "try refresh token"
        );

        let response = client()
            .post(server.url("/user"))
            .header("cookie", &cookie)
            .header("rid", "anti-csrf")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);

        // GET is not checked.
        let response = client()
            .get(server.url("/user"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[actix_web::test]
async fn token_mode_issues_and_checks_the_anti_csrf_token() {
    let (_dir, config) = embedded_config(|b| b.anti_csrf(AntiCsrf::ViaToken));
    for server in &both(&config) {
        let session = login(server, "token-user", "cookie").await;
        let anti_csrf = session
            .anti_csrf
            .clone()
            .expect("anti-csrf header on login");
        let cookie = format!("sAccessToken={}", session.access_token);

        for (header, expected) in [
            (None, 401),
            (Some("wrong"), 401),
            (Some(anti_csrf.as_str()), 200),
        ] {
            let mut request = client().post(server.url("/user")).header("cookie", &cookie);
            if let Some(value) = header {
                request = request.header("anti-csrf", value);
            }
            assert_eq!(
                request.send().await.unwrap().status(),
                expected,
                "{header:?}"
            );
        }

        // Another session's anti-CSRF token does not fit.
        let other = login(server, "other-user", "cookie").await;
        let response = client()
            .post(server.url("/user"))
            .header("cookie", &cookie)
            .header("anti-csrf", other.anti_csrf.unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
}

#[actix_web::test]
async fn header_sessions_are_exempt_and_get_no_anti_csrf_token() {
    let (_dir, config) = embedded_config(|b| b.anti_csrf(AntiCsrf::ViaToken));
    for server in &both(&config) {
        let session = login(server, "header-user", "header").await;
        assert!(session.anti_csrf.is_none());
        let response = client()
            .post(server.url("/user"))
            .bearer_auth(&session.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}
