//! The request as the protocol sees it: a read-only view each adapter implements over its own
//! request type, borrowing (never copying) the framework's headers.

use crate::headers::header_text;

/// The request headers the session protocol reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderKey {
    /// `authorization`: the `Bearer` access or refresh token (header mode).
    Authorization,
    /// `cookie`: `sAccessToken`, `sRefreshToken` and the legacy `sIdRefreshToken` (cookie mode).
    Cookie,
    /// `anti-csrf`: the anti-CSRF token (`VIA_TOKEN`).
    AntiCsrf,
    /// `rid`: the custom header of the `VIA_CUSTOM_HEADER` anti-CSRF check.
    Rid,
    /// `st-auth-mode`: the transfer method the frontend asks for at login.
    AuthMode,
}

impl HeaderKey {
    /// The header's lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            HeaderKey::Authorization => "authorization",
            HeaderKey::Cookie => "cookie",
            HeaderKey::AntiCsrf => "anti-csrf",
            HeaderKey::Rid => "rid",
            HeaderKey::AuthMode => "st-auth-mode",
        }
    }

    /// The key of a header name, if the protocol reads that header (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            HeaderKey::Authorization,
            HeaderKey::Cookie,
            HeaderKey::AntiCsrf,
            HeaderKey::Rid,
            HeaderKey::AuthMode,
        ]
        .into_iter()
        .find(|key| key.as_str().eq_ignore_ascii_case(name))
    }
}

/// A read-only view of an HTTP request: what verification, session creation, refresh and
/// sign-out read. Adapters implement it over their framework's request without copying it.
pub trait RequestView {
    /// The method, e.g. `GET`.
    fn method(&self) -> &str;

    /// The path, without the query.
    fn path(&self) -> &str;

    /// The query string without its `?` (empty when there is none).
    fn query(&self) -> &str {
        ""
    }

    /// Every value of the header `key`, in request order, as raw bytes.
    fn header_values(&self, key: HeaderKey) -> impl Iterator<Item = &[u8]>;

    /// A path parameter of the matched route (`tenant` in `/t/{tenant}/items`), if the
    /// framework matched one.
    fn path_param(&self, name: &str) -> Option<&str> {
        let _ = name;
        None
    }

    /// The first value of the header `key` as text (visible ASCII), if present.
    fn header(&self, key: HeaderKey) -> Option<&str> {
        self.header_values(key).next().and_then(header_text)
    }

    /// The first value of any header, by its name (case-insensitive), as text (visible
    /// ASCII). What a [`token_transfer_method_fn`](crate::SessionConfigBuilder::token_transfer_method_fn)
    /// reads. The default finds only the headers of [`HeaderKey`]; the crate's adapters find
    /// every header.
    fn header_by_name(&self, name: &str) -> Option<&str> {
        HeaderKey::from_name(name).and_then(|key| self.header(key))
    }
}

#[cfg(test)]
pub(crate) mod test_view {
    //! A request view over owned parts, for the protocol's unit tests.

    use super::{HeaderKey, RequestView};

    /// A request with a method, a path and headers.
    #[derive(Debug, Default)]
    pub(crate) struct TestRequest {
        pub(crate) method: &'static str,
        pub(crate) path: &'static str,
        pub(crate) headers: Vec<(HeaderKey, String)>,
        /// Headers the protocol does not read, by lower-case name.
        pub(crate) other_headers: Vec<(&'static str, String)>,
    }

    impl TestRequest {
        pub(crate) fn get() -> Self {
            Self {
                method: "GET",
                path: "/",
                headers: Vec::new(),
                other_headers: Vec::new(),
            }
        }

        pub(crate) fn other_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
            self.other_headers.push((name, value.into()));
            self
        }

        pub(crate) fn header(mut self, key: HeaderKey, value: impl Into<String>) -> Self {
            self.headers.push((key, value.into()));
            self
        }
    }

    impl RequestView for TestRequest {
        fn method(&self) -> &str {
            self.method
        }

        fn path(&self) -> &str {
            self.path
        }

        fn header_values(&self, key: HeaderKey) -> impl Iterator<Item = &[u8]> {
            self.headers
                .iter()
                .filter(move |(k, _)| *k == key)
                .map(|(_, v)| v.as_bytes())
        }

        fn header_by_name(&self, name: &str) -> Option<&str> {
            match HeaderKey::from_name(name) {
                Some(key) => self.header(key),
                None => self
                    .other_headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str()),
            }
        }
    }
}
