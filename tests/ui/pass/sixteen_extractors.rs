//! Sixteen extractors besides the session (the most `#[verify_session]` supports).
#![deny(warnings)]

use actix_web::{App, HttpRequest, HttpResponse, web};
use sessionward::{SessionContainer, verify_session};

type R = HttpRequest;

#[verify_session]
#[allow(clippy::too_many_arguments)]
async fn many(
    a: R,
    b: R,
    c: R,
    d: R,
    e: R,
    f: R,
    g: R,
    h: R,
    session: SessionContainer,
    i: R,
    j: R,
    k: R,
    l: R,
    m: R,
    n: R,
    o: R,
    p: R,
) -> HttpResponse {
    let all = [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p];
    HttpResponse::Ok().body(format!("{} {}", all.len(), session.user_id()))
}

fn main() {
    let _app = App::new().route("/", web::get().to(many));
}
