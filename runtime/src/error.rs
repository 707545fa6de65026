//! The errors of session handling and the one table that maps them to answers (docs/protocol.md
//! §6.3): status, body, token clearing and error-handler slot, used by every adapter.

use serde::Serialize;

/// One failed claim validator, as sent in the 403 body (docs/protocol.md §7.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimValidationError {
    /// The validator id (by default the claim key, e.g. `st-role`).
    pub id: String,
    /// Why it failed, e.g. `{"message":"wrong value","expectedToInclude":"admin","actualValue":[]}`.
    pub reason: serde_json::Value,
}

/// Why a call to the session core failed (as opposed to a logical "no" such as unauthorised).
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

/// Everything that can stop a request from getting a session.
///
/// Each variant maps to exactly one answer of docs/protocol.md §6.3
/// ([`status_with`](Self::status_with), [`default_response`](Self::default_response)); the body
/// never carries a token and `Display` never prints one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// No usable session: no access token, a session revoked or missing in the core, a refresh
    /// token that is missing or invalid. 401 `{"message":"unauthorised"}`.
    #[error("unauthorised: {reason}")]
    Unauthorised {
        /// Whether the session tokens are cleared in the response (docs/protocol.md §3.5).
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
    /// No [`SessionConfig`](crate::SessionConfig) is registered for the app serving the
    /// request. 500.
    #[error(
        "no SessionConfig registered: wrap the app in the session middleware or register the \
         config as app data"
    )]
    MissingConfig,
    /// The session core (or key source) is unreachable. 503 with `Retry-After`, so that our
    /// outage never signs a browser out.
    #[error("session core unavailable")]
    CoreUnavailable(#[source] CoreError),
    /// The session core failed or refused a request for a reason that is not the client's.
    /// 500.
    #[error("session core failed")]
    Core(#[source] CoreError),
    /// A server-side failure that is not the client's fault. 500.
    #[error("session error: {0}")]
    Internal(String),
}

impl From<CoreError> for SessionError {
    fn from(error: CoreError) -> Self {
        crate::metric::core_error(match &error {
            CoreError::Unavailable(_) => "unavailable",
            CoreError::BadRequest(_) => "bad_request",
            CoreError::Internal(_) => "internal",
        });
        match error {
            CoreError::Unavailable(_) => SessionError::CoreUnavailable(error),
            CoreError::BadRequest(_) | CoreError::Internal(_) => SessionError::Core(error),
        }
    }
}

/// What an error does to the client's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clearing {
    /// Leave tokens alone.
    Keep,
    /// Clear tokens in every transfer method (cookies and headers).
    All,
}

/// Which configured error handler answers an error, if one is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlerSlot {
    Unauthorised,
    TryRefreshToken,
    InvalidClaim,
    TokenTheftDetected,
}

/// Seconds a client should wait after a 503 before retrying.
const RETRY_AFTER_SECS: &str = "5";

impl SessionError {
    /// The JSON `message` of the body (docs/protocol.md §6.3).
    pub(crate) fn message(&self) -> &'static str {
        match self {
            SessionError::Unauthorised { .. } => "unauthorised",
            SessionError::TryRefreshToken { .. } => "try refresh token",
            SessionError::TokenTheftDetected { .. } => "token theft detected",
            SessionError::InvalidClaims(_) => "invalid claim",
            SessionError::MissingConfig | SessionError::Core(_) | SessionError::Internal(_) => {
                "internal error"
            }
            SessionError::CoreUnavailable(_) => "session service unavailable",
        }
    }

    /// Whether the answer clears the session tokens.
    pub(crate) fn clearing(&self) -> Clearing {
        match self {
            SessionError::Unauthorised {
                clear_tokens: true, ..
            }
            | SessionError::TokenTheftDetected { .. } => Clearing::All,
            _ => Clearing::Keep,
        }
    }

    /// The configured handler that may answer this error instead of the default body.
    pub(crate) fn handler_slot(&self) -> Option<HandlerSlot> {
        match self {
            SessionError::Unauthorised { .. } => Some(HandlerSlot::Unauthorised),
            SessionError::TryRefreshToken { .. } => Some(HandlerSlot::TryRefreshToken),
            SessionError::InvalidClaims(_) => Some(HandlerSlot::InvalidClaim),
            SessionError::TokenTheftDetected { .. } => Some(HandlerSlot::TokenTheftDetected),
            _ => None,
        }
    }

    /// Whether the error is the server's fault (logged as an error, not as a rejection).
    pub(crate) fn is_server_fault(&self) -> bool {
        matches!(
            self,
            SessionError::MissingConfig | SessionError::Core(_) | SessionError::Internal(_)
        )
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
            SessionError::Core(_) | SessionError::Internal(_) => "internal",
        }
    }

    /// The status of this error, given the statuses for "session expired" (default 401) and
    /// "invalid claim" (default 403).
    pub fn status_with(&self, session_expired: u16, invalid_claim: u16) -> u16 {
        match self {
            SessionError::Unauthorised { .. }
            | SessionError::TryRefreshToken { .. }
            | SessionError::TokenTheftDetected { .. } => session_expired,
            SessionError::InvalidClaims(_) => invalid_claim,
            SessionError::MissingConfig | SessionError::Core(_) | SessionError::Internal(_) => 500,
            SessionError::CoreUnavailable(_) => 503,
        }
    }

    /// The protocol's answer with `status`: the JSON body, and `Retry-After` on a 503. Token
    /// clearing is not part of it (the adapters add it where [`SessionConfig`] calls for it).
    ///
    /// [`SessionConfig`]: crate::SessionConfig
    pub fn default_response(&self, status: u16) -> ErrorResponse {
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
        let response = ErrorResponse::json(status, &body);
        if let SessionError::CoreUnavailable(_) = self {
            response.with_header("retry-after", RETRY_AFTER_SECS)
        } else {
            response
        }
    }
}

