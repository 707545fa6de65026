//! Shared fixtures of the integration tests: real actix servers on 127.0.0.1, an HTTP client,
//! the test vectors of docs/protocol.md Appendix A, and a core with fixed keys.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use serde_json::{Map, Value};
use sessionward::core::{
    BoxFuture, CoreError, CreatedSession, NewSession, RefreshOutcome, RefreshRequest,
    RegenerateOutcome, SessionCore, SessionInformation, VerifyOutcome, VerifyRequest,
};

const UNSUPPORTED: &str = "this test core only verifies";
use sessionward::{KeySource, SessionConfig, SessionMiddleware, StaticKeySource};

/// A server started on an ephemeral port of 127.0.0.1, stopped on drop.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    stop: Stop,
}

/// How a test server is stopped.
#[derive(Debug)]
enum Stop {
    Actix(ServerHandle),
    Task(tokio::task::AbortHandle),
}

impl TestServer {
    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        match &self.stop {
            // Stopping is asynchronous; the runtime ends with the test anyway.
            Stop::Actix(handle) => drop(handle.stop(false)),
            Stop::Task(task) => task.abort(),
        }
    }
}

/// Serves an axum router on 127.0.0.1 (a free port) until the returned server is dropped.
/// Call inside a tokio runtime (`#[actix_web::test]` is one).
pub fn serve_axum(app: axum::Router) -> TestServer {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let addr = listener.local_addr().expect("local address");
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TestServer {
        base: format!("http://{addr}"),
        stop: Stop::Task(task.abort_handle()),
    }
}

/// Starts an app with `config` (if any: wrapped in its `SessionMiddleware`, with its refresh
/// and sign-out endpoints) and the routes `routes` adds. Call inside an actix
/// runtime (`#[actix_web::test]`).
pub fn serve<F>(config: Option<SessionConfig>, routes: F) -> TestServer
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    // Bound on 127.0.0.1 with one worker; the address is read before the server runs.
    macro_rules! start {
        ($app:expr) => {{
            let server = HttpServer::new($app)
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .expect("bind 127.0.0.1:0");
            let addr: SocketAddr = server.addrs()[0];
            (server.run(), addr)
        }};
    }
    let (server, addr) = match config {
        Some(config) => start!(move || {
            App::new()
                .wrap(SessionMiddleware::new(config.clone()))
                .service(config.endpoints())
                .configure(routes.clone())
        }),
        None => start!(move || App::new().configure(routes.clone())),
    };
    let handle = server.handle();
    actix_web::rt::spawn(server);
    TestServer {
        base: format!("http://{addr}"),
        stop: Stop::Actix(handle),
    }
}

/// An HTTP client with a bounded timeout and no cookie jar (tests pass cookies explicitly).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

/// A config on the embedded core in a fresh temporary directory.
pub fn embedded_config(
    customise: impl FnOnce(sessionward::SessionConfigBuilder) -> sessionward::SessionConfigBuilder,
) -> (tempfile::TempDir, SessionConfig) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = customise(SessionConfig::builder().data_dir(dir.path()))
        .build()
        .expect("config");
    (dir, config)
}

/// The JWKS and tokens of docs/protocol.md Appendix A.
#[derive(Debug)]
pub struct AppendixA {
    /// The JWKS JSON.
    pub jwks: jsonwebtoken::jwk::JwkSet,
    /// Token name → token.
    pub tokens: HashMap<String, String>,
}

impl AppendixA {
    /// Loads the vectors from the fixture file.
    pub fn load() -> Self {
        let text = include_str!("../../runtime/tests/fixtures/appendix_a.txt");
        let end = text.find("\n}\n").expect("JWKS block") + 2;
        let jwks = serde_json::from_str(&text[..end]).expect("JWKS JSON");
        let mut tokens = HashMap::new();
        let mut lines = text[end..].lines().filter(|l| !l.trim().is_empty());
        while let (Some(name), Some(token)) = (lines.next(), lines.next()) {
            tokens.insert(name.trim().to_owned(), token.trim().to_owned());
        }
        Self { jwks, tokens }
    }

    /// The token called `name`.
    pub fn token(&self, name: &str) -> &str {
        self.tokens
            .get(name)
            .unwrap_or_else(|| panic!("no vector {name}"))
    }
}

/// A core that only verifies, with a fixed key set; counts and scripts its verify calls.
pub struct FixedKeysCore {
    keys: jsonwebtoken::jwk::JwkSet,
    verify_calls: AtomicUsize,
    verify_answer: fn() -> VerifyOutcome,
}

impl std::fmt::Debug for FixedKeysCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedKeysCore").finish_non_exhaustive()
    }
}

impl FixedKeysCore {
    /// A core publishing `keys` whose verify call answers `verify_answer()`.
    pub fn new(keys: jsonwebtoken::jwk::JwkSet, verify_answer: fn() -> VerifyOutcome) -> Arc<Self> {
        Arc::new(Self {
            keys,
            verify_calls: AtomicUsize::new(0),
            verify_answer,
        })
    }

