//! The legacy access-token signing key (docs/protocol.md §10.2): it signs the v2 access tokens
//! minted for callers of CDI versions before 2.21, and nothing else.
//!
//! * It lives in a table of its own, apart from the JWKS keys: it is never published in the
//!   JWKS, never signs a v3+ token, and a v2 token verifies with it and with no other key, so
//!   neither kind of token can pass for the other.
//! * One key per store, created on first use with a compare-and-set on the newest legacy kid
//!   (the pattern of the dynamic keys' rotation), so instances sharing the store agree on it.
//! * It is not rotated: old SDKs learn its expiry from `jwtSigningPublicKeyExpiryTime` and
//!   the key list, so a long-lived key costs them nothing (see [`LEGACY_KEY_VALIDITY_MS`]).

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::keys::{SigningKey, new_pkcs8};
use super::store::{SessionStore, StoredKey};
use crate::core::{CoreError, LegacyPublicKey};
use crate::keys::Rs256Key;

/// How long the legacy key is announced as valid after its creation: ten years, the validity
/// the SuperTokens core announces for a static key. Old SDKs drop a key past its expiry and
/// ask the core again, so the figure only has to outlast the deployment.
pub(crate) const LEGACY_KEY_VALIDITY_MS: u64 = 10 * 365 * 24 * 60 * 60 * 1000;

/// The kid prefix of legacy keys (the kid is never sent: v2 tokens have no `kid`).
const LEGACY_KID_PREFIX: &str = "l-";

/// A parsed legacy key: signs v2 tokens, verifies them, describes itself to old SDKs.
pub(crate) struct LegacySigningKey {
    key: SigningKey,
    verifier: Arc<Rs256Key>,
    public: LegacyPublicKey,
}

impl fmt::Debug for LegacySigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacySigningKey")
            .field("kid", &self.key.kid())
            .field("created_ms", &self.public.created_ms)
            .finish_non_exhaustive()
    }
}

impl LegacySigningKey {
    /// Parses a stored legacy key.
    ///
    /// # Errors
    ///
    /// [`CoreError::Internal`] if the stored bytes are not an RSA key pair.
    pub(crate) fn from_stored(stored: &StoredKey) -> Result<Self, CoreError> {
        let key = SigningKey::from_stored(stored)?;
        let verifier = Arc::new(key.verification_key()?);
        let created_ms = key.created_ms();
        let public = LegacyPublicKey {
            public_key: STANDARD.encode(key.public_key_der()?),
            created_ms,
            expiry_ms: created_ms.saturating_add(LEGACY_KEY_VALIDITY_MS),
        };
        Ok(Self {
            key,
            verifier,
            public,
        })
    }

    /// Signs `message` (RS256); the signature in standard base64 with padding, as v2 tokens
    /// carry it.
    ///
    /// # Errors
    ///
    /// [`CoreError::Internal`] if signing fails.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<String, CoreError> {
        Ok(STANDARD.encode(self.key.sign_raw(message)?))
    }

    /// The only key v2 tokens of this core verify with.
    pub(crate) fn verifier(&self) -> &Arc<Rs256Key> {
        &self.verifier
    }

    /// The key as the CDI describes it.
    pub(crate) fn public(&self) -> &LegacyPublicKey {
        &self.public
    }
}

/// A new legacy key: `l-<uuid>`.
///
/// # Errors
///
/// [`CoreError::Internal`] if key generation fails.
fn generate_legacy_key(now_ms: u64) -> Result<StoredKey, CoreError> {
    Ok(StoredKey {
        kid: format!("{LEGACY_KID_PREFIX}{}", uuid::Uuid::new_v4()),
        created_ms: now_ms,
        pkcs8: new_pkcs8()?,
    })
}

/// This process's copy of the store's legacy key, loaded (or created) on first use.
#[derive(Debug, Default)]
pub(crate) struct LegacyKeys {
    current: RwLock<Option<Arc<LegacySigningKey>>>,
}

impl LegacyKeys {
    /// The key, loaded from `store` on first use; `None` while no instance created one (then
    /// no v2 token of this store exists).
    ///
    /// # Errors
    ///
    /// The store's error, or an invalid stored key.
    pub(crate) async fn existing(
        &self,
        store: &dyn SessionStore,
    ) -> Result<Option<Arc<LegacySigningKey>>, CoreError> {
        if let Some(key) = self.cached() {
            return Ok(Some(key));
        }
        let stored = store.legacy_signing_keys().await?;
        let Some(newest) = stored.last() else {
            return Ok(None);
        };
        let key = Arc::new(LegacySigningKey::from_stored(newest)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&key));
        Ok(Some(key))
    }

    /// The key, created in `store` at `now_ms` if no instance did yet.
    ///
    /// # Errors
    ///
    /// The store's error, key generation, or an invalid stored key.
    pub(crate) async fn signer(
        &self,
        store: &dyn SessionStore,
        now_ms: u64,
    ) -> Result<Arc<LegacySigningKey>, CoreError> {
        if let Some(key) = self.existing(store).await? {
            return Ok(key);
        }
        let key = generate_legacy_key(now_ms)?;
        let kid = key.kid.clone();
        // Another instance may have stored one meanwhile: then that one is used.
        if store.add_legacy_signing_key(key, None).await? {
            tracing::info!(kid, "created the legacy access-token signing key");
        }
        self.existing(store)
            .await?
            .ok_or_else(|| CoreError::Internal("the legacy signing key was not stored".into()))
    }

    fn cached(&self) -> Option<Arc<LegacySigningKey>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
