//! Helpers of the security tests (attacks, faults, races, secrets, properties): token forging
//! with the embedded core's own keys or foreign ones, a core wrapper whose key source counts
//! its fetches and fails or returns garbage on demand, and raw HTTP.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value, json};
use sessionward::core::{
    BoxFuture, CoreError, CreatedSession, NewSession, RefreshOutcome, RefreshRequest,
    RegenerateOutcome, SessionCore, SessionInformation, VerifyOutcome, VerifyRequest,
};
use sessionward::{KeySource, KeySourceError, SessionConfig};
use sessionward_tests::{TestServer, client};

/// Seconds since the epoch.
pub(crate) fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// base64url without padding.
pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The decoded JSON of segment `index` of a JWS.
pub(crate) fn segment_json(token: &str, index: usize) -> Map<String, Value> {
    let segment = token.split('.').nth(index).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("JSON")
}

/// `header.payload` of two JSON values.
pub(crate) fn signing_input(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}",
        b64(serde_json::to_vec(header).unwrap()),
        b64(serde_json::to_vec(payload).unwrap())
    )
}

/// An RSA key that signs tokens: the embedded core's own (read from its database) or a
/// foreign one.
pub(crate) struct Signer {
    /// The key id put in headers by default.
    pub(crate) kid: String,
    /// The key pair.
    pub(crate) pair: RsaKeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

impl Signer {
    /// The key `kid` of `keys` (`(kid, pkcs8)` as a store keeps them).
    pub(crate) fn from_keys(keys: &[(String, Vec<u8>)], kid: &str) -> Self {
        let pkcs8 = &keys
            .iter()
            .find(|(k, _)| k == kid)
            .unwrap_or_else(|| panic!("no stored key {kid}"))
            .1;
        Self {
            kid: kid.to_owned(),
            pair: RsaKeyPair::from_pkcs8(pkcs8).expect("stored PKCS#8"),
        }
    }

    /// The key that signed `token`, among `keys`.
    pub(crate) fn of_token(keys: &[(String, Vec<u8>)], token: &str) -> Self {
        let kid = segment_json(token, 0)["kid"]
            .as_str()
            .expect("kid")
            .to_owned();
        Self::from_keys(keys, &kid)
    }

    /// A freshly generated RSA-2048 key that no server knows, presenting itself as `kid`.
    pub(crate) fn foreign(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            pair: RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA keygen"),
        }
    }

    /// The public key as a JWK (`alg` RS256, `use` sig) under `kid`.
    pub(crate) fn jwk(&self, kid: &str) -> jsonwebtoken::jwk::Jwk {
        let public = self.pair.public_key();
        serde_json::from_value(json!({
            "kty": "RSA",
            "kid": kid,
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
            "alg": "RS256",
            "use": "sig",
        }))
        .unwrap()
    }

    /// Signs `input` with `alg` (an RSA PKCS#1 or PSS padding) and returns the base64url signature.
    pub(crate) fn sign_with(
        &self,
        alg: &'static dyn signature::RsaEncoding,
        input: &str,
    ) -> String {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(alg, &SystemRandom::new(), input.as_bytes(), &mut signature)
            .expect("sign");
        b64(signature)
    }

    /// An RS256 JWS of `header` and `payload`.
    pub(crate) fn sign_json(&self, header: &Value, payload: &Value) -> String {
        let input = signing_input(header, payload);
        let signature = self.sign_with(&signature::RSA_PKCS1_SHA256, &input);
        format!("{input}.{signature}")
    }

    /// A v5 access token with the standard header (this signer's kid) over `payload`.
    pub(crate) fn token(&self, payload: &Value) -> String {
        self.sign_json(&self.header(), payload)
    }

    /// `{"alg":"RS256","typ":"JWT","version":"5","kid":<kid>}`.
    pub(crate) fn header(&self) -> Value {
        json!({"alg": "RS256", "typ": "JWT", "version": "5", "kid": self.kid})
    }
}

/// `PRAGMA integrity_check` of `<dir>/sessions.sqlite3`: `"ok"` for a sound file.
pub(crate) fn integrity_check(dir: &Path) -> String {
    let conn = rusqlite::Connection::open(dir.join("sessions.sqlite3")).expect("open database");
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check")
}

/// A valid v5 payload for `user`, expiring at `exp` (seconds), with `extra` fields merged in.
pub(crate) fn payload(user: &str, exp: u64, extra: Value) -> Value {
    let mut payload = json!({
        "sub": user,
        "exp": exp,
        "iat": exp.saturating_sub(3600),
        "sessionHandle": "3f0a7c1e-1111-4222-8333-944455556666",
        "refreshTokenHash1": "a".repeat(64),
        "parentRefreshTokenHash1": null,
        "antiCsrfToken": null,
        "tId": "public",
        "rsub": user,
    });
    if let (Some(map), Value::Object(extra)) = (payload.as_object_mut(), extra) {
        map.extend(extra);
    }
    payload
}

/// What the test key source does on its next fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum SourceMode {
    /// Pass through to the real key source.
    Normal = 0,
    /// Fail, as an unreachable core would.
    Down = 1,
    /// Answer a key set without a single usable key.
    Garbage = 2,
}

/// Shared switches and counters of a [`FaultyCore`]'s key source.
#[derive(Debug, Default)]
pub(crate) struct SourceControl {
    fetches: AtomicUsize,
    mode: AtomicU8,
}

impl SourceControl {
    /// How many times the key source was asked for keys.
    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Switches what the next fetches do.
    pub(crate) fn set(&self, mode: SourceMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }
}

struct FaultySource {
    inner: Arc<dyn KeySource>,
    control: Arc<SourceControl>,
}

