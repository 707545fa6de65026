//! SuperTokens-compatible sessions for Rust web servers (actix-web and axum).
//!
//! `sessionward` verifies SuperTokens access tokens in handlers, speaks the SuperTokens wire
//! protocol (so the official frontend SDKs work unchanged), and issues sessions from an embedded
//! core (keys under a data directory, no service to run) or from a SuperTokens Core.
//!
//! # Quick start
//!
//! ```no_run
//! use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder, get, post};
//! use sessionward::prelude::*;
//!
//! #[post("/login")]
//! async fn login(req: HttpRequest) -> Result<HttpResponse, SessionError> {
//!     // check credentials first; the middleware sends the new session's tokens
//!     let session = create_new_session(&req, "user-1", serde_json::json!({})).await?;
//!     Ok(HttpResponse::Ok().body(session.user_id().to_owned()))
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
//!             // the config for every route, and session changes on every response
//!             .wrap(SessionMiddleware::new(config.clone()))
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
//! [`SessionContainer`] and [`MaybeSession`] extractors, [`SessionMiddleware::require`] for a
//! whole scope, [`SessionConfig::get_session_without_request_response`] for code without a
//! request (websockets, jobs, AWS Lambda), and [`SessionConfig::ssr_session`] for
//! server-rendered pages. Under [`SessionMiddleware`], an error returned from a handler with
//! `?` gets the same answer as on a macro route (configured statuses, error handlers, token
//! clearing); [`SessionConfig::error_response`] gives that answer to your own code.
//!
//! # Managing sessions, JWTs and hooks
//!
//! [`SessionConfig`] carries the rest of the SDKs' session API, in every adapter: sessions by
//! handle and by user ([`SessionConfig::revoke_all_sessions_for_user`],
//! [`SessionConfig::get_session_information`], claims by handle), sessions without a request,
//! and JWTs for other services ([`SessionConfig::create_jwt`], verified with the JWKS served at
//! `{apiBasePath}/jwt/jwks.json`). [`hooks`] overrides the recipe's functions and wraps its
//! endpoints.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use sessionward::{SessionConfig, SessionError, Tenants};
//!
//! /// After a password change: every device signs in again, and the billing service gets a
//! /// five-minute token.
//! async fn password_changed(config: &SessionConfig, user_id: &str) -> Result<String, SessionError> {
//!     config.revoke_all_sessions_for_user(user_id, Tenants::All).await?;
//!     let payload = serde_json::json!({ "sub": user_id, "aud": "billing" });
//!     config.create_jwt(payload, Some(Duration::from_secs(300)), None).await
//! }
//! ```
//!
//! # Architecture
//!
//! The crate is layered; each module imports only modules below it:
//!
//! | layer | modules | imports |
//! |---|---|---|
//! | adapters | `actix` (extractors, macro guard, middleware, endpoints), `axum` (layer, extractors), `cdi` (the CDI server) | everything below |
//! | protocol | [`protocol`]: request view, token reading, verification, create, refresh, sign-out, response changes, error answers | config and below |
//! | config | [`SessionConfig`] and its builder | the cache, cores, keys, claims, errors |
//! | cache | the verified-token cache | cores, tokens, keys |
//! | cores | [`core`]: the [`SessionCore`](core::SessionCore) trait, the embedded core, the SuperTokens Core client, the CDI wire types | tokens, keys, claims, errors |
//! | bottom | `token`, `keys`, [`claims`], `error`, `metric`, `observe`, `headers`, `util`, [`cors`] | each other, downward only |
//!
//! # Observability
//!
//! Verification and refresh run in [`tracing`](https://docs.rs/tracing) spans that record how
//! they ended, with fields named by the OpenTelemetry semantic conventions where one exists.
//! Spans and events carry user ids, session handles, tenant ids and error kinds, never a
//! token.
//!
//! | span (target `sessionward::…`) | level | fields |
//! |---|---|---|
//! | `sessionward.verify`, per verification | DEBUG | `http.request.method`, `url.path` (no query), `sessionward.outcome` (`ok`, `no_session`, `error`), `error.type` ([`SessionError::kind`]), `sessionward.reason`, `user.id`, `session.id` (the session handle), `sessionward.tenant_id`, `otel.status_code` (`ERROR` for our own failures, 5xx) |
//! | `sessionward.refresh`, per call of the refresh endpoint | INFO | the same but the request's method and path |
//!
//! `RUST_LOG=sessionward=debug` with `tracing-subscriber` shows them; with
//! `tracing-opentelemetry` they become OpenTelemetry spans. With the `metrics` feature, these
//! go to the [`metrics`](https://docs.rs/metrics) recorder you install (Prometheus, StatsD, …),
//! described (help text, unit) when a config is built or by `describe_metrics()`:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `sessionward_verifications_total` | counter | `outcome`: `ok`, `no_session` or an error kind (`unauthorised`, `try_refresh_token`, `invalid_claims`, …) |
//! | `sessionward_verification_duration_seconds` | histogram | `outcome` |
//! | `sessionward_refreshes_total` | counter | `outcome`: `ok` or an error kind |
//! | `sessionward_sessions_created_total` | counter | none |
//! | `sessionward_verified_token_cache_lookups_total` | counter | `result`: `hit`, `miss` |
//! | `sessionward_key_fetches_total` | counter | `outcome`: `ok`, `error` |
//! | `sessionward_core_errors_total` | counter | `kind`: `unavailable`, `bad_request`, `internal` |
//!
//! docs/observability.md in the repository shows a Prometheus set-up.
//!
//! # Cargo features
//!
//! - `actix` (default): the actix-web adapter.
//! - `axum`: the axum adapter (`sessionward::axum`: `SessionLayer`, extractors, `get_session`,
//!   `#[verify_session]` for axum handlers).
//! - `lambda`: AWS Lambda through `lambda_http` (`sessionward::lambda`), on the axum adapter's
//!   layer.
//! - `embedded` (default): the embedded core on SQLite (`rusqlite`, bundled).
//! - `postgres`: the embedded core on PostgreSQL, shared by every instance of an app
//!   (`SessionConfigBuilder::postgres`; without `embedded`, no SQLite is compiled).
//! - `core-client`: `core::CoreClient`, a SuperTokens Core over HTTP (`reqwest`, rustls).
//! - `cdi-server`: `sessionward::cdi`, any core served over the Core Driver Interface (needs
//!   `actix`).
//! - `metrics`: the metrics above, through the `metrics` crate.
//! - `test-utils`: the `testing` module, sessions for your own handler tests without an HTTP
//!   login.
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
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod cache;
#[cfg(feature = "cdi-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "cdi-server")))]
pub mod cdi;
pub mod claims;
mod config;
pub mod core;
pub mod cors;
mod error;
mod headers;
mod keys;
#[cfg(feature = "lambda")]
#[cfg_attr(docsrs, doc(cfg(feature = "lambda")))]
pub mod lambda;
mod metric;
mod observe;
// The request-level entry points serve the framework adapters; a build without one still
// offers the request-less API (`get_session_without_request_response`, `ssr_session`).
#[cfg_attr(
    not(any(feature = "actix", feature = "axum")),
    allow(dead_code, unused_imports)
)]
pub mod protocol;
#[cfg(feature = "test-utils")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-utils")))]
pub mod testing;
mod token;
mod util;

