//! The verification pipeline of docs/protocol.md §6.2, in steps: read the token, check it (from the
//! verified-token cache or by signature), key type and anti-CSRF, core confirmation, build the
//! session, then the route's tenant and claims.

use std::sync::Arc;

use tracing::Instrument;

use crate::cache::{Admission, CachedToken, TokenKey, VerifiedTokenCache};
use crate::config::{AntiCsrf, ConfigInner, SessionConfig};
use crate::core::{VerifyOutcome, VerifyRequest};
use crate::error::{RequestInfo, SessionError};
use crate::metric;
use crate::observe::Verification;
use crate::token::{self, AccessTokenInfo, Payload, TokenError, UnverifiedToken};
use crate::util::now_ms;

use super::claims_check::{check_tenant, validate_route_claims};
use super::options::VerifyOptions;
use super::read::{Candidates, Transfer, allowed_transfer};
use super::request::{HeaderKey, RequestView};
use super::session::{SessionContainer, SessionIds, SessionParts, TokenState};

/// An access token to verify and the request facts verification depends on.
pub(crate) struct Presented<'t> {
    pub(crate) raw: &'t str,
    pub(crate) token: Token<'t>,
    pub(crate) transfer: Transfer,
    pub(crate) anti_csrf_header: Option<&'t str>,
    pub(crate) do_anti_csrf: bool,
}

/// Where verification starts: a parsed token, or the verified-token cache's entry for it
/// (found before parsing: see [`Candidates::choose_cached`]).
pub(crate) enum Token<'t> {
    /// A parsed token; with its cache key when the cache was already asked for this very
    /// text and had no entry (so it is neither hashed nor looked up again).
    Parsed(UnverifiedToken<'t>, Option<TokenKey>),
    Cached(TokenKey, Arc<CachedToken>),
}

/// Verifies the session of `req`. `Ok(None)` only when no session is present and the route
/// does not require one.
///
/// `keep` gets the session as soon as its token checks out, before the tenant and claim
/// checks, so that a token refreshed or changed on the way still reaches the client when a
/// claim then fails. Runs in a `sessionward.verify` span that records the outcome.
pub(crate) async fn verify_request<R: RequestView>(
    req: &R,
    config: &SessionConfig,
    options: &VerifyOptions,
    keep: impl FnOnce(&SessionContainer),
) -> Result<Option<SessionContainer>, SessionError> {
    let verification = Verification::start(Some((req.method(), req.path())));
    let verified = async {
        let Some(session) = verify_token_of(req, config, options).await? else {
            return Ok(None);
        };
        keep(&session);
        if let Some(param) = &options.tenant_param {
            check_tenant(&session, req.path_param(param))?;
        }
        validate_route_claims(config, &session, options).await?;
        Ok(Some(session))
    }
    .instrument(verification.span())
    .await;
    verification.finish(&verified);
    // Checked here so that verification costs nothing more without an override.
    match config.overridden_functions() {
        None => verified,
        Some(functions) => {
            let request = RequestInfo::new(req.method(), req.path(), req.query());
            functions
                .get_session(Some(request), options, verified)
                .await
        }
    }
}

/// Steps up to the session: read the token, check it, confirm with the core where needed.
async fn verify_token_of<R: RequestView>(
    req: &R,
    config: &SessionConfig,
    options: &VerifyOptions,
) -> Result<Option<SessionContainer>, SessionError> {
    let c = config.inner();
    let method = req.method();
    if !options.required && (method == "OPTIONS" || method == "TRACE") {
        return Ok(None);
    }
    let candidates = Candidates::read(req, allowed_transfer(req, c))?;
    let now = now_ms();
    // A token in the verified-token cache is not parsed again.
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

    let do_anti_csrf =
        transfer == Transfer::Cookie && options.anti_csrf_check.unwrap_or_else(|| method != "GET");
    if do_anti_csrf
        && c.anti_csrf == AntiCsrf::ViaCustomHeader
        && req.header(HeaderKey::Rid).is_none()
    {
        return Err(SessionError::TryRefreshToken {
            reason: "anti-CSRF: missing rid header",
        });
    }
    let presented = Presented {
        raw,
        token,
        transfer,
        anti_csrf_header: req.header(HeaderKey::AntiCsrf),
        do_anti_csrf,
    };
    verify_presented(config, presented, options.check_database, now)
        .await
        .map(Some)
}

