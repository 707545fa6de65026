//! The front-token (docs/protocol.md §4): for any user id, expiry and payload, it is standard
//! base64 of `{"uid","ate","up"}` and decodes back to exactly those values.
//!
//! Input: `user id \0 8 bytes of expiry, payload JSON`; a payload that is not a JSON object is
//! wrapped as `{"x": <text>}`.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use sessionward::__fuzz::front_token;

fuzz_target!(|data: &[u8]| {
    let (user, rest) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let user_id = String::from_utf8_lossy(user).into_owned();
    let (expiry, payload) = rest.split_at(rest.len().min(8));
    let mut ate = [0u8; 8];
    ate[..expiry.len()].copy_from_slice(expiry);
    let ate = u64::from_le_bytes(ate);
    let payload: Map<String, Value> = match serde_json::from_slice(payload) {
        Ok(Value::Object(map)) => map,
        _ => {
            let mut map = Map::new();
            map.insert("x".into(), String::from_utf8_lossy(payload).into());
            map
        }
    };
    let token = front_token(&user_id, ate, &payload);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    );
    let decoded: Value =
        serde_json::from_slice(&STANDARD.decode(&token).expect("standard base64")).expect("JSON");
    assert_eq!(decoded, json!({"uid": user_id, "ate": ate, "up": payload}));
});
