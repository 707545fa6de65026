//! JWTs for other services and the keys to verify them: the SDKs' `createJWT`, `getJWKS` and
//! `getOpenIdDiscoveryConfiguration` (supertokens-node's `jwt` and `openid` recipes), and the
//! answers of the two public endpoints every adapter serves beside refresh and sign-out,
//! `GET {apiBasePath}/jwt/jwks.json` and `GET {apiBasePath}/.well-known/openid-configuration`.
//!
//! A JWT made here is signed by the session core with one of the keys it publishes, so a
//! service verifies it with the JWKS at `jwks_uri`, found from the issuer's discovery document
//! as OpenID Connect libraries do. It is not a session: nothing revokes it before `exp`.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::SessionConfig;
use crate::core::{CoreError, NewJwt};
use crate::error::{ErrorResponse, SessionError};

/// The validity of a JWT when none is given: 100 years, supertokens-node's
/// `jwtValiditySeconds` default.
pub const DEFAULT_JWT_VALIDITY: Duration = Duration::from_secs(3_153_600_000);

/// Where the JWKS is served, under the `apiBasePath` (supertokens-node's `GET_JWKS_API`).
pub(crate) const JWKS_PATH: &str = "/jwt/jwks.json";
/// Where the discovery document is served, under the `apiBasePath`.
pub(crate) const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// `Cache-Control` of the JWKS endpoint: supertokens-node's answer when the core names no
/// lifetime. A new signing key is published at least a minute before it signs, so a verifier
/// that refetches after this never meets a token signed by a key it has not seen.
pub(crate) const JWKS_CACHE_CONTROL: &str = "max-age=60, must-revalidate";

/// How long one fetched JWKS is handed out again: far below the minute a new key is
/// published before it signs, so reuse never hides a key in use.
const JWKS_REUSE: Duration = Duration::from_secs(5);

/// The OpenID Connect discovery document (supertokens-node's
/// `getOpenIdDiscoveryConfiguration`), served at
/// `GET {apiBasePath}/.well-known/openid-configuration`.
///
/// It serialises with supertokens-node 24's field names and order. The `/oauth/…` endpoints
/// belong to SuperTokens' OAuth2 provider recipe, which sessionward does not implement:
/// supertokens-node lists them whether or not that recipe runs, and so does this document, so
/// that a client written against one reads the other. Verifiers of the JWTs made by
/// [`SessionConfig::create_jwt`] need only `issuer` and `jwks_uri`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OpenIdDiscovery {
    /// `apiDomain` + `apiGatewayPath` + `apiBasePath`, e.g. `https://api.example.com/auth`:
    /// the `iss` of the JWTs [`SessionConfig::create_jwt`] makes.
    pub issuer: String,
    /// `{issuer}/jwt/jwks.json`: the keys that verify those JWTs.
    pub jwks_uri: String,
    /// `{issuer}/oauth/auth`.
    pub authorization_endpoint: String,
    /// `{issuer}/oauth/token`.
    pub token_endpoint: String,
    /// `{issuer}/oauth/userinfo`.
    pub userinfo_endpoint: String,
    /// `{issuer}/oauth/revoke`.
    pub revocation_endpoint: String,
    /// `{issuer}/oauth/introspect`.
    pub token_introspection_endpoint: String,
    /// `{issuer}/oauth/end_session`.
    pub end_session_endpoint: String,
    /// `["public"]`.
    pub subject_types_supported: Vec<String>,
    /// `["RS256"]`.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `["code", "id_token", "id_token token"]`.
    pub response_types_supported: Vec<String>,
}

impl OpenIdDiscovery {
    /// The document of the issuer `issuer` (no trailing slash).
    fn for_issuer(issuer: String) -> Self {
        let at = |path: &str| format!("{issuer}{path}");
        let strings = |items: &[&str]| items.iter().map(|&s| s.to_owned()).collect();
        Self {
            jwks_uri: at(JWKS_PATH),
            authorization_endpoint: at("/oauth/auth"),
            token_endpoint: at("/oauth/token"),
            userinfo_endpoint: at("/oauth/userinfo"),
            revocation_endpoint: at("/oauth/revoke"),
            token_introspection_endpoint: at("/oauth/introspect"),
            end_session_endpoint: at("/oauth/end_session"),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: strings(&["RS256"]),
            response_types_supported: strings(&["code", "id_token", "id_token token"]),
            issuer,
        }
    }
}

