//! The SQLite [`SessionStore`]: one file, `<data dir>/sessions.sqlite3`.
//!
//! * The file is created `0600` (it holds private keys); WAL mode, `synchronous=FULL`, foreign
//!   keys on, a busy timeout so several processes can share it.
//! * One writer thread owns the writing connection and commits in groups: it takes every write
//!   queued while the previous commit was being synced, runs each in its own savepoint inside
//!   one `BEGIN IMMEDIATE` transaction, commits once, and only then answers each caller. A
//!   failing operation rolls back its savepoint without failing the others.
//! * Reads run on a few reader threads with their own connections (WAL readers never wait for
//!   the writer), so blocking SQLite calls never run on the caller's (actix) thread.
//! * The schema version lives in the `meta` table; [`migrate`] brings older files up to date.

use std::fmt;
use std::fs;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension as _, Row, params};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::store::{
    ChildIssue, Promotion, RefreshTokenRecord, SessionRecord, SessionStore, StoreError,
    StoreFuture, StoredKey, UserSessions,
};

/// The database file inside the data directory.
pub(crate) const DB_FILE: &str = "sessions.sqlite3";

/// The schema version this code writes (`meta.schema_version`).
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;

/// Expired sessions deleted per transaction by [`SessionStore::delete_expired`].
const CLEANUP_CHUNK: i64 = 1000;

/// Schema migrations: entry `i` brings version `i` to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first SQLite schema (keys were a JSON file before; see `keys::import_key_file`).
    "CREATE TABLE signing_keys (
         kid TEXT PRIMARY KEY NOT NULL,
         created_ms INTEGER NOT NULL,
         pkcs8 BLOB NOT NULL
     );
     CREATE TABLE sessions (
         handle TEXT PRIMARY KEY NOT NULL,
         user_id TEXT NOT NULL,
         recipe_user_id TEXT NOT NULL,
         tenant_id TEXT NOT NULL,
         jwt_payload TEXT NOT NULL,
         session_data TEXT NOT NULL,
         refresh_hash2 TEXT NOT NULL,
         expiry_ms INTEGER NOT NULL,
         created_ms INTEGER NOT NULL,
         use_dynamic_key INTEGER NOT NULL,
         child_epoch_ms INTEGER
     );
     CREATE INDEX sessions_by_user ON sessions (user_id, tenant_id);
     CREATE INDEX sessions_by_expiry ON sessions (expiry_ms);
     CREATE INDEX sessions_by_refresh_hash2 ON sessions (refresh_hash2);
     CREATE TABLE refresh_tokens (
         hash2 TEXT PRIMARY KEY NOT NULL,
         session_handle TEXT NOT NULL REFERENCES sessions (handle) ON DELETE CASCADE,
         parent_hash2 TEXT,
         anti_csrf_token TEXT,
         created_ms INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_handle);
     CREATE INDEX refresh_tokens_by_created ON refresh_tokens (created_ms);",
];

const SESSION_COLUMNS: &str = "s.handle, s.user_id, s.recipe_user_id, s.tenant_id, \
     s.jwt_payload, s.session_data, s.refresh_hash2, s.expiry_ms, s.created_ms, \
     s.use_dynamic_key, s.child_epoch_ms";

/// A queued write: runs inside the batch transaction, answers its caller after COMMIT.
trait WriteOp: Send {
    /// Runs the operation and keeps its result; `false` if it failed (its savepoint is then
    /// rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: the operation's result if `commit` succeeded, else the error.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

type WriteJob = Box<dyn WriteOp>;
/// A read: runs on a reader connection and answers the caller itself.
type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// A [`WriteOp`] from a closure.
struct Op<T, F> {
    op: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteOp for Op<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(op) = self.op.take() else {
            return false;
        };
        let result = op(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let result = match (commit, self.result) {
            (Err(error), _) => Err(error),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Failed("the write did not run".into())),
        };
        let _ = self.reply.send(result);
    }
}

