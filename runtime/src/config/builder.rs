//! [`SessionConfigBuilder`]: every option with its documented default, and `build`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
#[cfg(feature = "embedded")]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::claims::{
    ClaimFetchError, ClaimFetchInput, ClaimFetcher, IntoValidator, SessionClaim, ValidatorRef,
};
#[cfg(any(feature = "embedded", feature = "postgres"))]
use crate::core::embedded::{EmbeddedCore, EmbeddedCoreOptions};
use crate::core::{BoxFuture, SessionCore};
use crate::error::{ErrorResponse, RequestInfo, SessionError};
use crate::keys::JwksCache;

use super::domains::{
    default_same_site, http_status, is_local, normalise_cookie_domain, normalise_origin,
    normalise_path,
};
use super::{
    AntiCsrf, ConfigError, ConfigInner, ErrorHandlers, Handler, SameSite, SessionConfig,
    StoredHook, TokenTransferMethod, TransferMethodRequest, TransferPolicy,
};

/// Builds a [`SessionConfig`]; see each method for its default.
#[derive(Default)]
pub struct SessionConfigBuilder {
    #[cfg(feature = "embedded")]
    data_dir: Option<PathBuf>,
    // Holds a password: never printed (the builder's `Debug` leaves it out).
    #[cfg(feature = "postgres")]
    postgres_url: Option<String>,
    #[cfg(feature = "postgres")]
    postgres_root_certificates: Vec<Vec<u8>>,
    #[cfg(feature = "postgres")]
    postgres_pool_size: Option<usize>,
    core: Option<Arc<dyn SessionCore>>,
    #[cfg(any(feature = "embedded", feature = "postgres"))]
    embedded: EmbeddedCoreOptions,
    api_domain: Option<String>,
    website_domain: Option<String>,
    api_base_path: Option<String>,
    api_gateway_path: Option<String>,
    cookie_domain: Option<String>,
    cookie_secure: Option<bool>,
    cookie_same_site: Option<SameSite>,
    access_token_path: Option<String>,
    anti_csrf: Option<AntiCsrf>,
    session_expired_status: Option<u16>,
    invalid_claim_status: Option<u16>,
    use_dynamic_signing_key: Option<bool>,
    token_transfer_method: Option<TransferPolicy>,
    expose_access_token_in_cookie_mode: bool,
    older_cookie_domain: Option<String>,
    jwks_refresh_interval: Option<Duration>,
    // Verified-token cache: capacity (0 = off) and TTL; `None` = default.
    verified_token_cache: Option<usize>,
    verified_token_cache_ttl: Option<Duration>,
    global_validators: Vec<ValidatorRef>,
    claim_fetchers: HashMap<String, ClaimFetcher>,
    error_handlers: ErrorHandlers,
    pub(crate) functions: Option<StoredHook>,
    pub(crate) apis: Option<StoredHook>,
    refresh_endpoint_disabled: bool,
    sign_out_endpoint_disabled: bool,
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
    ///
    /// Replaces an earlier [`postgres`](Self::postgres).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        #[cfg(feature = "postgres")]
        {
            self.postgres_url = None;
        }
        self
    }

    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    /// Use the embedded core with its sessions, refresh tokens, signing keys and secret in
    /// PostgreSQL (tables prefixed `sessionward_`, created and migrated by `build`): every
    /// instance of the app given the same database shares sessions and keys, so a session
    /// created on one instance verifies, refreshes and signs out on any other.
    ///
    /// `url` is a `postgres://user:password@host:port/dbname` URL or a `key=value` connection
    /// string; the password never appears in logs, `Debug` output or errors. Replaces an
    /// earlier [`data_dir`](Self::data_dir).
    ///
    /// # TLS
    ///
    /// The URL's `sslmode` says when connections use TLS (rustls):
    ///
    /// * `disable`: never.
    /// * `prefer` (the default when `sslmode` is absent): when the server offers it.
    /// * `require` (and libpq's `verify-ca` and `verify-full`, which mean the same here): always;
    ///   a server without TLS is refused.
    ///
    /// Whenever TLS is used, the server's certificate **and host name are verified**: the
    /// certificate must chain to a trusted CA and name the host of the URL (its DNS name or IP
    /// address). This is stricter than libpq, whose `prefer` and `require` accept any
    /// certificate; an unverified mode is not offered. So a server that offers TLS with a
    /// certificate of its own CA (many managed databases, or a self-signed one) needs that CA
    /// given, or `sslmode=disable` to connect without TLS on a private network.
    ///
    /// Trusted CAs: those in the PEM file named by the libpq-style URL parameter
    /// `sslrootcert=<path>` (or `sslrootcert='…'` in a `key=value` string) and those given to
    /// [`postgres_root_certificate`](Self::postgres_root_certificate), and only those; when
    /// neither gives one, the platform's CA certificates (`SSL_CERT_FILE` and `SSL_CERT_DIR` are
    /// honoured). `sslrootcert=system` names the platform's explicitly. Client certificates
    /// (`sslcert`, `sslkey`) are not supported. For example:
    ///
    /// ```text
    /// postgres://app:…@db.example.com:5432/app?sslmode=require&sslrootcert=/etc/ssl/db-ca.pem
    /// ```
    ///
    /// # Startup and outages
    ///
    /// [`build`](Self::build) connects and migrates before it returns, blocking the calling
    /// thread (up to 30 s), so a wrong URL or an unreachable database fails at startup with
    /// [`ConfigError::Postgres`]. Afterwards an unreachable database answers 503 (with
    /// `Retry-After`) and never signs anyone out; the connection pool reconnects on its own.
    /// [`database_busy_timeout`](Self::database_busy_timeout) is how long a call waits for a
    /// connection.
    ///
    /// ```no_run
    /// use sessionward::SessionConfig;
    ///
    /// # fn main() -> Result<(), sessionward::ConfigError> {
    /// let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    /// let config = SessionConfig::builder()
    ///     .api_domain("https://api.example.com")
    ///     .website_domain("https://example.com")
    ///     .postgres(url)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn postgres(mut self, url: impl Into<String>) -> Self {
        self.postgres_url = Some(url.into());
        #[cfg(feature = "embedded")]
        {
            self.data_dir = None;
        }
        self
    }

    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    /// Trust the CA certificate(s) of this PEM document for TLS to the
    /// [`postgres`](Self::postgres) database, as the URL's `sslrootcert=<path>` does; each call
    /// adds more. Once any CA is given this way or by `sslrootcert`, only the given CAs are
    /// trusted, not the platform's. A document without a certificate fails
    /// [`build`](Self::build) with [`ConfigError::Postgres`].
    ///
    /// ```no_run
    /// use sessionward::SessionConfig;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let ca = std::env::var("DATABASE_CA_PEM")?; // e.g. from a secret store
    /// let config = SessionConfig::builder()
    ///     .api_domain("https://api.example.com")
    ///     .website_domain("https://example.com")
    ///     .postgres("postgres://app@db.internal:5432/app?sslmode=require")
    ///     .postgres_root_certificate(ca)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn postgres_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.postgres_root_certificates.push(pem.into());
        self
    }

    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    /// The most connections this instance keeps open to the [`postgres`](Self::postgres)
    /// database. Default: 16, enough to keep two cores busy signing tokens. More helps an
    /// instance with more cores; the sum over all instances (and everything else using the
    /// database) must stay below the server's `max_connections` (100 by default). A size of 0
    /// fails [`build`](Self::build) with [`ConfigError::Postgres`].
    ///
    /// ```no_run
    /// use sessionward::SessionConfig;
    ///
    /// # fn main() -> Result<(), sessionward::ConfigError> {
    /// let config = SessionConfig::builder()
    ///     .api_domain("https://api.example.com")
    ///     .website_domain("https://example.com")
    ///     .postgres("postgres://app@db.internal:5432/app?sslmode=disable")
    ///     .postgres_pool_size(32)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn postgres_pool_size(mut self, connections: usize) -> Self {
        self.postgres_pool_size = Some(connections);
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

    #[cfg(any(feature = "embedded", feature = "postgres"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "embedded", feature = "postgres"))))]
    /// Access-token lifetime of the embedded core. Default: 3600 s.
    pub fn access_token_validity(mut self, validity: Duration) -> Self {
        self.embedded.access_token_validity = validity;
        self
    }

    #[cfg(any(feature = "embedded", feature = "postgres"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "embedded", feature = "postgres"))))]
    /// Refresh-token lifetime of the embedded core. Default: 100 days.
    pub fn refresh_token_validity(mut self, validity: Duration) -> Self {
        self.embedded.refresh_token_validity = validity;
        self
    }

    #[cfg(any(feature = "embedded", feature = "postgres"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "embedded", feature = "postgres"))))]
    /// Refresh grace window of the embedded core: refreshes of one refresh token within this
    /// time all get the same new token (tabs, retries). Zero: every refresh rotates, as the
    /// SuperTokens core does. Default: 30 s.
    pub fn refresh_grace(mut self, grace: Duration) -> Self {
        self.embedded.refresh_grace = grace;
        self
    }

    #[cfg(any(feature = "embedded", feature = "postgres"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "embedded", feature = "postgres"))))]
    /// How often the embedded core's dynamic signing key rotates. Default: 168 h.
    pub fn signing_key_rotation(mut self, interval: Duration) -> Self {
        self.embedded.signing_key_rotation = interval;
        self
    }

    #[cfg(any(feature = "embedded", feature = "postgres"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "embedded", feature = "postgres"))))]
    /// How long the embedded core waits for another process's database lock (with
    /// [`postgres`](Self::postgres): for a database connection). Default: 5 s.
    pub fn database_busy_timeout(mut self, timeout: Duration) -> Self {
        self.embedded.busy_timeout = timeout;
        self
    }

    #[cfg(any(feature = "embedded", feature = "postgres"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "embedded", feature = "postgres"))))]
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

    /// The path an API gateway puts before every route the function sees, such as an AWS API
    /// Gateway stage (`/dev`; the SDKs' `apiGatewayPath`). The refresh cookie's `Path` and the
    /// endpoints served by the tower layer include it. Default: none.
    pub fn api_gateway_path(mut self, path: impl Into<String>) -> Self {
        self.api_gateway_path = Some(path.into());
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

    /// The transfer method for every request (the SDKs' `getTokenTransferMethod` returning
    /// one value): which methods verification, refresh and sign-out read, and how a new
    /// session's tokens leave. Default: [`TokenTransferMethod::Any`], which reads both (the
    /// header wins) and sends a new session's tokens as cookies only when the frontend asks
    /// with `st-auth-mode: cookie`, else as headers. For a choice per request, see
    /// [`token_transfer_method_fn`](Self::token_transfer_method_fn).
    pub fn token_transfer_method(mut self, method: TokenTransferMethod) -> Self {
        self.token_transfer_method = Some(TransferPolicy::Fixed(method));
        self
    }

    /// Chooses the transfer method per request (the SDKs' `getTokenTransferMethod`), e.g.
    /// cookies for browsers and headers for a mobile app that says so in a header of its own.
    /// The function sees the request's method, path and headers, and whether a session is
    /// being created ([`TransferMethodRequest::for_create_new_session`]):
    ///
    /// - reading tokens (verification, refresh, sign-out): the answer limits which methods
    ///   are read, `Any` reading both;
    /// - creating a session: the answer is how its tokens leave; `Any` follows the frontend's
    ///   `st-auth-mode` header (cookies for `cookie`, headers otherwise).
    ///
    /// It runs once or twice per request, so it should be quick and never block. It replaces
    /// [`token_transfer_method`](Self::token_transfer_method) (the last call wins). Default:
    /// none (`Any` for every request).
    ///
    /// ```no_run
    /// use sessionward::{SessionConfig, TokenTransferMethod};
    ///
    /// let config = SessionConfig::builder()
    ///     .data_dir("./session-data")
    ///     .token_transfer_method_fn(|request| {
    ///         if request.header("x-client") == Some("mobile-app") {
    ///             TokenTransferMethod::Header
    ///         } else {
    ///             TokenTransferMethod::Any
    ///         }
    ///     })
    ///     .build();
    /// ```
    pub fn token_transfer_method_fn(
        mut self,
        choose: impl Fn(&TransferMethodRequest<'_>) -> TokenTransferMethod + Send + Sync + 'static,
    ) -> Self {
        self.token_transfer_method = Some(TransferPolicy::PerRequest(Arc::new(choose)));
        self
    }

    /// Also sends the access token in the `st-access-token` response header whenever it is set
    /// as a cookie (the SDKs' `exposeAccessTokenToFrontendInCookieBasedAuth`), so frontend
    /// code can read it, e.g. to call another service with it as a `Bearer` token. The cookie
    /// stays `HttpOnly` and is still what the browser sends; a request that presents the token
    /// as `Authorization: Bearer` instead is verified as a header session (no anti-CSRF check)
    /// where headers are read ([`TokenTransferMethod::Any`] or `Header`). The refresh token is
    /// never exposed. Default: false (an `HttpOnly` cookie keeps the token from any script).
    pub fn expose_access_token_to_frontend_in_cookie_based_auth(mut self, expose: bool) -> Self {
        self.expose_access_token_in_cookie_mode = expose;
        self
    }

    /// The cookie domain of an earlier configuration (the SDKs' `olderCookieDomain`): after a
    /// change of [`cookie_domain`](Self::cookie_domain), browsers hold session cookies of both
    /// domains and send both, and the server cannot tell which is current. With this set, a
    /// refresh request that carries two `sAccessToken` or two `sRefreshToken` cookies (where
    /// cookies are read) gets those cookies of the older domain expired and a 200
    /// `{"message": ...}` without new tokens; the frontend refreshes again with the cookies
    /// that remain. An empty string names host-only cookies (set without a `Domain`).
    ///
    /// Without it, such a refresh request is answered 401 `unauthorised` with the session's
    /// cookies cleared (and a warning in the log naming this option), since refreshing with
    /// either cookie could loop forever. Default: none.
    pub fn older_cookie_domain(mut self, domain: impl Into<String>) -> Self {
        self.older_cookie_domain = Some(domain.into());
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
        self.error_handlers.unauthorised = Some(Handler::Sync(Arc::new(handler)));
        self
    }

    /// [`on_unauthorised`](Self::on_unauthorised) with a handler that awaits before it answers
    /// (the SDKs' async `errorHandlers`): it returns a boxed future.
    ///
    /// ```no_run
    /// use sessionward::{ErrorResponse, SessionConfig};
    ///
    /// # async fn login_page_for(path: &str) -> String { format!("/login?next={path}") }
    /// let config = SessionConfig::builder()
    ///     .data_dir("./session-data")
    ///     .on_unauthorised_async(|request, _error| {
    ///         Box::pin(async move {
    ///             // e.g. look up the tenant's own login page
    ///             ErrorResponse::redirect(login_page_for(request.path()).await)
    ///         })
    ///     })
    ///     .build();
    /// ```
    pub fn on_unauthorised_async(
        mut self,
        handler: impl for<'a> Fn(RequestInfo<'a>, &'a SessionError) -> BoxFuture<'a, ErrorResponse>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.error_handlers.unauthorised = Some(Handler::Async(Arc::new(handler)));
        self
    }

    /// Answers "try refresh token" (expired or invalid token) with `handler`.
    pub fn on_try_refresh_token(
        mut self,
        handler: impl Fn(&RequestInfo<'_>, &SessionError) -> ErrorResponse + Send + Sync + 'static,
    ) -> Self {
        self.error_handlers.try_refresh_token = Some(Handler::Sync(Arc::new(handler)));
        self
    }

    /// [`on_try_refresh_token`](Self::on_try_refresh_token) with a handler that awaits before it answers.
    pub fn on_try_refresh_token_async(
        mut self,
        handler: impl for<'a> Fn(RequestInfo<'a>, &'a SessionError) -> BoxFuture<'a, ErrorResponse>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.error_handlers.try_refresh_token = Some(Handler::Async(Arc::new(handler)));
        self
    }

    /// Answers a failed claim validation with `handler`.
    pub fn on_invalid_claim(
        mut self,
        handler: impl Fn(&RequestInfo<'_>, &SessionError) -> ErrorResponse + Send + Sync + 'static,
    ) -> Self {
        self.error_handlers.invalid_claim = Some(Handler::Sync(Arc::new(handler)));
        self
    }

    /// [`on_invalid_claim`](Self::on_invalid_claim) with a handler that awaits before it answers.
    pub fn on_invalid_claim_async(
        mut self,
        handler: impl for<'a> Fn(RequestInfo<'a>, &'a SessionError) -> BoxFuture<'a, ErrorResponse>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.error_handlers.invalid_claim = Some(Handler::Async(Arc::new(handler)));
        self
    }

    /// Answers detected refresh-token theft with `handler` (the session is already revoked).
    pub fn on_token_theft_detected(
        mut self,
        handler: impl Fn(&RequestInfo<'_>, &SessionError) -> ErrorResponse + Send + Sync + 'static,
    ) -> Self {
        self.error_handlers.token_theft_detected = Some(Handler::Sync(Arc::new(handler)));
        self
    }

    /// [`on_token_theft_detected`](Self::on_token_theft_detected) with a handler that awaits before it answers.
    pub fn on_token_theft_detected_async(
        mut self,
        handler: impl for<'a> Fn(RequestInfo<'a>, &'a SessionError) -> BoxFuture<'a, ErrorResponse>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.error_handlers.token_theft_detected = Some(Handler::Async(Arc::new(handler)));
        self
    }

    /// Stops serving `POST {apiBasePath}/session/refresh` (the SDKs' `refreshPOST: undefined`):
    /// the request reaches the app, which may serve its own. Default: served.
    pub fn disable_refresh_endpoint(mut self) -> Self {
        self.refresh_endpoint_disabled = true;
        self
    }

    /// Stops serving `POST {apiBasePath}/signout` (the SDKs' `signOutPOST: undefined`): the
    /// request reaches the app. Default: served.
    pub fn disable_sign_out_endpoint(mut self) -> Self {
        self.sign_out_endpoint_disabled = true;
        self
    }

    /// Opens the core and builds the config. With the `metrics` feature, also describes
    /// sessionward's metrics to the `metrics` recorder installed by then
    /// ([`describe_metrics`](crate::describe_metrics) does it later).
    ///
    /// # Errors
    /// [`ConfigError::NoCore`] without a data directory or core, [`ConfigError::Embedded`] when
    /// the data directory cannot be used, and the other variants for options that cannot work.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        crate::metric::describe();
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
        let cookie_domain = self
            .cookie_domain
            .as_deref()
            .map(normalise_cookie_domain)
            .transpose()?;
        let older_cookie_domain = match self.older_cookie_domain.as_deref().map(str::trim) {
            Some("") => Some(String::new()),
            Some(domain) => Some(normalise_cookie_domain(domain)?),
            None => None,
        };
        let api_base_path = normalise_path(self.api_base_path.as_deref().unwrap_or("/auth"));
        let api_gateway_path = normalise_path(self.api_gateway_path.as_deref().unwrap_or(""));
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
            #[cfg(feature = "postgres")]
            None if self.postgres_url.is_some() => {
                let url = self.postgres_url.unwrap_or_default();
                let roots = self.postgres_root_certificates;
                let pool_size = self.postgres_pool_size;
                Arc::new(
                    EmbeddedCore::open_postgres(&url, roots, pool_size, self.embedded).map_err(
                        |source| ConfigError::Postgres {
                            target: crate::core::embedded::postgres_target(&url),
                            source,
                        },
                    )?,
                )
            }
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
                refresh_token_path: format!("{api_gateway_path}{api_base_path}/session/refresh"),
                api_gateway_path,
                api_domain,
                api_base_path,
                cookie_domain,
                cookie_secure,
                cookie_same_site,
                access_token_path: self.access_token_path.unwrap_or_else(|| "/".to_owned()),
                anti_csrf,
                session_expired_status,
                invalid_claim_status,
                use_dynamic_signing_key: self.use_dynamic_signing_key.unwrap_or(true),
                token_transfer_method: self
                    .token_transfer_method
                    .unwrap_or(TransferPolicy::Fixed(TokenTransferMethod::Any)),
                expose_access_token_in_cookie_mode: self.expose_access_token_in_cookie_mode,
                older_cookie_domain,
                global_validators: self.global_validators,
                claim_fetchers: self.claim_fetchers,
                error_handlers: self.error_handlers,
                functions: self.functions,
                apis: self.apis,
                refresh_endpoint_disabled: self.refresh_endpoint_disabled,
                sign_out_endpoint_disabled: self.sign_out_endpoint_disabled,
                verified_tokens,
                served_jwks: std::sync::Mutex::new(None),
            }),
        })
    }
}
