//! The answer to a session error under a config (docs/protocol.md §6.3): a configured error handler
//! or the protocol's JSON with the configured status, plus the token changes the error calls for.

use crate::config::SessionConfig;
use crate::error::{Clearing, ErrorResponse, RequestInfo, SessionError};

use super::response::ResponseChanges;
use super::session::SessionContainer;

/// What to send: the response and the header changes to apply to it.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) response: ErrorResponse,
    pub(crate) changes: ResponseChanges,
}

/// The answer to `error` for the request described by `request`. `session` is the session whose
/// token checked out before the error, if any: its changes go out unless the error clears the
/// tokens.
pub(crate) async fn error_answer(
    config: &SessionConfig,
    error: &SessionError,
    request: &RequestInfo<'_>,
    session: Option<&SessionContainer>,
) -> Answer {
    let c = config.inner();
    let response = match c.error_handlers.for_error(error) {
        Some(handler) => handler.respond(request, error).await,
        None => error
            .default_response(error.status_with(c.session_expired_status, c.invalid_claim_status)),
    };
    let changes = if error.clearing() == Clearing::All {
        let mut changes = ResponseChanges::default();
        changes.clear_all(c);
        changes
    } else {
        // What the session changed before the error is kept: claim values fetched during
        // verification go out with the 403 (docs/protocol.md Appendix B item 4), and so does a
        // token a handler changed before it failed.
        session
            .map(SessionContainer::response_changes)
            .unwrap_or_default()
    };
    if error.is_server_fault() {
        match std::error::Error::source(error) {
            Some(cause) => tracing::error!(error = %error, %cause, "session handling failed"),
            None => tracing::error!(error = %error, "session handling failed"),
        }
    } else {
        tracing::debug!(kind = error.kind(), "session rejected");
    }
    Answer { response, changes }
}
