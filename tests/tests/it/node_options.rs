//! supertokens-node's session options over HTTP on the demo's routes (actix-web, and the axum
//! layer where the path differs): the access token exposed in cookie mode, clearing duplicate
//! cookies of an older cookie domain, a transfer method chosen per request, and the `SameSite`
//! default by the public-suffix list.

use reqwest::Response;
use serde_json::{Value, json};
use sessionward::{SessionConfig, SessionConfigBuilder, TokenTransferMethod};
use sessionward_examples::{demo, demo_axum};
use sessionward_tests::{
    TestServer, client, embedded_config, login, serve, serve_axum, set_cookie_value,
};

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

async fn refresh_with_cookies(server: &TestServer, cookies: &str) -> Response {
    client()
        .post(server.url("/auth/session/refresh"))
        .header("cookie", cookies)
        .header("rid", "session")
        .send()
        .await
        .unwrap()
}

async fn get_user(
    server: &TestServer,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> u16 {
    build(client().get(server.url("/user")))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn exposing(b: SessionConfigBuilder) -> SessionConfigBuilder {
    b.expose_access_token_to_frontend_in_cookie_based_auth(true)
}

#[actix_web::test]
async fn an_exposed_access_token_comes_with_every_access_cookie() {
    let (_dir, config) = embedded_config(exposing);
    let server = serve(Some(config), demo::routes);

    let login_response = client()
        .post(server.url("/login"))
        .header("st-auth-mode", "cookie")
        .json(&json!({"userId": "exposed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login_response.status(), 200);
    let cookies = set_cookies(&login_response);
    let access = set_cookie_value(&cookies, "sAccessToken").expect("an access cookie");
    let refresh = set_cookie_value(&cookies, "sRefreshToken").expect("a refresh cookie");
    assert_eq!(
        header(&login_response, "st-access-token"),
        Some(access.clone())
    );
    assert!(
        header(&login_response, "access-control-expose-headers")
            .unwrap()
            .contains("st-access-token")
    );
    // The refresh token never leaves by header in cookie mode.
    assert_eq!(header(&login_response, "st-refresh-token"), None);

    // The frontend may present the exposed token as a bearer token (a header session, no
    // anti-CSRF check) or keep using the cookie.
    assert_eq!(get_user(&server, |r| r.bearer_auth(&access)).await, 200);
    assert_eq!(
        get_user(&server, |r| r
            .header("cookie", format!("sAccessToken={access}")))
        .await,
        200
    );

    // A refresh by cookie sends the new access token both ways too.
    let refreshed = refresh_with_cookies(&server, &format!("sRefreshToken={refresh}")).await;
    assert_eq!(refreshed.status(), 200);
    let new_access = set_cookie_value(&set_cookies(&refreshed), "sAccessToken").unwrap();
    assert_ne!(new_access, access);
    assert_eq!(header(&refreshed, "st-access-token"), Some(new_access));
}

#[actix_web::test]
async fn without_the_option_a_cookie_session_hides_its_access_token() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve(Some(config), demo::routes);
    let session = login(&server, "hidden", "cookie").await;
    assert!(!session.set_cookies.is_empty());
    let response = client()
        .post(server.url("/login"))
        .header("st-auth-mode", "cookie")
        .json(&json!({"userId": "hidden"}))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "st-access-token"), None);
    // Header mode is unchanged by the option either way.
    let (_dir, config) = embedded_config(exposing);
    let exposing_server = serve(Some(config), demo::routes);
    let header_session = login(&exposing_server, "header-user", "header").await;
    assert!(header_session.set_cookies.is_empty());
}

#[actix_web::test]
async fn the_axum_layer_exposes_the_access_token_too() {
    let (_dir, config) = embedded_config(exposing);
    let server = serve_axum(demo_axum::app(&config));
    let session = login(&server, "axum-exposed", "cookie").await;
    let refreshed =
        refresh_with_cookies(&server, &format!("sRefreshToken={}", session.refresh_token)).await;
    assert_eq!(refreshed.status(), 200);
    let access = set_cookie_value(&set_cookies(&refreshed), "sAccessToken").unwrap();
    assert_eq!(header(&refreshed, "st-access-token"), Some(access));
}

fn older_domain(b: SessionConfigBuilder) -> SessionConfigBuilder {
    b.cookie_domain("api.example.com")
        .older_cookie_domain(".Example.com")
}

/// Asserts the answer that cleared the older domain's cookies: 200 with the message, the
/// named cookies expired for `.example.com`, and no new tokens.
async fn assert_cleared_older(response: Response, names: &[&str]) {
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), names.len(), "{cookies:?}");
    for (cookie, name) in cookies.iter().zip(names) {
        assert!(
            cookie.starts_with(&format!("{name}=; Domain=.example.com; Path=")),
            "{cookie}"
        );
        assert!(
            cookie.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
            "{cookie}"
        );
    }
    assert_eq!(header(&response, "front-token"), None);
    assert_eq!(header(&response, "st-access-token"), None);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("multiple session cookies"),
        "{body}"
    );
}

