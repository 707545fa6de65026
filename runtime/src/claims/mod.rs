//! Session claims: values stored in the access-token payload as `{"K": {"v": value, "t": ms}}`
//! (docs/protocol.md §7), and the validators that routes require of them.
//!
//! A route lists validators with `#[verify_session(claims = [..])]`; the config holds global
//! ones. Each entry is a validator expression such as `Roles::includes("admin")`, or a bare claim
//! type such as `EmailVerified`, which stands for that claim's default validator.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// The access-token payload a validator reads.
pub type Payload = Map<String, Value>;

/// Checks one claim of a verified session's access-token payload.
///
/// Implement it for custom rules; the built-in [`ClaimValidator`] covers the value checks of
/// the SuperTokens SDKs (`hasValue`, `includes`, …).
pub trait SessionClaimValidator: Send + Sync + 'static {
    /// The validator id reported in a 403 body (by default the claim key).
    fn id(&self) -> &str;

    /// Validates the payload at time `now_ms`; on failure returns the `reason` object.
    ///
    /// # Errors
    /// The JSON `reason` sent to the client in `claimValidationErrors`.
    fn validate(&self, payload: &Payload, now_ms: u64) -> Result<(), Value>;

    /// The payload key of the claim this validator reads, if it reads one claim.
    fn claim_key(&self) -> Option<&str> {
        None
    }

    /// Whether the claim's value should be fetched again before validating (missing, or
    /// older than allowed). Only acted on when a fetcher is known for the claim.
    fn should_refetch(&self, _payload: &Payload, _now_ms: u64) -> bool {
        false
    }

    /// The validator's own fetcher; otherwise the one registered in the config is used.
    fn fetcher(&self) -> Option<&ClaimFetcher> {
        None
    }
}

/// What a claim fetcher gets: who the session belongs to and its current payload.
#[derive(Debug, Clone)]
pub struct ClaimFetchInput {
    /// The primary user id.
    pub user_id: String,
    /// The recipe user id.
    pub recipe_user_id: String,
    /// The session's tenant.
    pub tenant_id: String,
    /// The current access-token payload.
    pub payload: Payload,
}

/// Why a claim value could not be fetched (logged; the client gets a 500).
#[derive(Debug, thiserror::Error)]
#[error("claim fetch failed: {0}")]
pub struct ClaimFetchError(pub String);

/// A boxed, `Send` future returned by claim fetchers.
pub type FetchFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<Value>, ClaimFetchError>> + Send>,
>;

/// Fetches a claim's current value (as JSON); `None` leaves the payload unchanged.
#[derive(Clone)]
pub struct ClaimFetcher(Arc<dyn Fn(ClaimFetchInput) -> FetchFuture + Send + Sync>);

impl fmt::Debug for ClaimFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClaimFetcher(..)")
    }
}

impl ClaimFetcher {
    /// Wraps an async function returning the claim's typed value.
    pub fn new<T, F, Fut>(fetch: F) -> Self
    where
        T: Serialize,
        F: Fn(ClaimFetchInput) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Option<T>, ClaimFetchError>> + Send + 'static,
    {
        ClaimFetcher(Arc::new(move |input| {
            let fut = fetch(input);
            Box::pin(async move {
                match fut.await? {
                    Some(value) => serde_json::to_value(value)
                        .map(Some)
                        .map_err(|e| ClaimFetchError(e.to_string())),
                    None => Ok(None),
                }
            })
        }))
    }

    /// Fetches the value.
    ///
    /// # Errors
    /// What the fetch function returned.
    pub async fn fetch(&self, input: ClaimFetchInput) -> Result<Option<Value>, ClaimFetchError> {
        (self.0)(input).await
    }
}

impl fmt::Debug for dyn SessionClaimValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionClaimValidator")
            .field("id", &self.id())
            .finish()
    }
}

/// A shared, type-erased validator, as held by route options and the config.
pub type ValidatorRef = Arc<dyn SessionClaimValidator>;

/// Anything that can stand in a `claims = [..]` list: a validator, or a claim type that has a
/// default validator.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a claim validator",
    label = "not a validator, and not a claim with a default validator",
    note = "write a validator such as `Roles::includes(\"admin\")`, or a claim that has a default validator such as `EmailVerified`"
)]
pub trait IntoValidator {
    /// Converts into a shared validator.
    fn into_validator(self) -> ValidatorRef;
}

