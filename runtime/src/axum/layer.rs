//! [`SessionLayer`]: the tower layer that serves the config, the refresh and sign-out
//! endpoints, and applies pending session changes to every response.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, RawPathParams};
use http::{Method, Request};
use serde_json::json;
use tower_layer::Layer;
use tower_service::Service;

use crate::config::SessionConfig;
use crate::error::ErrorResponse;
use crate::protocol::{self, ResponseChanges, VerifyOptions};

use super::request::{HttpView, RequestSession, request_info};
use super::response::{ReturnedError, answer, apply_changes, to_response};

/// Session handling for an axum `Router` (or any tower service over `http` requests).
///
/// - Serves `POST {apiBasePath}/session/refresh` and `POST {apiBasePath}/signout` for the
///   frontend SDK.
/// - Serves the config to the extractors ([`SessionContainer`](crate::SessionContainer),
///   `Option<SessionContainer>`) and to [`get_session`](super::get_session).
/// - Applies pending session changes to every response: a session created, refreshed,
///   promoted, changed or revoked in a handler reaches the client whatever the handler returns.
/// - Answers a [`SessionError`](crate::SessionError) returned from a handler with the config's
///   statuses, error handlers and token clearing.
/// - With [`require`](Self::require), verifies a session (and claims) before the wrapped
///   service runs: as a `route_layer`, for whole groups of routes.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use sessionward::axum::SessionLayer;
/// use sessionward::claims::Roles;
/// use sessionward::{SessionConfig, SessionContainer, VerifyOptions};
///
/// async fn me(session: SessionContainer) -> String {
///     session.user_id().to_owned()
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = SessionConfig::builder().data_dir("./session-data").build()?;
/// let admin = Router::new()
///     .route("/admin/report", get(me))
///     .route_layer(SessionLayer::new(config.clone())
///         .require(VerifyOptions::new(true).claim(Roles::includes("admin"))));
/// let app = Router::new()
///     .route("/me", get(me))
///     .merge(admin)
///     .layer(SessionLayer::new(config));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionLayer {
    config: SessionConfig,
    require: Option<Arc<VerifyOptions>>,
}

impl fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("config", &self.config)
            .field("require", &self.require)
            .finish()
    }
}

impl SessionLayer {
    /// Session handling with `config`; no session is required.
    pub fn new(config: SessionConfig) -> Self {
        Self {
            config,
            require: None,
        }
    }

    /// Verifies every request with `options` before the wrapped service runs: a request without
    /// a valid session (or failing a claim) gets the configured answer. Handlers then take the
    /// verified session as an extractor without verifying again.
    #[must_use]
    pub fn require(mut self, options: VerifyOptions) -> Self {
        self.require = Some(Arc::new(options));
        self
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            config: self.config.clone(),
            require: self.require.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around another.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    config: SessionConfig,
    require: Option<Arc<VerifyOptions>>,
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("require", &self.require)
            .finish_non_exhaustive()
    }
}

/// Which session endpoint a request is for.
enum Endpoint {
    Refresh,
    SignOut,
}

fn endpoint(config: &SessionConfig, method: &Method, path: &str) -> Option<Endpoint> {
    if method != Method::POST {
        return None;
    }
    // Behind an API gateway stage, the function may see the stage in the path or not.
    let path = strip_segments(path, config.api_gateway_path()).unwrap_or(path);
    let rest = strip_segments(path, config.api_base_path())?;
    match rest {
        "/session/refresh" => Some(Endpoint::Refresh),
        "/signout" => Some(Endpoint::SignOut),
        _ => None,
    }
}

/// `path` without `prefix` when the prefix ends at a segment boundary (`/dev` is a prefix of
/// `/dev/auth` but not of `/devices`).
fn strip_segments<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

fn ok_with<B: From<String>>(
    body: serde_json::Value,
    changes: &ResponseChanges,
) -> http::Response<B> {
    let mut response: http::Response<B> = to_response(ErrorResponse::json(200, &body));
    apply_changes(changes, response.headers_mut());
    response
}

