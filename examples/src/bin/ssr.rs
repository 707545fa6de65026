//! Server-rendered HTML: pages redirect to a login page instead of answering 401, and an
//! expired session goes through a small refresh page and comes back.
//!
//! ```text
//! cargo run -p sessionward-examples --bin ssr
//! ```
//!
//! Then open `http://localhost:3005/`.
//!
//! - `GET /`: checked with [`SessionConfig::ssr_session`] (never refreshes, never calls the
//!   core): the page for a valid session, a redirect to `/login` without one, and to
//!   `/refresh?back=/` when the access token has expired.
//! - `GET /account`: a `#[verify_session]` route; the config's `on_unauthorised` and
//!   `on_try_refresh_token` handlers turn its 401s into the same redirects.
//! - `GET /login`, `POST /login` (a form): signs in with cookies and redirects to `/`.
//! - `GET /refresh?back=..`: a page whose script calls `POST /auth/session/refresh` (the
//!   refresh cookie is scoped to that path) and goes back, or to `/login` if that fails.
//! - `POST /logout`: signs out (`POST /auth/signout` works too).
//!
//! Sessions use cookies only ([`TokenTransferMethod::Cookie`]): a browser navigating between
//! pages sends no `Authorization` header.
//!
//! Environment: `PORT` (3005), `DATA_DIR` (`./ssr-data`), `ACCESS_TOKEN_VALIDITY_SECS` (3600).

use std::time::Duration;

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, Responder, get, post, web};
use serde::Deserialize;
use serde_json::json;
use sessionward::prelude::*;
use sessionward::{ErrorResponse, SsrSession, TokenTransferMethod};
use sessionward_examples::{demo, support};

/// A `303 See Other` to `location` (browsers follow it with a GET).
fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The path and query of `req`, to come back to after a refresh or a login.
fn here(req: &HttpRequest) -> String {
    let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
    percent_encode(path_and_query)
}

/// Percent-encodes everything but unreserved characters (enough for a query value).
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             </head><body>{body}</body></html>"
        ))
}

#[get("/")]
async fn home(req: HttpRequest) -> Result<HttpResponse, SessionError> {
    let config = SessionConfig::from_request(&req)?;
    Ok(match config.ssr_session(&req).await {
        SsrSession::Valid { user_id, .. } => page(
            "Home",
            &format!(
                "<h1>Hello, {}</h1><p><a href=\"/account\">Account</a></p>\
                 <form method=\"post\" action=\"/logout\"><button>Sign out</button></form>",
                escape(&user_id)
            ),
        ),
        SsrSession::RefreshNeeded => redirect(&format!("/refresh?back={}", here(&req))),
        SsrSession::NoSession => redirect("/login"),
    })
}

/// Guarded by the macro: the config's error handlers answer its failures with redirects.
#[get("/account")]
#[verify_session]
async fn account(session: SessionContainer) -> impl Responder {
    page(
        "Account",
        &format!(
            "<h1>Account</h1><p>User {}, tenant {}</p><p><a href=\"/\">Home</a></p>",
            escape(session.user_id()),
            escape(session.tenant_id())
        ),
    )
}

#[get("/login")]
async fn login_page() -> HttpResponse {
    page(
        "Sign in",
        "<h1>Sign in</h1><form method=\"post\" action=\"/login\">\
         <label>User <input name=\"userId\" required></label> <button>Sign in</button></form>",
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginForm {
    user_id: String,
}

#[post("/login")]
async fn login(
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<WithSession<HttpResponse>, SessionError> {
    let user_id = form.user_id.trim();
    if user_id.is_empty() {
        return Ok(WithSession::new(redirect("/login")));
    }
    // Check the password first in a real app.
    create_new_session(&req, user_id, json!({})).await?;
    Ok(WithSession::new(redirect("/")))
}

#[derive(Deserialize)]
struct Back {
    back: Option<String>,
}

/// Refreshes in the browser (the refresh token is an HttpOnly cookie for this path only),
/// then goes back. With the SuperTokens frontend SDK on your pages, call
/// `Session.attemptRefreshingSession()` instead.
#[get("/refresh")]
async fn refresh_page(query: web::Query<Back>) -> HttpResponse {
    // Only local paths, so the page cannot be used to redirect elsewhere.
    let back = query
        .back
        .as_deref()
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or("/");
    let back = serde_json::to_string(back).unwrap_or_else(|_| "\"/\"".into());
    page(
        "Refreshing",
        &format!(
            "<p>Refreshing your session…</p><script>\
             fetch('/auth/session/refresh', {{method: 'POST', credentials: 'same-origin', \
             headers: {{rid: 'session'}}}})\
             .then((r) => location.replace(r.ok && !r.redirected ? {} : '/login'), \
             () => location.replace('/login'));\
             </script>",
            back.replace('<', "\\u003c")
        ),
    )
}

#[post("/logout")]
#[verify_session]
async fn logout(session: SessionContainer) -> Result<HttpResponse, SessionError> {
    session.revoke_session().await?;
    Ok(redirect("/login"))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    support::init_tracing();
    let port = support::port(3005)?;
    let config = SessionConfig::builder()
        .data_dir(support::data_dir("./ssr-data")?)
        .api_domain(format!("http://localhost:{port}"))
        .website_domain(format!("http://localhost:{port}"))
        .token_transfer_method(TokenTransferMethod::Cookie)
        .access_token_validity(Duration::from_secs(demo::env_or(
            "ACCESS_TOKEN_VALIDITY_SECS",
            3600,
        )?))
        // HTML routes: a redirect instead of a JSON 401.
        .on_unauthorised(|_, _| ErrorResponse::new(303).with_header("location", "/login"))
        .on_try_refresh_token(|req, _| {
            let back = percent_encode(&req.path_and_query());
            ErrorResponse::new(303).with_header("location", format!("/refresh?back={back}"))
        })
        .build()
        .map_err(std::io::Error::other)?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            .service(config.endpoints())
            .service(home)
            .service(account)
            .service(login_page)
            .service(login)
            .service(refresh_page)
            .service(logout)
    })
    .bind(("127.0.0.1", port))?;
    support::announce(&server.addrs());
    server.run().await
}