impl<V: SessionClaimValidator> IntoValidator for V {
    fn into_validator(self) -> ValidatorRef {
        Arc::new(self)
    }
}

impl IntoValidator for ValidatorRef {
    fn into_validator(self) -> ValidatorRef {
        self
    }
}

/// A claim: a key in the access-token payload holding a typed value.
pub trait SessionClaim {
    /// The claim's value type (`bool` for [`EmailVerified`], `Vec<String>` for [`Roles`]).
    type Value: Serialize + DeserializeOwned;

    /// The payload key, e.g. `st-ev`.
    fn key(&self) -> &str;

    /// Reads the claim's value from a payload; `None` when missing or of another type.
    fn value_from_payload(&self, payload: &Payload) -> Option<Self::Value> {
        let value = payload.get(self.key())?.get("v")?;
        serde_json::from_value(value.clone()).ok()
    }

    /// When the value in a payload was last fetched (ms), if present.
    fn last_fetched_ms(&self, payload: &Payload) -> Option<u64> {
        payload.get(self.key())?.get("t")?.as_u64()
    }

    /// The claim's own fetcher, if it carries one (otherwise the config's is used).
    fn fetcher(&self) -> Option<&ClaimFetcher> {
        None
    }

    /// The JSON stored under [`key`](Self::key) for `value` fetched at `now_ms`.
    fn to_payload_value(&self, value: &Self::Value, now_ms: u64) -> Value {
        encode_value(to_json(value), now_ms)
    }
}

/// The one encoding of a claim value in the payload: `{"v": value, "t": fetched_at_ms}`.
pub(crate) fn encode_value(value: Value, fetched_at_ms: u64) -> Value {
    json!({ "v": value, "t": fetched_at_ms })
}

/// What a [`ClaimValidator`] compares.
#[derive(Debug, Clone)]
enum Check {
    HasValue(Value),
    Includes(Value),
    Excludes(Value),
    IncludesAll(Vec<Value>),
    IncludesAny(Vec<Value>),
    ExcludesAll(Vec<Value>),
}

/// A value check on one claim, with the exact failure reasons of the SuperTokens SDKs
/// (docs/protocol.md §7.2): missing value, then age, then the comparison.
#[derive(Debug, Clone)]
pub struct ClaimValidator {
    id: String,
    key: String,
    check: Check,
    max_age_secs: Option<u64>,
    refetch_on_false_secs: Option<u64>,
    fetcher: Option<ClaimFetcher>,
}

impl ClaimValidator {
    fn new(key: &str, check: Check) -> Self {
        Self {
            id: key.to_owned(),
            key: key.to_owned(),
            check,
            max_age_secs: None,
            refetch_on_false_secs: None,
            fetcher: None,
        }
    }

