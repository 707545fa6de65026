//! The HTTP side of [`CoreClient`](super::CoreClient): the core list, failover, rate-limit
//! retries, headers, and the mapping of transport failures and HTTP statuses to [`CoreError`]
//! (docs/protocol.md §10.1).

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use crate::core::CoreError;
use crate::core::wire::CDI_VERSION;

/// Largest response body read from a core.
const MAX_RESPONSE_BYTES: usize = 8 << 20;
/// How much of a core's error text goes into an error message.
const MAX_ERROR_TEXT: usize = 300;

/// One core of the connection URI: its base URL (scheme, host, port, and an optional base
/// path such as `/appid-a1`, without a trailing `/`).
#[derive(Clone)]
pub(crate) struct Host {
    base: String,
}

impl Host {
    /// Parses one entry of a connection URI.
    pub(crate) fn parse(entry: &str) -> Result<Self, String> {
        let url = Url::parse(entry).map_err(|e| format!("{entry:?} is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{entry:?} is not an http(s) URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{entry:?} has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "{entry:?} carries credentials: pass the api key with `api_key` instead"
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("{entry:?} has a query or fragment"));
        }
        Ok(Self {
            base: url.as_str().trim_end_matches('/').to_owned(),
        })
    }

    /// The base URL (no credentials: safe to log).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, CoreError> {
        let mut url = Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| CoreError::Internal(format!("cannot build a core URL for {path}: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

/// One CDI call.
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    /// The path after the base URL, starting with `/` (tenant prefix included).
    pub(crate) path: &'a str,
    /// Query parameters (GET).
    pub(crate) query: Vec<(&'a str, String)>,
    /// The JSON body (POST, PUT).
    pub(crate) body: Option<Vec<u8>>,
    /// Send `cdi-version` (every call but `/apiversion` and the JWKS fetch).
    pub(crate) cdi_version: bool,
    /// Send the api key (every call but the JWKS fetch).
    pub(crate) api_key: bool,
}

impl Call<'_> {
    /// `rid: session` goes on `/recipe/…` paths (tenant prefix or not).
    fn is_recipe_path(&self) -> bool {
        self.path.starts_with("/recipe/")
            || self
                .path
                .splitn(3, '/')
                .nth(2)
                .is_some_and(|rest| rest.starts_with("recipe/"))
    }
}

/// The cores, the HTTP client and the retry policy.
pub(crate) struct Transport {
    hosts: Vec<Host>,
    /// Round-robin start index (as the SDKs): each call starts at the next core.
    next: AtomicUsize,
    api_key: Option<HeaderValue>,
    http: reqwest::Client,
    timeout: Duration,
    rate_limit_retries: u32,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("hosts", &self.hosts)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("rate_limit_retries", &self.rate_limit_retries)
            .finish_non_exhaustive()
    }
}

/// What a core answered with HTTP 200.
pub(crate) struct Answer {
    pub(crate) body: Vec<u8>,
    pub(crate) host: String,
}

impl Transport {
    pub(crate) fn new(
        hosts: Vec<Host>,
        api_key: Option<HeaderValue>,
        http: reqwest::Client,
        timeout: Duration,
        rate_limit_retries: u32,
    ) -> Self {
        Self {
            hosts,
            next: AtomicUsize::new(0),
            api_key,
            http,
            timeout,
            rate_limit_retries,
        }
    }

    pub(crate) fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// Sends `call` to the next core in round-robin order; a core that cannot be connected
    /// to is skipped for the next one (the request never reached it, so this is safe for
    /// every call). Any other failure is final: after a timeout or a dropped connection the
    /// core may have acted on the request (a refresh rotation, say), so it is not repeated
    /// elsewhere.
    ///
    /// # Errors
    ///
    /// [`CoreError::Unavailable`] when no core is reachable, a core timed out, dropped the
    /// connection, stayed rate-limited or answered 5xx; otherwise by [`status_error`].
    pub(crate) async fn send(&self, call: &Call<'_>) -> Result<Answer, CoreError> {
        let count = self.hosts.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut unreachable = Vec::new();
        for offset in 0..count {
            let host = &self.hosts[start.wrapping_add(offset) % count];
            match self.send_to(host, call).await {
                Err(Failure::Connect(reason)) => {
                    tracing::warn!(core = host.base(), %reason, "SuperTokens core unreachable; trying the next one");
                    unreachable.push(format!("{}: {reason}", host.base()));
                }
                Err(Failure::Final(error)) => return Err(error),
                Ok(answer) => return Ok(answer),
            }
        }
        Err(CoreError::Unavailable(format!(
            "no SuperTokens core reachable ({})",
            unreachable.join("; ")
        )))
    }

