//! The verification algorithm of protocol §6.2, shared by the macro's guard and `get_session`.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};

use crate::claims::ValidatorRef;
use crate::config::{AntiCsrf, SessionConfig, TokenTransferMethod};
use crate::core::{VerifyOutcome, VerifyRequest};
use crate::error::{ClaimValidationError, Clearing, SessionError};
use crate::now_ms;
use crate::session::{SessionContainer, SessionParts, TokenState, remember};
use crate::token::{self, TokenError, UnverifiedToken};
use crate::transfer::{self, ResponseWriter, Transfer};

/// How one route verifies sessions: the options of `#[verify_session(..)]`.
///
/// Built by the macro's expansion; also usable with [`get_session`](crate::get_session).
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub(crate) required: bool,
    pub(crate) anti_csrf_check: Option<bool>,
    pub(crate) check_database: bool,
    pub(crate) claims: Vec<ValidatorRef>,
    pub(crate) skip_global_claims: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self::new(true)
    }
}

impl VerifyOptions {
    /// Options with `required` set and every other option at its default.
    pub fn new(required: bool) -> Self {
        Self {
            required,
            anti_csrf_check: None,
            check_database: false,
            claims: Vec::new(),
            skip_global_claims: false,
        }
    }

    /// Checks only this route's claims, not the config's global ones (sign-out uses it).
    #[must_use]
    pub fn without_global_claims(mut self) -> Self {
        self.skip_global_claims = true;
        self
    }

    /// Forces the anti-CSRF check on or off (default: on for every method but GET).
    #[must_use]
    pub fn anti_csrf_check(mut self, check: bool) -> Self {
        self.anti_csrf_check = Some(check);
        self
    }

    /// Asks the core whether the session still exists on every request (default: false).
    #[must_use]
    pub fn check_database(mut self, check: bool) -> Self {
        self.check_database = check;
        self
    }

    /// Adds a claim validator checked after the global ones.
    #[must_use]
    pub fn claim(mut self, validator: ValidatorRef) -> Self {
        self.claims.push(validator);
        self
    }
}

/// Verifies the session of `req`. `Ok(None)` only when no session is present and the route
/// does not require one.
pub(crate) async fn verify_request(
    req: &HttpRequest,
    config: &SessionConfig,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, SessionError> {
    let c = config.inner();
    if !options.required && (req.method() == Method::OPTIONS || req.method() == Method::TRACE) {
        return Ok(None);
    }
    if !transfer::cookie_values(req, transfer::LEGACY_ID_REFRESH_COOKIE).is_empty() {
        return Err(SessionError::TryRefreshToken {
            reason: "legacy sIdRefreshToken cookie",
        });
    }

    let candidates = Candidates::read(req, c.token_transfer_method)?;
    let (raw, parsed, transfer) = match candidates.choose()? {
        Some(found) => found,
        None if options.required => {
            return Err(SessionError::Unauthorised {
                clear_tokens: false,
                reason: "no access token",
            });
        }
        None => return Ok(None),
    };

    let do_anti_csrf = transfer == Transfer::Cookie
        && options
            .anti_csrf_check
            .unwrap_or_else(|| req.method() != Method::GET);
    if do_anti_csrf
        && c.anti_csrf == AntiCsrf::ViaCustomHeader
        && transfer::header_str(req, "rid").is_none()
    {
        return Err(SessionError::TryRefreshToken {
            reason: "anti-CSRF: missing rid header",
        });
    }

    let now = now_ms();
    let info = token::verify_access_token(parsed, c.keys.as_ref(), now)
        .await
        .map_err(|e| match e {
            TokenError::KeysUnavailable => {
                SessionError::CoreUnavailable("signing keys unavailable".into())
            }
            _ => SessionError::TryRefreshToken {
                reason: "access token failed verification",
            },
        })?;
    if let Some(kid) = &info.kid {
        if kid.starts_with("d-") != c.use_dynamic_signing_key {
            return Err(SessionError::TryRefreshToken {
                reason: "token signed with the other key type",
            });
        }
    }
    let anti_csrf_header = transfer::header_str(req, transfer::ANTI_CSRF_HEADER);
    if do_anti_csrf
        && c.anti_csrf == AntiCsrf::ViaToken
        && (info.anti_csrf_token.is_none() || info.anti_csrf_token.as_deref() != anti_csrf_header)
    {
        return Err(SessionError::TryRefreshToken {
            reason: "anti-CSRF token missing or wrong",
        });
    }

    let mut state = TokenState {
        access_token: raw.to_owned(),
        payload: info.payload,
        expiry_ms: info.expiry_ms,
        refresh_token: None,
        anti_csrf_token: None,
        updated: false,
        clear: Vec::new(),
    };
    let (mut user_id, mut recipe_user_id, mut tenant_id, mut handle) = (
        info.user_id,
        info.recipe_user_id,
        info.tenant_id,
        info.session_handle,
    );
    if options.check_database || info.parent_refresh_token_hash1.is_some() {
        let outcome = c
            .core
            .verify_session(VerifyRequest {
                access_token: state.access_token.clone(),
                anti_csrf_token: anti_csrf_header.map(str::to_owned),
                do_anti_csrf_check: do_anti_csrf,
                enable_anti_csrf: c.anti_csrf == AntiCsrf::ViaToken,
                check_database: options.check_database,
            })
            .await?;
        match outcome {
            VerifyOutcome::Ok {
                session,
                new_access_token,
            } => {
                (user_id, recipe_user_id, tenant_id, handle) = (
                    session.user_id,
                    session.recipe_user_id,
                    session.tenant_id,
                    session.handle,
                );
                if let Some(new) = new_access_token {
                    let payload = token::parse_access_token(&new.token)
                        .map(|t| t.payload)
                        .map_err(|_| {
                            SessionError::Internal("the core issued an unreadable token".into())
                        })?;
                    state.access_token = new.token;
                    state.payload = payload;
                    state.expiry_ms = new.expiry_ms;
                    state.updated = true;
                    state.anti_csrf_token = anti_csrf_header.map(str::to_owned);
                }
            }
            VerifyOutcome::Unauthorised => {
                return Err(SessionError::Unauthorised {
                    clear_tokens: true,
                    reason: "session revoked or missing in the core",
                });
            }
            VerifyOutcome::TryRefreshToken => {
                return Err(SessionError::TryRefreshToken {
                    reason: "the core asked for a refresh",
                });
            }
        }
    }

    let session = SessionContainer::new(
        config.clone(),
        SessionParts {
            handle,
            user_id,
            recipe_user_id,
            tenant_id,
            transfer,
            state,
        },
    );
    // Remember the session before claims run, so a refreshed token still reaches the client.
    remember(req, &session);
    let global: &[ValidatorRef] = if options.skip_global_claims {
        &[]
    } else {
        &c.global_validators
    };
    validate_claims(&session, global.iter().chain(&options.claims), now)?;
    Ok(Some(session))
}

fn validate_claims<'a>(
    session: &SessionContainer,
    validators: impl Iterator<Item = &'a ValidatorRef>,
    now: u64,
) -> Result<(), SessionError> {
    let state = session.state();
    let failures: Vec<ClaimValidationError> = validators
        .filter_map(|v| {
            v.validate(&state.payload, now)
                .err()
                .map(|reason| ClaimValidationError {
                    id: v.id().to_owned(),
                    reason,
                })
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(SessionError::InvalidClaims(failures))
    }
}

/// The access-token candidates of a request (protocol §3.2).
struct Candidates<'r> {
    bearer: Option<&'r str>,
    cookies: Vec<String>,
}

