//! Token material: v2, v3, v4 and v5 access tokens (docs/protocol.md §1.2, §1.4), opaque refresh tokens, and the
//! server secret that derives refresh-token children and anti-CSRF tokens deterministically.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use super::keys::SigningKey;
use super::legacy::LegacySigningKey;
use crate::core::{AccessTokenVersion, CoreError, IssuedToken};
use crate::util::sha256_hex;

/// Random bytes in a refresh token (base64url: 43 characters, cookie-safe).
const REFRESH_TOKEN_BYTES: usize = 32;

/// Bytes of a newly generated server secret.
pub(crate) const SECRET_BYTES: usize = 32;

/// Everything an access token says.
#[derive(Debug)]
pub(crate) struct AccessClaims<'a> {
    /// The token version: v3 has neither `tId` nor `rsub`, v4 adds `tId`, v5 `rsub`.
    pub(crate) version: AccessTokenVersion,
    /// `sessionHandle`.
    pub(crate) handle: &'a str,
    /// `sub`.
    pub(crate) user_id: &'a str,
    /// `rsub` (v5).
    pub(crate) recipe_user_id: &'a str,
    /// `tId` (v4 and v5).
    pub(crate) tenant_id: &'a str,
    /// The custom payload (protected props already excluded).
    pub(crate) payload: &'a Map<String, Value>,
    /// `refreshTokenHash1`.
    pub(crate) refresh_token_hash1: &'a str,
    /// `parentRefreshTokenHash1`.
    pub(crate) parent_refresh_token_hash1: Option<&'a str>,
    /// `antiCsrfToken`.
    pub(crate) anti_csrf_token: Option<&'a str>,
    /// Issue time, ms (`iat` is its whole seconds).
    pub(crate) issued_ms: u64,
    /// Expiry, ms (`exp` is its whole seconds).
    pub(crate) expiry_ms: u64,
}

/// Signs an access token of `claims.version` with `key` (RS256): the header
/// `{"alg":"RS256","typ":"JWT","version":"<n>","kid"}` and the payload fields of that version,
/// as the SuperTokens core mints them.
///
/// # Errors
///
/// [`CoreError::Internal`] if signing fails.
pub(crate) fn mint_access_token(
    key: &SigningKey,
    claims: &AccessClaims<'_>,
) -> Result<IssuedToken, CoreError> {
    let exp = claims.expiry_ms / 1000;
    let iat = claims.issued_ms / 1000;
    // The core's field order (docs/protocol.md §1.7): protected fields around the custom payload.
    let mut payload = Map::with_capacity(claims.payload.len() + 9);
    payload.insert("sub".into(), json!(claims.user_id));
    payload.insert("exp".into(), json!(exp));
    payload.insert("iat".into(), json!(iat));
    payload.insert("sessionHandle".into(), json!(claims.handle));
    payload.insert(
        "refreshTokenHash1".into(),
        json!(claims.refresh_token_hash1),
    );
    payload.insert(
        "parentRefreshTokenHash1".into(),
        json!(claims.parent_refresh_token_hash1),
    );
    payload.insert("antiCsrfToken".into(), json!(claims.anti_csrf_token));
    for (name, value) in claims.payload {
        if !payload.contains_key(name) {
            payload.insert(name.clone(), value.clone());
        }
    }
    if claims.version >= AccessTokenVersion::V4 {
        payload.insert("tId".into(), json!(claims.tenant_id));
    }
    if claims.version >= AccessTokenVersion::V5 {
        payload.insert("rsub".into(), json!(claims.recipe_user_id));
    }

    let version = claims.version.number().to_string();
    let header = json!({"alg": "RS256", "typ": "JWT", "version": version, "kid": key.kid()});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(payload).to_string())
    );
    let signature = key.sign(signing_input.as_bytes())?;
    Ok(IssuedToken {
        token: format!("{signing_input}.{signature}"),
        // The token carries whole seconds; report the same instants.
        expiry_ms: exp * 1000,
        created_ms: iat * 1000,
    })
}

/// The header of every v2 token: `{"alg":"RS256","typ":"JWT","version":"2"}` in standard
/// base64, fixed byte for byte (old SDKs compare it as a string).
const V2_HEADER_JSON: &str = r#"{"alg":"RS256","typ":"JWT","version":"2"}"#;

