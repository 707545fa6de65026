//! The frontend's session endpoints (docs/protocol.md §9): refresh and sign-out.

use crate::config::{AntiCsrf, SessionConfig};
use crate::core::{CreatedSession, RefreshOutcome, RefreshRequest};
use crate::error::SessionError;

use super::options::VerifyOptions;
use super::read::{
    REFRESH_TOKEN_COOKIE, Transfer, allowed_transfer, cookie_values, has_legacy_cookie,
    refresh_token,
};
use super::request::{HeaderKey, RequestView};
use super::response::ResponseChanges;
use super::session::SessionContainer;
use super::verify::verify_request;

/// `POST {apiBasePath}/session/refresh` (docs/protocol.md §9.1): the new tokens to send with a 200
/// `{}`. Runs in a `sessionward.refresh` span that records the outcome.
///
/// On an error, answer it and add [`legacy_cookie_clearing`].
pub(crate) async fn refresh<R: RequestView>(
    config: &SessionConfig,
    req: &R,
) -> Result<ResponseChanges, SessionError> {
    crate::observe::refresh(refresh_session(config, req)).await
}

async fn refresh_session<R: RequestView>(
    config: &SessionConfig,
    req: &R,
) -> Result<ResponseChanges, SessionError> {
    let c = config.inner();
    let Some((refresh_token, method)) = refresh_token(req, allowed_transfer(req, c))? else {
        return Err(SessionError::Unauthorised {
            clear_tokens: true,
            reason: "no refresh token",
        });
    };
    let anti_csrf_disabled = method == Transfer::Header;
    if !anti_csrf_disabled
        && c.anti_csrf == AntiCsrf::ViaCustomHeader
        && req.header(HeaderKey::Rid).is_none()
    {
        return Err(SessionError::Unauthorised {
            clear_tokens: true,
            reason: "anti-CSRF: refresh without rid header",
        });
    }
    let created = refresh_in_core(
        config,
        refresh_token,
        req.header(HeaderKey::AntiCsrf).map(str::to_owned),
        !anti_csrf_disabled && c.anti_csrf == AntiCsrf::ViaToken,
    )
    .await?;
    // Clear a refresh token that came by the other method (docs/protocol.md §9.1 step 5).
    let other_has_refresh_token =
        method == Transfer::Header && !cookie_values(req, REFRESH_TOKEN_COOKIE).is_empty();
    let session = SessionContainer::from_created(config, created, method, other_has_refresh_token)?;
    crate::observe::record_session(session.user_id(), session.handle(), session.tenant_id());
    tracing::debug!(
        session_handle = session.handle(),
        user_id = session.user_id(),
        "session refreshed"
    );
    let mut changes = session.response_changes();
    changes.extend(legacy_cookie_clearing(config, req));
    Ok(changes)
}

/// Rotates `refresh_token` in the core. A refused token is [`SessionError::Unauthorised`]
/// (clearing); a reused one revokes its session and is [`SessionError::TokenTheftDetected`].
pub(super) async fn refresh_in_core(
    config: &SessionConfig,
    refresh_token: String,
    anti_csrf_token: Option<String>,
    enable_anti_csrf: bool,
) -> Result<CreatedSession, SessionError> {
    let c = config.inner();
    let outcome = c
        .core
        .refresh_session(RefreshRequest {
            refresh_token,
            anti_csrf_token,
            enable_anti_csrf,
            use_dynamic_signing_key: c.use_dynamic_signing_key,
        })
        .await?;
    match outcome {
        RefreshOutcome::Ok(created) => Ok(created),
        RefreshOutcome::Unauthorised(reason) => {
            tracing::debug!(%reason, "refresh refused by the core");
            Err(SessionError::Unauthorised {
                clear_tokens: true,
                reason: "refresh token invalid or expired",
            })
        }
        RefreshOutcome::TokenTheftDetected {
            handle,
            user_id,
            recipe_user_id,
        } => {
            tracing::warn!(session_handle = %handle, user_id = %user_id, "refresh token theft detected; revoking the session");
            c.core.revoke_sessions(vec![handle.clone()]).await?;
            Err(SessionError::TokenTheftDetected {
                session_handle: handle,
                user_id,
                recipe_user_id,
            })
        }
    }
}

/// Expires the legacy `sIdRefreshToken` cookie if the request has one: refresh answers carry it,
/// whatever their outcome.
pub(crate) fn legacy_cookie_clearing<R: RequestView>(
    config: &SessionConfig,
    req: &R,
) -> ResponseChanges {
    let mut changes = ResponseChanges::default();
    if has_legacy_cookie(req) {
        changes.clear_legacy_id_refresh_cookie(config.inner());
    }
    changes
}

/// `POST {apiBasePath}/signout` (docs/protocol.md §9.2): revokes the request's session; the cleared
/// tokens to send with a 200 `{"status":"OK"}`.
///
/// On an error, the session whose token checked out (if any) went to `keep`, as in
/// [`verify_request`].
pub(crate) async fn sign_out<R: RequestView>(
    config: &SessionConfig,
    req: &R,
    keep: impl FnOnce(&SessionContainer),
) -> Result<ResponseChanges, SessionError> {
    // Sign-out verifies like any POST, but checks no claims: a user must always be able to
    // leave.
    let options = VerifyOptions::new(true).without_global_claims();
    let session =
        verify_request(req, config, &options, keep)
            .await?
            .ok_or(SessionError::Unauthorised {
                clear_tokens: false,
                reason: "no access token",
            })?;
    session.revoke_session().await?;
    Ok(session.response_changes())
}
