//! [`SessionContainer`]: a verified (or newly created) session, and the response changes it
//! owes the client.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::claims::{ClaimFetchInput, IntoValidator, SessionClaim, encode_value};
use crate::config::SessionConfig;
use crate::core::{CreatedSession, IssuedToken, RegenerateOutcome, SessionInformation};
use crate::error::SessionError;
use crate::token::{AccessTokenInfo, PROTECTED_PROPS, Payload, parse_access_token};
use crate::util::now_ms;

use super::read::Transfer;
use super::response::{NewTokens, ResponseChanges, front_token};

/// A verified (or newly created) session, handed to handlers by `#[verify_session]`, the
/// extractors and `get_session`.
///
/// It records what the response still owes the client (new tokens after a refresh or a payload
/// change, cleared tokens after a revocation); the framework adapter writes that to the
/// response.
///
/// Cheap to clone (an `Arc`). `Debug` shows ids, never tokens.
#[derive(Clone)]
pub struct SessionContainer {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    config: SessionConfig,
    ids: SessionIds,
    transfer: Transfer,
    state: Mutex<TokenState>,
}

/// The session's current tokens and what the response must still say about them.
pub(crate) struct TokenState {
    pub(crate) access_token: String,
    pub(crate) payload: Arc<Payload>,
    pub(crate) expiry_ms: u64,
    pub(crate) refresh_token: Option<IssuedToken>,
    pub(crate) anti_csrf_token: Option<String>,
    /// The access token changed during this request: send it with a new front-token.
    pub(crate) updated: bool,
    /// Transfer methods whose tokens the response clears (e.g. the other method at creation).
    pub(crate) clear: Vec<Transfer>,
}

/// A snapshot of a session's access-token payload, from
/// [`SessionContainer::access_token_payload`]: derefs to the JSON object and serialises as
/// it, without copying it. [`as_raw_json`](Self::as_raw_json) gives its JSON text, made once
/// per access token.
///
/// ```
/// # fn demo(session: &sessionward::SessionContainer) {
/// let payload = session.access_token_payload();
/// let plan = payload.get("plan").and_then(|v| v.as_str());
/// let body = serde_json::json!({ "user": session.user_id(), "payload": payload });
/// # let _ = (plan, body);
/// # }
/// ```
#[derive(Clone, PartialEq)]
pub struct AccessTokenPayload(Arc<Payload>);

impl AccessTokenPayload {
    /// The payload as an owned map (copied only if another snapshot shares it).
    pub fn into_map(self) -> Map<String, Value> {
        Arc::unwrap_or_clone(self.0).into_map()
    }

    /// The payload as JSON text, for a response body: a `&RawValue` field is written as it is
    /// by `serde_json`. The same text as `serde_json::to_string(&payload)`.
    ///
    /// Made on first use and kept with the payload, which the verified-token cache shares with
    /// every session verified from the same access token: a route that returns the payload
    /// serialises it once per token, not once per request.
    ///
    /// ```
    /// use serde::Serialize;
    /// use serde_json::value::RawValue;
    ///
    /// #[derive(Serialize)]
    /// #[serde(rename_all = "camelCase")]
    /// struct SessionInfo<'a> {
    ///     user_id: &'a str,
    ///     access_token_payload: &'a RawValue,
    /// }
    ///
    /// # fn demo(session: &sessionward::SessionContainer) -> serde_json::Result<String> {
    /// let payload = session.access_token_payload();
    /// let body = serde_json::to_string(&SessionInfo {
    ///     user_id: session.user_id(),
    ///     access_token_payload: payload.as_raw_json(),
    /// })?;
    /// # Ok(body)
    /// # }
    /// ```
    pub fn as_raw_json(&self) -> &RawValue {
        self.0.json()
    }
}

impl std::ops::Deref for AccessTokenPayload {
    type Target = Map<String, Value>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl serde::Serialize for AccessTokenPayload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Map::serialize(&self.0, serializer)
    }
}

