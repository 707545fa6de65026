//! Every form of `claims` together with the other options.
#![deny(warnings)]

use actix_web::{App, HttpResponse, web};
use sessionward::claims::{EmailVerified, Roles};
use sessionward::{SessionContainer, verify_session};

#[verify_session(
    claims = [EmailVerified::is_verified(), Roles::includes("admin")],
    check_database = true,
    anti_csrf = false,
)]
async fn expressions(
    body: web::Json<serde_json::Value>,
    session: sessionward::SessionContainer,
) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", body.0, session.user_id()))
}

#[verify_session(claims = [EmailVerified])]
async fn bare_type(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session(claims = [sessionward::claims::EmailVerified, Roles::includes_any(["a", "b"]),])]
async fn paths_and_trailing_comma(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session(claims = [Roles::includes("admin").with_id("admin-role")])]
async fn method_call(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session(claims = [], required = true, anti_csrf = true, check_database = false)]
async fn empty_list(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session(required = false, claims = [EmailVerified::is_verified()])]
async fn optional_with_claims(session: Option<SessionContainer>) -> HttpResponse {
    HttpResponse::Ok().body(format!("{}", session.is_some()))
}

#[verify_session()]
async fn empty_parentheses(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

/// A claim entry forwarded by `macro_rules!` arrives wrapped in an invisible group.
macro_rules! guarded_by {
    ($name:ident, $claim:expr) => {
        #[verify_session(claims = [$claim])]
        async fn $name(session: SessionContainer) -> HttpResponse {
            HttpResponse::Ok().body(session.user_id().to_owned())
        }
    };
}

guarded_by!(from_macro, Roles::includes("ops"));

fn main() {
    let _app = App::new()
        .route("/a", web::post().to(expressions))
        .route("/b", web::get().to(bare_type))
        .route("/c", web::get().to(paths_and_trailing_comma))
        .route("/d", web::get().to(method_call))
        .route("/e", web::get().to(empty_list))
        .route("/f", web::get().to(optional_with_claims))
        .route("/g", web::get().to(empty_parentheses))
        .route("/h", web::get().to(from_macro));
}
