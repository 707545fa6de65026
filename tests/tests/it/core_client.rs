//! `CoreClient` over real HTTP: against the embedded core served by `cdi::configure`
//! in process, and against stub cores for the faults (a core down, slow, failing, rate-limiting,
//! speaking another CDI version, answering garbage).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Map, Value, json};
use sessionward::SessionConfig;
use sessionward::cdi;
use sessionward::core::{
    CoreClient, CoreError, NewSession, RefreshOutcome, RefreshRequest, RegenerateOutcome,
    SessionCore, VerifyOutcome, VerifyRequest,
};
use sessionward_examples::demo;
use sessionward_tests::{AppendixA, client, embedded_config, login, serve};

/// The api key of the in-process cores.
pub(crate) const API_KEY: &str = "interop-api-key-0123456789";

/// A server on 127.0.0.1:0 that can be stopped for good.
pub(crate) struct Running {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    handle: ServerHandle,
}

impl Running {
    /// Stops the server and waits until its port refuses connections.
    pub(crate) async fn stop(self) {
        self.handle.stop(false).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// Serves `routes` on 127.0.0.1:0 (inside an actix runtime).
pub(crate) fn start<F>(routes: F) -> Running
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let server = HttpServer::new(move || App::new().configure(routes.clone()))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(("127.0.0.1", 0))
        .expect("bind 127.0.0.1:0");
    let addr: SocketAddr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Running {
        base: format!("http://{addr}"),
        handle,
    }
}

/// An embedded core in a temporary directory, served over CDI with [`API_KEY`].
pub(crate) fn cdi_core() -> (tempfile::TempDir, Arc<dyn SessionCore>, Running) {
    let (dir, config) = embedded_config(|builder| builder);
    let core = Arc::clone(config.core());
    let server = start(cdi::configure(Arc::clone(&core), Some(API_KEY.to_owned())));
    (dir, core, server)
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

fn new_session(tenant: &str, user: &str) -> NewSession {
    NewSession {
        tenant_id: tenant.to_owned(),
        recipe_user_id: user.to_owned(),
        access_token_payload: Map::from_iter([("custom".to_owned(), json!("x"))]),
        session_data: json!({"n": 1}),
        enable_anti_csrf: false,
        use_dynamic_signing_key: true,
        access_token_version: sessionward::core::AccessTokenVersion::default(),
    }
}

fn verify(token: &str, check_database: bool) -> VerifyRequest {
    VerifyRequest {
        access_token: token.to_owned(),
        anti_csrf_token: None,
        do_anti_csrf_check: false,
        enable_anti_csrf: false,
        check_database,
    }
}

fn refresh(token: &str) -> RefreshRequest {
    RefreshRequest {
        refresh_token: token.to_owned(),
        anti_csrf_token: None,
        enable_anti_csrf: false,
        use_dynamic_signing_key: Some(true),
        access_token_version: sessionward::core::AccessTokenVersion::default(),
    }
}

fn with_key(uri: &str) -> CoreClient {
    CoreClient::new(uri, Some(API_KEY)).expect("client")
}

#[actix_web::test]
async fn every_call_against_the_embedded_core_over_cdi() {
    let (_dir, _core, server) = cdi_core();
    let client = with_key(&server.base);

    let created = client
        .create_session(new_session("public", "alice"))
        .await
        .unwrap();
    let handle = created.session.handle.clone();
    assert_eq!(created.session.user_id, "alice");
    assert_eq!(created.session.recipe_user_id, "alice");
    assert_eq!(created.session.tenant_id, "public");
    assert_eq!(created.session.user_data_in_jwt["custom"], "x");
    assert!(created.anti_csrf_token.is_none());
    assert!(created.access_token.expiry_ms > created.access_token.created_ms);

    // A fresh token: the signature is the proof; with check_database the row is read.
    for check_database in [false, true] {
        match client
            .verify_session(verify(&created.access_token.token, check_database))
            .await
            .unwrap()
        {
            VerifyOutcome::Ok {
                session,
                new_access_token,
            } => {
                assert_eq!(session.handle, handle);
                assert!(new_access_token.is_none());
            }
            other => panic!("verify: {other:?}"),
        }
    }

    // Refresh, then the first use of the new token promotes it.
    let RefreshOutcome::Ok(refreshed) = client
        .refresh_session(refresh(&created.refresh_token.token))
        .await
        .unwrap()
    else {
        panic!("refresh failed");
    };
    assert_ne!(refreshed.refresh_token.token, created.refresh_token.token);
    let VerifyOutcome::Ok {
        new_access_token: Some(promoted),
        ..
    } = client
        .verify_session(verify(&refreshed.access_token.token, false))
        .await
        .unwrap()
    else {
        panic!("the refreshed token is not promoted");
    };
    // The old refresh token again: theft.
    match client
        .refresh_session(refresh(&created.refresh_token.token))
        .await
        .unwrap()
    {
        RefreshOutcome::TokenTheftDetected {
            handle: stolen,
            user_id,
            recipe_user_id,
        } => assert_eq!(
            (stolen.as_str(), user_id.as_str(), recipe_user_id.as_str()),
            (handle.as_str(), "alice", "alice")
        ),
        other => panic!("reuse: {other:?}"),
    }

    // Regenerate with a new payload.
    let payload = Map::from_iter([("role".to_owned(), json!("admin"))]);
    match client
        .regenerate_access_token(promoted.token.clone(), payload.clone())
        .await
        .unwrap()
    {
        RegenerateOutcome::Ok {
            session,
            new_access_token,
        } => {
            assert_eq!(session.user_data_in_jwt, payload);
            assert!(new_access_token.is_some());
        }
        other => panic!("regenerate: {other:?}"),
    }

    // By handle.
    assert!(
        client
            .update_session_data(handle.clone(), json!({"n": 2}))
            .await
            .unwrap()
    );
    let flag = Map::from_iter([("flag".to_owned(), json!(true))]);
    assert!(
        client
            .update_access_token_payload(handle.clone(), flag.clone())
            .await
            .unwrap()
    );
    let info = client
        .session_information(handle.clone())
        .await
        .unwrap()
        .expect("session information");
    assert_eq!(info.handle, handle);
    assert_eq!(info.user_id, "alice");
    assert_eq!(info.tenant_id, "public");
    assert_eq!(info.session_data, json!({"n": 2}));
    assert_eq!(info.user_data_in_jwt, flag);
    assert!(info.expiry_ms > info.time_created_ms);

    // By user, per tenant and across tenants.
    let other = client
        .create_session(new_session("t1", "alice"))
        .await
        .unwrap();
    assert_eq!(other.session.tenant_id, "t1");
    let mut all = client
        .session_handles_for_user("public".into(), "alice".into(), true)
        .await
        .unwrap();
    all.sort();
    let mut expected = vec![handle.clone(), other.session.handle.clone()];
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(
        client
            .session_handles_for_user("t1".into(), "alice".into(), false)
            .await
            .unwrap(),
        std::slice::from_ref(&other.session.handle)
    );
    assert_eq!(
        client
            .revoke_all_sessions_for_user("t1".into(), "alice".into(), false)
            .await
            .unwrap(),
        std::slice::from_ref(&other.session.handle)
    );
    assert_eq!(
        client.revoke_sessions(vec![handle.clone()]).await.unwrap(),
        std::slice::from_ref(&handle)
    );
    assert!(client.revoke_sessions(Vec::new()).await.unwrap().is_empty());

    // Gone.
    assert!(
        client
            .session_information(handle.clone())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !client
            .update_session_data(handle.clone(), json!({}))
            .await
            .unwrap()
    );
    assert!(
        !client
            .update_access_token_payload(handle.clone(), Map::new())
            .await
            .unwrap()
    );
    assert!(matches!(
        client
            .verify_session(verify(&promoted.token, true))
            .await
            .unwrap(),
        VerifyOutcome::Unauthorised
    ));
    assert!(matches!(
        client
            .refresh_session(refresh(&refreshed.refresh_token.token))
            .await
            .unwrap(),
        RefreshOutcome::Unauthorised(_)
    ));
    assert!(matches!(
        client
            .regenerate_access_token(promoted.token.clone(), Map::new())
            .await
            .unwrap(),
        RegenerateOutcome::Unauthorised
    ));

    // The core's own checks come back as BadRequest.
    let mut protected = new_session("public", "alice");
    protected
        .access_token_payload
        .insert("sub".into(), json!("mallory"));
    assert!(matches!(
        client.create_session(protected).await,
        Err(CoreError::BadRequest(_))
    ));

    let keys = client.key_source().fetch_keys().await.unwrap();
    assert!(!keys.keys.is_empty());
}

#[actix_web::test]
async fn anti_csrf_tokens_go_both_ways() {
    let (_dir, _core, server) = cdi_core();
    let client = with_key(&server.base);
    let mut new = new_session("public", "alice");
    new.enable_anti_csrf = true;
    let created = client.create_session(new).await.unwrap();
    let anti_csrf = created.anti_csrf_token.clone().expect("anti-CSRF token");
    let mut request = verify(&created.access_token.token, false);
    request.enable_anti_csrf = true;
    request.do_anti_csrf_check = true;
    assert!(matches!(
        client.verify_session(request.clone()).await.unwrap(),
        VerifyOutcome::TryRefreshToken
    ));
    request.anti_csrf_token = Some(anti_csrf.clone());
    assert!(matches!(
        client.verify_session(request).await.unwrap(),
        VerifyOutcome::Ok { .. }
    ));
    let mut refresh_request = refresh(&created.refresh_token.token);
    refresh_request.enable_anti_csrf = true;
    refresh_request.anti_csrf_token = Some(anti_csrf);
    assert!(matches!(
        client.refresh_session(refresh_request).await.unwrap(),
        RefreshOutcome::Ok(_)
    ));
}

#[actix_web::test]
async fn app_prefix_public_works_and_other_apps_are_a_config_error() {
    let (_dir, _core, server) = cdi_core();
    let client = with_key(&format!("{}/appid-public", server.base));
    client
        .create_session(new_session("public", "alice"))
        .await
        .unwrap();
    assert!(
        !client
            .key_source()
            .fetch_keys()
            .await
            .unwrap()
            .keys
            .is_empty()
    );

    let other = with_key(&format!("{}/appid-other", server.base));
    match other.create_session(new_session("public", "alice")).await {
        Err(CoreError::Internal(message)) => {
            assert!(
                message.contains("appId: other") && message.contains("connection URI"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[actix_web::test]
async fn a_wrong_api_key_is_a_clear_internal_error() {
    let (_dir, _core, server) = cdi_core();
    for client in [
        CoreClient::new(&server.base, Some("not-the-key-0123456789")).unwrap(),
        CoreClient::new(&server.base, None).unwrap(),
    ] {
        match client.create_session(new_session("public", "alice")).await {
            Err(CoreError::Internal(message)) => {
                assert!(message.contains("API key"), "{message}");
                assert!(!message.contains(API_KEY), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[actix_web::test]
async fn a_session_config_on_core_client_serves_routes_and_survives_an_outage() {
    let (_dir, _core, core_server) = cdi_core();
    let config = SessionConfig::builder()
        .supertokens_core(&core_server.base, Some(API_KEY))
        .unwrap()
        .build()
        .unwrap();
    let app = serve(Some(config), demo::routes);

    let session = login(&app, "alice", "header").await;
    let user = client()
        .get(app.url("/user"))
        .bearer_auth(&session.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 200);
    let refreshed = client()
        .post(app.url("/auth/session/refresh"))
        .bearer_auth(&session.refresh_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let access = header(&refreshed, "st-access-token").expect("new access token");
    let refresh_token = header(&refreshed, "st-refresh-token").expect("new refresh token");
    // First use after the refresh: verified (and promoted) by the core.
    let promoted = client()
        .get(app.url("/user"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(promoted.status(), 200);
    let access = header(&promoted, "st-access-token").expect("promoted access token");

    // The core goes away.
    core_server.stop().await;
    let user = client()
        .get(app.url("/user"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        user.status(),
        200,
        "fast-path verification uses the cached keys"
    );
    for response in [
        client()
            .post(app.url("/auth/session/refresh"))
            .bearer_auth(&refresh_token)
            .send()
            .await
            .unwrap(),
        client()
            .post(app.url("/login"))
            .header("st-auth-mode", "header")
            .json(&json!({"userId": "bob"}))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        assert!(
            !response.headers().contains_key("front-token"),
            "nobody is signed out"
        );
    }
}

/// What a stub core saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HashMap<String, String>,
    body: Value,
}

/// A stub answer: an optional delay, then a response.
struct Reply {
    delay: Duration,
    status: u16,
    content_type: &'static str,
    body: String,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        delay: Duration::ZERO,
        status,
        content_type: "application/json",
        body: body.to_string(),
    }
}

fn text(status: u16, body: &str) -> Reply {
    Reply {
        delay: Duration::ZERO,
        status,
        content_type: "text/plain",
        body: body.to_owned(),
    }
}

type Behaviour = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

/// A stub core answering every request with `behaviour(request, index)`; records requests.
struct Stub {
    server: Running,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    fn start(behaviour: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let behaviour: Behaviour = Arc::new(behaviour);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let server = start(move |cfg: &mut web::ServiceConfig| {
            let behaviour = Arc::clone(&behaviour);
            let recorded = Arc::clone(&recorded);
            cfg.default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let behaviour = Arc::clone(&behaviour);
                let recorded = Arc::clone(&recorded);
                async move {
                    let request = Seen {
                        method: req.method().to_string(),
                        path: req.path().to_owned(),
                        query: req.query_string().to_owned(),
                        headers: req
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect(),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    };
                    let index = {
                        let mut recorded = recorded.lock().unwrap();
                        recorded.push(request.clone());
                        recorded.len() - 1
                    };
                    let reply = behaviour(&request, index);
                    if !reply.delay.is_zero() {
                        actix_web::rt::time::sleep(reply.delay).await;
                    }
                    HttpResponse::build(
                        actix_web::http::StatusCode::from_u16(reply.status).unwrap(),
                    )
                    .content_type(reply.content_type)
                    .body(reply.body)
                }
            }));
        });
        Self { server, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn calls_to(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }
}

/// `{"versions":[…,"5.4"]}` for `/apiversion`, else `otherwise`.
fn cdi_54(
    otherwise: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
) -> impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static {
    move |seen, index| {
        if seen.path.ends_with("/apiversion") {
            reply(200, json!({"versions": ["2.21", "3.0", "5.3", "5.4"]}))
        } else {
            otherwise(seen, index)
        }
    }
}

fn token_info(token: &str) -> Value {
    json!({"token": token, "expiry": 4_102_444_800_000_u64, "createdTime": 1_700_000_000_000_u64})
}

/// A valid create / refresh answer.
fn created_answer() -> Value {
    json!({
        "status": "OK",
        "session": {
            "handle": "h-1", "userId": "u-1", "recipeUserId": "u-1",
            "userDataInJWT": {"custom": "x"}, "tenantId": "t 1"
        },
        "accessToken": token_info("at"),
        "refreshToken": token_info("rt"),
    })
}

#[actix_web::test]
async fn requests_carry_the_cdi_headers_paths_and_bodies() {
    let jwks = serde_json::to_value(&AppendixA::load().jwks).unwrap();
    let stub = Stub::start(cdi_54(move |seen, _| match seen.path.as_str() {
        "/.well-known/jwks.json" => reply(200, jwks.clone()),
        "/t%201/recipe/session" => reply(200, created_answer()),
        "/recipe/session/verify" => reply(
            200,
            json!({"status": "TRY_REFRESH_TOKEN", "message": "expired"}),
        ),
        "/recipe/session" => reply(200, json!({"status": "UNAUTHORISED", "message": "gone"})),
        "/recipe/session/data" | "/recipe/jwt/data" => reply(200, json!({"status": "OK"})),
        "/recipe/session/user" => reply(200, json!({"status": "OK", "sessionHandles": ["h-1"]})),
        _ => text(404, "Not Found"),
    }));
    let client = with_key(&stub.server.base);

    let created = client
        .create_session(new_session("t 1", "u-1"))
        .await
        .unwrap();
    assert_eq!(created.session.tenant_id, "t 1");
    assert_eq!(created.access_token.token, "at");
    assert!(matches!(
        client.verify_session(verify("at", false)).await.unwrap(),
        VerifyOutcome::TryRefreshToken
    ));
    assert!(
        client
            .session_information("h 1&x".into())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        client
            .update_session_data("h-1".into(), Value::Null)
            .await
            .unwrap()
    );
    assert!(
        client
            .update_access_token_payload("h-1".into(), Map::new())
            .await
            .unwrap()
    );
    assert_eq!(
        client
            .session_handles_for_user("t 1".into(), "u-1".into(), true)
            .await
            .unwrap(),
        ["h-1"]
    );
    assert_eq!(
        client.key_source().fetch_keys().await.unwrap().keys.len(),
        2
    );

    let seen = stub.seen();
    let by_path = |path: &str| {
        seen.iter()
            .find(|s| s.path == path)
            .unwrap_or_else(|| panic!("no call to {path}: {seen:#?}"))
    };
    // /apiversion: asked once, api key only.
    assert_eq!(stub.calls_to("/apiversion"), 1);
    let version = by_path("/apiversion");
    assert_eq!(
        version.headers.get("api-key").map(String::as_str),
        Some(API_KEY)
    );
    assert!(!version.headers.contains_key("cdi-version"));
    assert!(!version.headers.contains_key("rid"));
    // The JWKS is public.
    let keys = by_path("/.well-known/jwks.json");
    for header in ["api-key", "cdi-version", "rid"] {
        assert!(
            !keys.headers.contains_key(header),
            "{header} on the JWKS fetch"
        );
    }
    // Recipe calls: api key, CDI version, rid; JSON bodies as CDI 5.4.
    let create = by_path("/t%201/recipe/session");
    assert_eq!(create.method, "POST");
    assert_eq!(create.headers["api-key"], API_KEY);
    assert_eq!(create.headers["cdi-version"], "5.4");
    assert_eq!(create.headers["rid"], "session");
    assert_eq!(
        create.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        create.body,
        json!({
            "userId": "u-1",
            "userDataInJWT": {"custom": "x"},
            "userDataInDatabase": {"n": 1},
            "useDynamicSigningKey": true,
            "enableAntiCsrf": false,
        })
    );
    assert_eq!(
        by_path("/recipe/session/verify").body,
        json!({"accessToken": "at", "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": false}),
        "no antiCsrfToken key when there is none"
    );
    let info = by_path("/recipe/session");
    assert_eq!(info.method, "GET");
    assert_eq!(info.query, "sessionHandle=h+1%26x");
    assert!(!info.headers.contains_key("content-type"));
    let data = by_path("/recipe/session/data");
    assert_eq!(data.method, "PUT");
    assert_eq!(
        data.body,
        json!({"sessionHandle": "h-1", "userDataInDatabase": {}})
    );
    assert_eq!(data.headers["rid"], "session");
    assert_eq!(
        by_path("/recipe/jwt/data").body,
        json!({"sessionHandle": "h-1", "userDataInJWT": {}})
    );
    assert_eq!(
        by_path("/recipe/session/user").query,
        "userId=u-1&fetchSessionsForAllLinkedAccounts=true&fetchAcrossAllTenants=true"
    );
}

#[actix_web::test]
async fn a_core_that_is_down_is_skipped_for_the_next_one() {
    let (_dir, _core, server) = cdi_core();
    let down = format!("http://127.0.0.1:{}", closed_port());
    let client = with_key(&format!("{down};{}", server.base));
    // Round robin starts every call at the next core: half of these start at the dead one.
    for user in ["a", "b", "c", "d"] {
        client
            .create_session(new_session("public", user))
            .await
            .unwrap();
    }
    assert!(
        !client
            .key_source()
            .fetch_keys()
            .await
            .unwrap()
            .keys
            .is_empty()
    );

    let dead = with_key(&format!("{down};http://127.0.0.1:{}", closed_port()));
    match dead.create_session(new_session("public", "a")).await {
        Err(CoreError::Unavailable(message)) => {
            assert!(
                message.contains("no SuperTokens core reachable"),
                "{message}"
            );
            assert!(!message.contains(API_KEY));
        }
        other => panic!("{other:?}"),
    }
    assert!(dead.key_source().fetch_keys().await.is_err());
}

#[actix_web::test]
async fn a_slow_core_times_out_within_the_bound() {
    let stub = Stub::start(|_, _| Reply {
        delay: Duration::from_secs(10),
        ..reply(200, json!({"versions": ["5.4"]}))
    });
    let client = CoreClient::builder(&stub.server.base)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    match client.create_session(new_session("public", "a")).await {
        Err(CoreError::Unavailable(message)) => {
            assert!(message.contains("did not answer"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // A timeout is not failed over (the core may have acted): one request only.
    assert_eq!(stub.seen().len(), 1);
}

#[actix_web::test]
async fn server_errors_and_malformed_answers_are_unavailable() {
    let stub = Stub::start(cdi_54(|seen, _| match seen.path.as_str() {
        "/public/recipe/session" => text(500, "Internal Error"),
        "/t1/recipe/session" => text(503, "Service Unavailable"),
        "/t2/recipe/session" => reply(200, json!({"status": "OK"})),
        "/t3/recipe/session" => reply(200, json!({"status": "SOMETHING_NEW"})),
        "/t4/recipe/session" => text(400, "Field name 'userId' is invalid in JSON input"),
        _ => Reply {
            content_type: "application/json",
            ..text(200, "{\"status\": \"OK\", \"accessToken\": eyJhbGciOi")
        },
    }));
    let client = with_key(&stub.server.base);
    let create = |tenant: &'static str| client.create_session(new_session(tenant, "u"));
    assert!(matches!(create("public").await, Err(CoreError::Unavailable(m)) if m.contains("500")));
    assert!(matches!(create("t1").await, Err(CoreError::Unavailable(m)) if m.contains("503")));
    assert!(
        matches!(create("t2").await, Err(CoreError::Unavailable(m)) if m.contains("`session` is missing"))
    );
    assert!(
        matches!(create("t3").await, Err(CoreError::Internal(m)) if m.contains("SOMETHING_NEW"))
    );
    assert!(
        matches!(create("t4").await, Err(CoreError::BadRequest(m)) if m.contains("Field name 'userId'"))
    );
    match client.verify_session(verify("at", false)).await {
        Err(CoreError::Unavailable(message)) => {
            assert!(message.contains("malformed"), "{message}");
            assert!(!message.contains("eyJ"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // The JWKS: a broken answer is a key-source error (the cache keeps its keys).
    assert!(client.key_source().fetch_keys().await.is_err());
}

#[actix_web::test]
async fn an_incompatible_core_is_refused_once_with_one_clear_error() {
    let stub = Stub::start(|seen, _| {
        if seen.path == "/apiversion" {
            reply(200, json!({"versions": ["2.21", "3.0", "5.3"]}))
        } else {
            reply(200, created_answer())
        }
    });
    let client = with_key(&stub.server.base);
    let mut messages = Vec::new();
    for _ in 0..3 {
        match client.create_session(new_session("public", "a")).await {
            Err(CoreError::Internal(message)) => messages.push(message),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        messages[0].contains("5.4") && messages[0].contains("\"5.3\""),
        "{}",
        messages[0]
    );
    assert!(messages.iter().all(|m| *m == messages[0]));
    assert!(matches!(
        client.revoke_sessions(vec!["h".into()]).await,
        Err(CoreError::Internal(_))
    ));
    // Asked once; nothing else was sent.
    let seen = stub.seen();
    assert_eq!(seen.len(), 1, "{seen:#?}");
}

#[actix_web::test]
async fn an_unreachable_core_is_asked_for_its_version_again_later() {
    let port = closed_port();
    let client = with_key(&format!("http://127.0.0.1:{port}"));
    assert!(matches!(
        client.create_session(new_session("public", "a")).await,
        Err(CoreError::Unavailable(_))
    ));
    // The core comes up on that port: the client recovers without a restart.
    let (_dir, config) = embedded_config(|builder| builder);
    let configure = cdi::configure(Arc::clone(config.core()), Some(API_KEY.to_owned()));
    let server = HttpServer::new(move || App::new().configure(configure.clone()))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", port))
        .expect("rebind the port")
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    client
        .create_session(new_session("public", "a"))
        .await
        .unwrap();
    handle.stop(false).await;
}

#[actix_web::test]
async fn rate_limited_calls_are_retried_on_the_same_core_then_given_up() {
    let stub = Stub::start(cdi_54(|seen, _| match seen.path.as_str() {
        "/recipe/session/remove" => text(429, "Too Many Requests"),
        _ => text(404, "Not Found"),
    }));
    let client = CoreClient::builder(&stub.server.base)
        .api_key(API_KEY)
        .rate_limit_retries(2)
        .build()
        .unwrap();
    let started = Instant::now();
    assert!(matches!(
        client.revoke_sessions(vec!["h".into()]).await,
        Err(CoreError::Unavailable(m)) if m.contains("429")
    ));
    assert_eq!(stub.calls_to("/recipe/session/remove"), 3);
    assert!(started.elapsed() < Duration::from_secs(3));

    // Two 429s, then an answer.
    let stub = Stub::start(cdi_54(|_, index| {
        // index 0 is /apiversion
        if index <= 2 {
            text(429, "Too Many Requests")
        } else {
            reply(200, json!({"status": "OK", "sessionHandlesRevoked": ["h"]}))
        }
    }));
    let client = with_key(&stub.server.base);
    assert_eq!(
        client.revoke_sessions(vec!["h".into()]).await.unwrap(),
        ["h"]
    );
    assert_eq!(stub.calls_to("/recipe/session/remove"), 3);
}

#[actix_web::test]
async fn the_jwks_comes_from_the_first_core_that_has_it() {
    let failing = Stub::start(|_, _| text(500, "Internal Error"));
    let jwks = serde_json::to_value(&AppendixA::load().jwks).unwrap();
    let good = Stub::start(move |_, _| reply(200, jwks.clone()));
    let client = with_key(&format!("{};{}", failing.server.base, good.server.base));
    let keys = client.key_source().fetch_keys().await.unwrap();
    assert_eq!(keys.keys.len(), 2);
    assert_eq!(failing.seen().len(), 1);
    for seen in failing.seen().iter().chain(good.seen().iter()) {
        assert_eq!(seen.path, "/.well-known/jwks.json");
        assert!(!seen.headers.contains_key("api-key"));
    }
}
