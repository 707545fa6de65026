//! The Lambda example's function, invoked with API Gateway REST (v1) and HTTP API (v2) events
//! parsed by `lambda_http` itself, no AWS: login, a call, expiry, refresh and sign-out, in
//! cookie and header mode, behind a stage (run with
//! `cargo test -p sessionward-examples --features lambda --test lambda`).
#![cfg(feature = "lambda")]

use std::time::{Duration, Instant};

use lambda_http::{Body, Request, Response, Service};
use serde_json::{Value, json};
use sessionward::{AntiCsrf, SessionConfig};
use sessionward_examples::lambda;

/// Which API Gateway event format a request comes in.
#[derive(Debug, Clone, Copy)]
enum Api {
    Rest,
    Http,
}

const STAGE: &str = "dev";

/// An API Gateway event for `method path` (the path without the stage) with `headers` and
/// `body`, as `lambda_http` parses it.
fn event(api: Api, method: &str, path: &str, headers: &[(&str, String)], body: &str) -> Request {
    let mut header_map = serde_json::Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        match (api, *name) {
            // HTTP APIs send cookies apart from the other headers.
            (Api::Http, "cookie") => cookies.push(Value::String(value.clone())),
            _ => {
                header_map.insert((*name).to_owned(), Value::String(value.clone()));
            }
        }
    }
    let event = match api {
        Api::Rest => json!({
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": header_map,
            "multiValueHeaders": {},
            "queryStringParameters": null,
            "requestContext": {
                "accountId": "123456789012",
                "resourceId": "r1",
                "stage": STAGE,
                "requestId": "req-1",
                "identity": {"sourceIp": "127.0.0.1"},
                "resourcePath": "/{proxy+}",
                "httpMethod": method,
                "apiId": "api1",
            },
            "body": body,
            "isBase64Encoded": false,
        }),
        Api::Http => json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": format!("/{STAGE}{path}"),
            "rawQueryString": "",
            "headers": header_map,
            "cookies": cookies,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api1",
                "domainName": "api1.example.com",
                "domainPrefix": "api1",
                "http": {
                    "method": method,
                    "path": format!("/{STAGE}{path}"),
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": "test",
                },
                "requestId": "req-1",
                "routeKey": "$default",
                "stage": STAGE,
                "time": "30/Nov/2026:00:00:00 +0000",
                "timeEpoch": 1_800_000_000_000u64,
            },
            "body": body,
            "isBase64Encoded": false,
        }),
    };
    lambda_http::request::from_str(&event.to_string()).expect("lambda_http parses the event")
}

fn header(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The value of cookie `name` set by `response`.
fn set_cookie(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
}

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null)
}

/// A logged-in client in one transfer method: what it sends with each request.
struct Client {
    cookie_mode: bool,
    access: String,
    refresh: String,
    anti_csrf: Option<String>,
}

impl Client {
    fn credentials(&self, refresh: bool) -> Vec<(&'static str, String)> {
        let token = if refresh { &self.refresh } else { &self.access };
        let mut headers = vec![("rid", "session".to_owned())];
        if self.cookie_mode {
            let name = if refresh {
                "sRefreshToken"
            } else {
                "sAccessToken"
            };
            headers.push(("cookie", format!("{name}={token}")));
        } else {
            headers.push(("authorization", format!("Bearer {token}")));
        }
        if let Some(anti_csrf) = &self.anti_csrf {
            headers.push(("anti-csrf", anti_csrf.clone()));
        }
        headers
    }

    /// Takes the tokens a response carries (a refresh, a promotion).
    fn update(&mut self, response: &Response<Body>) {
        let (access, refresh) = if self.cookie_mode {
            (
                set_cookie(response, "sAccessToken"),
                set_cookie(response, "sRefreshToken"),
            )
        } else {
            (
                header(response, "st-access-token"),
                header(response, "st-refresh-token"),
            )
        };
        if let Some(access) = access {
            self.access = access;
        }
        if let Some(refresh) = refresh {
            self.refresh = refresh;
        }
        if let Some(anti_csrf) = header(response, "anti-csrf") {
            self.anti_csrf = Some(anti_csrf);
        }
    }
}

