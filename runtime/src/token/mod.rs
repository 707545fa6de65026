//! Access tokens: version detection (docs/protocol.md §1.3), structure check (§1.4), signature and
//! expiry verification (§1.6, §2.4) and extraction of the session fields.
//!
//! [`parse_access_token`] never touches keys: it decides whether a string is a SuperTokens
//! access token at all. [`verify_access_token`] then checks the RS256 signature against the
//! [`JwksCache`](crate::keys::JwksCache), re-checks the structure and the expiry (no leeway)
//! and extracts an [`AccessTokenInfo`].

mod parse;
mod payload;
mod verify;

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) use parse::MAX_ACCESS_TOKEN_LEN;
pub(crate) use parse::{UnverifiedToken, parse_access_token};
pub(crate) use payload::Payload;
#[cfg(test)]
pub(crate) use verify::verify_access_token_cached;
#[cfg(any(feature = "embedded", feature = "postgres"))]
pub(crate) use verify::verify_legacy_access_token;
pub(crate) use verify::{AccessTokenInfo, verify_access_token};

/// Why an access token was rejected. `Display` never contains the token or any part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum TokenError {
    /// Not a SuperTokens access token: segments, base64, JSON, header, structure check, `stt`, size.
    #[error("malformed access token: {0}")]
    Malformed(&'static str),
    /// The token's `kid` is not in the signing key set, even after a refetch.
    #[error("access token was signed with an unknown key")]
    UnknownKey,
    /// The signature does not verify with the token's key (or, for v2, with any cached key).
    #[error("access token signature is invalid")]
    BadSignature,
    /// The token's expiry time has passed (no clock tolerance).
    #[error("access token has expired")]
    Expired,
    /// The key source failed and no usable cached key exists for the token.
    #[error("signing keys are unavailable")]
    KeysUnavailable,
}

impl From<crate::keys::KeyError> for TokenError {
    fn from(error: crate::keys::KeyError) -> Self {
        match error {
            crate::keys::KeyError::UnknownKey => TokenError::UnknownKey,
            crate::keys::KeyError::Unavailable => TokenError::KeysUnavailable,
        }
    }
}

impl TokenError {
    /// Whether the token is not a SuperTokens access token at all (parse or structure failure),
    /// as opposed to a genuine token that failed verification.
    #[cfg(test)]
    pub(crate) fn is_parse_error(&self) -> bool {
        matches!(self, Self::Malformed(_))
    }
}

/// Payload fields owned by the core; users cannot set them (docs/protocol.md §1.5).
pub(crate) const PROTECTED_PROPS: &[&str] = &[
    "sub",
    "iat",
    "exp",
    "sessionHandle",
    "parentRefreshTokenHash1",
    "refreshTokenHash1",
    "antiCsrfToken",
    "rsub",
    "tId",
    "stt",
];
