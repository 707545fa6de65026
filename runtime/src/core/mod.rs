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

use crate::keys::KeySource;

#[cfg(any(feature = "embedded", feature = "postgres"))]
pub(crate) mod embedded;
#[cfg(feature = "core-client")]
mod http;
// The CDI wire types serve the SuperTokens Core client and the CDI server.
#[cfg_attr(
    not(all(feature = "core-client", feature = "cdi-server")),
    allow(dead_code, unused_imports)
)]
pub(crate) mod wire;

#[cfg(feature = "core-client")]
#[cfg_attr(docsrs, doc(cfg(feature = "core-client")))]
pub use http::{CoreClient, CoreClientBuilder, CoreClientError};

/// A boxed, `Send` future, as returned by [`SessionCore`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A session as the core describes it (CDI `session` object).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
#[non_exhaustive]
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

/// The version of the access tokens a core mints (docs/protocol.md §1.2).
///
/// The SuperTokens core mints the version its caller's CDI version implies: v5 from CDI 4.0
/// on, v4 for CDI 3.x, v3 for CDI 2.21, v2 before. Every current backend SDK speaks CDI 4.0
/// or newer, so the default is v5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum AccessTokenVersion {
    /// v2, the legacy format (CDI before 2.21): standard base64 with padding, a fixed header
    /// without `kid`, `userId`/`expiryTime`/`timeCreated` and the custom payload under
    /// `userData`; signed with the core's legacy signing key, which is not in its JWKS.
    V2,
    /// v3: `sub`, `exp`, `iat` and the session fields; no tenant (always `public`).
    V3,
    /// v4: v3 with the tenant (`tId`).
    V4,
    /// v5: v4 with the recipe user id (`rsub`).
    #[default]
    V5,
}

impl AccessTokenVersion {
    /// The version number, as in the token header's `version`.
    #[must_use]
    pub fn number(self) -> u8 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
            Self::V4 => 4,
            Self::V5 => 5,
        }
    }

    /// The version of that number, if a core mints it (2, 3, 4 or 5).
    #[must_use]
    pub fn from_number(number: u8) -> Option<Self> {
        match number {
            2 => Some(Self::V2),
            3 => Some(Self::V3),
            4 => Some(Self::V4),
            5 => Some(Self::V5),
            _ => None,
        }
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
    /// The version of the access token to mint (v5 unless serving an older CDI version).
    pub access_token_version: AccessTokenVersion,
}

/// A freshly created or refreshed session.
#[derive(Clone)]
#[non_exhaustive]
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

impl fmt::Debug for CreatedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedSession")
            .field("session", &self.session)
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field(
                "anti_csrf_token",
                &self.anti_csrf_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
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
#[expect(
    clippy::large_enum_variant,
    reason = "one value per core call, matched at once; boxing would only add an allocation"
)]
#[non_exhaustive]
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

pub use crate::error::CoreError;

/// What [`SessionCore::refresh_session`] is asked (CDI refresh).
#[derive(Clone)]
pub struct RefreshRequest {
    /// The refresh token as received (secret).
    pub refresh_token: String,
    /// The `anti-csrf` request header, if any.
    pub anti_csrf_token: Option<String>,
    /// Whether anti-CSRF tokens are in use (VIA_TOKEN with cookies).
    pub enable_anti_csrf: bool,
    /// Sign the new access token with the dynamic key (`d-…`) rather than the static one;
    /// `None` keeps the key type the session was signed with (CDI before 5.0 may leave it
    /// out). The SuperTokens Core client sends `true` for `None`: CDI 5.4 requires the
    /// field.
    pub use_dynamic_signing_key: Option<bool>,
    /// The version of the new access token (v5 unless serving an older CDI version).
    pub access_token_version: AccessTokenVersion,
}

impl fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("enable_anti_csrf", &self.enable_anti_csrf)
            .field("use_dynamic_signing_key", &self.use_dynamic_signing_key)
            .field("access_token_version", &self.access_token_version)
            .finish_non_exhaustive()
    }
}

/// The core's answer to a [`RefreshRequest`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// New tokens: the access token carries `parentRefreshTokenHash1` until first use.
    Ok(CreatedSession),
    /// The refresh token is unknown, expired, or its session is gone.
    Unauthorised(String),
    /// A refresh token was reused after its rotation was committed: the session must be
    /// revoked.
    TokenTheftDetected {
        /// The session.
        handle: String,
        /// Its user.
        user_id: String,
        /// Its recipe user.
        recipe_user_id: String,
    },
}

