//! [`CoreClient`]: a [`SessionCore`] backed by SuperTokens Core over the Core Driver
//! Interface 5.4 (docs/protocol.md §10).
//!
//! This file holds the client and its builder; `calls.rs` makes one CDI call (version check,
//! JSON request and answer, JWKS fetch), `sessions.rs` maps each [`SessionCore`] call to its
//! CDI request and answer, and `transport.rs` sends requests to the cores.
//!
//! [`SessionCore`]: super::SessionCore

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;

use transport::{Host, Transport};

mod calls;
mod sessions;
mod transport;

/// Default [`CoreClientBuilder::timeout`].
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`CoreClientBuilder::connect_timeout`].
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default [`CoreClientBuilder::rate_limit_retries`] (Node's).
const DEFAULT_RATE_LIMIT_RETRIES: u32 = 5;

/// A [`SessionCore`] backed by SuperTokens Core (or a cluster of cores, or sessionward's own
/// [`cdi`](crate::cdi) server) over the Core Driver Interface 5.4 (docs/protocol.md §10).
///
/// * **Cores.** The connection URI lists one or more cores separated by `;`, each
///   `http(s)://host:port` with an optional base path (`/appid-<app>` for a non-default app).
///   Like the official SDKs, each call starts at the next core (round robin) and moves on to
///   the following one when a core cannot be connected to. A call that reached a core is never
///   repeated on another one (it may have been acted upon).
/// * **Compatibility.** The first call asks `GET /apiversion`; a core whose versions do not
///   include `5.4` is refused with one clear error, for every call, for the life of the
///   client. The answer is kept; a core that cannot be reached is asked again next time.
/// * **Headers.** `api-key` when configured (never on the public JWKS fetch), `cdi-version:
///   5.4` on every call but `/apiversion` and the JWKS fetch, `rid: session` on `/recipe/…`
///   paths, `content-type: application/json; charset=utf-8` on POST and PUT.
/// * **Failures.** Connection failures on every core, timeouts, 5xx and malformed answers are
///   [`CoreError::Unavailable`]: routes answer 503 with `Retry-After`, never a 401 that would
///   sign the browser out, and ordinary access tokens keep verifying from the cached signing
///   keys. 429 is retried on the same core (up to 5 times, 10 ms to 1 s apart, as Node does).
///   400 is [`CoreError::BadRequest`]; a refused api key (401), an unknown app or tenant
///   (400 `AppId or tenantId not found`, or a 404) or an incompatible core are
///   [`CoreError::Internal`] with a message that names the fix.
/// * **Secrets.** Tokens and the api key are never logged, and `Debug` redacts the key.
///
/// Cloning is cheap and clones share connections and the version check.
///
/// [`SessionCore`]: super::SessionCore
/// [`CoreError::Unavailable`]: super::CoreError::Unavailable
/// [`CoreError::BadRequest`]: super::CoreError::BadRequest
/// [`CoreError::Internal`]: super::CoreError::Internal
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sessionward::SessionConfig;
/// use sessionward::core::CoreClient;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let core = CoreClient::builder("http://core-1:3567;http://core-2:3567")
///     .api_key(std::env::var("CORE_API_KEY")?)
///     .timeout(Duration::from_secs(3))
///     .build()?;
/// let config = SessionConfig::builder().core(Arc::new(core)).build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CoreClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    /// The `/apiversion` verdict: `Err` holds the one message for an incompatible core.
    compatibility: tokio::sync::OnceCell<Result<(), String>>,
}

impl fmt::Debug for CoreClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreClient")
            .field("transport", &self.inner.transport)
            .field(
                "compatible",
                &self.inner.compatibility.get().map(Result::is_ok),
            )
            .finish()
    }
}

/// Why a [`CoreClient`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreClientError {
    /// The connection URI is empty or one of its entries is not a plain http(s) URL.
    #[error("invalid SuperTokens connection URI: {0}")]
    InvalidUri(String),
    /// The api key cannot be sent in an HTTP header.
    #[error("the SuperTokens api key has characters that cannot be sent in an HTTP header")]
    InvalidApiKey,
    /// The HTTP client could not be created (TLS setup).
    #[error("cannot create the HTTP client: {0}")]
    Http(String),
}

/// Builds a [`CoreClient`]; each method documents its default.
#[derive(Clone)]
pub struct CoreClientBuilder {
    connection_uri: String,
    api_key: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    rate_limit_retries: u32,
}

