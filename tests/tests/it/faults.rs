//! Faults of what sessions depend on: the key source down at start and mid-run, a key
//! source answering garbage, and the embedded core's SQLite file read-only or on a full disk.
//! Our outage answers 503 with `Retry-After` and a JSON body and never signs anyone out
//! (no 401, no cleared tokens); verification of known keys goes on; recovery needs no restart;
//! the database is never corrupted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use sessionward_examples::demo;
use sessionward_tests::{TestServer, client, embedded_config, login, serve};

use crate::support::{
    Signer, SourceMode, assert_healthy, faulty_embedded, integrity_check, now_s, payload,
};

/// Asserts the 503 of an outage: `Retry-After`, the JSON body, and no token clearing.
async fn expect_503(response: reqwest::Response, label: &str) {
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let front_token = response.headers().get("front-token").cloned();
    let cookies = response.headers().get_all("set-cookie").iter().count();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 503, "{label}: {body}");
    assert!(retry_after.is_some(), "{label}: no Retry-After");
    assert_eq!(
        body,
        json!({"message": "session service unavailable"}),
        "{label}"
    );
    assert!(
        front_token.is_none() && cookies == 0,
        "{label}: an outage must not clear the session"
    );
}

async fn get_user(server: &TestServer, token: &str) -> reqwest::Response {
    client()
        .get(server.url("/user"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn post_login(server: &TestServer, user: &str) -> reqwest::Response {
    client()
        .post(server.url("/login"))
        .json(&json!({ "userId": user }))
        .send()
        .await
        .unwrap()
}

async fn refresh(server: &TestServer, refresh_token: &str) -> reqwest::Response {
    client()
        .post(server.url("/auth/session/refresh"))
        .bearer_auth(refresh_token)
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

/// More than the key cache's 500 ms cooldown between two fetches.
const PAST_COOLDOWN: Duration = Duration::from_millis(700);

#[actix_web::test]
async fn key_source_down_at_start_is_503_until_it_recovers() {
    let (_dir, core, config) = faulty_embedded(SourceMode::Down, |b| b);
    let server = serve(Some(config), demo::routes);
    // Creating sessions needs the core, not the key source.
    let session = login(&server, "early-bird", "header").await;
    let cookie_session = login(&server, "early-cookie", "cookie").await;
    for _ in 0..3 {
        expect_503(
            get_user(&server, &session.access_token).await,
            "bearer, keys down",
        )
        .await;
        let response = client()
            .get(server.url("/user"))
            .header(
                "cookie",
                format!("sAccessToken={}", cookie_session.access_token),
            )
            .send()
            .await
            .unwrap();
        expect_503(response, "cookie, keys down").await;
    }
    // Failing fetches are rate-limited by the cooldown, not one per request.
    assert!(
        core.control.fetches() <= 2,
        "{} fetches",
        core.control.fetches()
    );
    assert_healthy(&server, "keys down").await;

    core.control.set(SourceMode::Normal);
    tokio::time::sleep(PAST_COOLDOWN).await;
    assert_eq!(get_user(&server, &session.access_token).await.status(), 200);
}

#[actix_web::test]
async fn cached_keys_keep_verification_alive_when_the_source_goes_down() {
    // A short max age, so that the cache also tries (and fails) to refresh stale keys.
    let (dir, core, config) = faulty_embedded(SourceMode::Normal, |b| {
        b.jwks_refresh_interval(Duration::from_millis(300))
    });
    let server = serve(Some(config), demo::routes);
    let session = login(&server, "steady", "header").await;
    assert_eq!(get_user(&server, &session.access_token).await.status(), 200);

    core.control.set(SourceMode::Down);
    for round in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let response = get_user(&server, &session.access_token).await;
        assert_eq!(response.status(), 200, "round {round}: cached key not used");
    }
    // A rotated token (refresh → promotion through the core) still works: the kid is cached.
    let rotated = refresh(&server, &session.refresh_token).await;
    assert_eq!(rotated.status(), 200);
    let promoted = get_user(&server, &header(&rotated, "st-access-token")).await;
    assert_eq!(promoted.status(), 200);

    // An unknown kid while the source is down cannot be judged: 503, never 401.
    let foreign = Signer::foreign("d-4242");
    let unknown = foreign.token(&payload("steady", now_s() + 600, json!({})));
    tokio::time::sleep(PAST_COOLDOWN).await;
    expect_503(get_user(&server, &unknown).await, "unknown kid, keys down").await;
    expect_503(
        get_user(&server, &unknown).await,
        "unknown kid again, keys down",
    )
    .await;
    assert_healthy(&server, "keys down").await;

    // Recovery without restart: the unknown kid is now simply unknown.
    core.control.set(SourceMode::Normal);
    tokio::time::sleep(PAST_COOLDOWN).await;
    let response = get_user(&server, &unknown).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["message"],
        "try refresh token"
    );
    assert_eq!(get_user(&server, &session.access_token).await.status(), 200);
    drop(dir);
}

#[actix_web::test]
async fn a_garbage_jwks_keeps_the_old_keys() {
    let (_dir, core, config) = faulty_embedded(SourceMode::Normal, |b| {
        b.jwks_refresh_interval(Duration::from_millis(200))
    });
    let server = serve(Some(config.clone()), demo::routes);
    let session = login(&server, "garbage", "header").await;
    assert_eq!(get_user(&server, &session.access_token).await.status(), 200);

    core.control.set(SourceMode::Garbage);
    let before = core.control.fetches();
    for round in 0..4 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let response = get_user(&server, &session.access_token).await;
        assert_eq!(response.status(), 200, "round {round}: old keys dropped");
    }
    assert!(
        core.control.fetches() > before,
        "the garbage set was fetched"
    );
    // The garbage set's own kids (an HMAC secret, an EC key, a tiny RSA key…) verify nothing.
    for kid in ["d-1", "d-2", "d-3", "d-4", "d-5"] {
        let forged = Signer::foreign(kid).token(&payload("garbage", now_s() + 600, json!({})));
        tokio::time::sleep(PAST_COOLDOWN).await;
        let status = get_user(&server, &forged).await.status().as_u16();
        assert!(status == 401 || status == 503, "kid {kid}: {status}");
    }
    core.control.set(SourceMode::Normal);
    tokio::time::sleep(PAST_COOLDOWN).await;
    assert_eq!(get_user(&server, &session.access_token).await.status(), 200);
}

/// Runs `program args`; `false` (with a note) when it cannot, e.g. without the privilege.
fn run(program: &str, args: &[&str]) -> bool {
    match Command::new(program).args(args).output() {
        Ok(output) if output.status.success() => true,
        Ok(output) => {
            eprintln!(
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            false
        }
        Err(error) => {
            eprintln!("{program}: {error}");
            false
        }
    }
}

/// Marks the database files immutable (`chattr +i`): even root's writes through descriptors
/// already open fail with EPERM (plain `chmod` stops neither root nor open descriptors). Undone
/// on drop.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(dir: &Path) -> Option<Self> {
        let files: Vec<PathBuf> = ["sessions.sqlite3", "sessions.sqlite3-wal"]
            .iter()
            .map(|name| dir.join(name))
            .filter(|path| path.exists())
            .collect();
        let mut guard = Self(Vec::new());
        for file in files {
            if !run("chattr", &["+i", file.to_str()?]) {
                return None;
            }
            guard.0.push(file);
        }
        Some(guard)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for file in &self.0 {
            run("chattr", &["-i", file.to_str().unwrap_or_default()]);
        }
    }
}

