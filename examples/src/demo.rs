//! The demo backend: an actix-web server whose sessions come from the embedded core. It is
//! the backend the official SuperTokens frontend SDK talks to in our browser tests.
//!
//! Environment: `PORT` (3001), `DATA_DIR` (`./demo-data`), `API_DOMAIN`
//! (`http://localhost:$PORT`), `WEBSITE_DOMAIN` (`http://localhost:3000`),
//! `ACCESS_TOKEN_VALIDITY_SECS` (3600), `REFRESH_TOKEN_VALIDITY_SECS` (8640000),
//! `ANTI_CSRF` (`VIA_TOKEN`, `VIA_CUSTOM_HEADER` or `NONE`; default: decided by the domains),
//! `VERIFIED_TOKEN_CACHE` (`on` = 10 000 tokens, `off` or a capacity; default: the library's,
//! on with 10 000; used by `bench/load.sh`).
//! `DATABASE_URL` (`postgres://…`: the embedded core on PostgreSQL, shared by every instance,
//! instead of `DATA_DIR`; TLS as its `sslmode` and `sslrootcert` say) and `DATABASE_POOL_SIZE`
//! (16: the most connections per instance). `CORE_URI` (a SuperTokens Core, `;`-separated cores, instead of the
//! embedded core) and `CORE_API_KEY`. `SESSION_EXPIRED_STATUS` (401; 440 for the older SuperTokens contract).
//!
//! The app is wrapped in [`SessionMiddleware`] ([`middleware`]):
//! it sends the tokens of a session created in `/login`, whatever that handler returns, and
//! answers errors from `get_session` in `/legacy` with the configured statuses.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, Responder, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sessionward::prelude::*;
use sessionward::{AccessTokenPayload, AntiCsrf, SessionConfig, SessionMiddleware, Tenants};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Login {
    pub(crate) user_id: String,
}

/// Unprotected: the baseline for benchmarks.
#[get("/health")]
async fn health() -> impl Responder {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Creates a session for any user id (a real app checks credentials first). A plain
/// response: the middleware adds the new session's tokens.
#[post("/login")]
async fn login(req: HttpRequest, body: web::Json<Login>) -> Result<HttpResponse, SessionError> {
    let user_id = body.user_id.trim();
    if user_id.is_empty() || user_id.len() > 256 {
        return Ok(HttpResponse::BadRequest()
            .json(json!({"message": "userId must be 1 to 256 characters"})));
    }
    let session = create_new_session(&req, user_id, json!({})).await?;
    Ok(HttpResponse::Ok().json(json!({"userId": session.user_id()})))
}

/// Requires a session, written as the older SuperTokens docs write `getSession`: a plain
/// handler that verifies first and returns errors with `?`. With `SESSION_EXPIRED_STATUS=440`
/// an expired token gets 440 `{"message":"try refresh token"}` here as on the macro routes.
#[get("/legacy")]
async fn legacy(req: HttpRequest) -> Result<HttpResponse, SessionError> {
    let session = get_session(&req, &VerifyOptions::new(true)).await?;
    let user_id = session.as_ref().map(SessionContainer::user_id);
    Ok(HttpResponse::Ok().json(json!({ "userId": user_id })))
}

/// What the protected routes answer: serialised straight from the session, no copy; the
/// payload's JSON text is made once per access token.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserBody<'s> {
    user_id: &'s str,
    session_handle: &'s str,
    #[serde(serialize_with = "raw_json")]
    access_token_payload: AccessTokenPayload,
}

fn raw_json<S: serde::Serializer>(payload: &AccessTokenPayload, out: S) -> Result<S::Ok, S::Error> {
    payload.as_raw_json().serialize(out)
}

pub(crate) fn user_json(session: &SessionContainer) -> UserBody<'_> {
    UserBody {
        user_id: session.user_id(),
        session_handle: session.handle(),
        access_token_payload: session.access_token_payload(),
    }
}

/// "Sign out everywhere": revokes every session of the caller's user in every tenant (the other
/// devices' refreshes then fail) and clears this device's tokens; answers how many were revoked.
#[post("/logout-everywhere")]
#[verify_session]
async fn logout_everywhere(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    let revoked = session
        .config()
        .revoke_all_sessions_for_user(session.user_id(), Tenants::All)
        .await?;
    session.revoke_session().await?;
    Ok(HttpResponse::Ok().json(json!({"revoked": revoked.len()})))
}

/// Requires a session.
#[get("/user")]
#[verify_session]
async fn user(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().json(user_json(&session))
}

/// Requires a session (POST: anti-CSRF applies to cookie sessions).
#[verify_session]
#[post("/user")]
async fn user_post(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().json(user_json(&session))
}

