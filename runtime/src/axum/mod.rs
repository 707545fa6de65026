//! The axum adapter (feature `axum`): [`SessionLayer`] (a tower layer that serves the refresh
//! and sign-out endpoints and applies session changes to every response), the
//! `SessionContainer` and `Option<SessionContainer>` extractors, [`get_session`] and
//! [`create_new_session`]. Like the actix adapter it holds no protocol logic: it reads `http`
//! request parts through the protocol's request view and writes the protocol's answers into
//! `http` responses.
//!
//! ```no_run
//! use axum::{Json, Router, http::request::Parts, routing::{get, post}};
//! use sessionward::axum::{SessionLayer, create_new_session};
//! use sessionward::{SessionConfig, SessionContainer, SessionError};
//!
//! async fn login(parts: Parts) -> Result<Json<serde_json::Value>, SessionError> {
//!     // check credentials first; the layer sends the new session's tokens
//!     let session = create_new_session(&parts, "user-1", serde_json::json!({})).await?;
//!     Ok(Json(serde_json::json!({ "userId": session.user_id() })))
//! }
//!
//! async fn me(session: SessionContainer) -> String {
//!     session.user_id().to_owned()
//! }
//!
//! async fn home(session: Option<SessionContainer>) -> String {
//!     session.map_or("guest".to_owned(), |s| s.user_id().to_owned())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SessionConfig::builder().data_dir("./session-data").build()?;
//! let app = Router::new()
//!     .route("/login", post(login))
//!     .route("/me", get(me))
//!     .route("/", get(home))
//!     // POST /auth/session/refresh and POST /auth/signout, config and session changes
//!     .layer(SessionLayer::new(config));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

mod extract;
pub(crate) mod guard;
mod layer;
mod request;
mod response;

pub use extract::{create_new_session, create_new_session_for_tenant, get_session};
pub use layer::{SessionLayer, SessionService};
#[cfg(feature = "lambda")]
pub(crate) use request::{HttpView, config_of};
#[cfg(feature = "lambda")]
pub(crate) use response::returned_error;

/// Verifies the request's session before an axum handler's other extractors run, with the
/// options and compile-time checks of the actix-web attribute
/// ([`sessionward::verify_session`](crate::verify_session)): `required`, `claims`,
/// `anti_csrf`, `check_database`, `override_claims`, `tenant_param`.
///
/// The session parameter (`SessionContainer`, `Option<SessionContainer>` with
/// `required = false`, or none) may stand anywhere; the attribute adds a first argument that
/// verifies, so a request without a valid session never has its path, query or body
/// extracted. The return type and body are kept; the router needs [`SessionLayer`].
///
/// ```no_run
/// use axum::Json;
/// use axum::extract::Path;
/// use sessionward::axum::verify_session;
/// use sessionward::claims::Roles;
/// use sessionward::SessionContainer;
///
/// #[verify_session(claims = [Roles::includes("admin")])]
/// async fn delete_item(Path(id): Path<u32>, session: SessionContainer) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "deleted": id, "by": session.user_id() }))
/// }
///
/// #[verify_session(tenant_param = "tenant")]
/// async fn items(session: SessionContainer) -> String {
///     session.tenant_id().to_owned()
/// }
/// ```
#[doc(inline)]
pub use sessionward_macros::verify_session_axum as verify_session;
