//! The demo's routes over HTTP with the embedded core: login in both transfer modes, protected,
//! optional and claim-guarded routes, exact error bodies.

use base64::Engine as _;
use serde_json::{Value, json};
use sessionward_examples::{demo, demo_axum};
use sessionward_tests::{client, embedded_config, login, serve, serve_axum};

/// The actix-web demo and the axum demo on one embedded core: every test runs against both.
fn start() -> (tempfile::TempDir, [sessionward_tests::TestServer; 2]) {
    let (dir, config) = embedded_config(|b| b);
    let actix = serve(Some(config.clone()), demo::routes);
    let axum = serve_axum(demo_axum::app(&config));
    (dir, [actix, axum])
}

#[actix_web::test]
async fn no_session_gets_the_exact_401_body() {
    let (_dir, servers) = start();
    for server in &servers {
        let response = client().get(server.url("/user")).send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(
            response.headers().get("front-token").is_none(),
            "a missing token clears nothing"
        );
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"message":"unauthorised"}"#
        );
    }
}

#[actix_web::test]
async fn header_mode_login_then_protected_call() {
    let (_dir, servers) = start();
    for server in &servers {
        let session = login(server, "user-1", "header").await;
        assert!(session.set_cookies.is_empty(), "header mode sets no cookie");

        // The front-token describes the new access token.
        let front: Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(&session.front_token)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(front["uid"], "user-1");
        assert_eq!(front["up"]["sub"], "user-1");
        assert_eq!(
            front["ate"].as_u64().unwrap(),
            front["up"]["exp"].as_u64().unwrap() * 1000
        );

        let response = client()
            .get(server.url("/user"))
            .bearer_auth(&session.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers().get("front-token").is_none(),
            "nothing changed"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["userId"], "user-1");
        assert_eq!(body["accessTokenPayload"]["sub"], "user-1");
        assert_eq!(body["accessTokenPayload"]["tId"], "public");
        assert_eq!(
            body["accessTokenPayload"]["iss"],
            "http://localhost:3001/auth"
        );
        assert_eq!(body["sessionHandle"], front["up"]["sessionHandle"]);
    }
}

