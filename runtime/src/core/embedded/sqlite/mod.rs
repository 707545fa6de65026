//! The SQLite [`SessionStore`](super::store::SessionStore): one file,
//! `<data dir>/sessions.sqlite3`.
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
//!
//! This file opens the database and owns the store; `schema.rs` holds the migrations,
//! `threads.rs` the writer and reader threads, `queries.rs` the SQL of each store operation.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::store::StoreError;
use schema::{MigrateError, migrate};
use threads::{ReadJob, WriteJob, reader_loop, writer_loop};

mod queries;
mod schema;
mod threads;

pub(crate) use schema::SCHEMA_VERSION;

/// The database file inside the data directory.
pub(crate) const DB_FILE: &str = "sessions.sqlite3";

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
        let mode = switch_to_wal(&writer, options.busy_timeout).map_err(wrap)?;
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

/// Switches the database to WAL mode, returning the journal mode it reports.
///
/// Switching takes an exclusive lock. When another process holds the file's write lock at that
/// moment (two processes starting on a new file: one is migrating while the other switches),
/// SQLite answers "database is locked" at once instead of calling the busy handler, because a
/// reader waiting to upgrade could deadlock. The other process soon commits (or has already
/// switched, making this a no-op), so the switch is retried, for up to `busy_timeout` in all.
fn switch_to_wal(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<String> {
    let deadline = Instant::now() + busy_timeout;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Err(error)
                if matches!(
                    error.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                ) && Instant::now() < deadline =>
            {
                thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
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
