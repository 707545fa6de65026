//! The session core: where sessions are created, stored, rotated and revoked.
//!
//! One trait, [`SessionCore`], with the embedded core as the default implementation; a
//! SuperTokens Core client implements the same trait. Verification of ordinary access tokens
//! never calls the core: it uses the core's public keys ([`SessionCore::key_source`]).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::jwks::KeySource;

pub(crate) mod embedded;

/// A boxed, `Send` future, as returned by [`SessionCore`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A session as the core describes it (CDI `session` object).
#[derive(Debug, Clone, PartialEq)]
pub struct CoreSession {
    /// The session handle.
    pub handle: String,
    /// The primary user id.
    pub user_id: String,
    /// The recipe (login method) user id.
    pub recipe_user_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// The custom part of the access-token payload.
    pub user_data_in_jwt: Map<String, Value>,
}

/// A token the core issued (CDI `tokenInfo`).
#[derive(Clone, PartialEq)]
pub struct IssuedToken {
    /// The token itself (secret: never logged).
    pub token: String,
    /// Expiry, ms since the epoch.
    pub expiry_ms: u64,
    /// Creation, ms since the epoch.
    pub created_ms: u64,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("expiry_ms", &self.expiry_ms)
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

/// What [`SessionCore::create_session`] needs (CDI create).
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The tenant the session belongs to.
    pub tenant_id: String,
    /// The recipe user id the session is for.
    pub recipe_user_id: String,
    /// Custom access-token payload (protected props already removed).
    pub access_token_payload: Map<String, Value>,
    /// Data kept only in the core's database.
    pub session_data: Value,
    /// Issue an anti-CSRF token (VIA_TOKEN mode with cookies).
    pub enable_anti_csrf: bool,
    /// Sign with the rotating dynamic key (`d-…`) rather than the static one (`s-…`).
    pub use_dynamic_signing_key: bool,
}

/// A freshly created or refreshed session.
#[derive(Debug, Clone)]
pub struct CreatedSession {
    /// The session.
    pub session: CoreSession,
    /// The new access token.
    pub access_token: IssuedToken,
    /// The new refresh token.
    pub refresh_token: IssuedToken,
    /// The anti-CSRF token, when requested.
    pub anti_csrf_token: Option<String>,
}

/// What [`SessionCore::verify_session`] is asked (CDI verify), used for tokens fresh from a
/// refresh (`parentRefreshTokenHash1` set) and for `check_database` routes.
#[derive(Clone)]
pub struct VerifyRequest {
    /// The access token as received.
    pub access_token: String,
    /// The `anti-csrf` request header, if any.
    pub anti_csrf_token: Option<String>,
    /// Whether to compare the anti-CSRF token.
    pub do_anti_csrf_check: bool,
    /// Whether anti-CSRF tokens are in use (VIA_TOKEN).
    pub enable_anti_csrf: bool,
    /// Require the session to exist in the database.
    pub check_database: bool,
}

impl fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("do_anti_csrf_check", &self.do_anti_csrf_check)
            .field("enable_anti_csrf", &self.enable_anti_csrf)
            .field("check_database", &self.check_database)
            .finish_non_exhaustive()
    }
}

/// The core's answer to a [`VerifyRequest`].
#[derive(Debug, Clone)]
pub enum VerifyOutcome {
    /// The session is valid; `new_access_token` is set when the core replaced the token
    /// (promotion after a refresh, or a changed payload).
    Ok {
        /// The session.
        session: CoreSession,
        /// The replacement access token, if any.
        new_access_token: Option<IssuedToken>,
    },
    /// The session does not exist (revoked, expired): sign the client out.
    Unauthorised,
    /// The token cannot be used as is: the client should refresh.
    TryRefreshToken,
}

/// Why a core call failed (as opposed to a logical "no" such as unauthorised).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The core cannot be reached or timed out: answer 503, never sign anyone out.
    #[error("core unavailable: {0}")]
    Unavailable(String),
    /// The core rejected the request as malformed.
    #[error("core rejected the request: {0}")]
    BadRequest(String),
    /// Anything else on the core's side.
    #[error("core failure: {0}")]
    Internal(String),
}

impl From<CoreError> for crate::SessionError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::Unavailable(reason) => crate::SessionError::CoreUnavailable(reason),
            CoreError::BadRequest(reason) | CoreError::Internal(reason) => {
                crate::SessionError::Internal(reason)
            }
        }
    }
}

/// A session core: the embedded one, or a SuperTokens Core over HTTP.
pub trait SessionCore: Send + Sync + 'static {
    /// Where verifiers get this core's public signing keys.
    fn key_source(&self) -> Arc<dyn KeySource>;

    /// Creates a session (CDI `POST /<tenant>/recipe/session`).
    fn create_session(&self, new: NewSession) -> BoxFuture<'_, Result<CreatedSession, CoreError>>;

    /// Verifies an access token against the core's state (CDI `POST /recipe/session/verify`).
    fn verify_session(&self, request: VerifyRequest)
    -> BoxFuture<'_, Result<VerifyOutcome, CoreError>>;
}
