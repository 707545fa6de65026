//! [`SessionConfig`]: everything session handling needs (the core, the signing keys, cookie and
//! anti-CSRF settings, statuses, claims and error handlers), and its builder.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use std::collections::HashMap;

mod builder;
mod domains;

pub use builder::SessionConfigBuilder;

use crate::claims::{ClaimFetcher, ValidatorRef};
use crate::core::{BoxFuture, SessionCore};
use crate::error::{ErrorResponse, HandlerSlot, RequestInfo, SessionError};
use crate::keys::JwksCache;
use jsonwebtoken::jwk::JwkSet;

/// How session tokens travel between the browser and the backend (docs/protocol.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTransferMethod {
    /// HttpOnly cookies `sAccessToken` / `sRefreshToken`.
    Cookie,
    /// `Authorization: Bearer` on requests, `st-access-token` / `st-refresh-token` on responses.
    Header,
    /// Accept both (header wins when both are present). The default for verification.
    Any,
}

/// The request a [token-transfer-method function](SessionConfigBuilder::token_transfer_method_fn)
/// decides for: its method, path and headers, borrowed from the framework's request (nothing
/// is copied), and whether a new session is being created.
pub struct TransferMethodRequest<'r> {
    request: &'r (dyn RequestLookup + 'r),
    for_create_new_session: bool,
}

/// What the protocol layer lends a [`TransferMethodRequest`]: it implements this for every
/// adapter's request view.
pub(crate) trait RequestLookup {
    fn lookup_method(&self) -> &str;
    fn lookup_path(&self) -> &str;
    fn lookup_header(&self, name: &str) -> Option<&str>;
}

impl<'r> TransferMethodRequest<'r> {
    pub(crate) fn new(request: &'r (dyn RequestLookup + 'r), for_create_new_session: bool) -> Self {
        Self {
            request,
            for_create_new_session,
        }
    }

    /// The request method, e.g. `POST`.
    pub fn method(&self) -> &str {
        self.request.lookup_method()
    }

    /// The request path, without the query.
    pub fn path(&self) -> &str {
        self.request.lookup_path()
    }

    /// The first value of the header `name` (case-insensitive) as text, e.g.
    /// `header("st-auth-mode")`; `None` when it is missing or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.lookup_header(name)
    }

    /// `true` when a new session's tokens are about to leave (the answer picks their transfer
    /// method; [`TokenTransferMethod::Any`] then follows the `st-auth-mode` header), `false`
    /// when tokens are read (verification, refresh, sign-out: the answer limits which
    /// methods are read).
    pub fn for_create_new_session(&self) -> bool {
        self.for_create_new_session
    }
}

impl fmt::Debug for TransferMethodRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers may carry tokens: only the method and path are shown.
        f.debug_struct("TransferMethodRequest")
            .field("method", &self.method())
            .field("path", &self.path())
            .field("for_create_new_session", &self.for_create_new_session)
            .finish_non_exhaustive()
    }
}

/// A function choosing the token transfer method per request (see
/// [`SessionConfigBuilder::token_transfer_method_fn`]).
pub type TransferMethodFn =
    Arc<dyn Fn(&TransferMethodRequest<'_>) -> TokenTransferMethod + Send + Sync>;

/// The configured transfer method: one for every request, or a function of the request.
#[derive(Clone)]
pub(crate) enum TransferPolicy {
    Fixed(TokenTransferMethod),
    PerRequest(TransferMethodFn),
}

impl TransferPolicy {
    /// The method for `request`; a fixed method is returned without looking at the request.
    pub(crate) fn for_request(
        &self,
        request: &dyn RequestLookup,
        for_create_new_session: bool,
    ) -> TokenTransferMethod {
        match self {
            TransferPolicy::Fixed(method) => *method,
            TransferPolicy::PerRequest(decide) => {
                decide(&TransferMethodRequest::new(request, for_create_new_session))
            }
        }
    }
}

impl fmt::Debug for TransferPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferPolicy::Fixed(method) => method.fmt(f),
            TransferPolicy::PerRequest(_) => f.write_str("PerRequest(..)"),
        }
    }
}

/// Cross-site request forgery protection for cookie sessions (docs/protocol.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AntiCsrf {
    /// An anti-CSRF token issued with the session must be echoed in the `anti-csrf` header.
    ViaToken,
    /// Non-GET requests must carry a `rid` header (browsers cannot add it cross-site without
    /// a CORS preflight).
    ViaCustomHeader,
    /// No check (safe when cookies are `SameSite=Lax`/`Strict`).
    None,
}

/// The `SameSite` attribute of session cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (requires `Secure` unless everything runs on localhost).
    None,
}

