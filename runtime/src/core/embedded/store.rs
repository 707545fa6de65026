//! The storage boundary of the embedded core: [`SessionStore`] and the records it keeps.
//!
//! The core logic (`sessions.rs`, `refresh.rs`, `keys.rs`) decides; a store only persists. Every
//! state change the logic makes concurrently with other requests or other processes is a single
//! conditional ("compare and set") operation here, so a backend needs atomic single operations,
//! not long transactions. Every write is durable when its future resolves: the caller may answer
//! the client right after.
//!
//! Backends: SQLite (`super::sqlite::SqliteStore`, one file under a data directory) and, with
//! the `postgres` feature, PostgreSQL (`super::postgres::PostgresStore`, one database shared by
//! every instance of an app).

use std::fmt;

use serde_json::{Map, Value};

use crate::core::{BoxFuture, CoreError};

/// The future every [`SessionStore`] method returns. Work may start when the method is called,
/// before the future is first polled (so callers can overlap it with signing).
pub(crate) type StoreFuture<T> = BoxFuture<'static, Result<T, StoreError>>;

/// Why a store operation failed. Messages never contain tokens, keys or session data.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum StoreError {
    /// The storage is locked by someone else for longer than the busy timeout: retry later.
    #[error("session store busy: {0}")]
    Busy(String),
    /// The storage cannot be written (or read) right now: a read-only file, a full disk, an
    /// I/O error. Answered as an outage (503), so that it never signs anyone out.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// The store has shut down.
    #[error("session store closed")]
    Closed,
    /// Anything else (I/O, corruption, unexpected data).
    #[error("session store failure: {0}")]
    Failed(String),
}

impl From<StoreError> for CoreError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Busy(_) | StoreError::Unavailable(_) | StoreError::Closed => {
                CoreError::Unavailable(error.to_string())
            }
            StoreError::Failed(_) => CoreError::Internal(error.to_string()),
        }
    }
}

/// A stored session (the core's `session_info` row).
#[derive(Clone, PartialEq)]
pub(crate) struct SessionRecord {
    /// The session handle (a UUID).
    pub(crate) handle: String,
    /// The primary user id.
    pub(crate) user_id: String,
    /// The recipe user id.
    pub(crate) recipe_user_id: String,
    /// The tenant.
    pub(crate) tenant_id: String,
    /// The custom access-token payload.
    pub(crate) jwt_payload: Map<String, Value>,
    /// Database-only session data.
    pub(crate) session_data: Value,
    /// sha256-hex(sha256-hex(current refresh token)).
    pub(crate) refresh_hash2: String,
    /// Session expiry, ms; the session is live while `now < expiry_ms`.
    pub(crate) expiry_ms: u64,
    /// Creation time, ms.
    pub(crate) created_ms: u64,
    /// Whether access tokens are signed with the dynamic (`d-…`) key.
    pub(crate) use_dynamic_key: bool,
    /// When the first child of the current refresh token was issued (start of the refresh
    /// grace window); `None` until the current token is refreshed.
    pub(crate) child_epoch_ms: Option<u64>,
}

impl SessionRecord {
    /// Whether the session has not expired at `now_ms`.
    pub(crate) fn is_live(&self, now_ms: u64) -> bool {
        now_ms < self.expiry_ms
    }
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("handle", &self.handle)
            .field("user_id", &self.user_id)
            .field("recipe_user_id", &self.recipe_user_id)
            .field("tenant_id", &self.tenant_id)
            .field(
                "jwt_payload_keys",
                &self.jwt_payload.keys().collect::<Vec<_>>(),
            )
            .field("expiry_ms", &self.expiry_ms)
            .field("created_ms", &self.created_ms)
            .field("use_dynamic_key", &self.use_dynamic_key)
            .field("child_epoch_ms", &self.child_epoch_ms)
            .finish_non_exhaustive()
    }
}

/// A refresh token that was issued for a session (kept so that an old token can be traced to
/// its session: theft detection).
#[derive(Clone, PartialEq)]
pub(crate) struct RefreshTokenRecord {
    /// sha256-hex(sha256-hex(token)).
    pub(crate) hash2: String,
    /// The session it belongs to.
    pub(crate) session_handle: String,
    /// `hash2` of the token it was issued for (`None` for the first token of a session).
    pub(crate) parent_hash2: Option<String>,
    /// The anti-CSRF token issued with it, if any.
    pub(crate) anti_csrf_token: Option<String>,
    /// Issue time, ms.
    pub(crate) created_ms: u64,
}

