//! Multi-tenancy: the tenant comes from the path, sessions are created in that tenant, and a
//! session only opens routes of its own tenant.
//!
//! ```text
//! cargo run -p sessionward-examples --bin tenants
//! ```
//!
//! - `POST /t/{tenant}/login` `{"userId": ".."}`: a session in `{tenant}`
//!   ([`create_new_session_for_tenant`]).
//! - `GET /t/{tenant}/me`: the session, if it belongs to `{tenant}`; a session of another
//!   tenant gets 403 with the validator id `st-tenant`
//!   (`#[verify_session(tenant_param = "tenant")]`).
//! - `GET /t/{tenant}/profile`: the same check without the macro ([`get_session`] with
//!   [`VerifyOptions::tenant_param`]).
//!
//! Environment: `PORT` (3004), `DATA_DIR` (`./tenants-data`).

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder, get, post, web};
use serde::Deserialize;
use serde_json::json;
use sessionward::create_new_session_for_tenant;
use sessionward::prelude::*;
use sessionward_examples::support;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    user_id: String,
}

/// Tenant ids as the SuperTokens core accepts them: lower-case letters, digits and `-`.
fn valid_tenant(tenant: &str) -> bool {
    !tenant.is_empty()
        && tenant.len() <= 64
        && tenant
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[post("/t/{tenant}/login")]
async fn login(
    req: HttpRequest,
    tenant: web::Path<String>,
    body: web::Json<Login>,
) -> Result<WithSession<HttpResponse>, SessionError> {
    if !valid_tenant(&tenant) {
        return Ok(WithSession::new(
            HttpResponse::NotFound().json(json!({"message": "unknown tenant"})),
        ));
    }
    // Check the user's credentials in this tenant first in a real app.
    let session = create_new_session_for_tenant(&req, &tenant, &body.user_id, json!({})).await?;
    Ok(WithSession::new(HttpResponse::Ok().json(json!({
        "userId": session.user_id(),
        "tenantId": session.tenant_id(),
    }))))
}

/// The route's `{tenant}` must be the session's tenant.
#[get("/t/{tenant}/me")]
#[verify_session(tenant_param = "tenant")]
async fn me(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().json(json!({
        "userId": session.user_id(),
        "tenantId": session.tenant_id(),
    }))
}

/// The same check without the macro.
async fn profile(req: HttpRequest) -> Result<WithSession<HttpResponse>, SessionError> {
    let options = VerifyOptions::new(true).tenant_param("tenant");
    let session = get_session(&req, &options)
        .await?
        .ok_or(SessionError::Unauthorised {
            clear_tokens: false,
            reason: "no access token",
        })?;
    Ok(WithSession::new(HttpResponse::Ok().json(json!({
        "userId": session.user_id(),
        "tenantId": session.tenant_id(),
    }))))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    support::init_tracing();
    let port = support::port(3004)?;
    let config = SessionConfig::builder()
        .data_dir(support::data_dir("./tenants-data")?)
        .build()
        .map_err(std::io::Error::other)?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            .service(config.endpoints())
            .service(login)
            .service(me)
            .route("/t/{tenant}/profile", web::get().to(profile))
    })
    .bind(("127.0.0.1", port))?;
    support::announce(&server.addrs());
    server.run().await
}
