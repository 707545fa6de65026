//! The one error type of session verification and its HTTP mapping (protocol §6.3).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// One failed claim validator, as sent in the 403 body (protocol §7.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimValidationError {
    /// The validator id (by default the claim key, e.g. `st-role`).
    pub id: String,
    /// Why it failed, e.g. `{"message":"wrong value","expectedToInclude":"admin","actualValue":[]}`.
    pub reason: serde_json::Value,
}

/// Everything that can stop a request from getting a session.
///
/// Each variant maps to exactly one response of protocol §6.3; the body never carries a token
/// and `Display` never prints one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No usable session: no access token, a session revoked or missing in the core, a refresh
    /// token that is missing or invalid. 401 `{"message":"unauthorised"}`.
    #[error("unauthorised: {reason}")]
    Unauthorised {
        /// Whether the session tokens are cleared in the response (protocol §3.5).
        clear_tokens: bool,
        /// Why, for logs (never sent to the client).
        reason: &'static str,
    },
    /// The access token is expired, badly signed, signed by an unknown key, or failed the
    /// anti-CSRF check; the frontend should refresh. 401 `{"message":"try refresh token"}`.
    #[error("try refresh token: {reason}")]
    TryRefreshToken {
        /// Why, for logs (never sent to the client).
        reason: &'static str,
    },
    /// A refresh token was reused after its rotation: the session was revoked.
    /// 401 `{"message":"token theft detected"}`.
    #[error("token theft detected for session {session_handle}")]
    TokenTheftDetected {
        /// The revoked session.
        session_handle: String,
        /// Its user.
        user_id: String,
        /// Its recipe user.
        recipe_user_id: String,
    },
    /// One or more claim validators failed. 403 with `claimValidationErrors`.
    #[error("invalid claim ({} failed)", .0.len())]
    InvalidClaims(Vec<ClaimValidationError>),
    /// No [`SessionConfig`](crate::SessionConfig) is registered for this app. 500.
    #[error(
        "no SessionConfig registered: add `.app_data(session_config.clone())` to the actix App \
         that serves this route"
    )]
    MissingConfig,
    /// The session core (or key source) is unreachable. 503 with `Retry-After`, so that our
    /// outage never signs a browser out.
    #[error("session core unavailable: {0}")]
    CoreUnavailable(String),
    /// A server-side failure that is not the client's fault. 500.
    #[error("session error: {0}")]
    Internal(String),
}

/// What an error does to the client's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clearing {
    /// Leave tokens alone.
    Keep,
    /// Clear tokens in every transfer method (cookies and headers).
    All,
}

impl SessionError {
    /// The JSON `message` of the body (protocol §6.3).
    pub(crate) fn message(&self) -> &'static str {
        match self {
            SessionError::Unauthorised { .. } => "unauthorised",
            SessionError::TryRefreshToken { .. } => "try refresh token",
            SessionError::TokenTheftDetected { .. } => "token theft detected",
            SessionError::InvalidClaims(_) => "invalid claim",
            SessionError::MissingConfig | SessionError::Internal(_) => "internal error",
            SessionError::CoreUnavailable(_) => "session service unavailable",
        }
    }

    /// Whether the response clears the session tokens.
    pub(crate) fn clearing(&self) -> Clearing {
        match self {
            SessionError::Unauthorised {
                clear_tokens: true, ..
            }
            | SessionError::TokenTheftDetected { .. } => Clearing::All,
            _ => Clearing::Keep,
        }
    }

    /// A short, stable name of the error kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SessionError::Unauthorised { .. } => "unauthorised",
            SessionError::TryRefreshToken { .. } => "try_refresh_token",
            SessionError::TokenTheftDetected { .. } => "token_theft_detected",
            SessionError::InvalidClaims(_) => "invalid_claims",
            SessionError::MissingConfig => "missing_config",
            SessionError::CoreUnavailable(_) => "core_unavailable",
            SessionError::Internal(_) => "internal",
        }
    }

    /// The status with the given codes for "session expired" and "invalid claim".
    pub(crate) fn status_with(
        &self,
        session_expired: StatusCode,
        invalid_claim: StatusCode,
    ) -> StatusCode {
        match self {
            SessionError::Unauthorised { .. }
            | SessionError::TryRefreshToken { .. }
            | SessionError::TokenTheftDetected { .. } => session_expired,
            SessionError::InvalidClaims(_) => invalid_claim,
            SessionError::MissingConfig | SessionError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            SessionError::CoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The response body and status, without touching tokens (callers add clearing headers).
    pub(crate) fn bare_response(&self, status: StatusCode) -> HttpResponse {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            message: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            claim_validation_errors: Option<&'a [ClaimValidationError]>,
        }
        let body = Body {
            message: self.message(),
            claim_validation_errors: match self {
                SessionError::InvalidClaims(errors) => Some(errors),
                _ => None,
            },
        };
        let mut response = HttpResponse::build(status);
        if let SessionError::CoreUnavailable(_) = self {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        response.json(body)
    }
}

/// The default mapping, used when an error escapes without a [`SessionConfig`](crate::SessionConfig)
/// at hand (e.g. returned with `?` from a handler). Routes guarded by `#[verify_session]` answer
/// through the config instead, which adds token clearing and configured status codes.
impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        self.status_with(StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN)
    }

    fn error_response(&self) -> HttpResponse {
        self.bare_response(self.status_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(response: HttpResponse) -> String {
        let bytes = response.into_body().try_into_bytes().unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn bodies_are_spec_exact() {
        let cases = [
            (
                SessionError::Unauthorised {
                    clear_tokens: false,
                    reason: "x",
                },
                401,
                r#"{"message":"unauthorised"}"#,
            ),
            (
                SessionError::TryRefreshToken { reason: "x" },
                401,
                r#"{"message":"try refresh token"}"#,
            ),
            (
                SessionError::InvalidClaims(vec![ClaimValidationError {
                    id: "st-role".into(),
                    reason: serde_json::json!({"message": "wrong value"}),
                }]),
                403,
                r#"{"message":"invalid claim","claimValidationErrors":[{"id":"st-role","reason":{"message":"wrong value"}}]}"#,
            ),
        ];
        for (error, status, body) in cases {
            let response = error.error_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(body_of(response), body);
        }
    }

    #[test]
    fn outage_is_503_with_retry_after() {
        let response = SessionError::CoreUnavailable("down".into()).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
    }
}
