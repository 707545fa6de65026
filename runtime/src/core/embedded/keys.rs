//! The embedded core's RSA-2048 signing keys: generated on first start, persisted under the
//! data directory (`0600`, written atomically), published as a JWKS.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};

use crate::core::BoxFuture;
use crate::jwks::{KeySource, KeySourceError};

const KEY_FILE: &str = "signing-keys.json";

/// One signing key: its id and parsed key pair.
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pair: RsaKeyPair,
}

impl SigningKey {
    /// Signs `message` (RS256) and returns the base64url signature.
    pub(crate) fn sign(&self, message: &[u8]) -> io::Result<String> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| io::Error::other("RSA signing failed"))?;
        Ok(URL_SAFE_NO_PAD.encode(signature))
    }

    fn jwk(&self) -> serde_json::Value {
        let public = self.pair.public_key();
        serde_json::json!({
            "kty": "RSA",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            "alg": "RS256",
            "use": "sig",
        })
    }
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    #[serde(rename = "createdAtMs")]
    created_at_ms: u64,
    /// PKCS#8 DER, standard base64.
    pkcs8: String,
}

#[derive(Serialize, Deserialize, Default)]
struct KeyFile {
    keys: Vec<StoredKey>,
}

/// The key set: the dynamic key used for signing now, and the static one.
pub(crate) struct SigningKeys {
    pub(crate) dynamic: Arc<SigningKey>,
    pub(crate) static_key: Arc<SigningKey>,
    jwks: JwkSet,
}

impl SigningKeys {
    /// Loads the keys from `dir`, generating and persisting any that are missing.
    pub(crate) fn open(dir: &Path, now_ms: u64) -> io::Result<Self> {
        let path = dir.join(KEY_FILE);
        let mut file: KeyFile = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not a key file: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => KeyFile::default(),
            Err(e) => return Err(e),
        };
        let mut changed = false;
        if !file.keys.iter().any(|k| k.kid.starts_with("d-")) {
            file.keys.push(generate(format!("d-{now_ms}"), now_ms)?);
            changed = true;
        }
        if !file.keys.iter().any(|k| k.kid.starts_with("s-")) {
            file.keys
                .push(generate(format!("s-{}", uuid::Uuid::new_v4()), now_ms)?);
            changed = true;
        }
        if changed {
            write_atomically(&path, &serde_json::to_vec_pretty(&file)?)?;
        }
        let mut dynamic: Option<(u64, Arc<SigningKey>)> = None;
        let mut static_key = None;
        let mut keys = Vec::new();
        for stored in &file.keys {
            let der = STANDARD.decode(&stored.pkcs8).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "key file holds invalid base64")
            })?;
            let pair = RsaKeyPair::from_pkcs8(&der).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "key file holds an invalid RSA key",
                )
            })?;
            let key = Arc::new(SigningKey {
                kid: stored.kid.clone(),
                pair,
            });
            keys.push(key.jwk());
            if key.kid.starts_with("s-") {
                static_key = Some(key);
            } else if dynamic
                .as_ref()
                .is_none_or(|(t, _)| stored.created_at_ms > *t)
            {
                dynamic = Some((stored.created_at_ms, key));
            }
        }
        let (Some((_, dynamic)), Some(static_key)) = (dynamic, static_key) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "key file incomplete",
            ));
        };
        let jwks: JwkSet = serde_json::from_value(serde_json::json!({ "keys": keys }))?;
        Ok(Self {
            dynamic,
            static_key,
            jwks,
        })
    }

    /// The public keys.
    pub(crate) fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

fn generate(kid: String, now_ms: u64) -> io::Result<StoredKey> {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| io::Error::other("RSA key generation failed"))?;
    let der = pair
        .as_der()
        .map_err(|_| io::Error::other("RSA key export failed"))?;
    Ok(StoredKey {
        kid,
        created_at_ms: now_ms,
        pkcs8: STANDARD.encode(der.as_ref()),
    })
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file, never a
/// torn one, readable by the owner only.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Serves the embedded keys to the verifier's cache without I/O.
pub(crate) struct EmbeddedKeySource(pub(crate) JwkSet);

impl KeySource for EmbeddedKeySource {
    fn fetch_keys(&self) -> BoxFuture<'_, Result<JwkSet, KeySourceError>> {
        let keys = self.0.clone();
        Box::pin(async move { Ok(keys) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_reopen_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = SigningKeys::open(dir.path(), 1_700_000_000_000).unwrap();
        let again = SigningKeys::open(dir.path(), 1_800_000_000_000).unwrap();
        assert_eq!(first.dynamic.kid, "d-1700000000000");
        assert_eq!(again.dynamic.kid, first.dynamic.kid);
        assert_eq!(again.static_key.kid, first.static_key.kid);
        assert_eq!(again.jwks().keys.len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn corrupt_key_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), b"{not json").unwrap();
        let err = SigningKeys::open(dir.path(), 1).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
