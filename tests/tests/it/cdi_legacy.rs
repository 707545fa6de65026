//! The CDI versions before 2.21 over raw HTTP, on both stores: the handshake, v2 access tokens
//! signed with the legacy key (verified here as an old SDK verifies them), the legacy key
//! fields of each version, the whole session cycle on CDI 2.20, 2.9 and 2.7, and forged v2
//! tokens.

use std::time::Duration;

use aws_lc_rs::signature::{self, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sessionward::cdi;
use sessionward_tests::{Store, TestStore, client, on_both_stores};

use crate::core_client::{API_KEY, Running, start};
use crate::support::Signer;

on_both_stores!(
    the_handshake_has_the_shape_of_each_version,
    a_v2_session_lives_through_create_verify_refresh_regenerate_and_revoke,
    forged_and_tampered_v2_tokens_are_refused,
    instances_on_one_store_agree_on_the_legacy_key,
);

/// The v2 header segment (`{"alg":"RS256","typ":"JWT","version":"2"}`, standard base64).
const V2_HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsInZlcnNpb24iOiIyIn0=";

const ACCESS_VALIDITY: Duration = Duration::from_secs(900);
const REFRESH_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A CDI server over a new instance of the core on `store`.
fn serve_cdi(store: &TestStore) -> (sessionward::SessionConfig, Running) {
    let config = store.config(|builder| {
        builder
            .access_token_validity(ACCESS_VALIDITY)
            .refresh_token_validity(REFRESH_VALIDITY)
    });
    let server = start(cdi::configure(
        config.core().clone(),
        Some(API_KEY.to_owned()),
    ));
    (config, server)
}

/// A POST with `cdi-version: version`: status and body text.
async fn post_raw(server: &Running, path: &str, version: &str, body: &Value) -> (u16, String) {
    let response = client()
        .post(format!("{}{path}", server.base))
        .header("api-key", API_KEY)
        .header("cdi-version", version)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A POST answered 200 with JSON (ending with a newline, as the core's).
async fn post(server: &Running, path: &str, version: &str, body: &Value) -> Value {
    let (status, text) = post_raw(server, path, version, body).await;
    assert_eq!(status, 200, "{version} {path}: {text}");
    assert!(text.ends_with('\n'));
    serde_json::from_str(&text).unwrap()
}

/// The names of an object's fields, sorted.
fn fields(value: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names
}

/// Whether `public_key` (the CDI's base64 SPKI DER) verifies the v2 `token`, as an old SDK
/// checks it: RS256 over `header.payload`, the signature in standard base64.
fn verifies(public_key: &str, token: &str) -> bool {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let der = STANDARD.decode(public_key).unwrap();
    let Ok(signature) = STANDARD.decode(signature) else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
        .verify(input.as_bytes(), &signature)
        .is_ok()
}

/// The payload of a v2 token.
fn v2_payload(token: &Value) -> Map<String, Value> {
    let token = token["token"].as_str().unwrap();
    assert!(token.starts_with(&format!("{V2_HEADER}.")), "a v2 token");
    let segment = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&STANDARD.decode(segment).unwrap()).unwrap()
}

fn create_body(user: &str) -> Value {
    json!({
        "userId": user,
        "userDataInJWT": {"role": "admin"},
        "userDataInDatabase": {},
        "enableAntiCsrf": false,
    })
}

fn verify_body(token: &Value) -> Value {
    json!({"accessToken": token["token"], "doAntiCsrfCheck": false, "enableAntiCsrf": false})
}

async fn the_handshake_has_the_shape_of_each_version(store: Store) {
    let store = TestStore::new(store).await;
    let (_config, server) = serve_cdi(&store);
    let base = [
        "accessTokenBlacklistingEnabled",
        "accessTokenValidity",
        "jwtSigningPublicKey",
        "jwtSigningPublicKeyExpiryTime",
        "refreshTokenValidity",
        "status",
    ];
    let mut with_list = base.to_vec();
    with_list.insert(4, "jwtSigningPublicKeyList");
    let mut first_key = None;
    for (version, expected) in [
        ("2.7", &base[..]),
        ("2.8", &base[..]),
        ("2.9", &with_list[..]),
        ("2.15", &with_list[..]),
        ("2.20", &with_list[..]),
    ] {
        let answer = post(&server, "/recipe/handshake", version, &json!({})).await;
        assert_eq!(fields(&answer), expected, "{version}");
        assert_eq!(answer["status"], "OK");
        assert_eq!(answer["accessTokenBlacklistingEnabled"], false);
        assert_eq!(answer["accessTokenValidity"], 900_000);
        assert_eq!(answer["refreshTokenValidity"], 7 * 24 * 3_600_000);
        let key = answer["jwtSigningPublicKey"].as_str().unwrap().to_owned();
        // One key for every version and every call.
        assert_eq!(first_key.get_or_insert_with(|| key.clone()), &key);
        let expiry = answer["jwtSigningPublicKeyExpiryTime"].as_u64().unwrap();
        if let Some(list) = answer.get("jwtSigningPublicKeyList") {
            assert_eq!(list.as_array().unwrap().len(), 1, "{version}");
            let entry = &list[0];
            assert_eq!(fields(entry), ["createdAt", "expiryTime", "publicKey"]);
            assert_eq!(entry["publicKey"], json!(key));
            assert_eq!(entry["expiryTime"], json!(expiry));
            let created = entry["createdAt"].as_u64().unwrap();
            // Announced for ten years from its creation.
            assert_eq!(expiry - created, 10 * 365 * 24 * 3_600_000);
        }
    }
    // No handshake from CDI 2.21 on (nor without a version: the newest), as the core; GET is
    // not a method of it.
    for version in ["2.21", "3.0", "5.5"] {
        assert_eq!(
            post_raw(&server, "/recipe/handshake", version, &json!({})).await,
            (404, "Not found\n".to_owned())
        );
    }
    let response = client()
        .post(format!("{}/recipe/handshake", server.base))
        .header("api-key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let response = client()
        .get(format!("{}/recipe/handshake", server.base))
        .header("api-key", API_KEY)
        .header("cdi-version", "2.20")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.text().await.unwrap(), "Method not supported\n");
    // The api key is required, and a tenant prefix did not exist before CDI 3.0.
    let response = client()
        .post(format!("{}/recipe/handshake", server.base))
        .header("cdi-version", "2.20")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        post_raw(&server, "/t1/recipe/handshake", "2.20", &json!({})).await,
        (404, "Not found\n".to_owned())
    );
}

async fn a_v2_session_lives_through_create_verify_refresh_regenerate_and_revoke(store: Store) {
    let store = TestStore::new(store).await;
    let (_config, server) = serve_cdi(&store);
    for version in ["2.20", "2.9", "2.7"] {
        let has_list = version != "2.7";
        // Create: a v2 token, idRefreshToken, and the legacy key (the list from 2.9).
        let created = post(&server, "/recipe/session", version, &create_body("alice")).await;
        let mut expected = vec![
            "accessToken",
            "idRefreshToken",
            "jwtSigningPublicKey",
            "jwtSigningPublicKeyExpiryTime",
            "refreshToken",
            "session",
            "status",
        ];
        if has_list {
            expected.insert(4, "jwtSigningPublicKeyList");
        }
        assert_eq!(fields(&created), expected, "{version} create");
        assert_eq!(
            fields(&created["session"]),
            ["handle", "userDataInJWT", "userId"]
        );
        let key = created["jwtSigningPublicKey"].as_str().unwrap().to_owned();
        let token = &created["accessToken"];
        assert!(
            verifies(&key, token["token"].as_str().unwrap()),
            "{version}"
        );
        let payload = v2_payload(token);
        assert_eq!(payload["userId"], "alice");
        assert_eq!(payload["userData"], json!({"role": "admin"}));
        assert_eq!(payload["expiryTime"], token["expiry"]);
        let id_refresh = &created["idRefreshToken"];
        assert_eq!(fields(id_refresh), ["createdTime", "expiry", "token"]);
        assert_eq!(id_refresh["expiry"], created["refreshToken"]["expiry"]);
        assert_eq!(id_refresh["token"].as_str().unwrap().len(), 36);

        // Verify without promotion: the signature is the proof; the key comes along.
        let verified = post(
            &server,
            "/recipe/session/verify",
            version,
            &verify_body(token),
        )
        .await;
        assert_eq!(verified["session"]["handle"], created["session"]["handle"]);
        assert!(verified.get("accessToken").is_none());
        assert_eq!(verified["jwtSigningPublicKey"], json!(key));
        assert_eq!(verified.get("jwtSigningPublicKeyList").is_some(), has_list);

        // Refresh: a v2 child with the parent hash, idRefreshToken, no key fields.
        let refresh =
            json!({"refreshToken": created["refreshToken"]["token"], "enableAntiCsrf": false});
        let refreshed = post(&server, "/recipe/session/refresh", version, &refresh).await;
        assert_eq!(
            fields(&refreshed),
            [
                "accessToken",
                "idRefreshToken",
                "refreshToken",
                "session",
                "status"
            ],
            "{version} refresh"
        );
        let child = &refreshed["accessToken"];
        assert!(v2_payload(child).contains_key("parentRefreshTokenHash1"));
        assert!(verifies(&key, child["token"].as_str().unwrap()));

        // Verify with promotion: a new v2 token without the parent hash.
        let promoted = post(
            &server,
            "/recipe/session/verify",
            version,
            &verify_body(child),
        )
        .await;
        let promoted_token = &promoted["accessToken"];
        assert!(!v2_payload(promoted_token).contains_key("parentRefreshTokenHash1"));
        assert!(verifies(&key, promoted_token["token"].as_str().unwrap()));
        assert_eq!(promoted["jwtSigningPublicKey"], json!(key));

        // The first refresh token again, after the promotion: theft.
        let theft = post(&server, "/recipe/session/refresh", version, &refresh).await;
        assert_eq!(theft["status"], "TOKEN_THEFT_DETECTED");
        assert_eq!(theft["session"]["handle"], created["session"]["handle"]);
        assert_eq!(theft["session"]["userId"], "alice");

        // Regenerate: v2 again, with the new payload and the same expiry.
        let regenerated = post(
            &server,
            "/recipe/session/regenerate",
            version,
            &json!({"accessToken": promoted_token["token"], "userDataInJWT": {"role": "viewer"}}),
        )
        .await;
        assert_eq!(fields(&regenerated), ["accessToken", "session", "status"]);
        assert_eq!(
            fields(&regenerated["session"]),
            ["handle", "userDataInJWT", "userId"]
        );
        let new_payload = v2_payload(&regenerated["accessToken"]);
        assert_eq!(new_payload["userData"], json!({"role": "viewer"}));
        assert_eq!(
            new_payload["expiryTime"],
            v2_payload(promoted_token)["expiryTime"]
        );
        assert!(verifies(
            &key,
            regenerated["accessToken"]["token"].as_str().unwrap()
        ));

        // Revoke: the refresh of the newest refresh token is unauthorised.
        let handle = created["session"]["handle"].clone();
        let removed = post(
            &server,
            "/recipe/session/remove",
            version,
            &json!({"sessionHandles": [handle]}),
        )
        .await;
        assert_eq!(removed["sessionHandlesRevoked"], json!([handle]));
        let newest =
            json!({"refreshToken": refreshed["refreshToken"]["token"], "enableAntiCsrf": false});
        let after = post(&server, "/recipe/session/refresh", version, &newest).await;
        assert_eq!(after["status"], "UNAUTHORISED", "{version}");
    }
}

async fn forged_and_tampered_v2_tokens_are_refused(store: Store) {
    let store = TestStore::new(store).await;
    let (_config, server) = serve_cdi(&store);
    let created = post(&server, "/recipe/session", "2.20", &create_body("alice")).await;
    let token = created["accessToken"]["token"].as_str().unwrap().to_owned();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let try_refresh = |answer: &Value, what: &str| {
        assert_eq!(answer["status"], "TRY_REFRESH_TOKEN", "{what}: {answer}");
        // The TRY_REFRESH_TOKEN answer of these versions carries the key too.
        assert!(answer["jwtSigningPublicKey"].is_string(), "{what}");
    };

    // The same v2 header and payload signed by each key of the JWKS.
    for (kid, pkcs8) in store.signing_keys().await {
        let signer = Signer::from_keys(&[(kid.clone(), pkcs8)], &kid);
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signer.sign_with(&signature::RSA_PKCS1_SHA256, input))
            .unwrap();
        let forged = json!({"token": format!("{input}.{}", STANDARD.encode(raw))});
        let answer = post(
            &server,
            "/recipe/session/verify",
            "2.20",
            &verify_body(&forged),
        )
        .await;
        try_refresh(&answer, &format!("signed by {kid}"));
        let answer = post(
            &server,
            "/recipe/session/regenerate",
            "2.20",
            &json!({"accessToken": forged["token"]}),
        )
        .await;
        assert_eq!(
            answer["status"], "UNAUTHORISED",
            "regenerate, signed by {kid}"
        );
    }

    // Header or payload changed after signing.
    let v1_header = STANDARD.encode(r#"{"alg":"RS256","typ":"JWT","version":"1"}"#);
    let padded_header = STANDARD.encode(r#"{"alg":"RS256","typ":"JWT","version":"2" }"#);
    let payload_segment = input.split_once('.').unwrap().1;
    let mut payload: Value =
        serde_json::from_slice(&STANDARD.decode(payload_segment).unwrap()).unwrap();
    payload["userId"] = json!("mallory");
    let other_payload = STANDARD.encode(payload.to_string());
    for (what, tampered) in [
        (
            "v1 header",
            format!("{v1_header}.{payload_segment}.{signature}"),
        ),
        (
            "other header",
            format!("{padded_header}.{payload_segment}.{signature}"),
        ),
        (
            "other payload",
            format!("{V2_HEADER}.{other_payload}.{signature}"),
        ),
    ] {
        let answer = post(
            &server,
            "/recipe/session/verify",
            "2.20",
            &verify_body(&json!({"token": tampered})),
        )
        .await;
        assert_ne!(answer["status"], "OK", "{what}: {answer}");
    }

    // An expired v2 token: refresh first; on CDI 2.21 the answer has no key fields.
    let short = store.config(|builder| builder.access_token_validity(Duration::from_secs(1)));
    let short_server = start(cdi::configure(
        short.core().clone(),
        Some(API_KEY.to_owned()),
    ));
    let created = post(
        &short_server,
        "/recipe/session",
        "2.20",
        &create_body("bob"),
    )
    .await;
    let deadline = created["accessToken"]["expiry"].as_u64().unwrap();
    for _ in 0..50 {
        if crate::support::now_ms() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = post(
        &short_server,
        "/recipe/session/verify",
        "2.20",
        &verify_body(&created["accessToken"]),
    )
    .await;
    try_refresh(&answer, "expired");
    let mut body = verify_body(&created["accessToken"]);
    body["checkDatabase"] = json!(false);
    let answer = post(&short_server, "/recipe/session/verify", "2.21", &body).await;
    assert_eq!(answer["status"], "TRY_REFRESH_TOKEN");
    assert!(answer.get("jwtSigningPublicKey").is_none());
}

async fn instances_on_one_store_agree_on_the_legacy_key(store: Store) {
    let store = TestStore::new(store).await;
    let (_a_config, a) = serve_cdi(&store);
    let (_b_config, b) = serve_cdi(&store);
    // Both create the store's first legacy key at the same moment: one is kept.
    let empty = json!({});
    let (from_a, from_b) = tokio::join!(
        post(&a, "/recipe/handshake", "2.20", &empty),
        post(&b, "/recipe/handshake", "2.20", &empty),
    );
    assert_eq!(from_a["jwtSigningPublicKey"], from_b["jwtSigningPublicKey"]);
    let key = from_a["jwtSigningPublicKey"].as_str().unwrap().to_owned();

    // A session of one instance lives on the other.
    let created = post(&a, "/recipe/session", "2.20", &create_body("alice")).await;
    assert_eq!(created["jwtSigningPublicKey"], json!(key));
    let refresh =
        json!({"refreshToken": created["refreshToken"]["token"], "enableAntiCsrf": false});
    let refreshed = post(&b, "/recipe/session/refresh", "2.20", &refresh).await;
    assert!(verifies(
        &key,
        refreshed["accessToken"]["token"].as_str().unwrap()
    ));
    let promoted = post(
        &a,
        "/recipe/session/verify",
        "2.20",
        &verify_body(&refreshed["accessToken"]),
    )
    .await;
    assert!(verifies(
        &key,
        promoted["accessToken"]["token"].as_str().unwrap()
    ));

    // A new instance (a restart) reads the same key.
    let (_c_config, c) = serve_cdi(&store);
    let from_c = post(&c, "/recipe/handshake", "2.9", &json!({})).await;
    assert_eq!(from_c["jwtSigningPublicKey"], json!(key));
}

#[actix_web::test]
async fn bad_input_on_the_old_versions_is_a_clear_400() {
    let store = TestStore::new(Store::Sqlite).await;
    let (_config, server) = serve_cdi(&store);
    for (path, body, text) in [
        (
            "/recipe/session",
            json!({"userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false}),
            "Field name 'userId' is invalid in JSON input\n",
        ),
        (
            "/recipe/session",
            json!({"userId": "u", "userDataInJWT": [], "userDataInDatabase": {}, "enableAntiCsrf": false}),
            "Field name 'userDataInJWT' is invalid in JSON input\n",
        ),
        (
            "/recipe/session/verify",
            json!({"accessToken": "x", "enableAntiCsrf": false}),
            "Field name 'doAntiCsrfCheck' is invalid in JSON input\n",
        ),
        (
            "/recipe/session/refresh",
            json!({"refreshToken": 5, "enableAntiCsrf": false}),
            "Field name 'refreshToken' is invalid in JSON input\n",
        ),
        (
            "/recipe/session/regenerate",
            json!({"accessToken": "x", "userDataInJWT": "y"}),
            "Field name 'userDataInJWT' is invalid in JSON input\n",
        ),
    ] {
        assert_eq!(
            post_raw(&server, path, "2.20", &body).await,
            (400, text.to_owned()),
            "{path}"
        );
    }
    let (status, text) = post_raw(&server, "/recipe/session", "2.20", &json!([])).await;
    assert_eq!((status, text.as_str()), (400, "Invalid Json Input\n"));
    // Inputs of later versions are not read before they existed, as by the core:
    // `checkDatabase` (2.21) and `useDynamicSigningKey` (2.21 for create, 3.0 for refresh).
    let created = post(
        &server,
        "/recipe/session",
        "2.20",
        &json!({"userId": "u", "userDataInJWT": {}, "userDataInDatabase": {}, "enableAntiCsrf": false, "useDynamicSigningKey": "no"}),
    )
    .await;
    let verified = post(
        &server,
        "/recipe/session/verify",
        "2.20",
        &json!({"accessToken": created["accessToken"]["token"], "doAntiCsrfCheck": false, "enableAntiCsrf": false, "checkDatabase": "maybe"}),
    )
    .await;
    assert_eq!(verified["status"], "OK");
    let refreshed = post(
        &server,
        "/recipe/session/refresh",
        "2.20",
        &json!({"refreshToken": created["refreshToken"]["token"], "enableAntiCsrf": false, "useDynamicSigningKey": 1}),
    )
    .await;
    assert_eq!(refreshed["status"], "OK");
    // A version the core never served.
    assert_eq!(
        post_raw(&server, "/recipe/session", "2.6", &create_body("u")).await,
        (400, "cdi-version 2.6 not supported\n".to_owned())
    );
}
