//! The verified-token cache: what verification learnt from an access token whose
//! signature it checked, kept so that the next request carrying the same token skips the RSA
//! check (and the parse).
//!
//! What it never changes:
//! * Only the very token that was verified hits: the key is the SHA-256 of its signature and
//!   the entry's `header.payload` must match the presented one byte for byte (see
//!   [`TokenKey`]).
//! * Only tokens that took the fast path enter: verified signature, structure and expiry, the
//!   right key type, no `parentRefreshTokenHash1` (those go to the core), and a `kid` (v3+).
//!   Garbage and rejected tokens never do, so they cannot fill it.
//! * `check_database` routes neither read nor fill it.
//! * A hit still needs the token's key, as the same object, in the current (fresh) key set:
//!   a refetch that drops or replaces the key makes every token it signed a miss.
//! * A hit ends at the token's expiry and never later than the TTL after the check.
//! * Key-type, anti-CSRF, tenant and claim checks run on every request, hit or not.
//! * Revocations through the config's core (sign-out, `revoke_session`, theft detection,
//!   `revoke_sessions`, `revoke_all_sessions_for_user`) evict the session's tokens.
//!
//! Memory is bounded by weight: a token counts one unit per started KiB, and the cache holds
//! at most `capacity` units ([quick_cache], S3-FIFO eviction), so a flood of distinct valid
//! tokens evicts older ones instead of growing the process. (An entry's payload also keeps its
//! JSON text once a route asked for it, `AccessTokenPayload::as_raw_json`: less than the
//! token's own length.)

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use serde_json::{Map, Value};

use crate::core::{
    BoxFuture, CoreError, CreatedSession, NewJwt, NewSession, RefreshOutcome, RefreshRequest,
    RegenerateOutcome, SessionCore, SessionInformation, VerifyOutcome, VerifyRequest,
};
use crate::keys::{JwksCache, KeySource, Rs256Key};
use crate::token::{AccessTokenInfo, UnverifiedToken};

/// Default capacity in weight units (tokens of up to 1 KiB).
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;
/// Default time a verified token is trusted without a new signature check.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(60);
/// Bytes of token per unit of weight.
const WEIGHT_UNIT: usize = 1024;

/// The cache key of an access token: SHA-256 of its signature segment. An entry also keeps
/// the token's `header.payload` text and a hit requires it byte for byte, so only the very
/// token that was verified hits (SHA-256 is collision-resistant), while the cache never holds
/// a usable token: the signature itself is not kept. Hashing the ~340-byte signature instead
/// of the whole ~840-byte token is a third of a hit's cost.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey([u8; 32]);

impl TokenKey {
    #[cfg(any(test, feature = "__internals"))]
    pub(crate) fn of(raw: &str) -> Self {
        Self::of_signature(split_token(raw).1)
    }

    fn of_signature(signature: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, signature.as_bytes());
        let mut key = [0; 32];
        key.copy_from_slice(digest.as_ref());
        Self(key)
    }
}

/// `(header.payload, signature)` of a token's text (`("", raw)` without a dot).
fn split_token(raw: &str) -> (&str, &str) {
    raw.rsplit_once('.').unwrap_or(("", raw))
}

/// What the cache remembers of one verified token.
pub(crate) struct CachedToken {
    /// Everything verification extracted (payload included), shared with the sessions built
    /// from it: a hit copies nothing.
    info: Arc<AccessTokenInfo>,
    /// The key object that verified the signature; a hit requires it still to be current.
    key: Arc<Rs256Key>,
    /// The number of the key set that held `key` when the token was cached: while that set
    /// is current and fresh, `key` is what the signature check would use.
    key_set: u32,
    /// The token's `header.payload`: a hit requires the presented token's to be identical.
    signing_input: Box<str>,
    /// The earlier of the token's expiry and the end of the TTL, in ms since the epoch (the
    /// clock token expiry is checked against, so a hit reads the clock once).
    live_until_ms: u64,
    weight: u64,
}

impl CachedToken {
    /// Usable at `now_ms` (token not expired, TTL not over)?
    fn is_live(&self, now_ms: u64) -> bool {
        now_ms < self.live_until_ms
    }
}

#[derive(Clone)]
struct TokenWeight;

impl Weighter<TokenKey, Arc<CachedToken>> for TokenWeight {
    fn weight(&self, _: &TokenKey, value: &Arc<CachedToken>) -> u64 {
        value.weight
    }
}

/// A bounded map from [`TokenKey`] to [`CachedToken`]; `Send + Sync`, shared by every worker
/// of an app through its [`SessionConfig`](crate::SessionConfig).
pub(crate) struct VerifiedTokenCache {
    entries: Cache<TokenKey, Arc<CachedToken>, TokenWeight>,
    ttl: Duration,
}