/// Keys no verifier can use: an HMAC secret, an EC key, a 512-bit RSA key, a key for
/// encryption and one for another algorithm.
pub(crate) fn garbage_jwks() -> JwkSet {
    serde_json::from_value(json!({"keys": [
        {"kty": "oct", "kid": "d-1", "k": "c2VjcmV0", "alg": "HS256"},
        {"kty": "EC", "kid": "d-2", "crv": "P-256", "alg": "ES256",
         "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
         "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        {"kty": "RSA", "kid": "d-3", "n": "AQAB", "e": "AQAB", "alg": "RS256"},
        {"kty": "RSA", "kid": "d-4", "n": "nHrKW6t26PLf06EAucC6Oj8X4nJX141RPHxnODtno_gcKmQdcd6gwkR--YPSgGdqG3QfVojrmfLRscq6PjLEC2ssbnRTyF95Z7tMFIC_Ici6SXKIkpKiZAg0klvSLoMihqBdOTRI6-7Ut7vJHBvFmqTQGokh3A7EwLEZ1xdSqpw0U5zhfU-ASgZAh6HBw4JE5rLaoYu9WlKTUGHRnSWiEgXK3yzoC6-DX8Vx8Wi_9MmkE8GWam2DbtqHOpoOa1NLQdSQEeErAgn2I8PtjeQYYxHjrGLrlGxCz77BB1Y5yOVQZv-_xfhDRMoV_-mYhgGjQtvrcKlRuDBO1gNIPLCxbQ", "e": "AQAB", "use": "enc"},
        {"kty": "RSA", "kid": "d-5", "n": "nHrKW6t26PLf06EAucC6Oj8X4nJX141RPHxnODtno_gcKmQdcd6gwkR--YPSgGdqG3QfVojrmfLRscq6PjLEC2ssbnRTyF95Z7tMFIC_Ici6SXKIkpKiZAg0klvSLoMihqBdOTRI6-7Ut7vJHBvFmqTQGokh3A7EwLEZ1xdSqpw0U5zhfU-ASgZAh6HBw4JE5rLaoYu9WlKTUGHRnSWiEgXK3yzoC6-DX8Vx8Wi_9MmkE8GWam2DbtqHOpoOa1NLQdSQEeErAgn2I8PtjeQYYxHjrGLrlGxCz77BB1Y5yOVQZv-_xfhDRMoV_-mYhgGjQtvrcKlRuDBO1gNIPLCxbQ", "e": "AQAB", "alg": "RS512"}
    ]}))
    .unwrap()
}

impl KeySource for FaultySource {
    fn fetch_keys(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<JwkSet, KeySourceError>> + Send + '_>> {
        Box::pin(async move {
            self.control.fetches.fetch_add(1, Ordering::SeqCst);
            match self.control.mode.load(Ordering::SeqCst) {
                1 => Err(KeySourceError("test: key source is down".into())),
                2 => Ok(garbage_jwks()),
                _ => self.inner.fetch_keys().await,
            }
        })
    }
}

/// Wraps a core: every call goes to `inner`, but its key source counts fetches and can be
/// switched to failing or to garbage ([`SourceControl`]).
pub(crate) struct FaultyCore {
    inner: Arc<dyn SessionCore>,
    /// The key source's switches and counter.
    pub(crate) control: Arc<SourceControl>,
}

impl std::fmt::Debug for FaultyCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyCore")
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

impl FaultyCore {
    /// A wrapper of `inner` whose key source starts in `mode`.
    pub(crate) fn new(inner: Arc<dyn SessionCore>, mode: SourceMode) -> Arc<Self> {
        let control = Arc::new(SourceControl::default());
        control.set(mode);
        Arc::new(Self { inner, control })
    }
}

impl SessionCore for FaultyCore {
    fn key_source(&self) -> Arc<dyn KeySource> {
        Arc::new(FaultySource {
            inner: self.inner.key_source(),
            control: Arc::clone(&self.control),
        })
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
        self.inner.revoke_sessions(handles)
    }
    fn revoke_all_sessions_for_user(
        &self,
        tenant_id: String,
        user_id: String,
        across_all_tenants: bool,
    ) -> BoxFuture<'_, Result<Vec<String>, CoreError>> {
        self.inner
            .revoke_all_sessions_for_user(tenant_id, user_id, across_all_tenants)
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
}

/// The embedded core in a fresh directory, behind a [`FaultyCore`] whose key source starts in
/// `mode`; `customise` adds settings to the served config.
pub(crate) fn faulty_embedded(
    mode: SourceMode,
    customise: impl FnOnce(sessionward::SessionConfigBuilder) -> sessionward::SessionConfigBuilder,
) -> (tempfile::TempDir, Arc<FaultyCore>, SessionConfig) {
    let (dir, embedded) = sessionward_tests::embedded_config(|b| b);
    let core = FaultyCore::new(Arc::clone(embedded.core()), mode);
    let config = customise(SessionConfig::builder().core(core.clone()))
        .build()
        .expect("config");
    (dir, core, config)
}

/// Sends `GET /health` and asserts 200: the server still serves after an attack.
pub(crate) async fn assert_healthy(server: &TestServer, after: &str) {
    let response = client()
        .get(server.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("server down after {after}: {e}"));
    assert_eq!(response.status(), 200, "health after {after}");
}

/// Writes `request` (raw bytes) to the server and returns the status code of the answer, or
/// `None` if the server closed the connection without one. Reads at most 64 kB, 5 s.
pub(crate) fn raw_request(server: &TestServer, request: &[u8]) -> Option<u16> {
    let addr = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The server may answer and close before it has read everything: a failed write is fine.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while answer.len() < 64 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

/// Standard base64 with line breaks every 64 characters (PEM body).
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