impl SessionConfig {
    /// Signs a JWT for another service (supertokens-node's `Session.createJWT`): RS256, with
    /// one of the keys the core publishes at [`get_jwks`](Self::get_jwks).
    ///
    /// - `payload`: a JSON object (or `null` for none). `iss` is set to the
    ///   [discovery document](Self::get_open_id_discovery_configuration)'s issuer, and the core
    ///   adds `iat` and `exp`; a claim of the same name in `payload` wins, as with
    ///   supertokens-node.
    /// - `validity`: `exp - iat`, in whole seconds; default [`DEFAULT_JWT_VALIDITY`] (100
    ///   years), at most [`MAX_JWT_VALIDITY_SECS`](crate::core::MAX_JWT_VALIDITY_SECS).
    /// - `use_static_signing_key`: default `true`, the static key (`kid` `s-…`), which never
    ///   rotates. `false` signs with the current dynamic key (`d-…`): it is deleted some time
    ///   after the next rotation, and verifiers then refuse the JWT, whatever its `exp`.
    ///
    /// ```no_run
    /// # async fn run(config: sessionward::SessionConfig) -> Result<(), sessionward::SessionError> {
    /// use std::time::Duration;
    ///
    /// let jwt = config
    ///     .create_jwt(
    ///         serde_json::json!({"sub": "user-1", "aud": "billing"}),
    ///         Some(Duration::from_secs(300)),
    ///         None,
    ///     )
    ///     .await?;
    /// // send it as `Authorization: Bearer {jwt}` to the billing service
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`SessionError::Internal`] for a payload that is not an object or a validity outside
    /// 1 second to 1000 years; core failures.
    pub async fn create_jwt(
        &self,
        payload: Value,
        validity: Option<Duration>,
        use_static_signing_key: Option<bool>,
    ) -> Result<String, SessionError> {
        let mut payload = match payload {
            Value::Null => serde_json::Map::new(),
            Value::Object(map) => map,
            _ => {
                return Err(SessionError::Internal(
                    "create_jwt: the payload must be a JSON object".into(),
                ));
            }
        };
        if !payload.contains_key("iss") {
            payload.insert("iss".into(), Value::String(self.issuer()));
        }
        let jwt = NewJwt {
            payload,
            validity_secs: validity.unwrap_or(DEFAULT_JWT_VALIDITY).as_secs(),
            use_static_signing_key: use_static_signing_key.unwrap_or(true),
            // What supertokens-node sends as the core's `jwksDomain`; the core's fallback
            // issuer, unused here since `iss` is set above.
            jwks_domain: self.inner().api_domain.clone(),
        };
        if let Err(CoreError::BadRequest(message)) = jwt.check() {
            return Err(SessionError::Internal(format!("create_jwt: {message}")));
        }
        Ok(self.core().create_jwt(jwt).await?)
    }

    /// The public keys of the core (supertokens-node's `getJWKS`): what verifies the JWTs of
    /// [`create_jwt`](Self::create_jwt) and the access tokens, as served at
    /// `GET {apiBasePath}/jwt/jwks.json`. The set is fetched from the core, and handed out
    /// again for a few seconds.
    ///
    /// ```no_run
    /// # async fn run(config: sessionward::SessionConfig) -> Result<(), sessionward::SessionError> {
    /// let jwks = config.get_jwks().await?;
    /// let kids: Vec<_> = jwks.keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
    /// println!("signing keys: {kids:?}");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`SessionError::CoreUnavailable`] when the core's keys cannot be fetched.
    pub async fn get_jwks(&self) -> Result<crate::jwk::JwkSet, SessionError> {
        let slot = &self.inner().served_jwks;
        let reuse = |slot: &std::sync::Mutex<Option<(Instant, JwkSet)>>| {
            let served = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match &*served {
                Some((at, set)) if at.elapsed() < JWKS_REUSE => Some(set.clone()),
                _ => None,
            }
        };
        if let Some(set) = reuse(slot) {
            return Ok(set);
        }
        let set = self
            .core()
            .key_source()
            .fetch_keys()
            .await
            .map_err(|error| SessionError::CoreUnavailable(CoreError::Unavailable(error.0)))?;
        *slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), set.clone()));
        Ok(set)
    }

    /// The OpenID Connect discovery document (supertokens-node's
    /// `getOpenIdDiscoveryConfiguration`), as served at
    /// `GET {apiBasePath}/.well-known/openid-configuration`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let config = sessionward::SessionConfig::builder()
    ///     .data_dir(dir.path())
    ///     .api_domain("https://api.example.com")
    ///     .build()?;
    /// let discovery = config.get_open_id_discovery_configuration();
    /// assert_eq!(discovery.issuer, "https://api.example.com/auth");
    /// assert_eq!(discovery.jwks_uri, "https://api.example.com/auth/jwt/jwks.json");
    /// # Ok(()) }
    /// ```
    pub fn get_open_id_discovery_configuration(&self) -> OpenIdDiscovery {
        OpenIdDiscovery::for_issuer(self.issuer())
    }

    /// `apiDomain` + `apiGatewayPath` + `apiBasePath`: supertokens-node's issuer (its
    /// normalised `apiBasePath` starts with the gateway path).
    fn issuer(&self) -> String {
        let inner = self.inner();
        format!(
            "{}{}{}",
            inner.api_domain, inner.api_gateway_path, inner.api_base_path
        )
    }
}