#[actix_web::test]
async fn duplicate_cookies_of_the_older_domain_are_cleared_and_the_next_refresh_works() {
    let (_dir, config) = embedded_config(older_domain);
    let server = serve(Some(config), demo::routes);
    let session = login(&server, "moved", "cookie").await;
    let refresh = &session.refresh_token;
    let access = &session.access_token;

    // A stale cookie of the older domain next to the current one.
    let both_refresh = format!("sRefreshToken=stale-older; sRefreshToken={refresh}");
    assert_cleared_older(
        refresh_with_cookies(&server, &both_refresh).await,
        &["sRefreshToken"],
    )
    .await;
    // Two access cookies, one refresh cookie: the access cookie of the older domain goes.
    let both_access = format!("sAccessToken=old; sAccessToken={access}; sRefreshToken={refresh}");
    assert_cleared_older(
        refresh_with_cookies(&server, &both_access).await,
        &["sAccessToken"],
    )
    .await;
    // Both duplicated, across two Cookie headers.
    let response = client()
        .post(server.url("/auth/session/refresh"))
        .header("cookie", "sAccessToken=old; sRefreshToken=old")
        .header(
            "cookie",
            format!("sAccessToken={access}; sRefreshToken={refresh}"),
        )
        .header("rid", "session")
        .send()
        .await
        .unwrap();
    assert_cleared_older(response, &["sAccessToken", "sRefreshToken"]).await;

    // With the older cookies gone the session refreshes as usual: nothing was rotated.
    let refreshed = refresh_with_cookies(&server, &format!("sRefreshToken={refresh}")).await;
    assert_eq!(refreshed.status(), 200);
    let cookies = set_cookies(&refreshed);
    let new_access = set_cookie_value(&cookies, "sAccessToken").unwrap();
    assert!(
        cookies[0].contains("; Domain=api.example.com;"),
        "{cookies:?}"
    );
    assert_eq!(
        get_user(&server, |r| r
            .header("cookie", format!("sAccessToken={new_access}")))
        .await,
        200
    );
}

#[actix_web::test]
async fn an_empty_older_domain_clears_host_only_cookies() {
    let (_dir, config) =
        embedded_config(|b| b.cookie_domain(".example.com").older_cookie_domain(""));
    let server = serve(Some(config), demo::routes);
    let response = refresh_with_cookies(&server, "sRefreshToken=a; sRefreshToken=b").await;
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 1);
    assert!(
        cookies[0]
            .starts_with("sRefreshToken=; Path=/auth/session/refresh; Expires=Thu, 01 Jan 1970"),
        "{}",
        cookies[0]
    );
}

#[actix_web::test]
async fn without_an_older_domain_duplicates_end_the_session_with_a_401() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve(Some(config), demo::routes);
    let session = login(&server, "duplicated", "cookie").await;
    let cookies = format!(
        "sAccessToken=old; sAccessToken={}; sRefreshToken={}",
        session.access_token, session.refresh_token
    );
    let response = refresh_with_cookies(&server, &cookies).await;
    assert_eq!(response.status(), 401);
    assert_eq!(header(&response, "front-token").as_deref(), Some("remove"));
    let cleared = set_cookies(&response);
    assert!(
        cleared.iter().any(|c| c.starts_with("sAccessToken=;")),
        "{cleared:?}"
    );
    assert!(
        cleared.iter().any(|c| c.starts_with("sRefreshToken=;")),
        "{cleared:?}"
    );
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"message": "unauthorised"})
    );
    // The refresh token was not used: a refresh with the single cookie still works.
    let single =
        refresh_with_cookies(&server, &format!("sRefreshToken={}", session.refresh_token)).await;
    assert_eq!(single.status(), 200);
}

