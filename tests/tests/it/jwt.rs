//! JWTs for other services (supertokens-node's `jwt` and `openid` recipes): `create_jwt`,
//! `get_jwks` and the discovery document on the embedded core and through `CoreClient`, the
//! two public endpoints on actix and axum, and the CDI server's `POST /recipe/jwt`.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sessionward::SessionConfig;
use sessionward_examples::{demo, demo_axum};
use sessionward_tests::{client, embedded_config, serve, serve_axum};

use crate::core_client::{API_KEY, Running, cdi_core};

/// The claims of `jwt` once verified with the key of its `kid` in `config.get_jwks()`.
async fn verified_claims(config: &SessionConfig, jwt: &str) -> (String, Value) {
    let kid = jsonwebtoken::decode_header(jwt)
        .unwrap()
        .kid
        .expect("a kid");
    let jwks = config.get_jwks().await.unwrap();
    let jwk = jwks.find(&kid).expect("the kid is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &Validation::new(Algorithm::RS256))
        .expect("the JWT verifies with the published key")
        .claims;
    (kid, claims)
}

fn exp_minus_iat(claims: &Value) -> u64 {
    claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap()
}

/// `create_jwt` and `get_jwks` against `config`, whichever core it uses.
async fn jwts_verify_with_the_published_keys(config: &SessionConfig) {
    let issuer = config.get_open_id_discovery_configuration().issuer;

    let jwt = config
        .create_jwt(
            json!({"sub": "u1", "roles": ["admin"], "nested": {"a": 1}}),
            Some(Duration::from_secs(3600)),
            None,
        )
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let (kid, claims) = verified_claims(config, &jwt).await;
    assert!(kid.starts_with("s-"), "the static key by default: {kid}");
    assert_eq!(claims["sub"], "u1");
    assert_eq!(claims["roles"], json!(["admin"]));
    assert_eq!(claims["nested"], json!({"a": 1}));
    assert_eq!(claims["iss"], issuer);
    assert_eq!(exp_minus_iat(&claims), 3600);

    // The dynamic key, on request.
    let dynamic = config
        .create_jwt(
            json!({"sub": "u1"}),
            Some(Duration::from_secs(60)),
            Some(false),
        )
        .await
        .unwrap();
    let (kid, claims) = verified_claims(config, &dynamic).await;
    assert!(kid.starts_with("d-"), "{kid}");
    assert_eq!(exp_minus_iat(&claims), 60);

    // Node's default validity (100 years), a `null` payload, the caller's `iss`.
    let default = config
        .create_jwt(Value::Null, None, Some(true))
        .await
        .unwrap();
    let (kid, claims) = verified_claims(config, &default).await;
    assert!(kid.starts_with("s-"), "{kid}");
    assert_eq!(exp_minus_iat(&claims), 3_153_600_000);
    let own_issuer = config
        .create_jwt(json!({"iss": "https://issuer.example"}), None, None)
        .await
        .unwrap();
    let (_, claims) = verified_claims(config, &own_issuer).await;
    assert_eq!(claims["iss"], "https://issuer.example");
}

#[actix_web::test]
async fn jwts_verify_with_the_published_keys_on_the_embedded_core() {
    let (_dir, config) = embedded_config(|b| b.api_domain("https://api.example.com"));
    jwts_verify_with_the_published_keys(&config).await;
}

#[actix_web::test]
async fn jwts_verify_with_the_published_keys_through_a_core_client() {
    let (_dir, _core, server): (_, _, Running) = cdi_core();
    let config = SessionConfig::builder()
        .supertokens_core(&server.base, Some(API_KEY))
        .unwrap()
        .api_domain("https://api.example.com")
        .build()
        .unwrap();
    jwts_verify_with_the_published_keys(&config).await;
}

async fn post_jwt(server: &Running, body: &str) -> (u16, String) {
    let response = client()
        .post(format!("{}/recipe/jwt", server.base))
        .header("api-key", API_KEY)
        .header("cdi-version", "5.4")
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[actix_web::test]
async fn the_cdi_server_signs_jwts_as_the_core_does() {
    let (_dir, core, server): (_, _, Running) = cdi_core();
    let (status, text) = post_jwt(
        &server,
        r#"{"payload":{"sub":"u1"},"validity":120,"algorithm":"RS256","jwksDomain":"http://api.example","useStaticSigningKey":false}"#,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["status"], "OK");
    let jwt = answer["jwt"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
    assert!(kid.starts_with("d-"), "{kid}");
    let jwks = core.key_source().fetch_keys().await.unwrap();
    let key = DecodingKey::from_jwk(jwks.find(&kid).expect("published")).unwrap();
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &Validation::new(Algorithm::RS256))
        .unwrap()
        .claims;
    // Without an `iss` in the payload, the core's is the jwks domain.
    assert_eq!(claims["iss"], "http://api.example");
    assert_eq!(exp_minus_iat(&claims), 120);

    // As the core: an algorithm it does not sign is a logical answer, not a 400.
    let (status, text) = post_jwt(
        &server,
        r#"{"payload":{},"validity":120,"algorithm":"RS512","jwksDomain":"http://api.example"}"#,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"status": "UNSUPPORTED_ALGORITHM_ERROR"})
    );
}

#[actix_web::test]
async fn the_cdi_server_refuses_bad_jwt_requests_with_a_400() {
    let (_dir, _core, server): (_, _, Running) = cdi_core();
    let valid = json!({
        "payload": {"sub": "u1"},
        "validity": 60,
        "algorithm": "RS256",
        "jwksDomain": "http://api.example",
    });
    let with = |name: &str, value: Value| {
        let mut body = valid.clone();
        if value.is_null() {
            body.as_object_mut().unwrap().remove(name);
        } else {
            body[name] = value;
        }
        body.to_string()
    };
    let invalid = |name: &str| format!("Field name '{name}' is invalid in JSON input");
    for (body, message) in [
        (with("payload", Value::Null), invalid("payload")),
        (with("payload", json!("not an object")), invalid("payload")),
        (with("payload", json!([1, 2])), invalid("payload")),
        (with("validity", Value::Null), invalid("validity")),
        (with("validity", json!("60")), invalid("validity")),
        (with("validity", json!(1.5)), invalid("validity")),
        (
            with("validity", json!(0)),
            "validity must be greater than 0".to_owned(),
        ),
        (
            with("validity", json!(-3600)),
            "validity must be greater than 0".to_owned(),
        ),
        (
            with("validity", json!(31_536_000_001_u64)),
            "validity must be at most 31536000000 seconds (1000 years)".to_owned(),
        ),
        (with("algorithm", Value::Null), invalid("algorithm")),
        (with("algorithm", json!(256)), invalid("algorithm")),
        (with("jwksDomain", Value::Null), invalid("jwksDomain")),
        (
            with("useStaticSigningKey", json!("yes")),
            invalid("useStaticSigningKey"),
        ),
        ("[]".to_owned(), "Invalid Json Input".to_owned()),
    ] {
        let (status, text) = post_jwt(&server, &body).await;
        assert_eq!(
            (status, text.as_str()),
            (400, format!("{message}\n").as_str()),
            "{body}"
        );
    }
    // Without the api key: 401, as every non-public endpoint.
    let response = client()
        .post(format!("{}/recipe/jwt", server.base))
        .body(valid.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

/// The two public endpoints of `base` (an app serving `config`): shapes, headers, and a POST
/// that is not answered as the endpoint.
async fn endpoints_answer_as_supertokens_node(base: &str, config: &SessionConfig) {
    let jwks = client()
        .get(format!("{base}/auth/jwt/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    let header = |name: &str| {
        jwks.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header("cache-control").as_deref(),
        Some("max-age=60, must-revalidate")
    );
    assert_eq!(header("access-control-allow-origin").as_deref(), Some("*"));
    assert!(
        header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = jwks.json().await.unwrap();
    let served = body["keys"].as_array().expect("{\"keys\":[…]}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let kids: Vec<&str> = served.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(kids.iter().any(|k| k.starts_with("s-")) && kids.iter().any(|k| k.starts_with("d-")));
    for key in served {
        assert_eq!(
            (&key["kty"], &key["alg"], &key["use"]),
            (&json!("RSA"), &json!("RS256"), &json!("sig"))
        );
    }
    // A JWT made now verifies with the served keys.
    let jwt = config
        .create_jwt(json!({"sub": "u1"}), None, None)
        .await
        .unwrap();
    let kid = jsonwebtoken::decode_header(&jwt).unwrap().kid.unwrap();
    let served: jsonwebtoken::jwk::JwkSet = serde_json::from_value(body).unwrap();
    let key = DecodingKey::from_jwk(served.find(&kid).expect("served")).unwrap();
    jsonwebtoken::decode::<Value>(&jwt, &key, &Validation::new(Algorithm::RS256)).unwrap();

    let discovery = client()
        .get(format!("{base}/auth/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);
    assert_eq!(
        discovery
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "*"
    );
    let body: Value = discovery.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::to_value(config.get_open_id_discovery_configuration()).unwrap()
    );
    assert_eq!(body["issuer"], "http://localhost:3001/auth");
    assert_eq!(body["jwks_uri"], "http://localhost:3001/auth/jwt/jwks.json");

    for path in [
        "/auth/jwt/jwks.json",
        "/auth/.well-known/openid-configuration",
    ] {
        let posted = client().post(format!("{base}{path}")).send().await.unwrap();
        assert_ne!(posted.status(), 200, "POST {path}");
        let text = posted.text().await.unwrap();
        assert!(
            !text.contains("\"keys\"") && !text.contains("jwks_uri"),
            "POST {path}: {text}"
        );
    }
}

#[actix_web::test]
async fn the_actix_endpoints_serve_the_jwks_and_the_discovery_document() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve(Some(config.clone()), demo::routes);
    endpoints_answer_as_supertokens_node(&server.base, &config).await;
}

#[actix_web::test]
async fn the_axum_layer_serves_the_jwks_and_the_discovery_document() {
    let (_dir, config) = embedded_config(|b| b);
    let server = serve_axum(demo_axum::app(&config));
    endpoints_answer_as_supertokens_node(&server.base, &config).await;
}