/// Shows the payload's keys only: in VIA_TOKEN mode a value is the anti-CSRF token.
impl fmt::Debug for AccessTokenPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Whom a session belongs to: the facts of the verified access token (shared with the
/// verified-token cache, so a session built from a token copies none of its ids, which would
/// cost four allocations on every guarded request), or ids the core gave.
pub(crate) enum SessionIds {
    Token(Arc<AccessTokenInfo>),
    Owned {
        handle: String,
        user_id: String,
        recipe_user_id: String,
        tenant_id: String,
    },
}

impl SessionIds {
    fn handle(&self) -> &str {
        match self {
            SessionIds::Token(info) => &info.session_handle,
            SessionIds::Owned { handle, .. } => handle,
        }
    }

    fn user_id(&self) -> &str {
        match self {
            SessionIds::Token(info) => &info.user_id,
            SessionIds::Owned { user_id, .. } => user_id,
        }
    }

    fn recipe_user_id(&self) -> &str {
        match self {
            SessionIds::Token(info) => &info.recipe_user_id,
            SessionIds::Owned { recipe_user_id, .. } => recipe_user_id,
        }
    }

    fn tenant_id(&self) -> &str {
        match self {
            SessionIds::Token(info) => &info.tenant_id,
            SessionIds::Owned { tenant_id, .. } => tenant_id,
        }
    }
}

/// The parts a [`SessionContainer`] is built from.
pub(crate) struct SessionParts {
    pub(crate) ids: SessionIds,
    pub(crate) transfer: Transfer,
    pub(crate) state: TokenState,
}

impl fmt::Debug for SessionContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionContainer")
            .field("user_id", &self.user_id())
            .field("recipe_user_id", &self.recipe_user_id())
            .field("tenant_id", &self.tenant_id())
            .field("handle", &self.handle())
            .finish_non_exhaustive()
    }
}

impl SessionContainer {
    pub(crate) fn new(config: SessionConfig, parts: SessionParts) -> Self {
        Self {
            inner: Arc::new(SessionInner {
                config,
                ids: parts.ids,
                transfer: parts.transfer,
                state: Mutex::new(parts.state),
            }),
        }
    }

    /// A session just issued by the core (create or refresh) whose tokens the response must
    /// carry by `method`; `clear_other` also clears the other transfer method's tokens.
    pub(crate) fn from_created(
        config: &SessionConfig,
        created: CreatedSession,
        method: Transfer,
        clear_other: bool,
    ) -> Result<Self, SessionError> {
        let payload = parse_access_token(&created.access_token.token)
            .map(|t| t.payload)
            .map_err(|_| {
                SessionError::Internal("the core issued an unreadable access token".into())
            })?;
        Ok(SessionContainer::new(
            config.clone(),
            SessionParts {
                ids: SessionIds::Owned {
                    handle: created.session.handle,
                    user_id: created.session.user_id,
                    recipe_user_id: created.session.recipe_user_id,
                    tenant_id: created.session.tenant_id,
                },
                transfer: method,
                state: TokenState {
                    access_token: created.access_token.token,
                    payload: Arc::new(Payload::new(payload)),
                    expiry_ms: created.access_token.expiry_ms,
                    refresh_token: Some(created.refresh_token),
                    anti_csrf_token: created.anti_csrf_token,
                    updated: true,
                    clear: if clear_other {
                        vec![method.other()]
                    } else {
                        Vec::new()
                    },
                },
            },
        ))
    }

    /// The config this session was verified or created with: the by-user and by-handle
    /// functions from a handler, e.g.
    /// `session.config().revoke_all_sessions_for_user(session.user_id(), Tenants::All)`.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, TokenState> {
        // Only plain data lives behind the lock, so a poisoned lock is still consistent.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The primary user id (`sub`).
    pub fn user_id(&self) -> &str {
        self.inner.ids.user_id()
    }

