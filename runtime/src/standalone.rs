//! Sessions without the macro: `get_session` for a request, the request-less verification for
//! websockets, jobs and serverless adapters, the SSR check that never refreshes, and the
//! `MaybeSession` extractor.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde_json::{Map, Value};

use crate::config::{AntiCsrf, SessionConfig};
use crate::error::SessionError;
use crate::guard::verify_with_config;
use crate::session::SessionContainer;
use crate::token::{self, TokenError};
use crate::transfer::{self, Transfer};
use crate::util::now_ms;
use crate::verify::{
    Presented, Token, VerifyOptions, validate_route_claims, verify_presented, verify_request,
};

/// Verifies the session of `req` without the macro (the SuperTokens `getSession`).
///
/// `Ok(None)` only when `options` do not require a session and the request carries no access
/// token. Session changes reach the client when the response goes through
/// [`WithSession`](crate::WithSession).
///
/// ```no_run
/// use actix_web::{HttpRequest, HttpResponse, get};
/// use sessionward::{SessionError, VerifyOptions, WithSession, get_session};
///
/// #[get("/maybe")]
/// async fn maybe(req: HttpRequest) -> Result<WithSession<HttpResponse>, SessionError> {
///     let session = get_session(&req, &VerifyOptions::new(false)).await?;
///     let who = session.map(|s| s.user_id().to_owned()).unwrap_or_default();
///     Ok(WithSession::new(HttpResponse::Ok().body(who)))
/// }
/// ```
///
/// The older `getSession(req, res, enableCsrfProtection)` contract, with 440 for an expired
/// session, is a config status plus an option:
///
/// ```no_run
/// # use sessionward::{SessionConfig, VerifyOptions};
/// # use actix_web::http::StatusCode;
/// let config = SessionConfig::builder()
///     .data_dir("./session-data")
///     .session_expired_status(StatusCode::from_u16(440).unwrap())
///     .build();
/// let enable_csrf_protection = true;
/// let options = VerifyOptions::new(true).anti_csrf_check(enable_csrf_protection);
/// ```
///
/// # Errors
/// The [`SessionError`] of protocol §6.3; returned from a handler it answers with the default
/// statuses (routes under `#[verify_session]` answer with the configured ones).
pub async fn get_session(
    req: &HttpRequest,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, SessionError> {
    let config = SessionConfig::from_request(req)?;
    verify_request(req, config, options).await
}

/// What the SSR check found (the SDKs' `getSSRSession`).
#[derive(Debug, Clone, PartialEq)]
pub enum SsrSession {
    /// A valid access token: the page can render for this user.
    Valid {
        /// The primary user id.
        user_id: String,
        /// The tenant.
        tenant_id: String,
        /// The session handle.
        handle: String,
        /// The whole access-token payload.
        payload: Map<String, Value>,
    },
    /// A token is present but expired or unverifiable: send the browser through the
    /// frontend's refresh (e.g. a page that calls `attemptRefreshingSession()`), then back.
    RefreshNeeded,
    /// No session: redirect to the login page.
    NoSession,
}

impl SessionConfig {
    /// Verifies an access token without a request (the SDKs'
    /// `getSessionWithoutRequestResponse`): websockets, background jobs, serverless adapters.
    ///
    /// The session's changes are not written anywhere: read them with
    /// [`SessionContainer::get_all_session_tokens_dangerously`]. With anti-CSRF
    /// `ViaCustomHeader`, the check cannot be made without headers: disable it with
    /// `options.anti_csrf_check(false)`.
    ///
    /// # Errors
    /// As [`get_session`]; [`SessionError::Internal`] when a custom-header anti-CSRF check is
    /// asked for.
    pub async fn get_session_without_request_response(
        &self,
        access_token: &str,
        anti_csrf_token: Option<&str>,
        options: &VerifyOptions,
    ) -> Result<Option<SessionContainer>, SessionError> {
        let do_anti_csrf = options.anti_csrf_check.unwrap_or(false);
        if do_anti_csrf && self.inner().anti_csrf == AntiCsrf::ViaCustomHeader {
            return Err(SessionError::Internal(
                "a custom-header anti-CSRF check needs request headers: pass anti_csrf_check(false)"
                    .into(),
            ));
        }
        let Ok(parsed) = token::parse_access_token(access_token) else {
            return if options.required {
                Err(SessionError::Unauthorised {
                    clear_tokens: false,
                    reason: "not an access token",
                })
            } else {
                Ok(None)
            };
        };
        let presented = Presented {
            raw: access_token,
            token: Token::Parsed(parsed, None),
            transfer: Transfer::Header,
            anti_csrf_header: anti_csrf_token,
            do_anti_csrf,
        };
        let verify = async {
            let session = verify_presented(self, presented, options.check_database).await?;
            crate::observe::record_session(&session);
            validate_route_claims(self, &session, options).await?;
            Ok(Some(session))
        };
        let span = crate::observe::verify_span(None);
        crate::observe::verification(span, verify).await
    }

    /// Checks the session of a page request for server-side rendering, never refreshing and
    /// never calling the core: a signature and expiry check of the cookie (or bearer) token.
    pub async fn ssr_session(&self, req: &HttpRequest) -> SsrSession {
        let bearer = transfer::bearer_token(req)
            .ok()
            .flatten()
            .map(str::to_owned);
        let cookie = transfer::cookie_values(req, transfer::ACCESS_TOKEN_COOKIE)
            .into_iter()
            .next();
        let Some(raw) = bearer
            .into_iter()
            .chain(cookie)
            .find(|t| token::parse_access_token(t).is_ok())
        else {
            return SsrSession::NoSession;
        };
        let Ok(parsed) = token::parse_access_token(&raw) else {
            return SsrSession::NoSession;
        };
        match token::verify_access_token(parsed, self.keys(), now_ms()).await {
            Ok(info) => SsrSession::Valid {
                user_id: info.user_id,
                tenant_id: info.tenant_id,
                handle: info.session_handle,
                payload: Arc::unwrap_or_clone(info.payload),
            },
            Err(TokenError::Malformed(_)) => SsrSession::NoSession,
            Err(_) => SsrSession::RefreshNeeded,
        }
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
        Box::pin(async move {
            static OPTIONAL: std::sync::OnceLock<VerifyOptions> = std::sync::OnceLock::new();
            let options = OPTIONAL.get_or_init(|| VerifyOptions::new(false));
            verify_with_config(&req, options).await.map(MaybeSession)
        })
    }
}