impl fmt::Debug for RefreshTokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenRecord")
            .field("session_handle", &self.session_handle)
            .field("has_parent", &self.parent_hash2.is_some())
            .field(
                "anti_csrf_token",
                &self.anti_csrf_token.as_ref().map(|_| "<redacted>"),
            )
            .field("created_ms", &self.created_ms)
            .finish_non_exhaustive()
    }
}

/// A private signing key as stored.
#[derive(Clone, PartialEq)]
pub(crate) struct StoredKey {
    /// `d-<created ms>` (dynamic) or `s-<uuid>` (static); `l-<uuid>` for a legacy (v2) key.
    pub(crate) kid: String,
    /// Creation time, ms.
    pub(crate) created_ms: u64,
    /// PKCS#8 DER of the RSA key pair (secret).
    pub(crate) pkcs8: Vec<u8>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("created_ms", &self.created_ms)
            .field("pkcs8", &"<redacted>")
            .finish()
    }
}

/// Commits a refresh-token rotation (compare and set).
#[derive(Debug, Clone)]
pub(crate) struct Promotion {
    /// The session.
    pub(crate) handle: String,
    /// The `refresh_hash2` the session must still have.
    pub(crate) from_hash2: String,
    /// The new current token's `hash2`.
    pub(crate) to_hash2: String,
    /// The new session expiry, ms.
    pub(crate) expiry_ms: u64,
    /// The session must be live at this time, ms.
    pub(crate) now_ms: u64,
}

/// Opens a refresh grace window: records `epoch_ms` as the issue time of the children of the
/// current token and stores the child (compare and set).
#[derive(Debug, Clone)]
pub(crate) struct ChildIssue {
    /// The session.
    pub(crate) handle: String,
    /// The `refresh_hash2` the session must still have.
    pub(crate) current_hash2: String,
    /// The `child_epoch_ms` the session must still have.
    pub(crate) expected_epoch_ms: Option<u64>,
    /// The new window start, ms.
    pub(crate) epoch_ms: u64,
    /// The child token to record.
    pub(crate) child: RefreshTokenRecord,
    /// The session must be live at this time, ms.
    pub(crate) now_ms: u64,
}

/// Refreshes a session's current token in one step: see [`SessionStore::claim_current`].
#[derive(Clone)]
// Read only by the stores that take the claim (PostgreSQL).
#[cfg_attr(not(feature = "postgres"), expect(dead_code))]
pub(crate) struct CurrentClaim {
    /// `hash2` of the presented refresh token.
    pub(crate) hash2: String,
    /// The new window start (the time of the refresh), ms; the session must be live then.
    pub(crate) epoch_ms: u64,
    /// The refresh grace, ms: a window opened less than this before `epoch_ms` is still open.
    pub(crate) grace_ms: u64,
    /// `hash2` of the child to store (its parent is the presented token).
    pub(crate) child_hash2: String,
    /// The anti-CSRF token issued with the child, if any.
    pub(crate) child_anti_csrf_token: Option<String>,
    /// Whether the anti-CSRF token issued with the presented token (if any) must equal
    /// `presented_anti_csrf_token`.
    pub(crate) check_anti_csrf: bool,
    /// The anti-CSRF token the caller sent.
    pub(crate) presented_anti_csrf_token: Option<String>,
}

impl fmt::Debug for CurrentClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentClaim")
            .field("epoch_ms", &self.epoch_ms)
            .field("grace_ms", &self.grace_ms)
            .field("check_anti_csrf", &self.check_anti_csrf)
            .finish_non_exhaustive()
    }
}

/// Which sessions of a user an operation covers.
#[derive(Debug, Clone)]
pub(crate) struct UserSessions {
    /// The (primary) user id.
    pub(crate) user_id: String,
    /// One tenant, or `None` for every tenant.
    pub(crate) tenant_id: Option<String>,
    /// Only sessions live at this time, ms.
    pub(crate) now_ms: u64,
}