/// docs/protocol.md §6.2 steps 5–9 for a presented token: the signature (or a live cache entry),
/// expiry, key type and anti-CSRF checks, and the core call for rotated tokens and
/// `check_database`.
pub(crate) async fn verify_presented(
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
    // `check_database` routes neither read nor fill the verified-token cache.
    let cache = c.verified_tokens.as_deref().filter(|_| !check_database);
    let (info, admission) = checked_token(c, cache, raw, token, now).await?;
    check_key_type_and_anti_csrf(c, &info, do_anti_csrf, anti_csrf_header)?;
    if let (Some(cache), Some((admission, key))) = (cache, admission) {
        // `insert` skips tokens with `parentRefreshTokenHash1`.
        cache.insert(admission, key, &info, &c.keys, now);
    }
    let mut parts = SessionParts {
        ids: SessionIds::Token(Arc::clone(&info)),
        transfer,
        state: TokenState {
            access_token: raw.to_owned(),
            payload: Arc::clone(&info.payload),
            expiry_ms: info.expiry_ms,
            refresh_token: None,
            // Echoed with any new access token: the frontend binds it to the token's update.
            anti_csrf_token: anti_csrf_header.map(str::to_owned),
            updated: false,
            clear: Vec::new(),
        },
    };
    if check_database || info.parent_refresh_token_hash1.is_some() {
        confirm_with_core(c, &mut parts, do_anti_csrf, check_database).await?;
    }
    let session = SessionContainer::new(config.clone(), parts);
    crate::observe::record_session(session.user_id(), session.handle(), session.tenant_id());
    Ok(session)
}

/// A token cleared for use: the cache entry's facts when its key is still current, else a
/// signature and expiry check (with the cache admission to remember it by, if the cache is
/// on).
async fn checked_token(
    c: &ConfigInner,
    cache: Option<&VerifiedTokenCache>,
    raw: &str,
    token: Token<'_>,
    now: u64,
) -> Result<(Arc<AccessTokenInfo>, Option<(Admission, TokenKey)>), SessionError> {
    // The usual guarded request, decided without awaiting anything.
    if let (Some(cache), Token::Cached(_, entry)) = (cache, &token)
        && let Some(info) = cache.reuse_now(entry, &c.keys)
    {
        metric::cache_lookup(true);
        return Ok((info, None));
    }
    // Boxed: the futures of this path (key fetches, the cache admission) would otherwise be
    // part of every guarded request's future, which is moved on each request.
    Box::pin(check_token(c, cache, raw, token, now)).await
}

