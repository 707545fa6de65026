//! [`CoreClient`]: a [`SessionCore`] backed by SuperTokens Core over the Core Driver
//! Interface 5.4 (protocol §10).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::wire::{CDI_VERSION, PUBLIC_TENANT, Session, Token, status};
use super::{
    BoxFuture, CoreError, CreatedSession, NewSession, RefreshOutcome, RefreshRequest,
    RegenerateOutcome, SessionCore, SessionInformation, VerifyOutcome, VerifyRequest,
};
use crate::keys::{KeySource, KeySourceError};
use transport::{Answer, Call, Host, Transport};

mod transport;

/// Default [`CoreClientBuilder::timeout`].
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`CoreClientBuilder::connect_timeout`].
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default [`CoreClientBuilder::rate_limit_retries`] (Node's).
const DEFAULT_RATE_LIMIT_RETRIES: u32 = 5;
/// Bytes of a tenant id kept as is in a URL path.
const TENANT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A [`SessionCore`] backed by SuperTokens Core (or a cluster of cores, or sessionward's own
/// [`cdi`](crate::cdi) server) over the Core Driver Interface 5.4 (protocol §10).
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
///   400 is [`CoreError::BadRequest`]; a refused api key (401), an unknown app (404) or an
///   incompatible core are [`CoreError::Internal`] with a message that names the fix.
/// * **Secrets.** Tokens and the api key are never logged, and `Debug` redacts the key.
///
/// Cloning is cheap and clones share connections and the version check.
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

impl Inner {
    /// Fails with the same message on every call once the core was found incompatible.
    async fn ensure_compatible(&self) -> Result<(), CoreError> {
        self.compatibility
            .get_or_try_init(|| self.check_version())
            .await?
            .clone()
            .map_err(CoreError::Internal)
    }

    async fn check_version(&self) -> Result<Result<(), String>, CoreError> {
        #[derive(Deserialize)]
        struct Versions {
            versions: Vec<String>,
        }
        let answer = self
            .transport
            .send(&Call {
                method: Method::GET,
                path: "/apiversion",
                query: Vec::new(),
                body: None,
                cdi_version: false,
                api_key: true,
            })
            .await?;
        let Versions { versions } = parse(&answer)?;
        if versions.iter().any(|v| v == CDI_VERSION) {
            tracing::debug!(
                core = answer.host,
                "SuperTokens core speaks CDI {CDI_VERSION}"
            );
            return Ok(Ok(()));
        }
        let message = format!(
            "the SuperTokens core at {} supports CDI versions {versions:?}, but sessionward \
             needs CDI {CDI_VERSION} (the version supertokens-node 24 uses): run a core whose \
             /apiversion lists {CDI_VERSION}",
            answer.host
        );
        tracing::error!("{message}");
        Ok(Err(message))
    }

    /// A CDI call after the version check; the answer's JSON.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Vec<(&str, String)>,
        body: Option<Value>,
    ) -> Result<T, CoreError> {
        self.ensure_compatible().await?;
        let body = body
            .map(|body| serde_json::to_vec(&body))
            .transpose()
            .map_err(|e| CoreError::Internal(format!("cannot encode a core request: {e}")))?;
        let answer = self
            .transport
            .send(&Call {
                method,
                path,
                query,
                body,
                cdi_version: true,
                api_key: true,
            })
            .await?;
        parse(&answer)
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<T, CoreError> {
        self.call(Method::POST, path, Vec::new(), Some(body)).await
    }

    async fn put<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<T, CoreError> {
        self.call(Method::PUT, path, Vec::new(), Some(body)).await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: Vec<(&str, String)>,
    ) -> Result<T, CoreError> {
        self.call(Method::GET, path, query, None).await
    }

    /// `GET /.well-known/jwks.json` from each core in order until one answers a key set.
    async fn fetch_jwks(&self) -> Result<JwkSet, KeySourceError> {
        #[derive(Deserialize)]
        struct Keys {
            keys: Vec<Value>,
        }
        let mut failures = Vec::new();
        for host in self.transport.hosts() {
            let call = Call {
                method: Method::GET,
                path: "/.well-known/jwks.json",
                query: Vec::new(),
                body: None,
                cdi_version: false,
                api_key: false,
            };
            let keys = match self.transport.send_to_host(host, &call).await {
                Ok(answer) => parse::<Keys>(&answer),
                Err(error) => Err(error),
            };
            match keys {
                Ok(Keys { keys }) => {
                    // A key this crate cannot read is skipped, as the cache skips unusable ones.
                    let keys = keys
                        .into_iter()
                        .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
                        .collect();
                    return Ok(JwkSet { keys });
                }
                Err(error) => {
                    tracing::warn!(core = host.base(), %error, "cannot fetch the JWKS");
                    failures.push(error.to_string());
                }
            }
        }
        Err(KeySourceError(failures.join("; ")))
    }
}

/// The answer's JSON; malformed JSON means a broken core or proxy: unavailable.
fn parse<T: DeserializeOwned>(answer: &Answer) -> Result<T, CoreError> {
    serde_json::from_slice(&answer.body).map_err(|e| {
        // The position and category only: the text could contain a token.
        CoreError::Unavailable(format!(
            "malformed answer from the SuperTokens core at {} ({:?} error at line {}, column {})",
            answer.host,
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// `/<tenant>/recipe/…`, the tenant id percent-encoded.
fn tenant_path(tenant: &str, path: &str) -> String {
    format!("/{}{path}", utf8_percent_encode(tenant, TENANT))
}

/// The error for a `status` a call does not expect.
fn unexpected(path: &str, status: &str) -> CoreError {
    CoreError::Internal(format!(
        "the SuperTokens core answered {path} with the unexpected status {status:?}"
    ))
}

/// The error for an `OK` answer that lacks a field.
fn incomplete(path: &str, field: &str) -> CoreError {
    CoreError::Unavailable(format!(
        "malformed answer from the SuperTokens core to {path}: `{field}` is missing"
    ))
}

/// Create, verify, refresh and regenerate answers (and the theft answer's `session`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionAnswer {
    status: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    session: Option<Session>,
    #[serde(default)]
    access_token: Option<Token>,
    #[serde(default)]
    refresh_token: Option<Token>,
    #[serde(default)]
    anti_csrf_token: Option<String>,
}

impl SessionAnswer {
    fn session(&mut self, path: &str) -> Result<Session, CoreError> {
        self.session
            .take()
            .ok_or_else(|| incomplete(path, "session"))
    }

    fn created(mut self, path: &str) -> Result<CreatedSession, CoreError> {
        Ok(CreatedSession {
            session: self.session(path)?.into(),
            access_token: self
                .access_token
                .take()
                .ok_or_else(|| incomplete(path, "accessToken"))?
                .into(),
            refresh_token: self
                .refresh_token
                .take()
                .ok_or_else(|| incomplete(path, "refreshToken"))?
                .into(),
            anti_csrf_token: self.anti_csrf_token.take(),
        })
    }
}

/// Answers that carry only a status (data updates).
#[derive(Deserialize)]
struct StatusAnswer {
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoveAnswer {
    status: String,
    #[serde(default)]
    session_handles_revoked: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HandlesAnswer {
    status: String,
    #[serde(default)]
    session_handles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InformationAnswer {
    status: String,
    session_handle: Option<String>,
    user_id: Option<String>,
    recipe_user_id: Option<String>,
    #[serde(default)]
    user_data_in_database: Value,
    #[serde(default, rename = "userDataInJWT")]
    user_data_in_jwt: Map<String, Value>,
    expiry: Option<u64>,
    time_created: Option<u64>,
    tenant_id: Option<String>,
}

impl SessionCore for CoreClient {
    fn key_source(&self) -> Arc<dyn KeySource> {
        Arc::new(CoreKeySource(Arc::clone(&self.inner)))
    }

    fn create_session(&self, new: NewSession) -> BoxFuture<'_, Result<CreatedSession, CoreError>> {
        Box::pin(async move {
            let path = tenant_path(&new.tenant_id, "/recipe/session");
            let answer: SessionAnswer = self
                .inner
                .post(
                    &path,
                    json!({
                        "userId": new.recipe_user_id,
                        "userDataInJWT": new.access_token_payload,
                        "userDataInDatabase": null_as_empty(new.session_data),
                        "useDynamicSigningKey": new.use_dynamic_signing_key,
                        "enableAntiCsrf": new.enable_anti_csrf,
                    }),
                )
                .await?;
            match answer.status.as_str() {
                status::OK => answer.created(&path),
                other => Err(unexpected(&path, other)),
            }
        })
    }

    fn verify_session(
        &self,
        request: VerifyRequest,
    ) -> BoxFuture<'_, Result<VerifyOutcome, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session/verify";
            let mut body = json!({
                "accessToken": request.access_token,
                "doAntiCsrfCheck": request.do_anti_csrf_check,
                "enableAntiCsrf": request.enable_anti_csrf,
                "checkDatabase": request.check_database,
            });
            if let Some(anti_csrf) = request.anti_csrf_token {
                body["antiCsrfToken"] = Value::String(anti_csrf);
            }
            let mut answer: SessionAnswer = self.inner.post(PATH, body).await?;
            match answer.status.as_str() {
                status::OK => Ok(VerifyOutcome::Ok {
                    session: answer.session(PATH)?.into(),
                    new_access_token: answer.access_token.map(Into::into),
                }),
                status::UNAUTHORISED => Ok(VerifyOutcome::Unauthorised),
                status::TRY_REFRESH_TOKEN => Ok(VerifyOutcome::TryRefreshToken),
                other => Err(unexpected(PATH, other)),
            }
        })
    }

    fn refresh_session(
        &self,
        request: RefreshRequest,
    ) -> BoxFuture<'_, Result<RefreshOutcome, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session/refresh";
            let mut body = json!({
                "refreshToken": request.refresh_token,
                "enableAntiCsrf": request.enable_anti_csrf,
                "useDynamicSigningKey": request.use_dynamic_signing_key,
            });
            if let Some(anti_csrf) = request.anti_csrf_token {
                body["antiCsrfToken"] = Value::String(anti_csrf);
            }
            let mut answer: SessionAnswer = self.inner.post(PATH, body).await?;
            match answer.status.as_str() {
                status::OK => answer.created(PATH).map(RefreshOutcome::Ok),
                status::UNAUTHORISED => Ok(RefreshOutcome::Unauthorised(
                    answer.message.unwrap_or_else(|| "unauthorised".to_owned()),
                )),
                status::TOKEN_THEFT_DETECTED => {
                    let session = answer.session(PATH)?;
                    Ok(RefreshOutcome::TokenTheftDetected {
                        recipe_user_id: session
                            .recipe_user_id
                            .unwrap_or_else(|| session.user_id.clone()),
                        handle: session.handle,
                        user_id: session.user_id,
                    })
                }
                other => Err(unexpected(PATH, other)),
            }
        })
    }

    fn regenerate_access_token(
        &self,
        access_token: String,
        user_data_in_jwt: Map<String, Value>,
    ) -> BoxFuture<'_, Result<RegenerateOutcome, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session/regenerate";
            let mut answer: SessionAnswer = self
                .inner
                .post(
                    PATH,
                    json!({ "accessToken": access_token, "userDataInJWT": user_data_in_jwt }),
                )
                .await?;
            match answer.status.as_str() {
                status::OK => Ok(RegenerateOutcome::Ok {
                    session: answer.session(PATH)?.into(),
                    new_access_token: answer.access_token.map(Into::into),
                }),
                status::UNAUTHORISED => Ok(RegenerateOutcome::Unauthorised),
                other => Err(unexpected(PATH, other)),
            }
        })
    }

    fn revoke_sessions(
        &self,
        handles: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session/remove";
            if handles.is_empty() {
                return Ok(Vec::new());
            }
            let answer: RemoveAnswer = self
                .inner
                .post(PATH, json!({ "sessionHandles": handles }))
                .await?;
            match answer.status.as_str() {
                status::OK => Ok(answer.session_handles_revoked),
                other => Err(unexpected(PATH, other)),
            }
        })
    }

    fn revoke_all_sessions_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async move {
            let path = if across_all_tenants {
                "/recipe/session/remove".to_owned()
            } else {
                tenant_path(&tenant_id, "/recipe/session/remove")
            };
            let answer: RemoveAnswer = self
                .inner
                .post(
                    &path,
                    json!({
                        "userId": user_id,
                        "revokeSessionsForLinkedAccounts": true,
                        "revokeAcrossAllTenants": across_all_tenants,
                    }),
                )
                .await?;
            match answer.status.as_str() {
                status::OK => Ok(answer.session_handles_revoked),
                other => Err(unexpected(&path, other)),
            }
        })
    }

    fn session_handles_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async move {
            let path = if across_all_tenants {
                "/recipe/session/user".to_owned()
            } else {
                tenant_path(&tenant_id, "/recipe/session/user")
            };
            let answer: HandlesAnswer = self
                .inner
                .get(
                    &path,
                    vec![
                        ("userId", user_id),
                        ("fetchSessionsForAllLinkedAccounts", "true".to_owned()),
                        ("fetchAcrossAllTenants", across_all_tenants.to_string()),
                    ],
                )
                .await?;
            match answer.status.as_str() {
                status::OK => Ok(answer.session_handles),
                other => Err(unexpected(&path, other)),
            }
        })
    }

    fn session_information(
        &self,
        handle: String,
    ) -> BoxFuture<'_, Result<Option<SessionInformation>, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session";
            let answer: InformationAnswer = self
                .inner
                .get(PATH, vec![("sessionHandle", handle)])
                .await?;
            match answer.status.as_str() {
                status::OK => {
                    let user_id = answer.user_id.ok_or_else(|| incomplete(PATH, "userId"))?;
                    Ok(Some(SessionInformation {
                        handle: answer
                            .session_handle
                            .ok_or_else(|| incomplete(PATH, "sessionHandle"))?,
                        recipe_user_id: answer.recipe_user_id.unwrap_or_else(|| user_id.clone()),
                        user_id,
                        tenant_id: answer.tenant_id.unwrap_or_else(|| PUBLIC_TENANT.to_owned()),
                        session_data: answer.user_data_in_database,
                        user_data_in_jwt: answer.user_data_in_jwt,
                        expiry_ms: answer.expiry.ok_or_else(|| incomplete(PATH, "expiry"))?,
                        time_created_ms: answer
                            .time_created
                            .ok_or_else(|| incomplete(PATH, "timeCreated"))?,
                    }))
                }
                status::UNAUTHORISED => Ok(None),
                other => Err(unexpected(PATH, other)),
            }
        })
    }

    fn update_session_data(
        &self,
        handle: String,
        data: Value,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/session/data";
            let answer: StatusAnswer = self
                .inner
                .put(
                    PATH,
                    json!({ "sessionHandle": handle, "userDataInDatabase": null_as_empty(data) }),
                )
                .await?;
            found(PATH, &answer.status)
        })
    }

    fn update_access_token_payload(
        &self,
        handle: String,
        user_data_in_jwt: Map<String, Value>,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        Box::pin(async move {
            const PATH: &str = "/recipe/jwt/data";
            let answer: StatusAnswer = self
                .inner
                .put(
                    PATH,
                    json!({ "sessionHandle": handle, "userDataInJWT": user_data_in_jwt }),
                )
                .await?;
            found(PATH, &answer.status)
        })
    }
}