impl<S, B, ResB> Service<Request<B>> for SessionService<S>
where
    S: Service<Request<B>, Response = http::Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResB: From<String> + Send + 'static,
{
    type Response = http::Response<ResB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let config = self.config.clone();
        let require = self.require.clone();
        // The clone that was driven to readiness handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let target = endpoint(&config, &parts.method, parts.uri.path());
            let view = HttpView::of_parts(&parts, None);
            match target {
                Some(Endpoint::Refresh) => {
                    return Ok(match protocol::refresh(&config, &view).await {
                        Ok(refreshed) => ok_with(refreshed.body, &refreshed.changes),
                        Err(error) => {
                            let mut response = answer(
                                &config,
                                &error,
                                &request_info(&parts.method, &parts.uri),
                                None,
                            );
                            let legacy = protocol::legacy_cookie_clearing(&config, &view);
                            apply_changes(&legacy, response.headers_mut());
                            response
                        }
                    });
                }
                Some(Endpoint::SignOut) => {
                    return Ok(match protocol::sign_out(&config, &view, |_| {}).await {
                        Ok(changes) => ok_with(json!({"status": "OK"}), &changes),
                        Err(error) => answer(
                            &config,
                            &error,
                            &request_info(&parts.method, &parts.uri),
                            None,
                        ),
                    });
                }
                None => {}
            }
            // This layer's state replaces an outer layer's: the session a handler verifies or
            // creates is remembered here, and this layer writes its changes.
            let state = RequestSession::new(config);
            parts.extensions.insert(state.clone());
            let config = state.config();
            if let Some(options) = &require {
                let params = match options.tenant_param {
                    Some(_) => RawPathParams::from_request_parts(&mut parts, &())
                        .await
                        .ok(),
                    None => None,
                };
                let view = HttpView::of_parts(&parts, params.as_ref());
                let verified =
                    protocol::verify_request(&view, config, options, |s| state.remember(s)).await;
                if let Err(error) = verified {
                    return Ok(answer(
                        config,
                        &error,
                        &request_info(&parts.method, &parts.uri),
                        state.take().as_ref(),
                    ));
                }
            }
            let (method, uri) = (parts.method.clone(), parts.uri.clone());
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Some(ReturnedError(error)) = response.extensions_mut().remove::<ReturnedError>()
            {
                let info = request_info(&method, &uri);
                return Ok(answer(config, &error, &info, state.take().as_ref()));
            }
            if let Some(session) = state.take() {
                let changes = session.response_changes();
                if !changes.is_empty() {
                    apply_changes(&changes, response.headers_mut());
                }
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(gateway: &str) -> (tempfile::TempDir, SessionConfig) {
        let dir = tempfile::tempdir().unwrap();
        let config = SessionConfig::builder()
            .data_dir(dir.path())
            .api_gateway_path(gateway)
            .build()
            .unwrap();
        (dir, config)
    }

    #[test]
    fn endpoints_are_matched_by_whole_segments_with_or_without_the_stage() {
        let (_dir, staged) = config("/dev");
        let post = Method::POST;
        for path in ["/dev/auth/session/refresh", "/auth/session/refresh"] {
            assert!(
                matches!(endpoint(&staged, &post, path), Some(Endpoint::Refresh)),
                "{path}"
            );
        }
        assert!(matches!(
            endpoint(&staged, &post, "/dev/auth/signout"),
            Some(Endpoint::SignOut)
        ));
        for path in [
            "/devices/auth/signout",
            "/authx/signout",
            "/auth/signout/x",
            "/dev/auth",
        ] {
            assert!(endpoint(&staged, &post, path).is_none(), "{path}");
        }
        assert!(endpoint(&staged, &Method::GET, "/auth/signout").is_none());
        assert_eq!(
            staged.inner().refresh_token_path,
            "/dev/auth/session/refresh"
        );
    }
}