impl SameSite {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// Why a [`SessionConfig`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither a data directory (embedded core) nor a core was given.
    #[error(
        "no session core: call `.data_dir(\"./session-data\")` for the embedded core or `.core(..)`"
    )]
    NoCore,
    /// The embedded core could not open its data directory.
    #[error("embedded core at {path}: {source}")]
    Embedded {
        /// The data directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The embedded core could not open its PostgreSQL database.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    #[error("embedded core on {target}: {source}")]
    Postgres {
        /// The database, as `postgres://user@host:port/dbname` (never with the password).
        target: String,
        /// What failed (never with the password).
        #[source]
        source: std::io::Error,
    },
    /// `api_domain` or `website_domain` is not an http(s) origin.
    #[error("not an http(s) origin: {0}")]
    InvalidOrigin(String),
    /// `cookie_domain` or `older_cookie_domain` is not a host name or IP address.
    #[error("not a cookie domain: {0}")]
    InvalidCookieDomain(String),
    /// A configured status is not an HTTP status code (100–999).
    #[error("{0} is not an HTTP status code")]
    InvalidStatus(u16),
    /// `session_expired_status` and `invalid_claim_status` are equal, so the frontend could not
    /// tell "refresh" from "forbidden".
    #[error("session_expired_status and invalid_claim_status must differ")]
    SameStatuses,
    /// `SameSite=None` cookies without `Secure` outside localhost: browsers drop them.
    #[error("SameSite=None cookies must be Secure: use an https api_domain or cookie_secure(true)")]
    InsecureSameSiteNone,
    /// The SuperTokens Core connection URI or api key cannot be used.
    #[error("SuperTokens Core client: {0}")]
    CoreClient(String),
}

/// The session settings of one app.
///
/// Build it once with [`SessionConfig::builder`] and hand a clone to the framework adapter
/// (with actix-web: `.wrap(SessionMiddleware::new(config.clone()))` or
/// `.app_data(config.clone())`). Cloning is cheap (an `Arc`). Two apps in one process can carry
/// different configs.
///
/// ```no_run
/// use sessionward::SessionConfig;
///
/// # fn main() -> Result<(), sessionward::ConfigError> {
/// let config = SessionConfig::builder()
///     .data_dir("./session-data")
///     .api_domain("http://localhost:3001")
///     .website_domain("http://localhost:3000")
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionConfig {
    inner: Arc<ConfigInner>,
}

pub(crate) struct ConfigInner {
    pub(crate) core: Arc<dyn SessionCore>,
    pub(crate) keys: Arc<JwksCache>,
    pub(crate) api_domain: String,
    pub(crate) api_base_path: String,
    pub(crate) api_gateway_path: String,
    pub(crate) cookie_domain: Option<String>,
    pub(crate) cookie_secure: bool,
    pub(crate) cookie_same_site: SameSite,
    pub(crate) access_token_path: String,
    pub(crate) refresh_token_path: String,
    pub(crate) anti_csrf: AntiCsrf,
    pub(crate) session_expired_status: u16,
    pub(crate) invalid_claim_status: u16,
    pub(crate) use_dynamic_signing_key: bool,
    pub(crate) token_transfer_method: TransferPolicy,
    /// Also send the access token in `st-access-token` when it is set as a cookie.
    pub(crate) expose_access_token_in_cookie_mode: bool,
    /// The cookie domain of an earlier configuration, whose duplicate session cookies the
    /// refresh endpoint clears (`Some("")`: host-only cookies).
    pub(crate) older_cookie_domain: Option<String>,
    pub(crate) global_validators: Vec<ValidatorRef>,
    pub(crate) claim_fetchers: HashMap<String, ClaimFetcher>,
    pub(crate) error_handlers: ErrorHandlers,
    /// The overridden recipe functions (`None`: the built-in ones) and the logic around the
    /// refresh and sign-out endpoints; read through `protocol::hooks`.
    pub(crate) functions: Option<StoredHook>,
    pub(crate) apis: Option<StoredHook>,
    pub(crate) refresh_endpoint_disabled: bool,
    pub(crate) sign_out_endpoint_disabled: bool,
    /// The verified-token cache; `None` when disabled.
    pub(crate) verified_tokens: Option<Arc<crate::cache::VerifiedTokenCache>>,
    /// The last JWKS handed out by `get_jwks` and when it was fetched: the JWKS endpoint is
    /// public, so the core is not asked more often than every few seconds.
    pub(crate) served_jwks: std::sync::Mutex<Option<(std::time::Instant, JwkSet)>>,
}

/// A hook registered with the builder, kept without naming its trait: the traits
/// (`protocol::hooks`) speak of sessions, a layer above the config, which reads them back.
pub(crate) type StoredHook = Arc<dyn std::any::Any + Send + Sync>;

