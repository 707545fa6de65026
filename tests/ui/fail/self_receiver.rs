use actix_web::HttpResponse;
use sessionward::{SessionContainer, verify_session};

struct Api;

impl Api {
    #[verify_session]
    async fn me(&self, session: SessionContainer) -> HttpResponse {
        HttpResponse::Ok().body(session.user_id().to_owned())
    }
}

fn main() {}