/// Settings of [`SqliteStore::open`].
#[derive(Debug, Clone)]
pub(crate) struct SqliteOptions {
    /// How long to wait for another process's lock before failing with "busy".
    pub(crate) busy_timeout: Duration,
    /// Reader threads (each with its own connection).
    pub(crate) readers: usize,
}

/// The SQLite session store (see the module docs).
pub(crate) struct SqliteStore {
    path: PathBuf,
    writer: Option<mpsc::Sender<WriteJob>>,
    readers: Option<mpsc::Sender<ReadJob>>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("threads", &self.threads.len())
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed, `0600`) the database file at `path`, migrates it to
    /// [`SCHEMA_VERSION`] and starts the writer and reader threads.
    ///
    /// # Errors
    ///
    /// `InvalidData` if the file is not a usable database (corrupt, or written by a newer
    /// version), other kinds for I/O and permission problems.
    pub(crate) fn open(path: &Path, options: &SqliteOptions) -> io::Result<Self> {
        create_private_file(path)?;
        let wrap = |e: rusqlite::Error| open_error(path, &e);
        let mut writer = connect(path, options.busy_timeout).map_err(wrap)?;
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(wrap)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(io::Error::other(format!(
                "{}: cannot switch to WAL mode (got {mode})",
                path.display()
            )));
        }
        migrate(&mut writer).map_err(|e| match e {
            MigrateError::Sqlite(e) => wrap(e),
            MigrateError::Newer(found) => io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: schema version {found} is newer than this version of sessionward \
                     understands ({SCHEMA_VERSION})",
                    path.display()
                ),
            ),
        })?;

        let mut threads = Vec::new();
        let (write_tx, write_rx) = mpsc::channel::<WriteJob>();
        threads.push(
            thread::Builder::new()
                .name("sessionward-db-writer".into())
                .spawn(move || writer_loop(&writer, &write_rx))?,
        );
        let (read_tx, read_rx) = mpsc::channel::<ReadJob>();
        let read_rx = Arc::new(Mutex::new(read_rx));
        for i in 0..options.readers.max(1) {
            let conn = connect(path, options.busy_timeout).map_err(wrap)?;
            conn.pragma_update(None, "query_only", true).map_err(wrap)?;
            let rx = Arc::clone(&read_rx);
            threads.push(
                thread::Builder::new()
                    .name(format!("sessionward-db-reader-{i}"))
                    .spawn(move || reader_loop(&conn, &rx))?,
            );
        }
        Ok(Self {
            path: path.to_owned(),
            writer: Some(write_tx),
            readers: Some(read_tx),
            threads,
        })
    }

    /// Queues a write; the future resolves after the transaction holding it committed.
    fn write<T, F>(&self, op: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        send_write(self.writer.as_ref(), op)
    }

    /// Queues a read on a reader thread.
    fn read<T, F>(&self, op: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = tx.send(op(conn));
        });
        let sent = self.readers.as_ref().is_some_and(|r| r.send(job).is_ok());
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.unwrap_or(Err(StoreError::Closed))
        })
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channels ends the threads once queued work is done.
        self.writer = None;
        self.readers = None;
        let me = thread::current().id();
        for handle in self.threads.drain(..) {
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Busy(error.to_string())
            }
            // The file or the disk, not the data: an outage that ends without a restart.
            Some(
                ErrorCode::ReadOnly
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::PermissionDenied
                | ErrorCode::OutOfMemory
                | ErrorCode::FileLockingProtocolFailed,
            ) => StoreError::Unavailable(error.to_string()),
            _ => StoreError::Failed(error.to_string()),
        }
    }
}

fn open_error(path: &Path, error: &rusqlite::Error) -> io::Error {
    let kind = match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => io::ErrorKind::InvalidData,
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => io::ErrorKind::ResourceBusy,
        Some(ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => io::ErrorKind::PermissionDenied,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("{}: {error}", path.display()))
}

