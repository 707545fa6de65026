//! Observability: `tracing` spans for verification and refresh, with fields named by the
//! OpenTelemetry semantic conventions where one exists (`http.request.method`, `url.path`,
//! `user.id`, `session.id`, `error.type`) and under `sessionward.` otherwise; their outcomes
//! also go to the metrics of [`crate::metric`].
//!
//! Spans and metrics carry user ids, session handles, tenant ids and error kinds, never a
//! token: no access, refresh or anti-CSRF token, and no front-token.

use std::future::Future;
#[cfg(feature = "metrics")]
use std::time::Instant;

use tracing::field::Empty;
use tracing::level_filters::LevelFilter;
use tracing::{Instrument, Span};

use crate::error::SessionError;
use crate::metric;

/// The span of one session verification (DEBUG: it runs on every guarded request), with the
/// request's method and path (never its query string) when there is a request.
fn verify_span(request: Option<(&str, &str)>) -> Span {
    let span = tracing::debug_span!(
        "sessionward.verify",
        http.request.method = Empty,
        url.path = Empty,
        sessionward.outcome = Empty,
        error.type = Empty,
        sessionward.reason = Empty,
        user.id = Empty,
        session.id = Empty,
        sessionward.tenant_id = Empty,
        otel.status_code = Empty,
    );
    if let Some((method, path)) = request.filter(|_| !span.is_disabled()) {
        span.record("http.request.method", method);
        span.record("url.path", path);
    }
    span
}

/// One session verification as observed: its span (run the verification in
/// [`span`](Self::span)), then its outcome recorded by [`finish`](Self::finish) on the span, in
/// the verification counter and in the verification-time histogram.
///
/// Not a wrapper future: a verification awaited through a wrapper that takes it by value is
/// stored twice in the caller's future, and that future is moved on every guarded request.
pub(crate) struct Verification {
    span: Span,
    #[cfg(feature = "metrics")]
    started: Instant,
}

impl Verification {
    /// Starts observing a verification of `request` (method and path), if there is one.
    pub(crate) fn start(request: Option<(&str, &str)>) -> Self {
        Self {
            span: verify_span(request),
            #[cfg(feature = "metrics")]
            started: Instant::now(),
        }
    }

    /// The span to run the verification in.
    pub(crate) fn span(&self) -> Span {
        self.span.clone()
    }

    /// Records the verification's `result`.
    pub(crate) fn finish<S>(self, result: &Result<Option<S>, SessionError>) {
        // Whoever verified already recorded the session (`record_session`).
        let outcome = result.as_ref().map(|session| {
            if session.is_some() {
                "ok"
            } else {
                "no_session"
            }
        });
        #[cfg(feature = "metrics")]
        metric::verification(outcome_name(outcome), self.started.elapsed());
        record_outcome(&self.span, outcome);
    }
}

/// The span of one call to the refresh endpoint (INFO: rare and worth seeing).
pub(crate) fn refresh_span() -> Span {
    tracing::info_span!(
        "sessionward.refresh",
        sessionward.outcome = Empty,
        error.type = Empty,
        sessionward.reason = Empty,
        user.id = Empty,
        session.id = Empty,
        sessionward.tenant_id = Empty,
        otel.status_code = Empty,
    )
}

/// Records who a session belongs to on the current span (a verify or refresh span).
pub(crate) fn record_session(user_id: &str, session_handle: &str, tenant_id: &str) {
    // This runs on every guarded request: when no subscriber wants INFO (the refresh span's
    // level; the verify span is DEBUG), skip even finding the current span, and recording on a
    // disabled span would still look each field up by name.
    if LevelFilter::current() < LevelFilter::INFO {
        return;
    }
    let span = Span::current();
    if span.is_disabled() {
        return;
    }
    span.record("user.id", user_id);
    span.record("session.id", session_handle);
    span.record("sessionward.tenant_id", tenant_id);
}

/// Records an error's kind and reason (never a token: reasons are fixed strings) on `span`.
/// Only failures of ours (5xx) mark the span as an error for OpenTelemetry: a client without a
/// valid session is an expected outcome.
fn record_error(span: &Span, error: &SessionError) {
    span.record("sessionward.outcome", "error");
    span.record("error.type", error.kind());
    if error.status_with(401, 403) >= 500 {
        span.record("otel.status_code", "ERROR");
    }
    match error {
        SessionError::Unauthorised { reason, .. } | SessionError::TryRefreshToken { reason } => {
            span.record("sessionward.reason", *reason);
        }
        SessionError::TokenTheftDetected {
            session_handle,
            user_id,
            ..
        } => {
            span.record("user.id", user_id.as_str());
            span.record("session.id", session_handle.as_str());
        }
        _ => {}
    }
}

/// Runs a refresh inside a new refresh span and records its outcome on the span and in the
/// refresh counter. The refresh itself records the session with [`record_session`].
pub(crate) async fn refresh<F, T>(refresh: F) -> Result<T, SessionError>
where
    F: Future<Output = Result<T, SessionError>>,
{
    let span = refresh_span();
    let result = refresh.instrument(span.clone()).await;
    let outcome = result.as_ref().map(|_| "ok");
    metric::refresh(outcome_name(outcome));
    record_outcome(&span, outcome);
    result
}

/// Records an outcome (`ok`-like name, or the error) on `span`; nothing on a disabled span,
/// where recording would still look each field up by name on every request.
fn record_outcome(span: &Span, outcome: Result<&'static str, &SessionError>) {
    if span.is_disabled() {
        return;
    }
    match outcome {
        Ok(name) => {
            span.record("sessionward.outcome", name);
        }
        Err(error) => record_error(span, error),
    }
}

/// The name an outcome is counted under: `ok`-like names as they are, errors by kind.
fn outcome_name(outcome: Result<&'static str, &SessionError>) -> &'static str {
    outcome.unwrap_or_else(SessionError::kind)
}

/// Counts a created session.
pub(crate) fn session_created() {
    metric::session_created();
}