    /// How many times the core's verify was called.
    pub fn verify_calls(&self) -> usize {
        self.verify_calls.load(Ordering::SeqCst)
    }
}

impl SessionCore for FixedKeysCore {
    fn key_source(&self) -> Arc<dyn KeySource> {
        Arc::new(StaticKeySource::new(self.keys.clone()))
    }

    fn create_session(&self, _: NewSession) -> BoxFuture<'_, Result<CreatedSession, CoreError>> {
        Box::pin(async { Err(CoreError::Internal("verify-only core".into())) })
    }

    fn verify_session(&self, _: VerifyRequest) -> BoxFuture<'_, Result<VerifyOutcome, CoreError>> {
        self.verify_calls.fetch_add(1, Ordering::SeqCst);
        let answer = (self.verify_answer)();
        Box::pin(async move { Ok(answer) })
    }

    fn refresh_session(
        &self,
        _: RefreshRequest,
    ) -> BoxFuture<'_, Result<RefreshOutcome, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn regenerate_access_token(
        &self,
        _: String,
        _: Map<String, Value>,
    ) -> BoxFuture<'_, Result<RegenerateOutcome, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn revoke_sessions(&self, _: Vec<String>) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn revoke_all_sessions_for_user(
        &self,
        _: String,
        _: String,
        _: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn session_handles_for_user(
        &self,
        _: String,
        _: String,
        _: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn session_information(
        &self,
        _: String,
    ) -> BoxFuture<'_, Result<Option<SessionInformation>, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn update_session_data(&self, _: String, _: Value) -> BoxFuture<'_, Result<bool, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn update_access_token_payload(
        &self,
        _: String,
        _: Map<String, Value>,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }
}

/// Tokens and headers of a session created through `POST /login`.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
    /// The front-token header.
    pub front_token: String,
    /// The anti-CSRF token, when issued.
    pub anti_csrf: Option<String>,
    /// Every `Set-Cookie` header of the login response.
    pub set_cookies: Vec<String>,
}

/// The value of cookie `name` in a list of `Set-Cookie` headers.
pub fn set_cookie_value(set_cookies: &[String], name: &str) -> Option<String> {
    set_cookies.iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (key, value) = first.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

/// Sends `count` refreshes of `refresh_token` at once (header mode), the i-th to
/// `refresh_urls[i % refresh_urls.len()]`, and checks what a burst of one token must get: every
/// answer 200, none called theft, one refresh chain. Returns that chain's refresh token and the
/// new access tokens. Call inside a tokio runtime.
pub async fn concurrent_refreshes(
    refresh_urls: &[String],
    refresh_token: &str,
    count: usize,
) -> (String, Vec<String>) {
    let refreshes: Vec<_> = (0..count)
        .map(|i| {
            let url = refresh_urls[i % refresh_urls.len()].clone();
            let token = refresh_token.to_owned();
            tokio::spawn(async move {
                let response = client()
                    .post(url)
                    .header("st-auth-mode", "header")
                    .bearer_auth(token)
                    .send()
                    .await
                    .expect("refresh request");
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let status = response.status().as_u16();
                let tokens = (header("st-access-token"), header("st-refresh-token"));
                (status, tokens, response.text().await.unwrap_or_default())
            })
        })
        .collect();
    let mut chains = std::collections::BTreeSet::new();
    let mut accesses = Vec::new();
    for task in refreshes {
        let (status, (access, refresh), body) = task.await.expect("refresh task");
        assert!(
            !body.contains("theft"),
            "a concurrent refresh was called theft: {body}"
        );
        assert_eq!(status, 200, "{body}");
        chains.insert(refresh.expect("st-refresh-token"));
        accesses.push(access.expect("st-access-token"));
    }
    assert_eq!(chains.len(), 1, "exactly one refresh chain survives");
    let chain = chains.into_iter().next().expect("one chain");
    (chain, accesses)
}

/// Logs `user_id` in at `server` (`POST /login`) with `st-auth-mode: mode`.
pub async fn login(server: &TestServer, user_id: &str, mode: &str) -> LoggedIn {
    let response = client()
        .post(server.url("/login"))
        .header("st-auth-mode", mode)
        .json(&serde_json::json!({ "userId": user_id }))
        .send()
        .await
        .expect("login request");
    assert_eq!(response.status(), 200, "login failed");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let set_cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let (access_token, refresh_token) = if mode == "cookie" {
        (
            set_cookie_value(&set_cookies, "sAccessToken").expect("sAccessToken cookie"),
            set_cookie_value(&set_cookies, "sRefreshToken").expect("sRefreshToken cookie"),
        )
    } else {
        (
            header("st-access-token").expect("st-access-token header"),
            header("st-refresh-token").expect("st-refresh-token header"),
        )
    };
    LoggedIn {
        access_token,
        refresh_token,
        front_token: header("front-token").expect("front-token header"),
        anti_csrf: header("anti-csrf"),
        set_cookies,
    }
}

/// The Rust snippets of docs/coming-from-supertokens-node.md, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/coming-from-supertokens-node.md")]
mod coming_from_supertokens_node {}

/// The Rust snippets of README.md, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}
