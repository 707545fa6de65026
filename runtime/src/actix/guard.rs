//! What `#[verify_session]` expands to on actix-web: a guard extractor that verifies the
//! session before it extracts the handler's own arguments, and a responder that applies
//! session changes to whatever the handler returns.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder};

use crate::protocol::{RouteGuard, SessionParam};

use super::extract::verify_with_config;
use super::response::{apply_pending, reject_under_config};

/// The single argument of a `#[verify_session]` handler: the session (`S`) and the handler's
/// own extractors (`A`, a tuple), extracted only after the session is verified, so a request
/// without a valid session never has its body read.
pub struct Guarded<S, A, R> {
    session: S,
    args: A,
    route: PhantomData<fn() -> R>,
}

/// Deliberately says nothing about the session or the arguments (tracing's `#[instrument]`
/// may record this value).
impl<S, A, R> fmt::Debug for Guarded<S, A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Guarded(..)")
    }
}

impl<S, A, R> Guarded<S, A, R> {
    /// The session, the extracted arguments, and the slot that carries session changes into
    /// the response.
    pub fn into_parts(self) -> (S, A, ResponseSlot) {
        (self.session, self.args, ResponseSlot(()))
    }
}

impl<S, A, R> FromRequest for Guarded<S, A, R>
where
    S: SessionParam,
    A: FromRequest + 'static,
    R: RouteGuard,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let session = verify_with_config(&req, R::options()).await?;
            let session = match S::from_verified(session) {
                Ok(session) => session,
                Err(error) => return Err(reject_under_config(&req, error).await),
            };
            // Only now do the handler's own extractors (body, path, query…) run.
            let args = A::from_request(&req, &mut payload)
                .await
                .map_err(Into::into)?;
            Ok(Guarded {
                session,
                args,
                route: PhantomData,
            })
        })
    }
}

/// Hands the handler's result to [`WithSession`].
#[derive(Debug)]
pub struct ResponseSlot(());

impl ResponseSlot {
    /// Wraps the handler's output so that session changes reach the response.
    pub fn wrap<T>(self, output: T) -> WithSession<T> {
        WithSession(output)
    }
}

/// A responder that adds the request's session changes (new tokens and front-token, or
/// cleared tokens) to the response of `T`, also when `T` is an error.
///
/// `#[verify_session]` handlers return it automatically. Elsewhere
/// [`SessionMiddleware`](super::SessionMiddleware) does the same for every response, so
/// wrapping is only needed in apps without the middleware.
pub struct WithSession<T>(T);

impl<T> WithSession<T> {
    /// Wraps a responder.
    pub fn new(responder: T) -> Self {
        WithSession(responder)
    }

    /// The wrapped responder.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for WithSession<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WithSession(..)")
    }
}

impl<T: Responder> Responder for WithSession<T> {
    type Body = T::Body;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse<Self::Body> {
        let mut response = self.0.respond_to(req);
        apply_pending(req, response.headers_mut());
        response
    }
}
