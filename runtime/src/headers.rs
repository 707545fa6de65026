//! Header text, read and written without any framework's types: the visible-ASCII check, the
//! `Bearer` scheme, the `Cookie` header scan and cookie-value encoding.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// The longest `Cookie` header value we scan for session cookies; larger ones are ignored
/// (no valid session needs them, and scanning them is work an attacker chooses).
pub(crate) const MAX_COOKIE_HEADER_LEN: usize = 64 * 1024;

/// `encodeURIComponent`'s set: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` is escaped.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// A header value as text: `Some` exactly when `http`'s `HeaderValue::to_str` would succeed
/// (visible ASCII and tab). Written as a branch-free fold the compiler vectorises, because it
/// runs over a ~1 KB token on every request.
pub(crate) fn header_text(bytes: &[u8]) -> Option<&str> {
    let visible = bytes.iter().fold(true, |ok, &b| {
        ok & (matches!(b, b' '..=b'~') | (b == b'\t'))
    });
    if visible {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

/// The credentials of an `Authorization: Bearer <credentials>` value, trimmed; `None` for
/// another scheme or empty credentials. The scheme is matched without regard to case
/// (RFC 9110 §11.1).
pub(crate) fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case("bearer ") {
        return None;
    }
    Some(rest.trim()).filter(|credentials| !credentials.is_empty())
}

/// The values of each cookie in `names` across every `Cookie` header value, URL-decoded, in
/// order, found in one pass. A value without escapes borrows from the header.
///
/// Lenient like the Node SDK's parser: a pair without `=` or an unrelated malformed cookie is
/// skipped rather than failing the whole header. Values that are not header text, and values
/// over [`MAX_COOKIE_HEADER_LEN`], are skipped.
pub(crate) fn find_cookies<'h, const N: usize>(
    header_values: impl Iterator<Item = &'h [u8]>,
    names: [&str; N],
) -> [Vec<Cow<'h, str>>; N] {
    let mut found = std::array::from_fn(|_| Vec::new());
    for value in header_values {
        if value.len() > MAX_COOKIE_HEADER_LEN {
            continue;
        }
        let Some(raw) = header_text(value) else {
            continue;
        };
        for pair in raw.split(';') {
            let Some((key, val)) = pair.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if let Some(slot) = names.iter().position(|name| *name == key) {
                let val = val.trim().trim_matches('"');
                // Tokens have no escapes: a memchr instead of a byte-by-byte decode and a
                // UTF-8 re-check (`val` is already a `str`).
                found[slot].push(if val.contains('%') {
                    percent_decode_str(val).decode_utf8_lossy()
                } else {
                    Cow::Borrowed(val)
                });
            }
        }
    }
    found
}

/// A cookie value escaped as `encodeURIComponent` does (what the SDKs write).
pub(crate) fn encode_cookie_value(value: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(value, URI_COMPONENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_accepts_visible_ascii_and_tab_only() {
        for byte in 0..=u8::MAX {
            let bytes: Vec<u8> = [b'a'; 40].into_iter().chain([byte]).collect();
            let expected = matches!(byte, b' '..=b'~' | b'\t');
            assert_eq!(header_text(&bytes).is_some(), expected, "byte {byte:#04x}");
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_credentials_are_trimmed() {
        assert_eq!(bearer_credentials("Bearer  abc "), Some("abc"));
        assert_eq!(bearer_credentials("bearer abc"), Some("abc"));
        assert_eq!(bearer_credentials("BEARER abc"), Some("abc"));
        assert_eq!(bearer_credentials("Bearer    "), None);
        assert_eq!(bearer_credentials("Basic abc"), None);
        assert_eq!(bearer_credentials("Bearerabc"), None);
        assert_eq!(bearer_credentials("Bear"), None);
        assert_eq!(bearer_credentials("Bearé abc"), None);
    }

    #[test]
    fn cookies_are_found_in_one_pass_and_borrowed_unless_escaped() {
        let headers: [&[u8]; 2] = [b"a=1; sIdRefreshToken=x; junk; b=%41%42", b"a=\"2\""];
        let [a, b, legacy, missing] =
            find_cookies(headers.into_iter(), ["a", "b", "sIdRefreshToken", "c"]);
        assert_eq!(a, ["1", "2"]);
        assert!(a.iter().all(|v| matches!(v, Cow::Borrowed(_))));
        assert_eq!(b, ["AB"]);
        assert!(matches!(b[0], Cow::Owned(_)));
        assert_eq!(legacy, ["x"]);
        assert!(missing.is_empty());
    }

    #[test]
    fn oversized_and_non_text_cookie_headers_are_skipped() {
        let big = format!("a=1; {}", "x".repeat(MAX_COOKIE_HEADER_LEN));
        let headers: [&[u8]; 3] = [big.as_bytes(), b"a=\x01", b"a=2"];
        let [a] = find_cookies(headers.into_iter(), ["a"]);
        assert_eq!(a, ["2"]);
    }

    #[test]
    fn values_are_encoded_like_encode_uri_component() {
        assert_eq!(
            encode_cookie_value("a+b/c=d.e_f").to_string(),
            "a%2Bb%2Fc%3Dd.e_f"
        );
    }
}
