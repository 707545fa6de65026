//! Secrets: access tokens, refresh tokens, anti-CSRF tokens, signing keys and the database
//! password never appear in logs (every sessionward event captured at TRACE), in error bodies,
//! or in `Debug` output; the embedded core's data directory and files are owner-only.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::{HttpResponse, Responder, get, web};
use base64::Engine as _;
use serde_json::{Value, json};
use sessionward::core::{IssuedToken, NewSession, RefreshOutcome, RefreshRequest, VerifyRequest};
use sessionward::prelude::*;
use sessionward::testing::TestSession;
use sessionward::{AntiCsrf, SessionConfig};
use sessionward_examples::demo;
use sessionward_tests::{
    Store, TestServer, TestStore, client, embedded_config, login, on_both_stores, serve,
};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;

on_both_stores!(logs_and_error_bodies_never_contain_tokens_or_keys);

/// A database password for the PostgreSQL run (the test server trusts local connections, so
/// any password is accepted and none is needed).
const DATABASE_PASSWORD: &str = "database-password-7f3a9c";

/// Everything sessionward logs, from every thread, at TRACE.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: Arc<Mutex<Vec<u8>>> = Arc::default();
        let sink = Arc::clone(&logs);
        let subscriber = tracing_subscriber::registry()
            .with(
                Targets::new()
                    .with_target("sessionward", LevelFilter::TRACE)
                    .with_target("sessionward_examples", LevelFilter::TRACE),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || Sink(Arc::clone(&sink))),
            );
        // Process-wide, so that the server's worker threads and the store's threads are seen
        // too (observability.rs uses thread-local subscribers, which take precedence there).
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global tracing subscriber in this test binary");
        logs
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The secrets seen so far and the text that must not contain them.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: &str, secret: &str) {
        if secret.len() >= 16 {
            self.0.push((what.to_owned(), secret.to_owned()));
            // A token's signature (or any long middle part) alone is just as telling.
            if let Some(signature) = secret.rsplit('.').next().filter(|s| s.len() >= 32) {
                self.0
                    .push((format!("{what} (signature)"), signature.to_owned()));
            }
        }
    }

    fn add_response(&mut self, response: &reqwest::Response) {
        for name in ["st-access-token", "st-refresh-token", "anti-csrf"] {
            if let Some(value) = response.headers().get(name).and_then(|v| v.to_str().ok()) {
                self.add(name, value);
            }
        }
        for cookie in response.headers().get_all("set-cookie") {
            let cookie = cookie.to_str().unwrap_or_default();
            if let Some((_, value)) = cookie.split(';').next().and_then(|c| c.split_once('=')) {
                self.add("cookie", value);
            }
        }
    }

    fn assert_absent(&self, text: &str, place: &str) {
        for (what, secret) in &self.0 {
            assert!(!text.contains(secret.as_str()), "{what} found in {place}");
        }
    }
}

async fn send(secrets: &mut Secrets, request: reqwest::RequestBuilder) -> reqwest::Response {
    let response = request.send().await.unwrap();
    secrets.add_response(&response);
    response
}

