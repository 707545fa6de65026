//! The whole session lifecycle over HTTP on the embedded core: login, protected call, expiry,
//! refresh, rotation and promotion, theft, the concurrent-refresh race, sign-out, revocation,
//! restart. Each test runs on SQLite and on PostgreSQL.

use std::time::Duration;

use actix_web::{HttpResponse, Responder, get, web};
use serde_json::{Value, json};
use sessionward::prelude::*;
use sessionward_examples::demo;
use sessionward_tests::{
    Store, TestServer, TestStore, client, login, on_both_stores, serve, set_cookie_value,
};

/// The access token, refresh token and anti-CSRF token a client currently holds.
#[derive(Debug, Clone)]
struct Held {
    mode: &'static str,
    access: String,
    refresh: String,
    anti_csrf: Option<String>,
}

impl Held {
    async fn login(server: &TestServer, user: &str, mode: &'static str) -> Self {
        let s = login(server, user, mode).await;
        Self {
            mode,
            access: s.access_token,
            refresh: s.refresh_token,
            anti_csrf: s.anti_csrf,
        }
    }

    fn get(&self, server: &TestServer, path: &str) -> reqwest::RequestBuilder {
        self.authorise(client().get(server.url(path)))
    }

    fn post(&self, server: &TestServer, path: &str) -> reqwest::RequestBuilder {
        self.authorise(client().post(server.url(path)).header("rid", "anti-csrf"))
    }

    fn authorise(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let request = match &self.anti_csrf {
            Some(token) => request.header("anti-csrf", token),
            None => request,
        };
        if self.mode == "cookie" {
            request.header("cookie", format!("sAccessToken={}", self.access))
        } else {
            request.bearer_auth(&self.access)
        }
    }

    /// Sends a refresh request with the held refresh token.
    async fn send_refresh(&self, server: &TestServer) -> reqwest::Response {
        self.send_refresh_to(&server.base).await
    }

    async fn send_refresh_to(&self, base: &str) -> reqwest::Response {
        let request = client()
            .post(format!("{base}/auth/session/refresh"))
            .header("rid", "session")
            .header("st-auth-mode", self.mode);
        let request = match &self.anti_csrf {
            Some(token) => request.header("anti-csrf", token),
            None => request,
        };
        let request = if self.mode == "cookie" {
            request.header("cookie", format!("sRefreshToken={}", self.refresh))
        } else {
            request.bearer_auth(&self.refresh)
        };
        request.send().await.expect("refresh request")
    }

    /// Takes the tokens a response set, as the frontend SDK does.
    fn absorb(&mut self, response: &reqwest::Response) {
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if self.mode == "cookie" {
            let cookies: Vec<String> = headers
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect();
            if let Some(access) = set_cookie_value(&cookies, "sAccessToken") {
                self.access = access;
            }
            if let Some(refresh) = set_cookie_value(&cookies, "sRefreshToken") {
                self.refresh = refresh;
            }
        } else {
            if let Some(access) = header("st-access-token") {
                self.access = access;
            }
            if let Some(refresh) = header("st-refresh-token") {
                self.refresh = refresh;
            }
        }
        if let Some(anti_csrf) = header("anti-csrf") {
            self.anti_csrf = Some(anti_csrf);
        }
    }

    async fn refresh(&mut self, server: &TestServer) {
        let response = self.send_refresh(server).await;
        assert_eq!(response.status(), 200, "refresh failed");
        assert!(
            response.headers().get("front-token").is_some(),
            "front-token on refresh"
        );
        self.absorb(&response);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({}));
    }
}

#[get("/strict")]
#[verify_session(check_database = true)]
async fn strict(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.handle().to_owned())
}

fn routes(cfg: &mut web::ServiceConfig) {
    demo::routes(cfg);
    cfg.service(strict);
}

