//! The session type may be written with any path prefix, and `Option` with its full path.
#![deny(warnings)]

use actix_web::{App, HttpResponse, web};
use sessionward::verify_session;

#[verify_session]
async fn crate_path(session: sessionward::SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session]
async fn absolute_prelude_path(
    session: ::sessionward::prelude::SessionContainer,
) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session(required = false)]
async fn std_option(session: std::option::Option<sessionward::SessionContainer>) -> HttpResponse {
    HttpResponse::Ok().body(session.map(|s| s.user_id().to_owned()).unwrap_or_default())
}

#[verify_session(required = false)]
async fn core_option(
    session: ::core::option::Option<::sessionward::SessionContainer>,
) -> HttpResponse {
    HttpResponse::Ok().body(format!("{}", session.is_some()))
}

fn main() {
    let _app = App::new()
        .route("/a", web::get().to(crate_path))
        .route("/b", web::get().to(absolute_prelude_path))
        .route("/c", web::get().to(std_option))
        .route("/d", web::get().to(core_option));
}