/// Login, refresh and promotion while the database cannot be written: 503; existing sessions
/// verify; all recover once it can be written again; the file stays sound.
async fn store_outage(
    server: &TestServer,
    dir: &Path,
    outage: impl FnOnce() -> Option<Box<dyn FnOnce()>>,
) {
    let session = login(server, "before-outage", "header").await;
    let pending = login(server, "pending-rotation", "header").await;
    // Refreshed but not yet used: its first use needs a write (the promotion).
    let rotated = refresh(server, &pending.refresh_token).await;
    assert_eq!(rotated.status(), 200);
    let rotated_access = header(&rotated, "st-access-token");
    let rotated_refresh = header(&rotated, "st-refresh-token");

    let Some(end_outage) = outage() else {
        eprintln!("skipped: cannot make the database unwritable here");
        return;
    };
    expect_503(post_login(server, "during-outage").await, "login").await;
    expect_503(refresh(server, &session.refresh_token).await, "refresh").await;
    expect_503(get_user(server, &rotated_access).await, "promotion").await;
    // Sessions already issued keep working: verification reads nothing from the database.
    assert_eq!(get_user(server, &session.access_token).await.status(), 200);
    assert_healthy(server, "store outage").await;

    end_outage();
    assert_eq!(post_login(server, "after-outage").await.status(), 200);
    let response = refresh(server, &session.refresh_token).await;
    assert_eq!(response.status(), 200, "refresh after recovery");
    assert_eq!(get_user(server, &rotated_access).await.status(), 200);
    assert_eq!(refresh(server, &rotated_refresh).await.status(), 200);
    assert_eq!(integrity_check(dir), "ok");
}

#[actix_web::test]
async fn read_only_database_is_503_and_recovers() {
    let (dir, config) = embedded_config(|b| b);
    let server = serve(Some(config), demo::routes);
    let path = dir.path().to_owned();
    store_outage(&server, dir.path(), || {
        let guard = Immutable::set(&path)?;
        Some(Box::new(move || drop(guard)))
    })
    .await;
}

/// A 4 MiB tmpfs mounted for one test and unmounted on drop.
struct SmallDisk {
    mount: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<Self> {
        let mount = tempfile::tempdir().ok()?;
        let target = mount.path().to_str()?.to_owned();
        run("mount", &["-t", "tmpfs", "-o", "size=4m", "tmpfs", &target]).then_some(Self { mount })
    }

    fn path(&self) -> &Path {
        self.mount.path()
    }

    /// Fills the disk; returns the filler file.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        // Leave no partial page free either.
        while file.write_all(&[0u8; 512]).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let target = self.mount.path().to_str().unwrap_or_default().to_owned();
        run("umount", &["-l", &target]);
    }
}

#[actix_web::test]
async fn full_disk_is_503_and_recovers() {
    let Some(disk) = SmallDisk::mount() else {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)");
        return;
    };
    let data = disk.path().join("data");
    let config = sessionward::SessionConfig::builder()
        .data_dir(&data)
        .build()
        .expect("config");
    let server = serve(Some(config), demo::routes);
    store_outage(&server, &data, || {
        let filler = disk.fill();
        Some(Box::new(move || {
            std::fs::remove_file(&filler).expect("free the disk");
        }))
    })
    .await;
    drop(server);
}
