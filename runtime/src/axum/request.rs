//! `http` requests as the protocol reads them, the config the layer serves, and the slot that
//! carries the request's session to the layer.

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
}

/// What an error handler sees of a request.
pub(crate) fn request_info<'r>(method: &'r Method, uri: &'r Uri) -> RequestInfo<'r> {
    RequestInfo::new(method.as_str(), uri.path(), uri.query().unwrap_or(""))
}

/// The config [`SessionLayer`](super::SessionLayer) serves to the request.
pub(crate) fn config_of(extensions: &Extensions, uri: &Uri) -> Result<SessionConfig, SessionError> {
    extensions.get::<SessionConfig>().cloned().ok_or_else(|| {
        tracing::error!(
            path = uri.path(),
            "sessionward: no SessionConfig for this route; add `.layer(SessionLayer::new(config))` \
             to the Router"
        );
        SessionError::MissingConfig
    })
}

/// The session whose changes the response owes the client, shared between the layer and the
/// extractors of one request (request parts are cloned by some extractors; the slot is not).
#[derive(Clone, Default)]
pub(crate) struct SessionSlot(Arc<Mutex<Option<SessionContainer>>>);

impl SessionSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<SessionContainer>> {
        // Only a handle lives behind the lock, so a poisoned lock is still consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
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

/// The request's session slot, if the layer runs.
pub(crate) fn slot_of(extensions: &Extensions) -> Option<&SessionSlot> {
    extensions.get::<SessionSlot>()
}