    /// Uses `fetcher` to refresh the claim when it is missing or too old.
    #[must_use]
    pub fn with_fetcher(mut self, fetcher: ClaimFetcher) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Refetches a `false` value once it is older than `secs` (email verification's rule, so
    /// a user who just verified is let in quickly).
    #[must_use]
    pub fn with_refetch_on_false(mut self, secs: u64) -> Self {
        self.refetch_on_false_secs = Some(secs);
        self
    }

    /// Passes when the claim under `key` equals `value`.
    pub fn has_value(key: &str, value: impl Serialize) -> Self {
        Self::new(key, Check::HasValue(to_json(value)))
    }

    /// Passes when the array claim under `key` contains `value`.
    pub fn includes(key: &str, value: impl Serialize) -> Self {
        Self::new(key, Check::Includes(to_json(value)))
    }

    /// Passes when the array claim under `key` does not contain `value`.
    pub fn excludes(key: &str, value: impl Serialize) -> Self {
        Self::new(key, Check::Excludes(to_json(value)))
    }

    /// Passes when the array claim under `key` contains every one of `values`.
    pub fn includes_all<T: Serialize>(key: &str, values: impl IntoIterator<Item = T>) -> Self {
        Self::new(
            key,
            Check::IncludesAll(values.into_iter().map(to_json).collect()),
        )
    }

    /// Passes when the array claim under `key` contains at least one of `values`.
    pub fn includes_any<T: Serialize>(key: &str, values: impl IntoIterator<Item = T>) -> Self {
        Self::new(
            key,
            Check::IncludesAny(values.into_iter().map(to_json).collect()),
        )
    }

    /// Passes when the array claim under `key` contains none of `values`.
    pub fn excludes_all<T: Serialize>(key: &str, values: impl IntoIterator<Item = T>) -> Self {
        Self::new(
            key,
            Check::ExcludesAll(values.into_iter().map(to_json).collect()),
        )
    }

    /// Fails with `expired` when the value was fetched more than `secs` seconds ago.
    #[must_use]
    pub fn with_max_age(mut self, secs: u64) -> Self {
        self.max_age_secs = Some(secs);
        self
    }

    /// Reports failures under `id` instead of the claim key.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// The claim key this validator reads.
    pub fn claim_key(&self) -> &str {
        &self.key
    }

    fn needs_refetch(&self, payload: &Payload, now_ms: u64) -> bool {
        let Some(value) = payload.get(&self.key).and_then(|c| c.get("v")) else {
            return true;
        };
        let fetched = fetched_ms(payload, &self.key).unwrap_or(0);
        let older_than = |secs: u64| fetched < now_ms.saturating_sub(secs.saturating_mul(1000));
        self.max_age_secs.is_some_and(older_than)
            || (value == &Value::Bool(false) && self.refetch_on_false_secs.is_some_and(older_than))
    }

    fn missing_reason(&self) -> Value {
        let mut reason = json!({ "message": "value does not exist" });
        let (key, expected) = match &self.check {
            Check::HasValue(v) => ("expectedValue", v.clone()),
            Check::Includes(v) => ("expectedToInclude", v.clone()),
            Check::IncludesAll(vs) => ("expectedToInclude", Value::Array(vs.clone())),
            Check::Excludes(v) => ("expectedToNotInclude", v.clone()),
            // Node's quirk, kept for byte compatibility (docs/protocol.md Appendix B item 5).
            Check::IncludesAny(vs) | Check::ExcludesAll(vs) => {
                ("expectedToNotInclude", Value::Array(vs.clone()))
            }
        };
        reason[key] = expected;
        reason
    }

    fn wrong_value_reason(&self, actual: &Value) -> Option<Value> {
        let items = actual.as_array();
        let contains = |v: &Value| items.is_some_and(|items| items.contains(v));
        let (key, expected, ok) = match &self.check {
            Check::HasValue(v) => ("expectedValue", v.clone(), actual == v),
            Check::Includes(v) => ("expectedToInclude", v.clone(), contains(v)),
            Check::Excludes(v) => (
                "expectedToNotInclude",
                v.clone(),
                items.is_some() && !contains(v),
            ),
            Check::IncludesAll(vs) => (
                "expectedToInclude",
                Value::Array(vs.clone()),
                vs.iter().all(contains),
            ),
            Check::IncludesAny(vs) => (
                "expectedToIncludeAtLeastOneOf",
                Value::Array(vs.clone()),
                vs.iter().any(contains),
            ),
            Check::ExcludesAll(vs) => (
                "expectedToNotInclude",
                Value::Array(vs.clone()),
                items.is_some() && !vs.iter().any(contains),
            ),
        };
        (!ok).then(|| json!({ "message": "wrong value", key: expected, "actualValue": actual }))
    }
}

impl SessionClaimValidator for ClaimValidator {
    fn id(&self) -> &str {
        &self.id
    }

    fn claim_key(&self) -> Option<&str> {
        Some(&self.key)
    }

    fn should_refetch(&self, payload: &Payload, now_ms: u64) -> bool {
        self.needs_refetch(payload, now_ms)
    }

    fn fetcher(&self) -> Option<&ClaimFetcher> {
        self.fetcher.as_ref()
    }

