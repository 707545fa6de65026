//! The embedded core: SuperTokens core session semantics (docs/protocol.md §10.3, CDI ≤ 5.5) inside
//! the app process, persisted in one SQLite file under a data directory, or (feature `postgres`)
//! in a PostgreSQL database that several app instances share. No service to run.
//!
//! Layout:
//! * this file: opening the core, the state its parts share, and the [`SessionCore`] calls
//!   handed to them; `options.rs`: the settings and the clock.
//! * `store.rs`: the [`SessionStore`] trait between the logic and the storage; `sqlite/`: its
//!   SQLite implementation (group commit, WAL readers); `postgres/`: its PostgreSQL one
//!   (a connection pool on the store's own runtime).
//! * `keys.rs`: signing keys, their rotation and the JWKS; `legacy.rs`: the key of v2 access
//!   tokens (CDI before 2.21), apart from the JWKS; `mint.rs`: token material.
//! * `sessions.rs`: create, verify, regenerate and the session admin calls; `refresh.rs`:
//!   refresh-token rotation with theft detection and the refresh grace window.
//! * `maintenance.rs`: the background thread (key rotation, expiry sweeps); `blocking.rs`:
//!   runs store futures to completion on a plain thread.
//!
//! Several processes may open the same data directory (or PostgreSQL database) at once: every state change is a
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
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde_json::{Map, Value};

use super::{
    BoxFuture, CoreError, CoreSession, CreatedSession, LegacyHandshake, NewJwt, NewSession,
    RefreshOutcome, RefreshRequest, RegenerateOutcome, SessionCore, SessionInformation,
    VerifyOutcome, VerifyRequest,
};
use crate::keys::{JwksCache, KeySource};

mod blocking;
mod keys;
mod legacy;
mod maintenance;
mod mint;
mod options;
#[cfg(feature = "postgres")]
mod postgres;
mod refresh;
mod sessions;
#[cfg(feature = "embedded")]
mod sqlite;
mod store;

#[cfg(all(test, feature = "embedded"))]
mod tests;

use blocking::block_on;
use keys::{EmbeddedKeySource, KeyPolicy, KeyRing};
use maintenance::Maintenance;
use mint::ServerSecret;
pub(crate) use options::EmbeddedCoreOptions;
use options::millis;
#[cfg(feature = "embedded")]
use sqlite::{DB_FILE, SqliteOptions, SqliteStore};
use store::SessionStore;

/// Reader threads of the SQLite store.
#[cfg(feature = "embedded")]
const READER_THREADS: usize = 2;

/// What the core logic shares with the key source and the maintenance thread.
struct Shared {
    options: EmbeddedCoreOptions,
    store: Arc<dyn SessionStore>,
    keys: Arc<KeyRing>,
    /// The legacy key of v2 access tokens (CDI before 2.21), loaded on first use.
    legacy: legacy::LegacyKeys,
    /// Verifies access tokens against this core's keys (core-side verify and regenerate).
    verifier: JwksCache,
    secret: ServerSecret,
    /// When expired sessions are next deleted, ms.
    next_cleanup_ms: AtomicU64,
}

impl Shared {
    /// CDI `POST /recipe/jwt`: signed with the static key, or with the dynamic key that signs
    /// access tokens now (the core's latest issued one).
    fn create_jwt(&self, jwt: &NewJwt) -> Result<String, CoreError> {
        jwt.check()?;
        let now = self.now();
        let key = self.keys.signer(!jwt.use_static_signing_key, now)?;
        mint::mint_jwt(
            &key,
            &jwt.payload,
            &jwt.jwks_domain,
            now / 1000,
            jwt.validity_secs,
        )
    }

    fn now(&self) -> u64 {
        self.options.clock.now()
    }

    fn access_validity_ms(&self) -> u64 {
        millis(self.options.access_token_validity)
    }

    fn refresh_validity_ms(&self) -> u64 {
        millis(self.options.refresh_token_validity)
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
    #[cfg(feature = "embedded")]
    pub(crate) fn open(dir: &Path, options: EmbeddedCoreOptions) -> io::Result<Self> {
        create_private_dir(dir)?;
        let sqlite = SqliteStore::open(
            &dir.join(DB_FILE),
            &SqliteOptions {
                busy_timeout: options.busy_timeout,
                readers: READER_THREADS,
            },
        )?;
        Self::with_store(Arc::new(sqlite), Some(dir), options)
    }

    /// Opens the core over the PostgreSQL database at `url` (migrated to the current schema);
    /// creates signing keys on first use. Blocks until the database answered.
    /// `root_certificates` (PEM documents) are CAs trusted for TLS besides the URL's
    /// `sslrootcert`; `pool_size` caps the connections (`None`: the default).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for an unusable URL or CA certificate, `ResourceBusy` when the database
    /// cannot be reached, `InvalidData` for a schema of a newer version; never with the URL's
    /// password.
    #[cfg(feature = "postgres")]
    pub(crate) fn open_postgres(
        url: &str,
        root_certificates: Vec<Vec<u8>>,
        pool_size: Option<usize>,
        options: EmbeddedCoreOptions,
    ) -> io::Result<Self> {
        let store = postgres::PostgresStore::open(
            url,
            &postgres::PostgresOptions {
                connect_timeout: options.busy_timeout,
                root_certificates,
                pool_size: pool_size.unwrap_or(postgres::DEFAULT_POOL_SIZE),
            },
        )?;
        Self::with_store(Arc::new(store), None, options)
    }

    /// Starts the core over `store`, importing an older key file from `legacy_dir` if any.
    fn with_store(
        store: Arc<dyn SessionStore>,
        legacy_dir: Option<&Path>,
        options: EmbeddedCoreOptions,
    ) -> io::Result<Self> {
        let (shared, next_due) = block_on(Self::start(legacy_dir, options, store))?;
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
        legacy_dir: Option<&Path>,
        options: EmbeddedCoreOptions,
        store: Arc<dyn SessionStore>,
    ) -> io::Result<(Shared, u64)> {
        if let Some(dir) = legacy_dir
            && let Some(legacy) = keys::read_legacy_key_file(dir)?
        {
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
                legacy: legacy::LegacyKeys::default(),
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

/// The database a PostgreSQL URL names, as `postgres://user@host:port/dbname`: without the
/// password, for messages (`<unparsable URL>` if it cannot be read).
#[cfg(feature = "postgres")]
pub(crate) fn postgres_target(url: &str) -> String {
    postgres::url_target(url).unwrap_or_else(|| "<unparsable PostgreSQL URL>".to_owned())
}

/// Creates `dir` (and parents), owner-only where it is new.
#[cfg(feature = "embedded")]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
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

    fn create_jwt(&self, jwt: NewJwt) -> BoxFuture<'_, Result<String, CoreError>> {
        Box::pin(async move { self.shared.create_jwt(&jwt) })
    }

    fn legacy_handshake(&self) -> BoxFuture<'_, Result<LegacyHandshake, CoreError>> {
        Box::pin(async move {
            let key = self
                .shared
                .legacy
                .signer(&*self.shared.store, self.shared.now())
                .await?;
            Ok(LegacyHandshake {
                keys: vec![key.public().clone()],
                access_token_validity_ms: self.shared.access_validity_ms(),
                refresh_token_validity_ms: self.shared.refresh_validity_ms(),
            })
        })
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), CoreError>> {
        Box::pin(async move { Ok(self.shared.store.ping().await?) })
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
