//! Signing-key cache (docs/protocol.md §2.3): max age, refetch on an unknown `kid` after a
//! cooldown, single-flight fetches, and stale keys kept when the key source fails.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};

/// Default [`JwksCache`] max age (Node's `jwksRefreshIntervalSec` default, 4 h).
pub(crate) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(4 * 60 * 60);
/// The longest cooldown a flood of unknown kids can push the cache to. Below the core's 60 s
/// publish-before-use overlap, so even during a flood a new key is fetched before it signs.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Default [`JwksCache`] cooldown between fetches (Node's `JWKCacheCooldownInMs`).
const DEFAULT_COOLDOWN: Duration = Duration::from_millis(500);
/// RSA modulus sizes the RS256 verifier accepts, in bits.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// Why no key could be had for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The key set is known, and no usable key has the token's `kid`.
    UnknownKey,
    /// No key is cached for the token and the last fetch failed.
    Unavailable,
}

/// Where signing keys come from (embedded core, a SuperTokens core over HTTP, a fixed set in tests).
///
/// Implementations should bound their own running time (Node uses a 5 s timeout): the cache
/// runs one fetch at a time and lookups needing fresh keys wait for it.
pub trait KeySource: Send + Sync + 'static {
    /// Fetch the current JWKS.
    ///
    /// # Errors
    ///
    /// [`KeySourceError`] when the keys cannot be obtained; the cache then keeps serving the
    /// keys it already has.
    fn fetch_keys(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<JwkSet, KeySourceError>> + Send + '_>>;
}

/// Error of a key source (message safe to log; no secrets).
#[derive(Debug, thiserror::Error)]
#[error("key source unavailable: {0}")]
pub struct KeySourceError(pub String);

/// A fixed key set (tests, static deployments).
#[derive(Clone)]
pub struct StaticKeySource(JwkSet);

impl StaticKeySource {
    /// A source that always returns `keys`.
    pub fn new(keys: JwkSet) -> Self {
        Self(keys)
    }
}

impl fmt::Debug for StaticKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StaticKeySource")
            .field(&KeyIds(&self.0))
            .finish()
    }
}

/// Debug-prints only the key ids of a set.
struct KeyIds<'a>(&'a JwkSet);

impl fmt::Debug for KeyIds<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.keys.iter().map(|jwk| jwk.common.key_id.as_deref()))
            .finish()
    }
}

impl KeySource for StaticKeySource {
    fn fetch_keys(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<JwkSet, KeySourceError>> + Send + '_>> {
        Box::pin(std::future::ready(Ok(self.0.clone())))
    }
}

/// Caches a [`KeySource`]'s signing keys (docs/protocol.md §2.3). `Send + Sync`; share via `Arc`.
///
/// * No cached set, or one older than the max age (default 4 h) ⇒ fetch before answering.
/// * Unknown `kid` ⇒ refetch, but only if the last fetch attempt is older than the cooldown
///   (default 500 ms). Concurrent callers share one in-flight fetch.
/// * Fetch failure ⇒ the previously cached keys stay in use.
/// * Only RSA keys usable for RS256 signatures are kept: JWKs of another type, or with an
///   `alg` other than `RS256`, a `use` other than `sig`, `key_ops` without `verify`, or a
///   modulus outside 2048–8192 bits are skipped.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sessionward::{JwksCache, StaticKeySource};
///
/// let source = StaticKeySource::new(jsonwebtoken::jwk::JwkSet { keys: vec![] });
/// let cache = JwksCache::new(Arc::new(source)).with_max_age(Duration::from_secs(3600));
/// assert_eq!(cache.fetch_count(), 0);
/// ```
pub struct JwksCache {
    source: Arc<dyn KeySource>,
    max_age: Duration,
    cooldown: Duration,
    state: RwLock<State>,
    /// `state`'s key-set number (high 32 bits) and the whole second, counted from `epoch`,
    /// at which that set stops being fresh (low 32 bits; 0 when it is not fresh). Written
    /// under the state's write lock; read without any lock by the verified-token cache on
    /// every hit, so that requests on different cores do not all write one lock's word.
    fresh_set: AtomicU64,
    /// The origin of `fresh_set`'s seconds.
    epoch: Instant,
    /// Held for the whole duration of a fetch: the single flight.
    fetch_gate: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

/// An RS256 (PKCS#1 v1.5, SHA-256, 2048–8192-bit) verification key, parsed once by aws-lc
/// when its JWKS is loaded. Rebuilding the key from `n`/`e` on every check, as
/// `jsonwebtoken::crypto::verify` does, costs 4–9 µs per signature (BENCHMARKS.md).
#[derive(Debug)]
pub(crate) struct Rs256Key(ParsedPublicKey);

impl Rs256Key {
    /// The key with modulus `n` and exponent `e` (big-endian, no leading zeros).
    pub(crate) fn from_components(n: &[u8], e: &[u8]) -> Result<Self, &'static str> {
        RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .map(Self)
            .map_err(|_| "not a valid RSA public key")
    }

