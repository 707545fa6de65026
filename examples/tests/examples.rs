//! Every example binary starts with its one command and answers: each test starts the built
//! binary with `PORT=0`, reads its address from the first stdout line, and walks its routes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// A running example, killed on drop (with its data directory).
struct Example {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Example {
    fn start(binary: &str, env: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(binary)
            .env("PORT", "0")
            .env("DATA_DIR", data.path())
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the address line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{binary}: unexpected first line {line:?}"))
            .to_owned();
        Example {
            child,
            base,
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that follows no redirects and keeps no cookies (the tests pass them).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Logs in through `path` in header mode; the access token and the response body.
async fn login(example: &Example, path: &str, user: &str) -> (String, Value) {
    let response = client()
        .post(example.url(path))
        .header("st-auth-mode", "header")
        .json(&json!({ "userId": user }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "login at {path}");
    let token = header(response.headers(), "st-access-token");
    assert!(!token.is_empty(), "no st-access-token header");
    (token, response.json().await.unwrap())
}

/// `GET path` with an optional bearer token: status and JSON body.
async fn get(example: &Example, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = client().get(example.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
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

/// The value of cookie `name` among a response's `Set-Cookie` headers.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

#[tokio::test]
async fn claims_example_checks_the_tier_and_refetches_it() {
    let example = Example::start(env!("CARGO_BIN_EXE_claims"), &[]);
    let (token, body) = login(&example, "/login", "bob").await;
    assert_eq!(body, json!({"userId": "bob", "tier": "free"}));
    assert_eq!(
        get(&example, "/tier", Some(&token)).await,
        (StatusCode::OK, json!({"tier": "free"}))
    );
    let (status, body) = get(&example, "/reports", Some(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["claimValidationErrors"][0]["id"], "tier");
    assert_eq!(
        body["claimValidationErrors"][0]["reason"]["actualValue"],
        "free"
    );

    let upgraded = client()
        .post(example.url("/upgrade"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(upgraded.status(), StatusCode::OK);
    let new_token = header(upgraded.headers(), "st-access-token");
    assert!(
        !new_token.is_empty(),
        "the refetched claim comes in a new token"
    );
    assert!(!header(upgraded.headers(), "front-token").is_empty());
    assert_eq!(
        upgraded.json::<Value>().await.unwrap(),
        json!({"tier": "pro"})
    );
    let (status, body) = get(&example, "/reports", Some(&new_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (pro, body) = login(&example, "/login", "pro-ann").await;
    assert_eq!(body["tier"], "pro");
    assert_eq!(
        get(&example, "/reports", Some(&pro)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&example, "/reports", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn optional_session_example_serves_guests_and_users() {
    let example = Example::start(env!("CARGO_BIN_EXE_optional_session"), &[]);
    let guest = [
        ("/", json!({"hello": "guest"})),
        ("/feed", json!({"personalised": false, "items": []})),
        ("/greeting", json!({"greeting": "good day, guest"})),
    ];
    for (path, body) in guest {
        assert_eq!(
            get(&example, path, None).await,
            (StatusCode::OK, body),
            "{path}"
        );
    }
    let (token, _) = login(&example, "/login", "alice").await;
    let user = [
        ("/", json!({"hello": "alice"})),
        ("/feed", json!({"personalised": true, "items": []})),
        ("/greeting", json!({"greeting": "good day, alice"})),
    ];
    for (path, body) in user {
        assert_eq!(
            get(&example, path, Some(&token)).await,
            (StatusCode::OK, body),
            "{path}"
        );
    }
    // An invalid token is not a guest: the frontend must refresh.
    let tampered = tamper(&token);
    for path in ["/", "/feed", "/greeting"] {
        assert_eq!(
            get(&example, path, Some(&tampered)).await,
            (
                StatusCode::UNAUTHORIZED,
                json!({"message": "try refresh token"})
            ),
            "{path}"
        );
    }
}

#[tokio::test]
async fn tenants_example_keeps_sessions_in_their_tenant() {
    let example = Example::start(env!("CARGO_BIN_EXE_tenants"), &[]);
    let (token, body) = login(&example, "/t/acme/login", "ann").await;
    assert_eq!(body, json!({"userId": "ann", "tenantId": "acme"}));
    for route in ["me", "profile"] {
        assert_eq!(
            get(&example, &format!("/t/acme/{route}"), Some(&token)).await,
            (StatusCode::OK, json!({"userId": "ann", "tenantId": "acme"})),
            "{route}"
        );
        let (status, body) = get(&example, &format!("/t/globex/{route}"), Some(&token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{route}");
        assert_eq!(body["claimValidationErrors"][0]["id"], "st-tenant");
        assert_eq!(
            get(&example, &format!("/t/acme/{route}"), None).await,
            (StatusCode::UNAUTHORIZED, json!({"message": "unauthorised"})),
            "{route}"
        );
    }
    let bad = client()
        .post(example.url("/t/No%20Such/login"))
        .json(&json!({"userId": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ssr_example_redirects_instead_of_401_and_refreshes_in_the_browser() {
    // `exp` is in whole seconds, so a token of N seconds may live just over N - 1 of them:
    // with three, each token below has two seconds for its use, even on a loaded machine.
    let example = Example::start(
        env!("CARGO_BIN_EXE_ssr"),
        &[("ACCESS_TOKEN_VALIDITY_SECS", "3")],
    );
    let http = client();
    let location = |r: &reqwest::Response| header(r.headers(), "location");

    // No session: redirects to the login page, from the SSR check and the macro alike.
    for path in ["/", "/account"] {
        let response = http.get(example.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/login", "{path}");
    }
    let login_page = http.get(example.url("/login")).send().await.unwrap();
    assert_eq!(login_page.status(), StatusCode::OK);
    assert!(login_page.text().await.unwrap().contains("<form"));

    // The login form: cookies, then back home.
    let response = http
        .post(example.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("userId=carol")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    let access = set_cookie(response.headers(), "sAccessToken").expect("access cookie");
    let refresh = set_cookie(response.headers(), "sRefreshToken").expect("refresh cookie");
    let with_cookie = |path: &str, cookie: &str| {
        http.get(example.url(path))
            .header("cookie", format!("sAccessToken={cookie}"))
            .send()
    };
    let home = with_cookie("/", &access).await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home.text().await.unwrap().contains("Hello, carol"));
    let account = with_cookie("/account", &access).await.unwrap();
    assert_eq!(account.status(), StatusCode::OK);
    assert!(account.text().await.unwrap().contains("User carol"));

    // Expired: through the refresh page, which calls the refresh endpoint.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let home = with_cookie("/", &access).await.unwrap();
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&home), "/refresh?back=%2F");
    let account = with_cookie("/account", &access).await.unwrap();
    assert_eq!(account.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&account), "/refresh?back=%2Faccount");
    let page = http
        .get(example.url("/refresh?back=%2Faccount"))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("/auth/session/refresh") && page.contains("\"/account\""));
    let refreshed = http
        .post(example.url("/auth/session/refresh"))
        .header("cookie", format!("sRefreshToken={refresh}"))
        .header("rid", "session")
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let access = set_cookie(refreshed.headers(), "sAccessToken").expect("new access cookie");
    let account = with_cookie("/account", &access).await.unwrap();
    assert_eq!(account.status(), StatusCode::OK);

    // Sign out: cookies cleared, back to the login page.
    let out = http
        .post(example.url("/logout"))
        .header("cookie", format!("sAccessToken={access}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/login");
    assert_eq!(
        set_cookie(out.headers(), "sAccessToken").as_deref(),
        Some("")
    );
}

#[tokio::test]
async fn supertokens_core_example_keeps_sessions_in_the_core() {
    // sessionward's own CDI server stands in for a SuperTokens Core.
    let key = "an-api-key-of-20-chars";
    let core = Example::start(env!("CARGO_BIN_EXE_sessionward-core"), &[("API_KEY", key)]);
    let example = Example::start(
        env!("CARGO_BIN_EXE_supertokens_core"),
        &[("CORE_URI", core.base.as_str()), ("CORE_API_KEY", key)],
    );
    let response = client()
        .post(example.url("/login"))
        .header("st-auth-mode", "header")
        .json(&json!({"userId": "frank"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let access = header(response.headers(), "st-access-token");
    let refresh = header(response.headers(), "st-refresh-token");
    assert!(!access.is_empty() && !refresh.is_empty());
    for path in ["/user", "/user/strict"] {
        let (status, body) = get(&example, path, Some(&access)).await;
        assert_eq!(
            (status, &body["userId"]),
            (StatusCode::OK, &json!("frank")),
            "{path}"
        );
    }

    // The core rotates the refresh token.
    let refreshed = client()
        .post(example.url("/auth/session/refresh"))
        .bearer_auth(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let access = header(refreshed.headers(), "st-access-token");
    assert_ne!(header(refreshed.headers(), "st-refresh-token"), refresh);
    assert_eq!(
        get(&example, "/user/strict", Some(&access)).await.0,
        StatusCode::OK
    );

    // The core revokes the session: the database check refuses it at once.
    let out = client()
        .post(example.url("/auth/signout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(
        get(&example, "/user/strict", Some(&access)).await,
        (StatusCode::UNAUTHORIZED, json!({"message": "unauthorised"}))
    );
}
