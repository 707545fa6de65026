//! The embedded core's RSA-2048 signing keys (docs/protocol.md §2): kept in the store, rotated, and
//! published as a JWKS.
//!
//! * One static key `s-<uuid>` never rotates (the oldest one signs if several exist).
//! * Dynamic keys `d-<created ms>`: a new one is created [`KeyPolicy::rotation_due_at`] (the
//!   rotation interval minus the overlap after the newest one) and signs only from
//!   `created + overlap` on, so verifiers see it in the JWKS before any token uses it. The
//!   signer is the newest key already active. A key that stopped signing at `t` is deleted at
//!   `t + access-token validity + overlap`, once no token it signed can still be valid.
//! * Several processes may share the store: a new key is added with a compare-and-set on the
//!   newest kid, so concurrent rotations add one key; every process reloads the set when its
//!   own schedule says so, or when a verifier meets an unknown kid.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::Deserialize;

use super::store::{SessionStore, StoredKey};
use crate::core::{BoxFuture, CoreError};
use crate::keys::{KeySource, KeySourceError};

/// The key file the first version of the embedded core wrote (imported once, then renamed).
pub(crate) const LEGACY_KEY_FILE: &str = "signing-keys.json";
/// What [`LEGACY_KEY_FILE`] is renamed to after its import.
pub(crate) const IMPORTED_KEY_FILE: &str = "signing-keys.json.imported";

/// One signing key: id, creation time and parsed key pair.
pub(crate) struct SigningKey {
    kid: String,
    created_ms: u64,
    pair: RsaKeyPair,
    jwk: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_ms", &self.created_ms)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a stored key.
    ///
    /// # Errors
    ///
    /// [`CoreError::Internal`] if the PKCS#8 bytes are not an RSA key pair.
    pub(crate) fn from_stored(stored: &StoredKey) -> Result<Self, CoreError> {
        let pair = RsaKeyPair::from_pkcs8(&stored.pkcs8).map_err(|_| {
            CoreError::Internal(format!("signing key {} is not a valid RSA key", stored.kid))
        })?;
        let public = pair.public_key();
        let jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA",
            "kid": stored.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            "alg": "RS256",
            "use": "sig",
        }))
        .map_err(|e| CoreError::Internal(format!("cannot describe signing key: {e}")))?;
        Ok(Self {
            kid: stored.kid.clone(),
            created_ms: stored.created_ms,
            pair,
            jwk,
        })
    }

    /// The key id.
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// Whether this is a dynamic (`d-…`) key.
    pub(crate) fn is_dynamic(&self) -> bool {
        is_dynamic(&self.kid)
    }

    /// Signs `message` (RS256) and returns the base64url signature.
    ///
    /// # Errors
    ///
    /// [`CoreError::Internal`] if signing fails.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<String, CoreError> {
        Ok(URL_SAFE_NO_PAD.encode(self.sign_raw(message)?))
    }

    /// Signs `message` (RS256) and returns the raw signature bytes.
    ///
    /// # Errors
    ///
    /// [`CoreError::Internal`] if signing fails.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> Result<Vec<u8>, CoreError> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| CoreError::Internal("RSA signing failed".into()))?;
        Ok(signature)
    }

    /// The public key as X.509 `SubjectPublicKeyInfo` DER.
    ///
    /// # Errors
    ///
    /// [`CoreError::Internal`] if the key cannot be encoded.
    pub(crate) fn public_key_der(&self) -> Result<Vec<u8>, CoreError> {
        let der = self
            .pair
            .public_key()
            .as_der()
            .map_err(|_| CoreError::Internal("RSA public key export failed".into()))?;
        Ok(der.as_ref().to_vec())
    }

    /// The public key as an RS256 verification key.
    ///
    /// # Errors
    ///
    /// [`CoreError::Internal`] if the key is not a usable RSA key.
    pub(crate) fn verification_key(&self) -> Result<crate::keys::Rs256Key, CoreError> {
        let public = self.pair.public_key();
        crate::keys::Rs256Key::from_components(
            public.modulus().big_endian_without_leading_zero(),
            public.exponent().big_endian_without_leading_zero(),
        )
        .map_err(|e| CoreError::Internal(e.into()))
    }

    /// When the key was created, ms.
    pub(crate) fn created_ms(&self) -> u64 {
        self.created_ms
    }
}

fn is_dynamic(kid: &str) -> bool {
    kid.starts_with("d-")
}

