//! The verify path, measured in ONE criterion group on ONE token so that the ratios between
//! entries hold on a noisy machine (targets and figures in `BENCHMARKS.md`):
//!
//! * `jwt_decode`: raw `jsonwebtoken::decode` RS256 (leeway 0, `exp` validated), the baseline;
//! * `verify_miss` / `verify_hit` / `verify_nocache`: what `#[verify_session]` runs for a
//!   bearer request: a miss in a full cache (capacity 1, two tokens of the same session shape
//!   in turn, so each call checks the signature, inserts and evicts), a hit, the cache off;
//! * `claims_two`: two claim validators (`Roles::includes`, `EmailVerified`);
//! * `read_header` / `read_cookie`: finding and parsing the token in an actix `TestRequest`;
//! * `front_token`: building the front-token header value;
//! * `rs256_sign`: one RSA-2048 PKCS#1 signature (the signing limit of create and refresh);
//! * `sign_x64`: 64 concurrent RS256 signatures on a 2-worker runtime (the signing limit as
//!   the machine gives it during the run);
//! * `create_x64` / `refresh_x64`: 64 concurrent creates / first refreshes on the embedded core
//!   (SQLite, `synchronous=FULL`), on the same runtime; throughput per element;
//! * `create_x64_postgres` / `refresh_x64_postgres`: the same on PostgreSQL, when built with
//!   the `postgres` feature and given `SG_BENCH_DATABASE_URL`.
//!
//! The clock is the bench thread's CPU time, so other processes on a shared machine do not
//! inflate the figures (`SG_BENCH_CLOCK=wall` for wall time); `create_x64` / `refresh_x64` are
//! always wall time (they run on several threads).
//!
//! `cargo bench -p sessionward --bench verify` (about 2 minutes); `bash bench/criterion.sh`
//! adds the ratios.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::test::TestRequest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
use sessionward::__bench;
use sessionward::claims::{EmailVerified, Roles, SessionClaim};
use sessionward::core::{NewSession, RefreshOutcome, RefreshRequest};
use sessionward::{SessionConfig, SessionContainer, VerifyOptions};

/// Concurrent operations per create / refresh iteration.
const BATCH: usize = 64;

/// Thread CPU time (default) or wall time (`SG_BENCH_CLOCK=wall`).
struct BenchClock {
    wall: bool,
    origin: Instant,
    formatter: WallTime,
}

impl BenchClock {
    fn from_env() -> Self {
        Self {
            wall: std::env::var("SG_BENCH_CLOCK").is_ok_and(|v| v == "wall"),
            origin: Instant::now(),
            formatter: WallTime,
        }
    }

    fn now(&self) -> Duration {
        if self.wall {
            self.origin.elapsed()
        } else {
            let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
            Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
        }
    }
}

impl Measurement for BenchClock {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        self.now()
    }

    fn end(&self, start: Duration) -> Duration {
        self.now().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        self.formatter.formatter()
    }
}

/// Polls a future that completes without waiting (verification once the keys are cached).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::yield_now();
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    /// Cache on (10 000 tokens).
    config: SessionConfig,
    /// Same data directory, cache off.
    nocache: SessionConfig,
    /// Same data directory, room for one token.
    tiny: SessionConfig,
    token: String,
    /// A second token of the same shape (same user, same payload).
    token2: String,
    jwt_key: DecodingKey,
    jwk: Jwk,
    runtime: tokio::runtime::Runtime,
}

fn payload() -> Map<String, Value> {
    let now = session_now();
    let mut payload = Map::new();
    payload.insert("iss".into(), json!("http://localhost:3001/auth"));
    payload.insert(
        Roles.key().to_owned(),
        Roles.to_payload_value(&vec!["user".to_owned()], now),
    );
    payload.insert(
        EmailVerified.key().to_owned(),
        EmailVerified.to_payload_value(&true, now),
    );
    payload
}

fn session_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn new_session(user: &str) -> NewSession {
    NewSession {
        tenant_id: "public".into(),
        recipe_user_id: user.into(),
        access_token_payload: payload(),
        session_data: json!({}),
        enable_anti_csrf: false,
        use_dynamic_signing_key: true,
        access_token_version: sessionward::core::AccessTokenVersion::default(),
    }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SessionConfig::builder()
        .data_dir(dir.path())
        .verified_token_cache(10_000)
        .build()
        .expect("config");
    let nocache = SessionConfig::builder()
        .data_dir(dir.path())
        .disable_verified_token_cache()
        .build()
        .expect("config without cache");
    let tiny = SessionConfig::builder()
        .data_dir(dir.path())
        .verified_token_cache(1)
        .build()
        .expect("config with room for one token");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (token, token2, jwks) = runtime.block_on(async {
        let created = config
            .core()
            .create_session(new_session("bench"))
            .await
            .expect("create");
        let second = config
            .core()
            .create_session(new_session("bench"))
            .await
            .expect("create");
        let jwks = config.core().key_source().fetch_keys().await.expect("keys");
        (created.access_token.token, second.access_token.token, jwks)
    });
    let header = jsonwebtoken::decode_header(&token).expect("header");
    let jwk = jwks
        .find(header.kid.as_deref().expect("kid"))
        .expect("signing key in the JWKS");
    let jwt_key = DecodingKey::from_jwk(jwk).expect("decoding key");
    let jwk = jwk.clone();
    Fixture {
        _dir: dir,
        config,
        nocache,
        tiny,
        token,
        token2,
        jwt_key,
        jwk,
        runtime,
    }
}