/// Creates `path` readable by the owner only, or tightens an existing file to `0600`.
fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
    }
    drop(file);
    Ok(())
}

fn connect(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

enum MigrateError {
    Sqlite(rusqlite::Error),
    Newer(u32),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error)
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction (safe when several processes
/// open the file at once).
fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (
             key TEXT PRIMARY KEY NOT NULL,
             value TEXT NOT NULL
         ) WITHOUT ROWID;",
    )?;
    let found: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    let found = match found {
        None => 0,
        Some(text) => text.parse::<u32>().map_err(|_| {
            MigrateError::Sqlite(rusqlite::Error::InvalidColumnType(
                0,
                "schema_version".into(),
                rusqlite::types::Type::Text,
            ))
        })?,
    };
    if found > SCHEMA_VERSION {
        return Err(MigrateError::Newer(found));
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tracing::info!(
            from = version,
            to = version + 1,
            "migrated the session database"
        );
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

fn writer_loop(conn: &Connection, jobs: &mpsc::Receiver<WriteJob>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(conn, batch);
    }
}

/// Runs `batch` in one transaction, each job in its own savepoint; answers after COMMIT.
fn run_batch(conn: &Connection, batch: Vec<WriteJob>) {
    if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
        let error = StoreError::from(error);
        tracing::warn!(%error, jobs = batch.len(), "session store: cannot start a write");
        for job in batch {
            job.finish(Err(error.clone()));
        }
        return;
    }
    let mut done = Vec::with_capacity(batch.len());
    for mut job in batch {
        if let Err(error) = conn.execute_batch("SAVEPOINT job") {
            done.push((job, Some(StoreError::from(error))));
            continue;
        }
        let ok = match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
            Ok(ok) => ok,
            Err(_) => {
                tracing::error!("session store: a write panicked and was rolled back");
                false
            }
        };
        let end = if ok {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        let error = conn.execute_batch(end).err().map(StoreError::from);
        done.push((job, error));
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for (job, error) in done {
                job.finish(error.map_or(Ok(()), Err));
            }
        }
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            let error = StoreError::from(error);
            tracing::warn!(%error, "session store: commit failed");
            for (job, _) in done {
                job.finish(Err(error.clone()));
            }
        }
    }
}

fn reader_loop(conn: &Connection, jobs: &Mutex<mpsc::Receiver<ReadJob>>) {
    loop {
        let job = {
            let jobs = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            jobs.recv()
        };
        let Ok(job) = job else { break };
        if catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
            tracing::error!("session store: a read panicked");
        }
    }
}

fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_ms(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|_| StoreError::Failed("cannot serialise session data".into()))
}

/// A session row as read, before its JSON columns are parsed.
struct RawSession {
    handle: String,
    user_id: String,
    recipe_user_id: String,
    tenant_id: String,
    jwt_payload: String,
    session_data: String,
    refresh_hash2: String,
    expiry_ms: i64,
    created_ms: i64,
    use_dynamic_key: bool,
    child_epoch_ms: Option<i64>,
}

impl RawSession {
    /// Reads [`SESSION_COLUMNS`] starting at column `at`.
    fn from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            handle: row.get(at)?,
            user_id: row.get(at + 1)?,
            recipe_user_id: row.get(at + 2)?,
            tenant_id: row.get(at + 3)?,
            jwt_payload: row.get(at + 4)?,
            session_data: row.get(at + 5)?,
            refresh_hash2: row.get(at + 6)?,
            expiry_ms: row.get(at + 7)?,
            created_ms: row.get(at + 8)?,
            use_dynamic_key: row.get(at + 9)?,
            child_epoch_ms: row.get(at + 10)?,
        })
    }

    fn parse(self) -> Result<SessionRecord, StoreError> {
        let corrupt = || StoreError::Failed(format!("session {} holds invalid JSON", self.handle));
        let jwt_payload: Map<String, Value> =
            serde_json::from_str(&self.jwt_payload).map_err(|_| corrupt())?;
        let session_data: Value =
            serde_json::from_str(&self.session_data).map_err(|_| corrupt())?;
        Ok(SessionRecord {
            handle: self.handle,
            user_id: self.user_id,
            recipe_user_id: self.recipe_user_id,
            tenant_id: self.tenant_id,
            jwt_payload,
            session_data,
            refresh_hash2: self.refresh_hash2,
            expiry_ms: from_ms(self.expiry_ms),
            created_ms: from_ms(self.created_ms),
            use_dynamic_key: self.use_dynamic_key,
            child_epoch_ms: self.child_epoch_ms.map(from_ms),
        })
    }
}

