//! Without a session parameter the route is only guarded.
#![deny(warnings)]

use actix_web::{App, HttpResponse, web};
use sessionward::claims::EmailVerified;
use sessionward::verify_session;

#[verify_session(claims = [EmailVerified])]
async fn guard_only(path: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().body(path.into_inner().to_string())
}

#[verify_session]
async fn no_params() -> &'static str {
    "ok"
}

#[verify_session(required = false)]
async fn optional_guard() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

fn main() {
    let _app = App::new()
        .service(web::resource("/x/{id}").route(web::get().to(guard_only)))
        .service(web::resource("/y").route(web::get().to(no_params)))
        .service(web::resource("/w").route(web::get().to(optional_guard)));
}
