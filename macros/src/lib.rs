//! The `#[verify_session]` attribute of [sessionward].
//!
//! Use it through the `sessionward` crate, which re-exports it as
//! `sessionward::verify_session`: the expansion names items of that crate
//! (`::sessionward::__private::…`), so this crate alone is of no use.
//!
//! Set the environment variable `SESSIONWARD_MACROS_DEBUG` while compiling to print every
//! expansion to stderr (cargo does not track it: touch the file or `cargo clean -p` your crate to
//! see it again).
//!
//! [sessionward]: https://docs.rs/sessionward

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod args;
mod errors;
mod expand;
mod handler;
mod paths;
mod validate;

/// Verifies the request's session before an actix-web handler runs.
///
/// The attribute goes on an `async fn` request handler. Before any of the handler's extractors
/// run, the session is verified (access token, anti-CSRF check, optional database check, claim
/// validators); on failure the request is answered with 401 or 403 and the handler never runs.
/// The session itself is handed to the handler through a parameter of type `SessionContainer`
/// (or `Option<SessionContainer>`), at any position.
///
/// # Syntax
///
/// ```text
/// #[verify_session]
/// #[verify_session(option = value, ...)]
/// <attributes> <visibility> async fn <name>(<parameters>) [-> <return type>] { <body> }
/// ```
///
/// Options are `name = value` pairs separated by commas, each at most once, in any order; a
/// trailing comma is allowed. `#[verify_session]` and `#[verify_session()]` use every default.
///
/// The session parameter is found by its type:
///
/// - `SessionContainer` (with any path prefix, such as `sessionward::SessionContainer`): the
///   session is required. This needs `required = true`, the default.
/// - `Option<SessionContainer>` (also `std::option::Option`/`core::option::Option`): `None` when
///   the request has no session. This needs `required = false`.
/// - No such parameter: the route is only guarded; the handler does not see the session.
///
/// At most one session parameter is allowed. Every other parameter is an ordinary actix-web
/// extractor (up to 16 of them), with any irrefutable pattern (`web::Json(body): web::Json<T>`).
///
/// The function must be a free `async fn`: not `const`, `unsafe`, `extern`, generic (including
/// `impl Trait` parameters), variadic, or a method taking `self`. The return type and the body are
/// kept exactly as written, so `return` and `?` mean what they meant.
///
/// # Attributes
///
/// - **`required = <bool>`** (default `true`): whether a request without a session is rejected
///   with 401. With `required = false` such a request reaches the handler, whose session
///   parameter (if any) must then be `Option<SessionContainer>`:
///
///   ```ignore
///   #[verify_session(required = false)]
///   async fn home(session: Option<SessionContainer>) -> impl Responder { /* ... */ }
///   ```
///
/// - **`claims = [<entry>, ...]`** (default: none): claim validators that must all pass, or the
///   request is answered with 403. An entry is either a claim type, which stands for that claim's
///   default validator, or an expression (a call or a method call) that yields a validator. The
///   list may be empty.
///
///   ```ignore
///   #[verify_session(claims = [EmailVerified, Roles::includes("admin")])]
///   async fn admin(session: SessionContainer) -> impl Responder { /* ... */ }
///   ```
///
/// - **`anti_csrf = <bool>`** (default: the anti-CSRF setting of the configuration): turns the
///   anti-CSRF check on or off for this route only.
///
///   ```ignore
///   #[verify_session(anti_csrf = false)]
///   async fn webhook(session: SessionContainer) -> impl Responder { /* ... */ }
///   ```
///
/// - **`check_database = <bool>`** (default `false`): also asks the core whether the session still
///   exists (it may have been revoked since the access token was issued). Costs a round trip.
///
///   ```ignore
///   #[verify_session(check_database = true)]
///   async fn delete_account(session: SessionContainer) -> impl Responder { /* ... */ }
///   ```
///
/// - **`override_claims = <path to fn>`** (default: the configuration's global validators): the
///   function chooses the validators for this route from the global ones and the session (the
///   SuperTokens `overrideGlobalClaimValidators`); `claims` entries are still added. A function
///   that must await returns `BoxFuture<'a, Vec<ValidatorRef>>` (`VerifyOptions::override_claims`).
///
///   ```ignore
///   fn no_email_check(global: &[ValidatorRef], _: &SessionContainer) -> Vec<ValidatorRef> {
///       global.iter().filter(|v| v.id() != "st-ev").cloned().collect()
///   }
///   #[verify_session(override_claims = no_email_check)]
///   async fn resend_email(session: SessionContainer) -> impl Responder { /* ... */ }
///   ```
///
/// - **`tenant_param = "<name>"`** (default: no check): the session's tenant must equal the value
///   of this path parameter; a session of another tenant gets 403 with the validator id
///   `st-tenant` (the session itself stays valid, so the frontend does not try to refresh).
///
///   ```ignore
///   #[get("/t/{tenant}/items")]
///   #[verify_session(tenant_param = "tenant")]
///   async fn items(session: SessionContainer) -> impl Responder { /* ... */ }
///   ```
///
/// Mistakes are compile errors on the offending token, all reported in one build: an unknown or
/// repeated option, a value of the wrong kind, a session type that does not match `required`, and
/// so on.
///
/// # Examples
///
/// With actix-web's route attributes, above or below `#[verify_session]`:
///
/// ```ignore
/// use actix_web::{get, post, web, HttpResponse, Responder};
/// use sessionward::claims::{EmailVerified, Roles};
/// use sessionward::{verify_session, SessionContainer};
///
/// #[get("/me")]
/// #[verify_session]
/// async fn me(session: SessionContainer) -> impl Responder {
///     HttpResponse::Ok().body(session.user_id().to_owned())
/// }
///
/// #[verify_session(claims = [EmailVerified::is_verified(), Roles::includes("admin")], check_database = true)]
/// #[post("/admin/commands")]
/// async fn admin(body: web::Json<Command>, session: SessionContainer) -> impl Responder {
///     // `body` was only deserialized after the session and its claims were verified.
///     HttpResponse::Accepted().finish()
/// }
///
/// // No session parameter: the route is only guarded.
/// #[verify_session(claims = [EmailVerified])]
/// async fn report(path: web::Path<u32>) -> HttpResponse {
///     HttpResponse::Ok().finish()
/// }
///
/// // Registered by hand.
/// let app = actix_web::App::new()
///     .service(me)
///     .service(admin)
///     .service(web::resource("/reports/{id}").route(web::get().to(report)));
/// ```
///
/// # Why verification runs before the other extractors
///
/// actix-web runs a handler's extractors concurrently, so with a plain `SessionContainer`
/// extractor a request with a bad session and a bad body could be answered 400 (from
/// `web::Json`) instead of 401, and the body of an unauthenticated request would be read and
/// deserialized. The attribute therefore rewrites the handler to take one extractor that verifies
/// the session first and only then extracts the other parameters, in order. A request without a
/// valid session never has its body deserialized: it gets 401 or 403, never 400.
///
/// # Expansion
///
/// Besides the handler, which keeps its name, visibility, and attributes, the attribute emits a
/// hidden unit struct `__sw_route_<name>` that carries the route's options. It has the handler's
/// visibility, so the attribute works on free functions only (not in `impl` blocks), like
/// actix-web's own route attributes.
#[proc_macro_attribute]
pub fn verify_session(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::verify_session(args.into(), item.into()).into()
}

/// `#[verify_session]` for axum handlers, re-exported as `sessionward::axum::verify_session`
/// (see its documentation there): the same options and compile-time checks, an axum expansion.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn verify_session_axum(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::verify_session_for(expand::Framework::Axum, args.into(), item.into()).into()
}
