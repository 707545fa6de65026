//! The verification algorithm of protocol §6.2, shared by the macro's guard, `get_session`,
//! the plain extractors and the request-less API.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use crate::cache::{CachedToken, TokenKey, VerifiedTokenCache};
use crate::claims::ValidatorRef;
use crate::config::{AntiCsrf, SessionConfig, TokenTransferMethod};
use crate::core::{VerifyOutcome, VerifyRequest};
use crate::error::{ClaimValidationError, Clearing, SessionError};
use crate::session::{SessionContainer, SessionParts, TokenState, remember};
use crate::token::{self, TokenError, UnverifiedToken};
use crate::transfer::{self, ResponseWriter, Transfer};
use crate::util::now_ms;

/// Chooses a route's claim validators from the global ones and the session (the SDKs'
/// `overrideGlobalClaimValidators`).
pub type OverrideClaims = fn(&[ValidatorRef], &SessionContainer) -> Vec<ValidatorRef>;

/// How one route verifies sessions: the options of `#[verify_session(..)]`.
///
/// Built by the macro's expansion; also usable with [`get_session`](crate::get_session).
#[derive(Clone)]
pub struct VerifyOptions {
    pub(crate) required: bool,
    pub(crate) anti_csrf_check: Option<bool>,
    pub(crate) check_database: bool,
    pub(crate) claims: Vec<ValidatorRef>,
    pub(crate) skip_global_claims: bool,
    pub(crate) override_claims: Option<OverrideClaims>,
    pub(crate) tenant_param: Option<Cow<'static, str>>,
}

impl fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("required", &self.required)
            .field("anti_csrf_check", &self.anti_csrf_check)
            .field("check_database", &self.check_database)
            .field("claims", &self.claims)
            .field("skip_global_claims", &self.skip_global_claims)
            .field("override_claims", &self.override_claims.is_some())
            .field("tenant_param", &self.tenant_param)
            .finish()
    }
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
            override_claims: None,
            tenant_param: None,
        }
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

    /// Checks only this route's claims, not the config's global ones (sign-out uses it).
    #[must_use]
    pub fn without_global_claims(mut self) -> Self {
        self.skip_global_claims = true;
        self
    }

    /// Replaces the global validators with what `choose` returns for the session; the
    /// route's own `claims` are still added.
    #[must_use]
    pub fn override_claims(mut self, choose: OverrideClaims) -> Self {
        self.override_claims = Some(choose);
        self
    }

    /// Requires the session's tenant to equal the route's path parameter `name` (e.g.
    /// `/t/{tenant}/..`); a session of another tenant gets 403 with the validator id
    /// `st-tenant`.
    #[must_use]
    pub fn tenant_param(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.tenant_param = Some(name.into());
        self
    }
}

/// An access token to verify and the request facts verification depends on.
pub(crate) struct Presented<'t> {
    pub(crate) raw: &'t str,
    pub(crate) token: Token<'t>,
    pub(crate) transfer: Transfer,
    pub(crate) anti_csrf_header: Option<&'t str>,
    pub(crate) do_anti_csrf: bool,
}

/// Where verification starts (issue 7): a parsed token, or the verified-token cache's entry
/// for it (found before parsing: see `Candidates::choose_cached`).
pub(crate) enum Token<'t> {
    /// A parsed token; with its cache key when the cache was already asked for this very
    /// text and had no entry (so it is neither hashed nor looked up again).
    Parsed(UnverifiedToken<'t>, Option<TokenKey>),
    Cached(TokenKey, Arc<CachedToken>),
}

