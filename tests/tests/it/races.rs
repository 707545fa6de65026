//! Races and crashes: signing-key rotation under continuous verification from many
//! threads, 64 concurrent refreshes and promotions of one session, and a SIGKILL during key
//! rotation that must not lose or change a key. The first two run on SQLite and on
//! PostgreSQL, with three app instances sharing the store.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use serde_json::{Value, json};
use sessionward::SessionConfig;
use sessionward::core::NewSession;
use sessionward_examples::demo;
use sessionward_tests::{Store, TestStore, client, concurrent_refreshes, on_both_stores, serve};

use crate::support::{integrity_check, now_ms, segment_json};

/// The demo app with `workers` actix worker threads (the fixture `serve` has one), stopped on
/// drop.
struct Server {
    base: String,
    handle: ServerHandle,
}

impl Server {
    fn start(config: SessionConfig, workers: usize) -> Self {
        let server = HttpServer::new(move || {
            App::new()
                .wrap(sessionward::SessionMiddleware::new(config.clone()))
                .app_data(config.clone())
                .service(config.endpoints())
                .configure(demo::routes)
        })
        .workers(workers)
        // 64 connections at once on a loaded machine: never answer 408 to a queued request.
        .client_request_timeout(Duration::from_secs(60))
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind");
        let base = format!("http://{}", server.addrs()[0]);
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { base, handle }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A token in the pool: the token, its expiry (ms) and its key.
#[derive(Debug, Clone)]
struct Pooled {
    token: String,
    exp_ms: u64,
    kid: String,
}

impl Pooled {
    fn new(token: String) -> Self {
        let exp_ms = segment_json(&token, 1)["exp"].as_u64().unwrap() * 1000;
        let kid = segment_json(&token, 0)["kid"].as_str().unwrap().to_owned();
        Self { token, exp_ms, kid }
    }
}

/// App instances sharing one store.
const INSTANCES: usize = 3;

on_both_stores!(tokio(8): key_rotation_under_continuous_verification_causes_no_spurious_401);
on_both_stores!(tokio(4): sixty_four_concurrent_refreshes_and_promotions_of_one_session);

/// [`INSTANCES`] demo apps on one fresh store, each with its own config (its own core, key
/// cache and maintenance thread), as separate processes would have.
async fn instances(
    store: Store,
    customise: fn(sessionward::SessionConfigBuilder) -> sessionward::SessionConfigBuilder,
) -> (TestStore, Arc<[Server]>) {
    let store = TestStore::new(store).await;
    let servers = (0..INSTANCES)
        .map(|_| Server::start(store.config(customise), 2))
        .collect();
    (store, servers)
}

async fn key_rotation_under_continuous_verification_causes_no_spurious_401(store: Store) {
    // A new key every 2 s (rotation minus overlap), signing 1 s after it is published; a key
    // is deleted 4 s + 1 s after it stopped signing, when every token it signed has expired.
    // Every instance may rotate; whichever does, the others must verify its tokens.
    let (_store, servers) = instances(store, |b| {
        b.signing_key_rotation(Duration::from_secs(3))
            .signing_key_overlap(Duration::from_secs(1))
            .access_token_validity(Duration::from_secs(4))
    })
    .await;
    let pool: Arc<Mutex<Vec<Pooled>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(10);

    // Mints tokens with whatever key signs now: logins, and refreshes whose new tokens are
    // promoted by the core on first use.
    let minter = {
        let (servers, pool) = (Arc::clone(&servers), Arc::clone(&pool));
        tokio::spawn(async move {
            let mut refresh_tokens = Vec::new();
            let mut n = 0u32;
            while Instant::now() < deadline {
                n += 1;
                let server = &servers[n as usize % INSTANCES];
                let response = client()
                    .post(server.url("/login"))
                    .json(&json!({"userId": format!("rotating-{n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "login");
                pool.lock()
                    .unwrap()
                    .push(Pooled::new(header(&response, "st-access-token").unwrap()));
                refresh_tokens.push(header(&response, "st-refresh-token").unwrap());
                if n.is_multiple_of(4) {
                    let old = refresh_tokens.remove(0);
                    let other = &servers[(n as usize + 1) % INSTANCES];
                    let response = client()
                        .post(other.url("/auth/session/refresh"))
                        .bearer_auth(old)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200, "refresh");
                    pool.lock()
                        .unwrap()
                        .push(Pooled::new(header(&response, "st-access-token").unwrap()));
                    refresh_tokens.push(header(&response, "st-refresh-token").unwrap());
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        })
    };

    let mut verifiers = Vec::new();
    for v in 0..8usize {
        let (servers, pool) = (Arc::clone(&servers), Arc::clone(&pool));
        verifiers.push(tokio::spawn(async move {
            let http = client();
            let (mut requests, mut spurious) = (0u32, Vec::new());
            let mut i = v;
            while Instant::now() < deadline {
                let candidate = {
                    let pool = pool.lock().unwrap();
                    if pool.is_empty() {
                        None
                    } else {
                        i = (i + 7) % pool.len();
                        Some(pool[(pool.len() - 1 + i) % pool.len()].clone())
                    }
                };
                let Some(pooled) = candidate else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let sent_at = now_ms();
                if sent_at + 300 >= pooled.exp_ms {
                    continue; // about to expire: a 401 would be right
                }
                let response = http
                    .get(servers[v % INSTANCES].url("/user"))
                    .bearer_auth(&pooled.token)
                    .send()
                    .await
                    .unwrap();
                requests += 1;
                let status = response.status().as_u16();
                // Refused although answered before the token expired: spurious.
                if status != 200 && now_ms() < pooled.exp_ms {
                    let body = response.text().await.unwrap_or_default();
                    spurious.push(format!("{status} {body} kid {} ", pooled.kid));
                }
            }
            (requests, spurious)
        }));
    }
    minter.await.unwrap();
    let mut total = 0;
    let mut failures = Vec::new();
    for verifier in verifiers {
        let (requests, spurious) = verifier.await.unwrap();
        total += requests;
        failures.extend(spurious);
    }
    let kids: BTreeSet<String> = pool.lock().unwrap().iter().map(|p| p.kid.clone()).collect();
    eprintln!(
        "{total} verifications across {} signing keys: {kids:?}",
        kids.len()
    );
    assert!(failures.is_empty(), "spurious refusals: {failures:?}");
    assert!(kids.len() >= 3, "the keys did not rotate: {kids:?}");
    assert!(
        total > 100,
        "too few verifications ({total}) to mean anything"
    );
}

async fn sixty_four_concurrent_refreshes_and_promotions_of_one_session(store: Store) {
    let (_store, servers) = instances(store, |b| b).await;
    let login = client()
        .post(servers[0].url("/login"))
        .json(&json!({"userId": "racer-64"}))
        .send()
        .await
        .unwrap();
    let refresh_token = header(&login, "st-refresh-token").unwrap();

    // Spread over the instances: one chain, and no instance calls another's refresh theft.
    let refresh_urls: Vec<_> = servers
        .iter()
        .map(|server| server.url("/auth/session/refresh"))
        .collect();
    let (chain, accesses) = concurrent_refreshes(&refresh_urls, &refresh_token, 64).await;

    // 64 concurrent first uses of the unpromoted access tokens, each on another instance
    // than the one that refreshed (the i-th came from instance i mod 3): all promoted, none
    // refused.
    let uses: Vec<_> = accesses
        .into_iter()
        .enumerate()
        .map(|(i, access)| {
            let servers = Arc::clone(&servers);
            tokio::spawn(async move {
                let response = client()
                    .get(servers[(i + 1) % INSTANCES].url("/user"))
                    .bearer_auth(access)
                    .send()
                    .await
                    .unwrap();
                (
                    response.status().as_u16(),
                    response.text().await.unwrap_or_default(),
                )
            })
        })
        .collect();
    for task in uses {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200, "concurrent promotion: {body}");
    }
    // The surviving chain goes on on any instance; the original token is now a replay on
    // every one.
    let next = client()
        .post(servers[1].url("/auth/session/refresh"))
        .bearer_auth(&chain)
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
    let used = client()
        .get(servers[2].url("/user"))
        .bearer_auth(header(&next, "st-access-token").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    let replay = client()
        .post(servers[0].url("/auth/session/refresh"))
        .bearer_auth(&refresh_token)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["message"],
        "token theft detected"
    );
}

const CHILD_DIR: &str = "SESSIONWARD_TEST_SIGKILL_CHILD_DIR";

/// The child process of [`sigkill_during_key_rotation_keeps_every_key`]: creates sessions on
/// a fast-rotating embedded core at `$SESSIONWARD_TEST_SIGKILL_CHILD_DIR`, printing each
/// access token, until killed (30 s at most). Does nothing without the variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of sigkill_during_key_rotation_keeps_every_key"]
async fn sigkill_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let config = SessionConfig::builder()
        .data_dir(dir)
        .signing_key_rotation(Duration::from_secs(2))
        .signing_key_overlap(Duration::from_millis(500))
        .build()
        .expect("config");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 0u32;
    while Instant::now() < deadline {
        n += 1;
        let created = config
            .core()
            .create_session(NewSession {
                tenant_id: "public".into(),
                recipe_user_id: format!("killed-{n}"),
                access_token_payload: serde_json::Map::new(),
                session_data: json!({}),
                enable_anti_csrf: false,
                use_dynamic_signing_key: true,
                access_token_version: sessionward::core::AccessTokenVersion::default(),
            })
            .await
            .expect("create");
        println!("TOKEN {}", created.access_token.token);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn sigkill_during_key_rotation_keeps_every_key() {
    let dir = tempfile::tempdir().unwrap();
    // argv[0] rather than current_exe(): a rebuild of this binary during the run replaces the
    // file, and /proc/self/exe then names a deleted one.
    let exe = std::env::args_os().next().map_or_else(
        || std::env::current_exe().unwrap(),
        std::path::PathBuf::from,
    );
    let mut child = Command::new(exe)
        .args([
            "races::sigkill_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(token) = line.strip_prefix("TOKEN ")
                && tx.send(token.to_owned()).is_err()
            {
                break;
            }
        }
    });
    // Read tokens until two keys have signed (at least 2 s, at most 25 s on a loaded
    // machine), then kill mid-loop.
    let mut tokens = Vec::new();
    let mut kids = BTreeSet::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(25)
        && (kids.len() < 2 || tokens.len() < 20 || started.elapsed() < Duration::from_secs(2))
    {
        if let Ok(token) = rx.recv_timeout(Duration::from_millis(50)) {
            kids.insert(segment_json(&token, 0)["kid"].as_str().unwrap().to_owned());
            tokens.push(token);
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    drop(rx);
    reader.join().unwrap();
    assert!(
        tokens.len() > 10,
        "the child issued only {} tokens",
        tokens.len()
    );

    // What the dead process left: every key it signed with, intact.
    let at_kill: BTreeMap<String, Vec<u8>> = sessionward_tests::sqlite_signing_keys(dir.path())
        .into_iter()
        .collect();
    let used: BTreeSet<String> = tokens
        .iter()
        .map(|t| segment_json(t, 0)["kid"].as_str().unwrap().to_owned())
        .collect();
    eprintln!(
        "{} tokens signed by {used:?}; stored at kill: {:?}",
        tokens.len(),
        at_kill.keys()
    );
    assert!(
        used.len() >= 2,
        "no rotation happened before the kill: {used:?}"
    );
    for kid in &used {
        assert!(
            at_kill.contains_key(kid),
            "key {kid} signed tokens but was not stored"
        );
    }
    assert_eq!(integrity_check(dir.path()), "ok");

    // Restart on the same directory: the same keys (nothing regenerated or lost), and every
    // token issued before the kill verifies.
    let config = SessionConfig::builder()
        .data_dir(dir.path())
        .build()
        .expect("restart");
    let after: BTreeMap<String, Vec<u8>> = sessionward_tests::sqlite_signing_keys(dir.path())
        .into_iter()
        .collect();
    for (kid, pkcs8) in &at_kill {
        assert_eq!(
            after.get(kid),
            Some(pkcs8),
            "key {kid} changed or vanished on restart"
        );
    }
    let server = serve(Some(config), demo::routes);
    for (n, token) in tokens.iter().enumerate() {
        let response = client()
            .get(server.url("/user"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "token {n} no longer verifies");
    }
}
