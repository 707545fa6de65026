//! The PostgreSQL [`SessionStore`](super::store::SessionStore): every instance of an app shares
//! one database, so a session created on one instance refreshes on another, and signing keys
//! (stored here too) are the same everywhere.
//!
//! * The store owns a small tokio runtime (two worker threads) that runs the client and its
//!   connection pool, so its futures complete without the caller's runtime: on actix's
//!   single-threaded workers, on the maintenance thread, and while the core opens (`build()` is
//!   synchronous).
//! * Every conditional state change is one `UPDATE … WHERE …` statement (or one transaction),
//!   every write is committed before its future resolves (PostgreSQL's default
//!   `synchronous_commit = on`), and compare-and-set on signing keys is serialised by a
//!   transaction-level advisory lock. Reads see every committed write (READ COMMITTED).
//! * Tables are prefixed `sessionward_` so they can live next to the app's own; the schema
//!   version lives in `sessionward_meta`, and [`migrate`](schema::migrate) runs under an
//!   advisory lock, so instances starting together migrate once.
//! * A database that cannot be reached (down, restarting, refusing connections, pool
//!   exhausted for longer than the timeout) is [`StoreError::Unavailable`]: an outage (503),
//!   never a sign-out. The pool drops broken connections and opens new ones on the next call,
//!   so the store recovers without a restart.
//! * The connection URL may hold a password: it is kept only inside the client configuration,
//!   never in `Debug` output, logs or error messages ([`redacted_target`]).
//!
//! * Connections use TLS as the URL's `sslmode` asks, always verifying the server's
//!   certificate and name (`tls.rs` says which CAs are trusted and why).
//!
//! This file opens the store; `schema.rs` holds the migrations, `queries.rs` the SQL of each
//! store operation, `tls.rs` the TLS settings.

use std::fmt;
use std::future::Future;
use std::io;
use std::str::FromStr as _;
use std::sync::mpsc;
use std::time::Duration;

use deadpool_postgres::{Manager, Pool, PoolError, Runtime};
use tokio::sync::oneshot;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;

use super::store::{StoreError, StoreFuture};

mod queries;
mod schema;
mod tls;

/// Most pooled connections per store (per app instance) unless configured: enough to keep
/// two cores busy, and few enough that several instances fit PostgreSQL's default
/// `max_connections` (100).
pub(crate) const DEFAULT_POOL_SIZE: usize = 16;
/// Worker threads of the store's runtime: the work is waiting on the network.
const WORKER_THREADS: usize = 2;
/// How long opening the store waits for the database (connect and migrate).
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of [`PostgresStore::open`].
#[derive(Debug, Clone)]
pub(crate) struct PostgresOptions {
    /// How long a call waits for a connection (a free pooled one, or a new one) before the
    /// store answers "unavailable".
    pub(crate) connect_timeout: Duration,
    /// CA certificates (PEM documents) trusted for TLS besides the URL's `sslrootcert`; with
    /// neither, the platform's are.
    pub(crate) root_certificates: Vec<Vec<u8>>,
    /// Most pooled connections (at least 1).
    pub(crate) pool_size: usize,
}

