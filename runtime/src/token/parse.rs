//! Version detection (docs/protocol.md §1.3) and structure check (§1.4); no signature check here.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::{Map, Value};

use super::TokenError;

/// Longest access token accepted, in bytes; longer input is rejected before any decoding.
pub(crate) const MAX_ACCESS_TOKEN_LEN: usize = 16 * 1024;

/// Longest `kid` accepted, in bytes.
const MAX_KID_LEN: usize = 256;

/// The v1 header segment, byte for byte (docs/protocol.md §1.2).
const V1_HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIxIn0=";
/// The v2 header segment, byte for byte (docs/protocol.md §1.2).
const V2_HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIyIn0=";

/// Newest token version this crate understands (CDI 5.4 mints v5).
const LATEST_VERSION: u8 = 5;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
/// Standard alphabet, padding optional.
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
/// URL-safe alphabet, padding optional.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// An access token that parsed and passed the structure check (docs/protocol.md §1.3, §1.4);
/// signature NOT checked.
pub(crate) struct UnverifiedToken<'a> {
    /// The token exactly as received.
    #[allow(
        dead_code,
        reason = "API for callers that pass the token on, e.g. to the core"
    )]
    pub(crate) raw: &'a str,
    /// 2 (covers v1 and v2), 3, 4 or 5.
    pub(crate) version: u8,
    /// The header `kid`; `None` only for v2.
    pub(crate) kid: Option<String>,
    /// `header.payload`, exactly as in the token (what the signature covers).
    pub(crate) signing_input: &'a str,
    /// The third segment, exactly as in the token.
    pub(crate) signature: &'a str,
    /// The decoded payload.
    pub(crate) payload: Map<String, Value>,
}

impl fmt::Debug for UnverifiedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the token, its segments or the payload (it holds the anti-CSRF token).
        f.debug_struct("UnverifiedToken")
            .field("version", &self.version)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Splits `raw` into its three segments, detects the version (docs/protocol.md §1.3), decodes the
/// payload and runs the structure check (§1.4).
///
/// # Errors
///
/// [`TokenError::Malformed`] whenever `raw` is not a SuperTokens access token: too long, not
/// three segments, bad base64 or JSON, a header other than the v1/v2 literals or
/// `{"alg":"RS256","typ":"JWT","kid":…,"version":"3"|"4"|"5"}` (version optional, meaning 3),
/// an invalid `kid`, or a payload failing the structure check.
pub(crate) fn parse_access_token(raw: &str) -> Result<UnverifiedToken<'_>, TokenError> {
    if raw.len() > MAX_ACCESS_TOKEN_LEN {
        return Err(TokenError::Malformed("token is too large"));
    }
    const SEGMENTS: TokenError = TokenError::Malformed("token does not have three segments");
    let (header, rest) = raw.split_once('.').ok_or(SEGMENTS)?;
    let (payload, signature) = rest.split_once('.').ok_or(SEGMENTS)?;
    if signature.contains('.') {
        return Err(SEGMENTS);
    }
    let signing_input = &raw[..header.len() + 1 + payload.len()];

    let (version, kid) = if header == V1_HEADER || header == V2_HEADER {
        (2, None)
    } else {
        let (version, kid) = parse_header(header)?;
        (version, Some(kid))
    };

    let payload = decode_lenient(payload).ok_or(TokenError::Malformed("payload is not base64"))?;
    let payload: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| TokenError::Malformed("payload is not a JSON object"))?;
    check_structure(version, &payload)?;

    Ok(UnverifiedToken {
        raw,
        version,
        kid,
        signing_input,
        signature,
        payload,
    })
}

/// Decodes base64 in either alphabet (even mixed), padding optional (docs/protocol.md §1.1).
pub(super) fn decode_lenient(segment: &str) -> Option<Vec<u8>> {
    let bytes = segment.as_bytes();
    let url_safe = bytes.iter().any(|&b| b == b'-' || b == b'_');
    if !url_safe {
        return STANDARD_LENIENT.decode(bytes).ok();
    }
    if !bytes.iter().any(|&b| b == b'+' || b == b'/') {
        return URL_SAFE_LENIENT.decode(bytes).ok();
    }
    let standard: Vec<u8> = bytes
        .iter()
        .map(|&b| match b {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    STANDARD_LENIENT.decode(standard).ok()
}

/// The header fields we look at; others are ignored, duplicates are an error.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow, default)]
    alg: Option<Text<'a>>,
    #[serde(borrow, default)]
    typ: Option<Text<'a>>,
    #[serde(borrow, default)]
    kid: Option<Text<'a>>,
    /// Absent is allowed (⇒ 3), but when present it must be a string (not even `null`).
    #[serde(borrow, default, deserialize_with = "present_text")]
    version: Option<Text<'a>>,
}

/// A JSON string, borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

fn present_text<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Text<'a>>, D::Error> {
    Text::deserialize(d).map(Some)
}

