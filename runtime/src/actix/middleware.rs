//! [`SessionMiddleware`]: `.wrap()` it around an app or scope, and every response carries the
//! session changes its handler made, whatever the handler returns.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};

use crate::config::SessionConfig;
use crate::error::SessionError;
use crate::protocol::{self, VerifyOptions};

use super::request::remember;
use super::response::apply_pending;

/// Session handling for a whole actix-web app or scope.
///
/// - Serves the config to everything it wraps (no `.app_data(config)` needed).
/// - Applies pending session changes to every response: a session created, refreshed,
///   promoted, changed (payload merges, refetched claims) or revoked in a handler reaches the
///   client whatever the handler returns, `WithSession` or not.
/// - Answers a [`SessionError`] returned from a handler (`get_session(&req, &opts).await?`)
///   exactly as a `#[verify_session]` route does: configured statuses, error handlers, token
///   clearing.
/// - With [`require`](Self::require), verifies a session (and claims) before any handler of
///   the scope runs; handlers then take the verified `SessionContainer` as an extractor.
///
/// ```no_run
/// use actix_web::{App, HttpRequest, HttpResponse, HttpServer, get, post, web};
/// use sessionward::prelude::*;
///
/// #[post("/login")]
/// async fn login(req: HttpRequest) -> Result<HttpResponse, SessionError> {
///     let session = create_new_session(&req, "user-1", serde_json::json!({})).await?;
///     Ok(HttpResponse::Ok().json(serde_json::json!({"userId": session.user_id()})))
/// }
///
/// #[get("/report")]
/// async fn report(session: SessionContainer) -> HttpResponse {
///     HttpResponse::Ok().body(session.user_id().to_owned())
/// }
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let config = SessionConfig::builder()
///         .data_dir("./session-data")
///         .build()
///         .map_err(std::io::Error::other)?;
///     HttpServer::new(move || {
///         App::new()
///             .wrap(SessionMiddleware::new(config.clone()))
///             .service(config.endpoints())
///             .service(login)
///             .service(
///                 web::scope("/admin")
///                     .wrap(SessionMiddleware::new(config.clone())
///                         .require(VerifyOptions::new(true).claim(Roles::includes("admin"))))
///                     .service(report),
///             )
///     })
///     .bind(("127.0.0.1", 3001))?
///     .run()
///     .await
/// }
/// ```
#[derive(Clone)]
pub struct SessionMiddleware {
    config: SessionConfig,
    require: Option<Arc<VerifyOptions>>,
}

impl fmt::Debug for SessionMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("config", &self.config)
            .field("require", &self.require)
            .finish()
    }
}

impl SessionMiddleware {
    /// Session handling with `config` for everything the middleware wraps; no session is
    /// required.
    pub fn new(config: SessionConfig) -> Self {
        Self {
            config,
            require: None,
        }
    }

    /// Verifies every request with `options` before its handler runs: a request without a
    /// valid session (or failing a claim) gets the configured answer and never reaches a
    /// handler. `VerifyOptions::new(false)` verifies a present token but lets requests
    /// without one through.
    #[must_use]
    pub fn require(mut self, options: VerifyOptions) -> Self {
        self.require = Some(Arc::new(options));
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = SessionMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionMiddlewareService {
            service: Rc::new(service),
            config: self.config.clone(),
            require: self.require.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around the app's (built by actix-web).
pub struct SessionMiddlewareService<S> {
    service: Rc<S>,
    config: SessionConfig,
    require: Option<Arc<VerifyOptions>>,
}

impl<S> fmt::Debug for SessionMiddlewareService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddlewareService")
            .field("require", &self.require)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for SessionMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        req.extensions_mut().insert(self.config.clone());
        let service = Rc::clone(&self.service);
        let config = self.config.clone();
        let require = self.require.clone();
        Box::pin(async move {
            if let Some(options) = require {
                let http = req.request().clone();
                let verified =
                    protocol::verify_request(&http, &config, &options, |s| remember(&http, s))
                        .await;
                if let Err(error) = verified {
                    let answer = config.error_response(&http, &error).await;
                    return Ok(req.into_response(answer).map_into_right_body());
                }
            }
            let mut res = service.call(req).await?;
            let http = res.request().clone();
            if let Some(error) = res
                .response()
                .error()
                .and_then(|e| e.as_error::<SessionError>())
            {
                let answer = config.error_response(&http, error).await;
                return Ok(res.into_response(answer).map_into_right_body());
            }
            apply_pending(&http, res.headers_mut());
            Ok(res.map_into_left_body())
        })
    }
}