    /// The recipe (login method) user id (`rsub`; equal to the user id without account
    /// linking).
    pub fn recipe_user_id(&self) -> &str {
        self.inner.ids.recipe_user_id()
    }

    /// The tenant the session belongs to (`tId`, `public` by default).
    pub fn tenant_id(&self) -> &str {
        self.inner.ids.tenant_id()
    }

    /// The session handle: a stable id of this session across refreshes.
    pub fn handle(&self) -> &str {
        self.inner.ids.handle()
    }

    /// The whole access-token payload, protected fields (`sub`, `exp`, …) included.
    ///
    /// A snapshot that shares the session's copy (nothing is cloned); later changes to the
    /// session's payload do not alter it.
    pub fn access_token_payload(&self) -> AccessTokenPayload {
        AccessTokenPayload(Arc::clone(&self.state().payload))
    }

    /// The access token's expiry, ms since the epoch.
    pub fn access_token_expiry_ms(&self) -> u64 {
        self.state().expiry_ms
    }

    /// A claim's value from the payload, e.g. `session.get_claim_value(&Roles)`.
    /// `None` when the claim is missing or holds another type.
    pub fn get_claim_value<C: SessionClaim>(&self, claim: &C) -> Option<C::Value> {
        claim.value_from_payload(&self.state().payload)
    }

    /// Merges `update` into the custom access-token payload (a key set to `null` is removed;
    /// protected fields cannot be changed) and re-signs the token; the new token and
    /// front-token reach the client with this request's response.
    ///
    /// # Errors
    /// [`SessionError::Unauthorised`] when the session no longer exists,
    /// [`SessionError::Internal`] when `update` is not a JSON object, and core failures.
    pub async fn merge_into_access_token_payload(&self, update: Value) -> Result<(), SessionError> {
        let Value::Object(update) = update else {
            return Err(SessionError::Internal(
                "merge_into_access_token_payload needs a JSON object".into(),
            ));
        };
        let (access_token, mut custom) = {
            let state = self.state();
            (state.access_token.clone(), Map::clone(&state.payload))
        };
        for key in PROTECTED_PROPS {
            custom.remove(*key);
        }
        for (key, value) in update {
            if PROTECTED_PROPS.contains(&key.as_str()) {
                continue;
            }
            if value.is_null() {
                custom.remove(&key);
            } else {
                custom.insert(key, value);
            }
        }
        let (functions, original) = self.inner.config.functions();
        let outcome = functions
            .regenerate_access_token(access_token, custom.clone(), original)
            .await?;
        match outcome {
            RegenerateOutcome::Ok {
                new_access_token: Some(token),
                ..
            } => {
                let payload = parse_access_token(&token.token)
                    .map(|t| t.payload)
                    .map_err(|_| {
                        SessionError::Internal("the core issued an unreadable access token".into())
                    })?;
                let mut state = self.state();
                state.access_token = token.token;
                state.payload = Arc::new(Payload::new(payload));
                state.expiry_ms = token.expiry_ms;
                state.updated = true;
            }
            RegenerateOutcome::Ok {
                new_access_token: None,
                ..
            } => {
                // The token expired meanwhile: the core stored the payload; keep ours in step.
                let mut state = self.state();
                let payload = Arc::make_mut(&mut state.payload).map_mut();
                payload.retain(|key, _| PROTECTED_PROPS.contains(&key.as_str()));
                payload.extend(custom);
            }
            RegenerateOutcome::Unauthorised => {
                return Err(SessionError::Unauthorised {
                    clear_tokens: true,
                    reason: "session no longer exists",
                });
            }
        }
        Ok(())
    }

    /// Sets a claim's value (`{"v": value, "t": now}`) in the access-token payload.
    ///
    /// # Errors
    /// As [`merge_into_access_token_payload`](Self::merge_into_access_token_payload).
    pub async fn set_claim_value<C: SessionClaim>(
        &self,
        claim: &C,
        value: C::Value,
    ) -> Result<(), SessionError> {
        let mut update = Map::new();
        update.insert(
            claim.key().to_owned(),
            claim.to_payload_value(&value, now_ms()),
        );
        self.merge_into_access_token_payload(Value::Object(update))
            .await
    }