fn decode_payload(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Polls `path` until it answers `status`, for at most `limit`.
async fn wait_for_status(
    held: &Held,
    server: &TestServer,
    path: &str,
    status: u16,
    limit: Duration,
) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let got = held
            .get(server, path)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if got == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never answered {status} (last {got})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both_stores!(
    lifecycle_with_headers,
    lifecycle_with_cookies,
    replayed_refresh_token_is_theft_and_revokes_the_session,
    concurrent_refreshes_with_one_token_are_not_theft,
    revoked_session_is_refused_at_once_with_check_database,
    refresh_with_missing_or_garbage_tokens_is_401,
    sessions_survive_a_restart,
    refresh_anti_csrf_in_each_mode,
);

async fn full_lifecycle(store: Store, mode: &'static str) {
    let store = TestStore::new(store).await;
    // Two seconds: `exp` is in whole seconds, so a one-second token can live for less than
    // a second, shorter than a loaded machine takes between login and the first call.
    let config = store.config(|b| b.access_token_validity(Duration::from_secs(2)));
    let server = serve(Some(config), routes);
    let mut held = Held::login(&server, "life-user", mode).await;
    assert_eq!(
        held.get(&server, "/user").send().await.unwrap().status(),
        200
    );

    // Expiry: "try refresh token", nothing cleared.
    wait_for_status(&held, &server, "/user", 401, Duration::from_secs(10)).await;
    let expired = held.get(&server, "/user").send().await.unwrap();
    assert!(expired.headers().get("front-token").is_none());
    assert_eq!(
        expired.json::<Value>().await.unwrap(),
        json!({"message": "try refresh token"})
    );

    // Refresh rotates the refresh token; the new access token names its parent.
    let old_refresh = held.refresh.clone();
    held.refresh(&server).await;
    assert_ne!(held.refresh, old_refresh);
    assert!(decode_payload(&held.access)["parentRefreshTokenHash1"].is_string());

    // First use promotes: a replacement token without the parent arrives with a front-token.
    let promoted = held.get(&server, "/user").send().await.unwrap();
    assert_eq!(promoted.status(), 200);
    assert!(
        promoted.headers().get("front-token").is_some(),
        "promotion sends a front-token"
    );
    held.absorb(&promoted);
    assert!(decode_payload(&held.access)["parentRefreshTokenHash1"].is_null());

    // Sign-out revokes and clears; the token is refused where the database is checked.
    let signed_out = held.post(&server, "/auth/signout").send().await.unwrap();
    assert_eq!(signed_out.status(), 200);
    assert_eq!(signed_out.headers()["front-token"], "remove");
    assert_eq!(
        signed_out.json::<Value>().await.unwrap(),
        json!({"status": "OK"})
    );
    assert_eq!(
        held.get(&server, "/strict").send().await.unwrap().status(),
        401
    );
    let refresh_after = held.send_refresh(&server).await;
    assert_eq!(refresh_after.status(), 401);
    assert_eq!(refresh_after.headers()["front-token"], "remove");
}

async fn lifecycle_with_headers(store: Store) {
    full_lifecycle(store, "header").await;
}

async fn lifecycle_with_cookies(store: Store) {
    full_lifecycle(store, "cookie").await;
}

async fn replayed_refresh_token_is_theft_and_revokes_the_session(store: Store) {
    let config = TestStore::new(store).await.config(|b| b);
    let server = serve(Some(config), routes);
    let mut held = Held::login(&server, "theft-victim", "header").await;
    let stolen = held.clone();
    held.refresh(&server).await;
    // The child is used: the rotation is committed.
    let promoted = held.get(&server, "/user").send().await.unwrap();
    held.absorb(&promoted);

    let replay = stolen.send_refresh(&server).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(replay.headers()["front-token"], "remove");
    assert_eq!(
        replay.json::<Value>().await.unwrap(),
        json!({"message": "token theft detected"})
    );
    // The whole session is gone, for the legitimate client too.
    assert_eq!(
        held.get(&server, "/strict").send().await.unwrap().status(),
        401
    );
    assert_eq!(held.send_refresh(&server).await.status(), 401);
}

async fn concurrent_refreshes_with_one_token_are_not_theft(store: Store) {
    let config = TestStore::new(store).await.config(|b| b);
    let server = serve(Some(config), routes);
    let held = Held::login(&server, "racer", "cookie").await;
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let held = held.clone();
        let base = server.base.clone();
        tasks.push(actix_web::rt::spawn(async move {
            let response = held.send_refresh_to(&base).await;
            let status = response.status().as_u16();
            let mut after = held.clone();
            after.absorb(&response);
            let body = response.text().await.unwrap_or_default();
            (status, body, after)
        }));
    }
    let mut survivors = Vec::new();
    for task in tasks {
        let (status, body, after) = task.await.unwrap();
        assert!(
            !body.contains("theft"),
            "a concurrent refresh was called theft: {body}"
        );
        assert!(status == 200 || status == 401, "{status} {body}");
        if status == 200 {
            survivors.push(after);
        }
    }
    assert!(!survivors.is_empty(), "at least one refresh succeeds");
    // One chain survives: every successful refresh handed out the same refresh token.
    let first = survivors[0].refresh.clone();
    assert!(
        survivors.iter().all(|s| s.refresh == first),
        "several refresh chains"
    );
    let mut last = survivors.pop().unwrap();
    let response = last.get(&server, "/user").send().await.unwrap();
    assert_eq!(response.status(), 200);
    last.absorb(&response);
    last.refresh(&server).await;
    assert_eq!(
        last.get(&server, "/user").send().await.unwrap().status(),
        200
    );
}