/// Decodes a non-literal header and returns `(version, kid)`; version is 3, 4 or 5.
fn parse_header(segment: &str) -> Result<(u8, String), TokenError> {
    let bytes = decode_lenient(segment).ok_or(TokenError::Malformed("header is not base64"))?;
    // serde would also accept a JSON array for a struct; a header must be an object.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(TokenError::Malformed("header is not a JSON object"));
    }
    let header: Header<'_> = serde_json::from_slice(&bytes)
        .map_err(|_| TokenError::Malformed("header is not a valid JWT header"))?;

    let version = match &header.version {
        None => 3,
        Some(Text(text)) => parse_version(text)?,
    };
    if header.typ.as_ref().map(|t| &*t.0) != Some("JWT") {
        return Err(TokenError::Malformed("header typ is not JWT"));
    }
    let kid = header
        .kid
        .ok_or(TokenError::Malformed("header has no kid"))?
        .0;
    if !is_valid_kid(&kid) {
        return Err(TokenError::Malformed("header kid is invalid"));
    }
    // Only RS256 is accepted (docs/protocol.md §2.4): `none`, HMAC, PSS, EC, … never reach a key.
    if header.alg.as_ref().map(|a| &*a.0) != Some("RS256") {
        return Err(TokenError::Malformed("header alg is not RS256"));
    }
    Ok((version, kid.into_owned()))
}

/// Strict decimal version, 3 to [`LATEST_VERSION`] (v1/v2 only via the literal headers).
fn parse_version(text: &str) -> Result<u8, TokenError> {
    const BAD: TokenError = TokenError::Malformed("header version is not supported");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD);
    }
    match text.parse::<u8>() {
        Ok(version @ 3..=LATEST_VERSION) => Ok(version),
        _ => Err(BAD),
    }
}

/// 1 to 256 bytes of `[A-Za-z0-9_.:-]`, so a garbage `kid` never reaches the key source.
fn is_valid_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

/// The structure check of docs/protocol.md §1.4 (Node `validateAccessTokenStructure`), with `tId`
/// required for v4 and v5.
pub(super) fn check_structure(version: u8, payload: &Map<String, Value>) -> Result<(), TokenError> {
    match payload.get("stt") {
        None => {}
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => {}
        Some(_) => return Err(TokenError::Malformed("wrong token type (stt)")),
    }
    if version == 2 {
        require_string(payload, "sessionHandle")?;
        require_string(payload, "userId")?;
        require_string(payload, "refreshTokenHash1")?;
        if !payload.contains_key("userData") {
            return Err(missing("userData"));
        }
        require_number(payload, "expiryTime")?;
        require_number(payload, "timeCreated")?;
    } else {
        require_string(payload, "sub")?;
        require_number(payload, "exp")?;
        require_number(payload, "iat")?;
        require_string(payload, "sessionHandle")?;
        require_string(payload, "refreshTokenHash1")?;
        if version >= 4 {
            require_string(payload, "tId")?;
        }
        if version >= 5 {
            require_string(payload, "rsub")?;
        }
    }
    Ok(())
}

fn require_string(payload: &Map<String, Value>, key: &'static str) -> Result<(), TokenError> {
    match payload.get(key) {
        Some(Value::String(_)) => Ok(()),
        _ => Err(missing(key)),
    }
}

fn require_number(payload: &Map<String, Value>, key: &'static str) -> Result<(), TokenError> {
    match payload.get(key) {
        Some(Value::Number(_)) => Ok(()),
        _ => Err(missing(key)),
    }
}

/// A static message naming the missing or mistyped field.
fn missing(key: &'static str) -> TokenError {
    TokenError::Malformed(match key {
        "sub" => "payload field sub is missing or not a string",
        "rsub" => "payload field rsub is missing or not a string",
        "tId" => "payload field tId is missing or not a string",
        "exp" => "payload field exp is missing or not a number",
        "iat" => "payload field iat is missing or not a number",
        "sessionHandle" => "payload field sessionHandle is missing or not a string",
        "refreshTokenHash1" => "payload field refreshTokenHash1 is missing or not a string",
        "userId" => "payload field userId is missing or not a string",
        "userData" => "payload field userData is missing",
        "expiryTime" => "payload field expiryTime is missing or not a number",
        "timeCreated" => "payload field timeCreated is missing or not a number",
        _ => "payload lacks a required field",
    })
}