    /// Removes a claim from the access-token payload.
    ///
    /// # Errors
    /// As [`merge_into_access_token_payload`](Self::merge_into_access_token_payload).
    pub async fn remove_claim<C: SessionClaim>(&self, claim: &C) -> Result<(), SessionError> {
        let mut update = Map::new();
        update.insert(claim.key().to_owned(), Value::Null);
        self.merge_into_access_token_payload(Value::Object(update))
            .await
    }

    /// Fetches a claim's value (with the claim's own fetcher, or the one registered in the
    /// config) and stores it in the payload. A fetch that returns no value changes nothing.
    ///
    /// # Errors
    /// [`SessionError::Internal`] when no fetcher is known or the fetch fails; otherwise as
    /// [`merge_into_access_token_payload`](Self::merge_into_access_token_payload).
    pub async fn fetch_and_set_claim<C: SessionClaim>(
        &self,
        claim: &C,
    ) -> Result<(), SessionError> {
        let key = claim.key();
        let fetcher = claim
            .fetcher()
            .or_else(|| self.inner.config.claim_fetcher(key))
            .cloned()
            .ok_or_else(|| SessionError::Internal(format!("no fetcher known for claim `{key}`")))?;
        let value = fetcher
            .fetch(self.fetch_input())
            .await
            .map_err(|e| SessionError::Internal(e.to_string()))?;
        if let Some(value) = value {
            let mut update = Map::new();
            update.insert(key.to_owned(), encode_value(value, now_ms()));
            self.merge_into_access_token_payload(Value::Object(update))
                .await?;
        }
        Ok(())
    }

    pub(crate) fn fetch_input(&self) -> ClaimFetchInput {
        ClaimFetchInput {
            user_id: self.inner.ids.user_id().to_owned(),
            recipe_user_id: self.inner.ids.recipe_user_id().to_owned(),
            tenant_id: self.inner.ids.tenant_id().to_owned(),
            payload: Map::clone(&self.state().payload),
        }
    }

    /// Checks validators against the session (fetching stale claim values first, as
    /// verification does).
    ///
    /// # Errors
    /// [`SessionError::InvalidClaims`] listing every failed validator.
    pub async fn assert_claims<V: IntoValidator>(
        &self,
        validators: impl IntoIterator<Item = V>,
    ) -> Result<(), SessionError> {
        let validators: Vec<_> = validators
            .into_iter()
            .map(IntoValidator::into_validator)
            .collect();
        super::claims_check::refetch_and_validate(self, &validators, now_ms()).await
    }

    async fn information(&self) -> Result<SessionInformation, SessionError> {
        let (functions, original) = self.inner.config.functions();
        functions
            .get_session_information(self.inner.ids.handle().to_owned(), original)
            .await?
            .ok_or(SessionError::Unauthorised {
                clear_tokens: true,
                reason: "session no longer exists",
            })
    }

    /// The data stored with the session in the core's database (never sent to the client).
    ///
    /// # Errors
    /// [`SessionError::Unauthorised`] when the session no longer exists; core failures.
    pub async fn get_session_data_from_database(&self) -> Result<Value, SessionError> {
        Ok(self.information().await?.session_data)
    }

    /// Replaces the data stored with the session in the core's database (`null` stores `{}`).
    ///
    /// # Errors
    /// [`SessionError::Unauthorised`] when the session no longer exists; core failures.
    pub async fn update_session_data_in_database(&self, data: Value) -> Result<(), SessionError> {
        let (functions, original) = self.inner.config.functions();
        let exists = functions
            .update_session_data_in_database(self.inner.ids.handle().to_owned(), data, original)
            .await?;
        if exists {
            Ok(())
        } else {
            Err(SessionError::Unauthorised {
                clear_tokens: true,
                reason: "session no longer exists",
            })
        }
    }

