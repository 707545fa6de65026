//! The SQL of each [`SessionStore`] operation on PostgreSQL, and the row conversions it needs.
//!
//! Text ordering uses `COLLATE "C"` (byte order), as SQLite does, whatever the database's
//! collation.

use std::collections::HashSet;

use deadpool_postgres::Pool;
use serde_json::{Map, Value};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PostgresStore;
use super::schema::{LEGACY_SIGNING_KEY_LOCK, SIGNING_KEY_LOCK};
use crate::core::embedded::store::{
    ChildIssue, CurrentClaim, Promotion, RefreshTokenRecord, SessionRecord, SessionStore,
    StoreError, StoreFuture, StoredKey, UserSessions,
};

/// Expired sessions deleted per statement by [`SessionStore::delete_expired`].
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

/// Reads [`SESSION_COLUMNS`] starting at column `at`.
fn session_from_row(row: &Row, at: usize) -> Result<SessionRecord, StoreError> {
    let handle: String = row.try_get(at)?;
    let corrupt = || StoreError::Failed(format!("session {handle} holds invalid JSON"));
    let jwt_payload: Map<String, Value> =
        serde_json::from_str(row.try_get(at + 4)?).map_err(|_| corrupt())?;
    let session_data: Value = serde_json::from_str(row.try_get(at + 5)?).map_err(|_| corrupt())?;
    Ok(SessionRecord {
        user_id: row.try_get(at + 1)?,
        recipe_user_id: row.try_get(at + 2)?,
        tenant_id: row.try_get(at + 3)?,
        jwt_payload,
        session_data,
        refresh_hash2: row.try_get(at + 6)?,
        expiry_ms: from_ms(row.try_get(at + 7)?),
        created_ms: from_ms(row.try_get(at + 8)?),
        use_dynamic_key: row.try_get(at + 9)?,
        child_epoch_ms: row.try_get::<_, Option<i64>>(at + 10)?.map(from_ms),
        handle,
    })
}

