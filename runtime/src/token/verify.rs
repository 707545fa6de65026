//! RS256 signature, structure re-check, expiry and extraction (docs/protocol.md §1.4, §1.6, §2.4).

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Number, Value};

use super::TokenError;
use super::parse::{UnverifiedToken, check_structure, decode_lenient};
use super::payload::Payload;
use crate::keys::{JwksCache, Rs256Key};

/// Tenant of tokens older than v4 (docs/protocol.md §1.4).
const DEFAULT_TENANT: &str = "public";

/// What verification yields (docs/protocol.md §1.4 "Extraction"); strings are trimmed.
#[derive(Clone)]
pub(crate) struct AccessTokenInfo {
    /// 2 (covers v1 and v2), 3, 4 or 5.
    pub(crate) version: u8,
    /// The header `kid`; `None` for v2.
    pub(crate) kid: Option<String>,
    /// Primary user id: `sub` (v3+) or `userId` (v2).
    pub(crate) user_id: String,
    /// `rsub` when present (v5), else the user id.
    pub(crate) recipe_user_id: String,
    /// `tId` for v4+, else `"public"`.
    pub(crate) tenant_id: String,
    /// The session handle.
    pub(crate) session_handle: String,
    /// sha256-hex of the current refresh token.
    pub(crate) refresh_token_hash1: String,
    /// sha256-hex of the previous refresh token; present only until the core promotes the token.
    pub(crate) parent_refresh_token_hash1: Option<String>,
    /// The anti-CSRF token (VIA_TOKEN mode only).
    pub(crate) anti_csrf_token: Option<String>,
    /// Expiry in ms. v3+: `exp * 1000`, valid iff `now_ms < expiry_ms`; v2: `expiryTime`,
    /// valid iff `now_ms <= expiry_ms`.
    pub(crate) expiry_ms: u64,
    /// Creation time in ms (`iat * 1000` or `timeCreated`).
    pub(crate) time_created_ms: u64,
    /// v3+: the entire decoded payload (protected props included); v2: the `userData` object.
    /// Shared: the verified-token cache and every session built from this token read one copy.
    pub(crate) payload: Arc<Payload>,
}

impl fmt::Debug for AccessTokenInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenInfo")
            .field("version", &self.version)
            .field("kid", &self.kid)
            .field("user_id", &self.user_id)
            .field("recipe_user_id", &self.recipe_user_id)
            .field("tenant_id", &self.tenant_id)
            .field("session_handle", &self.session_handle)
            .field("refresh_token_hash1", &self.refresh_token_hash1)
            .field(
                "parent_refresh_token_hash1",
                &self.parent_refresh_token_hash1,
            )
            .field(
                "anti_csrf_token",
                &self.anti_csrf_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expiry_ms", &self.expiry_ms)
            .field("time_created_ms", &self.time_created_ms)
            .field("payload", &PayloadKeys(&self.payload))
            .finish()
    }
}

/// Debug-prints only the keys of a payload: its values include the anti-CSRF token.
struct PayloadKeys<'a>(&'a Map<String, Value>);

impl fmt::Debug for PayloadKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Verifies `token` with the cache's keys (fetching them if needed, docs/protocol.md §2.3): RS256
/// signature over the original `header.payload` text (v2: each cached RSA key in turn), structure
/// check on the verified payload, expiry with zero leeway, extraction.
///
/// Takes the token by value so the verified payload is moved, not cloned, into the result.
///
/// # Errors
///
/// [`TokenError::UnknownKey`] / [`TokenError::KeysUnavailable`] from the key lookup,
/// [`TokenError::BadSignature`], [`TokenError::Malformed`] (structure), [`TokenError::Expired`].
pub(crate) async fn verify_access_token(
    token: UnverifiedToken<'_>,
    keys: &JwksCache,
    now_ms: u64,
) -> Result<AccessTokenInfo, TokenError> {
    if token.version == 2 {
        let candidates = keys.all_keys().await?;
        verify_v2_signature(&token, &candidates)?;
    } else {
        let key = keys.key_for(kid_of(&token)?).await?;
        verify_rs256(token.signature, token.signing_input, &key)?;
    }
    extract(token, now_ms)
}

/// [`verify_access_token`] without I/O: only keys already cached (even if older than the
/// max age) are used, nothing is fetched.
///
/// # Errors
///
/// As [`verify_access_token`]; [`TokenError::UnknownKey`] when the `kid` is not cached
/// (v2: when no key is cached).
#[cfg(test)]
pub(crate) fn verify_access_token_cached(
    token: UnverifiedToken<'_>,
    keys: &JwksCache,
    now_ms: u64,
) -> Result<AccessTokenInfo, TokenError> {
    if token.version == 2 {
        let candidates = keys.cached_keys().ok_or(TokenError::UnknownKey)?;
        verify_v2_signature(&token, &candidates)?;
    } else {
        let key = keys
            .cached_key(kid_of(&token)?)
            .ok_or(TokenError::UnknownKey)?;
        verify_rs256(token.signature, token.signing_input, &key)?;
    }
    extract(token, now_ms)
}

/// Verifies a v2 (or v1) `token` with exactly `key`, the legacy signing key of the core that
/// minted it: never with a JWKS key, so a v2 token signed by any other key is rejected.
/// Tokens of v3 and newer are refused: they are verified by `kid` against the JWKS.
///
/// # Errors
///
/// [`TokenError::Malformed`] for a token of v3 or newer, [`TokenError::BadSignature`],
/// [`TokenError::Malformed`] (structure), [`TokenError::Expired`].
#[cfg(any(feature = "embedded", feature = "postgres"))]
pub(crate) fn verify_legacy_access_token(
    token: UnverifiedToken<'_>,
    key: &Arc<Rs256Key>,
    now_ms: u64,
) -> Result<AccessTokenInfo, TokenError> {
    if token.version != 2 {
        return Err(TokenError::Malformed("not a v2 access token"));
    }
    verify_v2_signature(&token, std::slice::from_ref(key))?;
    extract(token, now_ms)
}