/// The answer to [`SessionCore::regenerate_access_token`] (CDI regenerate).
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per core call, matched at once; boxing would only add an allocation"
)]
#[non_exhaustive]
pub enum RegenerateOutcome {
    /// The session, and the new access token unless the given one had already expired.
    Ok {
        /// The session with its new custom payload.
        session: CoreSession,
        /// The new access token (same expiry and key type as the old one).
        new_access_token: Option<IssuedToken>,
    },
    /// The session does not exist.
    Unauthorised,
}

/// Everything the core stores about a session (CDI `GET /recipe/session`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionInformation {
    /// The session handle.
    pub handle: String,
    /// The primary user id.
    pub user_id: String,
    /// The recipe user id.
    pub recipe_user_id: String,
    /// The tenant.
    pub tenant_id: String,
    /// Data kept only in the database.
    pub session_data: Value,
    /// The custom access-token payload.
    pub user_data_in_jwt: Map<String, Value>,
    /// Session (refresh-token) expiry, ms.
    pub expiry_ms: u64,
    /// Creation time, ms.
    pub time_created_ms: u64,
}

/// The longest validity [`SessionCore::create_jwt`] accepts: 1000 years, ten times the
/// SDKs' default of 100 years. Longer is certainly a unit mistake (milliseconds given as
/// seconds), and the expiry must stay a number every JWT library can read.
pub const MAX_JWT_VALIDITY_SECS: u64 = 1000 * 365 * 24 * 60 * 60;

/// What [`SessionCore::create_jwt`] signs (CDI `POST /recipe/jwt`): a JWT for other
/// services, not a session token.
#[derive(Clone)]
pub struct NewJwt {
    /// The claims. `iss` (see [`jwks_domain`](Self::jwks_domain)), `iat` and `exp` are added;
    /// a claim of the same name in the payload wins, as with the SuperTokens core.
    pub payload: Map<String, Value>,
    /// Seconds from now to `exp`: 1 to [`MAX_JWT_VALIDITY_SECS`].
    pub validity_secs: u64,
    /// Sign with the static key (`s-…`, never rotated) rather than the current dynamic key
    /// (`d-…`, which is deleted after rotation: verifiers then refuse the JWT).
    pub use_static_signing_key: bool,
    /// The `iss` claim unless the payload has one (CDI `jwksDomain`).
    pub jwks_domain: String,
}

impl fmt::Debug for NewJwt {
    // Claim names only: the values are the caller's and may be personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewJwt")
            .field("claims", &self.payload.keys().collect::<Vec<_>>())
            .field("validity_secs", &self.validity_secs)
            .field("use_static_signing_key", &self.use_static_signing_key)
            .field("jwks_domain", &self.jwks_domain)
            .finish()
    }
}

impl NewJwt {
    /// Checks what a core cannot sign: a validity of 0 or above [`MAX_JWT_VALIDITY_SECS`].
    ///
    /// # Errors
    /// [`CoreError::BadRequest`] with a message for the caller.
    pub fn check(&self) -> Result<(), CoreError> {
        if self.validity_secs == 0 {
            return Err(CoreError::BadRequest(
                "validity must be greater than 0 seconds".into(),
            ));
        }
        if self.validity_secs > MAX_JWT_VALIDITY_SECS {
            return Err(CoreError::BadRequest(format!(
                "validity must be at most {MAX_JWT_VALIDITY_SECS} seconds (1000 years)"
            )));
        }
        Ok(())
    }
}

/// A public key that verifies the v2 access tokens a core mints for callers of CDI versions
/// before 2.21 (CDI `jwtSigningPublicKey`, `jwtSigningPublicKeyList`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyPublicKey {
    /// The key: standard base64 of its X.509 `SubjectPublicKeyInfo` DER (a PEM body without
    /// its armour lines), as the CDI sends it.
    pub public_key: String,
    /// When the key was created, ms since the epoch.
    pub created_ms: u64,
    /// Until when verifiers may use the key, ms since the epoch.
    pub expiry_ms: u64,
}

