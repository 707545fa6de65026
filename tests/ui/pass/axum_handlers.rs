//! The axum attribute: every session parameter form, other extractors at any position, a body
//! extractor last, and the handlers accepted by axum's router.
#![deny(warnings)]

use axum::extract::{Path, Query};
use axum::routing::{get, post};
use axum::{Json, Router};
use sessionward::SessionContainer;
use sessionward::axum::verify_session;
use sessionward::claims::Roles;

#[verify_session]
async fn me(session: SessionContainer) -> String {
    session.user_id().to_owned()
}

#[verify_session(required = false)]
async fn home(Query(q): Query<Vec<(String, String)>>, session: Option<SessionContainer>) -> String {
    format!("{} {}", q.len(), session.is_some())
}

#[verify_session(claims = [Roles::includes("admin")], anti_csrf = true)]
async fn command(Path(id): Path<u32>, Json(body): Json<serde_json::Value>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": id, "body": body }))
}

fn main() {
    let _app: Router = Router::new()
        .route("/me", get(me))
        .route("/", get(home))
        .route("/commands/{id}", post(command));
}