    /// Sends `call` to `host` only.
    ///
    /// # Errors
    ///
    /// As [`Transport::send`].
    pub(crate) async fn send_to_host(
        &self,
        host: &Host,
        call: &Call<'_>,
    ) -> Result<Answer, CoreError> {
        self.send_to(host, call)
            .await
            .map_err(|failure| match failure {
                Failure::Connect(reason) => CoreError::Unavailable(format!(
                    "the SuperTokens core at {} is unreachable: {reason}",
                    host.base()
                )),
                Failure::Final(error) => error,
            })
    }

    /// Sends `call` to `host`, retrying it there on 429.
    async fn send_to(&self, host: &Host, call: &Call<'_>) -> Result<Answer, Failure> {
        let url = host.url(call.path, &call.query).map_err(Failure::Final)?;
        let mut retries = 0;
        loop {
            let mut request = self.http.request(call.method.clone(), url.clone());
            if call.api_key
                && let Some(key) = &self.api_key
            {
                request = request.header("api-key", key.clone());
            }
            if call.cdi_version {
                request = request.header("cdi-version", CDI_VERSION);
            }
            if call.is_recipe_path() {
                request = request.header("rid", "session");
            }
            if let Some(body) = &call.body {
                request = request
                    .header(CONTENT_TYPE, "application/json; charset=utf-8")
                    .body(body.clone());
            }
            tracing::debug!(core = host.base(), method = %call.method, path = call.path, "core call");
            let response = request
                .send()
                .await
                .map_err(|e| self.transport_failure(host, call, &ReadError::Http(e)))?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS && retries < self.rate_limit_retries {
                // Node's schedule: 10, 260, 510, 760, 1010 ms.
                let delay = Duration::from_millis(10 + 250 * u64::from(retries));
                retries += 1;
                tracing::debug!(
                    core = host.base(),
                    ?delay,
                    "core rate-limited the call; retrying"
                );
                tokio::time::sleep(delay).await;
                continue;
            }
            let headers = response.headers().clone();
            let body = read_body(response)
                .await
                .map_err(|e| self.transport_failure(host, call, &e))?;
            if status == StatusCode::OK {
                return Ok(Answer {
                    body,
                    host: host.base().to_owned(),
                });
            }
            return Err(Failure::Final(status_error(
                host, call.path, status, &headers, &body,
            )));
        }
    }

