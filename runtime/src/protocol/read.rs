//! Reading tokens from a request (docs/protocol.md §3.2, §3.3): the access-token candidates, the
//! refresh token, the legacy cookie, and the transfer method for a new session.

use std::borrow::Cow;
use std::sync::Arc;

use crate::cache::{CachedToken, TokenKey, VerifiedTokenCache};
use crate::config::{ConfigInner, RequestLookup, TokenTransferMethod};
use crate::error::SessionError;
use crate::headers::{bearer_credentials, find_cookies, header_text};
use crate::token::{self, UnverifiedToken};

use super::request::{HeaderKey, RequestView};

pub(crate) const ACCESS_TOKEN_COOKIE: &str = "sAccessToken";
pub(crate) const REFRESH_TOKEN_COOKIE: &str = "sRefreshToken";
pub(crate) const LEGACY_ID_REFRESH_COOKIE: &str = "sIdRefreshToken";

/// What a token-transfer-method function sees of any adapter's request.
impl<R: RequestView> RequestLookup for R {
    fn lookup_method(&self) -> &str {
        self.method()
    }

    fn lookup_path(&self) -> &str {
        self.path()
    }

    fn lookup_header(&self, name: &str) -> Option<&str> {
        self.header_by_name(name)
    }
}

/// The transfer methods tokens are read by for `req` (verification, refresh, sign-out).
pub(crate) fn allowed_transfer<R: RequestView>(
    req: &R,
    config: &ConfigInner,
) -> TokenTransferMethod {
    config.token_transfer_method.for_request(req, false)
}

/// The transfer method a token actually arrived by (or a new session's tokens leave by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transfer {
    Cookie,
    Header,
}

impl Transfer {
    /// The other transfer method.
    pub(crate) fn other(self) -> Transfer {
        match self {
            Transfer::Cookie => Transfer::Header,
            Transfer::Header => Transfer::Cookie,
        }
    }
}

/// The `Authorization: Bearer` credentials, if the request has exactly one `Authorization`
/// header of that form. `Err(())` when there are several (never valid HTTP; refusing them
/// avoids guessing which one a proxy meant).
pub(crate) fn bearer_token<R: RequestView>(req: &R) -> Result<Option<&str>, ()> {
    let mut values = req.header_values(HeaderKey::Authorization);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    Ok(header_text(first).and_then(bearer_credentials))
}

/// All values of cookie `name` across every `Cookie` header, URL-decoded, in order.
pub(crate) fn cookie_values<'r, R: RequestView>(req: &'r R, name: &str) -> Vec<Cow<'r, str>> {
    let [values] = find_cookies(req.header_values(HeaderKey::Cookie), [name]);
    values
}

/// Whether the request carries the `sIdRefreshToken` cookie of pre-2023 SDKs.
pub(crate) fn has_legacy_cookie<R: RequestView>(req: &R) -> bool {
    !cookie_values(req, LEGACY_ID_REFRESH_COOKIE).is_empty()
}

/// The transfer method for a new session (docs/protocol.md §3.3): the configured method (or the
/// configured function's answer) when it is a single one; for `Any`, cookies only when the
/// frontend asked for them with `st-auth-mode: cookie`, headers otherwise.
pub(crate) fn creation_transfer<R: RequestView>(req: &R, config: &ConfigInner) -> Transfer {
    match config.token_transfer_method.for_request(req, true) {
        TokenTransferMethod::Cookie => Transfer::Cookie,
        TokenTransferMethod::Header => Transfer::Header,
        TokenTransferMethod::Any => {
            let cookie = req
                .header(HeaderKey::AuthMode)
                .is_some_and(|mode| mode.eq_ignore_ascii_case("cookie"));
            if cookie {
                Transfer::Cookie
            } else {
                Transfer::Header
            }
        }
    }
}

