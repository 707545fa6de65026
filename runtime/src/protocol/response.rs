//! What a response must say about the session (docs/protocol.md §3.4–§3.7, §4): new tokens, the
//! front-token, cleared tokens, as a list of header changes each adapter applies to its own
//! response type.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::ConfigInner;
use crate::headers::encode_cookie_value;

use super::read::{ACCESS_TOKEN_COOKIE, LEGACY_ID_REFRESH_COOKIE, REFRESH_TOKEN_COOKIE, Transfer};

pub(crate) const ACCESS_TOKEN_HEADER: &str = "st-access-token";
pub(crate) const REFRESH_TOKEN_HEADER: &str = "st-refresh-token";
pub(crate) const FRONT_TOKEN_HEADER: &str = "front-token";
pub(crate) const ANTI_CSRF_HEADER: &str = "anti-csrf";
pub(crate) const SET_COOKIE: &str = "set-cookie";
pub(crate) const EXPOSE_HEADERS: &str = "access-control-expose-headers";

/// Sent with every response that carries new tokens.
const CACHE_CONTROL_HEADER: &str = "cache-control";

/// One year, the `sAccessToken` cookie lifetime (the JWT's own `exp` governs validity).
const ACCESS_COOKIE_LIFETIME_MS: u64 = 31_536_000_000;

