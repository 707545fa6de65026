//! `cdi::configure` over raw HTTP: the api key, the core's 400/401/404/405 answers,
//! and the exact CDI 5.4 JSON shapes supertokens-node reads.

use actix_web::{HttpResponse, get, web};
use serde_json::{Value, json};
use sessionward::cdi;
use sessionward_tests::{client, embedded_config};

use crate::core_client::{API_KEY, Running, cdi_core, start};

async fn send(
    server: &Running,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String, String) {
    let mut request = client().request(method, format!("{}{path}", server.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

const KEY: (&str, &str) = ("api-key", API_KEY);
const CDI: (&str, &str) = ("cdi-version", "5.4");

async fn post(server: &Running, path: &str, body: Value) -> Value {
    let (status, _, text) = send(
        server,
        reqwest::Method::POST,
        path,
        &[KEY, CDI, ("rid", "session")],
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn get_json(server: &Running, path: &str) -> Value {
    let (status, _, text) = send(server, reqwest::Method::GET, path, &[KEY, CDI], None).await;
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

fn create_body(user: &str) -> Value {
    json!({
        "userId": user,
        "userDataInJWT": {"custom": "x"},
        "userDataInDatabase": {"n": 1},
        "enableAntiCsrf": false,
        "useDynamicSigningKey": true,
    })
}

#[actix_web::test]
async fn the_api_key_is_required_except_on_public_endpoints() {
    let (_dir, _core, server) = cdi_core();
    let get = |headers: Vec<(&'static str, String)>| {
        let base = server.base.clone();
        async move {
            let mut request = client().get(format!("{base}/apiversion"));
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(get(vec![]).await, (401, "Invalid API key".to_owned()));
    assert_eq!(get(vec![("api-key", "wrong-key".into())]).await.0, 401);
    assert_eq!(
        get(vec![("authorization", "Bearer wrong".into())]).await.0,
        401
    );
    for headers in [
        vec![("api-key", API_KEY.to_owned())],
        vec![("authorization", format!("Bearer {API_KEY}"))],
        vec![("authorization", format!("bearer {API_KEY}"))],
        vec![("authorization", API_KEY.to_owned())],
    ] {
        assert_eq!(
            get(headers.clone()).await,
            (200, r#"{"versions":["5.4"]}"#.to_owned()),
            "{headers:?}"
        );
    }
    // Public: the JWKS and the health check.
    let (status, content_type, body) = send(
        &server,
        reqwest::Method::GET,
        "/.well-known/jwks.json",
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    let jwks: Value = serde_json::from_str(&body).unwrap();
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!(keys(key), ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(
            (
                key["kty"].as_str(),
                key["alg"].as_str(),
                key["use"].as_str()
            ),
            (Some("RSA"), Some("RS256"), Some("sig"))
        );
    }
    let (status, _, body) = send(&server, reqwest::Method::GET, "/hello", &[], None).await;
    assert_eq!((status, body.as_str()), (200, "Hello"));
    // Readiness: public, and the embedded core's store answers.
    let (status, content_type, body) =
        send(&server, reqwest::Method::GET, "/ready", &[], None).await;
    assert_eq!((status, body.as_str()), (200, "Ready"));
    assert!(content_type.starts_with("text/plain"));
    let (status, _, _) = send(&server, reqwest::Method::POST, "/ready", &[], Some("{}")).await;
    assert_eq!(status, 405);
    // The deprecated JWKS needs the key.
    let (status, _, _) = send(&server, reqwest::Method::GET, "/recipe/jwt/jwks", &[], None).await;
    assert_eq!(status, 401);
    let deprecated = get_json(&server, "/recipe/jwt/jwks").await;
    assert_eq!(deprecated["status"], "OK");
    assert_eq!(deprecated["keys"], jwks["keys"]);
}

#[actix_web::test]
async fn several_keys_rotate_and_no_key_means_open() {
    let (_dir, config) = embedded_config(|builder| builder);
    let two = start(cdi::configure(
        config.core().clone(),
        Some(format!("{API_KEY}, second-key-0123456789abc")),
    ));
    for key in [API_KEY, "second-key-0123456789abc"] {
        let (status, _, _) = send(
            &two,
            reqwest::Method::GET,
            "/apiversion",
            &[("api-key", key)],
            None,
        )
        .await;
        assert_eq!(status, 200, "{key}");
    }
    let open = start(cdi::configure(config.core().clone(), None));
    let (status, _, _) = send(&open, reqwest::Method::GET, "/apiversion", &[], None).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn client_mistakes_are_400_text_never_500() {
    let (_dir, _core, server) = cdi_core();
    let cases: &[(&str, &str, Option<&str>, &str)] = &[
        (
            "POST",
            "/recipe/session",
            Some("not json"),
            "Invalid Json Input",
        ),
        ("POST", "/recipe/session", Some("[1]"), "Invalid Json Input"),
        (
            "POST",
            "/recipe/session",
            Some("{}"),
            "Field name 'userId' is invalid in JSON input",
        ),
        (
            "POST",
            "/recipe/session",
            Some(
                r#"{"userId":"u","userDataInJWT":[],"userDataInDatabase":{},"enableAntiCsrf":false}"#,
            ),
            "Field name 'userDataInJWT' is invalid in JSON input",
        ),
        (
            "POST",
            "/recipe/session",
            Some(
                r#"{"userId":"u","userDataInJWT":{},"userDataInDatabase":{},"enableAntiCsrf":"no"}"#,
            ),
            "Field name 'enableAntiCsrf' is invalid in JSON input",
        ),
        (
            "POST",
            "/recipe/session/verify",
            Some(r#"{"accessToken":"x","enableAntiCsrf":false}"#),
            "Field name 'doAntiCsrfCheck' is invalid in JSON input",
        ),
        (
            "POST",
            "/recipe/session/refresh",
            Some(r#"{"refreshToken":"x","enableAntiCsrf":false}"#),
            "Field name 'useDynamicSigningKey' is invalid in JSON input",
        ),
        (
            "POST",
            "/recipe/session/remove",
            Some("{}"),
            "Invalid JSON input - use one of userId or sessionHandles array",
        ),
        (
            "POST",
            "/recipe/session/remove",
            Some(r#"{"sessionHandles":[1]}"#),
            "Field name 'sessionHandles' is invalid in JSON input",
        ),
        (
            "POST",
            "/t1/recipe/session/remove",
            Some(r#"{"userId":"u"}"#),
            "revokeAcrossAllTenants can be true only on the public tenant; set it to false for tenant t1",
        ),
        (
            "GET",
            "/recipe/session",
            None,
            "Field name 'sessionHandle' is missing in GET request",
        ),
        (
            "GET",
            "/recipe/session/user",
            None,
            "Field name 'userId' is missing in GET request",
        ),
        (
            "GET",
            "/recipe/session/user?userId=u&fetchAcrossAllTenants=yes",
            None,
            "Field name 'fetchAcrossAllTenants' must be true or false",
        ),
        (
            "GET",
            "/user/id",
            None,
            "Field name 'userId' is missing in GET request",
        ),
        (
            "PUT",
            "/recipe/session/data",
            Some(r#"{"sessionHandle":"h","userDataInDatabase":"x"}"#),
            "Field name 'userDataInDatabase' is invalid in JSON input",
        ),
        (
            "POST",
            "/recipe/session",
            Some(
                r#"{"userId":"u","userDataInJWT":{"sub":"x"},"userDataInDatabase":{},"enableAntiCsrf":false}"#,
            ),
            "the access token payload may not contain the protected field `sub`",
        ),
    ];
    for (method, path, body, message) in cases {
        let method: reqwest::Method = method.parse().unwrap();
        let (status, content_type, text) = send(&server, method, path, &[KEY, CDI], *body).await;
        assert_eq!((status, text.as_str()), (400, *message), "{path} {body:?}");
        assert_eq!(content_type, "text/plain; charset=utf-8");
    }

    let (status, _, text) = send(
        &server,
        reqwest::Method::GET,
        "/recipe/session?sessionHandle=h",
        &[KEY, ("cdi-version", "9.9")],
        None,
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (400, "cdi-version 9.9 not supported")
    );
    let (status, _, text) = send(
        &server,
        reqwest::Method::POST,
        "/t%201/recipe/session",
        &[KEY],
        Some(&create_body("u").to_string()),
    )
    .await;
    assert_eq!((status, text.as_str()), (400, "Invalid tenantId"));
}

#[actix_web::test]
async fn unknown_apps_paths_and_methods() {
    let (_dir, _core, server) = cdi_core();
    let (status, _, text) = send(
        &server,
        reqwest::Method::GET,
        "/appid-a1/apiversion",
        &[KEY],
        None,
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (404, "AppId or tenantId not found => appid-a1")
    );
    let (status, _, _) = send(
        &server,
        reqwest::Method::GET,
        "/appid-public/apiversion",
        &[KEY],
        None,
    )
    .await;
    assert_eq!(status, 200);
    // App-level endpoints take no tenant but public.
    let (status, _, _) = send(
        &server,
        reqwest::Method::POST,
        "/t1/recipe/session/verify",
        &[KEY, CDI],
        Some(r#"{"accessToken":"x","doAntiCsrfCheck":false,"enableAntiCsrf":false}"#),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = send(
        &server,
        reqwest::Method::GET,
        "/t1/recipe/session?sessionHandle=h",
        &[KEY, CDI],
        None,
    )
    .await;
    assert_eq!(status, 404, "session information is app-level");
    let (status, _, text) = send(
        &server,
        reqwest::Method::GET,
        "/recipe/session/verify",
        &[KEY, CDI],
        None,
    )
    .await;
    assert_eq!((status, text.as_str()), (405, "Method not supported"));
    let (status, _, _) = send(&server, reqwest::Method::GET, "/no/such/path", &[KEY], None).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn other_routes_of_the_app_still_answer() {
    #[get("/login")]
    async fn login() -> HttpResponse {
        HttpResponse::Ok().body("app route")
    }
    let (_dir, config) = embedded_config(|builder| builder);
    let configure = cdi::configure(config.core().clone(), Some(API_KEY.to_owned()));
    let server = start(move |cfg: &mut web::ServiceConfig| {
        configure(cfg);
        cfg.service(login);
    });
    let (status, _, text) = send(&server, reqwest::Method::GET, "/login", &[], None).await;
    assert_eq!((status, text.as_str()), (200, "app route"));
    let (status, _, _) = send(&server, reqwest::Method::GET, "/apiversion", &[KEY], None).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn answers_have_the_cdi_5_4_shapes() {
    let (_dir, _core, server) = cdi_core();

    let created = post(&server, "/public/recipe/session", create_body("alice")).await;
    assert_eq!(
        keys(&created),
        ["accessToken", "refreshToken", "session", "status"]
    );
    assert_eq!(created["status"], "OK");
    assert_eq!(
        keys(&created["session"]),
        [
            "handle",
            "recipeUserId",
            "tenantId",
            "userDataInJWT",
            "userId"
        ]
    );
    assert_eq!(created["session"]["userDataInJWT"], json!({"custom": "x"}));
    for token in ["accessToken", "refreshToken"] {
        assert_eq!(keys(&created[token]), ["createdTime", "expiry", "token"]);
        assert!(
            created[token]["expiry"].as_u64().unwrap()
                > created[token]["createdTime"].as_u64().unwrap()
        );
    }
    let handle = created["session"]["handle"].as_str().unwrap().to_owned();
    let access = created["accessToken"]["token"].as_str().unwrap().to_owned();
    let refresh = created["refreshToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // App-level create (tenant public) and anti-CSRF.
    let mut body = create_body("bob");
    body["enableAntiCsrf"] = json!(true);
    let with_csrf = post(&server, "/recipe/session", body).await;
    assert_eq!(with_csrf["session"]["tenantId"], "public");
    assert!(with_csrf["antiCsrfToken"].is_string());

    let verified = post(
        &server,
        "/recipe/session/verify",
        json!({"accessToken": access, "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": true}),
    )
    .await;
    assert_eq!(keys(&verified), ["session", "status"]);
    let try_refresh = post(
        &server,
        "/recipe/session/verify",
        json!({"accessToken": format!("{access}x"), "doAntiCsrfCheck": false, "enableAntiCsrf": false}),
    )
    .await;
    assert_eq!(try_refresh["status"], "TRY_REFRESH_TOKEN");
    assert!(try_refresh["message"].is_string());

    let refreshed = post(
        &server,
        "/recipe/session/refresh",
        json!({"refreshToken": refresh, "enableAntiCsrf": false, "useDynamicSigningKey": true}),
    )
    .await;
    assert_eq!(
        keys(&refreshed),
        ["accessToken", "refreshToken", "session", "status"]
    );
    let promoted = post(
        &server,
        "/recipe/session/verify",
        json!({"accessToken": refreshed["accessToken"]["token"], "doAntiCsrfCheck": false, "enableAntiCsrf": false}),
    )
    .await;
    assert_eq!(keys(&promoted), ["accessToken", "session", "status"]);
    let theft = post(
        &server,
        "/recipe/session/refresh",
        json!({"refreshToken": refresh, "enableAntiCsrf": false, "useDynamicSigningKey": true}),
    )
    .await;
    assert_eq!(
        theft,
        json!({"status": "TOKEN_THEFT_DETECTED", "session": {"handle": handle, "userId": "alice", "recipeUserId": "alice"}})
    );

    let created = post(&server, "/public/recipe/session", create_body("carol")).await;
    let handle = created["session"]["handle"].as_str().unwrap().to_owned();
    let regenerated = post(
        &server,
        "/recipe/session/regenerate",
        json!({"accessToken": created["accessToken"]["token"], "userDataInJWT": {"role": "admin"}}),
    )
    .await;
    assert_eq!(keys(&regenerated), ["accessToken", "session", "status"]);
    assert_eq!(
        regenerated["session"]["userDataInJWT"],
        json!({"role": "admin"})
    );

    let info = get_json(&server, &format!("/recipe/session?sessionHandle={handle}")).await;
    assert_eq!(
        keys(&info),
        [
            "expiry",
            "recipeUserId",
            "sessionHandle",
            "status",
            "tenantId",
            "timeCreated",
            "userDataInDatabase",
            "userDataInJWT",
            "userId"
        ]
    );
    assert_eq!(info["userDataInDatabase"], json!({"n": 1}));
    assert_eq!(
        get_json(
            &server,
            &format!("/recipe/session/data?sessionHandle={handle}")
        )
        .await,
        json!({"status": "OK", "userDataInDatabase": {"n": 1}})
    );
    assert_eq!(
        get_json(&server, &format!("/recipe/jwt/data?sessionHandle={handle}")).await,
        json!({"status": "OK", "userDataInJWT": {"role": "admin"}})
    );
    assert_eq!(
        get_json(
            &server,
            "/public/recipe/session/user?userId=carol&fetchAcrossAllTenants=false"
        )
        .await,
        json!({"status": "OK", "sessionHandles": [handle]})
    );
    assert_eq!(
        get_json(&server, "/user/id?userId=carol").await,
        json!({"status": "UNKNOWN_USER_ID_ERROR"})
    );
    assert_eq!(
        post(
            &server,
            "/recipe/session/remove",
            json!({"sessionHandles": [handle, "nope"]})
        )
        .await,
        json!({"status": "OK", "sessionHandlesRevoked": [handle]})
    );
    let missing = get_json(&server, &format!("/recipe/session?sessionHandle={handle}")).await;
    assert_eq!(missing["status"], "UNAUTHORISED");
    assert!(missing["message"].is_string());
    let (_, _, text) = send(
        &server,
        reqwest::Method::PUT,
        "/recipe/jwt/data",
        &[KEY, CDI],
        Some(&json!({"sessionHandle": handle, "userDataInJWT": {}}).to_string()),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["status"],
        "UNAUTHORISED"
    );
}