async fn logs_and_error_bodies_never_contain_tokens_or_keys(store: Store) {
    let logs = captured_logs();
    let store = TestStore::new(store).await;
    let mut secrets = Secrets::default();
    let builder = match store.url() {
        Some(url) => {
            let mut url = url::Url::parse(url).unwrap();
            url.set_password(Some(DATABASE_PASSWORD)).unwrap();
            secrets.add("database password", DATABASE_PASSWORD);
            SessionConfig::builder().postgres(url.as_str())
        }
        None => store.builder(),
    };
    let config = builder.anti_csrf(AntiCsrf::ViaToken).build().unwrap();
    assert!(!format!("{config:?}").contains(DATABASE_PASSWORD));
    let server = serve(Some(config), demo::routes);
    let mut bodies = Vec::new();

    for mode in ["header", "cookie"] {
        let session = login(&server, &format!("secret-{mode}"), mode).await;
        for (what, value) in [
            ("access token", Some(session.access_token.clone())),
            ("refresh token", Some(session.refresh_token.clone())),
            ("anti-CSRF token", session.anti_csrf.clone()),
        ] {
            if let Some(value) = value {
                secrets.add(what, &value);
            }
        }
        let authorise = |request: reqwest::RequestBuilder, access: &str| {
            let request = match &session.anti_csrf {
                Some(token) => request.header("anti-csrf", token),
                None => request,
            };
            if mode == "cookie" {
                request.header("cookie", format!("sAccessToken={access}"))
            } else {
                request.bearer_auth(access)
            }
        };
        let refresh = |refresh_token: &str| {
            let request = client().post(server.url("/auth/session/refresh"));
            let request = match &session.anti_csrf {
                Some(token) => request.header("anti-csrf", token),
                None => request,
            };
            if mode == "cookie" {
                request.header("cookie", format!("sRefreshToken={refresh_token}"))
            } else {
                request.bearer_auth(refresh_token)
            }
        };
        // Verify, claim failure, CSRF failure, tampered token.
        for request in [
            authorise(client().get(server.url("/user")), &session.access_token),
            authorise(client().get(server.url("/admin")), &session.access_token),
            client()
                .post(server.url("/user"))
                .header("cookie", format!("sAccessToken={}", session.access_token)),
            authorise(
                client().get(server.url("/user")),
                &format!("{}x", session.access_token),
            ),
        ] {
            let response = send(&mut secrets, request).await;
            // Success bodies are the app's (the demo echoes the payload, anti-CSRF token
            // included, as the front-token does): only error bodies are ours.
            if !response.status().is_success() {
                bodies.push(response.text().await.unwrap());
            }
        }
        // Refresh, promotion, sign-out, then theft with the first refresh token.
        let rotated = send(&mut secrets, refresh(&session.refresh_token)).await;
        assert_eq!(rotated.status(), 200);
        let (access, refresh_token) = if mode == "cookie" {
            let cookies: Vec<String> = rotated
                .headers()
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            (
                sessionward_tests::set_cookie_value(&cookies, "sAccessToken").unwrap(),
                sessionward_tests::set_cookie_value(&cookies, "sRefreshToken").unwrap(),
            )
        } else {
            (
                rotated.headers()["st-access-token"]
                    .to_str()
                    .unwrap()
                    .to_owned(),
                rotated.headers()["st-refresh-token"]
                    .to_str()
                    .unwrap()
                    .to_owned(),
            )
        };
        let promoted = send(
            &mut secrets,
            authorise(client().get(server.url("/user")), &access),
        )
        .await;
        assert_eq!(promoted.status(), 200);
        let theft = send(&mut secrets, refresh(&session.refresh_token)).await;
        assert_eq!(theft.status(), 401);
        bodies.push(theft.text().await.unwrap());
        let after = send(&mut secrets, refresh(&refresh_token)).await;
        bodies.push(after.text().await.unwrap());
        // Sign-out with a token of the revoked session (refused), then a real sign-out.
        let refused = send(
            &mut secrets,
            authorise(client().post(server.url("/auth/signout")), &access),
        )
        .await;
        assert_eq!(refused.status(), 401);
        bodies.push(refused.text().await.unwrap());
    }
    let fresh = login(&server, "secret-sign-out", "header").await;
    secrets.add("access token", &fresh.access_token);
    secrets.add("refresh token", &fresh.refresh_token);
    let signed_out = send(
        &mut secrets,
        client()
            .post(server.url("/auth/signout"))
            .bearer_auth(&fresh.access_token),
    )
    .await;
    assert_eq!(signed_out.status(), 200);
    for (kid, pkcs8) in store.signing_keys().await {
        let standard = base64::engine::general_purpose::STANDARD.encode(&pkcs8);
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&pkcs8);
        // The private parts sit past the first bytes of the DER; any 32-character slice
        // would identify the key.
        secrets.add(&format!("private key {kid}"), &standard[200..264]);
        secrets.add(
            &format!("private key {kid} (base64url)"),
            &url_safe[200..264],
        );
        let hex: String = pkcs8[100..140].iter().map(|b| format!("{b:02x}")).collect();
        secrets.add(&format!("private key {kid} (hex)"), &hex);
    }

    // Let the store's threads finish logging.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logs.contains("theft") && logs.contains("sessionward"),
        "the scenario's events were not captured"
    );
    secrets.assert_absent(&logs, "the logs");
    for body in &bodies {
        secrets.assert_absent(body, "an error body");
        if let Ok(json) = serde_json::from_str::<Value>(body) {
            assert!(json.is_object(), "{body}");
        }
    }
}