impl fmt::Debug for VerifiedTokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedTokenCache")
            .field("len", &self.entries.len())
            .field("weight", &self.entries.weight())
            .field("capacity", &self.entries.capacity())
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Taken before a signature check: the key the token would be checked with, so that only a
/// token verified with a key that stayed current is cached.
pub(crate) struct Admission {
    key: Arc<Rs256Key>,
    token_len: usize,
    signing_input: Box<str>,
}

impl VerifiedTokenCache {
    /// A cache of at most `capacity` weight units, trusting a token for at most `ttl`.
    /// `None` when either is zero (the cache is off).
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Option<Self> {
        if capacity == 0 || ttl.is_zero() {
            return None;
        }
        Some(Self {
            entries: Cache::with_weighter(capacity, capacity as u64, TokenWeight),
            ttl,
        })
    }

    /// The live entry for token `raw` whose key is `key`, if any (an expired or stale one is
    /// dropped).
    #[cfg(any(test, feature = "__internals"))]
    pub(crate) fn get(&self, key: &TokenKey, raw: &str, now_ms: u64) -> Option<Arc<CachedToken>> {
        self.get_split(key, split_token(raw).0, now_ms)
    }

    /// The key of token `raw` and its live entry, if any, with the token split once: the split
    /// scans the signature for its dot, and this runs on every verified request.
    pub(crate) fn lookup(&self, raw: &str, now_ms: u64) -> (TokenKey, Option<Arc<CachedToken>>) {
        let (signing_input, signature) = split_token(raw);
        let key = TokenKey::of_signature(signature);
        let entry = self.get_split(&key, signing_input, now_ms);
        (key, entry)
    }

    fn get_split(
        &self,
        key: &TokenKey,
        signing_input: &str,
        now_ms: u64,
    ) -> Option<Arc<CachedToken>> {
        let entry = self.entries.get(key)?;
        if *entry.signing_input != *signing_input {
            return None;
        }
        if entry.is_live(now_ms) {
            Some(entry)
        } else {
            self.entries
                .remove_if(key, |current| Arc::ptr_eq(current, &entry));
            None
        }
    }

    /// The verification result of a cached token, if its key is still the current one for its
    /// `kid` in a fresh key set (the lookup the signature check would make, fetching the same
    /// way when the set is stale).
    pub(crate) async fn reuse(
        &self,
        entry: &CachedToken,
        keys: &JwksCache,
    ) -> Option<Arc<AccessTokenInfo>> {
        let kid = entry.info.kid.as_deref()?;
        let key = keys.key_for(kid).await.ok()?;
        Arc::ptr_eq(&key, &entry.key).then(|| Arc::clone(&entry.info))
    }

    /// [`reuse`](Self::reuse) without fetching: `None` also when the key set is stale or no
    /// longer the one the token was cached under. Takes no lock.
    pub(crate) fn reuse_now(
        &self,
        entry: &CachedToken,
        keys: &JwksCache,
    ) -> Option<Arc<AccessTokenInfo>> {
        keys.is_fresh_set(entry.key_set)
            .then(|| Arc::clone(&entry.info))
    }

    /// Whether `token` may be cached once verified: v3+ (it has a `kid`) and its key is known.
    /// Looks the key up as the signature check is about to (fetching the same way), so the
    /// check then finds the same key object.
    pub(crate) async fn admission(
        &self,
        token: &UnverifiedToken<'_>,
        keys: &JwksCache,
    ) -> Option<Admission> {
        let key = keys.key_for(token.kid.as_deref()?).await.ok()?;
        Some(Admission {
            key,
            token_len: token.raw.len(),
            signing_input: token.signing_input.into(),
        })
    }

    /// Remembers a token that just passed every fast-path check.
    pub(crate) fn insert(
        &self,
        admission: Admission,
        key: TokenKey,
        info: &Arc<AccessTokenInfo>,
        keys: &JwksCache,
        now_ms: u64,
    ) {
        if info.parent_refresh_token_hash1.is_some() {
            return;
        }
        // The key must not have been replaced while the signature was being checked.
        let Some(kid) = info.kid.as_deref() else {
            return;
        };
        let Some(key_set) = keys.set_number_of(kid, &admission.key) else {
            return;
        };
        let weight = admission.token_len.div_ceil(WEIGHT_UNIT).max(1) as u64;
        let entry = CachedToken {
            info: Arc::clone(info),
            key: admission.key,
            key_set,
            signing_input: admission.signing_input,
            live_until_ms: info
                .expiry_ms
                .min(now_ms.saturating_add(self.ttl.as_millis() as u64)),
            weight,
        };
        self.entries.insert(key, Arc::new(entry));
    }

