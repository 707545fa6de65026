//! The SQL of each [`SessionStore`] operation, and the row and column conversions it needs.

use rusqlite::{Connection, OptionalExtension as _, Row, params};
use serde_json::{Map, Value};

use super::SqliteStore;
use super::threads::send_write;
use crate::core::embedded::store::{
    ChildIssue, Promotion, RefreshTokenRecord, SessionRecord, SessionStore, StoreError,
    StoreFuture, StoredKey, UserSessions,
};

/// Expired sessions deleted per transaction by [`SessionStore::delete_expired`].
const CLEANUP_CHUNK: i64 = 1000;

const SESSION_COLUMNS: &str = "s.handle, s.user_id, s.recipe_user_id, s.tenant_id, \
     s.jwt_payload, s.session_data, s.refresh_hash2, s.expiry_ms, s.created_ms, \
     s.use_dynamic_key, s.child_epoch_ms";

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
    fn ping(&self) -> StoreFuture<()> {
        fn probe(conn: &Connection) -> Result<(), StoreError> {
            conn.query_row("SELECT count(*) FROM meta", [], |_| Ok(()))?;
            Ok(())
        }
        let read = self.read(probe);
        let write = self.write(probe);
        Box::pin(async move {
            read.await?;
            write.await
        })
    }

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
        self.read(|conn| keys_in(conn, "signing_keys"))
    }

    fn add_signing_key(
        &self,
        key: StoredKey,
        expected_newest: Option<String>,
    ) -> StoreFuture<bool> {
        // Dynamic (`d-`) and static (`s-`) keys each have their own newest.
        self.write(move |conn| add_if_newest(conn, "signing_keys", true, &key, expected_newest))
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

    fn legacy_signing_keys(&self) -> StoreFuture<Vec<StoredKey>> {
        self.read(|conn| keys_in(conn, "legacy_signing_keys"))
    }

    fn add_legacy_signing_key(
        &self,
        key: StoredKey,
        expected_newest: Option<String>,
    ) -> StoreFuture<bool> {
        self.write(move |conn| {
            add_if_newest(conn, "legacy_signing_keys", false, &key, expected_newest)
        })
    }
}

/// Every key in `table`, oldest first.
fn keys_in(conn: &Connection, table: &str) -> Result<Vec<StoredKey>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT kid, created_ms, pkcs8 FROM {table} ORDER BY created_ms, kid"
    ))?;
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
}

/// Stores `key` in `table` if the newest key there (of the key's kind, its kid's
/// two-character prefix, when `by_kind`) is still `expected_newest`; `true` if stored. Runs
/// in one write transaction on the single writer thread, so the check and the insert are
/// atomic.
fn add_if_newest(
    conn: &Connection,
    table: &str,
    by_kind: bool,
    key: &StoredKey,
    expected_newest: Option<String>,
) -> Result<bool, StoreError> {
    let kind = by_kind.then(|| key.kid.get(..2).unwrap_or_default().to_owned());
    let newest: Option<String> = conn
        .query_row(
            &format!(
                "SELECT kid FROM {table} WHERE ?1 IS NULL OR substr(kid, 1, 2) = ?1
                 ORDER BY created_ms DESC, kid DESC LIMIT 1"
            ),
            [kind],
            |row| row.get(0),
        )
        .optional()?;
    if newest != expected_newest {
        return Ok(false);
    }
    let added = conn.execute(
        &format!("INSERT OR IGNORE INTO {table} (kid, created_ms, pkcs8) VALUES (?1, ?2, ?3)"),
        params![key.kid, ms(key.created_ms), key.pkcs8],
    )?;
    Ok(added == 1)
}
