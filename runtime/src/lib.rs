//! SuperTokens-compatible sessions for actix-web.
//!
//! `sessionward` verifies SuperTokens access tokens in actix-web handlers, speaks the
//! SuperTokens wire protocol (so the official frontend SDKs work unchanged), and issues sessions
//! from an embedded core (keys under a data directory, no service to run) or from a SuperTokens
//! Core.
//!
//! # Quick start
//!
//! ```no_run
//! use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder, get, post};
//! use sessionward::prelude::*;
//!
//! #[post("/login")]
//! async fn login(req: HttpRequest) -> Result<WithSession<HttpResponse>, SessionError> {
//!     let session = create_new_session(&req, "user-1", serde_json::json!({})).await?;
//!     Ok(WithSession::new(HttpResponse::Ok().body(session.user_id().to_owned())))
//! }
//!
//! #[get("/me")]
//! #[verify_session]
//! async fn me(session: SessionContainer) -> impl Responder {
//!     HttpResponse::Ok().body(session.user_id().to_owned())
//! }
//!
//! #[get("/admin")]
//! #[verify_session(claims = [Roles::includes("admin")])]
//! async fn admin(session: SessionContainer) -> impl Responder {
//!     HttpResponse::Ok().body(format!("hello admin {}", session.user_id()))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let config = SessionConfig::builder()
//!         .data_dir("./session-data")
//!         .build()
//!         .map_err(std::io::Error::other)?;
//!     HttpServer::new(move || {
//!         App::new()
//!             .app_data(config.clone())
//!             // POST /auth/session/refresh and POST /auth/signout, for the frontend SDK
//!             .service(config.endpoints())
//!             .service(login)
//!             .service(me)
//!             .service(admin)
//!     })
//!     .bind(("127.0.0.1", 3001))?
//!     .run()
//!     .await
//! }
//! ```
//!
//! # Protecting routes
//!
//! [`#[verify_session]`](verify_session) verifies the session before any other extractor of
//! the handler runs. Each option, with its default:
//!
//! ```no_run
//! use actix_web::{HttpResponse, Responder, get, post, web};
//! use sessionward::claims::ValidatorRef;
//! use sessionward::prelude::*;
//!
//! // No options: a session is required (401 without one).
//! #[get("/me")]
//! #[verify_session]
//! async fn me(session: SessionContainer) -> impl Responder {
//!     HttpResponse::Ok().body(session.user_id().to_owned())
//! }
//!
//! // `required = false` (default `true`): no access token ⇒ `None`; an expired or invalid
//! // token is still a 401, so the frontend refreshes rather than showing a guest page.
//! #[get("/")]
//! #[verify_session(required = false)]
//! async fn home(session: Option<SessionContainer>) -> impl Responder {
//!     let name = session.as_ref().map_or("guest", |s| s.user_id());
//!     HttpResponse::Ok().body(format!("hello {name}"))
//! }
//!
//! // `claims = [..]` (default none, added to the config's global validators): validators,
//! // or claim types that stand for their default validator. A failure answers 403.
//! #[get("/admin")]
//! #[verify_session(claims = [EmailVerified, Roles::includes("admin")])]
//! async fn admin(session: SessionContainer) -> impl Responder {
//!     HttpResponse::Ok().body(session.user_id().to_owned())
//! }
//!
//! // `anti_csrf = bool` (default: on for every method but GET): force the anti-CSRF check
//! // of cookie sessions on or off for this route.
//! #[post("/webhook")]
//! #[verify_session(anti_csrf = false)]
//! async fn webhook(session: SessionContainer) -> impl Responder {
//!     HttpResponse::Accepted().body(session.user_id().to_owned())
//! }
//!
//! // `check_database = bool` (default `false`): also ask the core whether the session still
//! // exists, so a revoked session is refused at once (one core call per request).
//! #[post("/account/delete")]
//! #[verify_session(check_database = true)]
//! async fn delete_account(session: SessionContainer) -> impl Responder {
//!     HttpResponse::Ok().body(session.user_id().to_owned())
//! }
//!
//! // `override_claims = path` (default: the config's global validators): a function that
//! // chooses this route's validators from the global ones and the session (the SDKs'
//! // `overrideGlobalClaimValidators`); `claims` entries are still added.
//! fn without_email_check(global: &[ValidatorRef], _: &SessionContainer) -> Vec<ValidatorRef> {
//!     global.iter().filter(|v| v.id() != "st-ev").cloned().collect()
//! }
//!
//! #[post("/email/resend")]
//! #[verify_session(override_claims = without_email_check)]
//! async fn resend_email(session: SessionContainer) -> impl Responder {
//!     HttpResponse::Accepted().body(session.user_id().to_owned())
//! }
//!
//! // `tenant_param = "name"` (default: no check): the session's tenant must equal this path
//! // parameter; a session of another tenant gets 403 with the validator id `st-tenant`.
//! #[get("/t/{tenant}/items")]
//! #[verify_session(tenant_param = "tenant")]
//! async fn items(session: SessionContainer) -> impl Responder {
//!     HttpResponse::Ok().body(session.tenant_id().to_owned())
//! }
//!
//! // Any position, any other extractors: they run only after verification, so a request
//! // without a valid session never has its body read (401, not 400).
//! #[post("/comments")]
//! #[verify_session]
//! async fn comment(body: web::Json<serde_json::Value>, session: SessionContainer) -> impl Responder {
//!     HttpResponse::Created().json(serde_json::json!({"by": session.user_id(), "body": body.0}))
//! }
//!
//! // No session parameter: the route is only guarded.
//! #[get("/reports")]
//! #[verify_session(claims = [Roles::includes("analyst")])]
//! async fn reports() -> impl Responder {
//!     HttpResponse::Ok().finish()
//! }
//! # fn main() {}
//! ```
//!
//! Without the macro: [`get_session`] with [`VerifyOptions`] (the same options), the
//! [`SessionContainer`] and [`MaybeSession`] extractors,
//! [`SessionConfig::get_session_without_request_response`] for code without a request
//! (websockets, jobs, AWS Lambda), and [`SessionConfig::ssr_session`] for server-rendered
//! pages.
//!
//! # Observability
//!
//! Verification and refresh run in [`tracing`](https://docs.rs/tracing) spans that record how
//! they ended. Spans and events carry user ids, session handles, tenant ids and error kinds,
//! never a token.
//!
//! | span (target `sessionward::…`) | level | fields |
//! |---|---|---|
//! | `sessionward.verify`, per verification | DEBUG | `http.method`, `http.path` (no query), `outcome` (`ok`, `no_session`, `error`), `error_kind` ([`SessionError::kind`]), `reason`, `user_id`, `session_handle`, `tenant_id` |
//! | `sessionward.refresh`, per call of the refresh endpoint | INFO | `outcome`, `error_kind`, `reason`, `user_id`, `session_handle`, `tenant_id` |
//!
//! `RUST_LOG=sessionward=debug` with `tracing-subscriber` shows them; with an OpenTelemetry
//! layer they become trace spans. With the `metrics` feature, these counters go to the
//! [`metrics`](https://docs.rs/metrics) recorder you install (Prometheus, StatsD, …):
//!
//! | counter | labels |
//! |---|---|
//! | `sessionward_verifications_total` | `outcome`: `ok`, `no_session` or an error kind (`unauthorised`, `try_refresh_token`, `invalid_claims`, …) |
//! | `sessionward_refreshes_total` | `outcome`: `ok` or an error kind |
//! | `sessionward_sessions_created_total` | none |
//!
//! # Cargo features
//!
//! - `metrics`: the counters above, through the `metrics` crate. Off by default.
//! - `test-utils`: the `testing` module, sessions for your own handler tests without an HTTP
//!   login. Off by default.
//!
//! # Examples
//!
//! Runnable servers (claims with an async fetch, optional sessions, multi-tenancy, SuperTokens
//! Core mode, server-rendered pages, AWS Lambda) are in the repository's `examples/`
//! directory, each one command away; `docs/coming-from-supertokens-node.md` maps the
//! supertokens-node API to this crate.
//!
//! # What a rejected request gets
//!
//! | situation | status | body |
//! |---|---|---|
//! | no access token | 401 | `{"message":"unauthorised"}` |
//! | expired, badly signed, unknown key, anti-CSRF failure | 401 | `{"message":"try refresh token"}` |
//! | a claim validator failed | 403 | `{"message":"invalid claim","claimValidationErrors":[..]}` |
//! | the core or key source is down | 503 | JSON, with `Retry-After` |
//!
//! The statuses are configurable (the older SuperTokens contract used 440 for expiry).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
pub mod cdi;
pub mod claims;
mod config;
pub mod core;
pub mod cors;
mod endpoints;
mod error;
mod guard;
mod headers;
mod keys;
mod observe;
mod session;
mod standalone;
#[cfg(feature = "test-utils")]
pub mod testing;
mod token;
mod transfer;
mod util;
mod verify;

