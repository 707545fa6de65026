use actix_web::{FromRequest, HttpResponse};
use sessionward::{SessionContainer, verify_session};

#[verify_session]
async fn me(session: SessionContainer, _extra: impl FromRequest) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

fn main() {}
