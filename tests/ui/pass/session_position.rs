//! The session parameter is found by its type at any position, alongside other extractors.
#![deny(warnings)]

use actix_web::{App, HttpResponse, web};
use serde::Deserialize;
use sessionward::{SessionContainer, verify_session};

#[derive(Deserialize)]
struct Cmd {
    name: String,
}

#[verify_session]
async fn only(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session]
async fn first(session: SessionContainer, id: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", session.user_id(), id.into_inner()))
}

#[verify_session]
async fn middle(
    id: web::Path<u32>,
    session: SessionContainer,
    body: web::Json<Cmd>,
) -> HttpResponse {
    HttpResponse::Ok().body(format!("{id} {} {}", session.user_id(), body.name))
}

#[verify_session]
async fn last(id: web::Path<u32>, body: web::Json<Cmd>, session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(format!("{id} {} {}", body.name, session.user_id()))
}

fn main() {
    let _app = App::new()
        .route("/only", web::get().to(only))
        .route("/first/{id}", web::get().to(first))
        .route("/middle/{id}", web::post().to(middle))
        .route("/last/{id}", web::post().to(last));
}
