use actix_web::HttpResponse;
use sessionward::{SessionContainer, verify_session};

#[verify_session(required: false)]
async fn me(session: Option<SessionContainer>) -> HttpResponse {
    HttpResponse::Ok().body(format!("{}", session.is_some()))
}

fn main() {}