/// The PostgreSQL session store (see the module docs).
pub(crate) struct PostgresStore {
    pool: Pool,
    /// Runs the pool's connections and every store operation; shut down on drop.
    runtime: Option<tokio::runtime::Runtime>,
    target: String,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL or a `key=value` connection
    /// string), migrates it to the current schema and starts the pool.
    ///
    /// Blocks the calling thread until the database answered (at most [`OPEN_TIMEOUT`]),
    /// without needing (or disturbing) an async runtime of the caller.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an unusable URL or CA certificate, `InvalidData` for a schema
    /// written by a newer version, `ResourceBusy` when the database cannot be reached (TLS
    /// failures included); messages never contain the URL's password.
    pub(crate) fn open(url: &str, options: &PostgresOptions) -> io::Result<Self> {
        if options.pool_size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the connection pool size must be at least 1",
            ));
        }
        let split = tls::split_url(url);
        let mut config = tokio_postgres::Config::from_str(&split.client).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                redact(&format!("invalid PostgreSQL URL: {error}"), url),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("sessionward");
        }
        let target = redacted_target(&config);
        let in_target =
            |error: io::Error| io::Error::new(error.kind(), format!("{target}: {error}"));
        let mut roots = match &split.root_cert_file {
            Some(path) => tls::read_root_cert_file(path).map_err(in_target)?,
            None => Vec::new(),
        };
        for (i, pem) in options.root_certificates.iter().enumerate() {
            let what = format!("postgres_root_certificate #{}", i + 1);
            roots.extend(tls::pem_certificates(pem, &what).map_err(in_target)?);
        }
        let tls =
            tls::connector(roots, config.get_ssl_mode() != SslMode::Disable).map_err(in_target)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("sessionward-pg")
            .enable_all()
            .build()?;
        let pool = Pool::builder(Manager::new(config, tls))
            .max_size(options.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|error| io::Error::other(format!("{target}: {error}")))?;
        let (done, migrated) = mpsc::channel();
        let migrating = pool.clone();
        runtime.spawn(async move {
            let _ = done.send(schema::migrate(&migrating).await);
        });
        let outcome = migrated.recv_timeout(OPEN_TIMEOUT).unwrap_or_else(|_| {
            let timeout = StoreError::Unavailable("timed out".into());
            Err(schema::MigrateError::Store(timeout))
        });
        let store = Self {
            pool,
            runtime: Some(runtime),
            target,
        };
        match outcome {
            Ok(()) => Ok(store),
            Err(schema::MigrateError::Newer(found)) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: schema version {found} is newer than this version of sessionward \
                     understands ({})",
                    store.target,
                    schema::SCHEMA_VERSION
                ),
            )),
            Err(schema::MigrateError::Store(error)) => {
                let kind = match error {
                    StoreError::Busy(_) | StoreError::Unavailable(_) | StoreError::Closed => {
                        io::ErrorKind::ResourceBusy
                    }
                    StoreError::Failed(_) => io::ErrorKind::Other,
                };
                Err(io::Error::new(kind, format!("{}: {error}", store.target)))
            }
        }
    }

    /// Runs `op` with the pool on the store's runtime; the work starts now, and finishes even
    /// if the returned future is dropped (a write the caller stopped waiting for still lands
    /// whole or not at all).
    fn run<T, F, Fut>(&self, op: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let spawned = self.runtime.as_ref().map(|runtime| {
            let work = op(self.pool.clone());
            runtime.spawn(async move {
                let _ = reply.send(work.await);
            })
        });
        Box::pin(async move {
            if spawned.is_none() {
                return Err(StoreError::Closed);
            }
            answer.await.unwrap_or(Err(StoreError::Closed))
        })
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.pool.close();
        // Without waiting: the store may be dropped inside the app's async runtime, where a
        // blocking shutdown is not allowed. Open connections are closed by the server when
        // their sockets go.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `postgres://user@host:port/dbname` of a connection URL (with TLS parameters of its own),
/// without the password; `None` if it cannot be read.
pub(crate) fn url_target(url: &str) -> Option<String> {
    let config = tokio_postgres::Config::from_str(&tls::split_url(url).client).ok()?;
    Some(redacted_target(&config))
}

/// `postgres://user@host:port/dbname` of a client configuration, without the password.
pub(crate) fn redacted_target(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(i).or(config.get_ports().first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let db = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() { "" } else { "@" };
    format!("postgres://{user}{at}{}/{db}", hosts.join(","))
}

/// `message` with the password of `url` (as written and percent-decoded) replaced.
fn redact(message: &str, url: &str) -> String {
    let mut secrets = Vec::new();
    if let Ok(parsed) = url::Url::parse(url)
        && let Some(password) = parsed.password()
    {
        secrets.push(password.to_owned());
        if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
            secrets.push(decoded.into_owned());
        }
    }
    // `key=value` connection strings.
    for part in url.split_whitespace() {
        if let Some(password) = part.strip_prefix("password=") {
            secrets.push(password.trim_matches('\'').to_owned());
        }
    }
    let mut message = message.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        message = message.replace(secret.as_str(), "<redacted>");
    }
    message
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        let Some(db) = error.as_db_error() else {
            // No answer from the server: the connection broke or could not be made (TLS
            // included: an untrusted certificate is an outage until it is fixed, never a
            // sign-out).
            let text = with_causes(&error);
            return StoreError::Unavailable(match tls::certificate_hint(&error) {
                Some(hint) => format!("{text}; {hint}"),
                None => text,
            });
        };
        let code = db.code();
        // Only the message and the code: the detail may quote a row's values.
        let text = format!("{} (SQLSTATE {})", db.message(), code.code());
        if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::LOCK_NOT_AVAILABLE
        {
            return StoreError::Busy(text);
        }
        let class = code.code().get(..2).unwrap_or_default();
        // Connection exceptions, insufficient resources (disk full, too many connections),
        // operator intervention (shutdown, recovery), system errors: outages that end.
        if matches!(class, "08" | "53" | "57" | "58")
            || *code == SqlState::READ_ONLY_SQL_TRANSACTION
        {
            StoreError::Unavailable(text)
        } else {
            StoreError::Failed(text)
        }
    }
}

/// `error` and what caused it ("error performing TLS handshake: invalid peer certificate:
/// UnknownIssuer"): tokio-postgres's own message leaves the cause out.
fn with_causes(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

impl From<PoolError> for StoreError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Backend(error) => error.into(),
            PoolError::Closed => StoreError::Closed,
            PoolError::Timeout(kind) => {
                StoreError::Unavailable(format!("no database connection ({kind:?} timed out)"))
            }
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use super::*;

    #[test]
    fn the_target_names_the_database_without_the_password() {
        let url = "postgres://app:s3cr%2Ft@db.internal:6432/sessions?sslmode=disable";
        let config = tokio_postgres::Config::from_str(url).unwrap();
        let target = redacted_target(&config);
        assert_eq!(target, "postgres://app@db.internal:6432/sessions");
        let config =
            tokio_postgres::Config::from_str("host=a,b port=1 user=u password=pw dbname=d")
                .unwrap();
        assert_eq!(redacted_target(&config), "postgres://u@a:1,b:1/d");
    }

    #[test]
    fn redact_hides_the_password_as_written_and_decoded() {
        let url = "postgres://app:s3cr%2Ft@db/x";
        assert_eq!(
            redact("bad s3cr%2Ft and s3cr/t", url),
            "bad <redacted> and <redacted>"
        );
        assert_eq!(
            redact("saw hunter2", "host=db password=hunter2"),
            "saw <redacted>"
        );
        assert_eq!(redact("nothing", "postgres://app@db/x"), "nothing");
    }

    #[test]
    fn an_invalid_url_is_refused_without_its_password() {
        let error = PostgresStore::open(
            "postgres://app:hunter2@db:notaport/x",
            &PostgresOptions {
                connect_timeout: Duration::from_secs(1),
                root_certificates: Vec::new(),
                pool_size: DEFAULT_POOL_SIZE,
            },
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn an_empty_pool_is_refused_before_connecting() {
        let error = PostgresStore::open(
            "postgres://app:hunter2@127.0.0.1:1/x",
            &PostgresOptions {
                connect_timeout: Duration::from_secs(1),
                root_certificates: Vec::new(),
                pool_size: 0,
            },
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("pool size"), "{error}");
    }
}