fn kid_of<'t>(token: &'t UnverifiedToken<'_>) -> Result<&'t str, TokenError> {
    token
        .kid
        .as_deref()
        .ok_or(TokenError::Malformed("header has no kid"))
}

/// The longest RS256 signature we accept: 8192-bit keys, the largest the key cache keeps.
const MAX_SIGNATURE_BYTES: usize = 8192 / 8;

/// One RS256 check of a base64url (unpadded) signature; the algorithm is fixed and cached
/// keys are RSA keys only.
fn verify_rs256(signature: &str, signing_input: &str, key: &Rs256Key) -> Result<(), TokenError> {
    let mut raw = [0; MAX_SIGNATURE_BYTES];
    let len = URL_SAFE_NO_PAD
        .decode_slice(signature, &mut raw)
        .map_err(|_| TokenError::BadSignature)?;
    if key.verifies(signing_input.as_bytes(), &raw[..len]) {
        Ok(())
    } else {
        Err(TokenError::BadSignature)
    }
}

/// v2 signatures are padded standard base64: decode once, try each key (docs/protocol.md §2.4).
fn verify_v2_signature(
    token: &UnverifiedToken<'_>,
    candidates: &[Arc<Rs256Key>],
) -> Result<(), TokenError> {
    let signature = decode_lenient(token.signature).ok_or(TokenError::BadSignature)?;
    if candidates
        .iter()
        .any(|key| key.verifies(token.signing_input.as_bytes(), &signature))
    {
        Ok(())
    } else {
        Err(TokenError::BadSignature)
    }
}

/// Structure re-check, expiry and extraction from a payload whose signature was verified.
fn extract(token: UnverifiedToken<'_>, now_ms: u64) -> Result<AccessTokenInfo, TokenError> {
    let UnverifiedToken {
        version,
        kid,
        mut payload,
        ..
    } = token;
    check_structure(version, &payload)?;

    let (user_id, tenant_id, expiry_ms, time_created_ms) = if version == 2 {
        let expiry_ms = millis(&payload, "expiryTime", f64::floor);
        if expiry_ms < now_ms {
            return Err(TokenError::Expired);
        }
        let user_id = required_text(&payload, "userId")?;
        (
            user_id,
            DEFAULT_TENANT.to_owned(),
            expiry_ms,
            millis(&payload, "timeCreated", f64::floor),
        )
    } else {
        let expiry_ms = seconds_to_millis(&payload, "exp", f64::ceil);
        if now_ms >= expiry_ms {
            return Err(TokenError::Expired);
        }
        let user_id = required_text(&payload, "sub")?;
        let tenant_id = if version >= 4 {
            required_text(&payload, "tId")?
        } else {
            DEFAULT_TENANT.to_owned()
        };
        (
            user_id,
            tenant_id,
            expiry_ms,
            seconds_to_millis(&payload, "iat", f64::floor),
        )
    };

    let recipe_user_id = text(&payload, "rsub").unwrap_or_else(|| user_id.clone());
    let session_handle = required_text(&payload, "sessionHandle")?;
    let refresh_token_hash1 = required_text(&payload, "refreshTokenHash1")?;
    let parent_refresh_token_hash1 = text(&payload, "parentRefreshTokenHash1");
    let anti_csrf_token = text(&payload, "antiCsrfToken");

    if version == 2 {
        payload = match payload.remove("userData") {
            Some(Value::Object(user_data)) => user_data,
            _ => Map::new(),
        };
    }

    Ok(AccessTokenInfo {
        version,
        kid,
        user_id,
        recipe_user_id,
        tenant_id,
        session_handle,
        refresh_token_hash1,
        parent_refresh_token_hash1,
        anti_csrf_token,
        expiry_ms,
        time_created_ms,
        payload: Arc::new(Payload::new(payload)),
    })
}

/// A string field, trimmed like JS `String.prototype.trim`; non-strings (incl. `null`) ⇒ `None`.
fn text(payload: &Map<String, Value>, key: &str) -> Option<String> {
    match payload.get(key) {
        Some(Value::String(s)) => Some(
            s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
                .to_owned(),
        ),
        _ => None,
    }
}

/// A string field the structure check already required.
fn required_text(payload: &Map<String, Value>, key: &'static str) -> Result<String, TokenError> {
    text(payload, key).ok_or(TokenError::Malformed(
        "payload lacks a required string field",
    ))
}

/// A numeric seconds field as ms; fractions are rounded with `round`, negatives give 0 and
/// huge values saturate.
fn seconds_to_millis(payload: &Map<String, Value>, key: &str, round: fn(f64) -> f64) -> u64 {
    match payload.get(key) {
        Some(Value::Number(n)) => match n.as_u64() {
            Some(seconds) => seconds.saturating_mul(1000),
            None => float_to_u64(n, 1000.0, round),
        },
        _ => 0,
    }
}

/// A numeric ms field; fractions are rounded with `round`, negatives give 0.
fn millis(payload: &Map<String, Value>, key: &str, round: fn(f64) -> f64) -> u64 {
    match payload.get(key) {
        Some(Value::Number(n)) => n.as_u64().unwrap_or_else(|| float_to_u64(n, 1.0, round)),
        _ => 0,
    }
}

fn float_to_u64(n: &Number, scale: f64, round: fn(f64) -> f64) -> u64 {
    // `as` saturates (negative ⇒ 0, too large ⇒ u64::MAX); JSON numbers are never NaN.
    n.as_f64().map_or(0, |f| round(f * scale) as u64)
}
