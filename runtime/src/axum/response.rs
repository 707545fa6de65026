//! Writing the protocol's answers into `http` responses: header changes, error answers, and the
//! default answer of a [`SessionError`] returned from a handler.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;

use crate::config::SessionConfig;
use crate::error::{ErrorResponse, RequestInfo, SessionError};
use crate::protocol::{HeaderSink, ResponseChanges, SET_COOKIE, SessionContainer, error_answer};

use super::request::{request_info, slot_of};

/// Applies the protocol's header changes, in order.
pub(crate) fn apply_changes(changes: &ResponseChanges, headers: &mut HeaderMap) {
    changes.apply_to(headers);
}

impl HeaderSink for HeaderMap {
    fn insert(&mut self, name: &'static str, value: &str) {
        if let Ok(value) = HeaderValue::from_str(value) {
            HeaderMap::insert(self, HeaderName::from_static(name), value);
        }
    }

    fn append_set_cookie(&mut self, cookie: &str) {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            self.append(HeaderName::from_static(SET_COOKIE), value);
        }
    }

    fn remove(&mut self, name: &'static str) {
        HeaderMap::remove(self, name);
    }

    fn get(&self, name: &'static str) -> Option<&str> {
        HeaderMap::get(self, name).and_then(|v| v.to_str().ok())
    }
}

/// An [`ErrorResponse`] as an `http` response with any body type that takes a string (axum's,
/// lambda_http's); an invalid status becomes 500, invalid headers are left out.
pub(crate) fn to_response<B: From<String>>(error_response: ErrorResponse) -> http::Response<B> {
    let status =
        StatusCode::from_u16(error_response.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    for (name, value) in error_response.headers() {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.append(name, value);
        }
    }
    let mut response = http::Response::new(B::from(error_response.into_body()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The config's answer to `error`, with the changes of `session` (if any) or the token clearing
/// the error calls for.
pub(crate) async fn answer<B: From<String>>(
    config: &SessionConfig,
    error: &SessionError,
    request: &RequestInfo<'_>,
    session: Option<&SessionContainer>,
) -> http::Response<B> {
    let answer = error_answer(config, error, request, session).await;
    let mut response = to_response(answer.response);
    apply_changes(&answer.changes, response.headers_mut());
    response
}

/// The config's answer to `error` for the request of `parts` (the protocol's default without a
/// config).
pub(crate) async fn reject(
    parts: &Parts,
    config: Option<&SessionConfig>,
    error: SessionError,
) -> Response {
    match config {
        Some(config) => {
            let session = slot_of(&parts.extensions).and_then(|slot| slot.take());
            answer(
                config,
                &error,
                &request_info(&parts.method, &parts.uri),
                session.as_ref(),
            )
            .await
        }
        None => default_response(&error),
    }
}

pub(crate) fn default_response<B: From<String>>(error: &SessionError) -> http::Response<B> {
    to_response(error.default_response(error.status_with(401, 403)))
}

/// A session error a handler returned, for [`SessionLayer`](super::SessionLayer) to answer
/// with the config.
#[derive(Clone)]
pub(crate) struct ReturnedError(pub(crate) Arc<SessionError>);

/// The protocol's default answer for `error`, marked for [`SessionLayer`](super::SessionLayer),
/// which replaces it with the config's answer.
pub(crate) fn returned_error<B: From<String>>(error: SessionError) -> http::Response<B> {
    let mut response = default_response(&error);
    response
        .extensions_mut()
        .insert(ReturnedError(Arc::new(error)));
    response
}

/// The protocol's default answer (401/403/500/503 with the JSON body). Under
/// [`SessionLayer`](super::SessionLayer), it is replaced with the config's answer (configured
/// statuses, error handlers, token clearing), as on routes that verify with the extractors.
impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        returned_error(self)
    }
}
