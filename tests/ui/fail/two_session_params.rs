use actix_web::HttpResponse;
use session_guard::{SessionContainer, verify_session};

#[verify_session]
async fn me(session: SessionContainer, again: session_guard::SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", session.user_id(), again.user_id()))
}

fn main() {}
