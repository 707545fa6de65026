//! Sessions in actix-web handlers without the macro: `get_session`, the `SessionContainer` and
//! `MaybeSession` extractors, and creating a session.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

use crate::config::SessionConfig;
use crate::error::SessionError;
use crate::protocol::{self, SessionContainer, VerifyOptions};

use super::request::{remember, remembered};
use super::response::{reject, reject_under_config};
use crate::protocol::SessionParam;

/// Verifies the session with `options`, answering errors with the config's responses.
pub(crate) async fn verify_with_config(
    req: &HttpRequest,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, actix_web::Error> {
    let config = match SessionConfig::from_request(req) {
        Ok(config) => config,
        Err(error) => return Err(reject(req, None, error).await),
    };
    match protocol::verify_request(req, &config, options, |session| remember(req, session)).await {
        Ok(session) => Ok(session),
        Err(error) => Err(reject(req, Some(&config), error).await),
    }
}

/// Verifies the session of `req` without the macro (the SuperTokens `getSession`).
///
/// `Ok(None)` only when `options` do not require a session and the request carries no access
/// token. Under [`SessionMiddleware`](super::SessionMiddleware), session changes reach the
/// client whatever the handler returns, and an error returned with `?` is answered as a
/// `#[verify_session]` route answers it (configured statuses, error handlers, token clearing).
/// Without the middleware, wrap the response in [`WithSession`](super::WithSession) and expect
/// the protocol's default statuses.
///
/// ```no_run
/// use actix_web::{HttpRequest, HttpResponse, get};
/// use sessionward::{SessionError, VerifyOptions, get_session};
///
/// #[get("/like-comment")]
/// async fn like_comment(req: HttpRequest) -> Result<HttpResponse, SessionError> {
///     let enable_csrf_protection = true;
///     let options = VerifyOptions::new(true).anti_csrf_check(enable_csrf_protection);
///     // With a required session, `Ok` always holds one.
///     let session = get_session(&req, &options).await?;
///     let user_id = session.as_ref().map(|s| s.user_id());
///     Ok(HttpResponse::Ok().json(serde_json::json!({ "userId": user_id })))
/// }
/// ```
///
/// # Errors
/// A [`SessionError`] (docs/protocol.md §6.3); [`SessionError::MissingConfig`] when no config is
/// registered for the route.
pub async fn get_session(
    req: &HttpRequest,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, SessionError> {
    let config = SessionConfig::from_request(req)?;
    protocol::verify_request(req, &config, options, |session| remember(req, session)).await
}

/// The session the middleware (or an earlier extractor) already verified for this request, or
/// one verified now with the default options of a required or optional session.
async fn request_session(
    req: &HttpRequest,
    required: bool,
) -> Result<Option<SessionContainer>, actix_web::Error> {
    if let Some(session) = remembered(req) {
        return Ok(Some(session));
    }
    let options = protocol::extractor_options(required);
    verify_with_config(req, options).await
}

/// Verifies with the default options (required session, the config's global claims), or
/// takes the session [`SessionMiddleware`](super::SessionMiddleware) already verified for this
/// request. Prefer `#[verify_session]`: actix runs sibling extractors concurrently, so a body
/// extractor may answer 400 before this one answers 401.
impl FromRequest for SessionContainer {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = request_session(&req, true).await?;
            match SessionContainer::from_verified(session) {
                Ok(session) => Ok(session),
                Err(error) => Err(reject_under_config(&req, error).await),
            }
        })
    }
}

/// An optional session as a plain extractor: `None` without an access token, a 401 for an
/// expired or invalid one (unlike `Option<SessionContainer>`, which actix would turn into
/// `None` on any error).
///
/// Prefer `#[verify_session(required = false)]`, which also runs before body extractors.
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<SessionContainer>);

impl FromRequest for MaybeSession {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { request_session(&req, false).await.map(MaybeSession) })
    }
}

/// Creates a new session for `user_id` in the `public` tenant; its tokens go out with the
/// response to `req` (cookies or headers, as the frontend asked with `st-auth-mode`).
///
/// Under [`SessionMiddleware`](super::SessionMiddleware) any response carries them; without
/// it, return [`WithSession`](super::WithSession). `payload` must be a JSON object (or `null`);
/// protected fields such as `sub` are dropped.
///
/// ```no_run
/// use actix_web::{HttpRequest, HttpResponse, post};
/// use sessionward::{SessionError, create_new_session};
///
/// #[post("/login")]
/// async fn login(req: HttpRequest) -> Result<HttpResponse, SessionError> {
///     // ... check the user's credentials first ...
///     let session = create_new_session(&req, "user-1", serde_json::json!({"plan": "pro"})).await?;
///     Ok(HttpResponse::Ok().json(serde_json::json!({"userId": session.user_id()})))
/// }
/// ```
///
/// # Errors
/// [`SessionError::MissingConfig`] without a registered config, [`SessionError::Internal`]
/// when `payload` is not an object, [`SessionError::CoreUnavailable`] when the core is down.
pub async fn create_new_session(
    req: &HttpRequest,
    user_id: &str,
    payload: Value,
) -> Result<SessionContainer, SessionError> {
    create_new_session_for_tenant(req, "public", user_id, payload).await
}

/// [`create_new_session`] in a given tenant.
///
/// # Errors
/// As [`create_new_session`].
pub async fn create_new_session_for_tenant(
    req: &HttpRequest,
    tenant_id: &str,
    user_id: &str,
    payload: Value,
) -> Result<SessionContainer, SessionError> {
    let config = SessionConfig::from_request(req)?;
    let session = protocol::create_session(&config, req, tenant_id, user_id, payload).await?;
    remember(req, &session);
    Ok(session)
}