pub use config::{
    AntiCsrf, ConfigError, ErrorHandler, SameSite, SessionConfig, SessionConfigBuilder,
    TokenTransferMethod,
};
pub use error::{ClaimValidationError, SessionError};
pub use guard::WithSession;
pub use keys::{JwksCache, KeySource, KeySourceError, StaticKeySource};
pub use session::{
    AccessTokenPayload, SessionContainer, SessionTokens, create_new_session,
    create_new_session_for_tenant,
};
pub use standalone::{MaybeSession, SsrSession, get_session};
pub use verify::{OverrideClaims, VerifyOptions};

#[doc(inline)]
pub use sessionward_macros::verify_session;

/// The names most handlers need: `use sessionward::prelude::*;`.
pub mod prelude {
    pub use crate::claims::{EmailVerified, Permissions, Roles};
    pub use crate::{
        MaybeSession, SessionConfig, SessionContainer, SessionError, VerifyOptions, WithSession,
        create_new_session, get_session, verify_session,
    };
}

/// Items that `#[verify_session]` expansions name. Not public API: no stability promise.
#[doc(hidden)]
pub mod __private {
    pub use crate::guard::{Guarded, ResponseSlot, RouteGuard, SessionParam, WithSession};
    pub use crate::verify::VerifyOptions as RouteOptions;