#[actix_web::test]
async fn duplicate_cookies_are_ignored_where_only_headers_are_read() {
    let (_dir, config) =
        embedded_config(|b| older_domain(b).token_transfer_method(TokenTransferMethod::Header));
    let server = serve(Some(config), demo::routes);
    let session = login(&server, "header-only", "header").await;
    let response = client()
        .post(server.url("/auth/session/refresh"))
        .header("cookie", "sRefreshToken=a; sRefreshToken=b")
        .bearer_auth(&session.refresh_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(header(&response, "st-refresh-token").is_some());
    // The refresh cookies are cleared as any other method's are after a header refresh
    // (docs/protocol.md §3.5), in the current domain: the older one is not looked at.
    let cookies = set_cookies(&response);
    assert!(
        cookies
            .iter()
            .all(|c| c.contains("=; Domain=api.example.com;")),
        "{cookies:?}"
    );
}

#[actix_web::test]
async fn the_axum_layer_clears_the_older_domain_too() {
    let (_dir, config) = embedded_config(older_domain);
    let server = serve_axum(demo_axum::app(&config));
    assert_cleared_older(
        refresh_with_cookies(&server, "sRefreshToken=a; sRefreshToken=b").await,
        &["sRefreshToken"],
    )
    .await;
}

/// Mobile clients (which say so in `x-client`) use headers only; everyone else gets the default.
fn per_request(b: SessionConfigBuilder) -> SessionConfigBuilder {
    b.token_transfer_method_fn(|request| {
        if request.header("X-Client") == Some("mobile") {
            TokenTransferMethod::Header
        } else {
            TokenTransferMethod::Any
        }
    })
}

async fn login_as(server: &TestServer, mode: &str, mobile: bool) -> Response {
    let mut request = client()
        .post(server.url("/login"))
        .header("st-auth-mode", mode)
        .json(&json!({"userId": "per-request"}));
    if mobile {
        request = request.header("x-client", "mobile");
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response
}

async fn check_transfer_per_request(server: &TestServer) {
    // The function's `Header` wins over the frontend's `st-auth-mode: cookie`.
    let mobile = login_as(server, "cookie", true).await;
    assert!(set_cookies(&mobile).is_empty());
    let mobile_access = header(&mobile, "st-access-token").expect("a header token");
    assert!(header(&mobile, "st-refresh-token").is_some());

    // Without the header `Any` applies: cookies as asked.
    let browser = login_as(server, "cookie", false).await;
    let browser_access =
        set_cookie_value(&set_cookies(&browser), "sAccessToken").expect("a cookie token");
    assert_eq!(header(&browser, "st-access-token"), None);

    // Verification reads only headers for mobile requests, both methods otherwise.
    let cookie = format!("sAccessToken={browser_access}");
    assert_eq!(get_user(server, |r| r.header("cookie", &cookie)).await, 200);
    assert_eq!(
        get_user(server, |r| r
            .header("cookie", &cookie)
            .header("x-client", "mobile"))
        .await,
        401
    );
    assert_eq!(
        get_user(server, |r| r
            .bearer_auth(&mobile_access)
            .header("x-client", "mobile"))
        .await,
        200
    );
}

#[actix_web::test]
async fn a_transfer_method_function_decides_per_request() {
    let (_dir, config) = embedded_config(per_request);
    let server = serve(Some(config), demo::routes);
    check_transfer_per_request(&server).await;

    // Refresh reads by the function's answer too: a mobile refresh ignores the cookie.
    let browser = login_as(&server, "cookie", false).await;
    let refresh = set_cookie_value(&set_cookies(&browser), "sRefreshToken").unwrap();
    let mobile_refresh = client()
        .post(server.url("/auth/session/refresh"))
        .header("cookie", format!("sRefreshToken={refresh}"))
        .header("x-client", "mobile")
        .header("rid", "session")
        .send()
        .await
        .unwrap();
    assert_eq!(mobile_refresh.status(), 401);
}

#[actix_web::test]
async fn the_axum_layer_asks_the_transfer_method_function() {
    let (_dir, config) = embedded_config(per_request);
    let server = serve_axum(demo_axum::app(&config));
    check_transfer_per_request(&server).await;
}

async fn login_same_site(api: &str, website: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config: SessionConfig = SessionConfig::builder()
        .data_dir(dir.path())
        .api_domain(api)
        .website_domain(website)
        .build()
        .unwrap();
    let server = serve(Some(config), demo::routes);
    let session = login(&server, "site", "cookie").await;
    let access = session
        .set_cookies
        .iter()
        .find(|c| c.starts_with("sAccessToken="))
        .unwrap();
    access.rsplit("SameSite=").next().unwrap().to_owned()
}

#[actix_web::test]
async fn the_same_site_default_follows_the_public_suffix_list() {
    assert_eq!(
        login_same_site("https://api.example.co.uk", "https://www.example.co.uk").await,
        "Lax"
    );
    assert_eq!(
        login_same_site("https://a.github.io", "https://b.github.io").await,
        "None"
    );
}
