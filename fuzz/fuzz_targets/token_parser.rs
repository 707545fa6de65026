//! The access-token parser (docs/protocol.md §1.3, §1.4) on arbitrary input. Byte 0 picks the mode:
//! odd ⇒ the rest is `header JSON \0 payload JSON \0 signature`, base64url-encoded here (so the
//! fuzzer works on JSON directly); even ⇒ the rest is the token text itself.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use sessionward::__fuzz::parse_access_token;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode & 1 == 1 {
        let mut parts = rest.splitn(3, |&b| b == 0);
        let header = URL_SAFE_NO_PAD.encode(parts.next().unwrap_or_default());
        let payload = URL_SAFE_NO_PAD.encode(parts.next().unwrap_or_default());
        let signature = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        format!("{header}.{payload}.{signature}")
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    if let Ok(parsed) = parse_access_token(&token) {
        assert!(
            matches!(parsed.version, 2..=5),
            "version {}",
            parsed.version
        );
        assert_eq!(parsed.kid.is_none(), parsed.version == 2);
        if let Some(kid) = &parsed.kid {
            assert!(!kid.is_empty() && kid.len() <= 256);
            assert!(
                kid.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
            );
        }
        assert_eq!(token.matches('.').count(), 2);
    }
});