/// One change to a response's headers, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderChange {
    /// Replace every value of the header with this one.
    Insert(&'static str, String),
    /// Add a `Set-Cookie` header.
    SetCookie(String),
    /// Remove the header.
    Remove(&'static str),
    /// List the header in `Access-Control-Expose-Headers` unless it is listed already.
    Expose(&'static str),
}

/// The header changes a response owes the client, in the Node SDK's order and format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResponseChanges(Vec<HeaderChange>);

/// What to write for a session whose tokens changed.
pub(crate) struct NewTokens<'a> {
    pub(crate) access_token: &'a str,
    pub(crate) front_token: &'a str,
    pub(crate) refresh_token: Option<(&'a str, u64)>,
    pub(crate) anti_csrf_token: Option<&'a str>,
}

impl ResponseChanges {
    /// Whether there is nothing to change.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The changes, in the order to apply them.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &HeaderChange> {
        self.0.iter()
    }

    /// Appends `other`'s changes after these.
    pub(crate) fn extend(&mut self, other: ResponseChanges) {
        self.0.extend(other.0);
    }

    fn insert(&mut self, name: &'static str, value: impl Into<String>) {
        self.0.push(HeaderChange::Insert(name, value.into()));
    }

    fn expose(&mut self, name: &'static str) {
        self.0.push(HeaderChange::Expose(name));
    }

    fn set_cookie(
        &mut self,
        config: &ConfigInner,
        name: &str,
        value: &str,
        path: &str,
        expires_ms: u64,
    ) {
        self.set_cookie_in(
            config,
            config.cookie_domain.as_deref(),
            name,
            value,
            path,
            expires_ms,
        );
    }

    /// A `Set-Cookie` with `domain` (`None` or empty: a host-only cookie) instead of the
    /// configured cookie domain.
    fn set_cookie_in(
        &mut self,
        config: &ConfigInner,
        domain: Option<&str>,
        name: &str,
        value: &str,
        path: &str,
        expires_ms: u64,
    ) {
        let mut cookie = format!("{name}={}", encode_cookie_value(value));
        if let Some(domain) = domain.filter(|d| !d.is_empty()) {
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
        if config.cookie_secure {
            cookie.push_str("; Secure");
        }
        cookie.push_str("; SameSite=");
        cookie.push_str(config.cookie_same_site.as_str());
        self.0.push(HeaderChange::SetCookie(cookie));
    }

    fn set_token(
        &mut self,
        config: &ConfigInner,
        refresh: bool,
        value: &str,
        expires_ms: u64,
        method: Transfer,
    ) {
        match method {
            Transfer::Cookie => {
                let (name, path) = if refresh {
                    (REFRESH_TOKEN_COOKIE, &config.refresh_token_path)
                } else {
                    (ACCESS_TOKEN_COOKIE, &config.access_token_path)
                };
                self.set_cookie(config, name, value, path, expires_ms);
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

    /// Writes a new or changed session (docs/protocol.md §3.4 "attachToRequestResponse").
    pub(crate) fn attach(
        &mut self,
        config: &ConfigInner,
        tokens: &NewTokens<'_>,
        method: Transfer,
        now_ms: u64,
    ) {
        // A response with tokens must never be stored by a shared cache (a CDN, a proxy) and
        // handed to someone else.
        self.insert(CACHE_CONTROL_HEADER, "no-store");
        self.insert(FRONT_TOKEN_HEADER, tokens.front_token);
        self.expose(FRONT_TOKEN_HEADER);
        let access_expiry_ms = now_ms.saturating_add(ACCESS_COOKIE_LIFETIME_MS);
        self.set_token(config, false, tokens.access_token, access_expiry_ms, method);
        if method == Transfer::Cookie && config.expose_access_token_in_cookie_mode {
            // `expose_access_token_to_frontend_in_cookie_based_auth`: the frontend can read
            // the token it cannot see in the HttpOnly cookie.
            self.set_token(
                config,
                false,
                tokens.access_token,
                access_expiry_ms,
                Transfer::Header,
            );
        }
        if let Some((refresh_token, expiry_ms)) = tokens.refresh_token {
            self.set_token(config, true, refresh_token, expiry_ms, method);
        }
        if let Some(anti_csrf) = tokens.anti_csrf_token {
            self.insert(ANTI_CSRF_HEADER, anti_csrf);
            self.expose(ANTI_CSRF_HEADER);
        }
    }

    /// Clears the session in one transfer method (docs/protocol.md §3.5).
    pub(crate) fn clear(&mut self, config: &ConfigInner, method: Transfer) {
        self.set_token(config, false, "", 0, method);
        self.set_token(config, true, "", 0, method);
        self.0.push(HeaderChange::Remove(ANTI_CSRF_HEADER));
        self.insert(FRONT_TOKEN_HEADER, "remove");
        self.expose(FRONT_TOKEN_HEADER);
    }

    /// Clears the session in cookies and headers.
    pub(crate) fn clear_all(&mut self, config: &ConfigInner) {
        self.clear(config, Transfer::Cookie);
        self.clear(config, Transfer::Header);
    }

    /// Expires the access (`refresh == false`) or refresh cookie set for `domain` (an empty
    /// domain: the host-only cookie), leaving the configured domain's cookie alone.
    pub(crate) fn clear_cookie_in_domain(
        &mut self,
        config: &ConfigInner,
        domain: &str,
        refresh: bool,
    ) {
        let (name, path) = if refresh {
            (REFRESH_TOKEN_COOKIE, &config.refresh_token_path)
        } else {
            (ACCESS_TOKEN_COOKIE, &config.access_token_path)
        };
        self.set_cookie_in(config, Some(domain), name, "", path, 0);
    }

    /// Expires the `sIdRefreshToken` cookie of pre-2023 SDKs (docs/protocol.md §3.7).
    pub(crate) fn clear_legacy_id_refresh_cookie(&mut self, config: &ConfigInner) {
        self.set_cookie(
            config,
            LEGACY_ID_REFRESH_COOKIE,
            "",
            &config.access_token_path,
            0,
        );
    }
}

/// A framework's response headers, as [`ResponseChanges::apply_to`] writes them. A value that
/// is not valid header text is left out by the implementation (tokens and cookies always are).
pub(crate) trait HeaderSink {
    /// Replaces every value of `name` with `value`.
    fn insert(&mut self, name: &'static str, value: &str);
    /// Adds a `Set-Cookie` header.
    fn append_set_cookie(&mut self, cookie: &str);
    /// Removes `name`.
    fn remove(&mut self, name: &'static str);
    /// The first value of `name` as text.
    fn get(&self, name: &'static str) -> Option<&str>;
}

impl ResponseChanges {
    /// Applies the changes to `headers`, in order.
    pub(crate) fn apply_to(&self, headers: &mut impl HeaderSink) {
        for change in &self.0 {
            match change {
                HeaderChange::Insert(name, value) => headers.insert(name, value),
                HeaderChange::SetCookie(cookie) => headers.append_set_cookie(cookie),
                HeaderChange::Remove(name) => headers.remove(name),
                HeaderChange::Expose(name) => {
                    if let Some(listed) = exposed_with(headers.get(EXPOSE_HEADERS), name) {
                        headers.insert(EXPOSE_HEADERS, &listed);
                    }
                }
            }
        }
    }
}

/// The new `Access-Control-Expose-Headers` value once `name` is listed in `current`; `None`
/// when it is listed already.
pub(crate) fn exposed_with(current: Option<&str>, name: &str) -> Option<String> {
    let current = current.unwrap_or("");
    if current
        .split(',')
        .any(|item| item.trim().eq_ignore_ascii_case(name))
    {
        return None;
    }
    Some(if current.trim().is_empty() {
        name.to_owned()
    } else {
        format!("{current}, {name}")
    })
}

/// The front-token: base64 of `{"uid","ate","up"}` (docs/protocol.md §4).
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn exposing_adds_each_name_once() {
        assert_eq!(
            exposed_with(None, "front-token").as_deref(),
            Some("front-token")
        );
        assert_eq!(
            exposed_with(Some("x-a"), "front-token").as_deref(),
            Some("x-a, front-token")
        );
        assert_eq!(exposed_with(Some("x-a, Front-Token"), "front-token"), None);
    }

    fn set_cookies(changes: &ResponseChanges) -> Vec<&str> {
        changes
            .iter()
            .filter_map(|c| match c {
                HeaderChange::SetCookie(v) => Some(v.as_str()),
                _ => None,
            })
            .collect()
    }

    fn attach_cookie_session(config: &crate::SessionConfig) -> ResponseChanges {
        let mut changes = ResponseChanges::default();
        changes.attach(
            config.inner(),
            &NewTokens {
                access_token: "the-access-token",
                front_token: "front",
                refresh_token: Some(("the-refresh-token", 4_102_444_800_000)),
                anti_csrf_token: None,
            },
            Transfer::Cookie,
            1_700_000_000_000,
        );
        changes
    }

    #[test]
    fn an_exposed_access_token_goes_out_as_cookie_and_header() {
        let dir = tempfile::tempdir().unwrap();
        let hidden = crate::SessionConfig::builder()
            .data_dir(dir.path())
            .build()
            .unwrap();
        let changes = attach_cookie_session(&hidden);
        assert!(!changes.iter().any(|c| matches!(
            c,
            HeaderChange::Insert(ACCESS_TOKEN_HEADER, _)
                | HeaderChange::Expose(ACCESS_TOKEN_HEADER)
        )));

        let dir = tempfile::tempdir().unwrap();
        let exposed = crate::SessionConfig::builder()
            .data_dir(dir.path())
            .expose_access_token_to_frontend_in_cookie_based_auth(true)
            .build()
            .unwrap();
        let changes = attach_cookie_session(&exposed);
        assert_eq!(set_cookies(&changes).len(), 2);
        assert!(changes.iter().any(
            |c| *c == HeaderChange::Insert(ACCESS_TOKEN_HEADER, "the-access-token".to_owned())
        ));
        assert!(
            changes
                .iter()
                .any(|c| *c == HeaderChange::Expose(ACCESS_TOKEN_HEADER))
        );
        // Never the refresh token.
        assert!(
            !changes
                .iter()
                .any(|c| matches!(c, HeaderChange::Insert(REFRESH_TOKEN_HEADER, _)))
        );
    }

    #[test]
    fn an_older_domain_cookie_is_expired_with_that_domain_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::SessionConfig::builder()
            .data_dir(dir.path())
            .cookie_domain("api.example.com")
            .build()
            .unwrap();
        let mut changes = ResponseChanges::default();
        changes.clear_cookie_in_domain(config.inner(), ".example.com", false);
        changes.clear_cookie_in_domain(config.inner(), "", true);
        let cookies = set_cookies(&changes);
        assert!(
            cookies[0].starts_with(
                "sAccessToken=; Domain=.example.com; Path=/; Expires=Thu, 01 Jan 1970"
            ),
            "{}",
            cookies[0]
        );
        assert!(
            cookies[1].starts_with("sRefreshToken=; Path=/auth/session/refresh; Expires=Thu"),
            "{}",
            cookies[1]
        );
    }

    #[test]
    fn clearing_a_cookie_session_expires_both_cookies_and_removes_the_front_token() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::SessionConfig::builder()
            .data_dir(dir.path())
            .build()
            .unwrap();
        let mut changes = ResponseChanges::default();
        changes.clear(config.inner(), Transfer::Cookie);
        let cookies: Vec<_> = changes
            .iter()
            .filter_map(|c| match c {
                HeaderChange::SetCookie(v) => Some(v.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(cookies.len(), 2);
        assert!(cookies[0].starts_with("sAccessToken=; Path=/; Expires=Thu, 01 Jan 1970"));
        assert!(cookies[1].starts_with("sRefreshToken=; Path=/auth/session/refresh;"));
        assert!(
            changes
                .iter()
                .any(|c| *c == HeaderChange::Insert(FRONT_TOKEN_HEADER, "remove".to_owned()))
        );
    }
}
