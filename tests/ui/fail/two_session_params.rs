use actix_web::HttpResponse;
use sessionward::{SessionContainer, verify_session};

#[verify_session]
async fn me(session: SessionContainer, again: sessionward::SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", session.user_id(), again.user_id()))
}

fn main() {}
