//! [`SessionConfig`]: everything session handling needs (the core, the signing keys, cookie and
//! anti-CSRF settings, statuses, claims and error handlers), and its builder.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;
use std::future::Future;

use crate::claims::{
    ClaimFetchError, ClaimFetchInput, ClaimFetcher, IntoValidator, SessionClaim, ValidatorRef,
};
use crate::core::SessionCore;
#[cfg(feature = "embedded")]
use crate::core::embedded::{EmbeddedCore, EmbeddedCoreOptions};
use crate::error::{ErrorResponse, HandlerSlot, RequestInfo, SessionError};
use crate::keys::JwksCache;

/// How session tokens travel between the browser and the backend (protocol §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTransferMethod {
    /// HttpOnly cookies `sAccessToken` / `sRefreshToken`.
    Cookie,
    /// `Authorization: Bearer` on requests, `st-access-token` / `st-refresh-token` on responses.
    Header,
    /// Accept both (header wins when both are present). The default for verification.
    Any,
}

/// Cross-site request forgery protection for cookie sessions (protocol §5).
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
    /// `api_domain` or `website_domain` is not an http(s) origin.
    #[error("not an http(s) origin: {0}")]
    InvalidOrigin(String),
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
    pub(crate) cookie_domain: Option<String>,
    pub(crate) cookie_secure: bool,
    pub(crate) cookie_same_site: SameSite,
    pub(crate) access_token_path: String,
    pub(crate) refresh_token_path: String,
    pub(crate) anti_csrf: AntiCsrf,
    pub(crate) session_expired_status: u16,
    pub(crate) invalid_claim_status: u16,
    pub(crate) use_dynamic_signing_key: bool,
    pub(crate) token_transfer_method: TokenTransferMethod,
    pub(crate) global_validators: Vec<ValidatorRef>,
    pub(crate) claim_fetchers: HashMap<String, ClaimFetcher>,
    pub(crate) error_handlers: ErrorHandlers,
    /// The verified-token cache; `None` when disabled.
    pub(crate) verified_tokens: Option<Arc<crate::cache::VerifiedTokenCache>>,
}

