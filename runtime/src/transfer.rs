//! Token transfer (protocol §3): reading tokens from requests, writing and clearing them on
//! responses, and the front-token (§4).

use std::borrow::Cow;

use actix_web::HttpRequest;
use actix_web::http::header::{self, AsHeaderName, HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{ConfigInner, TokenTransferMethod};
use crate::headers;

pub(crate) const ACCESS_TOKEN_COOKIE: &str = "sAccessToken";
pub(crate) const REFRESH_TOKEN_COOKIE: &str = "sRefreshToken";
pub(crate) const LEGACY_ID_REFRESH_COOKIE: &str = "sIdRefreshToken";
pub(crate) const ACCESS_TOKEN_HEADER: &str = "st-access-token";
pub(crate) const REFRESH_TOKEN_HEADER: &str = "st-refresh-token";
pub(crate) const FRONT_TOKEN_HEADER: &str = "front-token";
pub(crate) const ANTI_CSRF_HEADER: &str = "anti-csrf";
pub(crate) const AUTH_MODE_HEADER: &str = "st-auth-mode";
/// Request headers looked up on every guarded request, as names (a `&str` is parsed on each
/// lookup).
pub(crate) const ANTI_CSRF: HeaderName = HeaderName::from_static(ANTI_CSRF_HEADER);
pub(crate) const RID: HeaderName = HeaderName::from_static("rid");

/// The transfer method a token actually arrived by.
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

/// All values of cookie `name` across every `Cookie` header, URL-decoded, in order.
pub(crate) fn cookie_values(req: &HttpRequest, name: &str) -> Vec<String> {
    let [values] = find_cookies(req, [name]);
    values.into_iter().map(Cow::into_owned).collect()
}

/// The values of each cookie in `names` across every `Cookie` header (see
/// [`headers::find_cookies`]).
pub(crate) fn find_cookies<'r, const N: usize>(
    req: &'r HttpRequest,
    names: [&str; N],
) -> [Vec<Cow<'r, str>>; N] {
    headers::find_cookies(
        req.headers()
            .get_all(header::COOKIE)
            .map(HeaderValue::as_bytes),
        names,
    )
}

/// A header value as text (see [`headers::header_text`]).
pub(crate) fn header_text(value: &HeaderValue) -> Option<&str> {
    headers::header_text(value.as_bytes())
}

/// The `Authorization: Bearer` value, if the request has exactly one `Authorization` header
/// of that form. `Err(())` when there are several (never valid HTTP; refusing them avoids
/// guessing which one a proxy meant).
pub(crate) fn bearer_token(req: &HttpRequest) -> Result<Option<&str>, ()> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    Ok(header_text(first).and_then(headers::bearer_credentials))
}

/// A request header as UTF-8, if present (first value).
pub(crate) fn header_str(req: &HttpRequest, name: impl AsHeaderName) -> Option<&str> {
    req.headers().get(name).and_then(header_text)
}

/// The transfer method for a new session (protocol §3.3): cookies only when the frontend
/// asked for them with `st-auth-mode: cookie`, headers otherwise; a configured single method
/// wins.
pub(crate) fn creation_transfer(req: &HttpRequest, config: &ConfigInner) -> Transfer {
    match config.token_transfer_method {
        TokenTransferMethod::Cookie => Transfer::Cookie,
        TokenTransferMethod::Header => Transfer::Header,
        TokenTransferMethod::Any => {
            let mode = header_str(req, AUTH_MODE_HEADER).map(str::to_ascii_lowercase);
            if mode.as_deref() == Some("cookie") {
                Transfer::Cookie
            } else {
                Transfer::Header
            }
        }
    }
}

/// The front-token: base64 of `{"uid","ate","up"}` (protocol §4).
pub(crate) fn front_token(user_id: &str, expiry_ms: u64, payload: &Map<String, Value>) -> String {
    #[derive(Serialize)]
    struct Front<'a> {
        uid: &'a str,
        ate: u64,
        up: &'a Map<String, Value>,
    }
    let json = serde_json::to_vec(&Front {
        uid: user_id,
        ate: expiry_ms,
        up: payload,
    })
    .unwrap_or_default();
    STANDARD.encode(json)
}

/// Writes response headers for session tokens, in the Node SDK's order and format.
pub(crate) struct ResponseWriter<'a> {
    pub(crate) headers: &'a mut HeaderMap,
    pub(crate) config: &'a ConfigInner,
}

/// What to write for a session whose tokens changed.
pub(crate) struct NewTokens<'a> {
    pub(crate) access_token: &'a str,
    pub(crate) front_token: &'a str,
    pub(crate) refresh_token: Option<(&'a str, u64)>,
    pub(crate) anti_csrf_token: Option<&'a str>,
}

/// One year, the `sAccessToken` cookie lifetime (the JWT's own `exp` governs validity).
const ACCESS_COOKIE_LIFETIME_MS: u64 = 31_536_000_000;