/// What a core tells callers of CDI versions before 2.21 about its v2 access tokens (CDI
/// `POST /recipe/handshake`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyHandshake {
    /// The keys that verify v2 tokens, newest first (the first one signs).
    pub keys: Vec<LegacyPublicKey>,
    /// Access-token lifetime, ms.
    pub access_token_validity_ms: u64,
    /// Refresh-token (and session) lifetime, ms.
    pub refresh_token_validity_ms: u64,
}

/// A session core: the embedded one, or a SuperTokens Core over HTTP.
///
/// The methods mirror the CDI session calls (docs/protocol.md §10.3) and keep their semantics, so
/// that one verifier works with either.
pub trait SessionCore: Send + Sync + 'static {
    /// Where verifiers get this core's public signing keys.
    fn key_source(&self) -> Arc<dyn KeySource>;

    /// Creates a session (CDI `POST /<tenant>/recipe/session`).
    fn create_session(&self, new: NewSession) -> BoxFuture<'_, Result<CreatedSession, CoreError>>;

    /// Verifies an access token against the core's state (CDI `POST /recipe/session/verify`):
    /// promotes a token fresh from a refresh, and with `check_database` requires the session
    /// to exist.
    fn verify_session(
        &self,
        request: VerifyRequest,
    ) -> BoxFuture<'_, Result<VerifyOutcome, CoreError>>;

    /// Rotates a refresh token (CDI `POST /recipe/session/refresh`).
    fn refresh_session(
        &self,
        request: RefreshRequest,
    ) -> BoxFuture<'_, Result<RefreshOutcome, CoreError>>;

    /// Re-signs an access token with a new custom payload (CDI `POST /recipe/session/regenerate`).
    fn regenerate_access_token(
        &self,
        access_token: String,
        user_data_in_jwt: Map<String, Value>,
    ) -> BoxFuture<'_, Result<RegenerateOutcome, CoreError>>;

    /// Revokes sessions by handle; returns the handles that existed (CDI
    /// `POST /recipe/session/remove`).
    fn revoke_sessions(
        &self,
        handles: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>>;

    /// Revokes every session of a user in `tenant_id` (or in every tenant); returns the
    /// revoked handles.
    fn revoke_all_sessions_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>>;

    /// The handles of a user's live sessions in `tenant_id` (or in every tenant).
    fn session_handles_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>>;

    /// What the core stores about a session; `None` when it does not exist.
    fn session_information(
        &self,
        handle: String,
    ) -> BoxFuture<'_, Result<Option<SessionInformation>, CoreError>>;

    /// Replaces the database-only session data; `false` when the session does not exist.
    fn update_session_data(
        &self,
        handle: String,
        data: Value,
    ) -> BoxFuture<'_, Result<bool, CoreError>>;

    /// Replaces the custom access-token payload by handle (it reaches the client at the next
    /// refresh); `false` when the session does not exist (CDI `PUT /recipe/jwt/data`).
    fn update_access_token_payload(
        &self,
        handle: String,
        user_data_in_jwt: Map<String, Value>,
    ) -> BoxFuture<'_, Result<bool, CoreError>>;

    /// Signs a JWT for other services (CDI `POST /recipe/jwt`) with RS256 and one of the keys
    /// this core publishes; header `{"alg":"RS256","typ":"JWT","kid":…}`.
    ///
    /// The default answers [`CoreError::Internal`]: a core that only verifies cannot sign.
    fn create_jwt(&self, jwt: NewJwt) -> BoxFuture<'_, Result<String, CoreError>> {
        drop(jwt);
        Box::pin(async {
            Err(CoreError::Internal(
                "this session core cannot sign JWTs".into(),
            ))
        })
    }

    /// The public keys of the v2 access tokens this core mints for callers of CDI versions
    /// before 2.21, and the token lifetimes: what the CDI handshake answers.
    ///
    /// The default answers [`CoreError::Internal`]: a core over HTTP publishes its own.
    fn legacy_handshake(&self) -> BoxFuture<'_, Result<LegacyHandshake, CoreError>> {
        Box::pin(async {
            Err(CoreError::Internal(
                "this session core does not mint v2 access tokens".into(),
            ))
        })
    }

    /// Whether the core can serve requests now, for a readiness check: the embedded core
    /// answers `Ok` once its database answered a trivial query (with SQLite, on both its read
    /// and its write path).
    ///
    /// The default answers `Ok`: a core over HTTP is checked where it runs.
    fn ready(&self) -> BoxFuture<'_, Result<(), CoreError>> {
        Box::pin(async { Ok(()) })
    }
}