    fn validate(&self, payload: &Payload, now_ms: u64) -> Result<(), Value> {
        let Some(actual) = payload.get(&self.key).and_then(|c| c.get("v")) else {
            return Err(self.missing_reason());
        };
        if let Some(max_age) = self.max_age_secs {
            let age_ms = now_ms.saturating_sub(fetched_ms(payload, &self.key).unwrap_or(0));
            if age_ms > max_age.saturating_mul(1000) {
                return Err(json!({
                    "message": "expired",
                    "ageInSeconds": seconds_json(age_ms),
                    "maxAgeInSeconds": max_age,
                }));
            }
        }
        match self.wrong_value_reason(actual) {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }
}

fn fetched_ms(payload: &Payload, key: &str) -> Option<u64> {
    payload.get(key)?.get("t")?.as_u64()
}

/// Node reports the age as a fractional number of seconds; whole numbers print without `.0`.
fn seconds_json(ms: u64) -> Value {
    if ms.is_multiple_of(1000) {
        Value::from(ms / 1000)
    } else {
        Value::from(ms as f64 / 1000.0)
    }
}

fn to_json(value: impl Serialize) -> Value {
    // Serializing plain values (strings, numbers, bools) cannot fail; a failing custom
    // Serialize impl becomes `null`, which no validator will match.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

mod generic;
pub use generic::{BooleanClaim, PrimitiveArrayClaim, PrimitiveClaim};

/// The email-verification claim (`st-ev`, a boolean).
///
/// As a bare entry (`claims = [EmailVerified]`) it means [`EmailVerified::is_verified`].
#[derive(Debug, Clone, Copy, Default)]
pub struct EmailVerified;

impl EmailVerified {
    /// The payload key.
    pub const KEY: &'static str = "st-ev";

    /// Passes when the email is verified (`st-ev` is `true`). A `false` value is fetched
    /// again after 10 s (with a fetcher registered in the config), as the SuperTokens SDKs do.
    pub fn is_verified() -> ClaimValidator {
        ClaimValidator::has_value(Self::KEY, true).with_refetch_on_false(10)
    }
}

impl SessionClaim for EmailVerified {
    type Value = bool;
    fn key(&self) -> &str {
        Self::KEY
    }
}

impl IntoValidator for EmailVerified {
    fn into_validator(self) -> ValidatorRef {
        Arc::new(Self::is_verified())
    }
}

macro_rules! array_claim {
    ($(#[$doc:meta])* $name:ident, $key:literal, $noun:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl $name {
            /// The payload key.
            pub const KEY: &'static str = $key;

            #[doc = concat!("Passes when the user has the ", $noun, " `value`.")]
            pub fn includes(value: impl Into<String>) -> ClaimValidator {
                ClaimValidator::includes(Self::KEY, value.into())
            }

            #[doc = concat!("Passes when the user does not have the ", $noun, " `value`.")]
            pub fn excludes(value: impl Into<String>) -> ClaimValidator {
                ClaimValidator::excludes(Self::KEY, value.into())
            }

            #[doc = concat!("Passes when the user has every one of these ", $noun, "s.")]
            pub fn includes_all<S: Into<String>>(values: impl IntoIterator<Item = S>) -> ClaimValidator {
                ClaimValidator::includes_all(Self::KEY, values.into_iter().map(Into::into).collect::<Vec<String>>())
            }

            #[doc = concat!("Passes when the user has at least one of these ", $noun, "s.")]
            pub fn includes_any<S: Into<String>>(values: impl IntoIterator<Item = S>) -> ClaimValidator {
                ClaimValidator::includes_any(Self::KEY, values.into_iter().map(Into::into).collect::<Vec<String>>())
            }

            #[doc = concat!("Passes when the user has none of these ", $noun, "s.")]
            pub fn excludes_all<S: Into<String>>(values: impl IntoIterator<Item = S>) -> ClaimValidator {
                ClaimValidator::excludes_all(Self::KEY, values.into_iter().map(Into::into).collect::<Vec<String>>())
            }
        }

        impl SessionClaim for $name {
            type Value = Vec<String>;
            fn key(&self) -> &str {
                Self::KEY
            }
        }
    };
}

array_claim!(
    /// The user-roles claim (`st-role`, an array of role names). It has no default validator:
    /// write `Roles::includes("admin")`.
    Roles,
    "st-role",
    "role"
);

array_claim!(
    /// The permissions claim (`st-perm`, an array of permission names).
    Permissions,
    "st-perm",
    "permission"
);

#[cfg(test)]
mod tests;
