//! Managing sessions without a request, by handle and by user: the SDKs' `revokeSession`,
//! `revokeMultipleSessions`, `revokeAllSessionsForUser`, `getAllSessionHandlesForUser`,
//! `getSessionInformation`, `updateSessionDataInDatabase`, `mergeIntoAccessTokenPayload` and
//! the claim functions (by handle). They work with every core and in every adapter: account pages, "sign out
//! everywhere" after a password change, jobs that hold only a session handle.
//!
//! What a revocation changes: the session's refresh token is refused at once by every instance,
//! and so is its access token on routes with `check_database` (they ask the core). Elsewhere
//! the access token, being signed, stays valid until it expires, on every instance, as with the
//! SDKs. Revocations go through the config's core, which drops the session's entries from this
//! instance's verified-token cache at once; other instances' entries age out with their cache
//! TTL (`verified_token_cache_ttl`, 60 s by default).

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use crate::claims::{ClaimFetchInput, SessionClaim, ValidatorRef, encode_value};
use crate::config::SessionConfig;
use crate::core::SessionInformation;
use crate::error::{ClaimValidationError, SessionError};

use super::claims_check::{claim_failures, fetch_stale_claims};
use crate::token::PROTECTED_PROPS;
use crate::util::now_ms;

/// Which tenants a by-user call covers (the SDKs' `tenantId` and `revokeAcrossAllTenants` /
/// `fetchAcrossAllTenants`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tenants<'a> {
    /// One tenant, by id (`"public"` is the default tenant).
    One(&'a str),
    /// Every tenant of the app.
    All,
}

impl Tenants<'_> {
    /// The tenant id and the across-all-tenants flag of the core call.
    pub(super) fn scope(self) -> (String, bool) {
        match self {
            Tenants::One(tenant_id) => (tenant_id.to_owned(), false),
            Tenants::All => ("public".to_owned(), true),
        }
    }
}

impl SessionConfig {
    /// Revokes the session `handle` (the SDKs' `revokeSession`); `false` when there was no such
    /// session.
    ///
    /// # Errors
    /// Core failures ([`SessionError::CoreUnavailable`] when the core is down).
    pub async fn revoke_session(&self, handle: &str) -> Result<bool, SessionError> {
        let (functions, original) = self.functions();
        functions.revoke_session(handle.to_owned(), original).await
    }

    /// Revokes the sessions `handles` (the SDKs' `revokeMultipleSessions`); returns the handles
    /// that existed.
    ///
    /// # Errors
    /// Core failures.
    pub async fn revoke_multiple_sessions<I, S>(
        &self,
        handles: I,
    ) -> Result<Vec<String>, SessionError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let handles: Vec<String> = handles.into_iter().map(Into::into).collect();
        let (functions, original) = self.functions();
        functions.revoke_multiple_sessions(handles, original).await
    }

    /// Revokes every session of `user_id` in `tenants` (the SDKs' `revokeAllSessionsForUser`):
    /// "sign out everywhere" after a password change. Returns the revoked handles.
    ///
    /// ```no_run
    /// # async fn run(config: sessionward::SessionConfig) -> Result<(), sessionward::SessionError> {
    /// use sessionward::Tenants;
    ///
    /// let revoked = config.revoke_all_sessions_for_user("user-1", Tenants::All).await?;
    /// println!("signed out of {} sessions", revoked.len());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// Core failures.
    pub async fn revoke_all_sessions_for_user(
        &self,
        user_id: &str,
        tenants: Tenants<'_>,
    ) -> Result<Vec<String>, SessionError> {
        let (functions, original) = self.functions();
        functions
            .revoke_all_sessions_for_user(user_id.to_owned(), tenants, original)
            .await
    }

    /// The handles of `user_id`'s live sessions in `tenants` (the SDKs'
    /// `getAllSessionHandlesForUser`): an account page's list of devices, with
    /// [`get_session_information`](Self::get_session_information) for each.
    ///
    /// # Errors
    /// Core failures.
    pub async fn get_all_session_handles_for_user(
        &self,
        user_id: &str,
        tenants: Tenants<'_>,
    ) -> Result<Vec<String>, SessionError> {
        let (functions, original) = self.functions();
        functions
            .get_all_session_handles_for_user(user_id.to_owned(), tenants, original)
            .await
    }

    /// What the core keeps about the session `handle` (the SDKs' `getSessionInformation`):
    /// user, tenant, database-only data, the custom access-token payload, creation and expiry
    /// times; `None` when there is no such session.
    ///
    /// # Errors
    /// Core failures.
    pub async fn get_session_information(
        &self,
        handle: &str,
    ) -> Result<Option<SessionInformation>, SessionError> {
        let (functions, original) = self.functions();
        functions
            .get_session_information(handle.to_owned(), original)
            .await
    }

    /// Replaces the database-only data of the session `handle` (the SDKs'
    /// `updateSessionDataInDatabase`); `false` when there is no such session.
    ///
    /// # Errors
    /// Core failures.
    pub async fn update_session_data_in_database(
        &self,
        handle: &str,
        data: Value,
    ) -> Result<bool, SessionError> {
        let (functions, original) = self.functions();
        functions
            .update_session_data_in_database(handle.to_owned(), data, original)
            .await
    }

    /// Merges `update` into the custom access-token payload of the session `handle` (the SDKs'
    /// `mergeIntoAccessTokenPayload` by handle): a key set to `null` is removed. The client gets
    /// the new payload with its next refresh. `false` when there is no such session.
    ///
    /// # Errors
    /// [`SessionError::Internal`] when `update` is not a JSON object or sets a protected field
    /// (`sub`, `exp`, `sessionHandle`, …, which only the core sets); core failures.
    pub async fn merge_into_access_token_payload(
        &self,
        handle: &str,
        update: Value,
    ) -> Result<bool, SessionError> {
        let update = payload_update(update)?;
        let (functions, original) = self.functions();
        functions
            .merge_into_access_token_payload(handle.to_owned(), update, original)
            .await
    }
}

