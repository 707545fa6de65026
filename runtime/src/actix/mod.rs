//! The actix-web adapter: the `#[verify_session]` guard, the extractors, [`get_session`],
//! [`SessionMiddleware`], [`WithSession`] and the refresh and sign-out endpoints. It holds no
//! protocol logic: it reads `HttpRequest` through the protocol's request view and writes the
//! protocol's answers into actix-web responses.

mod endpoints;
mod extract;
pub(crate) mod guard;
mod middleware;
mod request;
mod response;

pub use extract::{MaybeSession, create_new_session, create_new_session_for_tenant, get_session};
pub use guard::WithSession;
pub use middleware::{SessionMiddleware, SessionMiddlewareService};
