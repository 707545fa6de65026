//! The embedded core: SuperTokens core session semantics (protocol §10.3, CDI ≤ 5.5) inside the
//! app process, persisted in one SQLite file under a data directory. No service to run.
//!
//! Layout:
//! * `store.rs`: the [`SessionStore`](store::SessionStore) trait between the logic and the
//!   storage; `sqlite.rs`: its SQLite implementation (group commit, WAL readers).
//! * `keys.rs`: signing keys, their rotation and the JWKS; `mint.rs`: token material.
//! * `sessions.rs`: create, verify, regenerate and the session admin calls; `refresh.rs`:
//!   refresh-token rotation with theft detection and the refresh grace window.
//!
//! Several processes may open the same data directory at once: every state change is a
//! conditional update in one transaction, and signing keys are reloaded from the database.
//!
//! Background work runs on one maintenance thread per core, woken when the next key event is
//! due and at least once a minute: it reloads the signing keys (seeing other processes'
//! rotations), rotates and retires keys, and every `cleanup_interval` deletes expired sessions
//! with their refresh tokens, plus refresh tokens issued more than the refresh validity ago that
//! are no session's current token (their cookies have expired; presenting one afterwards is
//! "unknown", not theft). Durability: every create, refresh and promotion is committed
//! (`synchronous=FULL`) before the call returns.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::{Map, Value};

use super::{
    BoxFuture, CoreError, CoreSession, CreatedSession, NewSession, RefreshOutcome, RefreshRequest,
    RegenerateOutcome, SessionCore, SessionInformation, VerifyOutcome, VerifyRequest,
};
use crate::keys::{JwksCache, KeySource};

mod keys;
mod mint;
mod refresh;
mod sessions;
mod sqlite;
mod store;

#[cfg(test)]
mod tests;

use keys::{EmbeddedKeySource, KeyPolicy, KeyRing};
use mint::ServerSecret;
use sqlite::{DB_FILE, SqliteOptions, SqliteStore};
use store::SessionStore;

/// Reader threads of the SQLite store.
const READER_THREADS: usize = 2;
/// Shortest pause of the maintenance thread (so a failing step never spins).
const MIN_MAINTENANCE_PAUSE: Duration = Duration::from_secs(1);
/// Longest pause of the maintenance thread.
const MAX_MAINTENANCE_PAUSE: Duration = Duration::from_secs(60);
/// Retry delay after a failed maintenance step, ms.
const MAINTENANCE_RETRY_MS: u64 = 10_000;

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
    /// and call [`EmbeddedCore::maintain`]).
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// What the core logic shares with the key source and the maintenance thread.
struct Shared {
    options: EmbeddedCoreOptions,
    store: Arc<dyn SessionStore>,
    keys: Arc<KeyRing>,
    /// Verifies access tokens against this core's keys (core-side verify and regenerate).
    verifier: JwksCache,
    secret: ServerSecret,
    /// When expired sessions are next deleted, ms.
    next_cleanup_ms: AtomicU64,
}

impl Shared {
    fn now(&self) -> u64 {
        self.options.clock.now()
    }

    fn access_validity_ms(&self) -> u64 {
        millis(self.options.access_token_validity)
    }

    fn refresh_validity_ms(&self) -> u64 {
        millis(self.options.refresh_token_validity)
    }

    /// Rotates keys and deletes expired sessions when due; returns when to run next, ms.
    async fn maintain(&self) -> u64 {
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

/// The embedded session core.
pub(crate) struct EmbeddedCore {
    /// Held for its `Drop`: stops the maintenance thread (first, before `shared` goes).
    _maintenance: Option<Maintenance>,
    shared: Arc<Shared>,
}

impl fmt::Debug for EmbeddedCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedCore")
            .field("options", &self.shared.options)
            .field("keys", &self.shared.keys.current())
            .finish_non_exhaustive()
    }
}

impl EmbeddedCore {
    /// Opens (creating if needed) the core's data directory: the database
    /// `<dir>/sessions.sqlite3` (mode `0600`), migrated to the current schema, with the keys
    /// of an older `signing-keys.json` imported; creates signing keys on first use.
    ///
    /// # Errors
    ///
    /// I/O errors; `InvalidData` for a corrupt database or key file.
    pub(crate) fn open(dir: &Path, options: EmbeddedCoreOptions) -> io::Result<Self> {
        create_private_dir(dir)?;
        let sqlite = SqliteStore::open(
            &dir.join(DB_FILE),
            &SqliteOptions {
                busy_timeout: options.busy_timeout,
                readers: READER_THREADS,
            },
        )?;
        let store: Arc<dyn SessionStore> = Arc::new(sqlite);
        let (shared, next_due) = block_on(Self::start(dir, options, store))?;
        let shared = Arc::new(shared);
        let maintenance = if shared.options.background_maintenance {
            Some(Maintenance::spawn(Arc::clone(&shared), next_due)?)
        } else {
            None
        };
        Ok(Self {
            _maintenance: maintenance,
            shared,
        })
    }