/// Claims of a session held only by its handle (the SDKs' `fetchAndSetClaim`, `setClaimValue`,
/// `getClaimValue` and `removeClaim` by handle). Changes reach the client with its next refresh.
impl SessionConfig {
    /// Sets `claim` to `value` in the session's access-token payload; `false` when there is no
    /// such session.
    ///
    /// # Errors
    /// As [`merge_into_access_token_payload`](Self::merge_into_access_token_payload).
    pub async fn set_claim_value_by_handle<C: SessionClaim>(
        &self,
        handle: &str,
        claim: &C,
        value: C::Value,
    ) -> Result<bool, SessionError> {
        let stored = claim.to_payload_value(&value, now_ms());
        self.merge_into_access_token_payload(handle, json!({ claim.key(): stored }))
            .await
    }

    /// The value of `claim` in the session's access-token payload (`None` when the payload has
    /// none).
    ///
    /// # Errors
    /// [`SessionError::Unauthorised`] when there is no such session; core failures.
    pub async fn get_claim_value_by_handle<C: SessionClaim>(
        &self,
        handle: &str,
        claim: &C,
    ) -> Result<Option<C::Value>, SessionError> {
        let info = self.existing_session(handle).await?;
        Ok(claim.value_from_payload(&info.user_data_in_jwt))
    }

    /// Removes `claim` from the session's access-token payload; `false` when there is no such
    /// session.
    ///
    /// # Errors
    /// As [`merge_into_access_token_payload`](Self::merge_into_access_token_payload).
    pub async fn remove_claim_by_handle<C: SessionClaim>(
        &self,
        handle: &str,
        claim: &C,
    ) -> Result<bool, SessionError> {
        self.merge_into_access_token_payload(handle, json!({ claim.key(): null }))
            .await
    }

    /// Fetches `claim`'s value for the session's user (with the claim's own fetcher, or the
    /// one registered in the config) and stores it; a fetch that returns no value changes
    /// nothing. `false` when there is no such session.
    ///
    /// # Errors
    /// [`SessionError::Internal`] when no fetcher is known or the fetch fails; core failures.
    pub async fn fetch_and_set_claim_by_handle<C: SessionClaim>(
        &self,
        handle: &str,
        claim: &C,
    ) -> Result<bool, SessionError> {
        let key = claim.key();
        let fetcher = claim
            .fetcher()
            .or_else(|| self.claim_fetcher(key))
            .cloned()
            .ok_or_else(|| SessionError::Internal(format!("no fetcher known for claim `{key}`")))?;
        let Some(info) = self.get_session_information(handle).await? else {
            return Ok(false);
        };
        let input = ClaimFetchInput {
            user_id: info.user_id,
            recipe_user_id: info.recipe_user_id,
            tenant_id: info.tenant_id,
            payload: info.user_data_in_jwt,
        };
        let value = fetcher
            .fetch(input)
            .await
            .map_err(|e| SessionError::Internal(e.to_string()))?;
        match value {
            Some(value) => {
                let stored = encode_value(value, now_ms());
                self.merge_into_access_token_payload(handle, json!({ key: stored }))
                    .await
            }
            None => Ok(true),
        }
    }

