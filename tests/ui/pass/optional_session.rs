//! `required = false` with an `Option<SessionContainer>` parameter.
#![deny(warnings)]

use actix_web::{App, HttpResponse, Responder, get, web};
use sessionward::{SessionContainer, verify_session};

#[get("/")]
#[verify_session(required = false)]
async fn home(session: Option<SessionContainer>) -> impl Responder {
    match session {
        Some(session) => HttpResponse::Ok().body(format!("hello {}", session.user_id())),
        None => HttpResponse::Ok().body("hello stranger"),
    }
}

#[verify_session(required = false)]
async fn with_query(
    q: web::Query<Vec<(String, String)>>,
    session: Option<SessionContainer>,
) -> String {
    format!("{} {}", q.len(), session.is_some())
}

fn main() {
    let _app = App::new()
        .service(home)
        .route("/q", web::get().to(with_query));
}
