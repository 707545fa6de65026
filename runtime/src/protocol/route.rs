//! What `#[verify_session]` expansions build on, whatever the framework: the route's options
//! from a marker type, and the types a handler may take its session as.

use crate::error::SessionError;

use super::options::VerifyOptions;
use super::session::SessionContainer;

/// A route's verification options, provided by a marker type the macro generates.
pub trait RouteGuard: 'static {
    /// The options of this route (built once).
    fn options() -> &'static VerifyOptions;
}

/// The types a handler may take its session as.
pub trait SessionParam: Sized + 'static {
    /// Converts the verification result. `None` reaches a required parameter only if the
    /// options and the parameter type disagree, which the macro prevents at compile time.
    ///
    /// # Errors
    /// Unauthorised when a session is required but missing.
    fn from_verified(session: Option<SessionContainer>) -> Result<Self, SessionError>;
}

impl SessionParam for SessionContainer {
    fn from_verified(session: Option<SessionContainer>) -> Result<Self, SessionError> {
        session.ok_or(SessionError::Unauthorised {
            clear_tokens: false,
            reason: "no access token",
        })
    }
}

impl SessionParam for Option<SessionContainer> {
    fn from_verified(session: Option<SessionContainer>) -> Result<Self, SessionError> {
        Ok(session)
    }
}

impl SessionParam for () {
    fn from_verified(_: Option<SessionContainer>) -> Result<Self, SessionError> {
        Ok(())
    }
}