/// A custom response for one kind of session error (the SDKs' `errorHandlers`).
///
/// It gets the request's method, path and query and the error, and returns the response; the
/// token clearing that the error calls for is added to whatever it returns.
pub type ErrorHandler = Arc<dyn Fn(&RequestInfo<'_>, &SessionError) -> ErrorResponse + Send + Sync>;

/// An error handler that awaits something (a database, a template) before it answers: it gets
/// what an [`ErrorHandler`] gets and returns a boxed future of the response.
pub type AsyncErrorHandler = Arc<
    dyn for<'a> Fn(RequestInfo<'a>, &'a SessionError) -> BoxFuture<'a, ErrorResponse> + Send + Sync,
>;

/// One configured error handler.
#[derive(Clone)]
pub(crate) enum Handler {
    Sync(ErrorHandler),
    Async(AsyncErrorHandler),
}

impl Handler {
    /// The handler's response to `error`.
    pub(crate) async fn respond(
        &self,
        request: &RequestInfo<'_>,
        error: &SessionError,
    ) -> ErrorResponse {
        match self {
            Handler::Sync(handler) => handler(request, error),
            Handler::Async(handler) => handler(*request, error).await,
        }
    }
}

/// The configured error handlers; `None` keeps the protocol's JSON default.
#[derive(Clone, Default)]
pub(crate) struct ErrorHandlers {
    pub(crate) unauthorised: Option<Handler>,
    pub(crate) try_refresh_token: Option<Handler>,
    pub(crate) invalid_claim: Option<Handler>,
    pub(crate) token_theft_detected: Option<Handler>,
}

impl ErrorHandlers {
    pub(crate) fn for_error(&self, error: &SessionError) -> Option<&Handler> {
        match error.handler_slot()? {
            HandlerSlot::Unauthorised => self.unauthorised.as_ref(),
            HandlerSlot::TryRefreshToken => self.try_refresh_token.as_ref(),
            HandlerSlot::InvalidClaim => self.invalid_claim.as_ref(),
            HandlerSlot::TokenTheftDetected => self.token_theft_detected.as_ref(),
        }
    }
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.inner;
        f.debug_struct("SessionConfig")
            .field("api_domain", &c.api_domain)
            .field("api_base_path", &c.api_base_path)
            .field("api_gateway_path", &c.api_gateway_path)
            .field("cookie_domain", &c.cookie_domain)
            .field("cookie_secure", &c.cookie_secure)
            .field("cookie_same_site", &c.cookie_same_site)
            .field("anti_csrf", &c.anti_csrf)
            .field("session_expired_status", &c.session_expired_status)
            .field("invalid_claim_status", &c.invalid_claim_status)
            .field("use_dynamic_signing_key", &c.use_dynamic_signing_key)
            .field("token_transfer_method", &c.token_transfer_method)
            .field(
                "expose_access_token_in_cookie_mode",
                &c.expose_access_token_in_cookie_mode,
            )
            .field("older_cookie_domain", &c.older_cookie_domain)
            .field("global_validators", &c.global_validators.len())
            .field("functions_overridden", &c.functions.is_some())
            .field("apis_overridden", &c.apis.is_some())
            .field("refresh_endpoint_disabled", &c.refresh_endpoint_disabled)
            .field("sign_out_endpoint_disabled", &c.sign_out_endpoint_disabled)
            .finish_non_exhaustive()
    }
}

impl SessionConfig {
    /// Starts a builder with the defaults documented on each method.
    pub fn builder() -> SessionConfigBuilder {
        SessionConfigBuilder::default()
    }

    /// The session core (embedded or remote) behind this config.
    pub fn core(&self) -> &Arc<dyn SessionCore> {
        &self.inner.core
    }

    /// The signing-key cache used to verify access tokens.
    pub fn keys(&self) -> &Arc<JwksCache> {
        &self.inner.keys
    }

    /// The `apiBasePath` (default `/auth`) under which refresh and sign-out are served.
    pub fn api_base_path(&self) -> &str {
        &self.inner.api_base_path
    }

    /// The path an API gateway puts before every route (an AWS API Gateway stage such as
    /// `/dev`; default: none).
    pub fn api_gateway_path(&self) -> &str {
        &self.inner.api_gateway_path
    }

    /// The fetcher registered for the claim under `key`.
    pub fn claim_fetcher(&self, key: &str) -> Option<&ClaimFetcher> {
        self.inner.claim_fetchers.get(key)
    }

    pub(crate) fn inner(&self) -> &ConfigInner {
        &self.inner
    }
}

impl fmt::Debug for ErrorHandlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorHandlers")
            .field("unauthorised", &self.unauthorised.is_some())
            .field("try_refresh_token", &self.try_refresh_token.is_some())
            .field("invalid_claim", &self.invalid_claim.is_some())
            .field("token_theft_detected", &self.token_theft_detected.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests;