impl<'r> Candidates<'r> {
    fn read(req: &'r HttpRequest, allowed: TokenTransferMethod) -> Result<Self, SessionError> {
        let bearer = if allowed == TokenTransferMethod::Cookie {
            None
        } else {
            transfer::bearer_token(req).map_err(|()| SessionError::Unauthorised {
                clear_tokens: false,
                reason: "several Authorization headers",
            })?
        };
        let cookies = if allowed == TokenTransferMethod::Header {
            Vec::new()
        } else {
            transfer::cookie_values(req, transfer::ACCESS_TOKEN_COOKIE)
        };
        Ok(Self { bearer, cookies })
    }

    /// Header wins over cookie; a candidate that is not a SuperTokens access token is ignored
    /// (so a third-party bearer token does not break cookie sessions).
    fn choose(&self) -> Result<Option<(&str, UnverifiedToken<'_>, Transfer)>, SessionError> {
        if let Some(candidate) = self.bearer {
            if let Ok(parsed) = token::parse_access_token(candidate) {
                return Ok(Some((candidate, parsed, Transfer::Header)));
            }
        }
        if let Some(candidate) = self.cookies.first() {
            if let Ok(parsed) = token::parse_access_token(candidate) {
                if self.cookies.len() > 1 {
                    return Err(SessionError::TryRefreshToken {
                        reason: "multiple sAccessToken cookies",
                    });
                }
                return Ok(Some((candidate, parsed, Transfer::Cookie)));
            }
        }
        Ok(None)
    }
}

/// The response for a verification error under `config`: configured status codes, and
/// cleared tokens where the error calls for it (protocol §6.3).
pub(crate) fn error_response(config: &SessionConfig, error: &SessionError) -> HttpResponse {
    let c = config.inner();
    let mut response =
        error.bare_response(error.status_with(c.session_expired_status, c.invalid_claim_status));
    if error.clearing() == Clearing::All {
        ResponseWriter {
            headers: response.headers_mut(),
            config: c,
        }
        .clear_all();
    }
    match error {
        SessionError::MissingConfig | SessionError::Internal(_) => {
            tracing::error!(error = %error, "session verification failed");
        }
        _ => tracing::debug!(kind = error.kind(), "session rejected"),
    }
    response
}
