//! The embedded core's settings and its clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Settings of the embedded core.
#[derive(Debug, Clone)]
pub(crate) struct EmbeddedCoreOptions {
    /// Access-token lifetime. Default: 3600 s (the core's default).
    pub(crate) access_token_validity: Duration,
    /// Session (refresh-token) lifetime, renewed by each rotation. Default: 100 days.
    pub(crate) refresh_token_validity: Duration,
    /// How long a dynamic signing key signs before the next one takes over. Default: 168 h
    /// (the core's `access_token_dynamic_signing_key_update_interval`).
    pub(crate) signing_key_rotation: Duration,
    /// How long a new dynamic key is published before it signs, and the extra time an old key
    /// stays published after its last token expired. Default: 60 s (the core's overlap).
    pub(crate) signing_key_overlap: Duration,
    /// Refresh grace window: refreshes of the same current refresh token within this time of
    /// the first one all get the same child token (concurrent tabs, client retries) instead of
    /// competing children. Zero gives the core's behaviour. Default: 30 s.
    pub(crate) refresh_grace: Duration,
    /// How long to wait for another process's database lock. Default: 5 s.
    pub(crate) busy_timeout: Duration,
    /// How often expired sessions are deleted (zero: never). Default: 60 s.
    pub(crate) cleanup_interval: Duration,
    /// Run key rotation and cleanup on a background thread. Default: `true` (tests turn it off
    /// and call `EmbeddedCore::maintain`).
    pub(crate) background_maintenance: bool,
    /// The time source. Default: the system clock.
    pub(crate) clock: Clock,
}

impl Default for EmbeddedCoreOptions {
    fn default() -> Self {
        Self {
            access_token_validity: Duration::from_secs(3600),
            refresh_token_validity: Duration::from_secs(100 * 24 * 3600),
            signing_key_rotation: Duration::from_secs(168 * 3600),
            signing_key_overlap: Duration::from_secs(60),
            refresh_grace: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(5),
            cleanup_interval: Duration::from_secs(60),
            background_maintenance: true,
            clock: Clock::default(),
        }
    }
}

/// Milliseconds since the epoch: the system clock, or a manual one in tests.
#[derive(Clone, Default)]
pub(crate) struct Clock(Option<Arc<AtomicU64>>);

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("Clock(system)"),
            Some(ms) => write!(f, "Clock(manual: {})", ms.load(Ordering::SeqCst)),
        }
    }
}

impl Clock {
    /// The current time, ms.
    pub(crate) fn now(&self) -> u64 {
        match &self.0 {
            None => crate::util::now_ms(),
            Some(ms) => ms.load(Ordering::SeqCst),
        }
    }

    /// A clock standing at `start_ms` until advanced.
    #[cfg(test)]
    pub(crate) fn manual(start_ms: u64) -> Self {
        Self(Some(Arc::new(AtomicU64::new(start_ms))))
    }

    /// Moves a manual clock forward.
    #[cfg(test)]
    pub(crate) fn advance(&self, by: Duration) {
        if let Some(ms) = &self.0 {
            ms.fetch_add(millis(by), Ordering::SeqCst);
        }
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
