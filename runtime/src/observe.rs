//! Observability: `tracing` spans with outcome fields for verification and refresh, and
//! (with the `metrics` feature) counters through the `metrics` facade.
//!
//! Spans and counters carry user ids, session handles, tenant ids and error kinds, never a
//! token: no access, refresh or anti-CSRF token, and no front-token.

use std::future::Future;

use tracing::field::Empty;
use tracing::level_filters::LevelFilter;
use tracing::{Instrument, Span};

use crate::error::SessionError;

/// Counter of verifications, labelled `outcome` (`ok`, `no_session` or an error kind).
#[cfg(feature = "metrics")]
pub(crate) const VERIFICATIONS: &str = "sessionward_verifications_total";
/// Counter of refresh calls, labelled `outcome` (`ok` or an error kind).
#[cfg(feature = "metrics")]
pub(crate) const REFRESHES: &str = "sessionward_refreshes_total";
/// Counter of sessions created.
#[cfg(feature = "metrics")]
pub(crate) const SESSIONS_CREATED: &str = "sessionward_sessions_created_total";

/// The span of one session verification (DEBUG: it runs on every guarded request), with the
/// request's method and path (never its query string) when there is a request.
pub(crate) fn verify_span(request: Option<(&str, &str)>) -> Span {
    let span = tracing::debug_span!(
        "sessionward.verify",
        http.method = Empty,
        http.path = Empty,
        outcome = Empty,
        error_kind = Empty,
        reason = Empty,
        user_id = Empty,
        session_handle = Empty,
        tenant_id = Empty,
    );
    if let Some((method, path)) = request.filter(|_| !span.is_disabled()) {
        span.record("http.method", method);
        span.record("http.path", path);
    }
    span
}

/// The span of one call to the refresh endpoint (INFO: rare and worth seeing).
pub(crate) fn refresh_span() -> Span {
    tracing::info_span!(
        "sessionward.refresh",
        outcome = Empty,
        error_kind = Empty,
        reason = Empty,
        user_id = Empty,
        session_handle = Empty,
        tenant_id = Empty,
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
    span.record("user_id", user_id);
    span.record("session_handle", session_handle);
    span.record("tenant_id", tenant_id);
}

/// Records an error's kind and reason (never a token: reasons are fixed strings) on `span`.
fn record_error(span: &Span, error: &SessionError) {
    span.record("outcome", "error");
    span.record("error_kind", error.kind());
    match error {
        SessionError::Unauthorised { reason, .. } | SessionError::TryRefreshToken { reason } => {
            span.record("reason", *reason);
        }
        SessionError::TokenTheftDetected {
            session_handle,
            user_id,
            ..
        } => {
            span.record("user_id", user_id.as_str());
            span.record("session_handle", session_handle.as_str());
        }
        _ => {}
    }
}

/// Runs a verification inside `span` and records its outcome on the span and in the
/// verification counter.
pub(crate) async fn verification<F, S>(span: Span, verify: F) -> Result<Option<S>, SessionError>
where
    F: Future<Output = Result<Option<S>, SessionError>>,
{
    let result = verify.instrument(span.clone()).await;
    // Whoever verified already recorded the session (`record_session`).
    let outcome = result.as_ref().map(|session| {
        if session.is_some() {
            "ok"
        } else {
            "no_session"
        }
    });
    #[cfg(feature = "metrics")]
    count(VERIFICATIONS, outcome);
    record_outcome(&span, outcome);
    result
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
    #[cfg(feature = "metrics")]
    count(REFRESHES, outcome);
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
            span.record("outcome", name);
        }
        Err(error) => record_error(span, error),
    }
}

/// Counts an outcome in `counter`, labelled with its name or the error's kind.
#[cfg(feature = "metrics")]
fn count(counter: &'static str, outcome: Result<&'static str, &SessionError>) {
    let name = outcome.unwrap_or_else(SessionError::kind);
    metrics::counter!(counter, "outcome" => name).increment(1);
}

/// Counts a created session.
pub(crate) fn session_created() {
    #[cfg(feature = "metrics")]
    metrics::counter!(SESSIONS_CREATED).increment(1);
}