    async fn start(
        dir: &Path,
        options: EmbeddedCoreOptions,
        store: Arc<dyn SessionStore>,
    ) -> io::Result<(Shared, u64)> {
        if let Some(legacy) = keys::read_legacy_key_file(dir)? {
            let imported = store
                .import_signing_keys(legacy)
                .await
                .map_err(|e| core_to_io(e.into()))?;
            tracing::info!(
                imported,
                "imported signing keys from {}",
                keys::LEGACY_KEY_FILE
            );
            if let Err(error) = keys::mark_legacy_key_file_imported(dir) {
                // Harmless: a later import adds nothing new.
                tracing::warn!(%error, "cannot rename {}", keys::LEGACY_KEY_FILE);
            }
        }
        let candidate = mint::random_bytes::<{ mint::SECRET_BYTES }>().map_err(core_to_io)?;
        let secret = store
            .server_secret(candidate.to_vec())
            .await
            .map_err(|e| core_to_io(e.into()))?;
        let ring = Arc::new(KeyRing::new(KeyPolicy {
            rotation_ms: millis(options.signing_key_rotation),
            overlap_ms: millis(options.signing_key_overlap),
            validity_ms: millis(options.access_token_validity),
        }));
        let now = options.clock.now();
        let (_, next_due) = ring.maintain(&*store, now).await.map_err(core_to_io)?;
        let verifier = JwksCache::new(Arc::new(EmbeddedKeySource::new(
            Arc::clone(&ring),
            Arc::clone(&store),
        )));
        let next_cleanup = now.saturating_add(millis(options.cleanup_interval));
        Ok((
            Shared {
                options,
                store,
                keys: ring,
                verifier,
                secret: ServerSecret::new(&secret),
                next_cleanup_ms: AtomicU64::new(next_cleanup),
            },
            next_due,
        ))
    }

    /// Runs key rotation and expired-session cleanup now if due (what the maintenance thread
    /// does on its schedule).
    #[cfg(test)]
    pub(crate) async fn maintain(&self) {
        self.shared.maintain().await;
    }
}

fn core_to_io(error: CoreError) -> io::Error {
    let kind = match error {
        CoreError::Unavailable(_) => io::ErrorKind::ResourceBusy,
        CoreError::BadRequest(_) | CoreError::Internal(_) => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, error.to_string())
}

/// Creates `dir` (and parents), owner-only where it is new.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The maintenance thread: stops (and is joined) when dropped.
struct Maintenance {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Maintenance {
    fn spawn(shared: Arc<Shared>, first_due_ms: u64) -> io::Result<Self> {
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

struct ThreadWaker(thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on this thread. Only for futures that make progress without
/// an async runtime (the store's, which are answered by its own threads).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}

impl SessionCore for EmbeddedCore {
    fn key_source(&self) -> Arc<dyn KeySource> {
        Arc::new(EmbeddedKeySource::new(
            Arc::clone(&self.shared.keys),
            Arc::clone(&self.shared.store),
        ))
    }

    fn create_session(&self, new: NewSession) -> BoxFuture<'_, Result<CreatedSession, CoreError>> {
        Box::pin(self.shared.create(new))
    }

    fn verify_session(
        &self,
        request: VerifyRequest,
    ) -> BoxFuture<'_, Result<VerifyOutcome, CoreError>> {
        Box::pin(self.shared.verify(request))
    }

    fn refresh_session(
        &self,
        request: RefreshRequest,
    ) -> BoxFuture<'_, Result<RefreshOutcome, CoreError>> {
        Box::pin(self.shared.refresh(request))
    }

    fn regenerate_access_token(
        &self,
        access_token: String,
        user_data_in_jwt: Map<String, Value>,
    ) -> BoxFuture<'_, Result<RegenerateOutcome, CoreError>> {
        Box::pin(self.shared.regenerate(access_token, user_data_in_jwt))
    }

    fn revoke_sessions(
        &self,
        handles: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(self.shared.revoke_sessions(handles))
    }

    fn revoke_all_sessions_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(
            self.shared
                .revoke_user_sessions(tenant_id, user_id, across_all_tenants),
        )
    }

    fn session_handles_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(
            self.shared
                .user_session_handles(tenant_id, user_id, across_all_tenants),
        )
    }

    fn session_information(
        &self,
        handle: String,
    ) -> BoxFuture<'_, Result<Option<SessionInformation>, CoreError>> {
        Box::pin(self.shared.session_information(handle))
    }

    fn update_session_data(
        &self,
        handle: String,
        data: Value,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        Box::pin(self.shared.update_session_data(handle, data))
    }

    fn update_access_token_payload(
        &self,
        handle: String,
        user_data_in_jwt: Map<String, Value>,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        Box::pin(
            self.shared
                .update_access_token_payload(handle, user_data_in_jwt),
        )
    }
}

/// Rejects a custom payload that sets a protected field (the core answers 400).
fn reject_protected(payload: &Map<String, Value>) -> Result<(), CoreError> {
    match payload
        .keys()
        .find(|k| crate::token::PROTECTED_PROPS.contains(&k.as_str()))
    {
        Some(key) => Err(CoreError::BadRequest(format!(
            "the access token payload may not contain the protected field `{key}`"
        ))),
        None => Ok(()),
    }
}

/// A session as the CDI describes it, from a stored record.
fn core_session(record: &store::SessionRecord) -> CoreSession {
    CoreSession {
        handle: record.handle.clone(),
        user_id: record.user_id.clone(),
        recipe_user_id: record.recipe_user_id.clone(),
        tenant_id: record.tenant_id.clone(),
        user_data_in_jwt: record.jwt_payload.clone(),
    }
}
