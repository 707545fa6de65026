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

/// The environment variable naming the PostgreSQL server of the tests: a superuser URL
/// (`scripts/pg.sh start` starts a throwaway cluster and prints it; `.ci/run` sets it).
pub const DATABASE_URL_VAR: &str = "SESSIONWARD_TEST_DATABASE_URL";

/// Whether the PostgreSQL tests can run; when not, says that `test` was skipped.
pub fn postgres_available(test: &str) -> bool {
    let available = std::env::var_os(DATABASE_URL_VAR).is_some();
    if !available {
        eprintln!(
            "skipped {test} on PostgreSQL: {DATABASE_URL_VAR} is not set (see scripts/pg.sh)"
        );
    }
    available
}

/// The URL of a new, empty database on the test server, or `None` (after saying so) when no
/// server is configured.
pub async fn fresh_database(test: &str) -> Option<String> {
    if !postgres_available(test) {
        return None;
    }
    let admin = std::env::var(DATABASE_URL_VAR).ok()?;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let name = format!(
        "sessionward_test_{}_{}_{now_ms}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
    );
    let (db, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    let connection = tokio::spawn(connection);
    db.batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    drop(db);
    let _ = connection.await;
    let mut url = url::Url::parse(&admin).expect("a postgres:// URL");
    url.set_path(&name);
    Some(url.into())
}

/// Runs `scripts/pg.sh` with `args` and returns what it printed.
fn pg_sh(args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh");
    let output = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .expect("run scripts/pg.sh");
    assert!(
        output.status.success(),
        "pg.sh {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("pg.sh prints text")
}

/// A PostgreSQL cluster of a test's own (`scripts/pg.sh`), removed on drop: one the test may
/// stop, start again or reconfigure without disturbing the other tests' server. Blocking:
/// call from `spawn_blocking` in async tests.
#[derive(Debug)]
pub struct PgCluster {
    /// Its directory (`PG_TEST_DIR`): data, options, the Unix socket, `server.crt`.
    pub dir: std::path::PathBuf,
    /// Its superuser URL over TCP.
    pub url: String,
}

impl PgCluster {
    /// Starts a cluster; `args` go to `pg.sh start` (`["--tls", cert, key]`).
    pub fn start(args: &[&str]) -> Self {
        let printed = pg_sh(&[&["start"], args].concat());
        let value = |name: &str| {
            printed
                .lines()
                .find_map(|line| line.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("pg.sh start printed no {name}: {printed}"))
                .to_owned()
        };
        Self {
            dir: value("PG_TEST_DIR").into(),
            url: value("SESSIONWARD_TEST_DATABASE_URL"),
        }
    }

    /// Stops the server (fast shutdown: its connections are closed), keeping its data.
    pub fn halt(&self) {
        pg_sh(&["halt", self.dir.to_str().expect("a UTF-8 path")]);
    }

    /// Starts the server again on the same port.
    pub fn resume(&self) {
        pg_sh(&["resume", self.dir.to_str().expect("a UTF-8 path")]);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh");
        let _ = std::process::Command::new("bash")
            .arg(script)
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// Where the embedded core keeps its sessions and keys in a test run on both stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// A SQLite file in a fresh temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server of [`DATABASE_URL_VAR`].
    Postgres,
}

/// A fresh, empty store of one kind, kept for the life of the test: configs opened on it
/// share its sessions and keys, as app instances on one store do.
#[derive(Debug)]
pub struct TestStore {
    dir: Option<tempfile::TempDir>,
    url: Option<String>,
}

impl TestStore {
    /// A new store; for [`Store::Postgres`] the server must be configured (see
    /// [`on_both_stores!`], which checks).
    pub async fn new(store: Store) -> Self {
        match store {
            Store::Sqlite => Self {
                dir: Some(tempfile::tempdir().expect("tempdir")),
                url: None,
            },
            Store::Postgres => Self {
                dir: None,
                url: Some(
                    fresh_database("a test on both stores")
                        .await
                        .expect("a PostgreSQL server for the tests"),
                ),
            },
        }
    }

    /// A builder whose embedded core opens this store.
    pub fn builder(&self) -> sessionward::SessionConfigBuilder {
        let builder = SessionConfig::builder();
        match (&self.dir, &self.url) {
            (Some(dir), _) => builder.data_dir(dir.path()),
            (None, Some(url)) => builder.postgres(url.clone()),
            (None, None) => unreachable!("a store is a directory or a database"),
        }
    }

    /// A config on this store with `customise`'s settings; another call opens another
    /// instance on the same store.
    pub fn config(
        &self,
        customise: impl FnOnce(sessionward::SessionConfigBuilder) -> sessionward::SessionConfigBuilder,
    ) -> SessionConfig {
        customise(self.builder()).build().expect("config")
    }

    /// The PostgreSQL store's URL (`None` on SQLite).
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The SQLite store's directory (`None` on PostgreSQL).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// `(kid, pkcs8)` of every signing key in the store, by kid.
    pub async fn signing_keys(&self) -> Vec<(String, Vec<u8>)> {
        match (&self.dir, &self.url) {
            (Some(dir), _) => sqlite_signing_keys(dir.path()),
            (None, Some(url)) => {
                let (db, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .expect("connect to the test database");
                let connection = tokio::spawn(connection);
                let rows = db
                    .query(
                        "SELECT kid, pkcs8 FROM sessionward_signing_keys ORDER BY kid",
                        &[],
                    )
                    .await
                    .expect("read the signing keys");
                drop(db);
                let _ = connection.await;
                rows.iter().map(|row| (row.get(0), row.get(1))).collect()
            }
            (None, None) => unreachable!("a store is a directory or a database"),
        }
    }
}

/// `(kid, pkcs8)` of every signing key in the embedded core's SQLite file under `dir`, by kid.
pub fn sqlite_signing_keys(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let conn = rusqlite::Connection::open(dir.join("sessions.sqlite3")).expect("open database");
    let mut statement = conn
        .prepare("SELECT kid, pkcs8 FROM signing_keys ORDER BY kid")
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Runs each named `async fn(Store)` as two tests, `<name>::sqlite` and `<name>::postgres`;
/// the PostgreSQL one passes after saying it was skipped when no server is configured.
/// `tokio(N)` before the names runs them on a multi-threaded runtime with N workers instead of
/// actix's.
#[macro_export]
macro_rules! on_both_stores {
    (tokio($threads:literal): $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn sqlite() {
                super::$name($crate::Store::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn postgres() {
                if $crate::postgres_available(stringify!($name)) {
                    super::$name($crate::Store::Postgres).await;
                }
            }
        }
    )+};
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::Store::Sqlite).await;
            }
            #[actix_web::test]
            async fn postgres() {
                if $crate::postgres_available(stringify!($name)) {
                    super::$name($crate::Store::Postgres).await;
                }
            }
        }
    )+};
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