/// A new RSA-2048 key: `d-<now>` or `s-<uuid>`.
///
/// # Errors
///
/// [`CoreError::Internal`] if key generation fails.
pub(crate) fn generate_key(dynamic: bool, now_ms: u64) -> Result<StoredKey, CoreError> {
    let kid = if dynamic {
        format!("d-{now_ms}")
    } else {
        format!("s-{}", uuid::Uuid::new_v4())
    };
    Ok(StoredKey {
        kid,
        created_ms: now_ms,
        pkcs8: new_pkcs8()?,
    })
}

#[cfg(not(test))]
pub(super) fn new_pkcs8() -> Result<Vec<u8>, CoreError> {
    generate_pkcs8()
}

/// Test builds take pre-generated keys (RSA generation is slow, most of all in debug builds).
#[cfg(test)]
pub(super) fn new_pkcs8() -> Result<Vec<u8>, CoreError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let keys: Vec<&str> = include_str!("test_keys.txt")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let key = keys[NEXT.fetch_add(1, Ordering::Relaxed) % keys.len()];
    STANDARD
        .decode(key)
        .map_err(|_| CoreError::Internal("bad test key".into()))
}

/// Generates an RSA-2048 key pair, as PKCS#8 DER.
///
/// # Errors
///
/// [`CoreError::Internal`] if key generation fails.
pub(crate) fn generate_pkcs8() -> Result<Vec<u8>, CoreError> {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| CoreError::Internal("RSA key generation failed".into()))?;
    let der = pair
        .as_der()
        .map_err(|_| CoreError::Internal("RSA key export failed".into()))?;
    Ok(der.as_ref().to_vec())
}

/// When dynamic keys are created, start signing and are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyPolicy {
    /// How long a dynamic key signs before the next one takes over, ms.
    pub(crate) rotation_ms: u64,
    /// How long a new key is published before it signs, ms.
    pub(crate) overlap_ms: u64,
    /// Access-token lifetime, ms.
    pub(crate) validity_ms: u64,
}

/// What [`KeyPolicy::plan`] says to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPlan {
    /// Create a new dynamic key.
    pub(crate) rotate: bool,
    /// Dynamic keys no valid token can be signed with any more.
    pub(crate) drop: Vec<String>,
    /// When to look again, ms.
    pub(crate) next_due_ms: u64,
}

impl KeyPolicy {
    /// When a key created at `created_ms` starts signing.
    fn active_from(&self, created_ms: u64) -> u64 {
        created_ms.saturating_add(self.overlap_ms)
    }

    /// When the key after the one created at `newest_created_ms` should be created: the
    /// rotation interval minus the overlap (at least half the interval) later.
    pub(crate) fn rotation_due_at(&self, newest_created_ms: u64) -> u64 {
        let lead = self
            .rotation_ms
            .saturating_sub(self.overlap_ms)
            .max(self.rotation_ms / 2)
            .max(1);
        newest_created_ms.saturating_add(lead)
    }

    /// Which of the dynamic keys (creation times, oldest first) signs at `now_ms`: the newest
    /// active one, else the oldest (a first key signs at once: no token predates it).
    pub(crate) fn signer(&self, created: &[u64], now_ms: u64) -> Option<usize> {
        if created.is_empty() {
            return None;
        }
        Some(
            created
                .iter()
                .rposition(|&c| self.active_from(c) <= now_ms)
                .unwrap_or(0),
        )
    }

    /// Rotation and deletion due at `now_ms` for `dynamic` keys `(kid, created)`, oldest first.
    pub(crate) fn plan(&self, dynamic: &[(&str, u64)], now_ms: u64) -> KeyPlan {
        let Some(&(_, newest)) = dynamic.last() else {
            return KeyPlan {
                rotate: true,
                drop: Vec::new(),
                next_due_ms: now_ms,
            };
        };
        let due = self.rotation_due_at(newest);
        let mut next_due_ms = due;
        let mut drop = Vec::new();
        for pair in dynamic.windows(2) {
            let (kid, _) = pair[0];
            // Key i stops signing when key i + 1 becomes active.
            let retired = self.active_from(pair[1].1);
            let removable = retired
                .saturating_add(self.validity_ms)
                .saturating_add(self.overlap_ms);
            if removable <= now_ms {
                drop.push(kid.to_owned());
            } else {
                next_due_ms = next_due_ms.min(removable);
            }
        }
        KeyPlan {
            rotate: due <= now_ms,
            drop,
            next_due_ms,
        }
    }
}

