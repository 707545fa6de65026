//! An unregistered handler still gets a `dead_code` warning: the rewritten function keeps the
//! user's parenthesis and brace spans, from which rustc derives the item's span (an item spanned
//! inside a macro expansion is never linted). `#[expect]` turns a missing warning into an error.
#![deny(warnings)]
// trybuild passes `-A dead_code`; take it back.
#![warn(dead_code)]

use actix_web::{HttpResponse, web};
use sessionward::claims::EmailVerified;
use sessionward::{SessionContainer, verify_session};

#[verify_session]
#[expect(dead_code)]
async fn never_registered(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[expect(dead_code)]
#[verify_session(claims = [EmailVerified])]
pub(crate) async fn guard_only_never_registered(id: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().body(id.into_inner().to_string())
}

#[verify_session]
async fn registered(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

fn main() {
    let _app = actix_web::App::new().route("/", web::get().to(registered));
}
