use actix_web::HttpResponse;
use session_guard::{SessionContainer, verify_session};

#[verify_session(claims = [session_guard::claims::EmailVerified, 42])]
async fn me(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

fn main() {}
