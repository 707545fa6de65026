//! An access token's payload as verification extracted it: the JSON object, and its JSON text
//! made once, on first use.
//!
//! One `Arc<Payload>` is shared by the verified-token cache and every session built from the
//! same token, so a handler that echoes the payload (a "session info" route) serialises it
//! once per token instead of once per request.

use std::ops::Deref;
use std::sync::OnceLock;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The payload object and, once asked for, its JSON text.
#[derive(Default)]
pub(crate) struct Payload {
    map: Map<String, Value>,
    json: OnceLock<Box<RawValue>>,
}

impl Payload {
    pub(crate) fn new(map: Map<String, Value>) -> Self {
        Self {
            map,
            json: OnceLock::new(),
        }
    }

    /// The object as JSON text, exactly as `serde_json` writes the map.
    pub(crate) fn json(&self) -> &RawValue {
        self.json.get_or_init(|| {
            // Writing a map of JSON values cannot fail (every key is a string, every value
            // JSON); `null` rather than a panic should that ever change.
            serde_json::value::to_raw_value(&self.map).unwrap_or_else(|_| RawValue::NULL.to_owned())
        })
    }

    /// The object, to change; forgets the JSON text made from it.
    pub(crate) fn map_mut(&mut self) -> &mut Map<String, Value> {
        self.json.take();
        &mut self.map
    }

    pub(crate) fn into_map(self) -> Map<String, Value> {
        self.map
    }
}

/// A copy is made to be changed (`Arc::make_mut`): it starts without the JSON text.
impl Clone for Payload {
    fn clone(&self) -> Self {
        Self::new(self.map.clone())
    }
}

impl Deref for Payload {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn payload(value: Value) -> Payload {
        match value {
            Value::Object(map) => Payload::new(map),
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn the_json_text_is_what_serde_json_writes_for_the_map() {
        let p = payload(json!({"sub": "u\"1", "exp": 17, "nested": {"é": [1, null]}}));
        assert_eq!(p.json().get(), serde_json::to_string(&*p).unwrap());
    }

    #[test]
    fn the_json_text_is_made_once_and_shared() {
        let p = payload(json!({"sub": "u1"}));
        assert!(std::ptr::eq(p.json(), p.json()));
    }

    #[test]
    fn a_change_to_the_map_is_in_the_next_json_text() {
        let mut p = payload(json!({"sub": "u1"}));
        assert_eq!(p.json().get(), r#"{"sub":"u1"}"#);
        p.map_mut().insert("plan".into(), json!("pro"));
        assert_eq!(p.json().get(), r#"{"sub":"u1","plan":"pro"}"#);
    }
}