/// Where the embedded core keeps sessions, refresh tokens, signing keys and its secret.
///
/// Implementations must make each method atomic, and each write durable before its future
/// resolves. Methods never see raw refresh tokens, only their double hashes.
pub(crate) trait SessionStore: Send + Sync + 'static {
    /// The server secret: the stored one, or `candidate` if none was stored yet.
    fn server_secret(&self, candidate: Vec<u8>) -> StoreFuture<Vec<u8>>;

    /// Inserts a new session and its first refresh token.
    fn insert_session(&self, session: SessionRecord, token: RefreshTokenRecord) -> StoreFuture<()>;

    /// The session with this handle (live or not).
    fn session(&self, handle: String) -> StoreFuture<Option<SessionRecord>>;

    /// The refresh token with this `hash2`, and its session (live or not).
    fn refresh_token(
        &self,
        hash2: String,
    ) -> StoreFuture<Option<(RefreshTokenRecord, SessionRecord)>>;

    /// Applies `promotion` if the session is live and still has `from_hash2`; `true` if applied.
    fn promote(&self, promotion: Promotion) -> StoreFuture<bool>;

    /// Applies `issue` if the session is live and still has `current_hash2` and
    /// `expected_epoch_ms`; `true` if applied (the child is then stored).
    fn issue_child(&self, issue: ChildIssue) -> StoreFuture<bool>;

    /// The usual refresh in one operation, for a store where every read is a round trip: if
    /// `claim.hash2` is the current token of a session live at `epoch_ms`, no grace window of
    /// it is open, and the anti-CSRF check passes, opens a window at `epoch_ms` and stores the
    /// child, as [`issue_child`](Self::issue_child) would after
    /// [`refresh_token`](Self::refresh_token); returns the session as it then is. `None`
    /// otherwise: the caller takes that general path, which decides every other case.
    ///
    /// By default `None` always: where reads are local and run beside the writer (SQLite),
    /// the general path is as fast, and putting the read on the writer would slow it down.
    fn claim_current(&self, _claim: CurrentClaim) -> StoreFuture<Option<SessionRecord>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Sets the signing-key type of a live session; `false` if it does not exist.
    fn set_key_type(&self, handle: String, dynamic: bool, now_ms: u64) -> StoreFuture<bool>;

    /// Replaces the session data of a live session; `false` if it does not exist.
    fn update_session_data(&self, handle: String, data: Value, now_ms: u64) -> StoreFuture<bool>;

    /// Replaces the custom access-token payload of a live session; `false` if it does not exist.
    fn update_jwt_payload(
        &self,
        handle: String,
        payload: Map<String, Value>,
        now_ms: u64,
    ) -> StoreFuture<bool>;

    /// Deletes these sessions (and their refresh tokens); returns the handles that existed.
    fn delete_sessions(&self, handles: Vec<String>) -> StoreFuture<Vec<String>>;

    /// Deletes a user's live sessions; returns their handles.
    fn delete_user_sessions(&self, scope: UserSessions) -> StoreFuture<Vec<String>>;

    /// The handles of a user's live sessions, oldest first.
    fn user_session_handles(&self, scope: UserSessions) -> StoreFuture<Vec<String>>;

    /// Deletes sessions expired at `now_ms` (with their refresh tokens), and refresh tokens
    /// issued before `tokens_issued_before_ms` that are not the current token of a session;
    /// returns the number of deleted sessions.
    fn delete_expired(&self, now_ms: u64, tokens_issued_before_ms: u64) -> StoreFuture<u64>;

    /// Every stored signing key.
    fn signing_keys(&self) -> StoreFuture<Vec<StoredKey>>;

    /// Stores `key` if the newest stored key of its kind (`d-`/`s-` prefix) is still
    /// `expected_newest` (`None`: no key of that kind); `true` if stored.
    fn add_signing_key(&self, key: StoredKey, expected_newest: Option<String>)
    -> StoreFuture<bool>;

    /// Stores the keys whose kid is not stored yet; returns how many were added.
    fn import_signing_keys(&self, keys: Vec<StoredKey>) -> StoreFuture<u64>;

    /// Deletes these signing keys; returns how many existed.
    fn remove_signing_keys(&self, kids: Vec<String>) -> StoreFuture<u64>;

    /// Every stored legacy access-token signing key (the keys of v2 tokens, kept apart from
    /// the JWKS keys), oldest first.
    fn legacy_signing_keys(&self) -> StoreFuture<Vec<StoredKey>>;

    /// Stores the legacy signing key `key` if the newest stored legacy key is still
    /// `expected_newest` (`None`: none is stored); `true` if stored. Instances that create a
    /// key at the same moment store one: the others see it as the newest.
    fn add_legacy_signing_key(
        &self,
        key: StoredKey,
        expected_newest: Option<String>,
    ) -> StoreFuture<bool>;

    /// Answers a trivial query, for a readiness check: on every path requests take (SQLite: the
    /// reader threads and the writer thread; PostgreSQL: a pooled connection).
    fn ping(&self) -> StoreFuture<()>;
}
