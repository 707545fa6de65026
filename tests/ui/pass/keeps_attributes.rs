//! Doc comments, lint attributes (outer and inner) and visibility are kept: with `deny(warnings)`
//! the unused variables below would fail the build if an `allow` were dropped.
#![deny(warnings)]

mod routes {
    use actix_web::{HttpResponse, get};
    use sessionward::{SessionContainer, verify_session};

    /// Returns the current user.
    ///
    /// More docs.
    #[verify_session]
    #[allow(unused_variables)]
    pub async fn outer_allow(session: SessionContainer, unused: String) -> HttpResponse {
        HttpResponse::Ok().body(session.user_id().to_owned())
    }

    #[verify_session]
    pub(crate) async fn inner_allow(session: SessionContainer, unused: String) -> HttpResponse {
        #![allow(unused_variables)]
        HttpResponse::Ok().body(session.user_id().to_owned())
    }

    /// Docs above the route attribute.
    #[get("/docs")]
    #[doc = "and an explicit doc attribute"]
    #[verify_session]
    #[allow(clippy::needless_return)]
    pub async fn with_get(session: SessionContainer) -> HttpResponse {
        return HttpResponse::Ok().body(session.user_id().to_owned());
    }

    #[verify_session]
    #[must_use]
    pub(super) async fn must_use(session: SessionContainer) -> HttpResponse {
        HttpResponse::Ok().body(session.user_id().to_owned())
    }

    #[cfg(any())]
    #[verify_session]
    pub async fn configured_out(session: SessionContainer) -> HttpResponse {
        HttpResponse::Ok().body(session.user_id().to_owned())
    }
}

fn main() {
    let _app = actix_web::App::new()
        .route("/a", actix_web::web::get().to(routes::outer_allow))
        .route("/b", actix_web::web::get().to(routes::inner_allow))
        .route("/c", actix_web::web::get().to(routes::must_use))
        .service(routes::with_get);
}
