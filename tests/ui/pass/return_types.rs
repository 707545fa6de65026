//! The return type and body are untouched: `?`, early `return`, `Result`, `impl Responder`.
#![deny(warnings)]

use actix_web::{App, HttpResponse, Responder, web};
use sessionward::{SessionContainer, verify_session};

#[verify_session]
async fn fallible(
    session: SessionContainer,
    id: web::Path<String>,
) -> Result<HttpResponse, actix_web::Error> {
    let id: u32 = id.parse().map_err(actix_web::error::ErrorBadRequest)?;
    if id == 0 {
        return Ok(HttpResponse::NotFound().finish());
    }
    Ok(HttpResponse::Ok().body(format!("{id} {}", session.user_id())))
}

#[verify_session]
async fn opaque(session: SessionContainer) -> impl Responder {
    session.user_id().to_owned()
}

#[verify_session]
async fn plain_string(session: SessionContainer) -> String {
    session.user_id().to_owned()
}

fn main() {
    let _app = App::new()
        .route("/a/{id}", web::get().to(fallible))
        .route("/b", web::get().to(opaque))
        .route("/c", web::get().to(plain_string));
}