/// A response to a session error, independent of the web framework: what the configured
/// error handlers return ([`SessionConfigBuilder::on_unauthorised`] and the others) and what
/// [`SessionError::default_response`] builds. Each adapter turns it into its framework's
/// response and adds the token clearing the error calls for.
///
/// ```
/// use sessionward::ErrorResponse;
///
/// let to_login = ErrorResponse::redirect("/login?next=%2Faccount");
/// assert_eq!(to_login.status(), 302);
/// let text = ErrorResponse::text(440, "Session expired! Please login again");
/// assert_eq!(text.body(), "Session expired! Please login again");
/// ```
///
/// [`SessionConfigBuilder::on_unauthorised`]: crate::SessionConfigBuilder::on_unauthorised
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl ErrorResponse {
    /// An empty response with `status` (a status outside 100–999 is answered as 500).
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// `body` serialised as JSON, with `content-type: application/json`.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        let body = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
        Self::new(status)
            .with_header("content-type", "application/json")
            .with_body(body)
    }

    /// A plain-text body, with `content-type: text/plain; charset=utf-8`.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status)
            .with_header("content-type", "text/plain; charset=utf-8")
            .with_body(body)
    }

    /// An HTML body, with `content-type: text/html; charset=utf-8`.
    pub fn html(status: u16, body: impl Into<String>) -> Self {
        Self::new(status)
            .with_header("content-type", "text/html; charset=utf-8")
            .with_body(body)
    }

    /// A `302 Found` to `location`, e.g. the login page of server-rendered routes.
    pub fn redirect(location: impl Into<String>) -> Self {
        Self::new(302).with_header("location", location)
    }

    /// Adds a header (a name or value that is not valid HTTP is left out when sent).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The body, taken out.
    pub fn into_body(self) -> String {
        self.body
    }
}

/// What an error handler sees of the request that failed: its method, path and query.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'r> {
    method: &'r str,
    path: &'r str,
    query: &'r str,
}

impl<'r> RequestInfo<'r> {
    /// The request line's parts (the query without its `?`).
    pub fn new(method: &'r str, path: &'r str, query: &'r str) -> Self {
        Self {
            method,
            path,
            query,
        }
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &'r str {
        self.method
    }

    /// The path, without the query.
    pub fn path(&self) -> &'r str {
        self.path
    }

    /// The query string without its `?` (empty when there is none).
    pub fn query(&self) -> &'r str {
        self.query
    }

    /// The path and, if any, `?` and the query: where to come back to after a login.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.to_owned()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

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
            let response = error.default_response(error.status_with(401, 403));
            assert_eq!(response.status(), status);
            assert_eq!(response.body(), body);
        }
    }

    #[test]
    fn configured_statuses_apply_to_expiry_and_claims_only() {
        let expired = SessionError::TryRefreshToken { reason: "x" };
        assert_eq!(expired.status_with(440, 403), 440);
        let claims = SessionError::InvalidClaims(Vec::new());
        assert_eq!(claims.status_with(440, 409), 409);
        let outage = SessionError::from(CoreError::Unavailable("down".into()));
        assert_eq!(outage.status_with(440, 409), 503);
    }

    #[test]
    fn outage_is_503_with_retry_after_and_keeps_its_cause() {
        let error = SessionError::from(CoreError::Unavailable("connection refused".into()));
        let response = error.default_response(error.status_with(401, 403));
        assert_eq!(response.status(), 503);
        assert!(
            response
                .headers()
                .any(|(n, v)| n == "retry-after" && v == "5")
        );
        assert!(!response.body().contains("refused"));
        let source = error.source().expect("the core error is the source");
        assert!(source.to_string().contains("connection refused"));
    }

    #[test]
    fn core_failures_are_server_faults_with_their_cause() {
        let error = SessionError::from(CoreError::BadRequest("bad field".into()));
        assert!(error.is_server_fault());
        assert_eq!(error.status_with(401, 403), 500);
        assert_eq!(error.kind(), "internal");
        assert!(error.source().unwrap().to_string().contains("bad field"));
    }
}
