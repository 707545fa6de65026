//! `cdi::configure` over raw HTTP: the api key, the core's 400/401/404/405 answers byte for
//! byte, the exact CDI 5.4 JSON shapes supertokens-node reads, and the older CDI versions
//! (2.7 to 5.5) with the access-token version each implies (`cdi_legacy.rs`: the versions
//! before 2.21 in detail).

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
    assert_eq!(get(vec![]).await, (401, "Invalid API key\n".to_owned()));
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
            (200, format!("{}\n", json!({"versions": cdi::CDI_VERSIONS}))),
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
    assert_eq!((status, body.as_str()), (200, "Hello\n"));
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
        assert_eq!(
            (status, text),
            (400, format!("{message}\n")),
            "{path} {body:?}"
        );
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
        (400, "cdi-version 9.9 not supported\n")
    );
    let (status, _, text) = send(
        &server,
        reqwest::Method::POST,
        "/t%201/recipe/session",
        &[KEY],
        Some(&create_body("u").to_string()),
    )
    .await;
    assert_eq!((status, text.as_str()), (400, "Invalid tenantId\n"));
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
        (
            400,
            "AppId or tenantId not found => appId: a1, tenantId: public\n"
        )
    );
    let (status, _, text) = send(
        &server,
        reqwest::Method::POST,
        "/appid-A1/t1/recipe/session",
        &[KEY, CDI],
        Some(&create_body("u").to_string()),
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (
            400,
            "AppId or tenantId not found => appId: a1, tenantId: t1\n"
        )
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
    // App-level endpoints know only the public tenant, as a core without multitenancy.
    let tenant_not_found = "AppId or tenantId not found => appId: public, tenantId: t1\n";
    let (status, _, text) = send(
        &server,
        reqwest::Method::POST,
        "/t1/recipe/session/verify",
        &[KEY, CDI],
        Some(r#"{"accessToken":"x","doAntiCsrfCheck":false,"enableAntiCsrf":false,"checkDatabase":false}"#),
    )
    .await;
    assert_eq!((status, text.as_str()), (400, tenant_not_found));
    let (status, _, text) = send(
        &server,
        reqwest::Method::GET,
        "/t1/recipe/session?sessionHandle=h",
        &[KEY, CDI],
        None,
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (400, tenant_not_found),
        "session information is app-level"
    );
    let (status, _, text) = send(
        &server,
        reqwest::Method::GET,
        "/recipe/session/verify",
        &[KEY, CDI],
        None,
    )
    .await;
    assert_eq!((status, text.as_str()), (405, "Method not supported\n"));
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
        json!({"accessToken": format!("{access}x"), "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": false}),
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
        json!({"accessToken": refreshed["accessToken"]["token"], "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": false}),
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

/// A CDI call with `cdi-version: version` (none when `None`): status and body.
async fn call(
    server: &Running,
    method: reqwest::Method,
    path: &str,
    version: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    let mut headers = vec![KEY];
    if let Some(version) = version {
        headers.push(("cdi-version", version));
    }
    let body = body.map(|body| body.to_string());
    let (status, _, text) = send(server, method, path, &headers, body.as_deref()).await;
    (status, text)
}

async fn call_json(
    server: &Running,
    method: reqwest::Method,
    path: &str,
    version: Option<&str>,
    body: Option<Value>,
) -> Value {
    let (status, text) = call(server, method, path, version, body).await;
    assert_eq!(status, 200, "{version:?} {path}: {text}");
    assert!(text.ends_with('\n'), "JSON answers end with a newline");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["status"], "OK", "{version:?} {path}: {text}");
    answer
}

/// The `version` of an access token's header (base64url for v3+, padded standard base64 for
/// v2).
fn token_version(token: &Value) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let token = token["token"].as_str().unwrap();
    let header = token.split('.').next().unwrap();
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .or_else(|_| STANDARD.decode(header))
        .unwrap();
    let header: Value = serde_json::from_slice(&bytes).unwrap();
    header["version"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn each_cdi_version_family_gets_its_shapes_and_token_version() {
    let (_dir, _core, server) = cdi_core();
    let post = reqwest::Method::POST;
    // (cdi-version, token version, session fields)
    let v2_21 = &["handle", "userDataInJWT", "userId"][..];
    let v3 = &["handle", "tenantId", "userDataInJWT", "userId"][..];
    let v4 = &[
        "handle",
        "recipeUserId",
        "tenantId",
        "userDataInJWT",
        "userId",
    ][..];
    for (version, minted, fields) in [
        (Some("2.7"), "2", v2_21),
        (Some("2.9"), "2", v2_21),
        (Some("2.20"), "2", v2_21),
        (Some("2.21"), "3", v2_21),
        (Some("3.0"), "4", v3),
        (Some("3.1"), "4", v3),
        (Some("4.0"), "5", v4),
        (Some("5.0"), "5", v4),
        (Some("5.4"), "5", v4),
        (Some("5.5"), "5", v4),
        (None, "5", v4),
    ] {
        let at = |what: &str| format!("{version:?} {what}");
        let created = call_json(
            &server,
            post.clone(),
            "/recipe/session",
            version,
            Some(create_body("alice")),
        )
        .await;
        assert_eq!(keys(&created["session"]), fields, "{}", at("create"));
        assert_eq!(
            token_version(&created["accessToken"]),
            minted,
            "{}",
            at("create")
        );

        let verify = |token: &Value| json!({"accessToken": token["token"], "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": true});
        let verified = call_json(
            &server,
            post.clone(),
            "/recipe/session/verify",
            version,
            Some(verify(&created["accessToken"])),
        )
        .await;
        assert_eq!(keys(&verified["session"]), fields, "{}", at("verify"));

        // Before CDI 5.0 the key type may be left out of a refresh.
        let mut refresh =
            json!({"refreshToken": created["refreshToken"]["token"], "enableAntiCsrf": false});
        if version.is_none_or(|v| v.starts_with('5')) {
            let (status, text) = call(
                &server,
                post.clone(),
                "/recipe/session/refresh",
                version,
                Some(refresh.clone()),
            )
            .await;
            assert_eq!(
                (status, text.as_str()),
                (
                    400,
                    "Field name 'useDynamicSigningKey' is invalid in JSON input\n"
                ),
                "{}",
                at("refresh")
            );
            refresh["useDynamicSigningKey"] = json!(true);
        }
        let refreshed = call_json(
            &server,
            post.clone(),
            "/recipe/session/refresh",
            version,
            Some(refresh),
        )
        .await;
        assert_eq!(keys(&refreshed["session"]), fields, "{}", at("refresh"));
        assert_eq!(
            token_version(&refreshed["accessToken"]),
            minted,
            "{}",
            at("refresh")
        );

        // The first use of the refreshed token promotes it: a new token of the same version.
        let promoted = call_json(
            &server,
            post.clone(),
            "/recipe/session/verify",
            version,
            Some(verify(&refreshed["accessToken"])),
        )
        .await;
        assert_eq!(
            token_version(&promoted["accessToken"]),
            minted,
            "{}",
            at("promotion")
        );

        let regenerated = call_json(
            &server,
            post.clone(),
            "/recipe/session/regenerate",
            version,
            Some(json!({"accessToken": promoted["accessToken"]["token"], "userDataInJWT": {"custom": "y"}})),
        )
        .await;
        assert_eq!(
            keys(&regenerated["session"]),
            fields,
            "{}",
            at("regenerate")
        );
        assert_eq!(
            token_version(&regenerated["accessToken"]),
            minted,
            "{}",
            at("regenerate")
        );

        let handle = created["session"]["handle"].as_str().unwrap();
        let info = call_json(
            &server,
            reqwest::Method::GET,
            &format!("/recipe/session?sessionHandle={handle}"),
            version,
            None,
        )
        .await;
        let info_fields: Vec<&str> = keys(&info)
            .into_iter()
            .filter(|key| ["recipeUserId", "tenantId"].contains(key))
            .collect();
        let expected: Vec<&str> = fields
            .iter()
            .copied()
            .filter(|key| ["recipeUserId", "tenantId"].contains(key))
            .collect();
        assert_eq!(info_fields, expected, "{}", at("session information"));
    }
}

#[actix_web::test]
async fn versions_are_checked_and_answered_as_the_core_does() {
    let (_dir, _core, server) = cdi_core();
    let get = reqwest::Method::GET;
    let versions = call_json_any(&server, "/apiversion", None).await;
    assert_eq!(
        versions,
        format!(
            "{{\"versions\":[{}]}}\n",
            [
                "2.7", "2.8", "2.9", "2.10", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16",
                "2.17", "2.18", "2.19", "2.20", "2.21", "3.0", "3.1", "4.0", "5.0", "5.1", "5.2",
                "5.3", "5.4", "5.5"
            ]
            .map(|v| format!("\"{v}\""))
            .join(",")
        )
    );
    for (path, version, status, text) in [
        // Too new, or malformed: refused everywhere, even by the version query.
        ("/apiversion", "5.6", 400, "cdi-version 5.6 not supported\n"),
        ("/hello", "x", 400, "cdi-version header is invalid\n"),
        (
            "/recipe/session/user?userId=u",
            "5.4-beta",
            400,
            "cdi-version header is invalid\n",
        ),
        // Older than 2.7, or not exactly a served version: refused by the session endpoints.
        (
            "/recipe/session/user?userId=u",
            "2.6",
            400,
            "cdi-version 2.6 not supported\n",
        ),
        (
            "/recipe/session/user?userId=u",
            "2.20.0",
            400,
            "cdi-version 2.20.0 not supported\n",
        ),
        ("/recipe/session/user?userId=u", "2.20", 200, ""),
        (
            "/recipe/session/user?userId=u",
            "5.4.0",
            400,
            "cdi-version 5.4.0 not supported\n",
        ),
        ("/apiversion", "2.6", 200, ""),
        // Tenants came with CDI 3.0.
        (
            "/t1/recipe/session/user?userId=u",
            "2.20",
            404,
            "Not found\n",
        ),
        (
            "/t1/recipe/session/user?userId=u",
            "2.21",
            404,
            "Not found\n",
        ),
        (
            "/t1/recipe/session/user?userId=u&fetchAcrossAllTenants=false",
            "3.0",
            200,
            "",
        ),
    ] {
        let (got_status, got_text) = call(&server, get.clone(), path, Some(version), None).await;
        assert_eq!(got_status, status, "{path} {version}: {got_text}");
        if status != 200 {
            assert_eq!(got_text, text, "{path} {version}");
        }
    }
}

async fn call_json_any(server: &Running, path: &str, version: Option<&str>) -> String {
    let (status, text) = call(server, reqwest::Method::GET, path, version, None).await;
    assert_eq!(status, 200, "{path}: {text}");
    text
}

#[actix_web::test]
async fn regenerate_without_a_payload_signs_the_stored_one_again() {
    let (_dir, _core, server) = cdi_core();
    let post = reqwest::Method::POST;
    let created = call_json(
        &server,
        post.clone(),
        "/recipe/session",
        Some("5.4"),
        Some(create_body("alice")),
    )
    .await;
    let handle = created["session"]["handle"].clone();
    call_json(
        &server,
        reqwest::Method::PUT,
        "/recipe/jwt/data",
        Some("5.4"),
        Some(json!({"sessionHandle": handle, "userDataInJWT": {"stored": 2}})),
    )
    .await;
    let regenerated = call_json(
        &server,
        post.clone(),
        "/recipe/session/regenerate",
        Some("5.4"),
        Some(json!({"accessToken": created["accessToken"]["token"]})),
    )
    .await;
    assert_eq!(
        regenerated["session"]["userDataInJWT"],
        json!({"stored": 2})
    );
    // A token that names no session: the core's UNAUTHORISED.
    let (status, text) = call(
        &server,
        post.clone(),
        "/recipe/session/regenerate",
        Some("5.4"),
        Some(json!({"accessToken": "not.a.token"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["status"],
        "UNAUTHORISED"
    );
    // The liveness check answers the methods the core's does.
    for method in [post, reqwest::Method::PUT, reqwest::Method::DELETE] {
        let (status, _, text) = send(&server, method.clone(), "/hello", &[], None).await;
        assert_eq!((status, text.as_str()), (200, "Hello\n"), "{method}");
    }
}
