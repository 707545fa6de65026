//! Parameters keep their patterns: destructuring, `mut`, `_`, tuples.
#![deny(warnings)]

use actix_web::{App, HttpResponse, web};
use serde::Deserialize;
use sessionward::{SessionContainer, verify_session};

#[derive(Deserialize)]
struct Cmd {
    name: String,
}

#[verify_session]
async fn destructured(web::Json(cmd): web::Json<Cmd>, session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", cmd.name, session.user_id()))
}

#[verify_session]
async fn mutable(mut session: SessionContainer) -> HttpResponse {
    session = session.clone();
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session]
async fn ignored(_: SessionContainer, id: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().body(id.to_string())
}

#[verify_session]
async fn tuple(
    (path, query): (web::Path<u32>, web::Query<Vec<(String, String)>>),
    _session: SessionContainer,
) -> HttpResponse {
    HttpResponse::Ok().body(format!("{path} {}", query.len()))
}

fn main() {
    let _app = App::new()
        .route("/a", web::post().to(destructured))
        .route("/b", web::get().to(mutable))
        .route("/c/{id}", web::get().to(ignored))
        .route("/d/{id}", web::get().to(tuple));
}