#[cfg(feature = "__internals")]
mod internals;
#[cfg(feature = "__internals")]
#[doc(hidden)]
pub use internals::{bench as __bench, fuzz as __fuzz};

#[cfg(feature = "actix")]
pub use actix::{
    MaybeSession, SessionMiddleware, WithSession, create_new_session,
    create_new_session_for_tenant, get_session,
};
pub use config::{
    AntiCsrf, AsyncErrorHandler, ConfigError, ErrorHandler, SameSite, SessionConfig,
    SessionConfigBuilder, TokenTransferMethod, TransferMethodFn, TransferMethodRequest,
};
pub use error::{ClaimValidationError, CoreError, ErrorResponse, RequestInfo, SessionError};
pub use keys::{JwksCache, KeySource, KeySourceError, StaticKeySource};

/// Describes sessionward's metrics (help text and unit) to the installed
/// [`metrics`](https://docs.rs/metrics) recorder. [`SessionConfigBuilder::build`] does it too;
/// call this when the recorder is installed after the config is built.
#[cfg(feature = "metrics")]
pub fn describe_metrics() {
    metric::describe();
}

/// The JSON Web Key types that key sources hand out ([`KeySource::fetch_keys`],
/// [`StaticKeySource::new`]): `jsonwebtoken`'s, re-exported so a key source needs no
/// dependency of its own on that crate (and cannot pick a mismatched version).
pub mod jwk {
    pub use jsonwebtoken::jwk::{Jwk, JwkSet};
}
/// Overriding the recipe's functions and the frontend endpoints (the SDKs' `override`).
pub use protocol::hooks;
pub use protocol::{
    AccessTokenPayload, OpenIdDiscovery, OverrideClaims, OverrideClaimsAsync, SessionContainer,
    SessionTokens, SsrSession, Tenants, VerifyOptions,
};

#[cfg(feature = "actix")]
#[doc(inline)]
pub use sessionward_macros::verify_session;

/// The names most handlers need: `use sessionward::prelude::*;`.
pub mod prelude {
    pub use crate::claims::{EmailVerified, Permissions, Roles};
    #[cfg(feature = "actix")]
    pub use crate::{
        MaybeSession, SessionMiddleware, WithSession, create_new_session, get_session,
        verify_session,
    };
    pub use crate::{SessionConfig, SessionContainer, SessionError, VerifyOptions};
}

/// Items that `#[verify_session]` expansions name. Not public API: no stability promise.
#[cfg(any(feature = "actix", feature = "axum"))]
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "actix")]
    pub use crate::actix::WithSession;
    #[cfg(feature = "actix")]
    pub use crate::actix::guard::{Guarded, ResponseSlot};
    pub use crate::protocol::VerifyOptions as RouteOptions;
    pub use crate::protocol::{RouteGuard, SessionParam};

    /// What axum expansions name.
    #[cfg(feature = "axum")]
    pub mod axum {
        pub use crate::axum::guard::Guarded;
    }

    /// Converts a `claims = [..]` entry (validator or claim type) into a validator.
    pub fn into_validator<V: crate::claims::IntoValidator>(
        value: V,
    ) -> crate::claims::ValidatorRef {
        value.into_validator()
    }
}
