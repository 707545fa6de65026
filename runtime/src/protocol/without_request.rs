//! Sessions without a request and response to write to: verifying a bare access token
//! (websockets, jobs, serverless functions) and the server-side-rendering check that never
//! refreshes.

use std::sync::Arc;

use serde_json::{Map, Value};
use tracing::Instrument;

use crate::config::{AntiCsrf, SessionConfig};
use crate::error::SessionError;
use crate::observe::Verification;
use crate::token::{self, TokenError};
use crate::util::now_ms;

use super::claims_check::validate_route_claims;
use super::create::create_in_core;
use super::options::VerifyOptions;
use super::read::{ACCESS_TOKEN_COOKIE, Transfer, bearer_token, cookie_values};
use super::refresh::refresh_in_core;
use super::request::RequestView;
use super::session::SessionContainer;
use super::verify::{Presented, Token, verify_presented};

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
    /// `getSessionWithoutRequestResponse`): websockets, background jobs, serverless functions.
    ///
    /// The session's changes are not written anywhere: read them with
    /// [`SessionContainer::get_all_session_tokens_dangerously`]. With anti-CSRF
    /// `ViaCustomHeader`, the check cannot be made without headers: disable it with
    /// `options.anti_csrf_check(false)`.
    ///
    /// # Errors
    /// A [`SessionError`] (docs/protocol.md §6.3); [`SessionError::Internal`] when a custom-header
    /// anti-CSRF check is asked for.
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
        let verification = Verification::start(None);
        let verified = async {
            let session =
                verify_presented(self, presented, options.check_database, now_ms()).await?;
            validate_route_claims(self, &session, options).await?;
            Ok(Some(session))
        }
        .instrument(verification.span())
        .await;
        verification.finish(&verified);
        match self.overridden_functions() {
            None => verified,
            Some(functions) => functions.get_session(None, options, verified).await,
        }
    }

    /// Creates a session without a request (the SDKs' `createNewSessionWithoutRequestResponse`):
    /// for `user_id` in `tenant_id`, with `access_token_payload` (a JSON object or `null`;
    /// protected fields are dropped) and `session_data` kept in the database only. With the
    /// `ViaToken` anti-CSRF mode an anti-CSRF token is issued unless `disable_anti_csrf`.
    ///
    /// Nothing is written anywhere: hand the tokens to the client yourself
    /// ([`SessionContainer::get_all_session_tokens_dangerously`]).
    ///
    /// # Errors
    /// [`SessionError::Internal`] when the payload is not an object or a claim fetch fails;
    /// core failures.
    pub async fn create_new_session_without_request_response(
        &self,
        tenant_id: &str,
        user_id: &str,
        access_token_payload: Value,
        session_data: Value,
        disable_anti_csrf: bool,
    ) -> Result<SessionContainer, SessionError> {
        let enable_anti_csrf = !disable_anti_csrf && self.inner().anti_csrf == AntiCsrf::ViaToken;
        let created = create_in_core(
            self,
            tenant_id,
            user_id,
            access_token_payload,
            session_data,
            enable_anti_csrf,
        )
        .await?;
        let session = SessionContainer::from_created(self, created, Transfer::Header, false)?;
        crate::observe::session_created();
        Ok(session)
    }

    /// Refreshes a session without a request (the SDKs' `refreshSessionWithoutRequestResponse`):
    /// rotates `refresh_token` and returns the session with its new tokens
    /// ([`SessionContainer::get_all_session_tokens_dangerously`]). With the `ViaToken`
    /// anti-CSRF mode, `anti_csrf_token` must match unless `disable_anti_csrf`. A refresh token
    /// used after its rotation revokes the session, as on the refresh endpoint.
    ///
    /// # Errors
    /// [`SessionError::Unauthorised`] for a refresh token the core refuses,
    /// [`SessionError::TokenTheftDetected`] for a reused one; core failures.
    pub async fn refresh_session_without_request_response(
        &self,
        refresh_token: &str,
        disable_anti_csrf: bool,
        anti_csrf_token: Option<&str>,
    ) -> Result<SessionContainer, SessionError> {
        let enable_anti_csrf = !disable_anti_csrf && self.inner().anti_csrf == AntiCsrf::ViaToken;
        let refresh = async {
            let created = refresh_in_core(
                self,
                refresh_token.to_owned(),
                anti_csrf_token.map(str::to_owned),
                enable_anti_csrf,
            )
            .await?;
            let session = SessionContainer::from_created(self, created, Transfer::Header, false)?;
            crate::observe::record_session(
                session.user_id(),
                session.handle(),
                session.tenant_id(),
            );
            Ok(session)
        };
        crate::observe::refresh(refresh).await
    }

    /// Checks the session of a page request for server-side rendering, never refreshing and
    /// never calling the core: a signature and expiry check of the cookie (or bearer) token.
    /// `req` is any framework's request (with actix-web, `&HttpRequest`).
    pub async fn ssr_session(&self, req: &impl RequestView) -> SsrSession {
        let bearer = bearer_token(req).ok().flatten();
        let cookies = cookie_values(req, ACCESS_TOKEN_COOKIE);
        let Some(parsed) = bearer
            .into_iter()
            .chain(cookies.first().map(AsRef::as_ref))
            .find_map(|t| token::parse_access_token(t).ok())
        else {
            return SsrSession::NoSession;
        };
        match token::verify_access_token(parsed, self.keys(), now_ms()).await {
            Ok(info) => SsrSession::Valid {
                user_id: info.user_id,
                tenant_id: info.tenant_id,
                handle: info.session_handle,
                payload: Arc::unwrap_or_clone(info.payload).into_map(),
            },
            Err(TokenError::Malformed(_)) => SsrSession::NoSession,
            Err(_) => SsrSession::RefreshNeeded,
        }
    }
}