/// Session data of `null` is sent as `{}` (the core wants an object), as the SDKs do.
fn null_as_empty(data: Value) -> Value {
    match data {
        Value::Null => json!({}),
        data => data,
    }
}

/// `OK` ⇒ `true`, `UNAUTHORISED` (no such session) ⇒ `false`.
fn found(path: &str, status: &str) -> Result<bool, CoreError> {
    match status {
        status::OK => Ok(true),
        status::UNAUTHORISED => Ok(false),
        other => Err(unexpected(path, other)),
    }
}

/// The cores' public JWKS, for the verifier's [`JwksCache`](crate::JwksCache).
struct CoreKeySource(Arc<Inner>);

impl KeySource for CoreKeySource {
    fn fetch_keys(&self) -> BoxFuture<'_, Result<JwkSet, KeySourceError>> {
        Box::pin(self.0.fetch_jwks())
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

    #[test]
    fn tenant_paths_are_encoded() {
        assert_eq!(
            tenant_path("public", "/recipe/session"),
            "/public/recipe/session"
        );
        assert_eq!(tenant_path("a b/c", "/x"), "/a%20b%2Fc/x");
    }

    #[test]
    fn malformed_answers_do_not_echo_the_body() {
        let answer = Answer {
            body: br#"{"accessToken": secret-token"#.to_vec(),
            host: "http://a".into(),
        };
        let error = parse::<Value>(&answer).unwrap_err();
        assert!(
            matches!(&error, CoreError::Unavailable(m) if !m.contains("secret")),
            "{error}"
        );
    }
}