/// A custom response for one kind of session error (the SDKs' `errorHandlers`).
///
/// It gets the request's method, path and query and the error, and returns the response; the
/// token clearing that the error calls for is added to whatever it returns.
pub type ErrorHandler = Arc<dyn Fn(&RequestInfo<'_>, &SessionError) -> ErrorResponse + Send + Sync>;

/// The configured error handlers; `None` keeps the protocol's JSON default.
#[derive(Clone, Default)]
pub(crate) struct ErrorHandlers {
    pub(crate) unauthorised: Option<ErrorHandler>,
    pub(crate) try_refresh_token: Option<ErrorHandler>,
    pub(crate) invalid_claim: Option<ErrorHandler>,
    pub(crate) token_theft_detected: Option<ErrorHandler>,
}

impl ErrorHandlers {
    pub(crate) fn for_error(&self, error: &SessionError) -> Option<&ErrorHandler> {
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
            .field("cookie_domain", &c.cookie_domain)
            .field("cookie_secure", &c.cookie_secure)
            .field("cookie_same_site", &c.cookie_same_site)
            .field("anti_csrf", &c.anti_csrf)
            .field("session_expired_status", &c.session_expired_status)
            .field("invalid_claim_status", &c.invalid_claim_status)
            .field("use_dynamic_signing_key", &c.use_dynamic_signing_key)
            .field("token_transfer_method", &c.token_transfer_method)
            .field("global_validators", &c.global_validators.len())
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

    /// The fetcher registered for the claim under `key`.
    pub fn claim_fetcher(&self, key: &str) -> Option<&ClaimFetcher> {
        self.inner.claim_fetchers.get(key)
    }

    pub(crate) fn inner(&self) -> &ConfigInner {
        &self.inner
    }
}

/// Builds a [`SessionConfig`]; see each method for its default.
#[derive(Default)]
pub struct SessionConfigBuilder {
    #[cfg(feature = "embedded")]
    data_dir: Option<PathBuf>,
    core: Option<Arc<dyn SessionCore>>,
    #[cfg(feature = "embedded")]
    embedded: EmbeddedCoreOptions,
    api_domain: Option<String>,
    website_domain: Option<String>,
    api_base_path: Option<String>,
    cookie_domain: Option<String>,
    cookie_secure: Option<bool>,
    cookie_same_site: Option<SameSite>,
    access_token_path: Option<String>,
    anti_csrf: Option<AntiCsrf>,
    session_expired_status: Option<u16>,
    invalid_claim_status: Option<u16>,
    use_dynamic_signing_key: Option<bool>,
    token_transfer_method: Option<TokenTransferMethod>,
    jwks_refresh_interval: Option<Duration>,
    // Verified-token cache: capacity (0 = off) and TTL; `None` = default.
    verified_token_cache: Option<usize>,
    verified_token_cache_ttl: Option<Duration>,
    global_validators: Vec<ValidatorRef>,
    claim_fetchers: HashMap<String, ClaimFetcher>,
    error_handlers: ErrorHandlers,
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

impl fmt::Debug for SessionConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfigBuilder")
            .field("api_domain", &self.api_domain)
            .finish_non_exhaustive()
    }
}

impl SessionConfigBuilder {
    #[cfg(feature = "embedded")]
    #[cfg_attr(docsrs, doc(cfg(feature = "embedded")))]
    /// Use the embedded core: sessions and signing keys live in `<dir>/sessions.sqlite3`
    /// (mode 0600; an older `signing-keys.json` is imported once). The directory is created if
    /// missing; several processes on one machine may share it.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Use this core instead of the embedded one.
    pub fn core(mut self, core: Arc<dyn SessionCore>) -> Self {
        self.core = Some(core);
        self
    }

    #[cfg(feature = "core-client")]
    #[cfg_attr(docsrs, doc(cfg(feature = "core-client")))]
    /// Use a SuperTokens Core, or a cluster of cores separated by `;`, over HTTP (CDI 5.4),
    /// with the default [`CoreClient`](crate::core::CoreClient) options. For other options
    /// (timeouts, retries) build the client and pass it to [`core`](Self::core).
    ///
    /// ```no_run
    /// use sessionward::SessionConfig;
    ///
    /// # fn main() -> Result<(), sessionward::ConfigError> {
    /// let config = SessionConfig::builder()
    ///     .supertokens_core("http://core-1:3567;http://core-2:3567", Some("an-api-key-of-20-chars"))?
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ConfigError::CoreClient`] when the connection URI or the api key cannot be used.
    pub fn supertokens_core(
        self,
        connection_uri: &str,
        api_key: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let client = crate::core::CoreClient::new(connection_uri, api_key)
            .map_err(|error| ConfigError::CoreClient(error.to_string()))?;
        Ok(self.core(Arc::new(client)))
    }

    #[cfg(feature = "embedded")]
    #[cfg_attr(docsrs, doc(cfg(feature = "embedded")))]
    /// Access-token lifetime of the embedded core. Default: 3600 s.
    pub fn access_token_validity(mut self, validity: Duration) -> Self {
        self.embedded.access_token_validity = validity;
        self
    }

    #[cfg(feature = "embedded")]
    #[cfg_attr(docsrs, doc(cfg(feature = "embedded")))]
    /// Refresh-token lifetime of the embedded core. Default: 100 days.
    pub fn refresh_token_validity(mut self, validity: Duration) -> Self {
        self.embedded.refresh_token_validity = validity;
        self
    }

    #[cfg(feature = "embedded")]
    #[cfg_attr(docsrs, doc(cfg(feature = "embedded")))]
    /// Refresh grace window of the embedded core: refreshes of one refresh token within this
    /// time all get the same new token (tabs, retries). Zero: every refresh rotates, as the
    /// SuperTokens core does. Default: 30 s.
    pub fn refresh_grace(mut self, grace: Duration) -> Self {
        self.embedded.refresh_grace = grace;
        self
    }

    #[cfg(feature = "embedded")]
    #[cfg_attr(docsrs, doc(cfg(feature = "embedded")))]
    /// How often the embedded core's dynamic signing key rotates. Default: 168 h.
    pub fn signing_key_rotation(mut self, interval: Duration) -> Self {
        self.embedded.signing_key_rotation = interval;
        self
    }

    #[cfg(feature = "embedded")]
    #[cfg_attr(docsrs, doc(cfg(feature = "embedded")))]
    /// How long the embedded core waits for another process's database lock. Default: 5 s.
    pub fn database_busy_timeout(mut self, timeout: Duration) -> Self {
        self.embedded.busy_timeout = timeout;
        self
    }

    #[cfg(feature = "embedded")]
    #[cfg_attr(docsrs, doc(cfg(feature = "embedded")))]
    /// How long a new dynamic signing key of the embedded core is published before it signs
    /// (verifiers see it first), and how long a retired key outlives its last token.
    /// Default: 60 s (the core's overlap).
    pub fn signing_key_overlap(mut self, overlap: Duration) -> Self {
        self.embedded.signing_key_overlap = overlap;
        self
    }

    /// The backend's origin, e.g. `https://api.example.com`. Default: `http://localhost:3001`.
    /// Decides the `Secure` default and goes into `iss`.
    pub fn api_domain(mut self, domain: impl Into<String>) -> Self {
        self.api_domain = Some(domain.into());
        self
    }

    /// The website's origin, e.g. `https://example.com`. Default: `http://localhost:3000`.
    /// Decides the `SameSite` default.
    pub fn website_domain(mut self, domain: impl Into<String>) -> Self {
        self.website_domain = Some(domain.into());
        self
    }

    /// Where refresh and sign-out live. Default: `/auth`.
    pub fn api_base_path(mut self, path: impl Into<String>) -> Self {
        self.api_base_path = Some(path.into());
        self
    }

    /// The `Domain` of session cookies. Default: none (host-only cookies).
    pub fn cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.cookie_domain = Some(domain.into());
        self
    }

    /// Whether session cookies are `Secure`. Default: the API domain uses `https`.
    pub fn cookie_secure(mut self, secure: bool) -> Self {
        self.cookie_secure = Some(secure);
        self
    }

    /// `SameSite` of session cookies. Default: `None` when the API and the website are on
    /// different sites or schemes, else `Lax`.
    pub fn cookie_same_site(mut self, same_site: SameSite) -> Self {
        self.cookie_same_site = Some(same_site);
        self
    }

    /// The `Path` of the `sAccessToken` cookie. Default: `/`.
    pub fn access_token_path(mut self, path: impl Into<String>) -> Self {
        self.access_token_path = Some(path.into());
        self
    }

    /// Anti-CSRF mode. Default: `ViaCustomHeader` when cookies are `SameSite=None`, else `None`.
    pub fn anti_csrf(mut self, mode: AntiCsrf) -> Self {
        self.anti_csrf = Some(mode);
        self
    }

    /// Status for a missing or expired session: a number or any framework's `StatusCode`.
    /// Default: 401. The older SuperTokens contract used 440.
    pub fn session_expired_status(mut self, status: impl Into<u16>) -> Self {
        self.session_expired_status = Some(status.into());
        self
    }

    /// Status for a failed claim validator: a number or any framework's `StatusCode`.
    /// Default: 403. Must differ from the expired status.
    pub fn invalid_claim_status(mut self, status: impl Into<u16>) -> Self {
        self.invalid_claim_status = Some(status.into());
        self
    }

    /// Sign with rotating (`d-`) keys rather than the static (`s-`) key. Default: true. Tokens
    /// signed with the other kind get "try refresh token", so switching logs nobody out.
    pub fn use_dynamic_signing_key(mut self, dynamic: bool) -> Self {
        self.use_dynamic_signing_key = Some(dynamic);
        self
    }

    /// Which transfer methods verification accepts. Default: [`TokenTransferMethod::Any`].
    pub fn token_transfer_method(mut self, method: TokenTransferMethod) -> Self {
        self.token_transfer_method = Some(method);
        self
    }

    /// How long fetched signing keys are trusted before a refetch. Default: 4 hours.
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_refresh_interval = Some(interval);
        self
    }

    /// Caches up to `capacity` verified access tokens in memory, so a token seen again skips
    /// the RSA signature check (about 20× cheaper; see BENCHMARKS.md). Default: on, 10 000.
    /// Capacity counts tokens of up to 1 KiB; a larger token takes one unit per started KiB,
    /// so memory stays bounded (about 3 KiB per typical token: 10 000 cost about 30 MiB).
    /// `0` turns the cache off.
    ///
    /// Nothing else changes: expiry, key type, anti-CSRF and claims are checked on every
    /// request, `check_database` routes never use the cache, tokens fresh from a refresh are
    /// not cached, a token is trusted at most [`verified_token_cache_ttl`](Self::verified_token_cache_ttl)
    /// and only while its signing key is current, and revocations through this config's
    /// core evict the session's tokens.
    pub fn verified_token_cache(mut self, capacity: usize) -> Self {
        self.verified_token_cache = Some(capacity);
        self
    }

    /// Turns the verified-token cache off: every request checks the signature.
    pub fn disable_verified_token_cache(self) -> Self {
        self.verified_token_cache(0)
    }

    /// Longest time a cached token is trusted without a new signature check (never beyond its
    /// expiry). Default: 60 s. Zero turns the cache off.
    pub fn verified_token_cache_ttl(mut self, ttl: Duration) -> Self {
        self.verified_token_cache_ttl = Some(ttl);
        self
    }

    /// Adds a claim validator that every verified route checks (before its own `claims`).
    pub fn global_claim(mut self, validator: impl IntoValidator) -> Self {
        self.global_validators.push(validator.into_validator());
        self
    }

    /// Registers how a claim's value is fetched: when a validator finds it missing or stale,
    /// for [`SessionContainer::fetch_and_set_claim`](crate::SessionContainer::fetch_and_set_claim),
    /// and when a session is created (the value goes into the new access token, as the
    /// SuperTokens recipes add theirs).
    ///
    /// ```no_run
    /// use sessionward::SessionConfig;
    /// use sessionward::claims::{ClaimFetchError, EmailVerified};
    ///
    /// let config = SessionConfig::builder()
    ///     .data_dir("./session-data")
    ///     .fetch_claim(&EmailVerified, |input| async move {
    ///         // ask your user store whether input.user_id verified their email
    ///         Ok::<_, ClaimFetchError>(Some(input.user_id.starts_with("verified-")))
    ///     })
    ///     .build();
    /// ```
    pub fn fetch_claim<C, F, Fut>(mut self, claim: &C, fetch: F) -> Self
    where
        C: SessionClaim,
        F: Fn(ClaimFetchInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<C::Value>, ClaimFetchError>> + Send + 'static,
        C::Value: 'static,
    {
        self.claim_fetchers
            .insert(claim.key().to_owned(), ClaimFetcher::new(fetch));
        self
    }

    /// Answers "unauthorised" (no session, revoked session) with `handler`, e.g. a redirect
    /// to the login page for HTML routes.
    ///
    /// ```no_run
    /// use sessionward::{ErrorResponse, SessionConfig};
    ///
    /// let config = SessionConfig::builder()
    ///     .data_dir("./session-data")
    ///     .on_unauthorised(|request, _error| {
    ///         let back = request.path_and_query();
    ///         ErrorResponse::redirect(format!("/login?next={}", urlencode(&back)))
    ///     })
    ///     .build();
    /// # fn urlencode(s: &str) -> String { s.replace('/', "%2F") }
    /// ```
    pub fn on_unauthorised(
        mut self,
        handler: impl Fn(&RequestInfo<'_>, &SessionError) -> ErrorResponse + Send + Sync + 'static,
    ) -> Self {
        self.error_handlers.unauthorised = Some(Arc::new(handler));
        self
    }

    /// Answers "try refresh token" (expired or invalid token) with `handler`.
    pub fn on_try_refresh_token(
        mut self,
        handler: impl Fn(&RequestInfo<'_>, &SessionError) -> ErrorResponse + Send + Sync + 'static,
    ) -> Self {
        self.error_handlers.try_refresh_token = Some(Arc::new(handler));
        self
    }

    /// Answers a failed claim validation with `handler`.
    pub fn on_invalid_claim(
        mut self,
        handler: impl Fn(&RequestInfo<'_>, &SessionError) -> ErrorResponse + Send + Sync + 'static,
    ) -> Self {
        self.error_handlers.invalid_claim = Some(Arc::new(handler));
        self
    }

    /// Answers detected refresh-token theft with `handler` (the session is already revoked).
    pub fn on_token_theft_detected(
        mut self,
        handler: impl Fn(&RequestInfo<'_>, &SessionError) -> ErrorResponse + Send + Sync + 'static,
    ) -> Self {
        self.error_handlers.token_theft_detected = Some(Arc::new(handler));
        self
    }

    /// Opens the core and builds the config.
    ///
    /// # Errors
    /// [`ConfigError::NoCore`] without a data directory or core, [`ConfigError::Embedded`] when
    /// the data directory cannot be used, and the other variants for options that cannot work.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        let api_domain = normalise_origin(
            self.api_domain
                .as_deref()
                .unwrap_or("http://localhost:3001"),
        )?;
        let website_domain = normalise_origin(
            self.website_domain
                .as_deref()
                .unwrap_or("http://localhost:3000"),
        )?;
        let api_base_path = normalise_path(self.api_base_path.as_deref().unwrap_or("/auth"));
        let session_expired_status = http_status(self.session_expired_status.unwrap_or(401))?;
        let invalid_claim_status = http_status(self.invalid_claim_status.unwrap_or(403))?;
        if session_expired_status == invalid_claim_status {
            return Err(ConfigError::SameStatuses);
        }
        let cookie_secure = self
            .cookie_secure
            .unwrap_or_else(|| api_domain.starts_with("https://"));
        let cookie_same_site = self
            .cookie_same_site
            .unwrap_or_else(|| default_same_site(&api_domain, &website_domain));
        if cookie_same_site == SameSite::None
            && !cookie_secure
            && !(is_local(&api_domain) && is_local(&website_domain))
        {
            return Err(ConfigError::InsecureSameSiteNone);
        }
        let anti_csrf = self
            .anti_csrf
            .unwrap_or(if cookie_same_site == SameSite::None {
                AntiCsrf::ViaCustomHeader
            } else {
                AntiCsrf::None
            });
        let core: Arc<dyn SessionCore> = match self.core {
            Some(core) => core,
            #[cfg(feature = "embedded")]
            None => match self.data_dir {
                Some(dir) => Arc::new(
                    EmbeddedCore::open(&dir, self.embedded)
                        .map_err(|source| ConfigError::Embedded { path: dir, source })?,
                ),
                None => return Err(ConfigError::NoCore),
            },
            #[cfg(not(feature = "embedded"))]
            None => return Err(ConfigError::NoCore),
        };
        // Revocations through the core evict the sessions' cached tokens.
        let verified_tokens = crate::cache::VerifiedTokenCache::new(
            self.verified_token_cache
                .unwrap_or(crate::cache::DEFAULT_CAPACITY),
            self.verified_token_cache_ttl
                .unwrap_or(crate::cache::DEFAULT_TTL),
        )
        .map(Arc::new);
        let core = crate::cache::evicting_core(core, verified_tokens.as_ref());
        let keys = JwksCache::new(core.key_source()).with_max_age(
            self.jwks_refresh_interval
                .unwrap_or(crate::keys::DEFAULT_MAX_AGE),
        );
        Ok(SessionConfig {
            inner: Arc::new(ConfigInner {
                core,
                keys: Arc::new(keys),
                refresh_token_path: format!("{api_base_path}/session/refresh"),
                api_domain,
                api_base_path,
                cookie_domain: self.cookie_domain.map(|d| normalise_cookie_domain(&d)),
                cookie_secure,
                cookie_same_site,
                access_token_path: self.access_token_path.unwrap_or_else(|| "/".to_owned()),
                anti_csrf,
                session_expired_status,
                invalid_claim_status,
                use_dynamic_signing_key: self.use_dynamic_signing_key.unwrap_or(true),
                token_transfer_method: self
                    .token_transfer_method
                    .unwrap_or(TokenTransferMethod::Any),
                global_validators: self.global_validators,
                claim_fetchers: self.claim_fetchers,
                error_handlers: self.error_handlers,
                verified_tokens,
            }),
        })
    }
}

fn normalise_origin(origin: &str) -> Result<String, ConfigError> {
    let origin = origin.trim().trim_end_matches('/');
    let origin = if origin.contains("://") {
        origin.to_owned()
    } else {
        format!("http://{origin}")
    };
    let lower = origin.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://"))
        || host_of(&lower).is_empty()
    {
        return Err(ConfigError::InvalidOrigin(origin));
    }
    Ok(lower)
}

fn http_status(status: u16) -> Result<u16, ConfigError> {
    if (100..=999).contains(&status) {
        Ok(status)
    } else {
        Err(ConfigError::InvalidStatus(status))
    }
}

fn normalise_path(path: &str) -> String {
    let trimmed = path.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

fn normalise_cookie_domain(domain: &str) -> String {
    let d = domain.trim().to_ascii_lowercase();
    let d = d.split("://").last().unwrap_or(&d);
    let host = d.split(['/', ':']).next().unwrap_or(d);
    let bare = host.trim_start_matches('.');
    if bare == "localhost" || bare.parse::<std::net::IpAddr>().is_ok() {
        bare.to_owned()
    } else {
        host.to_owned()
    }
}

fn host_of(origin: &str) -> &str {
    let rest = origin.split("://").nth(1).unwrap_or("");
    let authority = rest.split('/').next().unwrap_or("");
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

fn is_local(origin: &str) -> bool {
    let host = host_of(origin);
    host == "localhost" || host.ends_with(".localhost") || host.parse::<std::net::IpAddr>().is_ok()
}

/// The site of an origin: localhost and IPs all count as `localhost`; otherwise the last two
/// labels. (The SDKs use the public-suffix list; for multi-label suffixes such as `co.uk`, set
/// `cookie_same_site` explicitly.)
fn site_of(origin: &str) -> String {
    if is_local(origin) {
        return "localhost".to_owned();
    }
    let labels: Vec<&str> = host_of(origin).split('.').collect();
    labels[labels.len().saturating_sub(2)..].join(".")
}

fn default_same_site(api: &str, website: &str) -> SameSite {
    let scheme = |o: &str| o.split("://").next().unwrap_or("").to_owned();
    if site_of(api) != site_of(website) || scheme(api) != scheme(website) {
        SameSite::None
    } else {
        SameSite::Lax
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_site_defaults() {
        assert_eq!(
            default_same_site("http://localhost:3001", "http://localhost:3000"),
            SameSite::Lax
        );
        assert_eq!(
            default_same_site("https://api.example.com", "https://example.com"),
            SameSite::Lax
        );
        assert_eq!(
            default_same_site("https://api.example.com", "https://example.org"),
            SameSite::None
        );
        assert_eq!(
            default_same_site("http://127.0.0.1:3001", "https://localhost"),
            SameSite::None
        );
    }

    #[test]
    fn cookie_domain_normalisation() {
        assert_eq!(normalise_cookie_domain(" .Example.com "), ".example.com");
        assert_eq!(
            normalise_cookie_domain("https://example.com:443/x"),
            "example.com"
        );
        assert_eq!(normalise_cookie_domain(".localhost"), "localhost");
    }

    #[test]
    fn paths_and_origins() {
        assert_eq!(normalise_path("auth/"), "/auth");
        assert_eq!(
            normalise_origin("localhost:3001").unwrap(),
            "http://localhost:3001"
        );
        assert!(matches!(
            normalise_origin("ftp://x"),
            Err(ConfigError::InvalidOrigin(_))
        ));
    }

    #[test]
    fn no_core_is_a_clear_error() {
        let err = SessionConfig::builder().build().unwrap_err();
        assert!(err.to_string().contains("data_dir"));
    }

    #[test]
    fn equal_statuses_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let err = SessionConfig::builder()
            .data_dir(dir.path())
            .session_expired_status(403u16)
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::SameStatuses));
        let err = SessionConfig::builder()
            .data_dir(dir.path())
            .invalid_claim_status(42u16)
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidStatus(42)));
    }
}