/// The PKCS#1 `RSAPublicKey` DER of an RSA JWK.
fn rsa_public_key_der(jwk: &Jwk) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut value = bytes.to_vec();
        if value.first().is_some_and(|b| b & 0x80 != 0) {
            value.insert(0, 0);
        }
        tlv(0x02, &value)
    }
    fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = value.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(value);
        out
    }
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        panic!("not an RSA key");
    };
    let n = URL_SAFE_NO_PAD.decode(&rsa.n).expect("n");
    let e = URL_SAFE_NO_PAD.decode(&rsa.e).expect("e");
    tlv(0x30, &[integer(&n), integer(&e)].concat())
}

fn bearer(config: &SessionConfig, token: &str) -> HttpRequest {
    TestRequest::get()
        .uri("/user")
        .insert_header(("authorization", format!("Bearer {token}")))
        .app_data(config.clone())
        .to_http_request()
}

fn verify(req: &HttpRequest, config: &SessionConfig, options: &VerifyOptions) -> SessionContainer {
    ready(__bench::verify_request(req, config, options))
        .expect("verified")
        .expect("session")
}

fn bench_verify(c: &mut Criterion<BenchClock>) {
    let f = fixture();
    let options = VerifyOptions::new(true);
    let req = bearer(&f.config, &f.token);
    let req_nocache = bearer(&f.nocache, &f.token);
    // Warm the key caches (first verification fetches the JWKS).
    verify(&req, &f.config, &options);
    verify(&req_nocache, &f.nocache, &options);

    let mut group = c.benchmark_group("verify");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.validate_exp = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    group.bench_function("jwt_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Map<String, Value>>(black_box(&f.token), &f.jwt_key, &validation)
                .expect("decoded")
        })
    });
    let misses = [bearer(&f.tiny, &f.token), bearer(&f.tiny, &f.token2)];
    verify(&misses[0], &f.tiny, &options);
    verify(&misses[1], &f.tiny, &options);
    assert!(
        !__bench::is_cached(&f.tiny, &f.token),
        "the second token evicts the first"
    );
    let mut turn = 0usize;
    group.bench_function("verify_miss", |b| {
        b.iter(|| {
            turn += 1;
            verify(black_box(&misses[turn % 2]), &f.tiny, &options)
        })
    });
    verify(&req, &f.config, &options);
    assert_eq!(__bench::verified_tokens_len(&f.config), 1);
    group.bench_function("verify_hit", |b| {
        b.iter(|| verify(black_box(&req), &f.config, &options))
    });
    group.bench_function("verify_nocache", |b| {
        b.iter(|| verify(black_box(&req_nocache), &f.nocache, &options))
    });

    let session = verify(&req, &f.config, &options);
    let validators = [Roles::includes("user"), EmailVerified::is_verified()];
    group.bench_function("claims_two", |b| {
        b.iter(|| ready(session.assert_claims(validators.iter().cloned())).expect("claims hold"))
    });

    let cookie = TestRequest::get()
        .uri("/user")
        .insert_header(("cookie", format!("sAccessToken={}; other=1", f.token)))
        .to_http_request();
    group.bench_function("read_header", |b| {
        b.iter(|| __bench::read_token(black_box(&req), &f.config).expect("token"))
    });
    group.bench_function("read_cookie", |b| {
        b.iter(|| __bench::read_token(black_box(&cookie), &f.config).expect("token"))
    });
    group.bench_function("front_token", |b| {
        b.iter(|| __bench::front_token(black_box(&session)))
    });

    // The RSA check alone: as jsonwebtoken does it (the key rebuilt from n and e on every
    // call), and with a key parsed once (aws-lc `ParsedPublicKey`).
    let (input, signature_b64) = f.token.rsplit_once('.').expect("three segments");
    group.bench_function("rsa_verify_jwk", |b| {
        b.iter(|| {
            jsonwebtoken::crypto::verify(
                black_box(signature_b64),
                input.as_bytes(),
                &f.jwt_key,
                Algorithm::RS256,
            )
            .expect("verified")
        })
    });
    let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_public_key_der(&f.jwk))
        .expect("parsed key");
    let raw_signature = URL_SAFE_NO_PAD.decode(signature_b64).expect("base64url");
    group.bench_function("rsa_verify_parsed", |b| {
        b.iter(|| {
            parsed
                .verify_sig(input.as_bytes(), black_box(&raw_signature))
                .expect("verified")
        })
    });

    let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key");
    let rng = SystemRandom::new();
    let message = f.token.rsplit_once('.').map_or("", |(input, _)| input);
    let mut signature = vec![0; pair.public_modulus_len()];
    group.bench_function("rs256_sign", |b| {
        b.iter(|| {
            pair.sign(&RSA_PKCS1_SHA256, &rng, message.as_bytes(), &mut signature)
                .expect("signed")
        })
    });

    // Create and refresh: durable SQLite commits, 64 at a time, on 2 worker threads.
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Elements(BATCH as u64));
    let core = Arc::clone(f.config.core());
    // The signing limit as this machine gives it right now: 64 RS256 signatures on the same
    // 2-worker runtime as the creates and refreshes.
    let pair = Arc::new(pair);
    let message: Arc<[u8]> = Arc::from(message.as_bytes());
    group.bench_function("sign_x64", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                f.runtime.block_on(async {
                    let tasks: Vec<_> = (0..BATCH)
                        .map(|_| {
                            let (pair, message) = (Arc::clone(&pair), Arc::clone(&message));
                            tokio::spawn(async move {
                                let mut signature = vec![0; pair.public_modulus_len()];
                                pair.sign(
                                    &RSA_PKCS1_SHA256,
                                    &SystemRandom::new(),
                                    &message,
                                    &mut signature,
                                )
                                .map(|()| signature)
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.expect("task").expect("signed");
                    }
                })
            }
            start.elapsed()
        })
    });
    bench_writes(&mut group, "", &f.runtime, &core);
    // The same on PostgreSQL (synchronous_commit as the server has it) when a database is
    // given: `SG_BENCH_DATABASE_URL` (bench/criterion.sh starts a durable cluster).
    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("SG_BENCH_DATABASE_URL") {
        let on_postgres = SessionConfig::builder()
            .postgres(url)
            .build()
            .expect("config on PostgreSQL");
        bench_writes(&mut group, "_postgres", &f.runtime, on_postgres.core());
    }
    group.finish();
}

