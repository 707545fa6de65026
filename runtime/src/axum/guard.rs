//! What `#[verify_session]` expands to on axum: a first handler argument that verifies the
//! session with the route's options before axum extracts the handler's other arguments.

use std::fmt;
use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::response::Response;
use http::request::Parts;

use crate::protocol::{RouteGuard, SessionParam};

use super::extract::verify_parts;
use super::request::config_of;
use super::response::reject;

/// The session of a `#[verify_session]` axum handler, verified with the options of route `R`.
pub struct Guarded<S, R> {
    session: S,
    route: PhantomData<fn() -> R>,
}

/// Deliberately says nothing about the session (tracing's `#[instrument]` may record it).
impl<S, R> fmt::Debug for Guarded<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Guarded(..)")
    }
}

impl<S, R> Guarded<S, R> {
    /// The session, as the handler's parameter takes it.
    pub fn into_session(self) -> S {
        self.session
    }
}

impl<St, S, R> FromRequestParts<St> for Guarded<S, R>
where
    St: Send + Sync,
    S: SessionParam + Send,
    R: RouteGuard,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Self::Rejection> {
        let state = match config_of(&parts.extensions, &parts.uri) {
            Ok(state) => state,
            Err(error) => return Err(reject(parts, None, error).await),
        };
        let verified = verify_parts(parts, &state, R::options())
            .await
            .and_then(S::from_verified);
        match verified {
            Ok(session) => Ok(Guarded {
                session,
                route: PhantomData,
            }),
            Err(error) => Err(reject(parts, Some(state.config()), error).await),
        }
    }
}
