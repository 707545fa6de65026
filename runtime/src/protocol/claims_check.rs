//! The route's checks after the token: the tenant from the path, and the claim validators with
//! refetching of stale values (docs/protocol.md §7.4).

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use crate::claims::{ClaimFetchInput, ClaimFetcher, ValidatorRef, encode_value};
use crate::config::SessionConfig;
use crate::error::{ClaimValidationError, SessionError};
use crate::util::now_ms;

use super::options::VerifyOptions;
use super::session::SessionContainer;

/// The session's tenant must equal the route's tenant (missing counts as empty); otherwise a
/// 403 with the validator id `st-tenant`.
pub(crate) fn check_tenant(
    session: &SessionContainer,
    route_tenant: Option<&str>,
) -> Result<(), SessionError> {
    let expected = route_tenant.unwrap_or("");
    if session.tenant_id() == expected {
        return Ok(());
    }
    Err(SessionError::InvalidClaims(vec![ClaimValidationError {
        id: "st-tenant".into(),
        reason: json!({
            "message": "wrong tenant",
            "expectedValue": expected,
            "actualValue": session.tenant_id(),
        }),
    }]))
}

/// The route's validators (global or overridden, plus its own), checked with refetch.
pub(crate) async fn validate_route_claims(
    config: &SessionConfig,
    session: &SessionContainer,
    options: &VerifyOptions,
) -> Result<(), SessionError> {
    let c = config.inner();
    let global: &[ValidatorRef] = if options.skip_global_claims {
        &[]
    } else {
        &c.global_validators
    };
    let mut validators = match &options.override_claims {
        Some(choose) => choose.choose(global, session).await,
        None => global.to_vec(),
    };
    validators.extend(options.claims.iter().cloned());
    if validators.is_empty() {
        return Ok(());
    }
    refetch_and_validate(session, &validators, now_ms()).await
}

/// docs/protocol.md §7.4: fetch claim values that are missing or stale, store them in the session
/// (a new access token for the client), then run every validator.
pub(crate) async fn refetch_and_validate(
    session: &SessionContainer,
    validators: &[ValidatorRef],
    now: u64,
) -> Result<(), SessionError> {
    let current = session.state().payload.clone();
    let config = session.config();
    let failures = if validators
        .iter()
        .any(|validator| stale_claim(config, validator, &current, now).is_some())
    {
        // Boxed: the fetches' futures would otherwise be part of every guarded request's
        // future, which is moved on each request, while most requests fetch nothing.
        Box::pin(refetch_then_validate(session, validators, &current, now)).await?
    } else {
        claim_failures(validators, &current, now)
    };
    if failures.is_empty() {
        Ok(())
    } else {
        Err(SessionError::InvalidClaims(failures))
    }
}

/// The validators' failures once the stale claim values are fetched and stored in the session.
async fn refetch_then_validate(
    session: &SessionContainer,
    validators: &[ValidatorRef],
    current: &Map<String, Value>,
    now: u64,
) -> Result<Vec<ClaimValidationError>, SessionError> {
    let mut payload = Cow::Borrowed(current);
    let update = fetch_stale_claims(session.config(), validators, &mut payload, now, |payload| {
        ClaimFetchInput {
            payload,
            ..session.fetch_input()
        }
    })
    .await?;
    if update.is_empty() {
        return Ok(claim_failures(validators, &payload, now));
    }
    session
        .merge_into_access_token_payload(Value::Object(update))
        .await?;
    Ok(claim_failures(
        validators,
        &session.state().payload.clone(),
        now,
    ))
}

/// The claim key of `validator` and the fetcher (the validator's own or the config's) to call
/// when its value in `payload` is missing or stale at `now` and something can fetch it.
fn stale_claim<'v>(
    config: &'v SessionConfig,
    validator: &'v ValidatorRef,
    payload: &Map<String, Value>,
    now: u64,
) -> Option<(&'v str, &'v ClaimFetcher)> {
    let key = validator.claim_key()?;
    if !validator.should_refetch(payload, now) {
        return None;
    }
    let fetcher = validator.fetcher().or_else(|| config.claim_fetcher(key))?;
    Some((key, fetcher))
}

/// Fetches, in order, the claim values `validators` read that are missing or stale in
/// `payload` and have a fetcher (the validator's own or the config's), and puts them into
/// `payload` as the payload stores them, so each fetch sees the values fetched before it.
/// `input` makes a fetch's input from the payload so far. Returns the new entries, to merge
/// into the session.
pub(super) async fn fetch_stale_claims(
    config: &SessionConfig,
    validators: &[ValidatorRef],
    payload: &mut Cow<'_, Map<String, Value>>,
    now: u64,
    input: impl Fn(Map<String, Value>) -> ClaimFetchInput,
) -> Result<Map<String, Value>, SessionError> {
    let mut update = Map::new();
    for validator in validators {
        let Some((key, fetcher)) = stale_claim(config, validator, payload, now) else {
            continue;
        };
        let value = fetcher
            .fetch(input(payload.clone().into_owned()))
            .await
            .map_err(|e| {
                tracing::error!(claim = key, error = %e, "claim fetch failed");
                SessionError::Internal(format!("fetching claim `{key}` failed"))
            })?;
        if let Some(value) = value {
            let entry = encode_value(value, now);
            payload.to_mut().insert(key.to_owned(), entry.clone());
            update.insert(key.to_owned(), entry);
        }
    }
    Ok(update)
}

/// The validators that fail on `payload` at `now`, with their reasons.
pub(super) fn claim_failures(
    validators: &[ValidatorRef],
    payload: &Map<String, Value>,
    now: u64,
) -> Vec<ClaimValidationError> {
    validators
        .iter()
        .filter_map(|v| {
            v.validate(payload, now)
                .err()
                .map(|reason| ClaimValidationError {
                    id: v.id().to_owned(),
                    reason,
                })
        })
        .collect()
}
