//! Creating a session (docs/protocol.md §3.3, §3.5 "create"): the payload with its first claim
//! values, the core call, and the transfer method the frontend asked for.

use serde_json::{Map, Value};

use crate::claims::{ClaimFetchInput, encode_value};
use crate::config::{AntiCsrf, SessionConfig};
use crate::core::{CreatedSession, NewSession};
use crate::error::SessionError;
use crate::token::PROTECTED_PROPS;
use crate::util::now_ms;

use super::read::{Transfer, creation_transfer, has_access_token};
use super::request::RequestView;
use super::session::SessionContainer;

/// Creates a session for `user_id` in `tenant_id`; its tokens leave by the transfer method the
/// request asks for (the returned session's [`response_changes`](SessionContainer::response_changes)).
/// `payload` must be a JSON object (or `null`); protected fields such as `sub` are dropped.
pub(crate) async fn create_session<R: RequestView>(
    config: &SessionConfig,
    req: &R,
    tenant_id: &str,
    user_id: &str,
    payload: Value,
) -> Result<SessionContainer, SessionError> {
    let c = config.inner();
    let method = creation_transfer(req, c);
    let enable_anti_csrf = c.anti_csrf == AntiCsrf::ViaToken && method == Transfer::Cookie;
    let created = create_in_core(
        config,
        tenant_id,
        user_id,
        payload,
        Value::Object(Map::new()),
        enable_anti_csrf,
    )
    .await?;
    // A new session replaces one carried by the other method (docs/protocol.md §3.5 "create").
    let replaces_other = has_access_token(req, method.other());
    let session = SessionContainer::from_created(config, created, method, replaces_other)?;
    crate::observe::session_created();
    Ok(session)
}

/// Creates a session through the recipe functions (the core, or an override): `payload` (a JSON object or `null`; protected fields are
/// dropped) with the first values of the config's fetched claims, and `session_data` kept in
/// the database only.
pub(super) async fn create_in_core(
    config: &SessionConfig,
    tenant_id: &str,
    user_id: &str,
    payload: Value,
    session_data: Value,
    enable_anti_csrf: bool,
) -> Result<CreatedSession, SessionError> {
    let c = config.inner();
    let mut custom = match payload {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(SessionError::Internal(
                "the access token payload must be a JSON object".into(),
            ));
        }
    };
    for key in PROTECTED_PROPS {
        custom.remove(*key);
    }
    custom
        .entry("iss")
        .or_insert_with(|| Value::String(format!("{}{}", c.api_domain, c.api_base_path)));
    // Claims with a fetcher registered in the config go into the first access token, as the
    // SuperTokens recipes add theirs (`SessionConfigBuilder::fetch_claim`).
    let fetched_at = now_ms();
    for (key, fetcher) in &c.claim_fetchers {
        let input = ClaimFetchInput {
            user_id: user_id.to_owned(),
            recipe_user_id: user_id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            payload: custom.clone(),
        };
        let value = fetcher.fetch(input).await.map_err(|e| {
            tracing::error!(claim = %key, error = %e, "claim fetch at session creation failed");
            SessionError::Internal(format!("fetching claim `{key}` failed"))
        })?;
        if let Some(value) = value {
            custom.insert(key.clone(), encode_value(value, fetched_at));
        }
    }
    let (functions, original) = config.functions();
    functions
        .create_new_session(
            NewSession {
                tenant_id: tenant_id.to_owned(),
                recipe_user_id: user_id.to_owned(),
                access_token_payload: custom,
                session_data,
                enable_anti_csrf,
                use_dynamic_signing_key: c.use_dynamic_signing_key,
                access_token_version: crate::core::AccessTokenVersion::default(),
            },
            original,
        )
        .await
}