    /// When the session was created (ms since the epoch).
    ///
    /// # Errors
    /// [`SessionError::Unauthorised`] when the session no longer exists; core failures.
    pub async fn get_time_created(&self) -> Result<u64, SessionError> {
        Ok(self.information().await?.time_created_ms)
    }

    /// When the session (its refresh token) expires, ms since the epoch — not the access
    /// token's expiry.
    ///
    /// # Errors
    /// [`SessionError::Unauthorised`] when the session no longer exists; core failures.
    pub async fn get_expiry(&self) -> Result<u64, SessionError> {
        Ok(self.information().await?.expiry_ms)
    }

    /// The current access token (the SDKs' `getAccessToken`): the one the request carried, or
    /// the new one after a refresh promotion or a payload change. Handle it as a secret.
    pub fn get_access_token(&self) -> String {
        self.state().access_token.clone()
    }

    /// The session's tokens, for transports this library does not write to (websockets,
    /// serverless responses). Handle them as secrets.
    pub fn get_all_session_tokens_dangerously(&self) -> SessionTokens {
        let state = self.state();
        SessionTokens {
            access_token: state.access_token.clone(),
            access_and_front_token_updated: state.updated,
            refresh_token: state.refresh_token.as_ref().map(|t| t.token.clone()),
            front_token: front_token(self.inner.ids.user_id(), state.expiry_ms, &state.payload),
            anti_csrf_token: state.anti_csrf_token.clone(),
        }
    }

    /// Revokes this session in the core and clears its tokens in the response (in the
    /// transfer method the request used). The access token stays verifiable until it expires
    /// except on `check_database` routes.
    ///
    /// # Errors
    /// [`SessionError::CoreUnavailable`] when the core cannot be reached (nothing is cleared,
    /// so the user is not signed out by our outage).
    pub async fn revoke_session(&self) -> Result<(), SessionError> {
        let (functions, original) = self.inner.config.functions();
        functions
            .revoke_session(self.inner.ids.handle().to_owned(), original)
            .await?;
        let mut state = self.state();
        state.updated = false;
        state.clear = vec![self.inner.transfer];
        Ok(())
    }

    /// What this session owes the response: new tokens and a front-token when they changed,
    /// cleared tokens where asked. Empty (and allocation-free) when nothing changed.
    pub(crate) fn response_changes(&self) -> ResponseChanges {
        let state = self.state();
        let mut changes = ResponseChanges::default();
        let config = self.inner.config.inner();
        for method in &state.clear {
            changes.clear(config, *method);
        }
        if state.updated {
            let front = front_token(self.inner.ids.user_id(), state.expiry_ms, &state.payload);
            changes.attach(
                config,
                &NewTokens {
                    access_token: &state.access_token,
                    front_token: &front,
                    refresh_token: state
                        .refresh_token
                        .as_ref()
                        .map(|t| (t.token.as_str(), t.expiry_ms)),
                    anti_csrf_token: state.anti_csrf_token.as_deref(),
                },
                self.inner.transfer,
                now_ms(),
            );
        }
        changes
    }
}

/// A session's tokens (see [`SessionContainer::get_all_session_tokens_dangerously`]).
#[derive(Clone)]
pub struct SessionTokens {
    /// The current access token.
    pub access_token: String,
    /// Whether the access token (and so the front-token) changed during this request.
    pub access_and_front_token_updated: bool,
    /// The refresh token, only right after creation or refresh.
    pub refresh_token: Option<String>,
    /// The front-token for the current access token.
    pub front_token: String,
    /// The anti-CSRF token, if any.
    pub anti_csrf_token: Option<String>,
}

impl fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTokens")
            .field(
                "access_and_front_token_updated",
                &self.access_and_front_token_updated,
            )
            .finish_non_exhaustive()
    }
}
