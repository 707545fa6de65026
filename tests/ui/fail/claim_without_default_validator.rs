use actix_web::HttpResponse;
use sessionward::claims::Roles;
use sessionward::{SessionContainer, verify_session};

#[verify_session(claims = [Roles])]
async fn admin(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

fn main() {
    let _ = actix_web::web::get().to(admin);
}
