use actix_web::{HttpResponse, web};
use sessionward::{SessionContainer, verify_session};

#[verify_session]
async fn show<T: std::fmt::Display + 'static>(
    session: SessionContainer,
    value: web::Path<T>,
) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", session.user_id(), value.into_inner()))
}

fn main() {}
