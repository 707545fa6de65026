//! Sessions in axum handlers: the `SessionContainer` and `Option<SessionContainer>` extractors,
//! [`get_session`] and creating a session.

use axum::extract::{FromRequestParts, OptionalFromRequestParts, RawPathParams};
use axum::response::Response;
use http::request::Parts;
use serde_json::Value;

use crate::error::SessionError;
use crate::protocol::{self, SessionContainer, VerifyOptions};

use super::request::{HttpView, RequestSession, config_of};
use super::response::reject;

/// Verifies the session of a request with `options` and the config of the layer's `state`,
/// remembering it there for the layer.
pub(crate) async fn verify_parts(
    parts: &mut Parts,
    state: &RequestSession,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, SessionError> {
    let params = match options.tenant_param {
        Some(_) => RawPathParams::from_request_parts(parts, &()).await.ok(),
        None => None,
    };
    let view = HttpView::of_parts(parts, params.as_ref());
    protocol::verify_request(&view, state.config(), options, |session| {
        state.remember(session);
    })
    .await
}

/// The session [`SessionLayer::require`](super::SessionLayer::require) (or an earlier
/// extractor) already verified for this request, or one verified now with the default options
/// of a required or optional session; errors are answered with the config's responses.
async fn request_session(
    parts: &mut Parts,
    required: bool,
) -> Result<Option<SessionContainer>, Response> {
    // One look into the extensions for both the remembered session and the config.
    let state = match config_of(&parts.extensions, &parts.uri) {
        Ok(state) => state,
        Err(error) => return Err(reject(parts, None, error).await),
    };
    if let Some(session) = state.get() {
        return Ok(Some(session));
    }
    let options = protocol::extractor_options(required);
    match verify_parts(parts, &state, options).await {
        Ok(session) => Ok(session),
        Err(error) => Err(reject(parts, Some(state.config()), error).await),
    }
}

/// A required session: 401 without one, with the config's statuses, handlers and clearing.
/// Runs before any body extractor (axum extracts request parts first, in order).
impl<S: Send + Sync> FromRequestParts<S> for SessionContainer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match request_session(parts, true).await? {
            Some(session) => Ok(session),
            None => {
                let error = SessionError::Unauthorised {
                    clear_tokens: false,
                    reason: "no access token",
                };
                let state = config_of(&parts.extensions, &parts.uri).ok();
                Err(reject(parts, state.as_ref().map(|s| s.config()), error).await)
            }
        }
    }
}

/// An optional session: `None` without an access token; an expired or invalid token is still
/// answered (401), so the frontend refreshes rather than showing a guest page.
impl<S: Send + Sync> OptionalFromRequestParts<S> for SessionContainer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        request_session(parts, false).await
    }
}

/// Verifies the session of a request with `options` (the SuperTokens `getSession`) from an
/// axum handler that takes the request's `Parts`.
///
/// Under [`SessionLayer`](super::SessionLayer), session changes reach the client whatever the
/// handler returns, and an error returned with `?` gets the config's answer.
///
/// ```no_run
/// use axum::http::request::Parts;
/// use axum::Json;
/// use sessionward::axum::get_session;
/// use sessionward::{SessionError, VerifyOptions};
///
/// async fn like_comment(mut parts: Parts) -> Result<Json<serde_json::Value>, SessionError> {
///     let session = get_session(&mut parts, &VerifyOptions::new(true).anti_csrf_check(true)).await?;
///     let user_id = session.as_ref().map(|s| s.user_id());
///     Ok(Json(serde_json::json!({ "userId": user_id })))
/// }
/// ```
///
/// # Errors
/// A [`SessionError`] (docs/protocol.md §6.3); [`SessionError::MissingConfig`] without the layer.
pub async fn get_session(
    parts: &mut Parts,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, SessionError> {
    let state = config_of(&parts.extensions, &parts.uri)?;
    verify_parts(parts, &state, options).await
}

/// Creates a new session for `user_id` in the `public` tenant; under
/// [`SessionLayer`](super::SessionLayer) its tokens go out with the response (cookies or
/// headers, as the frontend asked with `st-auth-mode`).
///
/// # Errors
/// [`SessionError::MissingConfig`] without the layer, [`SessionError::Internal`] when `payload`
/// is not an object, [`SessionError::CoreUnavailable`] when the core is down.
pub async fn create_new_session(
    parts: &Parts,
    user_id: &str,
    payload: Value,
) -> Result<SessionContainer, SessionError> {
    create_new_session_for_tenant(parts, "public", user_id, payload).await
}

/// [`create_new_session`] in a given tenant.
///
/// # Errors
/// As [`create_new_session`].
pub async fn create_new_session_for_tenant(
    parts: &Parts,
    tenant_id: &str,
    user_id: &str,
    payload: Value,
) -> Result<SessionContainer, SessionError> {
    let state = config_of(&parts.extensions, &parts.uri)?;
    let view = HttpView::of_parts(parts, None);
    let session =
        protocol::create_session(state.config(), &view, tenant_id, user_id, payload).await?;
    state.remember(&session);
    Ok(session)
}