#[get("/debug")]
#[verify_session]
async fn debug_route(session: SessionContainer) -> impl Responder {
    let tokens = session.get_all_session_tokens_dangerously();
    HttpResponse::Ok().json(json!({
        "debug": format!("{session:?} {tokens:?} {session:#?} {tokens:#?}"),
        "tokens": [tokens.access_token, tokens.refresh_token, tokens.anti_csrf_token],
    }))
}

fn debug_app(server_config: SessionConfig) -> TestServer {
    serve(Some(server_config), |cfg: &mut web::ServiceConfig| {
        demo::routes(cfg);
        cfg.service(debug_route);
    })
}

#[actix_web::test]
async fn debug_output_never_contains_tokens() {
    let (_dir, config) = embedded_config(|b| b.anti_csrf(AntiCsrf::ViaToken));
    let mut secrets = Secrets::default();

    // The core's own types.
    let created = config
        .core()
        .create_session(NewSession {
            tenant_id: "public".into(),
            recipe_user_id: "debug-user".into(),
            access_token_payload: serde_json::Map::new(),
            session_data: json!({}),
            enable_anti_csrf: true,
            use_dynamic_signing_key: true,
            access_token_version: sessionward::core::AccessTokenVersion::default(),
        })
        .await
        .unwrap();
    secrets.add("access token", &created.access_token.token);
    secrets.add("refresh token", &created.refresh_token.token);
    let anti_csrf = created.anti_csrf_token.clone().expect("anti-CSRF token");
    secrets.add("anti-CSRF token", &anti_csrf);
    let refresh_request = RefreshRequest {
        refresh_token: created.refresh_token.token.clone(),
        anti_csrf_token: Some(anti_csrf.clone()),
        enable_anti_csrf: true,
        use_dynamic_signing_key: Some(true),
        access_token_version: sessionward::core::AccessTokenVersion::default(),
    };
    let verify_request = VerifyRequest {
        access_token: created.access_token.token.clone(),
        anti_csrf_token: Some(anti_csrf.clone()),
        do_anti_csrf_check: true,
        enable_anti_csrf: true,
        check_database: true,
    };
    let refreshed = config
        .core()
        .refresh_session(refresh_request.clone())
        .await
        .unwrap();
    if let RefreshOutcome::Ok(next) = &refreshed {
        secrets.add("new access token", &next.access_token.token);
        secrets.add("new refresh token", &next.refresh_token.token);
    }
    let issued: &IssuedToken = &created.access_token;
    let test_tokens = TestSession::for_user("debug-test")
        .create(&config)
        .await
        .unwrap();
    secrets.add("test access token", &test_tokens.access_token);
    secrets.add("test refresh token", &test_tokens.refresh_token);
    let text = format!(
        "{created:?} {created:#?} {refreshed:?} {issued:?} {refresh_request:?} \
         {verify_request:?} {config:?} {config:#?} {test_tokens:?} {test_tokens:#?}"
    );
    secrets.assert_absent(&text, "Debug output of the core types");

    // SessionContainer and SessionTokens, from a handler.
    let server = debug_app(config);
    for mode in ["header", "cookie"] {
        let session = login(&server, &format!("debug-{mode}"), mode).await;
        let request = client().get(server.url("/debug"));
        let request = if mode == "cookie" {
            request.header("cookie", format!("sAccessToken={}", session.access_token))
        } else {
            request.bearer_auth(&session.access_token)
        };
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        let mut seen = Secrets::default();
        for token in body["tokens"].as_array().unwrap() {
            if let Some(token) = token.as_str() {
                seen.add("token", token);
            }
        }
        seen.add("access token", &session.access_token);
        seen.assert_absent(
            body["debug"].as_str().unwrap(),
            "Debug of SessionContainer/SessionTokens",
        );
    }
}

#[cfg(unix)]
#[test]
fn data_directory_and_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("session-data");
    let config = SessionConfig::builder().data_dir(&dir).build().unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "data directory");
    let db = dir.join("sessions.sqlite3");
    assert_eq!(mode(&db), 0o600, "{}", db.display());
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            mode(&path) & 0o077,
            0,
            "{} is readable by others",
            path.display()
        );
    }
    drop(config);
}
