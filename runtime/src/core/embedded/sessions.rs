//! Create, verify, regenerate, and the session admin calls (docs/protocol.md §10.3).

use serde_json::{Map, Value, json};

use super::mint::{self, AccessClaims, mint_access_token};
use super::store::{RefreshTokenRecord, SessionRecord, UserSessions};
use super::{Shared, core_session, reject_protected};
use crate::core::{
    AccessTokenVersion, CoreError, CoreSession, CreatedSession, IssuedToken, NewSession,
    RegenerateOutcome, SessionInformation, VerifyOutcome, VerifyRequest,
};
use crate::token::PROTECTED_PROPS;
use crate::token::{
    AccessTokenInfo, TokenError, UnverifiedToken, parse_access_token, verify_access_token,
    verify_legacy_access_token,
};
use crate::util::sha256_hex;

/// How many times verify re-reads a session whose promotion raced with another request.
const MAX_VERIFY_ATTEMPTS: usize = 8;

impl Shared {
    /// Signs claims with the current key of the requested type; v2 claims with the legacy
    /// key, whatever the type (it is the only key of v2 tokens).
    pub(super) async fn sign(
        &self,
        dynamic: bool,
        claims: &AccessClaims<'_>,
    ) -> Result<IssuedToken, CoreError> {
        if claims.version == AccessTokenVersion::V2 {
            let key = self.legacy.signer(&*self.store, claims.issued_ms).await?;
            return mint::mint_legacy_access_token(&key, claims);
        }
        let key = self.keys.signer(dynamic, claims.issued_ms)?;
        mint_access_token(&key, claims)
    }

    /// Verifies an access token this core minted: v2 with the legacy key only, v3+ by `kid`
    /// with the JWKS keys only, so that no token verifies with a key of the other kind.
    pub(super) async fn verify_token(
        &self,
        token: UnverifiedToken<'_>,
        now_ms: u64,
    ) -> Result<AccessTokenInfo, TokenError> {
        if token.version == 2 {
            let key = match self.legacy.existing(&*self.store).await {
                Ok(Some(key)) => key,
                // No legacy key yet: no v2 token of this core exists.
                Ok(None) => return Err(TokenError::BadSignature),
                Err(error) => {
                    tracing::warn!(%error, "cannot load the legacy signing key");
                    return Err(TokenError::KeysUnavailable);
                }
            };
            return verify_legacy_access_token(token, key.verifier(), now_ms);
        }
        verify_access_token(token, &self.verifier, now_ms).await
    }

