//! Request parsing with the core's 400 answers (`text/plain`, e.g. `Field name 'userId' is
//! invalid in JSON input`), so a client mistake is never a 500.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Map, Value};

use crate::core::CoreError;

/// A request the server turns down: status and `text/plain` message, as the core answers
/// (its text answers end with a newline: the core writes them with `println`).
#[derive(Debug)]
pub(crate) struct Reject {
    status: StatusCode,
    message: String,
}

impl Reject {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The text sent.
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found")
    }

    pub(crate) fn into_response(self) -> HttpResponse {
        text_response(self.status, &self.message)
    }
}

/// A `text/plain` answer with the core's bytes: `text` and a newline. (The core labels them
/// `text/html`; `text/plain` keeps a browser from rendering the echoed input.)
pub(crate) fn text_response(status: StatusCode, text: &str) -> HttpResponse {
    let mut body = String::with_capacity(text.len() + 1);
    body.push_str(text);
    body.push('\n');
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

impl From<CoreError> for Reject {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::BadRequest(message) => Self::bad_request(message),
            CoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "session core unavailable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
            other => {
                tracing::error!(error = %other, "session core failure");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Error")
            }
        }
    }
}

/// A JSON request body (an object).
pub(crate) struct Body(Map<String, Value>);

impl Body {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, Reject> {
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            _ => Err(Reject::bad_request("Invalid Json Input")),
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|value| !value.is_null())
    }

    fn invalid(name: &str) -> Reject {
        Reject::bad_request(format!("Field name '{name}' is invalid in JSON input"))
    }

    pub(crate) fn string(&self, name: &str) -> Result<String, Reject> {
        self.opt_string(name)?.ok_or_else(|| Self::invalid(name))
    }

    /// Absent or `null` ⇒ `None`; another type is a 400.
    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<String>, Reject> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => Err(Self::invalid(name)),
        }
    }

    pub(crate) fn boolean(&self, name: &str) -> Result<bool, Reject> {
        self.opt_bool(name)?.ok_or_else(|| Self::invalid(name))
    }

    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, Reject> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(_) => Err(Self::invalid(name)),
        }
    }

    /// A JSON integer (as the core's `parseLong`: no fraction, within `i64`).
    pub(crate) fn integer(&self, name: &str) -> Result<i64, Reject> {
        self.0
            .get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| Self::invalid(name))
    }

    /// Absent or `null` ⇒ `None`; another type than an object is a 400.
    pub(crate) fn opt_object(&self, name: &str) -> Result<Option<Map<String, Value>>, Reject> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map.clone())),
            Some(_) => Err(Self::invalid(name)),
        }
    }

    pub(crate) fn object(&self, name: &str) -> Result<Map<String, Value>, Reject> {
        match self.0.get(name) {
            Some(Value::Object(map)) => Ok(map.clone()),
            _ => Err(Self::invalid(name)),
        }
    }

    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>, Reject> {
        let Some(Value::Array(items)) = self.0.get(name) else {
            return Err(Self::invalid(name));
        };
        items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| Self::invalid(name))
    }
}

/// The query string of a GET request.
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub(crate) fn parse(query: &str) -> Result<Self, Reject> {
        actix_web::web::Query::<HashMap<String, String>>::from_query(query)
            .map(|query| Self(query.into_inner()))
            .map_err(|_| Reject::bad_request("Invalid query string"))
    }

    pub(crate) fn string(&self, name: &str) -> Result<String, Reject> {
        self.0.get(name).cloned().ok_or_else(|| {
            Reject::bad_request(format!("Field name '{name}' is missing in GET request"))
        })
    }

    /// `"true"` / `"false"`, or `default` when absent.
    pub(crate) fn boolean(&self, name: &str, default: bool) -> Result<bool, Reject> {
        match self.0.get(name).map(String::as_str) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(Reject::bad_request(format!(
                "Field name '{name}' must be true or false"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_fields_are_checked_by_type() {
        let body = Body::parse(
            br#"{"s":"x","b":true,"o":{},"a":["h"],"n":null,"i":1,"bad":[1],"f":1.5,"big":18446744073709551615}"#,
        )
        .unwrap();
        assert_eq!(body.integer("i").unwrap(), 1);
        assert_eq!(body.string("s").unwrap(), "x");
        assert!(body.boolean("b").unwrap());
        assert!(body.object("o").unwrap().is_empty());
        assert!(body.opt_object("o").unwrap().is_some());
        assert!(body.opt_object("n").unwrap().is_none());
        assert!(body.opt_object("missing").unwrap().is_none());
        assert_eq!(body.strings("a").unwrap(), ["h"]);
        assert_eq!(body.opt_string("n").unwrap(), None);
        assert_eq!(body.opt_bool("missing").unwrap(), None);
        assert!(!body.has("n") && body.has("s"));
        for (name, result) in [
            ("i", body.string("i").map(drop)),
            ("missing", body.string("missing").map(drop)),
            ("s", body.boolean("s").map(drop)),
            ("n", body.object("n").map(drop)),
            ("s", body.opt_object("s").map(drop)),
            ("bad", body.strings("bad").map(drop)),
            ("f", body.integer("f").map(drop)),
            ("big", body.integer("big").map(drop)),
            ("s", body.integer("s").map(drop)),
        ] {
            let reject = result.unwrap_err();
            assert_eq!(reject.status, StatusCode::BAD_REQUEST);
            assert_eq!(
                reject.message,
                format!("Field name '{name}' is invalid in JSON input")
            );
        }
    }

    #[test]
    fn bodies_that_are_not_objects_are_invalid_json() {
        for bytes in [&b""[..], b"[]", b"nope", b"\"x\""] {
            let reject = Body::parse(bytes).err().unwrap();
            assert_eq!(reject.message, "Invalid Json Input");
        }
    }

    #[test]
    fn query_parameters() {
        let query = Query::parse("userId=u%201&fetchAcrossAllTenants=false&x=maybe").unwrap();
        assert_eq!(query.string("userId").unwrap(), "u 1");
        assert!(!query.boolean("fetchAcrossAllTenants", true).unwrap());
        assert!(query.boolean("absent", true).unwrap());
        assert!(query.boolean("x", true).is_err());
        assert_eq!(
            query.string("sessionHandle").unwrap_err().message,
            "Field name 'sessionHandle' is missing in GET request"
        );
    }
}
