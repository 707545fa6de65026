//! Claim types for your own claims: a boolean, a primitive value, or an array of values, each
//! with an optional async fetch and default max age (the SDKs' `BooleanClaim`,
//! `PrimitiveClaim`, `PrimitiveArrayClaim`).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ClaimFetchError, ClaimFetchInput, ClaimFetcher, ClaimValidator, SessionClaim};

/// A claim holding one value of type `T` (a string, number, bool or any serde type).
///
/// ```
/// use sessionward::claims::{ClaimFetchError, PrimitiveClaim};
///
/// let tier = PrimitiveClaim::<String>::new("tier")
///     .with_fetch(|input| async move {
///         // look the user's subscription up, e.g. in your database
///         let _ = input.user_id;
///         Ok::<_, ClaimFetchError>(Some("pro".to_owned()))
///     })
///     .with_default_max_age(300);
/// let must_be_pro = tier.has_value("pro".to_owned());
/// # let _ = must_be_pro;
/// ```
pub struct PrimitiveClaim<T> {
    key: String,
    default_max_age: Option<u64>,
    fetcher: Option<ClaimFetcher>,
    value: PhantomData<fn() -> T>,
}

impl<T> Clone for PrimitiveClaim<T> {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone(),
            default_max_age: self.default_max_age,
            fetcher: self.fetcher.clone(),
            value: PhantomData,
        }
    }
}

impl<T> fmt::Debug for PrimitiveClaim<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrimitiveClaim")
            .field("key", &self.key)
            .field("default_max_age", &self.default_max_age)
            .field("fetch", &self.fetcher.is_some())
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned + 'static> PrimitiveClaim<T> {
    /// A claim stored under `key` in the access-token payload.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            default_max_age: None,
            fetcher: None,
            value: PhantomData,
        }
    }

    /// How the claim's value is fetched when a validator finds it missing or too old (and
    /// by [`SessionContainer::fetch_and_set_claim`](crate::SessionContainer::fetch_and_set_claim)).
    /// `Ok(None)` leaves the payload unchanged.
    #[must_use]
    pub fn with_fetch<F, Fut>(mut self, fetch: F) -> Self
    where
        F: Fn(ClaimFetchInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<T>, ClaimFetchError>> + Send + 'static,
    {
        self.fetcher = Some(ClaimFetcher::new(fetch));
        self
    }

    /// The max age (seconds) every validator of this claim applies unless given its own.
    #[must_use]
    pub fn with_default_max_age(mut self, secs: u64) -> Self {
        self.default_max_age = Some(secs);
        self
    }

    pub(crate) fn validator(&self, validator: ClaimValidator) -> ClaimValidator {
        let validator = match self.default_max_age {
            Some(secs) => validator.with_max_age(secs),
            None => validator,
        };
        match &self.fetcher {
            Some(fetcher) => validator.with_fetcher(fetcher.clone()),
            None => validator,
        }
    }

    /// Passes when the claim equals `value`.
    pub fn has_value(&self, value: T) -> ClaimValidator {
        self.validator(ClaimValidator::has_value(&self.key, value))
    }
}

impl<T: Serialize + DeserializeOwned> SessionClaim for PrimitiveClaim<T> {
    type Value = T;
    fn key(&self) -> &str {
        &self.key
    }
    fn fetcher(&self) -> Option<&ClaimFetcher> {
        self.fetcher.as_ref()
    }
}

/// A claim holding `true` or `false`.
#[derive(Debug, Clone)]
pub struct BooleanClaim(PrimitiveClaim<bool>);

impl BooleanClaim {
    /// A boolean claim stored under `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self(PrimitiveClaim::new(key))
    }

    /// See [`PrimitiveClaim::with_fetch`].
    #[must_use]
    pub fn with_fetch<F, Fut>(self, fetch: F) -> Self
    where
        F: Fn(ClaimFetchInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<bool>, ClaimFetchError>> + Send + 'static,
    {
        Self(self.0.with_fetch(fetch))
    }

    /// See [`PrimitiveClaim::with_default_max_age`].
    #[must_use]
    pub fn with_default_max_age(self, secs: u64) -> Self {
        Self(self.0.with_default_max_age(secs))
    }

    /// Passes when the claim is `true`.
    pub fn is_true(&self) -> ClaimValidator {
        self.0.has_value(true)
    }

    /// Passes when the claim is `false`.
    pub fn is_false(&self) -> ClaimValidator {
        self.0.has_value(false)
    }

    /// Passes when the claim equals `value`.
    pub fn has_value(&self, value: bool) -> ClaimValidator {
        self.0.has_value(value)
    }
}

impl SessionClaim for BooleanClaim {
    type Value = bool;
    fn key(&self) -> &str {
        self.0.key()
    }
    fn fetcher(&self) -> Option<&ClaimFetcher> {
        self.0.fetcher()
    }
}

