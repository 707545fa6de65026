//! Claim payloads: arbitrary JSON through every built-in validator, and through the access
//! token structure check (as the payload of an otherwise well-formed v5 token).
//!
//! Input: 8 bytes of "now" (ms), then the payload JSON.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use sessionward::__fuzz::{parse_access_token, validate_claims};

/// `{"alg":"RS256","typ":"JWT","version":"5","kid":"d-1700000000000"}`, base64url.
const V5_HEADER: &str =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiI1Iiwia2lkIjoiZC0xNzAwMDAwMDAwMDAwIn0";

fuzz_target!(|data: &[u8]| {
    let (now, json) = data.split_at(data.len().min(8));
    let mut bytes = [0u8; 8];
    bytes[..now.len()].copy_from_slice(now);
    let now_ms = u64::from_le_bytes(bytes);

    let token = format!("{V5_HEADER}.{}.c2ln", URL_SAFE_NO_PAD.encode(json));
    let parsed = parse_access_token(&token);

    let Ok(Value::Object(payload)) = serde_json::from_slice::<Value>(json) else {
        assert!(
            parsed.is_err(),
            "a payload that is not a JSON object parsed"
        );
        return;
    };
    if let Ok(parsed) = parsed {
        assert_eq!(parsed.payload, payload);
        for key in ["sub", "sessionHandle", "refreshTokenHash1", "tId", "rsub"] {
            assert!(payload.get(key).is_some_and(Value::is_string), "{key}");
        }
    }
    let failures = validate_claims(&payload, now_ms);
    for (id, reason) in failures {
        assert!(!id.is_empty());
        assert!(reason.get("message").is_some_and(Value::is_string));
    }
    let _: Map<String, Value> = payload;
});
