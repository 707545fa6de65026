//! actix's `#[routes]` with several method attributes, above and below ours.
#![deny(warnings)]

use actix_web::{App, HttpResponse, routes};
use sessionward::{SessionContainer, verify_session};

#[routes]
#[get("/a")]
#[post("/a")]
#[verify_session]
async fn routes_above(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session]
#[routes]
#[get("/b")]
#[post("/b")]
async fn routes_below(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[routes]
#[verify_session(required = false)]
#[get("/c")]
#[post("/c")]
async fn routes_around(session: Option<SessionContainer>) -> HttpResponse {
    HttpResponse::Ok().body(format!("{}", session.is_some()))
}

fn main() {
    let _app = App::new()
        .service(routes_above)
        .service(routes_below)
        .service(routes_around);
}
