//! The maintenance thread: signing-key rotation and expired-session sweeps, on a schedule.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::Shared;
use super::blocking::block_on;
use super::options::millis;

/// Shortest pause of the maintenance thread (so a failing step never spins).
const MIN_MAINTENANCE_PAUSE: Duration = Duration::from_secs(1);
/// Longest pause of the maintenance thread.
const MAX_MAINTENANCE_PAUSE: Duration = Duration::from_secs(60);
/// Retry delay after a failed maintenance step, ms.
const MAINTENANCE_RETRY_MS: u64 = 10_000;

impl Shared {
    /// Rotates keys and deletes expired sessions when due; returns when to run next, ms.
    pub(super) async fn maintain(&self) -> u64 {
        let now = self.now();
        let mut next = match self.keys.maintain(&*self.store, now).await {
            Ok((changed, next)) => {
                if changed {
                    // Verify tokens signed with new keys at once, whatever the cooldown.
                    self.verifier.invalidate();
                }
                next
            }
            Err(error) => {
                tracing::warn!(%error, "signing key maintenance failed");
                now.saturating_add(MAINTENANCE_RETRY_MS)
            }
        };
        let interval = millis(self.options.cleanup_interval);
        if interval > 0 {
            let due = self.next_cleanup_ms.load(Ordering::Relaxed);
            if due <= now {
                let tokens_before = now.saturating_sub(self.refresh_validity_ms());
                match self.store.delete_expired(now, tokens_before).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::debug!(deleted, "deleted expired sessions"),
                    Err(error) => tracing::warn!(%error, "deleting expired sessions failed"),
                }
                self.next_cleanup_ms
                    .store(now.saturating_add(interval), Ordering::Relaxed);
            }
            next = next.min(self.next_cleanup_ms.load(Ordering::Relaxed));
        }
        next
    }
}

/// The maintenance thread: stops (and is joined) when dropped.
pub(super) struct Maintenance {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Maintenance {
    pub(super) fn spawn(shared: Arc<Shared>, first_due_ms: u64) -> io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("sessionward-maintenance".into())
            .spawn(move || {
                let mut due = first_due_ms;
                loop {
                    let pause = Duration::from_millis(due.saturating_sub(shared.now()))
                        .clamp(MIN_MAINTENANCE_PAUSE, MAX_MAINTENANCE_PAUSE);
                    match stopped.recv_timeout(pause) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                    due = block_on(shared.maintain());
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != thread::current().id()
        {
            let _ = thread.join();
        }
    }
}
