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
            .access_token_validity(Duration::from_secs(3))
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

mod routes {
    //! Handlers for the route-level options: the attribute and the layer's `require`.

    use axum::Router;
    use axum::extract::Path;
    use axum::routing::get;
    use sessionward::axum::{SessionLayer, verify_session};
    use sessionward::claims::Roles;
    use sessionward::{SessionConfig, SessionContainer, VerifyOptions};

    /// The path parameter is only extracted after verification: a bad id with no session is
    /// 401, not 400.
    #[verify_session(tenant_param = "tenant")]
    async fn items(Path((_tenant, id)): Path<(String, u32)>, session: SessionContainer) -> String {
        format!("{}:{id}", session.tenant_id())
    }

    async fn report(session: SessionContainer) -> String {
        session.user_id().to_owned()
    }

    pub(super) fn app(config: &SessionConfig) -> Router {
        let admin = Router::new().route("/reports", get(report)).route_layer(
            SessionLayer::new(config.clone())
                .require(VerifyOptions::new(true).claim(Roles::includes("admin"))),
        );
        sessionward_examples::demo_axum::app(config)
            .route("/t/{tenant}/items/{id}", get(items))
            .merge(admin)
            .layer(SessionLayer::new(config.clone()))
    }
}

#[actix_web::test]
async fn the_attribute_verifies_before_other_extractors_and_checks_the_tenant() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve_axum(routes::app(&config));
    let no_session = client()
        .get(server.url("/t/public/items/not-a-number"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_session.status(), 401, "verification runs before Path");
    let session = login(&server, "tenant-user", "header").await;
    let get = |path: &str| {
        client()
            .get(server.url(path))
            .bearer_auth(&session.access_token)
            .send()
    };
    let own = get("/t/public/items/7").await.unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.text().await.unwrap(), "public:7");
    let other = get("/t/acme/items/7").await.unwrap();
    assert_eq!(other.status(), 403);
    let body: Value = other.json().await.unwrap();
    assert_eq!(body["claimValidationErrors"][0]["id"], "st-tenant");
    let bad_id = get("/t/public/items/x").await.unwrap();
    assert_eq!(
        bad_id.status(),
        400,
        "with a session, a bad path is the client's mistake"
    );
    let reports = get("/reports").await.unwrap();
    assert_eq!(
        reports.status(),
        403,
        "the route layer requires the admin role"
    );
}
