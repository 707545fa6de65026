//! Routes that work with or without a session (the SDKs' `sessionRequired: false`), in the
//! three ways sessionward offers.
//!
//! ```text
//! cargo run -p sessionward-examples --bin optional_session
//! ```
//!
//! - `GET /`: `#[verify_session(required = false)]`, the recommended way.
//! - `GET /feed`: the [`MaybeSession`] extractor.
//! - `GET /greeting`: [`get_session`] with `VerifyOptions::new(false)`, without the macro.
//! - `POST /login` `{"userId": ".."}`: creates a session.
//!
//! Without an access token each route answers for a guest; with a valid one, for the user;
//! with an expired or invalid one, 401 `{"message":"try refresh token"}`, so the frontend SDK
//! refreshes instead of silently treating the user as a guest.
//!
//! Environment: `PORT` (3003), `DATA_DIR` (`./optional-data`).

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder, get, post, web};
use serde::Deserialize;
use serde_json::json;
use sessionward::prelude::*;
use sessionward_examples::support;

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
    let session = create_new_session(&req, &body.user_id, json!({})).await?;
    Ok(WithSession::new(
        HttpResponse::Ok().json(json!({"userId": session.user_id()})),
    ))
}

#[get("/")]
#[verify_session(required = false)]
async fn home(session: Option<SessionContainer>) -> impl Responder {
    match session {
        Some(session) => HttpResponse::Ok().json(json!({"hello": session.user_id()})),
        None => HttpResponse::Ok().json(json!({"hello": "guest"})),
    }
}

/// A plain extractor: note that it runs concurrently with the handler's other extractors
/// (the macro runs them after verification).
#[get("/feed")]
async fn feed(MaybeSession(session): MaybeSession) -> impl Responder {
    let personalised = session.is_some();
    HttpResponse::Ok().json(json!({"personalised": personalised, "items": []}))
}

#[get("/greeting")]
async fn greeting(req: HttpRequest) -> Result<WithSession<HttpResponse>, SessionError> {
    let session = get_session(&req, &VerifyOptions::new(false)).await?;
    let name = session.as_ref().map_or("guest", |s| s.user_id());
    Ok(WithSession::new(
        HttpResponse::Ok().json(json!({"greeting": format!("good day, {name}")})),
    ))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    support::init_tracing();
    let port = support::port(3003)?;
    let config = SessionConfig::builder()
        .data_dir(support::data_dir("./optional-data")?)
        .build()
        .map_err(std::io::Error::other)?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            .service(config.endpoints())
            .service(login)
            .service(home)
            .service(feed)
            .service(greeting)
    })
    .bind(("127.0.0.1", port))?;
    support::announce(&server.addrs());
    server.run().await
}