/// `GET {apiBasePath}/jwt/jwks.json`: `{"keys":[…]}`, cacheable for a minute and readable from
/// any origin, as supertokens-node answers.
///
/// # Errors
/// [`SessionError::CoreUnavailable`] when the keys cannot be fetched.
pub(super) async fn jwks_response(config: &SessionConfig) -> Result<ErrorResponse, SessionError> {
    let set = config.get_jwks().await?;
    Ok(ErrorResponse::json(200, &set)
        .with_header("cache-control", JWKS_CACHE_CONTROL)
        .with_header("access-control-allow-origin", "*"))
}

/// `GET {apiBasePath}/.well-known/openid-configuration`: the discovery document, readable
/// from any origin, as supertokens-node answers.
pub(super) fn discovery_response(config: &SessionConfig) -> ErrorResponse {
    ErrorResponse::json(200, &config.get_open_id_discovery_configuration())
        .with_header("access-control-allow-origin", "*")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(
        tweak: impl FnOnce(crate::SessionConfigBuilder) -> crate::SessionConfigBuilder,
    ) -> (tempfile::TempDir, SessionConfig) {
        let dir = tempfile::tempdir().unwrap();
        let config = tweak(SessionConfig::builder().data_dir(dir.path()))
            .build()
            .unwrap();
        (dir, config)
    }

    #[test]
    fn the_discovery_document_serialises_as_supertokens_node_answers() {
        let (_dir, config) = build(|b| b.api_domain("https://api.example.com/"));
        let value = serde_json::to_value(config.get_open_id_discovery_configuration()).unwrap();
        assert_eq!(
            value,
            json!({
                "issuer": "https://api.example.com/auth",
                "jwks_uri": "https://api.example.com/auth/jwt/jwks.json",
                "authorization_endpoint": "https://api.example.com/auth/oauth/auth",
                "token_endpoint": "https://api.example.com/auth/oauth/token",
                "userinfo_endpoint": "https://api.example.com/auth/oauth/userinfo",
                "revocation_endpoint": "https://api.example.com/auth/oauth/revoke",
                "token_introspection_endpoint": "https://api.example.com/auth/oauth/introspect",
                "end_session_endpoint": "https://api.example.com/auth/oauth/end_session",
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "id_token token"],
            })
        );
        // Node's field order, for readers that compare documents as text.
        let keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys[..2], ["issuer", "jwks_uri"]);
        assert_eq!(keys.last().unwrap(), "response_types_supported");
    }

    #[test]
    fn the_issuer_follows_the_base_and_gateway_paths() {
        let (_dir, config) = build(|b| {
            b.api_domain("http://localhost:8080")
                .api_base_path("/api/v1/")
                .api_gateway_path("/dev")
        });
        let discovery = config.get_open_id_discovery_configuration();
        assert_eq!(discovery.issuer, "http://localhost:8080/dev/api/v1");
        assert_eq!(
            discovery.jwks_uri,
            "http://localhost:8080/dev/api/v1/jwt/jwks.json"
        );
        let (_dir, root) = build(|b| b.api_base_path("/"));
        assert_eq!(
            root.get_open_id_discovery_configuration().jwks_uri,
            "http://localhost:3001/jwt/jwks.json"
        );
    }

    #[tokio::test]
    async fn payloads_that_are_not_objects_and_bad_validities_are_refused() {
        let (_dir, config) = build(|b| b);
        for payload in [json!([1]), json!("x"), json!(3)] {
            let error = config.create_jwt(payload, None, None).await.unwrap_err();
            assert!(
                matches!(error, SessionError::Internal(ref m) if m.contains("object")),
                "{error}"
            );
        }
        for validity in [Duration::from_millis(500), Duration::from_secs(u64::MAX)] {
            let error = config
                .create_jwt(json!({}), Some(validity), None)
                .await
                .unwrap_err();
            assert!(
                matches!(error, SessionError::Internal(ref m) if m.contains("validity")),
                "{error}"
            );
        }
        // `null` is no claims at all.
        config.create_jwt(Value::Null, None, None).await.unwrap();
    }
}