impl fmt::Debug for CoreClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoreClientBuilder")
            .field("connection_uri", &self.connection_uri)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("rate_limit_retries", &self.rate_limit_retries)
            .finish()
    }
}

impl CoreClientBuilder {
    /// The api key the core expects (its `api_keys` setting). Default: none.
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    /// How long one request to one core may take, connection and body included. Default:
    /// 5 s. A call that tries several cores, or retries after 429, takes longer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long connecting to one core may take before the next core is tried. Default: 2 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many times a call answered with 429 is repeated on the same core (waiting 10 ms,
    /// then 250 ms more each time). Default: 5.
    pub fn rate_limit_retries(mut self, retries: u32) -> Self {
        self.rate_limit_retries = retries;
        self
    }

    /// Checks the options and creates the client; nothing is sent yet.
    ///
    /// # Errors
    ///
    /// [`CoreClientError::InvalidUri`] for an empty URI or an entry that is not an http(s) URL
    /// without credentials, query or fragment; [`CoreClientError::InvalidApiKey`] for a key
    /// that is not a valid header value; [`CoreClientError::Http`] if the TLS setup fails.
    pub fn build(self) -> Result<CoreClient, CoreClientError> {
        let hosts = self
            .connection_uri
            .split(';')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(Host::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(CoreClientError::InvalidUri)?;
        if hosts.is_empty() {
            return Err(CoreClientError::InvalidUri(
                "no core listed (expected e.g. `http://localhost:3567`)".into(),
            ));
        }
        let api_key = match self.api_key.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(key) => {
                let mut value =
                    HeaderValue::from_str(key).map_err(|_| CoreClientError::InvalidApiKey)?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            // Like the SDKs' fetch: no redirects (the api key stays with the core) and no
            // proxy from the environment.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("sessionward/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CoreClientError::Http(e.to_string()))?;
        Ok(CoreClient {
            inner: Arc::new(Inner {
                transport: Transport::new(
                    hosts,
                    api_key,
                    http,
                    self.timeout,
                    self.rate_limit_retries,
                ),
                compatibility: tokio::sync::OnceCell::new(),
            }),
        })
    }
}

impl CoreClient {
    /// A builder for the cores in `connection_uri` (`;`-separated, e.g.
    /// `"http://core-1:3567;http://core-2:3567"`, or `"http://core:3567/appid-a1"`).
    pub fn builder(connection_uri: impl Into<String>) -> CoreClientBuilder {
        CoreClientBuilder {
            connection_uri: connection_uri.into(),
            api_key: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            rate_limit_retries: DEFAULT_RATE_LIMIT_RETRIES,
        }
    }

    /// A client with the default options and an optional api key.
    ///
    /// # Errors
    ///
    /// As [`CoreClientBuilder::build`].
    pub fn new(connection_uri: &str, api_key: Option<&str>) -> Result<Self, CoreClientError> {
        let builder = Self::builder(connection_uri);
        match api_key {
            Some(key) => builder.api_key(key),
            None => builder,
        }
        .build()
    }

    /// The base URLs of the configured cores, in order.
    pub fn cores(&self) -> impl Iterator<Item = &str> {
        self.inner.transport.hosts().iter().map(Host::base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_uris() {
        let client = CoreClient::new(" http://a:3567/ ; https://b/appid-x ;", None).unwrap();
        assert_eq!(
            client.cores().collect::<Vec<_>>(),
            ["http://a:3567", "https://b/appid-x"]
        );
        for bad in ["", " ; ", "a:3567", "http://a:3567;ftp://b"] {
            assert!(
                matches!(
                    CoreClient::new(bad, None),
                    Err(CoreClientError::InvalidUri(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            CoreClient::new("http://a", Some("bad\nkey")),
            Err(CoreClientError::InvalidApiKey)
        ));
    }

    #[test]
    fn debug_redacts_the_api_key() {
        let client = CoreClient::new("http://a:3567", Some("s3cr3t-api-key-0123456789")).unwrap();
        let text = format!("{client:?}");
        assert!(
            text.contains("http://a:3567") && text.contains("<redacted>"),
            "{text}"
        );
        assert!(!text.contains("s3cr3t"), "{text}");
        let builder = CoreClient::builder("http://a").api_key("s3cr3t-api-key");
        assert!(!format!("{builder:?}").contains("s3cr3t"));
    }
}