/// A loaded key set.
pub(crate) struct KeySet {
    /// Dynamic keys, oldest first.
    dynamic: Vec<Arc<SigningKey>>,
    /// Static keys, oldest first.
    statics: Vec<Arc<SigningKey>>,
    jwks: JwkSet,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field(
                "dynamic",
                &self.dynamic.iter().map(|k| k.kid()).collect::<Vec<_>>(),
            )
            .field(
                "static",
                &self.statics.iter().map(|k| k.kid()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeySet {
    fn new(mut keys: Vec<Arc<SigningKey>>) -> Self {
        keys.sort_by(|a, b| (a.created_ms, &a.kid).cmp(&(b.created_ms, &b.kid)));
        let (dynamic, statics): (Vec<_>, Vec<_>) = keys.into_iter().partition(|k| k.is_dynamic());
        // Newest dynamic key first, then the static ones.
        let jwks = JwkSet {
            keys: dynamic
                .iter()
                .rev()
                .chain(statics.iter())
                .map(|k| k.jwk.clone())
                .collect(),
        };
        Self {
            dynamic,
            statics,
            jwks,
        }
    }

    /// The public keys (all stored keys).
    pub(crate) fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// The kids of the dynamic keys, oldest first.
    #[cfg(test)]
    pub(crate) fn dynamic_kids(&self) -> Vec<&str> {
        self.dynamic.iter().map(|k| k.kid()).collect()
    }

    fn same_kids(&self, other: &KeySet) -> bool {
        let kids = |set: &KeySet| {
            set.dynamic
                .iter()
                .chain(&set.statics)
                .map(|k| k.kid.clone())
                .collect::<Vec<_>>()
        };
        kids(self) == kids(other)
    }
}

/// The current key set of this process, replaced as a whole on reload.
#[derive(Debug)]
pub(crate) struct KeyRing {
    set: RwLock<Arc<KeySet>>,
    policy: KeyPolicy,
}

impl KeyRing {
    /// An empty ring (nothing can be signed until [`KeyRing::load`]).
    pub(crate) fn new(policy: KeyPolicy) -> Self {
        Self {
            set: RwLock::new(Arc::new(KeySet::new(Vec::new()))),
            policy,
        }
    }

    /// The current set.
    pub(crate) fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.set.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The key that signs at `now_ms`: the static key, or the active dynamic key.
    ///
    /// # Errors
    ///
    /// [`CoreError::Internal`] if there is no key of that kind (never after a successful open).
    pub(crate) fn signer(&self, dynamic: bool, now_ms: u64) -> Result<Arc<SigningKey>, CoreError> {
        let set = self.current();
        let key = if dynamic {
            let created: Vec<u64> = set.dynamic.iter().map(|k| k.created_ms).collect();
            self.policy
                .signer(&created, now_ms)
                .and_then(|i| set.dynamic.get(i))
        } else {
            set.statics.first()
        };
        key.cloned()
            .ok_or_else(|| CoreError::Internal("no signing key is available".into()))
    }

    /// Replaces the set with `stored` (already parsed keys are reused); `true` if the kids
    /// changed.
    ///
    /// # Errors
    ///
    /// [`CoreError::Internal`] if a stored key is not a valid RSA key (the set is unchanged).
    pub(crate) fn load(&self, stored: &[StoredKey]) -> Result<bool, CoreError> {
        let current = self.current();
        let known: HashMap<&str, &Arc<SigningKey>> = current
            .dynamic
            .iter()
            .chain(&current.statics)
            .map(|k| (k.kid(), k))
            .collect();
        let keys = stored
            .iter()
            .map(|s| match known.get(s.kid.as_str()) {
                Some(key) => Ok(Arc::clone(key)),
                None => SigningKey::from_stored(s).map(Arc::new),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = KeySet::new(keys);
        let changed = !next.same_kids(&current);
        if changed {
            *self.set.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        }
        Ok(changed)
    }

    /// Reloads the set from `store`; `true` if the kids changed.
    ///
    /// # Errors
    ///
    /// The store's error, or an invalid stored key.
    pub(crate) async fn reload(&self, store: &dyn SessionStore) -> Result<bool, CoreError> {
        let stored = store.signing_keys().await?;
        self.load(&stored)
    }

    /// Makes sure a static and a dynamic key exist, rotates the dynamic key when due and
    /// deletes dynamic keys no valid token can use. Generates keys (RSA generation is slow)
    /// only when one is needed. Returns whether the set changed and when to look again.
    ///
    /// # Errors
    ///
    /// The store's error, key generation or an invalid stored key.
    pub(crate) async fn maintain(
        &self,
        store: &dyn SessionStore,
        now_ms: u64,
    ) -> Result<(bool, u64), CoreError> {
        let mut changed = self.reload(store).await?;
        if self.current().statics.is_empty() {
            store
                .add_signing_key(generate_key(false, now_ms)?, None)
                .await?;
            changed |= self.reload(store).await?;
        }
        let plan = self.plan(now_ms);
        if plan.rotate {
            let newest = self.current().dynamic.last().map(|k| k.kid.clone());
            let key = generate_key(true, now_ms)?;
            let kid = key.kid.clone();
            // Another process may have rotated meanwhile: then its key is used instead.
            if store.add_signing_key(key, newest).await? {
                tracing::info!(kid, "created a new dynamic signing key");
            }
        }
        if !plan.drop.is_empty() {
            tracing::info!(kids = ?plan.drop, "deleting retired dynamic signing keys");
            store.remove_signing_keys(plan.drop.clone()).await?;
        }
        if plan.rotate || !plan.drop.is_empty() {
            changed |= self.reload(store).await?;
        }
        Ok((changed, self.plan(now_ms).next_due_ms))
    }

    /// [`KeyPolicy::plan`] for the current set.
    fn plan(&self, now_ms: u64) -> KeyPlan {
        let set = self.current();
        let dynamic: Vec<(&str, u64)> = set
            .dynamic
            .iter()
            .map(|k| (k.kid(), k.created_ms))
            .collect();
        self.policy.plan(&dynamic, now_ms)
    }
}

/// Serves the current JWKS to verifiers; every fetch reloads the keys from the store, so keys
/// another process created are seen on the first unknown kid.
pub(crate) struct EmbeddedKeySource {
    ring: Arc<KeyRing>,
    store: Arc<dyn SessionStore>,
}

impl EmbeddedKeySource {
    /// A source over `ring`, reloading it from `store`.
    pub(crate) fn new(ring: Arc<KeyRing>, store: Arc<dyn SessionStore>) -> Self {
        Self { ring, store }
    }
}

impl fmt::Debug for EmbeddedKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedKeySource")
            .field("keys", &self.ring.current())
            .finish_non_exhaustive()
    }
}

impl KeySource for EmbeddedKeySource {
    fn fetch_keys(&self) -> BoxFuture<'_, Result<JwkSet, KeySourceError>> {
        Box::pin(async move {
            if let Err(error) = self.ring.reload(&*self.store).await {
                // Keep serving the keys this process has: they are still valid.
                tracing::warn!(%error, "cannot reload signing keys");
            }
            let set = self.ring.current();
            if set.jwks().keys.is_empty() {
                return Err(KeySourceError(
                    "the embedded core has no signing keys".into(),
                ));
            }
            Ok(set.jwks().clone())
        })
    }
}

#[derive(Deserialize)]
struct LegacyKey {
    kid: String,
    #[serde(rename = "createdAtMs")]
    created_at_ms: u64,
    /// PKCS#8 DER, standard base64.
    pkcs8: String,
}

#[derive(Deserialize)]
struct LegacyKeyFile {
    keys: Vec<LegacyKey>,
}

/// The keys of the first version's key file in `dir`, if it exists; each is checked to be a
/// valid RSA key.
///
/// # Errors
///
/// `InvalidData` if the file exists but is not a valid key file; I/O errors.
pub(crate) fn read_legacy_key_file(dir: &Path) -> io::Result<Option<Vec<StoredKey>>> {
    let path = dir.join(LEGACY_KEY_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let invalid = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {what}", path.display()),
        )
    };
    let file: LegacyKeyFile =
        serde_json::from_slice(&bytes).map_err(|_| invalid("not a signing-key file"))?;
    file.keys
        .into_iter()
        .map(|key| {
            let pkcs8 = STANDARD
                .decode(&key.pkcs8)
                .map_err(|_| invalid("a key is not valid base64"))?;
            let stored = StoredKey {
                kid: key.kid,
                created_ms: key.created_at_ms,
                pkcs8,
            };
            if !(stored.kid.starts_with("d-") || stored.kid.starts_with("s-")) {
                return Err(invalid("a key id is neither d-… nor s-…"));
            }
            SigningKey::from_stored(&stored).map_err(|_| invalid("a key is not an RSA key"))?;
            Ok(stored)
        })
        .collect::<io::Result<Vec<_>>>()
        .map(Some)
}

/// Renames the imported key file so it is not imported again.
///
/// # Errors
///
/// I/O errors of the rename.
pub(crate) fn mark_legacy_key_file_imported(dir: &Path) -> io::Result<()> {
    fs::rename(dir.join(LEGACY_KEY_FILE), dir.join(IMPORTED_KEY_FILE))
}
