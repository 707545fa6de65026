//! An actix route attribute above ours: actix moves our whole function into its `register`.
#![deny(warnings)]

use actix_web::{App, HttpResponse, Responder, get, post, web};
use sessionward::claims::Roles;
use sessionward::{SessionContainer, verify_session};

#[get("/me")]
#[verify_session]
async fn me(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[post("/items/{id}")]
#[verify_session(claims = [Roles::includes("editor")])]
async fn update(id: web::Path<u32>, session: SessionContainer, body: String) -> HttpResponse {
    HttpResponse::Ok().body(format!("{id} {} {body}", session.user_id()))
}

#[get("/guarded")]
#[verify_session]
async fn guarded() -> HttpResponse {
    HttpResponse::Ok().finish()
}

fn main() {
    let _app = App::new().service(me).service(update).service(guarded);
}
