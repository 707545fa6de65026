//! The Lambda example's handler, called directly with `lambda_http` requests (run with
//! `cargo test -p sessionward-examples --features lambda --test lambda`).
#![cfg(feature = "lambda")]

use lambda_http::http::{Method, Request, StatusCode};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use sessionward::SessionConfig;
use sessionward::testing::TestSession;
use sessionward_examples::lambda;

fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> lambda_http::Request {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::Empty).unwrap()
}

/// `token` with one character of its signature changed (still a well-formed token).
fn tamper(token: &str) -> String {
    let at = token.rfind('.').expect("a JWT") + 10;
    let swapped = if token.as_bytes()[at] == b'A' {
        "B"
    } else {
        "A"
    };
    format!("{}{swapped}{}", &token[..at], &token[at + 1..])
}

fn json_of(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("unexpected body {other:?}"),
    }
}

#[tokio::test]
async fn the_handler_verifies_sessions_like_the_macro() {
    let dir = tempfile::tempdir().unwrap();
    let config = SessionConfig::builder()
        .data_dir(dir.path())
        .build()
        .unwrap();
    let tokens = TestSession::for_user("dana").create(&config).await.unwrap();
    let bearer = format!("Bearer {}", tokens.access_token);

    let ok = lambda::handle(
        &config,
        request(Method::GET, "/user", &[("authorization", &bearer)]),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let body = json_of(&ok);
    assert_eq!(body["userId"], "dana");
    assert_eq!(body["accessTokenPayload"]["sub"], "dana");
    assert!(
        body["sessionHandle"]
            .as_str()
            .is_some_and(|h| !h.is_empty())
    );

    let cookie = format!("other=1; sAccessToken={}", tokens.access_token);
    let ok = lambda::handle(
        &config,
        request(Method::GET, "/user", &[("cookie", &cookie)]),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);

    let none = lambda::handle(&config, request(Method::GET, "/user", &[]))
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(&none), json!({"message": "unauthorised"}));

    let tampered = tamper(&bearer);
    let bad = lambda::handle(
        &config,
        request(Method::GET, "/user", &[("authorization", &tampered)]),
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(&bad), json!({"message": "try refresh token"}));

    let missing = lambda::handle(&config, request(Method::GET, "/nope", &[]))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cookie_requests_other_than_get_need_the_rid_header() {
    let dir = tempfile::tempdir().unwrap();
    let config = SessionConfig::builder()
        .data_dir(dir.path())
        .build()
        .unwrap();
    let tokens = TestSession::for_user("erin").create(&config).await.unwrap();
    let cookie = format!("sAccessToken={}", tokens.access_token);

    let without = request(Method::POST, "/user", &[("cookie", &cookie)]);
    let error = lambda::verify(&config, &without).await.unwrap_err();
    assert_eq!(error.kind(), "try_refresh_token");

    let with = request(
        Method::POST,
        "/user",
        &[("cookie", &cookie), ("rid", "anti-csrf")],
    );
    let session = lambda::verify(&config, &with).await.unwrap();
    assert_eq!(session.user_id(), "erin");

    // Header-mode requests are not subject to the check.
    let bearer = format!("Bearer {}", tokens.access_token);
    let header_mode = request(Method::POST, "/user", &[("authorization", &bearer)]);
    assert!(lambda::verify(&config, &header_mode).await.is_ok());
}