    /// Converts a `claims = [..]` entry (validator or claim type) into a validator.
    pub fn into_validator<V: crate::claims::IntoValidator>(
        value: V,
    ) -> crate::claims::ValidatorRef {
        value.into_validator()
    }
}

/// Thin wrappers over internals for property tests and fuzz targets (`tests/`, `fuzz/`).
/// Not public API: no stability promise.
#[doc(hidden)]
pub mod __fuzz {
    use serde_json::{Map, Value};

    /// What [`parse_access_token`] saw in a token (signature not checked).
    #[derive(Debug, Clone, PartialEq)]
    pub struct ParsedAccessToken {
        /// 2 (v1/v2), 3, 4 or 5.
        pub version: u8,
        /// The header `kid` (`None` for v2).
        pub kid: Option<String>,
        /// The decoded payload.
        pub payload: Map<String, Value>,
    }

    /// Version detection and structure check (protocol §1.3, §1.4); the error is the reason.
    pub fn parse_access_token(raw: &str) -> Result<ParsedAccessToken, String> {
        crate::token::parse_access_token(raw)
            .map(|t| ParsedAccessToken {
                version: t.version,
                kid: t.kid,
                payload: t.payload,
            })
            .map_err(|e| e.to_string())
    }

    /// Full local verification with `keys` at `now_ms`; the verified payload (for v2 its
    /// `userData`), or the reason.
    pub async fn verify_access_token(
        raw: &str,
        keys: &crate::JwksCache,
        now_ms: u64,
    ) -> Result<Map<String, Value>, String> {
        let parsed = crate::token::parse_access_token(raw).map_err(|e| e.to_string())?;
        crate::token::verify_access_token(parsed, keys, now_ms)
            .await
            .map(|info| std::sync::Arc::unwrap_or_clone(info.payload))
            .map_err(|e| e.to_string())
    }

    /// The request reader and verification of protocol §3.2 and §6.2, as a route with
    /// `required` uses them (the app must carry a [`SessionConfig`](crate::SessionConfig)).
    pub async fn verify_request(
        req: &actix_web::HttpRequest,
        required: bool,
    ) -> Result<Option<crate::SessionContainer>, crate::SessionError> {
        let config = crate::SessionConfig::from_request(req)?;
        crate::verify::verify_request(req, config, &crate::VerifyOptions::new(required)).await
    }

