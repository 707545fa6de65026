//! The embedded core: SuperTokens core semantics (protocol §10.3) inside the app process, with
//! keys under a data directory. No service to run.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::{
    BoxFuture, CoreError, CoreSession, CreatedSession, IssuedToken, NewSession, RefreshOutcome,
    RefreshRequest, RegenerateOutcome, SessionCore, SessionInformation, VerifyOutcome,
    VerifyRequest,
};

const UNSUPPORTED: &str = "not implemented by the in-memory embedded core yet";
use crate::jwks::{JwksCache, KeySource};
use crate::token::{parse_access_token, verify_access_token};
use crate::{PROTECTED_PROPS, now_ms, sha256_hex};

mod keys;

use keys::{EmbeddedKeySource, SigningKey, SigningKeys};

/// Settings of the embedded core.
#[derive(Debug, Clone)]
pub(crate) struct EmbeddedCoreOptions {
    pub(crate) access_token_validity: Duration,
    pub(crate) refresh_token_validity: Duration,
}

impl Default for EmbeddedCoreOptions {
    fn default() -> Self {
        Self {
            access_token_validity: Duration::from_secs(3600),
            refresh_token_validity: Duration::from_secs(100 * 24 * 3600),
        }
    }
}

/// A stored session (the core's `session_info` row).
#[derive(Debug, Clone)]
struct SessionRow {
    user_id: String,
    recipe_user_id: String,
    tenant_id: String,
    user_data_in_jwt: Map<String, Value>,
    session_data: Value,
    /// sha256(sha256(current refresh token)), hex.
    refresh_token_hash2: String,
    /// Refresh-token (session) expiry, ms.
    expiry_ms: u64,
    created_ms: u64,
    use_dynamic_key: bool,
}

/// The embedded session core.
pub(crate) struct EmbeddedCore {
    options: EmbeddedCoreOptions,
    keys: SigningKeys,
    verifier: JwksCache,
    sessions: Mutex<HashMap<String, SessionRow>>,
}