/// Signs a v2 access token with the legacy key: the fixed v2 header and the payload
/// `userId`, `expiryTime`, `timeCreated` (ms), `sessionHandle`, `refreshTokenHash1`,
/// `parentRefreshTokenHash1` and `antiCsrfToken` (each only when set) and the custom payload
/// as `userData`, as the SuperTokens core orders them; every segment in standard base64 with
/// padding. Times keep their milliseconds: v2 tokens are not truncated to seconds.
///
/// # Errors
///
/// [`CoreError::Internal`] if signing fails, or if `claims` are not v2 claims.
pub(crate) fn mint_legacy_access_token(
    key: &LegacySigningKey,
    claims: &AccessClaims<'_>,
) -> Result<IssuedToken, CoreError> {
    if claims.version != AccessTokenVersion::V2 {
        return Err(CoreError::Internal(
            "the legacy key signs only v2 access tokens".into(),
        ));
    }
    let mut payload = Map::with_capacity(8);
    payload.insert("userId".into(), json!(claims.user_id));
    payload.insert("expiryTime".into(), json!(claims.expiry_ms));
    payload.insert("timeCreated".into(), json!(claims.issued_ms));
    payload.insert("sessionHandle".into(), json!(claims.handle));
    payload.insert(
        "refreshTokenHash1".into(),
        json!(claims.refresh_token_hash1),
    );
    if let Some(parent) = claims.parent_refresh_token_hash1 {
        payload.insert("parentRefreshTokenHash1".into(), json!(parent));
    }
    if let Some(anti_csrf) = claims.anti_csrf_token {
        payload.insert("antiCsrfToken".into(), json!(anti_csrf));
    }
    payload.insert("userData".into(), Value::Object(claims.payload.clone()));
    let signing_input = format!(
        "{}.{}",
        STANDARD.encode(V2_HEADER_JSON),
        STANDARD.encode(Value::Object(payload).to_string())
    );
    let signature = key.sign(signing_input.as_bytes())?;
    Ok(IssuedToken {
        token: format!("{signing_input}.{signature}"),
        expiry_ms: claims.expiry_ms,
        created_ms: claims.issued_ms,
    })
}

/// Signs a JWT for other services with `key` (RS256), issued at `issued_s` (seconds): the
/// SuperTokens core's claims `iss` (`jwks_domain`), `iat` and `exp`, then `payload`, whose
/// claims replace those three when it has them (the core lets the caller's claims win).
///
/// # Errors
///
/// [`CoreError::Internal`] if signing fails.
pub(crate) fn mint_jwt(
    key: &SigningKey,
    payload: &Map<String, Value>,
    jwks_domain: &str,
    issued_s: u64,
    validity_secs: u64,
) -> Result<String, CoreError> {
    let mut claims = Map::with_capacity(payload.len() + 3);
    claims.insert("iss".into(), json!(jwks_domain));
    claims.insert("iat".into(), json!(issued_s));
    claims.insert("exp".into(), json!(issued_s.saturating_add(validity_secs)));
    for (name, value) in payload {
        claims.insert(name.clone(), value.clone());
    }
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string())
    );
    let signature = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{signature}"))
}

/// A fresh opaque refresh token: 32 random bytes, base64url without padding.
///
/// # Errors
///
/// [`CoreError::Internal`] if the system RNG fails.
pub(crate) fn random_refresh_token() -> Result<String, CoreError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<REFRESH_TOKEN_BYTES>()?))
}

/// `N` bytes from the system RNG.
///
/// # Errors
///
/// [`CoreError::Internal`] if the system RNG fails.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], CoreError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| CoreError::Internal("the system random number generator failed".into()))?;
    Ok(bytes)
}

/// `refreshTokenHash1` of a refresh token.
pub(crate) fn hash1(refresh_token: &str) -> String {
    sha256_hex(refresh_token.as_bytes())
}

/// What the store keeps of a refresh token: sha256-hex(sha256-hex(token)).
pub(crate) fn hash2(refresh_token: &str) -> String {
    sha256_hex(hash1(refresh_token).as_bytes())
}

/// The server secret (shared by every process using the database): an HMAC-SHA256 key.
pub(crate) struct ServerSecret(hmac::Key);

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

impl ServerSecret {
    /// A secret from stored bytes.
    pub(crate) fn new(bytes: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    fn tag(&self, domain: &[u8], parts: &[&[u8]]) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.0);
        context.update(domain);
        context.update(&[0]);
        for part in parts {
            context.update(part);
        }
        context.sign()
    }

    /// The child of `refresh_token` issued in the grace window that started at `epoch_ms`:
    /// every refresh of that token in the window gets this same child.
    pub(crate) fn child_refresh_token(&self, refresh_token: &str, epoch_ms: u64) -> String {
        // A refresh token is base64url (no NUL), so `token || epoch` is unambiguous.
        let tag = self.tag(
            b"sessionward refresh child",
            &[refresh_token.as_bytes(), &epoch_ms.to_be_bytes()],
        );
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// The anti-CSRF token issued with `refresh_token` (a UUID v4 string), deterministic so
    /// that concurrent refreshes answer alike.
    pub(crate) fn anti_csrf_token(&self, refresh_token: &str) -> String {
        let tag = self.tag(b"sessionward anti-csrf", &[refresh_token.as_bytes()]);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&tag.as_ref()[..16]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}