    fn transport_failure(&self, host: &Host, call: &Call<'_>, error: &ReadError) -> Failure {
        match error {
            ReadError::Http(error) if error.is_connect() => Failure::Connect(error_chain(error)),
            ReadError::Http(error) if error.is_timeout() => {
                Failure::Final(CoreError::Unavailable(format!(
                    "the SuperTokens core at {} did not answer {} {} within {:?}",
                    host.base(),
                    call.method,
                    call.path,
                    self.timeout
                )))
            }
            ReadError::Http(error) => Failure::Final(CoreError::Unavailable(format!(
                "{} {} to the SuperTokens core at {} failed: {}",
                call.method,
                call.path,
                host.base(),
                error_chain(error)
            ))),
            ReadError::TooLarge => Failure::Final(CoreError::Unavailable(format!(
                "the SuperTokens core at {} answered {} {} with more than {MAX_RESPONSE_BYTES} bytes",
                host.base(),
                call.method,
                call.path
            ))),
        }
    }
}

enum Failure {
    /// Not connected: the next core may be tried.
    Connect(String),
    /// Anything else.
    Final(CoreError),
}

enum ReadError {
    Http(reqwest::Error),
    TooLarge,
}

impl From<reqwest::Error> for ReadError {
    fn from(error: reqwest::Error) -> Self {
        Self::Http(error)
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport error with its causes (reqwest's `Display` shows only the outermost one). URLs
/// in it carry no credentials (see [`Host::parse`]).
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How the core's 400 for an unknown app or tenant begins.
const APP_OR_TENANT_NOT_FOUND: &str = "AppId or tenantId not found";

/// The error for a non-200 answer (the 429 retries are done).
fn status_error(
    host: &Host,
    path: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> CoreError {
    let text = error_text(headers, body);
    let core = host.base();
    match status.as_u16() {
        // The core's answer for an app or tenant it does not have: a configuration mistake,
        // not a bad request of the caller.
        400 if text.starts_with(APP_OR_TENANT_NOT_FOUND) => configuration_error(format!(
            "the SuperTokens core at {core} does not know the app or tenant of {path}: check the \
             connection URI (app id, base path) and the tenant id ({text})"
        )),
        400 => CoreError::BadRequest(format!("{path}: {text}")),
        // Configuration mistakes: logged here, as every call fails the same way until fixed.
        401 => configuration_error(format!(
            "the SuperTokens core at {core} refused the API key (HTTP 401 on {path}): configure \
             the key the core expects (its `api_keys` setting)"
        )),
        404 => configuration_error(format!(
            "the SuperTokens core at {core} answered 404 for {path}: check the connection URI \
             (app id, base path) and the tenant id ({text})"
        )),
        429 => CoreError::Unavailable(format!(
            "the SuperTokens core at {core} kept rate-limiting {path} (HTTP 429)"
        )),
        code if status.is_server_error() => CoreError::Unavailable(format!(
            "the SuperTokens core at {core} answered HTTP {code} for {path}: {text}"
        )),
        code => CoreError::Internal(format!(
            "the SuperTokens core at {core} answered HTTP {code} for {path}: {text}"
        )),
    }
}

fn configuration_error(message: String) -> CoreError {
    tracing::error!("{message}");
    CoreError::Internal(message)
}

/// A short, printable excerpt of a core's text answer (the core's error texts name fields,
/// never their values).
fn error_text(headers: &HeaderMap, body: &[u8]) -> String {
    let is_text = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/"));
    if !is_text {
        return format!("{} bytes of non-text body", body.len());
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_TEXT)
        .collect();
    text.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised_and_checked() {
        assert_eq!(
            Host::parse("http://localhost:3567/").unwrap().base(),
            "http://localhost:3567"
        );
        assert_eq!(
            Host::parse("https://core.example.com/appid-a1/")
                .unwrap()
                .base(),
            "https://core.example.com/appid-a1"
        );
        for bad in [
            "localhost:3567",
            "ftp://core",
            "http://user:pw@core",
            "http://core?x=1",
            "not a url",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_carry_path_and_query() {
        let host = Host::parse("http://127.0.0.1:3567/appid-public").unwrap();
        let url = host
            .url("/t%201/recipe/session/user", &[("userId", "a b&c".into())])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:3567/appid-public/t%201/recipe/session/user?userId=a+b%26c"
        );
    }

    #[test]
    fn recipe_paths_get_the_rid() {
        let call = |path| Call {
            method: Method::GET,
            path,
            query: vec![],
            body: None,
            cdi_version: true,
            api_key: true,
        };
        assert!(call("/recipe/session").is_recipe_path());
        assert!(call("/public/recipe/session").is_recipe_path());
        assert!(call("/recipe/jwt/data").is_recipe_path());
        assert!(!call("/apiversion").is_recipe_path());
        assert!(!call("/.well-known/jwks.json").is_recipe_path());
        assert!(!call("/user/id").is_recipe_path());
    }

    #[test]
    fn statuses_map_to_errors() {
        let host = Host::parse("http://127.0.0.1:1").unwrap();
        let text = HeaderMap::new();
        let map = |code: u16| {
            status_error(
                &host,
                "/p",
                StatusCode::from_u16(code).unwrap(),
                &text,
                b"Field name 'userId' is invalid",
            )
        };
        assert!(matches!(map(400), CoreError::BadRequest(m) if m.contains("userId")));
        assert!(matches!(map(401), CoreError::Internal(m) if m.contains("API key")));
        assert!(matches!(map(404), CoreError::Internal(m) if m.contains("connection URI")));
        assert!(matches!(map(429), CoreError::Unavailable(_)));
        assert!(matches!(map(500), CoreError::Unavailable(_)));
        assert!(matches!(map(503), CoreError::Unavailable(_)));
        assert!(matches!(map(302), CoreError::Internal(_)));
        let unknown_tenant = status_error(
            &host,
            "/t1/recipe/session",
            StatusCode::BAD_REQUEST,
            &text,
            b"AppId or tenantId not found => appId: public, tenantId: t1\n",
        );
        assert!(
            matches!(&unknown_tenant, CoreError::Internal(m) if m.contains("connection URI") && m.contains("tenantId: t1")),
            "{unknown_tenant:?}"
        );
    }

    #[test]
    fn error_text_is_short_and_printable() {
        let mut headers = HeaderMap::new();
        let long = "x\n".repeat(1000);
        assert_eq!(
            error_text(&headers, long.as_bytes()).len(),
            MAX_ERROR_TEXT - 1
        );
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(error_text(&headers, b"{}"), "2 bytes of non-text body");
    }
}
