//! The hand-written baseline of `bench/load.sh`: the demo's `GET /health` and
//! `GET /user`, where `/user` verifies the RS256 access token (bearer header or `sAccessToken`
//! cookie) with `jsonwebtoken` on every request and does nothing else: no sessionward, no
//! cache, no anti-CSRF, claims, front-token or refresh handling.
//!
//! ```text
//! DATA_DIR=./demo-data PORT=0 cargo run --release -p sessionward-examples --bin baseline
//! ```
//!
//! The public keys are read once at start from the demo's data directory (through the
//! embedded core's key source, which is then closed). Environment: `PORT` (3011), `DATA_DIR`
//! (`./demo-data`), `WEBSITE_DOMAIN` (`http://localhost:3000`, for the same CORS layer as the
//! demo). The first line on stdout names the bound address.

use std::collections::HashMap;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder, get, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
use sessionward::SessionConfig;
use sessionward_examples::demo;

/// The verification keys by `kid`, and the validation every request uses.
struct Verifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl Verifier {
    /// The claims of `token`, if it is signed by a known key and not expired.
    fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
        let key = self.keys.get(&kid)?;
        jsonwebtoken::decode::<Map<String, Value>>(token, key, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// Unprotected, as in the demo.
#[get("/health")]
async fn health() -> impl Responder {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The same body as the demo's `/user`, from the verified claims.
#[get("/user")]
async fn user(req: HttpRequest, verifier: web::Data<Verifier>) -> HttpResponse {
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let token = bearer.or_else(|| req.cookie("sAccessToken").map(|c| c.value().to_owned()));
    let Some(token) = token else {
        return HttpResponse::Unauthorized().json(json!({"message": "unauthorised"}));
    };
    match verifier.verify(&token) {
        Some(claims) => HttpResponse::Ok().json(json!({
            "userId": claims.get("sub"),
            "sessionHandle": claims.get("sessionHandle"),
            "accessTokenPayload": claims,
        })),
        None => HttpResponse::Unauthorized().json(json!({"message": "try refresh token"})),
    }
}

/// The public keys of the embedded core in `data_dir`.
async fn load_keys(data_dir: &str) -> std::io::Result<HashMap<String, DecodingKey>> {
    let config = SessionConfig::builder()
        .data_dir(data_dir)
        .build()
        .map_err(std::io::Error::other)?;
    let jwks = config
        .core()
        .key_source()
        .fetch_keys()
        .await
        .map_err(std::io::Error::other)?;
    let mut keys = HashMap::new();
    for jwk in &jwks.keys {
        if let (Some(kid), Ok(key)) = (&jwk.common.key_id, DecodingKey::from_jwk(jwk)) {
            keys.insert(kid.clone(), key);
        }
    }
    Ok(keys)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = demo::env_or("PORT", 3011)?;
    let data_dir = demo::env_or("DATA_DIR", String::from("./demo-data"))?;
    let website_domain = demo::env_or("WEBSITE_DOMAIN", String::from("http://localhost:3000"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    let verifier = web::Data::new(Verifier {
        keys: load_keys(&data_dir).await?,
        validation,
    });
    let server = HttpServer::new(move || {
        App::new()
            .wrap(demo::cors(&website_domain))
            .app_data(verifier.clone())
            .service(health)
            .service(user)
    })
    .bind(("127.0.0.1", port))?;
    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }
    server.run().await
}
