#![warn(dead_code, unreachable_pub)]
use actix_web::{HttpResponse, get, web};
use session_guard::{SessionContainer, verify_session};

#[verify_session]
async fn unused_handler(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[get("/x")]
#[verify_session]
async fn unused_get_above(session: SessionContainer, x: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session]
#[get("/y")]
async fn unused_get_below(session: SessionContainer) -> HttpResponse {
    let unused = 1;
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[verify_session]
async fn needless(session: SessionContainer) -> HttpResponse {
    return HttpResponse::Ok().body(session.user_id().to_owned());
}

fn main() {
    let _ = actix_web::web::get().to(needless);
}

mod m {
    use actix_web::{HttpResponse, get};
    use session_guard::{SessionContainer, verify_session};

    #[get("/z")]
    #[verify_session]
    pub async fn pub_get_above(session: SessionContainer) -> HttpResponse {
        HttpResponse::Ok().body(session.user_id().to_owned())
    }

    #[get("/w")]
    pub async fn pub_plain_actix(session: SessionContainer) -> HttpResponse {
        HttpResponse::Ok().body(session.user_id().to_owned())
    }

    #[verify_session]
    pub async fn pub_no_get(session: SessionContainer) -> HttpResponse {
        HttpResponse::Ok().body(session.user_id().to_owned())
    }
}
