//! The generated items add no lint noise, even with strict lints; the handlers are public items
//! of a public module, as in a library.
#![deny(warnings)]
#![deny(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unused_qualifications,
    non_camel_case_types,
    dead_code,
    unused_results
)]

/// Handlers.
pub mod handlers {
    use actix_web::{HttpResponse, get, web};
    use sessionward::{SessionContainer, verify_session};

    /// A required session.
    #[verify_session]
    pub async fn me(session: SessionContainer) -> HttpResponse {
        HttpResponse::Ok().body(session.user_id().to_owned())
    }

    /// With a route attribute. actix moves the function into a function body, where `pub` is
    /// unreachable (with or without `#[verify_session]`), hence `pub(crate)`.
    #[get("/x")]
    #[verify_session(required = false)]
    pub(crate) async fn maybe(session: Option<SessionContainer>) -> HttpResponse {
        HttpResponse::Ok().body(format!("{}", session.is_some()))
    }

    /// Guard only.
    #[verify_session]
    pub async fn guard(path: web::Path<u32>) -> HttpResponse {
        HttpResponse::Ok().body(path.into_inner().to_string())
    }
}

fn main() {
    let _app = actix_web::App::new()
        .route("/me", actix_web::web::get().to(handlers::me))
        .route("/g/{id}", actix_web::web::get().to(handlers::guard))
        .service(handlers::maybe);
}