/// Whether the request carries an access token by `method` (a new session replaces it).
pub(crate) fn has_access_token<R: RequestView>(req: &R, method: Transfer) -> bool {
    match method {
        Transfer::Cookie => !cookie_values(req, ACCESS_TOKEN_COOKIE).is_empty(),
        Transfer::Header => matches!(bearer_token(req), Ok(Some(_))),
    }
}

/// The refresh token of a request (docs/protocol.md §3.2): header first, then the cookie.
pub(crate) fn refresh_token<R: RequestView>(
    req: &R,
    allowed: TokenTransferMethod,
) -> Result<Option<(String, Transfer)>, SessionError> {
    if allowed != TokenTransferMethod::Cookie {
        let bearer = bearer_token(req).map_err(|()| SessionError::Unauthorised {
            clear_tokens: true,
            reason: "several Authorization headers",
        })?;
        if let Some(token) = bearer {
            return Ok(Some((token.to_owned(), Transfer::Header)));
        }
    }
    if allowed != TokenTransferMethod::Header {
        let mut cookies = cookie_values(req, REFRESH_TOKEN_COOKIE);
        if cookies.len() > 1 {
            // The refresh endpoint answers duplicates before it reads the token; this guards
            // any other caller against guessing which cookie is current.
            return Err(SessionError::Unauthorised {
                clear_tokens: true,
                reason: "several sRefreshToken cookies",
            });
        }
        if let Some(token) = cookies.pop().filter(|t| !t.is_empty()) {
            return Ok(Some((token.into_owned(), Transfer::Cookie)));
        }
    }
    Ok(None)
}

/// The access-token candidates of a request (docs/protocol.md §3.2).
pub(crate) struct Candidates<'r> {
    bearer: Option<&'r str>,
    cookies: Vec<Cow<'r, str>>,
}

/// A candidate the verified-token cache was asked about: its text, cache key, live entry (if
/// any) and transfer method.
pub(crate) type CacheLookup<'c> = (&'c str, TokenKey, Option<Arc<CachedToken>>, Transfer);

impl<'r> Candidates<'r> {
    /// Reads the candidates; a legacy `sIdRefreshToken` cookie (found in the same pass over
    /// the `Cookie` headers) means "try refresh token" before anything else.
    pub(crate) fn read<R: RequestView>(
        req: &'r R,
        allowed: TokenTransferMethod,
    ) -> Result<Self, SessionError> {
        let [legacy, mut cookies] = find_cookies(
            req.header_values(HeaderKey::Cookie),
            [LEGACY_ID_REFRESH_COOKIE, ACCESS_TOKEN_COOKIE],
        );
        if !legacy.is_empty() {
            return Err(SessionError::TryRefreshToken {
                reason: "legacy sIdRefreshToken cookie",
            });
        }
        let bearer = if allowed == TokenTransferMethod::Cookie {
            None
        } else {
            bearer_token(req).map_err(|()| SessionError::Unauthorised {
                clear_tokens: false,
                reason: "several Authorization headers",
            })?
        };
        if allowed == TokenTransferMethod::Header {
            cookies.clear();
        }
        Ok(Self { bearer, cookies })
    }

