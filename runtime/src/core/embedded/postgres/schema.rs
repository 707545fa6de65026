//! The PostgreSQL schema: the migrations and the `sessionward_meta.schema_version` they advance.

use deadpool_postgres::Pool;

use crate::core::embedded::store::StoreError;

/// The schema version this code writes (`sessionward_meta.schema_version`).
pub(crate) const SCHEMA_VERSION: u32 = 2;

/// The advisory lock held while migrating (one migration at a time across instances): the
/// first eight bytes of "sessionward-migrate" read as a big-endian number, so it is unlikely
/// to collide with an app's own advisory locks.
const MIGRATION_LOCK: i64 = 0x7365_7373_696f_6e77;

/// The advisory lock serialising signing-key compare-and-set (see `queries.rs`).
pub(super) const SIGNING_KEY_LOCK: i64 = MIGRATION_LOCK + 1;

/// The advisory lock serialising legacy signing-key compare-and-set (see `queries.rs`).
pub(super) const LEGACY_SIGNING_KEY_LOCK: i64 = MIGRATION_LOCK + 2;

/// Schema migrations: entry `i` brings version `i` to version `i + 1`.
///
/// JSON columns are `TEXT`, not `jsonb`: `jsonb` reorders keys and normalises numbers, and
/// the payloads must read back exactly as written (they are signed into access tokens).
/// Times are milliseconds in `BIGINT`, as in the SQLite store.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema.
    "CREATE TABLE sessionward_signing_keys (
         kid TEXT PRIMARY KEY,
         created_ms BIGINT NOT NULL,
         pkcs8 BYTEA NOT NULL
     );
     CREATE TABLE sessionward_sessions (
         handle TEXT PRIMARY KEY,
         user_id TEXT NOT NULL,
         recipe_user_id TEXT NOT NULL,
         tenant_id TEXT NOT NULL,
         jwt_payload TEXT NOT NULL,
         session_data TEXT NOT NULL,
         refresh_hash2 TEXT NOT NULL,
         expiry_ms BIGINT NOT NULL,
         created_ms BIGINT NOT NULL,
         use_dynamic_key BOOLEAN NOT NULL,
         child_epoch_ms BIGINT
     );
     CREATE INDEX sessionward_sessions_by_user ON sessionward_sessions (user_id, tenant_id);
     CREATE INDEX sessionward_sessions_by_expiry ON sessionward_sessions (expiry_ms);
     CREATE INDEX sessionward_sessions_by_refresh_hash2
         ON sessionward_sessions (refresh_hash2);
     CREATE TABLE sessionward_refresh_tokens (
         hash2 TEXT PRIMARY KEY,
         session_handle TEXT NOT NULL
             REFERENCES sessionward_sessions (handle) ON DELETE CASCADE,
         parent_hash2 TEXT,
         anti_csrf_token TEXT,
         created_ms BIGINT NOT NULL
     );
     CREATE INDEX sessionward_refresh_tokens_by_session
         ON sessionward_refresh_tokens (session_handle);
     CREATE INDEX sessionward_refresh_tokens_by_created
         ON sessionward_refresh_tokens (created_ms);",
    // 1 → 2: the legacy access-token signing keys (v2 tokens, CDI before 2.21). A table of
    // their own: an older version reading `sessionward_signing_keys` would publish them in
    // its JWKS.
    "CREATE TABLE sessionward_legacy_signing_keys (
         kid TEXT PRIMARY KEY,
         created_ms BIGINT NOT NULL,
         pkcs8 BYTEA NOT NULL
     );",
];

pub(super) enum MigrateError {
    Store(StoreError),
    Newer(u32),
}

impl<E: Into<StoreError>> From<E> for MigrateError {
    fn from(error: E) -> Self {
        Self::Store(error.into())
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction, under an advisory lock so
/// that instances starting at the same time wait for each other instead of racing.
pub(super) async fn migrate(pool: &Pool) -> Result<(), MigrateError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS sessionward_meta (
             key TEXT PRIMARY KEY,
             value TEXT NOT NULL
         )",
    )
    .await?;
    let found = tx
        .query_opt(
            "SELECT value FROM sessionward_meta WHERE key = 'schema_version'",
            &[],
        )
        .await?;
    let found = match found {
        None => 0,
        Some(row) => row
            .get::<_, String>(0)
            .parse::<u32>()
            .map_err(|_| StoreError::Failed("the stored schema version is invalid".into()))?,
    };
    if found > SCHEMA_VERSION {
        return Err(MigrateError::Newer(found));
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql).await?;
        tracing::info!(
            from = version,
            to = version + 1,
            "migrated the PostgreSQL session database"
        );
    }
    tx.execute(
        "INSERT INTO sessionward_meta (key, value) VALUES ('schema_version', $1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&SCHEMA_VERSION.to_string()],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