impl ResponseWriter<'_> {
    fn insert(&mut self, name: &'static str, value: &str) {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.insert(HeaderName::from_static(name), value);
        }
    }

    /// Adds `name` to `Access-Control-Expose-Headers` unless already listed.
    fn expose(&mut self, name: &str) {
        let current = self
            .headers
            .get(header::ACCESS_CONTROL_EXPOSE_HEADERS)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if current
            .split(',')
            .any(|item| item.trim().eq_ignore_ascii_case(name))
        {
            return;
        }
        let updated = if current.trim().is_empty() {
            name.to_owned()
        } else {
            format!("{current}, {name}")
        };
        if let Ok(value) = HeaderValue::from_str(&updated) {
            self.headers
                .insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
        }
    }

    fn set_cookie(&mut self, name: &str, value: &str, path: &str, expires_ms: u64) {
        let c = self.config;
        let mut cookie = format!("{name}={}", headers::encode_cookie_value(value));
        if let Some(domain) = &c.cookie_domain {
            cookie.push_str("; Domain=");
            cookie.push_str(domain);
        }
        cookie.push_str("; Path=");
        cookie.push_str(path);
        cookie.push_str("; Expires=");
        cookie.push_str(&httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(expires_ms),
        ));
        cookie.push_str("; HttpOnly");
        if c.cookie_secure {
            cookie.push_str("; Secure");
        }
        cookie.push_str("; SameSite=");
        cookie.push_str(c.cookie_same_site.as_str());
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            self.headers.append(header::SET_COOKIE, value);
        }
    }

    fn set_token(&mut self, refresh: bool, value: &str, expires_ms: u64, method: Transfer) {
        match method {
            Transfer::Cookie => {
                let (name, path) = if refresh {
                    (REFRESH_TOKEN_COOKIE, self.config.refresh_token_path.clone())
                } else {
                    (ACCESS_TOKEN_COOKIE, self.config.access_token_path.clone())
                };
                self.set_cookie(name, value, &path, expires_ms);
            }
            Transfer::Header => {
                let name = if refresh {
                    REFRESH_TOKEN_HEADER
                } else {
                    ACCESS_TOKEN_HEADER
                };
                self.insert(name, value);
                self.expose(name);
            }
        }
    }

    /// Writes a new or changed session (protocol §3.4 "attachToRequestResponse").
    pub(crate) fn attach(&mut self, tokens: &NewTokens<'_>, method: Transfer, now_ms: u64) {
        self.insert(FRONT_TOKEN_HEADER, tokens.front_token);
        self.expose(FRONT_TOKEN_HEADER);
        self.set_token(
            false,
            tokens.access_token,
            now_ms + ACCESS_COOKIE_LIFETIME_MS,
            method,
        );
        if let Some((refresh_token, expiry_ms)) = tokens.refresh_token {
            self.set_token(true, refresh_token, expiry_ms, method);
        }
        if let Some(anti_csrf) = tokens.anti_csrf_token {
            self.insert(ANTI_CSRF_HEADER, anti_csrf);
            self.expose(ANTI_CSRF_HEADER);
        }
    }

    /// Clears the session in one transfer method (protocol §3.5).
    pub(crate) fn clear(&mut self, method: Transfer) {
        self.set_token(false, "", 0, method);
        self.set_token(true, "", 0, method);
        self.headers.remove(ANTI_CSRF_HEADER);
        self.insert(FRONT_TOKEN_HEADER, "remove");
        self.expose(FRONT_TOKEN_HEADER);
    }

    /// Expires the `sIdRefreshToken` cookie of pre-2023 SDKs (protocol §3.7).
    pub(crate) fn clear_legacy_id_refresh_cookie(&mut self) {
        let path = self.config.access_token_path.clone();
        self.set_cookie(LEGACY_ID_REFRESH_COOKIE, "", &path, 0);
    }

    /// Clears the session in cookies and headers.
    pub(crate) fn clear_all(&mut self) {
        self.clear(Transfer::Cookie);
        self.clear(Transfer::Header);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use serde_json::json;

    #[test]
    fn header_text_accepts_exactly_what_to_str_accepts() {
        for byte in 0..=u8::MAX {
            for bytes in [
                vec![byte],
                vec![b'a'; 40].into_iter().chain([byte]).collect(),
            ] {
                let Ok(value) = HeaderValue::from_bytes(&bytes) else {
                    continue;
                };
                assert_eq!(header_text(&value), value.to_str().ok(), "byte {byte:#04x}");
            }
        }
    }

    #[test]
    fn front_token_matches_appendix_a_shape() {
        let payload = json!({"sub": "user-1"});
        let token = front_token("user-1", 4_102_444_800_000, payload.as_object().unwrap());
        let decoded: Value = serde_json::from_slice(&STANDARD.decode(token).unwrap()).unwrap();
        assert_eq!(
            decoded,
            json!({"uid": "user-1", "ate": 4_102_444_800_000u64, "up": {"sub": "user-1"}})
        );
    }

    #[test]
    fn cookies_are_found_in_every_header_and_decoded() {
        let req = TestRequest::default()
            .append_header((header::COOKIE, "a=1; sAccessToken=x%3Dy"))
            .append_header((header::COOKIE, "sAccessToken=z"))
            .to_http_request();
        assert_eq!(cookie_values(&req, ACCESS_TOKEN_COOKIE), vec!["x=y", "z"]);
        assert!(cookie_values(&req, REFRESH_TOKEN_COOKIE).is_empty());
    }

    #[test]
    fn bearer_needs_the_scheme_and_one_header() {
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer  abc "))
            .to_http_request();
        assert_eq!(bearer_token(&req), Ok(Some("abc")));
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "bearer abc"))
            .to_http_request();
        assert_eq!(bearer_token(&req), Ok(Some("abc")));
        let req = TestRequest::default()
            .append_header((header::AUTHORIZATION, "Bearer a"))
            .append_header((header::AUTHORIZATION, "Bearer b"))
            .to_http_request();
        assert_eq!(bearer_token(&req), Err(()));
    }
}
