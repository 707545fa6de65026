//! Thin wrappers over internals for the property tests, fuzz targets and benchmarks (feature
//! `__internals`). Not public API: no stability promise.

/// What the property tests and fuzz targets call.
pub mod fuzz {
    use serde_json::{Map, Value};

    /// What [`parse_access_token`] saw in a token (signature not checked).
    #[derive(Debug, Clone, PartialEq)]
    pub struct ParsedAccessToken {
        /// 2 (v1/v2), 3, 4 or 5.
        pub version: u8,
        /// The header `kid` (`None` for v2).
        pub kid: Option<String>,
        /// The decoded payload.
        pub payload: Map<String, Value>,
    }

    /// Version detection and structure check (docs/protocol.md §1.3, §1.4); errors give the reason.
    pub fn parse_access_token(raw: &str) -> Result<ParsedAccessToken, String> {
        crate::token::parse_access_token(raw)
            .map(|t| ParsedAccessToken {
                version: t.version,
                kid: t.kid,
                payload: t.payload,
            })
            .map_err(|e| e.to_string())
    }

    /// Full local verification with `keys` at `now_ms`; the verified payload (for v2 its
    /// `userData`), or the reason.
    pub async fn verify_access_token(
        raw: &str,
        keys: &crate::JwksCache,
        now_ms: u64,
    ) -> Result<Map<String, Value>, String> {
        let parsed = crate::token::parse_access_token(raw).map_err(|e| e.to_string())?;
        crate::token::verify_access_token(parsed, keys, now_ms)
            .await
            .map(|info| std::sync::Arc::unwrap_or_clone(info.payload).into_map())
            .map_err(|e| e.to_string())
    }

    /// The request reader and verification of docs/protocol.md §3.2 and §6.2, as a route with
    /// `required` uses them (the app must carry a [`SessionConfig`](crate::SessionConfig)).
    pub async fn verify_request(
        req: &actix_web::HttpRequest,
        required: bool,
    ) -> Result<Option<crate::SessionContainer>, crate::SessionError> {
        let config = crate::SessionConfig::from_request(req)?;
        let options = crate::VerifyOptions::new(required);
        crate::protocol::verify_request(req, &config, &options, |_| {}).await
    }

    /// Every value of cookie `name`, URL-decoded, in request order.
    pub fn cookie_values(req: &actix_web::HttpRequest, name: &str) -> Vec<String> {
        crate::protocol::cookie_values(req, name)
            .into_iter()
            .map(std::borrow::Cow::into_owned)
            .collect()
    }

    /// The `Authorization: Bearer` value; `Err(())` for several `Authorization` headers.
    #[allow(clippy::result_unit_err, reason = "mirrors the internal reader")]
    pub fn bearer_token(req: &actix_web::HttpRequest) -> Result<Option<String>, ()> {
        crate::protocol::bearer_token(req).map(|t| t.map(str::to_owned))
    }

    /// The front-token for a user, access-token expiry and payload (docs/protocol.md §4).
    pub fn front_token(user_id: &str, expiry_ms: u64, payload: &Map<String, Value>) -> String {
        crate::protocol::front_token(user_id, expiry_ms, payload)
    }

    /// Runs every built-in claim validator (and their refetch checks and typed value reads)
    /// on `payload` at `now_ms`; returns the failures as `(id, reason)`.
    pub fn validate_claims(payload: &Map<String, Value>, now_ms: u64) -> Vec<(String, Value)> {
        use crate::claims::{
            ClaimValidator, EmailVerified, Permissions, Roles, SessionClaim as _,
            SessionClaimValidator as _,
        };
        let _ = (
            EmailVerified.value_from_payload(payload),
            EmailVerified.last_fetched_ms(payload),
            Roles.value_from_payload(payload),
            Permissions.value_from_payload(payload),
        );
        let validators = [
            EmailVerified::is_verified(),
            EmailVerified::is_verified().with_max_age(0),
            Roles::includes("admin"),
            Roles::excludes("banned"),
            Roles::includes_all(["a", "b"]),
            Roles::includes_any(["a", "b"]).with_max_age(u64::MAX),
            Permissions::excludes_all(["x"]),
            ClaimValidator::has_value("custom", serde_json::json!({"k": [1, 2.5, null]})),
            ClaimValidator::includes("custom", 1.5).with_max_age(60),
        ];
        validators
            .iter()
            .filter_map(|v| {
                let _ = v.should_refetch(payload, now_ms);
                v.validate(payload, now_ms)
                    .err()
                    .map(|reason| (v.id().to_owned(), reason))
            })
            .collect()
    }
}

/// What `benches/verify.rs` measures.
pub mod bench {
    use actix_web::HttpRequest;

    use crate::{SessionConfig, SessionContainer, SessionError, VerifyOptions};

    /// What `#[verify_session]` runs for a request (docs/protocol.md §6.2), claims included.
    ///
    /// # Errors
    /// As [`get_session`](crate::get_session).
    pub async fn verify_request(
        req: &HttpRequest,
        config: &SessionConfig,
        options: &VerifyOptions,
    ) -> Result<Option<SessionContainer>, SessionError> {
        crate::protocol::verify_request(req, config, options, |_| {}).await
    }

    /// Finds and parses the access token of a request as verification does; `Some(true)` for
    /// a header token, `Some(false)` for a cookie.
    pub fn read_token(req: &HttpRequest, config: &SessionConfig) -> Option<bool> {
        crate::protocol::read_token(req, config)
    }

    /// The front-token of a session (what responses with new tokens carry).
    pub fn front_token(session: &SessionContainer) -> String {
        let state = session.state();
        crate::protocol::front_token(session.user_id(), state.expiry_ms, &state.payload)
    }

    /// Empties the verified-token cache.
    pub fn clear_verified_tokens(config: &SessionConfig) {
        if let Some(cache) = &config.inner().verified_tokens {
            cache.clear();
        }
    }

    /// Whether the verified-token cache holds a live entry for `token`.
    pub fn is_cached(config: &SessionConfig, token: &str) -> bool {
        let key = crate::cache::TokenKey::of(token);
        config
            .inner()
            .verified_tokens
            .as_ref()
            .is_some_and(|c| c.get(&key, token, 0).is_some())
    }

    /// Number of tokens in the verified-token cache (0 when it is off).
    pub fn verified_tokens_len(config: &SessionConfig) -> usize {
        config
            .inner()
            .verified_tokens
            .as_ref()
            .map_or(0, |c| c.len())
    }
}
