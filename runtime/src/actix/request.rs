//! actix-web requests as the protocol reads them, the config of the app serving a request, and
//! the session whose changes the response carries.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest};

use crate::config::SessionConfig;
use crate::error::{RequestInfo, SessionError};
use crate::protocol::{HeaderKey, RequestView, SessionContainer};

const ANTI_CSRF: HeaderName = HeaderName::from_static("anti-csrf");
const RID: HeaderName = HeaderName::from_static("rid");
const AUTH_MODE: HeaderName = HeaderName::from_static("st-auth-mode");

/// The framework's own header names, so a lookup parses nothing (static names copy no bytes).
fn header_name(key: HeaderKey) -> HeaderName {
    match key {
        HeaderKey::Authorization => header::AUTHORIZATION,
        HeaderKey::Cookie => header::COOKIE,
        HeaderKey::AntiCsrf => ANTI_CSRF,
        HeaderKey::Rid => RID,
        HeaderKey::AuthMode => AUTH_MODE,
    }
}

impl RequestView for HttpRequest {
    fn method(&self) -> &str {
        HttpRequest::method(self).as_str()
    }

    fn path(&self) -> &str {
        HttpRequest::path(self)
    }

    fn query(&self) -> &str {
        self.query_string()
    }

    fn header_values(&self, key: HeaderKey) -> impl Iterator<Item = &[u8]> {
        self.headers()
            .get_all(header_name(key))
            .map(HeaderValue::as_bytes)
    }

    fn path_param(&self, name: &str) -> Option<&str> {
        self.match_info().get(name)
    }

    fn header_by_name(&self, name: &str) -> Option<&str> {
        self.headers()
            .get(name)
            .and_then(|value| crate::headers::header_text(value.as_bytes()))
    }
}

/// What an error handler sees of `req`.
pub(crate) fn request_info(req: &HttpRequest) -> RequestInfo<'_> {
    RequestInfo::new(
        HttpRequest::method(req).as_str(),
        HttpRequest::path(req),
        req.query_string(),
    )
}

impl SessionConfig {
    /// The config for `req`: the one of the [`SessionMiddleware`](super::SessionMiddleware)
    /// wrapping the route, else the one registered with `App::app_data`.
    ///
    /// # Errors
    /// [`SessionError::MissingConfig`] (a 500 whose log line names the fix) when there is
    /// neither.
    pub fn from_request(req: &HttpRequest) -> Result<SessionConfig, SessionError> {
        if let Some(config) = req.extensions().get::<SessionConfig>() {
            return Ok(config.clone());
        }
        req.app_data::<SessionConfig>().cloned().ok_or_else(|| {
            tracing::error!(
                path = req.path(),
                "sessionward: no SessionConfig for this route; wrap the App in \
                 `SessionMiddleware::new(config.clone())` or add `.app_data(config.clone())`"
            );
            SessionError::MissingConfig
        })
    }
}

/// The session of the current request whose changes the response still owes the client.
#[derive(Clone)]
struct RequestSession(SessionContainer);

/// Remembers `session` as the one whose changes this request's response carries.
pub(crate) fn remember(req: &HttpRequest, session: &SessionContainer) {
    req.extensions_mut().insert(RequestSession(session.clone()));
}

/// The session remembered for this request, if any (it stays remembered).
pub(crate) fn remembered(req: &HttpRequest) -> Option<SessionContainer> {
    req.extensions()
        .get::<RequestSession>()
        .map(|RequestSession(session)| session.clone())
}

/// Takes the session remembered for this request: its changes are written once, by whichever
/// of `WithSession`, the middleware or an error answer gets there first.
pub(crate) fn take_remembered(req: &HttpRequest) -> Option<SessionContainer> {
    req.extensions_mut()
        .remove::<RequestSession>()
        .map(|RequestSession(session)| session)
}
