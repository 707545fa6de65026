//! The SuperTokens session protocol, free of any web framework: reading tokens, the
//! verification pipeline, creating, refreshing and signing out sessions, anti-CSRF, the
//! front-token, and the answers to errors.
//!
//! It reads a request through [`RequestView`], which each adapter implements over its
//! framework's request without copying it, and describes what a response must change (headers
//! and cookies to set or clear) as a value the adapter applies. The adapters (`actix`, and the
//! CDI server) hold no protocol logic of their own.

mod answer;
mod claims_check;
mod create;
mod endpoints;
pub mod hooks;
mod jwt;
mod manage;
mod options;
mod read;
mod refresh;
mod request;
mod response;
mod route;
mod session;
mod verify;
mod without_request;

pub(crate) use answer::error_answer;
pub(crate) use create::create_session;
// actix-web registers each endpoint by its path; the tower layer routes by `endpoint_for`.
#[cfg(feature = "actix")]
pub(crate) use endpoints::Endpoint;
#[cfg(feature = "axum")]
pub(crate) use endpoints::endpoint_for;
pub(crate) use endpoints::serve_endpoint;
pub use jwt::{DEFAULT_JWT_VALIDITY, OpenIdDiscovery};
pub use manage::Tenants;
pub(crate) use options::extractor_options;
pub use options::{
    Awaited, ChooseClaims, ClaimsOverride, Immediate, OverrideClaims, OverrideClaimsAsync,
    VerifyOptions,
};
#[cfg(feature = "__internals")]
pub(crate) use read::{bearer_token, cookie_values};
pub use request::{HeaderKey, RequestView};
#[cfg(feature = "__internals")]
pub(crate) use response::front_token;
pub(crate) use response::{HeaderSink, ResponseChanges, SET_COOKIE};
#[doc(hidden)]
pub use route::{RouteGuard, SessionParam};
pub use session::{AccessTokenPayload, SessionContainer, SessionTokens};
#[cfg(feature = "__internals")]
pub(crate) use verify::read_token;
pub(crate) use verify::verify_request;
pub use without_request::SsrSession;