    /// Forgets every token of these sessions (a scan: revocations are rare next to requests).
    pub(crate) fn evict_sessions(&self, handles: &[String]) {
        if handles.is_empty() || self.entries.is_empty() {
            return;
        }
        let handles: HashSet<&str> = handles.iter().map(String::as_str).collect();
        self.entries
            .retain(|_, entry| !handles.contains(entry.info.session_handle.as_str()));
    }

    /// Forgets every token of a user, in any tenant.
    pub(crate) fn evict_user(&self, user_id: &str) {
        if self.entries.is_empty() {
            return;
        }
        self.entries.retain(|_, entry| {
            entry.info.user_id != user_id && entry.info.recipe_user_id != user_id
        });
    }

    #[cfg(feature = "__internals")]
    /// Forgets every token.
    pub(crate) fn clear(&self) {
        self.entries.clear();
    }

    #[cfg(any(test, feature = "__internals"))]
    /// Number of cached tokens.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Total weight of the cached tokens (never above [`capacity`](Self::capacity)).
    #[cfg(test)]
    pub(crate) fn weight(&self) -> u64 {
        self.entries.weight()
    }

    /// The weight capacity.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> u64 {
        self.entries.capacity()
    }
}

/// Wraps `core` so that revocations through it evict the revoked sessions' cached tokens.
pub(crate) fn evicting_core(
    core: Arc<dyn SessionCore>,
    cache: Option<&Arc<VerifiedTokenCache>>,
) -> Arc<dyn SessionCore> {
    match cache {
        Some(cache) => Arc::new(EvictingCore {
            inner: core,
            cache: Arc::clone(cache),
        }),
        None => core,
    }
}

/// A [`SessionCore`] that forwards every call and evicts cached tokens on revocation.
struct EvictingCore {
    inner: Arc<dyn SessionCore>,
    cache: Arc<VerifiedTokenCache>,
}

impl SessionCore for EvictingCore {
    fn key_source(&self) -> Arc<dyn KeySource> {
        self.inner.key_source()
    }

    fn create_session(&self, new: NewSession) -> BoxFuture<'_, Result<CreatedSession, CoreError>> {
        self.inner.create_session(new)
    }

    fn verify_session(
        &self,
        request: VerifyRequest,
    ) -> BoxFuture<'_, Result<VerifyOutcome, CoreError>> {
        self.inner.verify_session(request)
    }

    fn refresh_session(
        &self,
        request: RefreshRequest,
    ) -> BoxFuture<'_, Result<RefreshOutcome, CoreError>> {
        self.inner.refresh_session(request)
    }

    fn regenerate_access_token(
        &self,
        access_token: String,
        user_data_in_jwt: Map<String, Value>,
    ) -> BoxFuture<'_, Result<RegenerateOutcome, CoreError>> {
        self.inner
            .regenerate_access_token(access_token, user_data_in_jwt)
    }

    fn revoke_sessions(
        &self,
        handles: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async move {
            let outcome = self.inner.revoke_sessions(handles.clone()).await;
            // Evict whatever the outcome: a wasted eviction only costs one signature check.
            self.cache.evict_sessions(&handles);
            outcome
        })
    }

    fn revoke_all_sessions_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        Box::pin(async move {
            let outcome = self
                .inner
                .revoke_all_sessions_for_user(tenant_id, user_id.clone(), across_all_tenants)
                .await;
            self.cache.evict_user(&user_id);
            if let Ok(handles) = &outcome {
                self.cache.evict_sessions(handles);
            }
            outcome
        })
    }

    fn session_handles_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        self.inner
            .session_handles_for_user(tenant_id, user_id, across_all_tenants)
    }

    fn session_information(
        &self,
        handle: String,
    ) -> BoxFuture<'_, Result<Option<SessionInformation>, CoreError>> {
        self.inner.session_information(handle)
    }

    fn update_session_data(
        &self,
        handle: String,
        data: Value,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        self.inner.update_session_data(handle, data)
    }

    fn update_access_token_payload(
        &self,
        handle: String,
        user_data_in_jwt: Map<String, Value>,
    ) -> BoxFuture<'_, Result<bool, CoreError>> {
        self.inner
            .update_access_token_payload(handle, user_data_in_jwt)
    }

    fn create_jwt(&self, jwt: NewJwt) -> BoxFuture<'_, Result<String, CoreError>> {
        self.inner.create_jwt(jwt)
    }

    fn legacy_handshake(&self) -> BoxFuture<'_, Result<crate::core::LegacyHandshake, CoreError>> {
        self.inner.legacy_handshake()
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), CoreError>> {
        self.inner.ready()
    }
}

#[cfg(test)]
mod tests;