    /// Every value of cookie `name`, URL-decoded, in request order.
    pub fn cookie_values(req: &actix_web::HttpRequest, name: &str) -> Vec<String> {
        crate::transfer::cookie_values(req, name)
    }

    /// The `Authorization: Bearer` value; `Err(())` for several `Authorization` headers.
    #[allow(clippy::result_unit_err, reason = "mirrors the internal reader")]
    pub fn bearer_token(req: &actix_web::HttpRequest) -> Result<Option<String>, ()> {
        crate::transfer::bearer_token(req).map(|t| t.map(str::to_owned))
    }

    /// The front-token for a user, access-token expiry and payload (protocol §4).
    pub fn front_token(user_id: &str, expiry_ms: u64, payload: &Map<String, Value>) -> String {
        crate::transfer::front_token(user_id, expiry_ms, payload)
    }

    /// Runs every built-in claim validator (and their refetch checks and typed value reads)
    /// on `payload` at `now_ms`; returns the failures as `(id, reason)`.
    pub fn validate_claims(payload: &Map<String, Value>, now_ms: u64) -> Vec<(String, Value)> {
        use crate::claims::{
            ClaimValidator, EmailVerified, Permissions, Roles, SessionClaim as _,
            SessionClaimValidator as _,
        };
        let _ = (
            EmailVerified.value_from_payload(payload),
            EmailVerified.last_fetched_ms(payload),
            Roles.value_from_payload(payload),
            Permissions.value_from_payload(payload),
        );
        let validators = [
            EmailVerified::is_verified(),
            EmailVerified::is_verified().with_max_age(0),
            Roles::includes("admin"),
            Roles::excludes("banned"),
            Roles::includes_all(["a", "b"]),
            Roles::includes_any(["a", "b"]).with_max_age(u64::MAX),
            Permissions::excludes_all(["x"]),
            ClaimValidator::has_value("custom", serde_json::json!({"k": [1, 2.5, null]})),
            ClaimValidator::includes("custom", 1.5).with_max_age(60),
        ];
        validators
            .iter()
            .filter_map(|v| {
                let _ = v.should_refetch(payload, now_ms);
                v.validate(payload, now_ms)
                    .err()
                    .map(|reason| (v.id().to_owned(), reason))
            })
            .collect()
    }
}

/// Internals that `benches/verify.rs` measures (issue 7). Not public API: no stability promise.
#[doc(hidden)]
pub mod __bench {
    use actix_web::HttpRequest;

    use crate::{SessionConfig, SessionContainer, SessionError, VerifyOptions};

    /// What `#[verify_session]` runs for a request (protocol §6.2), claims included.
    ///
    /// # Errors
    /// As [`get_session`](crate::get_session).
    pub async fn verify_request(
        req: &HttpRequest,
        config: &SessionConfig,
        options: &VerifyOptions,
    ) -> Result<Option<SessionContainer>, SessionError> {
        crate::verify::verify_request(req, config, options).await
    }

    /// Finds and parses the access token of a request as verification does; `Some(true)` for
    /// a header token, `Some(false)` for a cookie.
    pub fn read_token(req: &HttpRequest, config: &SessionConfig) -> Option<bool> {
        crate::verify::read_token(req, config.inner().token_transfer_method)
    }

    /// The front-token of a session (what responses with new tokens carry).
    pub fn front_token(session: &SessionContainer) -> String {
        let state = session.state();
        crate::transfer::front_token(session.user_id(), state.expiry_ms, &state.payload)
    }

    /// Empties the verified-token cache.
    pub fn clear_verified_tokens(config: &SessionConfig) {
        if let Some(cache) = &config.inner().verified_tokens {
            cache.clear();
        }
    }

    /// Whether the verified-token cache holds a live entry for `token`.
    pub fn is_cached(config: &SessionConfig, token: &str) -> bool {
        let key = crate::cache::TokenKey::of(token);
        config
            .inner()
            .verified_tokens
            .as_ref()
            .is_some_and(|c| c.get(&key, token, 0).is_some())
    }

    /// Number of tokens in the verified-token cache (0 when it is off).
    pub fn verified_tokens_len(config: &SessionConfig) -> usize {
        config
            .inner()
            .verified_tokens
            .as_ref()
            .map_or(0, |c| c.len())
    }
}