/// A claim holding an array of `T` (roles, permissions, feature flags…).
pub struct PrimitiveArrayClaim<T>(PrimitiveClaim<Vec<T>>);

impl<T> Clone for PrimitiveArrayClaim<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> fmt::Debug for PrimitiveArrayClaim<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PrimitiveArrayClaim").field(&self.0).finish()
    }
}

impl<T: Serialize + DeserializeOwned + 'static> PrimitiveArrayClaim<T> {
    /// An array claim stored under `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self(PrimitiveClaim::new(key))
    }

    /// See [`PrimitiveClaim::with_fetch`].
    #[must_use]
    pub fn with_fetch<F, Fut>(self, fetch: F) -> Self
    where
        F: Fn(ClaimFetchInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<Vec<T>>, ClaimFetchError>> + Send + 'static,
    {
        Self(self.0.with_fetch(fetch))
    }

    /// See [`PrimitiveClaim::with_default_max_age`].
    #[must_use]
    pub fn with_default_max_age(self, secs: u64) -> Self {
        Self(self.0.with_default_max_age(secs))
    }

    /// Passes when the array contains `value`.
    pub fn includes(&self, value: T) -> ClaimValidator {
        self.0
            .validator(ClaimValidator::includes(self.0.key(), value))
    }

    /// Passes when the array does not contain `value`.
    pub fn excludes(&self, value: T) -> ClaimValidator {
        self.0
            .validator(ClaimValidator::excludes(self.0.key(), value))
    }

    /// Passes when the array contains every one of `values`.
    pub fn includes_all(&self, values: impl IntoIterator<Item = T>) -> ClaimValidator {
        self.0
            .validator(ClaimValidator::includes_all(self.0.key(), values))
    }

    /// Passes when the array contains at least one of `values`.
    pub fn includes_any(&self, values: impl IntoIterator<Item = T>) -> ClaimValidator {
        self.0
            .validator(ClaimValidator::includes_any(self.0.key(), values))
    }

    /// Passes when the array contains none of `values`.
    pub fn excludes_all(&self, values: impl IntoIterator<Item = T>) -> ClaimValidator {
        self.0
            .validator(ClaimValidator::excludes_all(self.0.key(), values))
    }
}

impl<T: Serialize + DeserializeOwned> SessionClaim for PrimitiveArrayClaim<T> {
    type Value = Vec<T>;
    fn key(&self) -> &str {
        self.0.key()
    }
    fn fetcher(&self) -> Option<&ClaimFetcher> {
        self.0.fetcher()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{SessionClaimValidator, ValidatorRef};
    use serde_json::json;

    #[test]
    fn default_max_age_and_fetcher_reach_validators() {
        let claim = PrimitiveClaim::<String>::new("tier")
            .with_fetch(|_| async { Ok(Some("pro".to_owned())) })
            .with_default_max_age(60);
        let v = claim.has_value("pro".into());
        assert!(v.fetcher().is_some());
        let p = json!({"tier": {"v": "pro", "t": 1_000}});
        let p = p.as_object().unwrap();
        assert!(v.should_refetch(p, 1_000 + 61_000));
        assert_eq!(
            v.validate(p, 1_000 + 61_000).unwrap_err()["message"],
            "expired"
        );
        assert!(v.validate(p, 1_000 + 59_000).is_ok());
    }

    #[tokio::test]
    async fn fetchers_return_json() {
        let claim = PrimitiveArrayClaim::<u32>::new("plans")
            .with_fetch(|input| async move { Ok(Some(vec![input.user_id.len() as u32])) });
        let value = SessionClaim::fetcher(&claim)
            .unwrap()
            .fetch(ClaimFetchInput {
                user_id: "abc".into(),
                recipe_user_id: "abc".into(),
                tenant_id: "public".into(),
                payload: Default::default(),
            })
            .await
            .unwrap();
        assert_eq!(value, Some(json!([3])));
    }

    #[test]
    fn boolean_and_array_validators_validate() {
        let flag = BooleanClaim::new("beta");
        let p = json!({"beta": {"v": false, "t": 1}, "n": {"v": [1, 2], "t": 1}});
        let p = p.as_object().unwrap();
        assert!(flag.is_false().validate(p, 2).is_ok());
        assert!(flag.is_true().validate(p, 2).is_err());
        let nums = PrimitiveArrayClaim::<i64>::new("n");
        let validators: Vec<ValidatorRef> = vec![
            std::sync::Arc::new(nums.includes(1)),
            std::sync::Arc::new(nums.excludes(3)),
            std::sync::Arc::new(nums.includes_all([1, 2])),
            std::sync::Arc::new(nums.includes_any([5, 2])),
            std::sync::Arc::new(nums.excludes_all([7, 8])),
        ];
        for v in validators {
            assert!(v.validate(p, 2).is_ok(), "{}", v.id());
        }
    }
}
