//! The database schema: the migrations and the `meta.schema_version` they advance.

use rusqlite::{Connection, OptionalExtension as _};

/// The schema version this code writes (`meta.schema_version`).
pub(crate) const SCHEMA_VERSION: u32 = 2;

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
    // 1 → 2: the legacy access-token signing keys (v2 tokens, CDI before 2.21). A table of
    // their own: an older version reading `signing_keys` would publish them in its JWKS.
    "CREATE TABLE legacy_signing_keys (
         kid TEXT PRIMARY KEY NOT NULL,
         created_ms INTEGER NOT NULL,
         pkcs8 BLOB NOT NULL
     );",
];

pub(super) enum MigrateError {
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
pub(super) fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
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