/// [`checked_token`] when the key set is stale or the entry's key is not current: the cache
/// entry's facts once the key set is fresh and its key current, else a signature check.
async fn check_token(
    c: &ConfigInner,
    cache: Option<&VerifiedTokenCache>,
    raw: &str,
    token: Token<'_>,
    now: u64,
) -> Result<(Arc<AccessTokenInfo>, Option<(Admission, TokenKey)>), SessionError> {
    let (key, entry, parsed) = match token {
        Token::Cached(key, entry) => (Some(key), Some(entry), None),
        Token::Parsed(parsed, missed) => {
            let (key, entry) = match (cache, missed) {
                (Some(_), Some(key)) => (Some(key), None),
                (Some(cache), None) => {
                    let (key, entry) = cache.lookup(raw, now);
                    (Some(key), entry)
                }
                (None, _) => (None, None),
            };
            (key, entry, Some(parsed))
        }
    };
    if let (Some(cache), Some(entry)) = (cache, &entry)
        && let Some(info) = cache.reuse(entry, &c.keys).await
    {
        metric::cache_lookup(true);
        return Ok((info, None));
    }
    if cache.is_some() {
        metric::cache_lookup(false);
    }
    let parsed = match parsed {
        Some(parsed) => parsed,
        // A cached token whose key changed: verified from scratch.
        None => token::parse_access_token(raw).map_err(|_| SessionError::TryRefreshToken {
            reason: "access token failed verification",
        })?,
    };
    let admission = match (cache, key) {
        (Some(cache), Some(key)) => cache.admission(&parsed, &c.keys).await.map(|a| (a, key)),
        _ => None,
    };
    let info = token::verify_access_token(parsed, c.keys.as_ref(), now)
        .await
        .map_err(|e| match e {
            // Our outage must not sign anyone out: 503, not "try refresh token".
            TokenError::KeysUnavailable => SessionError::CoreUnavailable(
                crate::error::CoreError::Unavailable("signing keys unavailable".into()),
            ),
            _ => SessionError::TryRefreshToken {
                reason: "access token failed verification",
            },
        })?;
    Ok((Arc::new(info), admission))
}

/// Tokens signed with the other key type, and cookie requests whose anti-CSRF token is missing
/// or wrong (`VIA_TOKEN`), must refresh.
fn check_key_type_and_anti_csrf(
    c: &ConfigInner,
    info: &AccessTokenInfo,
    do_anti_csrf: bool,
    anti_csrf_header: Option<&str>,
) -> Result<(), SessionError> {
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
    Ok(())
}

/// Asks the core about the session: for `check_database`, and for a token fresh from a refresh
/// (with `parentRefreshTokenHash1`), which the core promotes to a new token.
async fn confirm_with_core(
    c: &ConfigInner,
    parts: &mut SessionParts,
    do_anti_csrf: bool,
    check_database: bool,
) -> Result<(), SessionError> {
    let state = &mut parts.state;
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
            parts.ids = SessionIds::Owned {
                handle: session.handle,
                user_id: session.user_id,
                recipe_user_id: session.recipe_user_id,
                tenant_id: session.tenant_id,
            };
            if let Some(new) = new_access_token {
                state.payload = token::parse_access_token(&new.token)
                    .map(|t| Arc::new(Payload::new(t.payload)))
                    .map_err(|_| {
                        SessionError::Internal("the core issued an unreadable token".into())
                    })?;
                state.access_token = new.token;
                state.expiry_ms = new.expiry_ms;
                state.updated = true;
            }
            Ok(())
        }
        VerifyOutcome::Unauthorised => Err(SessionError::Unauthorised {
            clear_tokens: true,
            reason: "session revoked or missing in the core",
        }),
        VerifyOutcome::TryRefreshToken => Err(SessionError::TryRefreshToken {
            reason: "the core asked for a refresh",
        }),
    }
}

#[cfg(feature = "__internals")]
/// Finds and parses the access token of a request as [`verify_request`] does; `Some(true)`
/// for a header token, `Some(false)` for a cookie (for the benchmarks).
pub(crate) fn read_token<R: RequestView>(req: &R, config: &SessionConfig) -> Option<bool> {
    let candidates = Candidates::read(req, allowed_transfer(req, config.inner())).ok()?;
    let (_, _, transfer) = candidates.choose().ok()??;
    Some(transfer == Transfer::Header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::test_view::TestRequest;

    /// A verification's future is part of every guarded request's future (the actix-web
    /// macro's, the axum extractors'), which is moved several times per request; its slow paths
    /// (signature checks, key fetches, claim fetches) are boxed so that it stays small.
    #[test]
    fn the_verification_future_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let config = SessionConfig::builder()
            .data_dir(dir.path())
            .build()
            .unwrap();
        let req = TestRequest::get();
        let options = VerifyOptions::new(true);
        let verify = verify_request(&req, &config, &options, |_| {});
        let size = std::mem::size_of_val(&verify);
        assert!(size <= 1536, "the verification future takes {size} bytes");
    }
}
