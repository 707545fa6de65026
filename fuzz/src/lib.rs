//! Helpers shared by the fuzz targets: a verify-only core with the Appendix A keys of
//! docs/protocol.md, a config over it, and a bounded executor for futures that never wait on I/O.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use serde_json::{Map, Value};
use sessionward::core::{
    BoxFuture, CoreError, CreatedSession, NewSession, RefreshOutcome, RefreshRequest,
    RegenerateOutcome, SessionCore, SessionInformation, VerifyOutcome, VerifyRequest,
};
use sessionward::{AntiCsrf, KeySource, SessionConfig, StaticKeySource};

/// The vectors of docs/protocol.md Appendix A (JWKS, then `name` / `token` lines).
pub const APPENDIX_A: &str = include_str!("../../runtime/tests/fixtures/appendix_a.txt");

/// The Appendix A JWKS.
pub fn appendix_jwks() -> jsonwebtoken::jwk::JwkSet {
    let end = APPENDIX_A.find("\n}\n").expect("JWKS block") + 2;
    serde_json::from_str(&APPENDIX_A[..end]).expect("JWKS JSON")
}

/// A core that publishes the Appendix A keys and answers every other call at once.
#[derive(Debug)]
pub struct VerifyOnlyCore(jsonwebtoken::jwk::JwkSet);

fn refused<T: Send + 'static>() -> BoxFuture<'static, Result<T, CoreError>> {
    Box::pin(std::future::ready(Err(CoreError::Internal(
        "verify-only core".into(),
    ))))
}

impl SessionCore for VerifyOnlyCore {
    fn key_source(&self) -> Arc<dyn KeySource> {
        Arc::new(StaticKeySource::new(self.0.clone()))
    }
    fn create_session(&self, _: NewSession) -> BoxFuture<'_, Result<CreatedSession, CoreError>> {
        refused()
    }
    fn verify_session(&self, _: VerifyRequest) -> BoxFuture<'_, Result<VerifyOutcome, CoreError>> {
        Box::pin(std::future::ready(Ok(VerifyOutcome::TryRefreshToken)))
    }
    fn refresh_session(
        &self,
        _: RefreshRequest,
    ) -> BoxFuture<'_, Result<RefreshOutcome, CoreError>> {
        refused()
    }
    fn regenerate_access_token(
        &self,
        _: String,
        _: Map<String, Value>,
    ) -> BoxFuture<'_, Result<RegenerateOutcome, CoreError>> {
        refused()
    }
    fn revoke_sessions(&self, _: Vec<String>) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        refused()
    }
    fn revoke_all_sessions_for_user(
        &self,
        _: String,
        _: String,
        _: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        refused()
    }
    fn session_handles_for_user(
        &self,
        _: String,
        _: String,
        _: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        refused()
    }
    fn session_information(
        &self,
        _: String,
    ) -> BoxFuture<'_, Result<Option<SessionInformation>, CoreError>> {
        refused()
    }
    fn update_session_data(&self, _: String, _: Value) -> BoxFuture<'_, Result<bool, CoreError>> {
        refused()
    }
    fn update_access_token_payload(
        &self,
        _: String,
        _: Map<String, Value>,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        refused()
    }
}

/// Configs over [`VerifyOnlyCore`], one per anti-CSRF mode, built once.
pub fn configs() -> &'static [SessionConfig; 3] {
    static CONFIGS: OnceLock<[SessionConfig; 3]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        [
            AntiCsrf::None,
            AntiCsrf::ViaToken,
            AntiCsrf::ViaCustomHeader,
        ]
        .map(|mode| {
            SessionConfig::builder()
                .core(Arc::new(VerifyOnlyCore(appendix_jwks())))
                .anti_csrf(mode)
                .build()
                .expect("config")
        })
    })
}

/// Polls `future` to completion; `None` if it is still pending after many polls (every
/// future the targets run completes without waiting, so that would be a finding of its own).
pub fn run_ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return Some(output);
        }
    }
    None
}
