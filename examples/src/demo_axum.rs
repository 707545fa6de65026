//! The demo backend on axum: the same routes, environment and answers as [`crate::demo`] (the
//! actix-web demo), so one test suite and the browser tests run against both.
//!
//! Environment: as [`crate::demo`] (`PORT` 3001, `DATA_DIR`, `API_DOMAIN`, `WEBSITE_DOMAIN`,
//! `ACCESS_TOKEN_VALIDITY_SECS`, `REFRESH_TOKEN_VALIDITY_SECS`, `ANTI_CSRF`, `CORE_URI`,
//! `CORE_API_KEY`, `SESSION_EXPIRED_STATUS`, `VERIFIED_TOKEN_CACHE`).

use axum::extract::rejection::JsonRejection;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, routing::post};
use serde_json::json;
use sessionward::axum::{SessionLayer, create_new_session, get_session, verify_session};
use sessionward::claims::Roles;
use sessionward::{SessionConfig, SessionContainer, SessionError, Tenants, VerifyOptions};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::demo::{Login, user_json};

/// Unprotected: the baseline for benchmarks.
async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Creates a session for any user id (a real app checks credentials first); the layer sends
/// the tokens.
async fn login(
    parts: Parts,
    body: Result<Json<Login>, JsonRejection>,
) -> Result<Response, SessionError> {
    // Any unreadable body is a 400, as on the actix demo (axum says 422 for a wrong type).
    let body = match body {
        Ok(Json(body)) => body,
        Err(rejection) => {
            let message = json!({"message": rejection.body_text()});
            return Ok((StatusCode::BAD_REQUEST, Json(message)).into_response());
        }
    };
    let user_id = body.user_id.trim();
    if user_id.is_empty() || user_id.len() > 256 {
        let message = json!({"message": "userId must be 1 to 256 characters"});
        return Ok((StatusCode::BAD_REQUEST, Json(message)).into_response());
    }
    let session = create_new_session(&parts, user_id, json!({})).await?;
    Ok(Json(json!({"userId": session.user_id()})).into_response())
}

/// Requires a session (on POST, anti-CSRF applies to cookie sessions).
async fn user(session: SessionContainer) -> Response {
    json_response(&user_json(&session))
}

/// The response `Json(body)` gives, written into a buffer the size of a demo user's body
/// (about 400 bytes) from the start: `Json` starts at 128 bytes and grows twice on the way.
fn json_response(body: &impl serde::Serialize) -> Response {
    let mut buffer = Vec::with_capacity(512);
    match serde_json::to_writer(&mut buffer, body) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            buffer,
        )
            .into_response(),
        // As `Json` answers a body it cannot serialise.
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// Requires the `admin` role, which demo users do not have: 403 with the claim failure.
#[verify_session(claims = [Roles::includes("admin")])]
async fn admin(session: SessionContainer) -> Response {
    Json(user_json(&session)).into_response()
}

/// "Sign out everywhere", as on the actix demo.
#[verify_session]
async fn logout_everywhere(
    session: SessionContainer,
) -> Result<Json<serde_json::Value>, SessionError> {
    let revoked = session
        .config()
        .revoke_all_sessions_for_user(session.user_id(), Tenants::All)
        .await?;
    session.revoke_session().await?;
    Ok(Json(json!({"revoked": revoked.len()})))
}

/// Works with or without a session.
async fn optional(session: Option<SessionContainer>) -> Json<serde_json::Value> {
    Json(json!({"userId": session.as_ref().map(SessionContainer::user_id)}))
}

/// Requires a session, written as the older SuperTokens docs write `getSession`.
async fn legacy(mut parts: Parts) -> Result<Json<serde_json::Value>, SessionError> {
    let session = get_session(&mut parts, &VerifyOptions::new(true)).await?;
    Ok(Json(
        json!({"userId": session.as_ref().map(SessionContainer::user_id)}),
    ))
}

/// The `Vary` value tower-http's `CorsLayer` writes by default: the request headers a CORS
/// answer depends on.
const CORS_VARY: &str = "origin, access-control-request-method, access-control-request-headers";

/// `app` behind [`cors`], every response (preflights included) varying on the CORS request
/// headers.
pub fn with_cors(app: Router, website_domain: &str) -> Router {
    // `CorsLayer` joins its `Vary` names into a new header value, with allocations, on every
    // request; the list never changes, so it is appended here as one constant value instead.
    let vary = SetResponseHeaderLayer::appending(header::VARY, HeaderValue::from_static(CORS_VARY));
    app.layer((vary, cors(website_domain).vary(Vec::<HeaderName>::new())))
}

/// CORS for exactly `website_domain`, with credentials and the SuperTokens headers.
pub fn cors(website_domain: &str) -> CorsLayer {
    let origin = HeaderValue::from_str(website_domain.trim_end_matches('/'))
        .map_or_else(|_| AllowOrigin::list([]), AllowOrigin::exact);
    let names = |list: &[&'static str]| -> Vec<HeaderName> {
        list.iter().map(|h| HeaderName::from_static(h)).collect()
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(names(&sessionward::cors::allowed_headers()))
        .expose_headers(names(&sessionward::cors::exposed_headers()))
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(3600))
}

/// The demo's routes under the session layer (which serves refresh and sign-out).
pub fn app(config: &SessionConfig) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/login", post(login))
        .route("/user", get(user).post(user))
        .route("/optional", get(optional))
        .route("/legacy", get(legacy))
        .route("/admin", get(admin))
        .route("/logout-everywhere", post(logout_everywhere))
        .layer(SessionLayer::new(config.clone()))
}
