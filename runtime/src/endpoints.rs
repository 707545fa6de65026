//! The frontend-facing session endpoints (protocol §9): refresh and sign-out.

use actix_web::dev::HttpServiceFactory;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::config::{AntiCsrf, SessionConfig, TokenTransferMethod};
use crate::core::{RefreshOutcome, RefreshRequest};
use crate::error::SessionError;
use crate::guard::reject;
use crate::session::SessionContainer;
use crate::transfer::{self, ResponseWriter, Transfer};
use crate::verify::{VerifyOptions, verify_request};

impl SessionConfig {
    /// The session endpoints the frontend SDK calls, to register on the app:
    /// `POST {apiBasePath}/session/refresh` and `POST {apiBasePath}/signout`.
    ///
    /// ```no_run
    /// # use actix_web::App;
    /// # fn app(config: sessionward::SessionConfig) {
    /// App::new().app_data(config.clone()).service(config.endpoints());
    /// # }
    /// ```
    pub fn endpoints(&self) -> impl HttpServiceFactory + 'static {
        let base = self.api_base_path().to_owned();
        (
            web::resource(format!("{base}/session/refresh")).route(web::post().to(refresh)),
            web::resource(format!("{base}/signout")).route(web::post().to(sign_out)),
        )
    }
}

/// The refresh token of a request (protocol §3.2): header first, then the cookie.
fn read_refresh_token(
    req: &HttpRequest,
    allowed: TokenTransferMethod,
) -> Result<Option<(String, Transfer)>, SessionError> {
    if allowed != TokenTransferMethod::Cookie {
        let bearer = transfer::bearer_token(req).map_err(|()| SessionError::Unauthorised {
            clear_tokens: true,
            reason: "several Authorization headers",
        })?;
        if let Some(token) = bearer {
            return Ok(Some((token.to_owned(), Transfer::Header)));
        }
    }
    if allowed != TokenTransferMethod::Header {
        let mut cookies = transfer::cookie_values(req, transfer::REFRESH_TOKEN_COOKIE);
        if cookies.len() > 1 {
            // Two refresh cookies come from different domains or paths; we cannot tell which
            // is current, and clearing ours may not reach the other.
            tracing::warn!("refresh request carries several sRefreshToken cookies");
            return Err(SessionError::Unauthorised {
                clear_tokens: true,
                reason: "several sRefreshToken cookies",
            });
        }
        if let Some(token) = cookies.pop().filter(|t| !t.is_empty()) {
            return Ok(Some((token, Transfer::Cookie)));
        }
    }
    Ok(None)
}

/// Clears the legacy `sIdRefreshToken` cookie if the request has one.
fn clear_legacy_cookie(req: &HttpRequest, config: &SessionConfig, headers: &mut HeaderMap) {
    if !transfer::cookie_values(req, transfer::LEGACY_ID_REFRESH_COOKIE).is_empty() {
        ResponseWriter {
            headers,
            config: config.inner(),
        }
        .clear_legacy_id_refresh_cookie();
    }
}

/// `POST {apiBasePath}/session/refresh` (protocol §9.1).
async fn refresh(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    let config = SessionConfig::from_request(&req).map_err(|e| reject(&req, None, e))?;
    match crate::observe::refresh(refresh_inner(&req, config)).await {
        Ok(response) => Ok(response),
        Err(error) => {
            let mut response = crate::verify::error_response(config, &error, &req);
            clear_legacy_cookie(&req, config, response.headers_mut());
            Ok(response)
        }
    }
}

async fn refresh_inner(
    req: &HttpRequest,
    config: &SessionConfig,
) -> Result<HttpResponse, SessionError> {
    let c = config.inner();
    let Some((refresh_token, method)) = read_refresh_token(req, c.token_transfer_method)? else {
        return Err(SessionError::Unauthorised {
            clear_tokens: true,
            reason: "no refresh token",
        });
    };
    let anti_csrf_disabled = method == Transfer::Header;
    if !anti_csrf_disabled
        && c.anti_csrf == AntiCsrf::ViaCustomHeader
        && transfer::header_str(req, transfer::RID).is_none()
    {
        return Err(SessionError::Unauthorised {
            clear_tokens: true,
            reason: "anti-CSRF: refresh without rid header",
        });
    }
    let outcome = c
        .core
        .refresh_session(RefreshRequest {
            refresh_token,
            anti_csrf_token: transfer::header_str(req, transfer::ANTI_CSRF).map(str::to_owned),
            enable_anti_csrf: !anti_csrf_disabled && c.anti_csrf == AntiCsrf::ViaToken,
            use_dynamic_signing_key: c.use_dynamic_signing_key,
        })
        .await?;
    let created = match outcome {
        RefreshOutcome::Ok(created) => created,
        RefreshOutcome::Unauthorised(reason) => {
            tracing::debug!(%reason, "refresh refused by the core");
            return Err(SessionError::Unauthorised {
                clear_tokens: true,
                reason: "refresh token invalid or expired",
            });
        }
        RefreshOutcome::TokenTheftDetected {
            handle,
            user_id,
            recipe_user_id,
        } => {
            tracing::warn!(session_handle = %handle, user_id = %user_id, "refresh token theft detected; revoking the session");
            c.core.revoke_sessions(vec![handle.clone()]).await?;
            return Err(SessionError::TokenTheftDetected {
                session_handle: handle,
                user_id,
                recipe_user_id,
            });
        }
    };
    // Clear a refresh token that came by the other method (protocol §9.1 step 5).
    let other_has_refresh_token = method == Transfer::Header
        && !transfer::cookie_values(req, transfer::REFRESH_TOKEN_COOKIE).is_empty();
    let session = SessionContainer::from_created(config, created, method, other_has_refresh_token)?;
    crate::observe::record_session(&session);
    tracing::debug!(
        session_handle = session.handle(),
        user_id = session.user_id(),
        "session refreshed"
    );
    let mut response = HttpResponse::Ok().json(json!({}));
    session.write_response_headers(response.headers_mut());
    clear_legacy_cookie(req, config, response.headers_mut());
    Ok(response)
}

/// `POST {apiBasePath}/signout` (protocol §9.2).
async fn sign_out(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    let config = SessionConfig::from_request(&req).map_err(|e| reject(&req, None, e))?;
    // Sign-out verifies like any POST, but checks no claims: a user must always be able to
    // leave.
    let options = VerifyOptions::new(true).without_global_claims();
    let session = match verify_request(&req, config, &options).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return Err(reject(
                &req,
                Some(config),
                SessionError::Unauthorised {
                    clear_tokens: false,
                    reason: "no access token",
                },
            ));
        }
        Err(error) => return Err(reject(&req, Some(config), error)),
    };
    session
        .revoke_session()
        .await
        .map_err(|e| reject(&req, Some(config), e))?;
    let mut response = HttpResponse::Ok().json(json!({"status": "OK"}));
    session.write_response_headers(response.headers_mut());
    Ok(response)
}
