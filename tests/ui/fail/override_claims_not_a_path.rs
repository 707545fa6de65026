use actix_web::HttpResponse;
use sessionward::{SessionContainer, verify_session};

#[verify_session(override_claims = |global, _| global.to_vec())]
async fn me(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

fn main() {}
