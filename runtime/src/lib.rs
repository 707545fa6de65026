//! SuperTokens-compatible sessions for actix-web.
//!
//! `session-guard` verifies SuperTokens access tokens in actix-web handlers, speaks the
//! SuperTokens wire protocol (so the official frontend SDKs work unchanged), and issues sessions
//! from an embedded core (keys under a data directory, no service to run) or from a SuperTokens
//! Core.
//!
//! # Quick start
//!
//! ```no_run
//! use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder, get, post};
//! use session_guard::prelude::*;
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

pub mod claims;
mod config;
pub mod core;
pub mod cors;
mod endpoints;
mod error;
mod guard;
mod jwks;
mod session;
mod standalone;
#[cfg(feature = "test-utils")]
pub mod testing;
mod token;
mod transfer;
mod verify;

pub use config::{
    AntiCsrf, ConfigError, ErrorHandler, SameSite, SessionConfig, SessionConfigBuilder,
    TokenTransferMethod,
};
pub use error::{ClaimValidationError, SessionError};
pub use guard::WithSession;
pub use jwks::{JwksCache, KeySource, KeySourceError, StaticKeySource};
pub use session::{
    SessionContainer, SessionTokens, create_new_session, create_new_session_for_tenant,
};
pub use standalone::{MaybeSession, SsrSession, get_session};
pub use verify::{OverrideClaims, VerifyOptions};

#[doc(inline)]
pub use session_guard_macros::verify_session;

/// The names most handlers need: `use session_guard::prelude::*;`.
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

/// Payload fields owned by the core; users cannot set them (protocol §1.5).
pub(crate) const PROTECTED_PROPS: &[&str] = &[
    "sub",
    "iat",
    "exp",
    "sessionHandle",
    "parentRefreshTokenHash1",
    "refreshTokenHash1",
    "antiCsrfToken",
    "rsub",
    "tId",
    "stt",
];

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Lower-case hex SHA-256, as in `refreshTokenHash1`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}