    /// Whether `signature` (raw bytes) is this key's RS256 signature of `message`.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.verify_sig(message, signature).is_ok()
    }
}

/// The usable keys of one fetched JWKS, in JWKS order.
struct KeySet {
    keys: Vec<(Option<String>, Arc<Rs256Key>)>,
}

impl KeySet {
    fn get(&self, kid: &str) -> Option<&Arc<Rs256Key>> {
        self.keys
            .iter()
            .find(|(id, _)| id.as_deref() == Some(kid))
            .map(|(_, key)| key)
    }
}

#[derive(Default)]
struct State {
    /// The last successfully fetched set.
    keys: Option<KeySet>,
    /// When `keys` was fetched.
    fetched_at: Option<Instant>,
    /// When the last fetch attempt (success or failure) finished.
    last_attempt: Option<Instant>,
    last_attempt_failed: bool,
    /// Number of completed fetch attempts.
    generation: u64,
    /// Number of key sets fetched: each fetch builds new key objects, so a token checked
    /// with a key of set `n` can only be checked with the same key while `n` is current.
    set_number: u32,
    /// Number of [`JwksCache::invalidate`] calls.
    invalidations: u64,
    /// `invalidations` when the last attempt started.
    attempted_epoch: u64,
    /// `invalidations` when the fetch that produced `keys` started.
    loaded_epoch: u64,
    /// Consecutive successful refetches that did not produce the wanted key: each doubles the
    /// cooldown, up to [`MAX_BACKOFF`].
    fruitless: u32,
}

impl State {
    fn is_fresh(&self, max_age: Duration) -> bool {
        self.fresh_since().is_some_and(|at| at.elapsed() < max_age)
    }

    /// When the cached set was fetched, if no invalidation came since: freshness counts from
    /// then, for the max age.
    fn fresh_since(&self) -> Option<Instant> {
        self.fetched_at
            .filter(|_| self.loaded_epoch == self.invalidations)
    }

    fn key(&self, kid: &str) -> Option<Arc<Rs256Key>> {
        self.keys.as_ref()?.get(kid).cloned()
    }
}

