//! A custom claim: the user's subscription tier, fetched asynchronously (as from a billing
//! database), stored in the access token, and checked per route.
//!
//! ```text
//! cargo run -p sessionward-examples --bin claims
//! ```
//!
//! - `POST /login` `{"userId": ".."}`: a session whose token carries the tier (`free` unless
//!   the user id starts with `pro-`).
//! - `GET /tier`: the tier in the session.
//! - `GET /reports`: needs the `pro` tier; others get 403 with the failed claim.
//! - `POST /upgrade`: moves the user to `pro` and refreshes the claim in the token at once.
//!
//! Environment: `PORT` (3002), `DATA_DIR` (`./claims-data`).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder, get, post, web};
use serde::Deserialize;
use serde_json::json;
use sessionward::claims::{ClaimFetchError, PrimitiveClaim};
use sessionward::prelude::*;
use sessionward_examples::support;

/// Stands in for a billing database: user id → tier.
static BILLING: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Default::default);

/// The tier of `user_id`, as an async lookup would return it.
async fn lookup_tier(user_id: &str) -> Result<String, ClaimFetchError> {
    actix_web::rt::time::sleep(Duration::from_millis(5)).await; // a database round trip
    let billing = BILLING
        .lock()
        .map_err(|_| ClaimFetchError("billing store poisoned".into()))?;
    Ok(billing.get(user_id).cloned().unwrap_or_else(|| {
        if user_id.starts_with("pro-") {
            "pro".into()
        } else {
            "free".into()
        }
    }))
}

/// The `tier` claim: fetched at login and again once the value is older than five minutes.
fn tier() -> PrimitiveClaim<String> {
    PrimitiveClaim::new("tier")
        .with_fetch(|input| async move { lookup_tier(&input.user_id).await.map(Some) })
        .with_default_max_age(300)
}

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
    // Check credentials first in a real app. The config's fetcher puts the tier in the token.
    let session = create_new_session(&req, &body.user_id, json!({})).await?;
    let tier = session.get_claim_value(&tier());
    Ok(WithSession::new(
        HttpResponse::Ok().json(json!({"userId": session.user_id(), "tier": tier})),
    ))
}

#[get("/tier")]
#[verify_session]
async fn current_tier(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().json(json!({"tier": session.get_claim_value(&tier())}))
}

/// Only for `pro` users: a `free` session gets
/// 403 `{"message":"invalid claim","claimValidationErrors":[{"id":"tier",..}]}`.
#[get("/reports")]
#[verify_session(claims = [tier().has_value("pro".to_owned())])]
async fn reports(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().json(json!({"reports": [], "userId": session.user_id()}))
}

#[post("/upgrade")]
#[verify_session]
async fn upgrade(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    BILLING
        .lock()
        .map_err(|_| SessionError::Internal("billing store poisoned".into()))?
        .insert(session.user_id().to_owned(), "pro".into());
    // Re-fetch now rather than in five minutes: the new token goes out with this response.
    session.fetch_and_set_claim(&tier()).await?;
    Ok(HttpResponse::Ok().json(json!({"tier": session.get_claim_value(&tier())})))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    support::init_tracing();
    let port = support::port(3002)?;
    let config = SessionConfig::builder()
        .data_dir(support::data_dir("./claims-data")?)
        .fetch_claim(&tier(), |input| async move {
            lookup_tier(&input.user_id).await.map(Some)
        })
        .build()
        .map_err(std::io::Error::other)?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            .service(config.endpoints())
            .service(login)
            .service(current_tier)
            .service(reports)
            .service(upgrade)
    })
    .bind(("127.0.0.1", port))?;
    support::announce(&server.addrs());
    server.run().await
}
