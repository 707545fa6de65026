use actix_web::HttpResponse;
use sessionward::{SessionContainer, verify_session};

#[verify_session(claims = [sessionward::claims::EmailVerified, 42])]
async fn me(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

fn main() {}