    /// A new access token of `version` for a stored session with the full validity.
    #[expect(
        clippy::too_many_arguments,
        reason = "the claims of one token, named at each of the three call sites"
    )]
    pub(super) async fn sign_for(
        &self,
        session: &SessionRecord,
        dynamic: bool,
        version: AccessTokenVersion,
        refresh_token_hash1: &str,
        parent_refresh_token_hash1: Option<&str>,
        anti_csrf_token: Option<&str>,
        now: u64,
    ) -> Result<IssuedToken, CoreError> {
        self.sign(
            dynamic,
            &AccessClaims {
                version,
                handle: &session.handle,
                user_id: &session.user_id,
                recipe_user_id: &session.recipe_user_id,
                tenant_id: &session.tenant_id,
                payload: &session.jwt_payload,
                refresh_token_hash1,
                parent_refresh_token_hash1,
                anti_csrf_token,
                issued_ms: now,
                expiry_ms: now.saturating_add(self.access_validity_ms()),
            },
        )
        .await
    }

    /// CDI create: the session is committed before this returns.
    pub(super) async fn create(&self, new: NewSession) -> Result<CreatedSession, CoreError> {
        reject_protected(&new.access_token_payload)?;
        let now = self.now();
        let refresh_token = mint::random_refresh_token()?;
        let refresh_token_hash1 = mint::hash1(&refresh_token);
        let anti_csrf_token = new
            .enable_anti_csrf
            .then(|| uuid::Uuid::new_v4().to_string());
        let session_data = match new.session_data {
            Value::Null => json!({}),
            data => data,
        };
        let session = SessionRecord {
            handle: uuid::Uuid::new_v4().to_string(),
            user_id: new.recipe_user_id.clone(),
            recipe_user_id: new.recipe_user_id,
            tenant_id: new.tenant_id,
            jwt_payload: new.access_token_payload,
            session_data,
            refresh_hash2: sha256_hex(refresh_token_hash1.as_bytes()),
            expiry_ms: now.saturating_add(self.refresh_validity_ms()),
            created_ms: now,
            use_dynamic_key: new.use_dynamic_signing_key,
            child_epoch_ms: None,
        };
        let token = RefreshTokenRecord {
            hash2: session.refresh_hash2.clone(),
            session_handle: session.handle.clone(),
            parent_hash2: None,
            anti_csrf_token: anti_csrf_token.clone(),
            created_ms: now,
        };
        // Sign while the store commits.
        let stored = self.store.insert_session(session.clone(), token);
        let access_token = self
            .sign_for(
                &session,
                session.use_dynamic_key,
                new.access_token_version,
                &refresh_token_hash1,
                None,
                anti_csrf_token.as_deref(),
                now,
            )
            .await;
        stored.await?;
        Ok(CreatedSession {
            session: core_session(&session),
            access_token: access_token?,
            refresh_token: IssuedToken {
                token: refresh_token,
                expiry_ms: session.expiry_ms,
                created_ms: now,
            },
            anti_csrf_token,
        })
    }

    /// CDI verify (core side, CDI ≤ 5.5): signature, anti-CSRF, then the database when the
    /// token is fresh from a refresh (promotion) or `check_database` is set.
    pub(super) async fn verify(&self, request: VerifyRequest) -> Result<VerifyOutcome, CoreError> {
        let Ok(token) = parse_access_token(&request.access_token) else {
            return Ok(VerifyOutcome::Unauthorised);
        };
        let now = self.now();
        let Ok(info) = self.verify_token(token, now).await else {
            return Ok(VerifyOutcome::TryRefreshToken);
        };
        if request.enable_anti_csrf && request.do_anti_csrf_check {
            match (&request.anti_csrf_token, &info.anti_csrf_token) {
                (Some(sent), Some(issued)) if sent == issued => {}
                _ => return Ok(VerifyOutcome::TryRefreshToken),
            }
        }
        if info.parent_refresh_token_hash1.is_none() && !request.check_database {
            // Nothing to promote and no database check asked: the signature is the proof.
            return Ok(VerifyOutcome::Ok {
                session: session_from_token(&info),
                new_access_token: None,
            });
        }
        for _ in 0..MAX_VERIFY_ATTEMPTS {
            let session = match self.store.session(info.session_handle.clone()).await? {
                Some(session) if session.is_live(now) => session,
                _ => return Ok(VerifyOutcome::Unauthorised),
            };
            let anti_csrf = info.anti_csrf_token.as_deref();
            if let Some(parent) = info.parent_refresh_token_hash1.as_deref() {
                let child_hash2 = sha256_hex(info.refresh_token_hash1.as_bytes());
                let parent_hash2 = sha256_hex(parent.as_bytes());
                if session.refresh_hash2 == parent_hash2 {
                    // First use of a token minted by a refresh: commit the rotation.
                    let promotion = super::store::Promotion {
                        handle: session.handle.clone(),
                        from_hash2: parent_hash2,
                        to_hash2: child_hash2,
                        expiry_ms: now.saturating_add(self.refresh_validity_ms()),
                        now_ms: now,
                    };
                    if !self.store.promote(promotion).await? {
                        continue;
                    }
                } else if session.refresh_hash2 != child_hash2 {
                    // A sibling child (another refresh of the same parent won): nothing to do.
                    return Ok(VerifyOutcome::Ok {
                        session: session_from_token(&info),
                        new_access_token: None,
                    });
                }
            } else if custom_payload(&info) == session.jwt_payload {
                // check_database with an unchanged payload: the token stays as it is.
                return Ok(VerifyOutcome::Ok {
                    session: core_session(&session),
                    new_access_token: None,
                });
            }
            // A promotion, an already promoted token, or a payload changed since signing:
            // hand out a fresh token without the parent hash, of the same version (as the core).
            let token = self
                .sign_for(
                    &session,
                    session.use_dynamic_key,
                    minted_version(&info)?,
                    &info.refresh_token_hash1,
                    None,
                    anti_csrf,
                    now,
                )
                .await?;
            return Ok(VerifyOutcome::Ok {
                session: core_session(&session),
                new_access_token: Some(token),
            });
        }
        Err(CoreError::Unavailable(
            "the session changed too often during verification; retry".into(),
        ))
    }

    /// CDI regenerate: stores the new payload and re-signs the token with the same expiry and
    /// key type (no token if it already expired).
    pub(super) async fn regenerate(
        &self,
        access_token: String,
        payload: Map<String, Value>,
    ) -> Result<RegenerateOutcome, CoreError> {
        reject_protected(&payload)?;
        let Ok(token) = parse_access_token(&access_token) else {
            return Ok(RegenerateOutcome::Unauthorised);
        };
        // Verify as of the epoch: an expired token still identifies its session.
        let Ok(info) = self.verify_token(token, 0).await else {
            return Ok(RegenerateOutcome::Unauthorised);
        };
        let now = self.now();
        let updated = self
            .store
            .update_jwt_payload(info.session_handle.clone(), payload.clone(), now)
            .await?;
        if !updated {
            return Ok(RegenerateOutcome::Unauthorised);
        }
        let session = CoreSession {
            handle: info.session_handle.clone(),
            user_id: info.user_id.clone(),
            recipe_user_id: info.recipe_user_id.clone(),
            tenant_id: info.tenant_id.clone(),
            user_data_in_jwt: payload,
        };
        if now >= info.expiry_ms {
            return Ok(RegenerateOutcome::Ok {
                session,
                new_access_token: None,
            });
        }
        let dynamic = info.kid.as_deref().is_none_or(|kid| kid.starts_with("d-"));
        let token = self
            .sign(
                dynamic,
                &AccessClaims {
                    // The core re-signs with the version of the token it was given.
                    version: minted_version(&info)?,
                    handle: &session.handle,
                    user_id: &session.user_id,
                    recipe_user_id: &session.recipe_user_id,
                    tenant_id: &session.tenant_id,
                    payload: &session.user_data_in_jwt,
                    refresh_token_hash1: &info.refresh_token_hash1,
                    parent_refresh_token_hash1: info.parent_refresh_token_hash1.as_deref(),
                    anti_csrf_token: info.anti_csrf_token.as_deref(),
                    issued_ms: now,
                    expiry_ms: info.expiry_ms,
                },
            )
            .await?;
        Ok(RegenerateOutcome::Ok {
            session,
            new_access_token: Some(token),
        })
    }

    /// CDI remove by handles.
    pub(super) async fn revoke_sessions(
        &self,
        handles: Vec<String>,
    ) -> Result<Vec<String>, CoreError> {
        Ok(self.store.delete_sessions(handles).await?)
    }

    /// CDI remove by user.
    pub(super) async fn revoke_user_sessions(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> Result<Vec<String>, CoreError> {
        let scope = self.user_scope(tenant_id, user_id, across_all_tenants);
        Ok(self.store.delete_user_sessions(scope).await?)
    }

    /// CDI list handles.
    pub(super) async fn user_session_handles(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> Result<Vec<String>, CoreError> {
        let scope = self.user_scope(tenant_id, user_id, across_all_tenants);
        Ok(self.store.user_session_handles(scope).await?)
    }

    fn user_scope(&self, tenant_id: String, user_id: String, across: bool) -> UserSessions {
        UserSessions {
            user_id,
            tenant_id: (!across).then_some(tenant_id),
            now_ms: self.now(),
        }
    }

    /// CDI session info.
    pub(super) async fn session_information(
        &self,
        handle: String,
    ) -> Result<Option<SessionInformation>, CoreError> {
        let now = self.now();
        Ok(self
            .store
            .session(handle)
            .await?
            .filter(|session| session.is_live(now))
            .map(|session| SessionInformation {
                handle: session.handle,
                user_id: session.user_id,
                recipe_user_id: session.recipe_user_id,
                tenant_id: session.tenant_id,
                session_data: session.session_data,
                user_data_in_jwt: session.jwt_payload,
                expiry_ms: session.expiry_ms,
                time_created_ms: session.created_ms,
            }))
    }

    /// CDI `PUT /recipe/session/data` (`null` stores `{}`).
    pub(super) async fn update_session_data(
        &self,
        handle: String,
        data: Value,
    ) -> Result<bool, CoreError> {
        let data = match data {
            Value::Null => json!({}),
            data => data,
        };
        Ok(self
            .store
            .update_session_data(handle, data, self.now())
            .await?)
    }

    /// CDI `PUT /recipe/jwt/data`.
    pub(super) async fn update_access_token_payload(
        &self,
        handle: String,
        payload: Map<String, Value>,
    ) -> Result<bool, CoreError> {
        reject_protected(&payload)?;
        Ok(self
            .store
            .update_jwt_payload(handle, payload, self.now())
            .await?)
    }
}

/// The version of a verified token, which this core minted (so 2, 3, 4 or 5).
fn minted_version(info: &AccessTokenInfo) -> Result<AccessTokenVersion, CoreError> {
    AccessTokenVersion::from_number(info.version).ok_or_else(|| {
        CoreError::BadRequest(format!(
            "access tokens of version {} are not minted by this core",
            info.version
        ))
    })
}

/// The custom part of a token's payload.
fn custom_payload(info: &AccessTokenInfo) -> Map<String, Value> {
    let mut custom = Map::clone(&info.payload);
    for key in PROTECTED_PROPS {
        custom.remove(*key);
    }
    custom
}

/// The session a verified token describes.
fn session_from_token(info: &AccessTokenInfo) -> CoreSession {
    CoreSession {
        handle: info.session_handle.clone(),
        user_id: info.user_id.clone(),
        recipe_user_id: info.recipe_user_id.clone(),
        tenant_id: info.tenant_id.clone(),
        user_data_in_jwt: custom_payload(info),
    }
}