impl EmbeddedCore {
    /// Opens (creating if needed) the core's data directory.
    pub(crate) fn open(dir: &Path, options: EmbeddedCoreOptions) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let keys = SigningKeys::open(dir, now_ms())?;
        let verifier = JwksCache::new(Arc::new(EmbeddedKeySource(keys.jwks().clone())));
        Ok(Self {
            options,
            keys,
            verifier,
            sessions: Mutex::new(HashMap::new()),
        })
    }

    fn signing_key(&self, dynamic: bool) -> &SigningKey {
        if dynamic {
            &self.keys.dynamic
        } else {
            &self.keys.static_key
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionRow>> {
        // A poisoned lock only means another request panicked mid-update of a plain map;
        // the map itself is still consistent.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Mints a v5 access token for `handle`.
    #[allow(clippy::too_many_arguments)]
    fn mint_access_token(
        &self,
        handle: &str,
        row: &SessionRow,
        refresh_token_hash1: &str,
        parent_refresh_token_hash1: Option<&str>,
        anti_csrf_token: Option<&str>,
        now: u64,
    ) -> Result<IssuedToken, CoreError> {
        let key = self.signing_key(row.use_dynamic_key);
        let expiry_ms = now + self.options.access_token_validity.as_millis() as u64;
        let mut payload = row.user_data_in_jwt.clone();
        let protected = json!({
            "sub": row.user_id,
            "exp": expiry_ms / 1000,
            "iat": now / 1000,
            "sessionHandle": handle,
            "refreshTokenHash1": refresh_token_hash1,
            "parentRefreshTokenHash1": parent_refresh_token_hash1,
            "antiCsrfToken": anti_csrf_token,
            "tId": row.tenant_id,
            "rsub": row.recipe_user_id,
        });
        if let Value::Object(protected) = protected {
            payload.extend(protected);
        }
        let header = json!({"alg": "RS256", "typ": "JWT", "version": "5", "kid": key.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(payload).to_string())
        );
        let signature = key
            .sign(signing_input.as_bytes())
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(IssuedToken {
            token: format!("{signing_input}.{signature}"),
            // The token carries whole seconds; report the same instant.
            expiry_ms: expiry_ms / 1000 * 1000,
            created_ms: now / 1000 * 1000,
        })
    }

    fn core_session(handle: &str, row: &SessionRow) -> CoreSession {
        CoreSession {
            handle: handle.to_owned(),
            user_id: row.user_id.clone(),
            recipe_user_id: row.recipe_user_id.clone(),
            tenant_id: row.tenant_id.clone(),
            user_data_in_jwt: row.user_data_in_jwt.clone(),
        }
    }

    fn create(&self, new: NewSession) -> Result<CreatedSession, CoreError> {
        if let Some(key) = new
            .access_token_payload
            .keys()
            .find(|k| PROTECTED_PROPS.contains(&k.as_str()))
        {
            return Err(CoreError::BadRequest(format!(
                "the access token payload may not contain the protected field `{key}`"
            )));
        }
        let now = now_ms();
        let handle = uuid::Uuid::new_v4().to_string();
        let refresh_token = random_token();
        let refresh_token_hash1 = sha256_hex(refresh_token.as_bytes());
        let anti_csrf_token = new
            .enable_anti_csrf
            .then(|| uuid::Uuid::new_v4().to_string());
        let row = SessionRow {
            user_id: new.recipe_user_id.clone(),
            recipe_user_id: new.recipe_user_id,
            tenant_id: new.tenant_id,
            user_data_in_jwt: new.access_token_payload,
            session_data: new.session_data,
            refresh_token_hash2: sha256_hex(refresh_token_hash1.as_bytes()),
            expiry_ms: now + self.options.refresh_token_validity.as_millis() as u64,
            created_ms: now,
            use_dynamic_key: new.use_dynamic_signing_key,
        };
        let access_token = self.mint_access_token(
            &handle,
            &row,
            &refresh_token_hash1,
            None,
            anti_csrf_token.as_deref(),
            now,
        )?;
        let created = CreatedSession {
            session: Self::core_session(&handle, &row),
            access_token,
            refresh_token: IssuedToken {
                token: refresh_token,
                expiry_ms: row.expiry_ms,
                created_ms: row.created_ms,
            },
            anti_csrf_token,
        };
        self.sessions().insert(handle, row);
        Ok(created)
    }

    async fn verify(&self, request: VerifyRequest) -> Result<VerifyOutcome, CoreError> {
        let Ok(token) = parse_access_token(&request.access_token) else {
            return Ok(VerifyOutcome::Unauthorised);
        };
        let now = now_ms();
        let Ok(info) = verify_access_token(token, &self.verifier, now).await else {
            return Ok(VerifyOutcome::TryRefreshToken);
        };
        if request.enable_anti_csrf
            && request.do_anti_csrf_check
            && (info.anti_csrf_token.is_none() || info.anti_csrf_token != request.anti_csrf_token)
        {
            return Ok(VerifyOutcome::TryRefreshToken);
        }
        let mut sessions = self.sessions();
        let row = match sessions.get_mut(&info.session_handle) {
            Some(row) if row.expiry_ms > now => row,
            Some(_) | None => {
                if info.parent_refresh_token_hash1.is_none() && !request.check_database {
                    // Not asked to look at the database: the signature is the proof.
                    return Ok(VerifyOutcome::Ok {
                        session: session_from_token(&info),
                        new_access_token: None,
                    });
                }
                return Ok(VerifyOutcome::Unauthorised);
            }
        };
        let Some(parent) = info.parent_refresh_token_hash1.as_deref() else {
            return Ok(VerifyOutcome::Ok {
                session: Self::core_session(&info.session_handle, row),
                new_access_token: None,
            });
        };
        // First use of a token minted by a refresh: commit the rotation (the child's refresh
        // token becomes the current one) and hand out a token without the parent hash.
        let child_hash2 = sha256_hex(info.refresh_token_hash1.as_bytes());
        let parent_hash2 = sha256_hex(parent.as_bytes());
        if row.refresh_token_hash2 == parent_hash2 {
            row.refresh_token_hash2 = child_hash2;
        } else if row.refresh_token_hash2 != child_hash2 {
            return Ok(VerifyOutcome::Unauthorised);
        }
        let row = row.clone();
        drop(sessions);
        let new_access_token = self.mint_access_token(
            &info.session_handle,
            &row,
            &info.refresh_token_hash1,
            None,
            info.anti_csrf_token.as_deref(),
            now,
        )?;
        Ok(VerifyOutcome::Ok {
            session: Self::core_session(&info.session_handle, &row),
            new_access_token: Some(new_access_token),
        })
    }
}

fn session_from_token(info: &crate::token::AccessTokenInfo) -> CoreSession {
    let mut custom = info.payload.clone();
    for key in PROTECTED_PROPS {
        custom.remove(*key);
    }
    CoreSession {
        handle: info.session_handle.clone(),
        user_id: info.user_id.clone(),
        recipe_user_id: info.recipe_user_id.clone(),
        tenant_id: info.tenant_id.clone(),
        user_data_in_jwt: custom,
    }
}

/// 48 random bytes, base64url: an opaque refresh token.
fn random_token() -> String {
    let mut bytes = [0u8; 48];
    // The system RNG only fails if the OS has no entropy source; uuid's generator is the
    // fallback so a session is never issued with a predictable token.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        for chunk in bytes.chunks_mut(16) {
            chunk.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..chunk.len()]);
        }
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SessionCore for EmbeddedCore {
    fn key_source(&self) -> Arc<dyn KeySource> {
        Arc::new(EmbeddedKeySource(self.keys.jwks().clone()))
    }

    fn create_session(&self, new: NewSession) -> BoxFuture<'_, Result<CreatedSession, CoreError>> {
        Box::pin(async move { self.create(new) })
    }

    fn verify_session(
        &self,
        request: VerifyRequest,
    ) -> BoxFuture<'_, Result<VerifyOutcome, CoreError>> {
        Box::pin(self.verify(request))
    }

    fn refresh_session(
        &self,
        _: RefreshRequest,
    ) -> BoxFuture<'_, Result<RefreshOutcome, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn regenerate_access_token(
        &self,
        _: String,
        _: Map<String, Value>,
    ) -> BoxFuture<'_, Result<RegenerateOutcome, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn revoke_sessions(&self, _: Vec<String>) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn revoke_all_sessions_for_user(
        &self,
        _: String,
        _: String,
        _: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn session_handles_for_user(
        &self,
        _: String,
        _: String,
        _: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn session_information(
        &self,
        _: String,
    ) -> BoxFuture<'_, Result<Option<SessionInformation>, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn update_session_data(&self, _: String, _: Value) -> BoxFuture<'_, Result<bool, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }

    fn update_access_token_payload(
        &self,
        _: String,
        _: Map<String, Value>,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        Box::pin(async { Err(CoreError::Internal(UNSUPPORTED.into())) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core() -> (tempfile::TempDir, EmbeddedCore) {
        let dir = tempfile::tempdir().unwrap();
        let core = EmbeddedCore::open(dir.path(), EmbeddedCoreOptions::default()).unwrap();
        (dir, core)
    }

    fn new_session(payload: Value) -> NewSession {
        NewSession {
            tenant_id: "public".into(),
            recipe_user_id: "user-1".into(),
            access_token_payload: payload.as_object().unwrap().clone(),
            session_data: json!({}),
            enable_anti_csrf: false,
            use_dynamic_signing_key: true,
        }
    }

    #[tokio::test]
    async fn created_tokens_verify_locally_and_in_the_core() {
        let (_dir, core) = core();
        let created = core.create(new_session(json!({"role": "x"}))).unwrap();
        let token = parse_access_token(&created.access_token.token).unwrap();
        assert_eq!(token.version, 5);
        let info = verify_access_token(token, &core.verifier, now_ms())
            .await
            .unwrap();
        assert_eq!(info.user_id, "user-1");
        assert_eq!(info.session_handle, created.session.handle);
        assert_eq!(
            info.refresh_token_hash1,
            sha256_hex(created.refresh_token.token.as_bytes())
        );
        assert_eq!(info.payload["role"], "x");
        let outcome = core
            .verify(VerifyRequest {
                access_token: created.access_token.token,
                anti_csrf_token: None,
                do_anti_csrf_check: false,
                enable_anti_csrf: false,
                check_database: true,
            })
            .await
            .unwrap();
        assert!(matches!(
            outcome,
            VerifyOutcome::Ok {
                new_access_token: None,
                ..
            }
        ));
    }

    #[test]
    fn protected_props_in_payload_are_rejected() {
        let (_dir, core) = core();
        let err = core
            .create(new_session(json!({"sub": "evil"})))
            .unwrap_err();
        assert!(matches!(err, CoreError::BadRequest(_)));
    }
}