/// `create_x64{suffix}` and `refresh_x64{suffix}`: 64 concurrent creates, and 64 concurrent
/// first refreshes of fresh sessions, on `core`, run on `runtime`.
fn bench_writes(
    group: &mut criterion::BenchmarkGroup<'_, BenchClock>,
    suffix: &str,
    runtime: &tokio::runtime::Runtime,
    core: &Arc<dyn sessionward::core::SessionCore>,
) {
    group.bench_function(format!("create_x64{suffix}"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                runtime.block_on(async {
                    let tasks: Vec<_> = (0..BATCH)
                        .map(|i| {
                            let core = Arc::clone(core);
                            tokio::spawn(async move {
                                core.create_session(new_session(&format!("u{i}"))).await
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.expect("task").expect("created");
                    }
                })
            }
            start.elapsed()
        })
    });
    group.bench_function(format!("refresh_x64{suffix}"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let refresh_tokens: Vec<String> = runtime.block_on(async {
                    let tasks: Vec<_> = (0..BATCH)
                        .map(|i| {
                            let core = Arc::clone(core);
                            tokio::spawn(async move {
                                core.create_session(new_session(&format!("r{i}"))).await
                            })
                        })
                        .collect();
                    let mut tokens = Vec::with_capacity(BATCH);
                    for task in tasks {
                        tokens.push(
                            task.await
                                .expect("task")
                                .expect("created")
                                .refresh_token
                                .token,
                        );
                    }
                    tokens
                });
                let start = Instant::now();
                runtime.block_on(async {
                    let tasks: Vec<_> = refresh_tokens
                        .into_iter()
                        .map(|refresh_token| {
                            let core = Arc::clone(core);
                            tokio::spawn(async move {
                                core.refresh_session(RefreshRequest {
                                    refresh_token,
                                    anti_csrf_token: None,
                                    enable_anti_csrf: false,
                                    use_dynamic_signing_key: Some(true),
                                    access_token_version:
                                        sessionward::core::AccessTokenVersion::default(),
                                })
                                .await
                            })
                        })
                        .collect();
                    for task in tasks {
                        let outcome = task.await.expect("task").expect("refreshed");
                        assert!(matches!(outcome, RefreshOutcome::Ok(_)));
                    }
                });
                total += start.elapsed();
            }
            total
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(BenchClock::from_env());
    targets = bench_verify
}
criterion_main!(benches);
