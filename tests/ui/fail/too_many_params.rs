use actix_web::{HttpRequest, HttpResponse};
use sessionward::{SessionContainer, verify_session};

type R = HttpRequest;

#[verify_session]
async fn many(
    session: SessionContainer,
    a: R,
    b: R,
    c: R,
    d: R,
    e: R,
    f: R,
    g: R,
    h: R,
    i: R,
    j: R,
    k: R,
    l: R,
    m: R,
    n: R,
    o: R,
    p: R,
    q: R,
) -> HttpResponse {
    let all = [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q];
    HttpResponse::Ok().body(format!("{} {}", all.len(), session.user_id()))
}

fn main() {}
