//! `http` requests as the protocol reads them, and what the layer gives each request: the
//! config and the slot that carries the request's session back to the layer.

use std::sync::{Arc, Mutex};

use axum::extract::RawPathParams;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Extensions, Method, Request, Uri};

use crate::config::SessionConfig;
use crate::error::{RequestInfo, SessionError};
use crate::protocol::{HeaderKey, RequestView, SessionContainer};

const ANTI_CSRF: HeaderName = HeaderName::from_static("anti-csrf");
const RID: HeaderName = HeaderName::from_static("rid");
const AUTH_MODE: HeaderName = HeaderName::from_static("st-auth-mode");

/// The `http` crate's own header names, so a lookup parses nothing.
fn header_name(key: HeaderKey) -> HeaderName {
    match key {
        HeaderKey::Authorization => header::AUTHORIZATION,
        HeaderKey::Cookie => header::COOKIE,
        HeaderKey::AntiCsrf => ANTI_CSRF,
        HeaderKey::Rid => RID,
        HeaderKey::AuthMode => AUTH_MODE,
    }
}

/// An `http` request (its parts, or the whole request), with the route's path parameters
/// when a check needs them.
pub(crate) struct HttpView<'r> {
    method: &'r Method,
    uri: &'r Uri,
    headers: &'r HeaderMap,
    params: Option<&'r RawPathParams>,
}

impl<'r> HttpView<'r> {
    /// A view of request parts (axum's extractors).
    pub(crate) fn of_parts(parts: &'r Parts, params: Option<&'r RawPathParams>) -> Self {
        Self {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            params,
        }
    }

    /// A view of a whole request (lambda_http's handlers).
    #[cfg_attr(
        not(feature = "lambda"),
        expect(dead_code, reason = "used by the lambda adapter")
    )]
    pub(crate) fn of_request<B>(req: &'r Request<B>) -> Self {
        Self {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            params: None,
        }
    }
}

impl RequestView for HttpView<'_> {
    fn method(&self) -> &str {
        self.method.as_str()
    }

    fn path(&self) -> &str {
        self.uri.path()
    }

    fn query(&self) -> &str {
        self.uri.query().unwrap_or("")
    }

    fn header_values(&self, key: HeaderKey) -> impl Iterator<Item = &[u8]> {
        self.headers
            .get_all(header_name(key))
            .into_iter()
            .map(HeaderValue::as_bytes)
    }

    fn path_param(&self, name: &str) -> Option<&str> {
        self.params?
            .iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    }

    fn header_by_name(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|value| crate::headers::header_text(value.as_bytes()))
    }
}

/// What an error handler sees of a request.
pub(crate) fn request_info<'r>(method: &'r Method, uri: &'r Uri) -> RequestInfo<'r> {
    RequestInfo::new(method.as_str(), uri.path(), uri.query().unwrap_or(""))
}

/// What [`SessionLayer`](super::SessionLayer) gives the request: its config, and the session
/// the response owes the client the changes of.
pub(crate) fn config_of(
    extensions: &Extensions,
    uri: &Uri,
) -> Result<RequestSession, SessionError> {
    slot_of(extensions).cloned().ok_or_else(|| {
        tracing::error!(
            path = uri.path(),
            "sessionward: no SessionConfig for this route; add `.layer(SessionLayer::new(config))` \
             to the Router"
        );
        SessionError::MissingConfig
    })
}

/// What the layer gives one request, shared between the layer and the request's extractors
/// (some extractors clone request parts; this stays one): the layer's config, and the session
/// whose changes the response owes the client.
///
/// One value per request, so the extractors reach the config without touching the layer's
/// shared reference count (which every core's requests would contend on).
#[derive(Clone)]
pub(crate) struct RequestSession(Arc<RequestState>);

struct RequestState {
    config: SessionConfig,
    session: Mutex<Option<SessionContainer>>,
}

impl RequestSession {
    /// The state of a request served with `config`, no session yet.
    pub(crate) fn new(config: SessionConfig) -> Self {
        Self(Arc::new(RequestState {
            config,
            session: Mutex::new(None),
        }))
    }

    /// The config of the layer serving the request.
    pub(crate) fn config(&self) -> &SessionConfig {
        &self.0.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<SessionContainer>> {
        // Only a handle lives behind the lock, so a poisoned lock is still consistent.
        self.0.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `session` as the one whose changes the response carries.
    pub(crate) fn remember(&self, session: &SessionContainer) {
        *self.lock() = Some(session.clone());
    }

    /// The remembered session (it stays remembered).
    pub(crate) fn get(&self) -> Option<SessionContainer> {
        self.lock().clone()
    }

    /// Takes the remembered session: its changes are written once.
    pub(crate) fn take(&self) -> Option<SessionContainer> {
        self.lock().take()
    }
}

/// What the layer gives the request, if the layer runs.
pub(crate) fn slot_of(extensions: &Extensions) -> Option<&RequestSession> {
    extensions.get::<RequestSession>()
}