impl JwksCache {
    /// A cache over `source` with max age 4 h and cooldown 500 ms; nothing is fetched yet.
    pub fn new(source: Arc<dyn KeySource>) -> Self {
        Self {
            source,
            max_age: DEFAULT_MAX_AGE,
            cooldown: DEFAULT_COOLDOWN,
            state: RwLock::new(State::default()),
            fresh_set: AtomicU64::new(0),
            epoch: Instant::now(),
            fetch_gate: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    /// How long a fetched key set counts as fresh (default 4 h, Node's `jwksRefreshIntervalSec`).
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self.publish(&self.read());
        self
    }

    /// Minimum time between two fetches caused by unknown `kid`s or failures (default 500 ms).
    #[must_use]
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// How many times the key source was called.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Forgets freshness: the next lookup refetches, even within the cooldown (for example
    /// right after the embedded core rotated its keys). Cached keys stay usable if that fetch fails.
    pub fn invalidate(&self) {
        let mut state = self.write();
        state.invalidations += 1;
        self.publish(&state);
    }

    /// The key for `kid`, fetching first if the cache is empty, too old, or lacks `kid` and the
    /// cooldown has passed.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnknownKey`] if no usable key has this `kid`; [`KeyError::Unavailable`]
    /// if it is not cached and the last fetch attempt failed.
    pub(crate) async fn key_for(&self, kid: &str) -> Result<Arc<Rs256Key>, KeyError> {
        let seen = {
            let state = self.read();
            if state.is_fresh(self.max_age)
                && let Some(key) = state.key(kid)
            {
                return Ok(key);
            }
            state.generation
        };
        self.refresh(seen, Some(kid)).await;
        let state = self.read();
        state.key(kid).ok_or_else(|| Self::missing(&state))
    }

    /// Every usable key, in JWKS order (for v2 tokens, which have no `kid`); fetches first if
    /// the cache is empty or too old.
    ///
    /// # Errors
    ///
    /// [`KeyError::Unavailable`] if no key is cached and the fetch failed.
    pub(crate) async fn all_keys(&self) -> Result<Vec<Arc<Rs256Key>>, KeyError> {
        let seen = {
            let state = self.read();
            if state.is_fresh(self.max_age)
                && let Some(keys) = &state.keys
            {
                return Ok(Self::collect(keys));
            }
            state.generation
        };
        self.refresh(seen, None).await;
        let state = self.read();
        match &state.keys {
            Some(keys) => Ok(Self::collect(keys)),
            None => Err(KeyError::Unavailable),
        }
    }

    /// The number of the current key set if `key` is its key for `kid` (however old the set).
    /// With [`is_fresh_set`](Self::is_fresh_set), it tells later whether `key` is still what
    /// [`key_for`](Self::key_for) would answer without fetching.
    pub(crate) fn set_number_of(&self, kid: &str, key: &Arc<Rs256Key>) -> Option<u32> {
        let state = self.read();
        let current = state.keys.as_ref()?.get(kid)?;
        Arc::ptr_eq(current, key).then_some(state.set_number)
    }

    /// Whether key set `number` is the current one and fresh, read without a lock. May answer
    /// `false` up to a second before the set ages out, never `true` after.
    pub(crate) fn is_fresh_set(&self, number: u32) -> bool {
        let packed = self.fresh_set.load(Ordering::Acquire);
        let (current, fresh_until) = ((packed >> 32) as u32, packed as u32);
        current == number && u64::from(fresh_until) > self.epoch.elapsed().as_secs()
    }

    /// Mirrors `state`'s key-set number and freshness into `fresh_set`; called after every
    /// change to them, under the write lock (or before the cache is shared).
    fn publish(&self, state: &State) {
        let fresh_until = state.fresh_since().map_or(0, |at| {
            let end = at
                .saturating_duration_since(self.epoch)
                .saturating_add(self.max_age);
            // Whole seconds, rounded down: never fresh for longer than `is_fresh` says.
            u32::try_from(end.as_secs()).unwrap_or(u32::MAX)
        });
        self.fresh_set.store(
            (u64::from(state.set_number) << 32) | u64::from(fresh_until),
            Ordering::Release,
        );
    }

    /// The cached key for `kid`, however old; never fetches.
    #[cfg(test)]
    pub(crate) fn cached_key(&self, kid: &str) -> Option<Arc<Rs256Key>> {
        self.read().key(kid)
    }

    /// All cached keys, however old; `None` if nothing was ever fetched. Never fetches.
    #[cfg(test)]
    pub(crate) fn cached_keys(&self) -> Option<Vec<Arc<Rs256Key>>> {
        self.read().keys.as_ref().map(Self::collect)
    }

    fn collect(keys: &KeySet) -> Vec<Arc<Rs256Key>> {
        keys.keys.iter().map(|(_, key)| Arc::clone(key)).collect()
    }

    fn missing(state: &State) -> KeyError {
        if state.keys.is_none() || state.last_attempt_failed {
            KeyError::Unavailable
        } else {
            KeyError::UnknownKey
        }
    }

    /// The cooldown after `fruitless` consecutive refetches that did not find the wanted key:
    /// doubled each time, so a flood of random kids costs a handful of fetches, not two a
    /// second.
    fn backoff(&self, fruitless: u32) -> Duration {
        self.cooldown
            .saturating_mul(1u32 << fruitless.min(16))
            .min(MAX_BACKOFF.max(self.cooldown))
    }

    /// Fetches once unless another caller fetched since `seen` was read, or the cooldown has not
    /// passed (an invalidation or a stale set overrides it). Callers wait for the fetch in flight.
    async fn refresh(&self, seen: u64, wanted: Option<&str>) {
        let _flight = self.fetch_gate.lock().await;
        let epoch = {
            let state = self.read();
            if state.generation != seen {
                return;
            }
            let forced = state.attempted_epoch < state.invalidations;
            // Backing off is for unknown kids; a set that merely aged out is refetched at the
            // base cooldown.
            let aged_out = state.keys.is_some() && !state.is_fresh(self.max_age);
            let cooldown = if aged_out {
                self.cooldown
            } else {
                self.backoff(state.fruitless)
            };
            let cooled = state.last_attempt.is_none_or(|at| at.elapsed() >= cooldown);
            if !forced && !cooled {
                return;
            }
            state.invalidations
        };

        self.fetches.fetch_add(1, Ordering::Relaxed);
        let outcome = match self.source.fetch_keys().await {
            Ok(set) => build_key_set(&set),
            Err(error) => Err(error),
        };
        crate::metric::key_fetch(outcome.is_ok());

        let now = Instant::now();
        let mut state = self.write();
        state.generation += 1;
        state.last_attempt = Some(now);
        state.attempted_epoch = epoch;
        match outcome {
            Ok(keys) => {
                let count = keys.keys.len();
                state.fruitless = match wanted {
                    Some(kid) if keys.get(kid).is_none() => state.fruitless.saturating_add(1),
                    _ => 0,
                };
                state.keys = Some(keys);
                state.set_number = state.set_number.wrapping_add(1);
                state.fetched_at = Some(now);
                state.loaded_epoch = epoch;
                state.last_attempt_failed = false;
                self.publish(&state);
                drop(state);
                tracing::debug!(keys = count, "fetched signing keys");
            }
            Err(error) => {
                state.last_attempt_failed = true;
                // An outage is not a flood: keep retrying at the base cooldown so service
                // comes back as soon as the source does.
                state.fruitless = 0;
                let stale_keys = state.keys.is_some();
                drop(state);
                tracing::warn!(%error, stale_keys, "signing key fetch failed");
            }
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached_keys = self.read().keys.as_ref().map_or(0, |keys| keys.keys.len());
        f.debug_struct("JwksCache")
            .field("max_age", &self.max_age)
            .field("cooldown", &self.cooldown)
            .field("cached_keys", &cached_keys)
            .field("fetch_count", &self.fetch_count())
            .finish_non_exhaustive()
    }
}

/// Keeps the usable keys of `set`; a set without any is treated as a failed fetch.
fn build_key_set(set: &JwkSet) -> Result<KeySet, KeySourceError> {
    let keys: Vec<_> = set
        .keys
        .iter()
        .filter_map(|jwk| match rs256_key(jwk) {
            Ok(key) => Some((jwk.common.key_id.clone(), Arc::new(key))),
            Err(reason) => {
                tracing::debug!(kid = jwk.common.key_id.as_deref(), reason, "skipping JWK");
                None
            }
        })
        .collect();
    if keys.is_empty() {
        return Err(KeySourceError(
            "the JWKS has no usable RS256 key".to_owned(),
        ));
    }
    Ok(KeySet { keys })
}

/// An RSA verification key for RS256 built from a JWK, or why the JWK is not usable.
fn rs256_key(jwk: &Jwk) -> Result<Rs256Key, &'static str> {
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Err("not an RSA key");
    };
    let common = &jwk.common;
    if common
        .key_algorithm
        .is_some_and(|alg| alg != KeyAlgorithm::RS256)
    {
        return Err("alg is not RS256");
    }
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| *usage != PublicKeyUse::Signature)
    {
        return Err("use is not sig");
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return Err("key_ops lacks verify");
    }
    let n = URL_SAFE_NO_PAD
        .decode(&rsa.n)
        .map_err(|_| "n is not base64url")?;
    let e = URL_SAFE_NO_PAD
        .decode(&rsa.e)
        .map_err(|_| "e is not base64url")?;
    let modulus = n
        .iter()
        .position(|&b| b != 0)
        .map_or(&[][..], |start| &n[start..]);
    let bits = modulus
        .first()
        .map_or(0, |&top| modulus.len() * 8 - top.leading_zeros() as usize);
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err("modulus size is not 2048 to 8192 bits");
    }
    let Some(exponent_start) = e.iter().position(|&b| b != 0) else {
        return Err("exponent is zero");
    };
    let exponent = &e[exponent_start..];
    Rs256Key::from_components(modulus, exponent)
}

#[cfg(test)]
mod tests;
