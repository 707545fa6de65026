//! An actix route attribute below ours: we re-emit it on the rewritten function.
#![deny(warnings)]

use actix_web::{App, HttpResponse, Responder, get, post, web};
use sessionward::claims::Roles;
use sessionward::{SessionContainer, verify_session};

#[verify_session]
#[get("/me")]
async fn me(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session(claims = [Roles::includes("editor")])]
#[post("/items/{id}")]
async fn update(id: web::Path<u32>, session: SessionContainer, body: String) -> HttpResponse {
    HttpResponse::Ok().body(format!("{id} {} {body}", session.user_id()))
}

#[verify_session(required = false)]
#[get("/maybe")]
async fn maybe(session: Option<SessionContainer>) -> String {
    session.map(|s| s.user_id().to_owned()).unwrap_or_default()
}

fn main() {
    let _app = App::new().service(me).service(update).service(maybe);
}
