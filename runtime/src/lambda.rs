//! AWS Lambda (feature `lambda`): sessions in a `lambda_http` function behind API Gateway
//! (REST or HTTP API) or an ALB, with the same answers as the web frameworks.
//!
//! `lambda_http` runs a tower service, so [`SessionLayer`] wraps it as it wraps an axum
//! router: it serves `POST {apiBasePath}/session/refresh` and `POST {apiBasePath}/signout`
//! (and `GET {apiBasePath}/jwt/jwks.json` and `GET {apiBasePath}/.well-known/openid-configuration`),
//! applies session changes to every response (new tokens after login or a refresh promotion,
//! cleared tokens after sign-out), and answers session errors with the config's statuses,
//! handlers and token clearing. Handlers verify with [`get_session`] (route options: claims,
//! anti-CSRF, `check_database`) and log users in with [`create_new_session`]; a handler that
//! fails with a [`SessionError`] answers it with [`error_response`].
//!
//! Behind an API Gateway stage (`https://…/dev/…`), set
//! [`SessionConfigBuilder::api_gateway_path`](crate::SessionConfigBuilder::api_gateway_path)
//! so the refresh cookie's path and the endpoints include it. Every instance must verify with
//! the same keys: in production point the config at a SuperTokens Core (`core-client`), as the
//! SDKs' serverless guides do; the embedded core's data directory works on one machine only.
//!
//! ```no_run
//! use lambda_http::{Body, Error, Request, Response, service_fn};
//! use sessionward::lambda::{Layer, SessionLayer, error_response, get_session};
//! use sessionward::{SessionConfig, SessionError, VerifyOptions};
//!
//! async fn handler(request: Request) -> Result<Response<Body>, Error> {
//!     Ok(user(&request).await.unwrap_or_else(error_response))
//! }
//!
//! async fn user(request: &Request) -> Result<Response<Body>, SessionError> {
//!     let session = get_session(request, &VerifyOptions::new(true)).await?;
//!     let user_id = session.as_ref().map(|s| s.user_id().to_owned());
//!     Ok(Response::new(Body::from(serde_json::json!({ "userId": user_id }).to_string())))
//! }
//!
//! # async fn run() -> Result<(), Error> {
//! let config = SessionConfig::builder()
//!     .data_dir("/tmp/sessions")
//!     .api_gateway_path("/dev")
//!     .build()?;
//! lambda_http::run(SessionLayer::new(config).layer(service_fn(handler))).await
//! # }
//! ```

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::axum::{HttpView, config_of, returned_error};
use crate::error::SessionError;
use crate::protocol::{self, SessionContainer, VerifyOptions};

pub use crate::axum::{SessionLayer, SessionService};
/// The tower trait whose `layer` wraps a `lambda_http` service in [`SessionLayer`].
pub use tower_layer::Layer;

/// Verifies the session of `request` with `options` (the SuperTokens `getSession`). Under
/// [`SessionLayer`], the session's changes reach the response.
///
/// # Errors
/// A [`SessionError`] (docs/protocol.md §6.3); [`SessionError::MissingConfig`] without the layer.
pub async fn get_session(
    request: &Request,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, SessionError> {
    let state = config_of(request.extensions(), request.uri())?;
    let view = HttpView::of_request(request);
    protocol::verify_request(&view, state.config(), options, |session| {
        state.remember(session);
    })
    .await
}

/// Creates a new session for `user_id` in the `public` tenant; under [`SessionLayer`] its
/// tokens go out with the response (cookies or headers, as the frontend asked).
///
/// # Errors
/// [`SessionError::MissingConfig`] without the layer, [`SessionError::Internal`] when `payload`
/// is not an object, [`SessionError::CoreUnavailable`] when the core is down.
pub async fn create_new_session(
    request: &Request,
    user_id: &str,
    payload: Value,
) -> Result<SessionContainer, SessionError> {
    create_new_session_for_tenant(request, "public", user_id, payload).await
}

/// [`create_new_session`] in a given tenant.
///
/// # Errors
/// As [`create_new_session`].
pub async fn create_new_session_for_tenant(
    request: &Request,
    tenant_id: &str,
    user_id: &str,
    payload: Value,
) -> Result<SessionContainer, SessionError> {
    let state = config_of(request.extensions(), request.uri())?;
    let view = HttpView::of_request(request);
    let session =
        protocol::create_session(state.config(), &view, tenant_id, user_id, payload).await?;
    state.remember(&session);
    Ok(session)
}

/// The answer to `error`: the protocol's JSON body, which [`SessionLayer`] replaces with the
/// config's answer (configured statuses, error handlers, token clearing).
pub fn error_response(error: SessionError) -> Response<Body> {
    returned_error(error)
}