async fn revoked_session_is_refused_at_once_with_check_database(store: Store) {
    let config = TestStore::new(store).await.config(|b| b);
    let server = serve(Some(config.clone()), routes);
    let held = Held::login(&server, "revoke-me", "header").await;
    assert_eq!(
        held.get(&server, "/strict").send().await.unwrap().status(),
        200
    );
    let handle = held
        .get(&server, "/strict")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let revoked = config
        .core()
        .revoke_sessions(vec![handle.clone()])
        .await
        .unwrap();
    assert_eq!(revoked, vec![handle]);
    let response = held.get(&server, "/strict").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["front-token"], "remove");
    // Without check_database the signature still holds until expiry (documented).
    assert_eq!(
        held.get(&server, "/user").send().await.unwrap().status(),
        200
    );
}

async fn refresh_with_missing_or_garbage_tokens_is_401(store: Store) {
    let config = TestStore::new(store).await.config(|b| b);
    let server = serve(Some(config), routes);
    let response = client()
        .post(server.url("/auth/session/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["front-token"], "remove");
    for garbage in ["x", "a.b.c", &"z".repeat(5000), "%00%ff"] {
        for request in [
            client()
                .post(server.url("/auth/session/refresh"))
                .bearer_auth(garbage),
            client()
                .post(server.url("/auth/session/refresh"))
                .header("cookie", format!("sRefreshToken={garbage}")),
        ] {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{garbage:.20}");
        }
    }
    // An access token is not a refresh token.
    let held = Held::login(&server, "mixup", "header").await;
    let response = client()
        .post(server.url("/auth/session/refresh"))
        .bearer_auth(&held.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // And a refresh token is not an access token.
    let response = client()
        .get(server.url("/user"))
        .bearer_auth(&held.refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

async fn sessions_survive_a_restart(store: Store) {
    let store = TestStore::new(store).await;
    let build = || store.config(|b| b);
    let first = serve(Some(build()), routes);
    let mut held = Held::login(&first, "restart-user", "header").await;
    drop(first);
    let second = serve(Some(build()), routes);
    assert_eq!(
        held.get(&second, "/strict").send().await.unwrap().status(),
        200
    );
    held.refresh(&second).await;
    assert_eq!(
        held.get(&second, "/user").send().await.unwrap().status(),
        200
    );
}

async fn refresh_anti_csrf_in_each_mode(store: Store) {
    // Custom header: a cookie refresh without `rid` is refused and clears the session.
    let store = TestStore::new(store).await;
    let config = store.config(|b| b.anti_csrf(sessionward::AntiCsrf::ViaCustomHeader));
    let server = serve(Some(config), routes);
    let held = Held::login(&server, "csrf-refresh", "cookie").await;
    let response = client()
        .post(server.url("/auth/session/refresh"))
        .header("cookie", format!("sRefreshToken={}", held.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let mut held = Held::login(&server, "csrf-refresh-2", "cookie").await;
    held.refresh(&server).await;

    // Token: the anti-CSRF token must come back on refresh.
    let config = store.config(|b| b.anti_csrf(sessionward::AntiCsrf::ViaToken));
    let server = serve(Some(config), routes);
    let held = Held::login(&server, "csrf-token-refresh", "cookie").await;
    let mut without = held.clone();
    without.anti_csrf = Some("wrong".into());
    assert_eq!(without.send_refresh(&server).await.status(), 401);
    let mut held2 = Held::login(&server, "csrf-token-refresh-2", "cookie").await;
    held2.refresh(&server).await;
    assert!(held2.anti_csrf.is_some());
    assert_eq!(
        held2.post(&server, "/user").send().await.unwrap().status(),
        200
    );
}