/// Works with or without a session.
#[get("/optional")]
#[verify_session(required = false)]
async fn optional(session: Option<SessionContainer>) -> impl Responder {
    HttpResponse::Ok().json(json!({"userId": session.as_ref().map(|s| s.user_id())}))
}

/// Requires the `admin` role, which demo users do not have: 403 with the claim failure.
#[get("/admin")]
#[verify_session(claims = [Roles::includes("admin")])]
async fn admin(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().json(user_json(&session))
}

/// An environment variable parsed as `T`, or `default` when unset.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> std::io::Result<T> {
    match std::env::var(name) {
        Ok(value) => value.trim().parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{name}={value:?} is not valid"),
            )
        }),
        Err(_) => Ok(default),
    }
}

/// The session config from the environment variables above.
pub fn config_from_env(port: u16) -> std::io::Result<SessionConfig> {
    let mut builder = SessionConfig::builder()
        .data_dir(env_or("DATA_DIR", String::from("./demo-data"))?)
        .api_domain(env_or("API_DOMAIN", format!("http://localhost:{port}"))?)
        .website_domain(env_or(
            "WEBSITE_DOMAIN",
            String::from("http://localhost:3000"),
        )?)
        .access_token_validity(Duration::from_secs(env_or(
            "ACCESS_TOKEN_VALIDITY_SECS",
            3600,
        )?))
        .refresh_token_validity(Duration::from_secs(env_or(
            "REFRESH_TOKEN_VALIDITY_SECS",
            100 * 24 * 3600,
        )?));
    if let Ok(mode) = std::env::var("ANTI_CSRF") {
        builder = builder.anti_csrf(match mode.trim() {
            "VIA_TOKEN" => AntiCsrf::ViaToken,
            "VIA_CUSTOM_HEADER" => AntiCsrf::ViaCustomHeader,
            "NONE" => AntiCsrf::None,
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("ANTI_CSRF={other:?}: expected VIA_TOKEN, VIA_CUSTOM_HEADER or NONE"),
                ));
            }
        });
    }
    // bench/load.sh: the verified-token cache on, off, or with a capacity.
    match std::env::var("VERIFIED_TOKEN_CACHE")
        .as_deref()
        .map(str::trim)
    {
        Err(_) => {}
        Ok("on") => builder = builder.verified_token_cache(10_000),
        Ok("off") => builder = builder.disable_verified_token_cache(),
        Ok(_) => builder = builder.verified_token_cache(env_or("VERIFIED_TOKEN_CACHE", 0)?),
    }
    builder = builder.session_expired_status(env_or("SESSION_EXPIRED_STATUS", 401u16)?);
    // Several instances share sessions and keys through one PostgreSQL database.
    if let Ok(url) = std::env::var("DATABASE_URL") {
        builder = builder.postgres(url);
        if std::env::var_os("DATABASE_POOL_SIZE").is_some() {
            builder = builder.postgres_pool_size(env_or("DATABASE_POOL_SIZE", 0)?);
        }
    }
    // A SuperTokens Core (or sessionward-core) instead of the embedded core: `CORE_URI`
    // (`;`-separated cores) and `CORE_API_KEY`; the token lifetimes are then the core's.
    if let Ok(uri) = std::env::var("CORE_URI") {
        let api_key = std::env::var("CORE_API_KEY").ok();
        builder = builder
            .supertokens_core(&uri, api_key.as_deref())
            .map_err(std::io::Error::other)?;
    }
    builder.build().map_err(std::io::Error::other)
}

/// CORS for exactly `website_domain`, with credentials and the SuperTokens headers.
pub fn cors(website_domain: &str) -> actix_cors::Cors {
    actix_cors::Cors::default()
        .allowed_origin(website_domain.trim_end_matches('/'))
        .allowed_methods(["GET", "POST", "PUT", "DELETE", "OPTIONS"])
        .allowed_headers(sessionward::cors::allowed_headers())
        .expose_headers(sessionward::cors::exposed_headers())
        .supports_credentials()
        .max_age(3600)
}

/// The session middleware of the demo app: session changes on every response, and the
/// configured answers for session errors.
pub fn middleware(config: &SessionConfig) -> SessionMiddleware {
    SessionMiddleware::new(config.clone())
}

/// Registers the demo's routes (refresh, sign-out, the JWKS and the OpenID discovery document
/// come from `config.endpoints()`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(health)
        .service(logout_everywhere)
        .service(login)
        .service(legacy)
        .service(user)
        .service(user_post)
        .service(optional)
        .service(admin);
}
