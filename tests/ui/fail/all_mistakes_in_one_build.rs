// Every mistake is reported in the same build, each on its own token.
use actix_web::HttpResponse;
use sessionward::{SessionContainer, verify_session};

#[verify_session(requird = true, check_database = "yes", claims = [42])]
fn me(session: SessionContainer, again: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", session.user_id(), again.user_id()))
}

fn main() {}
