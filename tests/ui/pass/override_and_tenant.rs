//! `override_claims` with a function path and `tenant_param` with a path parameter name.
#![deny(warnings)]

use actix_web::{App, HttpResponse, get};
use sessionward::claims::{EmailVerified, ValidatorRef};
use sessionward::{SessionContainer, verify_session};

fn without_email_check(global: &[ValidatorRef], _session: &SessionContainer) -> Vec<ValidatorRef> {
    global.iter().filter(|v| v.id() != "st-ev").cloned().collect()
}

mod policy {
    use sessionward::SessionContainer;
    use sessionward::claims::ValidatorRef;

    pub fn none(_: &[ValidatorRef], _: &SessionContainer) -> Vec<ValidatorRef> {
        Vec::new()
    }
}

#[get("/t/{tenant}/items")]
#[verify_session(override_claims = without_email_check, tenant_param = "tenant")]
async fn items(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.tenant_id().to_owned())
}

#[verify_session(override_claims = policy::none, claims = [EmailVerified])]
#[get("/resend")]
async fn resend(session: SessionContainer) -> HttpResponse {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

fn main() {
    let _ = App::new().service(items).service(resend);
}
