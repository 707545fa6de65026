//! [`SessionLayer`]: the tower layer that serves the config, the refresh and sign-out
//! endpoints, and applies pending session changes to every response.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, RawPathParams};
use http::Request;
use http::request::Parts;
use tower_layer::Layer;
use tower_service::Service;

use crate::config::SessionConfig;
use crate::protocol::{self, VerifyOptions};

use super::request::{HttpView, RequestSession, request_info};
use super::response::{ReturnedError, answer, apply_changes, to_response};

/// Session handling for an axum `Router` (or any tower service over `http` requests).
///
/// - Serves `POST {apiBasePath}/session/refresh` and `POST {apiBasePath}/signout` for the
///   frontend SDK, and `GET {apiBasePath}/jwt/jwks.json` and
///   `GET {apiBasePath}/.well-known/openid-configuration` for services that verify the JWTs
///   of [`SessionConfig::create_jwt`].
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
        // The frontend SDK's endpoints, in a future of their own: the refresh's would otherwise
        // be part of every request's, which is allocated and moved on each request.
        if let Some(endpoint) =
            protocol::endpoint_for(&config, req.method().as_str(), req.uri().path())
        {
            return Box::pin(async move {
                let (parts, _) = req.into_parts();
                let view = HttpView::of_parts(&parts, None);
                let answer = protocol::serve_endpoint(&config, endpoint, &view).await;
                let mut response = to_response(answer.response);
                apply_changes(&answer.changes, response.headers_mut());
                Ok(response)
            });
        }
        let require = self.require.clone();
        // The clone that was driven to readiness handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            // This layer's state replaces an outer layer's: the session a handler verifies or
            // creates is remembered here, and this layer writes its changes.
            let state = RequestSession::new(config);
            parts.extensions.insert(state.clone());
            let config = state.config();
            if let Some(options) = &require {
                // Boxed, as the answers below: only some routes take these paths.
                if let Err(response) = Box::pin(require_session(&mut parts, &state, options)).await
                {
                    return Ok(response);
                }
            }
            let (method, uri) = (parts.method.clone(), parts.uri.clone());
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Some(ReturnedError(error)) = response.extensions_mut().remove::<ReturnedError>()
            {
                let info = request_info(&method, &uri);
                return Ok(Box::pin(answer(config, &error, &info, state.take().as_ref())).await);
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

/// Verifies the session [`SessionLayer::require`] asks for, remembering it in `state`; a
/// request without one gets the config's answer.
async fn require_session<ResB: From<String>>(
    parts: &mut Parts,
    state: &RequestSession,
    options: &VerifyOptions,
) -> Result<(), http::Response<ResB>> {
    let params = match options.tenant_param {
        Some(_) => RawPathParams::from_request_parts(parts, &()).await.ok(),
        None => None,
    };
    let view = HttpView::of_parts(parts, params.as_ref());
    let config = state.config();
    match protocol::verify_request(&view, config, options, |s| state.remember(s)).await {
        Ok(_) => Ok(()),
        Err(error) => {
            let info = request_info(&parts.method, &parts.uri);
            Err(answer(config, &error, &info, state.take().as_ref()).await)
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    /// Every request through the layer allocates its future, and its endpoint, verification and
    /// error paths are boxed apart so that the common one stays small: glibc's malloc handles
    /// blocks under 1 KiB on its fast path.
    #[test]
    fn the_future_of_a_request_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let config = SessionConfig::builder()
            .data_dir(dir.path())
            .build()
            .unwrap();
        let router: axum::Router = axum::Router::new().route("/", axum::routing::get(|| async {}));
        for layer in [
            SessionLayer::new(config.clone()),
            SessionLayer::new(config).require(VerifyOptions::new(true)),
        ] {
            let mut service = layer.layer(router.clone());
            let future = service.call(Request::new(Body::empty()));
            let size = std::mem::size_of_val(&*future);
            assert!(size < 1024, "a request's future takes {size} bytes");
        }
    }
}