/// Verifies the session of `req`. `Ok(None)` only when no session is present and the route
/// does not require one.
///
/// Runs in a `sessionward.verify` span that records the outcome (see `observe`).
pub(crate) async fn verify_request(
    req: &HttpRequest,
    config: &SessionConfig,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, SessionError> {
    let span = crate::observe::verify_span(Some(req));
    crate::observe::verification(span, verify_request_inner(req, config, options)).await
}

async fn verify_request_inner(
    req: &HttpRequest,
    config: &SessionConfig,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, SessionError> {
    let c = config.inner();
    if !options.required && (req.method() == Method::OPTIONS || req.method() == Method::TRACE) {
        return Ok(None);
    }
    let candidates = Candidates::read(req, c.token_transfer_method)?;
    let now = now_ms();
    // Verified-token cache (issue 7): a cached token is not parsed again.
    let looked_up = match &c.verified_tokens {
        Some(cache) if !options.check_database => candidates.choose_cached(cache, now),
        _ => None,
    };
    let (raw, token, transfer) = match looked_up {
        Some((raw, key, Some(entry), transfer)) => (raw, Token::Cached(key, entry), transfer),
        missed => match candidates.choose()? {
            Some((raw, parsed, transfer)) => {
                let missed = missed
                    .filter(|(seen, ..)| *seen == raw)
                    .map(|(_, key, ..)| key);
                (raw, Token::Parsed(parsed, missed), transfer)
            }
            None if options.required => {
                return Err(SessionError::Unauthorised {
                    clear_tokens: false,
                    reason: "no access token",
                });
            }
            None => return Ok(None),
        },
    };

    let do_anti_csrf = transfer == Transfer::Cookie
        && options
            .anti_csrf_check
            .unwrap_or_else(|| req.method() != Method::GET);
    if do_anti_csrf
        && c.anti_csrf == AntiCsrf::ViaCustomHeader
        && transfer::header_str(req, transfer::RID).is_none()
    {
        return Err(SessionError::TryRefreshToken {
            reason: "anti-CSRF: missing rid header",
        });
    }
    let presented = Presented {
        raw,
        token,
        transfer,
        anti_csrf_header: transfer::header_str(req, transfer::ANTI_CSRF),
        do_anti_csrf,
    };
    let session = verify_token(config, presented, options.check_database, now).await?;
    crate::observe::record_session(&session);
    // Remember the session before claims run, so a refreshed token still reaches the client.
    remember(req, &session);
    if let Some(param) = &options.tenant_param {
        check_tenant(&session, req.match_info().get(param))?;
    }
    validate_route_claims(config, &session, options).await?;
    Ok(Some(session))
}

/// Signature, expiry, key type and anti-CSRF checks, and the core call for rotated tokens
/// and `check_database` (protocol §6.2 steps 5–9).
pub(crate) async fn verify_presented(
    config: &SessionConfig,
    presented: Presented<'_>,
    check_database: bool,
) -> Result<SessionContainer, SessionError> {
    verify_token(config, presented, check_database, now_ms()).await
}

/// [`verify_presented`], from a parsed token or a verified-token cache entry (issue 7).
async fn verify_token(
    config: &SessionConfig,
    presented: Presented<'_>,
    check_database: bool,
    now: u64,
) -> Result<SessionContainer, SessionError> {
    let Presented {
        raw,
        token,
        transfer,
        anti_csrf_header,
        do_anti_csrf,
    } = presented;
    let c = config.inner();
    // Verified-token cache (issue 7, cache.rs): a live entry whose key is still current skips
    // the signature check; every check below `info` still runs. Never on `check_database`.
    let cache = c.verified_tokens.as_deref().filter(|_| !check_database);
    let (key, entry, parsed) = match token {
        Token::Cached(key, entry) => (Some(key), Some(entry), None),
        Token::Parsed(parsed, missed) => {
            let (key, entry) = match (cache, missed) {
                (Some(_), Some(key)) => (Some(key), None),
                (Some(cache), None) => {
                    let key = TokenKey::of(raw);
                    let entry = cache.get(&key, raw, now);
                    (Some(key), entry)
                }
                (None, _) => (None, None),
            };
            (key, entry, Some(parsed))
        }
    };
    let reused = match (cache, &entry) {
        (Some(cache), Some(entry)) => cache.reuse(entry, &c.keys).await,
        _ => None,
    };
    let mut admission = None;
    let info = match reused {
        Some(info) => info,
        None => {
            let parsed = match parsed {
                Some(parsed) => parsed,
                // A cached token whose key changed: verified from scratch.
                None => {
                    token::parse_access_token(raw).map_err(|_| SessionError::TryRefreshToken {
                        reason: "access token failed verification",
                    })?
                }
            };
            if let Some(cache) = cache {
                admission = cache.admission(&parsed, &c.keys).await;
            }
            token::verify_access_token(parsed, c.keys.as_ref(), now)
                .await
                .map(Arc::new)
                .map_err(|e| match e {
                    // Our outage must not sign anyone out: 503, not "try refresh token".
                    TokenError::KeysUnavailable => {
                        SessionError::CoreUnavailable("signing keys unavailable".into())
                    }
                    _ => SessionError::TryRefreshToken {
                        reason: "access token failed verification",
                    },
                })?
        }
    };
    if info
        .kid
        .as_ref()
        .is_some_and(|kid| kid.starts_with("d-") != c.use_dynamic_signing_key)
    {
        return Err(SessionError::TryRefreshToken {
            reason: "token signed with the other key type",
        });
    }
    if do_anti_csrf
        && c.anti_csrf == AntiCsrf::ViaToken
        && (info.anti_csrf_token.is_none() || info.anti_csrf_token.as_deref() != anti_csrf_header)
    {
        return Err(SessionError::TryRefreshToken {
            reason: "anti-CSRF token missing or wrong",
        });
    }
    // Verified-token cache (issue 7): remember a token that took the fast path (`insert`
    // skips tokens with `parentRefreshTokenHash1`).
    if let (Some(cache), Some(admission), Some(key)) = (cache, admission, key) {
        cache.insert(admission, key, &info, &c.keys, now);
    }

    let mut state = TokenState {
        access_token: raw.to_owned(),
        payload: Arc::clone(&info.payload),
        expiry_ms: info.expiry_ms,
        refresh_token: None,
        // Echoed with any new access token: the frontend binds it to the token's update.
        anti_csrf_token: anti_csrf_header.map(str::to_owned),
        updated: false,
        clear: Vec::new(),
    };
    let (mut user_id, mut recipe_user_id, mut tenant_id, mut handle) = (
        info.user_id.clone(),
        info.recipe_user_id.clone(),
        info.tenant_id.clone(),
        info.session_handle.clone(),
    );
    if check_database || info.parent_refresh_token_hash1.is_some() {
        let outcome = c
            .core
            .verify_session(VerifyRequest {
                access_token: state.access_token.clone(),
                anti_csrf_token: state.anti_csrf_token.clone(),
                do_anti_csrf_check: do_anti_csrf,
                enable_anti_csrf: c.anti_csrf == AntiCsrf::ViaToken,
                check_database,
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
                    state.payload = token::parse_access_token(&new.token)
                        .map(|t| Arc::new(t.payload))
                        .map_err(|_| {
                            SessionError::Internal("the core issued an unreadable token".into())
                        })?;
                    state.access_token = new.token;
                    state.expiry_ms = new.expiry_ms;
                    state.updated = true;
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
    Ok(SessionContainer::new(
        config.clone(),
        SessionParts {
            handle,
            user_id,
            recipe_user_id,
            tenant_id,
            transfer,
            state,
        },
    ))
}

fn check_tenant(
    session: &SessionContainer,
    route_tenant: Option<&str>,
) -> Result<(), SessionError> {
    let expected = route_tenant.unwrap_or("");
    if session.tenant_id() == expected {
        return Ok(());
    }
    Err(SessionError::InvalidClaims(vec![ClaimValidationError {
        id: "st-tenant".into(),
        reason: json!({
            "message": "wrong tenant",
            "expectedValue": expected,
            "actualValue": session.tenant_id(),
        }),
    }]))
}

/// The route's validators (global or overridden, plus its own), checked with refetch.
pub(crate) async fn validate_route_claims(
    config: &SessionConfig,
    session: &SessionContainer,
    options: &VerifyOptions,
) -> Result<(), SessionError> {
    let c = config.inner();
    let global: &[ValidatorRef] = if options.skip_global_claims {
        &[]
    } else {
        &c.global_validators
    };
    let mut validators = match options.override_claims {
        Some(choose) => choose(global, session),
        None => global.to_vec(),
    };
    validators.extend(options.claims.iter().cloned());
    if validators.is_empty() {
        return Ok(());
    }
    refetch_and_validate(session, &validators, now_ms()).await
}

/// Protocol §7.4: fetch claim values that are missing or stale, store them in the session
/// (a new access token for the client), then run every validator.
pub(crate) async fn refetch_and_validate(
    session: &SessionContainer,
    validators: &[ValidatorRef],
    now: u64,
) -> Result<(), SessionError> {
    let mut payload = session.state().payload.clone();
    let mut update = Map::new();
    for validator in validators {
        let Some(key) = validator.claim_key() else {
            continue;
        };
        if !validator.should_refetch(&payload, now) {
            continue;
        }
        let fetcher = validator
            .fetcher()
            .or_else(|| session.config().claim_fetcher(key));
        let Some(fetcher) = fetcher else { continue };
        let mut input = session.fetch_input();
        input.payload = Map::clone(&payload);
        let value = fetcher.fetch(input).await.map_err(|e| {
            tracing::error!(claim = key, error = %e, "claim fetch failed");
            SessionError::Internal(format!("fetching claim `{key}` failed"))
        })?;
        if let Some(value) = value {
            let entry = json!({ "v": value, "t": now });
            Arc::make_mut(&mut payload).insert(key.to_owned(), entry.clone());
            update.insert(key.to_owned(), entry);
        }
    }
    if !update.is_empty() {
        session
            .merge_into_access_token_payload(Value::Object(update))
            .await?;
        payload = session.state().payload.clone();
    }
    let failures: Vec<ClaimValidationError> = validators
        .iter()
        .filter_map(|v| {
            v.validate(&payload, now)
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

/// Issue 7 benches: finds and parses the access token as [`verify_request`] does; `Some(true)`
/// for a header token, `Some(false)` for a cookie.
pub(crate) fn read_token(req: &HttpRequest, allowed: TokenTransferMethod) -> Option<bool> {
    let candidates = Candidates::read(req, allowed).ok()?;
    let (_, _, transfer) = candidates.choose().ok()??;
    Some(transfer == Transfer::Header)
}

/// The access-token candidates of a request (protocol §3.2).
struct Candidates<'r> {
    bearer: Option<&'r str>,
    cookies: Vec<Cow<'r, str>>,
}

impl<'r> Candidates<'r> {
    /// Reads the candidates; a legacy `sIdRefreshToken` cookie (found in the same pass over
    /// the `Cookie` headers) means "try refresh token" before anything else.
    fn read(req: &'r HttpRequest, allowed: TokenTransferMethod) -> Result<Self, SessionError> {
        let [legacy, mut cookies] = transfer::find_cookies(
            req,
            [
                transfer::LEGACY_ID_REFRESH_COOKIE,
                transfer::ACCESS_TOKEN_COOKIE,
            ],
        );
        if !legacy.is_empty() {
            return Err(SessionError::TryRefreshToken {
                reason: "legacy sIdRefreshToken cookie",
            });
        }
        let bearer = if allowed == TokenTransferMethod::Cookie {
            None
        } else {
            transfer::bearer_token(req).map_err(|()| SessionError::Unauthorised {
                clear_tokens: false,
                reason: "several Authorization headers",
            })?
        };
        if allowed == TokenTransferMethod::Header {
            cookies.clear();
        }
        Ok(Self { bearer, cookies })
    }

    /// Issue 7: the candidate [`choose`](Self::choose) would pick if the verified-token cache
    /// holds it (it parsed before, and parsing depends on the text alone), with its key and
    /// its live entry if any; `None` when there is no single candidate to look up.
    fn choose_cached(
        &self,
        cache: &VerifiedTokenCache,
        now: u64,
    ) -> Option<(&str, TokenKey, Option<Arc<CachedToken>>, Transfer)> {
        let (raw, transfer) = match (self.bearer, self.cookies.as_slice()) {
            (Some(bearer), _) => (bearer, Transfer::Header),
            (None, [cookie]) => (cookie.as_ref(), Transfer::Cookie),
            _ => return None,
        };
        let key = TokenKey::of(raw);
        let entry = cache.get(&key, raw, now);
        Some((raw, key, entry, transfer))
    }

    /// Header wins over cookie; a candidate that is not a SuperTokens access token is ignored
    /// (so a third-party bearer token does not break cookie sessions).
    fn choose(&self) -> Result<Option<(&str, UnverifiedToken<'_>, Transfer)>, SessionError> {
        if let Some(candidate) = self.bearer
            && let Ok(parsed) = token::parse_access_token(candidate)
        {
            return Ok(Some((candidate, parsed, Transfer::Header)));
        }
        if let Some(candidate) = self.cookies.first()
            && let Ok(parsed) = token::parse_access_token(candidate)
        {
            if self.cookies.len() > 1 {
                return Err(SessionError::TryRefreshToken {
                    reason: "multiple sAccessToken cookies",
                });
            }
            return Ok(Some((candidate, parsed, Transfer::Cookie)));
        }
        Ok(None)
    }
}

/// The response for a verification error under `config`: a configured error handler or the
/// protocol's JSON with the configured status, plus cleared tokens where the error calls for
/// it (protocol §6.3).
pub(crate) fn error_response(
    config: &SessionConfig,
    error: &SessionError,
    req: &HttpRequest,
) -> HttpResponse {
    let c = config.inner();
    let mut response = match c.error_handlers.for_error(error) {
        Some(handler) => handler(req, error),
        None => {
            error.bare_response(error.status_with(c.session_expired_status, c.invalid_claim_status))
        }
    };
    if error.clearing() == Clearing::All {
        ResponseWriter {
            headers: response.headers_mut(),
            config: c,
        }
        .clear_all();
    } else if matches!(error, SessionError::InvalidClaims(_)) {
        // Claim values fetched during verification are kept: send the updated token along
        // with the 403 (protocol Appendix B item 4).
        crate::session::apply_pending(req, response.headers_mut());
    }
    match error {
        SessionError::MissingConfig | SessionError::Internal(_) => {
            tracing::error!(error = %error, "session verification failed");
        }
        _ => tracing::debug!(kind = error.kind(), "session rejected"),
    }
    response
}