async fn session_lifecycle(api: Api, cookie_mode: bool) {
    let dir = tempfile::tempdir().unwrap();
    let config = SessionConfig::builder()
        .data_dir(dir.path())
        .api_gateway_path(format!("/{STAGE}"))
        .access_token_validity(Duration::from_secs(2))
        .anti_csrf(AntiCsrf::ViaToken)
        .session_expired_status(440u16)
        .build()
        .unwrap();
    let mut function = lambda::function(config);
    let mut call = async |request: Request| function.call(request).await.unwrap();
    let label = format!("{api:?}, cookie mode {cookie_mode}");

    let mode = if cookie_mode { "cookie" } else { "header" };
    let login = call(event(
        api,
        "POST",
        "/login",
        &[
            ("st-auth-mode", mode.to_owned()),
            ("content-type", "application/json".to_owned()),
        ],
        r#"{"userId":"lambda-user"}"#,
    ))
    .await;
    assert_eq!(login.status(), 200, "{label}");
    assert!(header(&login, "front-token").is_some(), "{label}");
    let mut client = Client {
        cookie_mode,
        access: String::new(),
        refresh: String::new(),
        anti_csrf: None,
    };
    client.update(&login);
    assert!(
        !client.access.is_empty() && !client.refresh.is_empty(),
        "{label}"
    );
    if cookie_mode {
        let refresh_cookie = login
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|c| c.starts_with("sRefreshToken="))
            .unwrap()
            .to_owned();
        assert!(
            refresh_cookie.contains("Path=/dev/auth/session/refresh"),
            "the refresh cookie's path carries the stage: {refresh_cookie}"
        );
        assert!(
            client.anti_csrf.is_some(),
            "{label}: VIA_TOKEN issues an anti-CSRF token"
        );
    }

    let user = call(event(api, "GET", "/user", &client.credentials(false), "")).await;
    assert_eq!(user.status(), 200, "{label}");
    assert_eq!(json_of(&user)["userId"], "lambda-user", "{label}");

    let anonymous = call(event(api, "GET", "/user", &[], "")).await;
    assert_eq!(anonymous.status(), 440, "{label}: the configured status");
    assert_eq!(
        json_of(&anonymous),
        json!({"message": "unauthorised"}),
        "{label}"
    );

    // Expiry: the configured status asks for a refresh.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let expired = call(event(api, "GET", "/user", &client.credentials(false), "")).await;
        if expired.status() == 440 {
            assert_eq!(
                json_of(&expired),
                json!({"message": "try refresh token"}),
                "{label}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{label}: the token never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let refreshed = call(event(
        api,
        "POST",
        "/auth/session/refresh",
        &client.credentials(true),
        "",
    ))
    .await;
    assert_eq!(refreshed.status(), 200, "{label}");
    let before = client.access.clone();
    client.update(&refreshed);
    assert_ne!(client.access, before, "{label}: a new access token");

    // The refreshed token works; its first use is promoted by the core and sent back.
    let user = call(event(api, "GET", "/user", &client.credentials(false), "")).await;
    assert_eq!(user.status(), 200, "{label}");
    client.update(&user);

    if cookie_mode {
        // VIA_TOKEN: a cookie POST without the anti-CSRF token must refresh.
        let mut without = client.credentials(false);
        without.retain(|(name, _)| *name != "anti-csrf");
        let refused = call(event(api, "POST", "/auth/signout", &without, "")).await;
        assert_eq!(refused.status(), 440, "{label}");
    }
    let signed_out = call(event(
        api,
        "POST",
        "/auth/signout",
        &client.credentials(false),
        "",
    ))
    .await;
    assert_eq!(signed_out.status(), 200, "{label}");
    assert_eq!(
        header(&signed_out, "front-token").as_deref(),
        Some("remove"),
        "{label}"
    );
    assert_eq!(json_of(&signed_out), json!({"status": "OK"}), "{label}");
    let after = call(event(
        api,
        "POST",
        "/auth/session/refresh",
        &client.credentials(true),
        "",
    ))
    .await;
    assert_eq!(after.status(), 440, "{label}: the session is gone");
}

#[tokio::test]
async fn rest_api_cookie_mode() {
    session_lifecycle(Api::Rest, true).await;
}

#[tokio::test]
async fn rest_api_header_mode() {
    session_lifecycle(Api::Rest, false).await;
}

#[tokio::test]
async fn http_api_cookie_mode() {
    session_lifecycle(Api::Http, true).await;
}

#[tokio::test]
async fn http_api_header_mode() {
    session_lifecycle(Api::Http, false).await;
}

#[tokio::test]
async fn unknown_paths_and_bad_bodies_are_client_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = SessionConfig::builder()
        .data_dir(dir.path())
        .api_gateway_path(format!("/{STAGE}"))
        .build()
        .unwrap();
    let mut function = lambda::function(config);
    for api in [Api::Rest, Api::Http] {
        let missing = function
            .call(event(api, "GET", "/nowhere", &[], ""))
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        let bad = function
            .call(event(api, "POST", "/login", &[], "not json"))
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
    }
}
