//! Writing the protocol's answers into actix-web responses: header changes, error answers, and
//! the default answer of a [`SessionError`] returned from a handler.

use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::config::SessionConfig;
use crate::error::{ErrorResponse, SessionError};
use crate::protocol::{HeaderSink, ResponseChanges, SET_COOKIE, error_answer};

use super::request::{request_info, take_remembered};

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

/// Writes the changes of the session remembered for `req` (if any, and only once).
pub(crate) fn apply_pending(req: &HttpRequest, headers: &mut HeaderMap) {
    if let Some(session) = take_remembered(req) {
        let changes = session.response_changes();
        if !changes.is_empty() {
            apply_changes(&changes, headers);
        }
    }
}

/// An [`ErrorResponse`] as an actix-web response (an invalid status becomes 500; invalid
/// headers are left out).
pub(crate) fn to_http_response(response: ErrorResponse) -> HttpResponse {
    let status =
        StatusCode::from_u16(response.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in response.headers() {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            builder.append_header((name, value));
        }
    }
    builder.body(response.into_body())
}

impl SessionConfig {
    /// The response this config gives `error` for `req`, exactly as a `#[verify_session]`
    /// route answers it: the configured statuses and error handlers, and the token clearing
    /// the error calls for. For your own middleware or handlers that catch a
    /// [`SessionError`] (the SDKs' error handler).
    ///
    /// ```no_run
    /// use actix_web::{HttpRequest, HttpResponse, get};
    /// use sessionward::{SessionConfig, VerifyOptions, get_session};
    ///
    /// #[get("/likes")]
    /// async fn likes(req: HttpRequest) -> HttpResponse {
    ///     match get_session(&req, &VerifyOptions::new(true)).await {
    ///         Ok(session) => HttpResponse::Ok().json(session.map(|s| s.user_id().to_owned())),
    ///         Err(error) => match SessionConfig::from_request(&req) {
    ///             Ok(config) => config.error_response(&req, &error).await,
    ///             Err(missing) => HttpResponse::InternalServerError().body(missing.to_string()),
    ///         },
    ///     }
    /// }
    /// ```
    pub async fn error_response(&self, req: &HttpRequest, error: &SessionError) -> HttpResponse {
        let session = take_remembered(req);
        let answer = error_answer(self, error, &request_info(req), session.as_ref()).await;
        let mut response = to_http_response(answer.response);
        apply_changes(&answer.changes, response.headers_mut());
        response
    }
}

/// Turns a session error into an actix error whose response follows the config (or the
/// protocol's defaults without one).
pub(crate) async fn reject(
    req: &HttpRequest,
    config: Option<&SessionConfig>,
    error: SessionError,
) -> actix_web::Error {
    let response = match config {
        Some(config) => config.error_response(req, &error).await,
        None => {
            tracing::error!(error = %error, "sessionward: request rejected without config");
            error.error_response()
        }
    };
    InternalError::from_response(error, response).into()
}

/// [`reject`] under the request's config, if it has one.
pub(crate) async fn reject_under_config(
    req: &HttpRequest,
    error: SessionError,
) -> actix_web::Error {
    let config = SessionConfig::from_request(req).ok();
    reject(req, config.as_ref(), error).await
}

/// The protocol's default answer (401/403/500/503 with the JSON body), used when an error is
/// returned from a handler with `?`. [`SessionMiddleware`](super::SessionMiddleware) replaces
/// it with the config's answer (configured statuses, error handlers, token clearing).
impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status_with(401, 403))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        to_http_response(self.default_response(self.status_with(401, 403)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;
    use actix_web::http::header;

    #[test]
    fn the_default_answer_is_the_protocols() {
        let error = SessionError::TryRefreshToken { reason: "x" };
        let response = ResponseError::error_response(&error);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let body = response.into_body().try_into_bytes().unwrap();
        assert_eq!(&body[..], br#"{"message":"try refresh token"}"#);
    }

    #[test]
    fn changes_apply_in_order_and_expose_each_header_once() {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("access-control-expose-headers"),
            HeaderValue::from_static("x-own"),
        );
        let dir = tempfile::tempdir().unwrap();
        let config = SessionConfig::builder()
            .data_dir(dir.path())
            .build()
            .unwrap();
        let mut changes = ResponseChanges::default();
        changes.clear_all(config.inner());
        apply_changes(&changes, &mut headers);
        assert_eq!(headers.get_all(header::SET_COOKIE).count(), 2);
        assert_eq!(headers.get("front-token").unwrap(), "remove");
        assert_eq!(
            headers.get("access-control-expose-headers").unwrap(),
            "x-own, front-token, st-access-token, st-refresh-token"
        );
    }
}