fn token_params(token: &RefreshTokenRecord) -> (i64, [&(dyn ToSql + Sync); 4]) {
    (
        ms(token.created_ms),
        [
            &token.hash2,
            &token.session_handle,
            &token.parent_hash2,
            &token.anti_csrf_token,
        ],
    )
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

/// A table of signing keys and how a new key is added to it.
struct KeySlot {
    table: &'static str,
    /// The advisory lock that serialises additions.
    lock: i64,
    /// Whether "the newest key" means the newest of the new key's kind (its kid's two-character
    /// prefix) rather than of the whole table.
    by_kind: bool,
}

/// Every key in `table`, oldest first.
async fn keys_in(pool: Pool, table: &'static str) -> Result<Vec<StoredKey>, StoreError> {
    let client = pool.get().await?;
    let statement = client
        .prepare_cached(&format!(
            "SELECT kid, created_ms, pkcs8 FROM {table} ORDER BY created_ms, kid COLLATE \"C\""
        ))
        .await?;
    let rows = client.query(&statement, &[]).await?;
    rows.iter()
        .map(|row| {
            Ok(StoredKey {
                kid: row.try_get(0)?,
                created_ms: from_ms(row.try_get(1)?),
                pkcs8: row.try_get(2)?,
            })
        })
        .collect()
}

/// Stores `key` in the slot's table if its newest key is still `expected_newest`; `true` if
/// stored.
async fn add_if_newest(
    pool: Pool,
    slot: KeySlot,
    key: StoredKey,
    expected_newest: Option<String>,
) -> Result<bool, StoreError> {
    let KeySlot {
        table,
        lock,
        by_kind,
    } = slot;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Compare-and-set over several rows: instances adding a key at the same moment take
    // turns, and the second sees the first one's key as the newest.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])
        .await?;
    let kind = by_kind.then(|| key.kid.get(..2).unwrap_or_default().to_owned());
    let newest: Option<String> = tx
        .query_opt(
            &format!(
                "SELECT kid FROM {table} WHERE $1::text IS NULL OR substr(kid, 1, 2) = $1
                 ORDER BY created_ms DESC, kid COLLATE \"C\" DESC LIMIT 1"
            ),
            &[&kind],
        )
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
    if newest != expected_newest {
        tx.rollback().await?;
        return Ok(false);
    }
    let added = tx
        .execute(
            &format!(
                "INSERT INTO {table} (kid, created_ms, pkcs8)
                 VALUES ($1, $2, $3) ON CONFLICT (kid) DO NOTHING"
            ),
            &[&key.kid, &ms(key.created_ms), &key.pkcs8],
        )
        .await?;
    tx.commit().await?;
    Ok(added == 1)
}

impl SessionStore for PostgresStore {
    fn ping(&self) -> StoreFuture<()> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            client
                .query_one("SELECT count(*) FROM sessionward_meta", &[])
                .await?;
            Ok(())
        })
    }

    fn server_secret(&self, candidate: Vec<u8>) -> StoreFuture<Vec<u8>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            // Two statements: the SELECT takes a new snapshot, so it sees the secret another
            // instance committed while our INSERT waited on it.
            client
                .execute(
                    "INSERT INTO sessionward_meta (key, value) VALUES ('server_secret', $1)
                     ON CONFLICT (key) DO NOTHING",
                    &[&hex(&candidate)],
                )
                .await?;
            let row = client
                .query_one(
                    "SELECT value FROM sessionward_meta WHERE key = 'server_secret'",
                    &[],
                )
                .await?;
            unhex(row.try_get(0)?)
                .ok_or_else(|| StoreError::Failed("the stored server secret is invalid".into()))
        })
    }

    fn insert_session(&self, session: SessionRecord, token: RefreshTokenRecord) -> StoreFuture<()> {
        self.run(move |pool| async move {
            let jwt_payload = to_json(&session.jwt_payload)?;
            let session_data = to_json(&session.session_data)?;
            let client = pool.get().await?;
            // One statement, so one round trip and one implicit transaction: both rows or
            // neither (the foreign key is checked at the end of the statement).
            let insert = client
                .prepare_cached(
                    "WITH session AS (
                         INSERT INTO sessionward_sessions (handle, user_id, recipe_user_id,
                             tenant_id, jwt_payload, session_data, refresh_hash2, expiry_ms,
                             created_ms, use_dynamic_key, child_epoch_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     )
                     INSERT INTO sessionward_refresh_tokens
                         (hash2, session_handle, parent_hash2, anti_csrf_token, created_ms)
                     VALUES ($12, $13, $14, $15, $16) ON CONFLICT (hash2) DO NOTHING",
                )
                .await?;
            let (created, [a, b, c, d]) = token_params(&token);
            client
                .execute(
                    &insert,
                    &[
                        &session.handle,
                        &session.user_id,
                        &session.recipe_user_id,
                        &session.tenant_id,
                        &jwt_payload,
                        &session_data,
                        &session.refresh_hash2,
                        &ms(session.expiry_ms),
                        &ms(session.created_ms),
                        &session.use_dynamic_key,
                        &session.child_epoch_ms.map(ms),
                        a,
                        b,
                        c,
                        d,
                        &created,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    fn session(&self, handle: String) -> StoreFuture<Option<SessionRecord>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let statement = client
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessionward_sessions s WHERE s.handle = $1"
                ))
                .await?;
            let row = client.query_opt(&statement, &[&handle]).await?;
            row.map(|row| session_from_row(&row, 0)).transpose()
        })
    }

    fn refresh_token(
        &self,
        hash2: String,
    ) -> StoreFuture<Option<(RefreshTokenRecord, SessionRecord)>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let statement = client
                .prepare_cached(&format!(
                    "SELECT t.hash2, t.session_handle, t.parent_hash2, t.anti_csrf_token,
                         t.created_ms, {SESSION_COLUMNS}
                     FROM sessionward_refresh_tokens t
                     JOIN sessionward_sessions s ON s.handle = t.session_handle
                     WHERE t.hash2 = $1"
                ))
                .await?;
            let Some(row) = client.query_opt(&statement, &[&hash2]).await? else {
                return Ok(None);
            };
            let token = RefreshTokenRecord {
                hash2: row.try_get(0)?,
                session_handle: row.try_get(1)?,
                parent_hash2: row.try_get(2)?,
                anti_csrf_token: row.try_get(3)?,
                created_ms: from_ms(row.try_get(4)?),
            };
            Ok(Some((token, session_from_row(&row, 5)?)))
        })
    }

    fn promote(&self, promotion: Promotion) -> StoreFuture<bool> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let statement = client
                .prepare_cached(
                    "UPDATE sessionward_sessions
                     SET refresh_hash2 = $3, expiry_ms = $4, child_epoch_ms = NULL
                     WHERE handle = $1 AND refresh_hash2 = $2 AND expiry_ms > $5",
                )
                .await?;
            let changed = client
                .execute(
                    &statement,
                    &[
                        &promotion.handle,
                        &promotion.from_hash2,
                        &promotion.to_hash2,
                        &ms(promotion.expiry_ms),
                        &ms(promotion.now_ms),
                    ],
                )
                .await?;
            Ok(changed == 1)
        })
    }

    fn issue_child(&self, issue: ChildIssue) -> StoreFuture<bool> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            // One statement (one round trip, one implicit transaction): the child is stored
            // only if the claim matched. The UPDATE locks the row until the statement commits:
            // a concurrent issue for the same session waits, then re-checks its WHERE against
            // our committed values and matches nothing. The answer counts the claimed rows,
            // not the inserted ones: the child token is derived, so it may exist already.
            let statement = client
                .prepare_cached(
                    "WITH claimed AS (
                         UPDATE sessionward_sessions SET child_epoch_ms = $4
                         WHERE handle = $1 AND refresh_hash2 = $2
                             AND child_epoch_ms IS NOT DISTINCT FROM $3 AND expiry_ms > $5
                         RETURNING handle
                     ), stored AS (
                         INSERT INTO sessionward_refresh_tokens
                             (hash2, session_handle, parent_hash2, anti_csrf_token, created_ms)
                         SELECT $6::text, $7::text, $8::text, $9::text, $10::bigint FROM claimed
                         ON CONFLICT (hash2) DO NOTHING
                     )
                     SELECT count(*) FROM claimed",
                )
                .await?;
            let (created, [a, b, c, d]) = token_params(&issue.child);
            let claimed: i64 = client
                .query_one(
                    &statement,
                    &[
                        &issue.handle,
                        &issue.current_hash2,
                        &issue.expected_epoch_ms.map(ms),
                        &ms(issue.epoch_ms),
                        &ms(issue.now_ms),
                        a,
                        b,
                        c,
                        d,
                        &created,
                    ],
                )
                .await?
                .try_get(0)?;
            Ok(claimed == 1)
        })
    }

    fn claim_current(&self, claim: CurrentClaim) -> StoreFuture<Option<SessionRecord>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            // `issue_child`'s statement with `refresh_token`'s lookup inside, saving a round
            // trip: the session is found through the presented token, and the UPDATE's row
            // lock and re-check make it exactly as safe against a concurrent refresh. The
            // anti-CSRF comparison is NULL (no claim) when the caller sent no token.
            let statement = client
                .prepare_cached(&format!(
                    "WITH claimed AS (
                         UPDATE sessionward_sessions s SET child_epoch_ms = $2
                         FROM sessionward_refresh_tokens t
                         WHERE t.hash2 = $1 AND s.handle = t.session_handle
                             AND s.refresh_hash2 = $1 AND s.expiry_ms > $2
                             AND (s.child_epoch_ms IS NULL OR s.child_epoch_ms <= $2 - $3)
                             AND (NOT $6 OR t.anti_csrf_token IS NULL
                                 OR t.anti_csrf_token = $7::text)
                         RETURNING {SESSION_COLUMNS}
                     ), stored AS (
                         INSERT INTO sessionward_refresh_tokens
                             (hash2, session_handle, parent_hash2, anti_csrf_token, created_ms)
                         SELECT $4::text, handle, $1::text, $5::text, $2::bigint FROM claimed
                         ON CONFLICT (hash2) DO NOTHING
                     )
                     SELECT * FROM claimed"
                ))
                .await?;
            let row = client
                .query_opt(
                    &statement,
                    &[
                        &claim.hash2,
                        &ms(claim.epoch_ms),
                        &ms(claim.grace_ms),
                        &claim.child_hash2,
                        &claim.child_anti_csrf_token,
                        &claim.check_anti_csrf,
                        &claim.presented_anti_csrf_token,
                    ],
                )
                .await?;
            row.map(|row| session_from_row(&row, 0)).transpose()
        })
    }

    fn set_key_type(&self, handle: String, dynamic: bool, now_ms: u64) -> StoreFuture<bool> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let statement = client
                .prepare_cached(
                    "UPDATE sessionward_sessions SET use_dynamic_key = $2
                     WHERE handle = $1 AND expiry_ms > $3",
                )
                .await?;
            let changed = client
                .execute(&statement, &[&handle, &dynamic, &ms(now_ms)])
                .await?;
            Ok(changed == 1)
        })
    }

    fn update_session_data(&self, handle: String, data: Value, now_ms: u64) -> StoreFuture<bool> {
        self.run(move |pool| async move {
            let data = to_json(&data)?;
            let client = pool.get().await?;
            let statement = client
                .prepare_cached(
                    "UPDATE sessionward_sessions SET session_data = $2
                     WHERE handle = $1 AND expiry_ms > $3",
                )
                .await?;
            let changed = client
                .execute(&statement, &[&handle, &data, &ms(now_ms)])
                .await?;
            Ok(changed == 1)
        })
    }

    fn update_jwt_payload(
        &self,
        handle: String,
        payload: Map<String, Value>,
        now_ms: u64,
    ) -> StoreFuture<bool> {
        self.run(move |pool| async move {
            let payload = to_json(&payload)?;
            let client = pool.get().await?;
            let statement = client
                .prepare_cached(
                    "UPDATE sessionward_sessions SET jwt_payload = $2
                     WHERE handle = $1 AND expiry_ms > $3",
                )
                .await?;
            let changed = client
                .execute(&statement, &[&handle, &payload, &ms(now_ms)])
                .await?;
            Ok(changed == 1)
        })
    }

    fn delete_sessions(&self, handles: Vec<String>) -> StoreFuture<Vec<String>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let statement = client
                .prepare_cached(
                    "DELETE FROM sessionward_sessions WHERE handle = ANY($1) RETURNING handle",
                )
                .await?;
            let rows = client.query(&statement, &[&handles]).await?;
            let existed = rows
                .iter()
                .map(|row| row.try_get::<_, String>(0))
                .collect::<Result<HashSet<_>, _>>()?;
            // In the order asked, once each (as the SQLite store answers).
            let mut deleted: Vec<String> = Vec::with_capacity(existed.len());
            for handle in handles {
                if existed.contains(&handle) && !deleted.contains(&handle) {
                    deleted.push(handle);
                }
            }
            Ok(deleted)
        })
    }

    fn delete_user_sessions(&self, scope: UserSessions) -> StoreFuture<Vec<String>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let statement = client
                .prepare_cached(
                    "DELETE FROM sessionward_sessions
                     WHERE user_id = $1 AND ($2::text IS NULL OR tenant_id = $2)
                         AND expiry_ms > $3
                     RETURNING handle",
                )
                .await?;
            let rows = client
                .query(
                    &statement,
                    &[&scope.user_id, &scope.tenant_id, &ms(scope.now_ms)],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?)
        })
    }

    fn user_session_handles(&self, scope: UserSessions) -> StoreFuture<Vec<String>> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            let statement = client
                .prepare_cached(
                    "SELECT handle FROM sessionward_sessions
                     WHERE user_id = $1 AND ($2::text IS NULL OR tenant_id = $2)
                         AND expiry_ms > $3
                     ORDER BY created_ms, handle COLLATE \"C\"",
                )
                .await?;
            let rows = client
                .query(
                    &statement,
                    &[&scope.user_id, &scope.tenant_id, &ms(scope.now_ms)],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?)
        })
    }

    fn delete_expired(&self, now_ms: u64, tokens_issued_before_ms: u64) -> StoreFuture<u64> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            // Chunks keep each statement (and the row locks other writers wait on) short.
            let chunk = client
                .prepare_cached(
                    "DELETE FROM sessionward_sessions WHERE handle IN
                         (SELECT handle FROM sessionward_sessions WHERE expiry_ms <= $1
                          LIMIT $2)",
                )
                .await?;
            let mut total = 0;
            loop {
                let deleted = client
                    .execute(&chunk, &[&ms(now_ms), &CLEANUP_CHUNK])
                    .await?;
                total += deleted;
                if deleted < CLEANUP_CHUNK as u64 {
                    break;
                }
            }
            client
                .execute(
                    "DELETE FROM sessionward_refresh_tokens t WHERE t.created_ms < $1
                     AND NOT EXISTS (SELECT 1 FROM sessionward_sessions s
                                     WHERE s.refresh_hash2 = t.hash2)",
                    &[&ms(tokens_issued_before_ms)],
                )
                .await?;
            Ok(total)
        })
    }

    fn signing_keys(&self) -> StoreFuture<Vec<StoredKey>> {
        self.run(|pool| keys_in(pool, "sessionward_signing_keys"))
    }

    fn add_signing_key(
        &self,
        key: StoredKey,
        expected_newest: Option<String>,
    ) -> StoreFuture<bool> {
        self.run(move |pool| {
            let slot = KeySlot {
                table: "sessionward_signing_keys",
                lock: SIGNING_KEY_LOCK,
                // Dynamic (`d-`) and static (`s-`) keys each have their own newest.
                by_kind: true,
            };
            add_if_newest(pool, slot, key, expected_newest)
        })
    }

    fn import_signing_keys(&self, keys: Vec<StoredKey>) -> StoreFuture<u64> {
        self.run(move |pool| async move {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            let mut added = 0;
            for key in keys {
                added += tx
                    .execute(
                        "INSERT INTO sessionward_signing_keys (kid, created_ms, pkcs8)
                         VALUES ($1, $2, $3) ON CONFLICT (kid) DO NOTHING",
                        &[&key.kid, &ms(key.created_ms), &key.pkcs8],
                    )
                    .await?;
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    fn remove_signing_keys(&self, kids: Vec<String>) -> StoreFuture<u64> {
        self.run(move |pool| async move {
            let client = pool.get().await?;
            Ok(client
                .execute(
                    "DELETE FROM sessionward_signing_keys WHERE kid = ANY($1)",
                    &[&kids],
                )
                .await?)
        })
    }

    fn legacy_signing_keys(&self) -> StoreFuture<Vec<StoredKey>> {
        self.run(|pool| keys_in(pool, "sessionward_legacy_signing_keys"))
    }

    fn add_legacy_signing_key(
        &self,
        key: StoredKey,
        expected_newest: Option<String>,
    ) -> StoreFuture<bool> {
        self.run(move |pool| {
            let slot = KeySlot {
                table: "sessionward_legacy_signing_keys",
                lock: LEGACY_SIGNING_KEY_LOCK,
                by_kind: false,
            };
            add_if_newest(pool, slot, key, expected_newest)
        })
    }
}