#[actix_web::test]
async fn cookie_mode_login_sets_spec_cookies() {
    let (_dir, servers) = start();
    for server in &servers {
        let session = login(server, "user-2", "cookie").await;
        let access = session
            .set_cookies
            .iter()
            .find(|c| c.starts_with("sAccessToken="))
            .unwrap();
        assert!(access.contains("; Path=/; "), "{access}");
        assert!(access.contains("; HttpOnly"), "{access}");
        assert!(access.contains("; SameSite=Lax"), "{access}");
        assert!(!access.contains("Secure"), "http api domain: {access}");
        let refresh = session
            .set_cookies
            .iter()
            .find(|c| c.starts_with("sRefreshToken="))
            .unwrap();
        assert!(
            refresh.contains("; Path=/auth/session/refresh; "),
            "{refresh}"
        );

        // GET with the cookie works without any extra header.
        let response = client()
            .get(server.url("/user"))
            .header("cookie", format!("sAccessToken={}", session.access_token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap()["userId"], "user-2");
    }
}

#[actix_web::test]
async fn login_without_auth_mode_uses_headers() {
    let (_dir, servers) = start();
    for server in &servers {
        let response = client()
            .post(server.url("/login"))
            .json(&json!({"userId": "u"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("st-access-token").is_some());
        assert!(response.headers().get("set-cookie").is_none());
        let exposed = response.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_owned();
        for name in ["front-token", "st-access-token", "st-refresh-token"] {
            assert!(exposed.contains(name), "{exposed}");
        }
    }
}

#[actix_web::test]
async fn optional_route_with_and_without_session() {
    let (_dir, servers) = start();
    for server in &servers {
        let response = client().get(server.url("/optional")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"userId": null})
        );

        let session = login(server, "opt-user", "header").await;
        let response = client()
            .get(server.url("/optional"))
            .bearer_auth(&session.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"userId": "opt-user"})
        );

        // A present but broken token is not "no session": the client must refresh.
        let response = client()
            .get(server.url("/optional"))
            .bearer_auth(format!("{}x", session.access_token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
}

#[actix_web::test]
async fn missing_role_is_403_and_the_session_stays_valid() {
    let (_dir, servers) = start();
    for server in &servers {
        let session = login(server, "not-admin", "header").await;
        let response = client()
            .get(server.url("/admin"))
            .bearer_auth(&session.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert!(response.headers().get("front-token").is_none());
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"message":"invalid claim","claimValidationErrors":[{"id":"st-role","reason":{"message":"value does not exist","expectedToInclude":"admin"}}]}"#
        );
        let response = client()
            .get(server.url("/user"))
            .bearer_auth(&session.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[actix_web::test]
async fn bad_login_bodies_are_client_errors() {
    let (_dir, servers) = start();
    for server in &servers {
        for body in ["{", r#"{"userId": 5}"#, r#"{"userId": ""}"#] {
            let response = client()
                .post(server.url("/login"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{body}");
        }
    }
}

#[actix_web::test]
async fn garbage_tokens_never_cause_5xx() {
    let (_dir, servers) = start();
    for server in &servers {
        let long = "a".repeat(20_000);
        let garbage = [
            "x",
            "a.b.c",
            "a.b.c.d",
            "....",
            "eyJhbGciOiJub25lIn0.e30.",
            "%%%.%%%.%%%",
            long.as_str(),
        ];
        for token in garbage {
            for request in [
                client().get(server.url("/user")).bearer_auth(token),
                client()
                    .get(server.url("/user"))
                    .header("cookie", format!("sAccessToken={token}")),
            ] {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 401, "{token:.40}");
            }
        }
    }
}

#[actix_web::test]
async fn logout_everywhere_revokes_every_session_of_the_user() {
    let (_dir, servers) = start();
    for server in &servers {
        let this_device = login(server, "everywhere", "header").await;
        let other_device = login(server, "everywhere", "header").await;
        let someone_else = login(server, "bystander", "header").await;

        let response = client()
            .post(server.url("/logout-everywhere"))
            .bearer_auth(&this_device.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        // This device's tokens are cleared with the answer.
        assert_eq!(
            response.headers()["front-token"].to_str().unwrap(),
            "remove"
        );
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"revoked": 2})
        );

        // The other device can no longer refresh; another user's session is untouched.
        let refresh = |token: &str| {
            client()
                .post(server.url("/auth/session/refresh"))
                .header("st-auth-mode", "header")
                .bearer_auth(token)
                .send()
        };
        assert_eq!(
            refresh(&other_device.refresh_token).await.unwrap().status(),
            401
        );
        assert_eq!(
            refresh(&someone_else.refresh_token).await.unwrap().status(),
            200
        );

        // Without a session: the ordinary 401.
        let response = client()
            .post(server.url("/logout-everywhere"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
}

#[actix_web::test]
async fn responses_with_tokens_are_never_cached() {
    let (_dir, servers) = start();
    for server in &servers {
        for mode in ["header", "cookie"] {
            let response = client()
                .post(server.url("/login"))
                .header("st-auth-mode", mode)
                .json(&json!({"userId": "cached"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["cache-control"], "no-store", "{mode}");
        }
        let session = login(server, "cached", "header").await;
        let refreshed = client()
            .post(server.url("/auth/session/refresh"))
            .header("st-auth-mode", "header")
            .bearer_auth(&session.refresh_token)
            .send()
            .await
            .unwrap();
        assert_eq!(refreshed.status(), 200);
        assert_eq!(refreshed.headers()["cache-control"], "no-store");
        // A response without new tokens keeps the app's own caching.
        let response = client()
            .get(server.url("/user"))
            .bearer_auth(&session.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("cache-control").is_none());
    }
}