    /// Checks the config's global claim validators and `validators` against the session
    /// `handle` (the SDKs' `validateClaimsForSessionHandle`): claim values that are missing or
    /// stale are fetched and stored first, as verification does. Returns the failures; empty
    /// when every validator passes.
    ///
    /// # Errors
    /// [`SessionError::Unauthorised`] when there is no such session, [`SessionError::Internal`]
    /// when a fetch fails; core failures.
    pub async fn validate_claims_for_session_handle(
        &self,
        handle: &str,
        validators: &[ValidatorRef],
    ) -> Result<Vec<ClaimValidationError>, SessionError> {
        let SessionInformation {
            user_id,
            recipe_user_id,
            tenant_id,
            user_data_in_jwt,
            ..
        } = self.existing_session(handle).await?;
        let all = self.with_global_validators(validators);
        let now = now_ms();
        let mut payload = Cow::Owned(user_data_in_jwt);
        let update = fetch_stale_claims(self, &all, &mut payload, now, |payload| ClaimFetchInput {
            user_id: user_id.clone(),
            recipe_user_id: recipe_user_id.clone(),
            tenant_id: tenant_id.clone(),
            payload,
        })
        .await?;
        if !update.is_empty()
            && !self
                .merge_into_access_token_payload(handle, Value::Object(update))
                .await?
        {
            return Err(no_such_session());
        }
        Ok(claim_failures(&all, &payload, now))
    }

    /// Checks the config's global claim validators and `validators` against an access-token
    /// payload (the SDKs' `validateClaimsInJWTPayload`), fetching nothing: for a payload you
    /// verified yourself. Returns the failures; empty when every validator passes.
    pub fn validate_claims_in_jwt_payload(
        &self,
        payload: &Map<String, Value>,
        validators: &[ValidatorRef],
    ) -> Vec<ClaimValidationError> {
        claim_failures(&self.with_global_validators(validators), payload, now_ms())
    }

    fn with_global_validators(&self, validators: &[ValidatorRef]) -> Vec<ValidatorRef> {
        let mut all = self.inner().global_validators.clone();
        all.extend(validators.iter().cloned());
        all
    }

    /// The session `handle`, which must exist.
    async fn existing_session(&self, handle: &str) -> Result<SessionInformation, SessionError> {
        self.get_session_information(handle)
            .await?
            .ok_or_else(no_such_session)
    }
}

/// What a function that reads a session answers for a handle the core does not know.
fn no_such_session() -> SessionError {
    SessionError::Unauthorised {
        clear_tokens: false,
        reason: "no session with this handle",
    }
}

/// `update` as a payload update: a JSON object without protected fields.
pub(super) fn payload_update(update: Value) -> Result<Map<String, Value>, SessionError> {
    let Value::Object(update) = update else {
        return Err(SessionError::Internal(
            "merge_into_access_token_payload needs a JSON object".into(),
        ));
    };
    if let Some(key) = update
        .keys()
        .find(|key| PROTECTED_PROPS.contains(&key.as_str()))
    {
        return Err(SessionError::Internal(format!(
            "merge_into_access_token_payload cannot set the protected field `{key}`"
        )));
    }
    Ok(update)
}

/// `current` with `update` merged in: `null` removes a key. Protected fields a core may have
/// stored with the payload are dropped: the core sets them when it signs.
pub(super) fn merged_payload(
    mut current: Map<String, Value>,
    update: Map<String, Value>,
) -> Map<String, Value> {
    current.retain(|key, _| !PROTECTED_PROPS.contains(&key.as_str()));
    for (key, value) in update {
        if value.is_null() {
            current.remove(&key);
        } else {
            current.insert(key, value);
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object"),
        }
    }

    #[test]
    fn null_removes_a_key_and_other_keys_are_set_or_kept() {
        let current = object(json!({"plan": "free", "theme": "dark", "sub": "u1"}));
        let update = payload_update(json!({"plan": "pro", "theme": null, "seats": 3})).unwrap();
        assert_eq!(
            Value::Object(merged_payload(current, update)),
            json!({"plan": "pro", "seats": 3})
        );
    }

    #[test]
    fn protected_fields_and_non_objects_are_refused() {
        for update in [
            json!({"sub": "someone-else"}),
            json!({"exp": 1}),
            json!([1]),
        ] {
            let error = payload_update(update.clone()).unwrap_err();
            assert!(matches!(error, SessionError::Internal(_)), "{update}");
        }
        let message = payload_update(json!({"sessionHandle": "h"}))
            .unwrap_err()
            .to_string();
        assert!(message.contains("`sessionHandle`"), "{message}");
    }

    #[test]
    fn one_tenant_or_all() {
        assert_eq!(Tenants::One("t1").scope(), ("t1".to_owned(), false));
        assert_eq!(Tenants::All.scope(), ("public".to_owned(), true));
    }
}