    /// The candidate [`choose`](Self::choose) would pick, looked up in the verified-token
    /// cache (a cached token parsed before, and parsing depends on the text alone); `None`
    /// when there is no single candidate to look up.
    pub(crate) fn choose_cached(
        &self,
        cache: &VerifiedTokenCache,
        now: u64,
    ) -> Option<CacheLookup<'_>> {
        let (raw, transfer) = match (self.bearer, self.cookies.as_slice()) {
            (Some(bearer), _) => (bearer, Transfer::Header),
            (None, [cookie]) => (cookie.as_ref(), Transfer::Cookie),
            _ => return None,
        };
        let (key, entry) = cache.lookup(raw, now);
        Some((raw, key, entry, transfer))
    }

    /// Header wins over cookie; a candidate that is not a SuperTokens access token is ignored
    /// (so a third-party bearer token does not break cookie sessions).
    pub(crate) fn choose(
        &self,
    ) -> Result<Option<(&str, UnverifiedToken<'_>, Transfer)>, SessionError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::request::test_view::TestRequest;

    #[test]
    fn bearer_needs_the_scheme_and_one_header() {
        let req = TestRequest::get().header(HeaderKey::Authorization, "Bearer  abc ");
        assert_eq!(bearer_token(&req), Ok(Some("abc")));
        let req = TestRequest::get().header(HeaderKey::Authorization, "bearer abc");
        assert_eq!(bearer_token(&req), Ok(Some("abc")));
        let req = TestRequest::get().header(HeaderKey::Authorization, "Basic abc");
        assert_eq!(bearer_token(&req), Ok(None));
        let req = TestRequest::get()
            .header(HeaderKey::Authorization, "Bearer a")
            .header(HeaderKey::Authorization, "Bearer b");
        assert_eq!(bearer_token(&req), Err(()));
    }

    #[test]
    fn cookies_are_found_in_every_header_and_decoded() {
        let req = TestRequest::get()
            .header(HeaderKey::Cookie, "a=1; sAccessToken=x%3Dy")
            .header(HeaderKey::Cookie, "sAccessToken=z");
        assert_eq!(cookie_values(&req, ACCESS_TOKEN_COOKIE), ["x=y", "z"]);
        assert!(cookie_values(&req, REFRESH_TOKEN_COOKIE).is_empty());
    }

    #[test]
    fn a_new_session_uses_cookies_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::SessionConfig::builder()
            .data_dir(dir.path())
            .build()
            .unwrap();
        let plain = TestRequest::get();
        assert_eq!(creation_transfer(&plain, config.inner()), Transfer::Header);
        let cookie = TestRequest::get().header(HeaderKey::AuthMode, "Cookie");
        assert_eq!(creation_transfer(&cookie, config.inner()), Transfer::Cookie);
    }

    #[test]
    fn a_transfer_method_function_sees_the_request_and_the_purpose() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::SessionConfig::builder()
            .data_dir(dir.path())
            .token_transfer_method_fn(|request| {
                match (request.header("X-Client"), request.for_create_new_session()) {
                    (Some("mobile"), _) => TokenTransferMethod::Header,
                    (_, true) if request.path() == "/web-login" => TokenTransferMethod::Cookie,
                    _ => TokenTransferMethod::Any,
                }
            })
            .build()
            .unwrap();
        let c = config.inner();
        let mobile = TestRequest::get()
            .other_header("x-client", "mobile")
            .header(HeaderKey::AuthMode, "cookie");
        assert_eq!(allowed_transfer(&mobile, c), TokenTransferMethod::Header);
        // The function's single method wins over `st-auth-mode`.
        assert_eq!(creation_transfer(&mobile, c), Transfer::Header);
        let web = TestRequest {
            path: "/web-login",
            ..TestRequest::get()
        };
        assert_eq!(creation_transfer(&web, c), Transfer::Cookie);
        assert_eq!(allowed_transfer(&web, c), TokenTransferMethod::Any);
        // `Any` at creation follows `st-auth-mode`.
        let asks = TestRequest::get().header(HeaderKey::AuthMode, "cookie");
        assert_eq!(creation_transfer(&asks, c), Transfer::Cookie);
        assert_eq!(creation_transfer(&TestRequest::get(), c), Transfer::Header);
    }

    #[test]
    fn header_keys_are_found_by_name() {
        assert_eq!(
            HeaderKey::from_name("ST-Auth-Mode"),
            Some(HeaderKey::AuthMode)
        );
        assert_eq!(HeaderKey::from_name("x-other"), None);
        let req = TestRequest::get().header(HeaderKey::Rid, "session");
        assert_eq!(req.lookup_header("RID"), Some("session"));
    }
}