fn insert_refresh_token(conn: &Connection, token: &RefreshTokenRecord) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO refresh_tokens
             (hash2, session_handle, parent_hash2, anti_csrf_token, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        token.hash2,
        token.session_handle,
        token.parent_hash2,
        token.anti_csrf_token,
        ms(token.created_ms)
    ])?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl SessionStore for SqliteStore {
    fn server_secret(&self, candidate: Vec<u8>) -> StoreFuture<Vec<u8>> {
        self.write(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('server_secret', ?1)",
                [hex(&candidate)],
            )?;
            let stored: String = conn.query_row(
                "SELECT value FROM meta WHERE key = 'server_secret'",
                [],
                |row| row.get(0),
            )?;
            unhex(&stored)
                .ok_or_else(|| StoreError::Failed("the stored server secret is invalid".into()))
        })
    }

    fn insert_session(&self, session: SessionRecord, token: RefreshTokenRecord) -> StoreFuture<()> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO sessions (handle, user_id, recipe_user_id, tenant_id, jwt_payload,
                     session_data, refresh_hash2, expiry_ms, created_ms, use_dynamic_key,
                     child_epoch_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                session.handle,
                session.user_id,
                session.recipe_user_id,
                session.tenant_id,
                to_json(&session.jwt_payload)?,
                to_json(&session.session_data)?,
                session.refresh_hash2,
                ms(session.expiry_ms),
                ms(session.created_ms),
                session.use_dynamic_key,
                session.child_epoch_ms.map(ms),
            ])?;
            insert_refresh_token(conn, &token)?;
            Ok(())
        })
    }

    fn session(&self, handle: String) -> StoreFuture<Option<SessionRecord>> {
        self.read(move |conn| {
            let raw = conn
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.handle = ?1"
                ))?
                .query_row([handle], |row| RawSession::from_row(row, 0))
                .optional()?;
            raw.map(RawSession::parse).transpose()
        })
    }

    fn refresh_token(
        &self,
        hash2: String,
    ) -> StoreFuture<Option<(RefreshTokenRecord, SessionRecord)>> {
        self.read(move |conn| {
            let found = conn
                .prepare_cached(&format!(
                    "SELECT t.hash2, t.session_handle, t.parent_hash2, t.anti_csrf_token,
                         t.created_ms, {SESSION_COLUMNS}
                     FROM refresh_tokens t JOIN sessions s ON s.handle = t.session_handle
                     WHERE t.hash2 = ?1"
                ))?
                .query_row([hash2], |row| {
                    let token = RefreshTokenRecord {
                        hash2: row.get(0)?,
                        session_handle: row.get(1)?,
                        parent_hash2: row.get(2)?,
                        anti_csrf_token: row.get(3)?,
                        created_ms: from_ms(row.get(4)?),
                    };
                    Ok((token, RawSession::from_row(row, 5)?))
                })
                .optional()?;
            match found {
                Some((token, raw)) => Ok(Some((token, raw.parse()?))),
                None => Ok(None),
            }
        })
    }

    fn promote(&self, promotion: Promotion) -> StoreFuture<bool> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE sessions SET refresh_hash2 = ?3, expiry_ms = ?4, child_epoch_ms = NULL
                     WHERE handle = ?1 AND refresh_hash2 = ?2 AND expiry_ms > ?5",
                )?
                .execute(params![
                    promotion.handle,
                    promotion.from_hash2,
                    promotion.to_hash2,
                    ms(promotion.expiry_ms),
                    ms(promotion.now_ms),
                ])?;
            Ok(changed == 1)
        })
    }

    fn issue_child(&self, issue: ChildIssue) -> StoreFuture<bool> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE sessions SET child_epoch_ms = ?4
                     WHERE handle = ?1 AND refresh_hash2 = ?2 AND child_epoch_ms IS ?3
                         AND expiry_ms > ?5",
                )?
                .execute(params![
                    issue.handle,
                    issue.current_hash2,
                    issue.expected_epoch_ms.map(ms),
                    ms(issue.epoch_ms),
                    ms(issue.now_ms),
                ])?;
            if changed != 1 {
                return Ok(false);
            }
            insert_refresh_token(conn, &issue.child)?;
            Ok(true)
        })
    }

    fn set_key_type(&self, handle: String, dynamic: bool, now_ms: u64) -> StoreFuture<bool> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE sessions SET use_dynamic_key = ?2 WHERE handle = ?1 AND expiry_ms > ?3",
                )?
                .execute(params![handle, dynamic, ms(now_ms)])?;
            Ok(changed == 1)
        })
    }

    fn update_session_data(&self, handle: String, data: Value, now_ms: u64) -> StoreFuture<bool> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE sessions SET session_data = ?2 WHERE handle = ?1 AND expiry_ms > ?3",
                )?
                .execute(params![handle, to_json(&data)?, ms(now_ms)])?;
            Ok(changed == 1)
        })
    }

    fn update_jwt_payload(
        &self,
        handle: String,
        payload: Map<String, Value>,
        now_ms: u64,
    ) -> StoreFuture<bool> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE sessions SET jwt_payload = ?2 WHERE handle = ?1 AND expiry_ms > ?3",
                )?
                .execute(params![handle, to_json(&payload)?, ms(now_ms)])?;
            Ok(changed == 1)
        })
    }

    fn delete_sessions(&self, handles: Vec<String>) -> StoreFuture<Vec<String>> {
        self.write(move |conn| {
            let mut deleted = Vec::new();
            let mut statement = conn.prepare_cached("DELETE FROM sessions WHERE handle = ?1")?;
            for handle in handles {
                if !deleted.contains(&handle) && statement.execute([&handle])? == 1 {
                    deleted.push(handle);
                }
            }
            Ok(deleted)
        })
    }

    fn delete_user_sessions(&self, scope: UserSessions) -> StoreFuture<Vec<String>> {
        self.write(move |conn| {
            let mut statement = conn.prepare_cached(
                "DELETE FROM sessions
                 WHERE user_id = ?1 AND (?2 IS NULL OR tenant_id = ?2) AND expiry_ms > ?3
                 RETURNING handle",
            )?;
            let handles = statement
                .query_map(
                    params![scope.user_id, scope.tenant_id, ms(scope.now_ms)],
                    |row| row.get(0),
                )?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(handles)
        })
    }

    fn user_session_handles(&self, scope: UserSessions) -> StoreFuture<Vec<String>> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT handle FROM sessions
                 WHERE user_id = ?1 AND (?2 IS NULL OR tenant_id = ?2) AND expiry_ms > ?3
                 ORDER BY created_ms, handle",
            )?;
            let handles = statement
                .query_map(
                    params![scope.user_id, scope.tenant_id, ms(scope.now_ms)],
                    |row| row.get(0),
                )?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(handles)
        })
    }

    fn delete_expired(&self, now_ms: u64, tokens_issued_before_ms: u64) -> StoreFuture<u64> {
        // Chunks keep each transaction (and the time other writers wait) short.
        let chunk = |now_ms: u64| {
            move |conn: &Connection| -> Result<u64, StoreError> {
                let deleted = conn
                    .prepare_cached(
                        "DELETE FROM sessions WHERE handle IN
                             (SELECT handle FROM sessions WHERE expiry_ms <= ?1 LIMIT ?2)",
                    )?
                    .execute(params![ms(now_ms), CLEANUP_CHUNK])?;
                Ok(deleted as u64)
            }
        };
        let mut pending = Some(self.write(chunk(now_ms)));
        let writer = self.writer.clone();
        Box::pin(async move {
            let mut total = 0;
            while let Some(future) = pending.take() {
                let deleted = future.await?;
                total += deleted;
                if deleted == CLEANUP_CHUNK as u64 {
                    pending = Some(send_write(writer.as_ref(), chunk(now_ms)));
                }
            }
            send_write(writer.as_ref(), move |conn| {
                let deleted = conn
                    .prepare_cached(
                        "DELETE FROM refresh_tokens WHERE created_ms < ?1 AND NOT EXISTS
                             (SELECT 1 FROM sessions s WHERE s.refresh_hash2 = refresh_tokens.hash2)",
                    )?
                    .execute([ms(tokens_issued_before_ms)])?;
                Ok(deleted as u64)
            })
            .await?;
            Ok(total)
        })
    }

    fn signing_keys(&self) -> StoreFuture<Vec<StoredKey>> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT kid, created_ms, pkcs8 FROM signing_keys ORDER BY created_ms, kid",
            )?;
            let keys = statement
                .query_map([], |row| {
                    Ok(StoredKey {
                        kid: row.get(0)?,
                        created_ms: from_ms(row.get(1)?),
                        pkcs8: row.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(keys)
        })
    }

    fn add_signing_key(
        &self,
        key: StoredKey,
        expected_newest: Option<String>,
    ) -> StoreFuture<bool> {
        self.write(move |conn| {
            let prefix = key.kid.get(..2).unwrap_or_default().to_owned();
            let newest: Option<String> = conn
                .query_row(
                    "SELECT kid FROM signing_keys WHERE substr(kid, 1, 2) = ?1
                     ORDER BY created_ms DESC, kid DESC LIMIT 1",
                    [prefix],
                    |row| row.get(0),
                )
                .optional()?;
            if newest != expected_newest {
                return Ok(false);
            }
            let added = conn.execute(
                "INSERT OR IGNORE INTO signing_keys (kid, created_ms, pkcs8) VALUES (?1, ?2, ?3)",
                params![key.kid, ms(key.created_ms), key.pkcs8],
            )?;
            Ok(added == 1)
        })
    }

    fn import_signing_keys(&self, keys: Vec<StoredKey>) -> StoreFuture<u64> {
        self.write(move |conn| {
            let mut added = 0;
            for key in keys {
                added += conn.execute(
                    "INSERT OR IGNORE INTO signing_keys (kid, created_ms, pkcs8)
                     VALUES (?1, ?2, ?3)",
                    params![key.kid, ms(key.created_ms), key.pkcs8],
                )? as u64;
            }
            Ok(added)
        })
    }

    fn remove_signing_keys(&self, kids: Vec<String>) -> StoreFuture<u64> {
        self.write(move |conn| {
            let mut removed = 0;
            for kid in kids {
                removed += conn.execute("DELETE FROM signing_keys WHERE kid = ?1", [kid])? as u64;
            }
            Ok(removed)
        })
    }
}

/// Queues a write on `writer` (also used by futures that queue several writes).
fn send_write<T, F>(writer: Option<&mpsc::Sender<WriteJob>>, op: F) -> StoreFuture<T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, rx) = oneshot::channel();
    let job: WriteJob = Box::new(Op {
        op: Some(op),
        result: None,
        reply,
    });
    let sent = writer.is_some_and(|w| w.send(job).is_ok());
    Box::pin(async move {
        if !sent {
            return Err(StoreError::Closed);
        }
        rx.await.unwrap_or(Err(StoreError::Closed))
    })
}
