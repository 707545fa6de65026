//! `SessionMiddleware` over HTTP: session changes on plain responses, written once; errors from
//! `get_session` answered as on macro routes (the 440 contract); scopes that require a session.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use sessionward::prelude::*;
use sessionward_examples::demo;
use sessionward_tests::{TestServer, client, embedded_config, login, serve};

/// Calls `path` with the access token of `session` (header mode) or none.
async fn get(server: &TestServer, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = client().get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[actix_web::test]
async fn the_legacy_get_session_route_and_the_macro_routes_answer_440_alike() {
    let (_dir, config) = embedded_config(|b| {
        b.session_expired_status(440u16)
            .access_token_validity(Duration::from_secs(3))
            .disable_verified_token_cache()
    });
    let server = serve(Some(config), demo::routes);
    let session = login(&server, "legacy-user", "header").await;

    let (status, body) = get(&server, "/legacy", Some(&session.access_token)).await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"userId":"legacy-user"}"#)
    );

    for path in ["/legacy", "/user"] {
        let (status, body) = get(&server, path, None).await;
        assert_eq!(
            (status, body.as_str()),
            (440, r#"{"message":"unauthorised"}"#),
            "{path}"
        );
    }
    let mut tampered = session.access_token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    for path in ["/legacy", "/user"] {
        let (status, body) = get(&server, path, Some(&tampered)).await;
        assert_eq!(
            (status, body.as_str()),
            (440, r#"{"message":"try refresh token"}"#),
            "{path}"
        );
    }

    // Once the token expires, both kinds of route ask for a refresh with 440.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = get(&server, "/legacy", Some(&session.access_token)).await;
        if status == 440 {
            break;
        }
        assert!(Instant::now() < deadline, "the token never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for path in ["/legacy", "/user"] {
        let (status, body) = get(&server, path, Some(&session.access_token)).await;
        assert_eq!(
            (status, body.as_str()),
            (440, r#"{"message":"try refresh token"}"#),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn without_the_middleware_an_error_returned_with_question_mark_gets_the_default_answer() {
    let (_dir, config) = embedded_config(|b| b.session_expired_status(440u16));
    let server =
        HttpServer::new(move || App::new().app_data(config.clone()).configure(demo::routes))
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .unwrap();
    let url = format!("http://{}/legacy", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let response = client().get(url).send().await.unwrap();
    assert_eq!(
        response.status(),
        401,
        "the protocol's default, not the config's 440"
    );
    handle.stop(false).await;
}

async fn login_with_session(req: HttpRequest) -> Result<WithSession<HttpResponse>, SessionError> {
    create_new_session(&req, "twice", json!({})).await?;
    Ok(WithSession::new(HttpResponse::Ok().finish()))
}

async fn leave(req: HttpRequest) -> Result<HttpResponse, SessionError> {
    if let Some(session) = get_session(&req, &VerifyOptions::new(true)).await? {
        session.revoke_session().await?;
    }
    Ok(HttpResponse::Ok().finish())
}

#[actix_web::test]
async fn changes_reach_plain_responses_once_and_revocation_clears_tokens() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve(Some(config), |cfg: &mut web::ServiceConfig| {
        cfg.route("/login", web::post().to(demo_login))
            .route("/login-wrapped", web::post().to(login_with_session))
            .route("/leave", web::post().to(leave));
    });
    // `WithSession` and the middleware both apply changes: the cookies are written once.
    let response = client()
        .post(server.url("/login-wrapped"))
        .header("st-auth-mode", "cookie")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(response.headers().get_all("front-token").iter().count(), 1);

    // A plain handler that revokes: the middleware clears the tokens.
    let session = login(&server, "leaver", "header").await;
    let response = client()
        .post(server.url("/leave"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("front-token").unwrap(), "remove");
    assert_eq!(response.headers().get("st-access-token").unwrap(), "");
}

async fn change_then_fail(req: HttpRequest) -> Result<HttpResponse, SessionError> {
    if let Some(session) = get_session(&req, &VerifyOptions::new(true)).await? {
        session
            .merge_into_access_token_payload(json!({ "plan": "pro" }))
            .await?;
    }
    Err(SessionError::Internal(
        "the handler failed after the change".into(),
    ))
}

#[actix_web::test]
async fn a_token_changed_before_a_handler_error_still_reaches_the_client() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve(Some(config), |cfg: &mut web::ServiceConfig| {
        cfg.route("/login", web::post().to(demo_login))
            .route("/change-then-fail", web::post().to(change_then_fail));
    });
    let session = login(&server, "changer", "header").await;
    let response = client()
        .post(server.url("/change-then-fail"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let new_token = response
        .headers()
        .get("st-access-token")
        .unwrap()
        .to_str()
        .unwrap();
    assert_ne!(new_token, session.access_token);
    assert!(response.headers().get("front-token").is_some());
    let body = response.text().await.unwrap();
    assert_eq!(body, r#"{"message":"internal error"}"#);
    assert!(
        !body.contains("failed after"),
        "the reason stays in the logs"
    );
}

#[actix_web::test]
async fn a_scope_that_requires_a_session_rejects_before_its_handlers_run() {
    let (_dir, config) = embedded_config(|b| b);
    let calls = Arc::new(AtomicUsize::new(0));
    let scope_config = config.clone();
    let counted = Arc::clone(&calls);
    let server = serve(Some(config), move |cfg: &mut web::ServiceConfig| {
        let counted = Arc::clone(&counted);
        let admin_calls = Arc::clone(&counted);
        cfg.route("/login", web::post().to(demo_login)).service(
            web::scope("/me")
                .wrap(
                    SessionMiddleware::new(scope_config.clone()).require(VerifyOptions::new(true)),
                )
                .route(
                    "",
                    web::get().to(move |session: SessionContainer| {
                        counted.fetch_add(1, Ordering::SeqCst);
                        async move { HttpResponse::Ok().body(session.user_id().to_owned()) }
                    }),
                ),
        );
        cfg.service(
            web::scope("/admin")
                .wrap(
                    SessionMiddleware::new(scope_config.clone())
                        .require(VerifyOptions::new(true).claim(Roles::includes("admin"))),
                )
                .route(
                    "",
                    web::get().to(move || {
                        admin_calls.fetch_add(1, Ordering::SeqCst);
                        async { HttpResponse::Ok().finish() }
                    }),
                ),
        );
    });
    let (status, body) = get(&server, "/me", None).await;
    assert_eq!(
        (status, body.as_str()),
        (401, r#"{"message":"unauthorised"}"#)
    );
    let session = login(&server, "scoped", "header").await;
    let (status, body) = get(&server, "/admin", Some(&session.access_token)).await;
    assert_eq!(status, 403);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["claimValidationErrors"][0]["id"], "st-role");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no handler ran for a rejected request"
    );

    let (status, body) = get(&server, "/me", Some(&session.access_token)).await;
    assert_eq!((status, body.as_str()), (200, "scoped"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

async fn demo_login(
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, SessionError> {
    let user = body["userId"].as_str().unwrap_or("nobody").to_owned();
    create_new_session(&req, &user, json!({})).await?;
    Ok(HttpResponse::Ok().json(json!({ "userId": user })))
}
