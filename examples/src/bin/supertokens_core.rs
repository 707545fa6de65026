//! SuperTokens Core mode: sessions live in a SuperTokens Core (or a cluster of cores), reached
//! over HTTP with [`CoreClient`]; access tokens still verify locally from the core's keys.
//!
//! ```text
//! CORE_URI=http://localhost:3567 cargo run -p sessionward-examples --bin supertokens_core
//! ```
//!
//! With no SuperTokens Core at hand, sessionward's own CDI server stands in for one:
//!
//! ```text
//! PORT=3567 API_KEY=an-api-key-of-20-chars cargo run -p sessionward-examples --bin sessionward-core
//! CORE_API_KEY=an-api-key-of-20-chars cargo run -p sessionward-examples --bin supertokens_core
//! ```
//!
//! - `POST /login` `{"userId": ".."}`: the core creates the session.
//! - `GET /user`: verified locally (no core call); `GET /user/strict` asks the core too
//!   (`check_database = true`), so a revoked session is refused at once.
//! - `POST /auth/session/refresh`, `POST /auth/signout`: the core rotates and revokes.
//!
//! Environment: `PORT` (3006), `CORE_URI` (`http://localhost:3567`; `;` separates cores),
//! `CORE_API_KEY` (none), `WEBSITE_DOMAIN` (`http://localhost:3000`, for CORS).
//! Token lifetimes are the core's settings.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder, get, post, web};
use serde::Deserialize;
use serde_json::json;
use sessionward::core::CoreClient;
use sessionward::prelude::*;
use sessionward_examples::{demo, support};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    user_id: String,
}

#[post("/login")]
async fn login(
    req: HttpRequest,
    body: web::Json<Login>,
) -> Result<WithSession<HttpResponse>, SessionError> {
    // Check credentials first in a real app.
    let session = create_new_session(&req, &body.user_id, json!({})).await?;
    Ok(WithSession::new(
        HttpResponse::Ok().json(json!({"userId": session.user_id()})),
    ))
}

#[get("/user")]
#[verify_session]
async fn user(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().json(json!({
        "userId": session.user_id(),
        "sessionHandle": session.handle(),
    }))
}

#[get("/user/strict")]
#[verify_session(check_database = true)]
async fn user_strict(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().json(json!({
        "userId": session.user_id(),
        "sessionHandle": session.handle(),
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    support::init_tracing();
    let port = support::port(3006)?;
    let mut core = CoreClient::builder(demo::env_or(
        "CORE_URI",
        String::from("http://localhost:3567"),
    )?)
    .timeout(Duration::from_secs(5));
    if let Ok(key) = std::env::var("CORE_API_KEY") {
        core = core.api_key(key);
    }
    let core = core.build().map_err(std::io::Error::other)?;
    let website_domain = demo::env_or("WEBSITE_DOMAIN", String::from("http://localhost:3000"))?;
    let config = SessionConfig::builder()
        .core(Arc::new(core))
        .api_domain(format!("http://localhost:{port}"))
        .website_domain(website_domain.clone())
        .build()
        .map_err(std::io::Error::other)?;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(demo::middleware(&config))
            .wrap(demo::cors(&website_domain))
            .service(config.endpoints())
            .service(login)
            .service(user)
            .service(user_strict)
    })
    .bind(("127.0.0.1", port))?;
    support::announce(&server.addrs());
    server.run().await
}
