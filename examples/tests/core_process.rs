//! `sessionward-core` as a process: it prints its address first, serves the CDI behind its
//! api key, takes the Java core's environment names, and refuses to start with a key the core
//! would not accept or with two names of one setting that disagree.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const API_KEY: &str = "process-test-api-key-0123456789";

/// A running sessionward-core, killed on drop.
struct Core {
    child: Child,
    base: String,
}

impl Drop for Core {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(data_dir: &std::path::Path, api_key: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sessionward-core"));
    command
        .env("PORT", "0")
        .env("DATA_DIR", data_dir)
        .env("API_KEY", api_key)
        .env("RUST_LOG", "warn");
    command
}

fn start(data_dir: &std::path::Path) -> Core {
    let mut child = command(data_dir, API_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sessionward-core");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the address");
    let base = line
        .trim()
        .strip_prefix("listening on http://127.0.0.1:")
        .map(|port| format!("http://127.0.0.1:{port}"))
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Core { child, base }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_cdi_behind_its_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let core = start(dir.path());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let versions = client
        .get(format!("{}/apiversion", core.base))
        .header("api-key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(versions.status(), 200);
    assert_eq!(
        versions.text().await.unwrap(),
        concat!(
            "{\"versions\":[\"2.7\",\"2.8\",\"2.9\",\"2.10\",\"2.11\",\"2.12\",\"2.13\",",
            "\"2.14\",\"2.15\",\"2.16\",\"2.17\",\"2.18\",\"2.19\",\"2.20\",\"2.21\",\"3.0\",",
            "\"3.1\",\"4.0\",\"5.0\",\"5.1\",\"5.2\",\"5.3\",\"5.4\",\"5.5\"]}\n"
        )
    );
    let refused = client
        .get(format!("{}/apiversion", core.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let jwks = client
        .get(format!("{}/.well-known/jwks.json", core.base))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
}

#[test]
fn refuses_a_short_api_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = command(dir.path(), "short")
        .output()
        .expect("run sessionward-core");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "nothing is served");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("API_KEY"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts a sessionward-core on `data_dir` without waiting for it.
fn spawn(data_dir: &std::path::Path) -> Child {
    command(data_dir, API_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sessionward-core")
}

/// Waits for `child`'s first line: its address, or (if it exits first) its error output.
fn first_line(child: &mut Child) -> Result<String, String> {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read stdout");
    if line.starts_with("listening on ") {
        return Ok(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr);
    Err(stderr)
}

#[test]
fn two_processes_start_together_on_a_fresh_data_dir() {
    // Both create, switch to WAL and migrate the same new file at the same moment; every
    // round is a fresh directory so each one races the migration again.
    for round in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        let mut first = spawn(dir.path());
        let mut second = spawn(dir.path());
        let results = [first_line(&mut first), first_line(&mut second)];
        for child in [&mut first, &mut second] {
            let _ = child.kill();
            let _ = child.wait();
        }
        for result in results {
            if let Err(stderr) = result {
                panic!("round {round}: a core did not start: {stderr}");
            }
        }
    }
}

#[test]
fn refuses_a_public_host_without_an_api_key() {
    let dir = tempfile::tempdir().unwrap();
    for host in ["0.0.0.0", "::"] {
        let output = command(dir.path(), "")
            .env("HOST", host)
            .output()
            .expect("run sessionward-core");
        assert_eq!(output.status.code(), Some(1), "HOST={host}");
        assert!(output.stdout.is_empty(), "nothing is served");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("not a loopback address") && stderr.contains("API_KEY"),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_without_an_api_key_on_a_loopback_host() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path(), "")
        .env("HOST", "localhost")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sessionward-core");
    let line = first_line(&mut child).expect("starts on localhost");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .to_owned();
    let core = Core {
        child,
        base: format!("http://{addr}"),
    };
    let versions = client()
        .get(format!("{}/apiversion", core.base))
        .send()
        .await
        .unwrap();
    assert_eq!(versions.status(), 200, "no key is needed");
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Holds the write lock of the core's database from this process, as a long write of another
/// process sharing the file would, until dropped.
struct WriteLock(rusqlite::Connection);

impl WriteLock {
    fn take(data_dir: &std::path::Path) -> Self {
        let conn = rusqlite::Connection::open(data_dir.join("sessions.sqlite3")).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        Self(conn)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_and_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let core = start(dir.path());
    let client = client();
    let get = |path: &str| client.get(format!("{}{path}", core.base)).send();

    let hello = get("/hello").await.unwrap();
    assert_eq!(hello.status(), 200);
    assert_eq!(hello.text().await.unwrap(), "Hello\n");
    let ready = get("/ready").await.unwrap();
    assert_eq!(ready.status(), 200, "public, and the database answers");
    assert_eq!(ready.text().await.unwrap(), "Ready");

    // While another process holds the write lock past the readiness timeout, no session can
    // be written: not ready, but still alive.
    let lock = WriteLock::take(dir.path());
    let started = std::time::Instant::now();
    let blocked = get("/ready").await.unwrap();
    assert_eq!(blocked.status(), 503);
    assert_eq!(blocked.text().await.unwrap(), "Not ready");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "answers in bounded time"
    );
    assert_eq!(get("/hello").await.unwrap().status(), 200);

    drop(lock);
    assert_eq!(get("/ready").await.unwrap().status(), 200, "ready again");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_request_in_flight_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut core = start(dir.path());
    let client = client();
    // Make a session creation wait in the database's lock queue, then ask the core to stop.
    let lock = WriteLock::take(dir.path());
    let create = tokio::spawn(
        client
            .post(format!("{}/recipe/session", core.base))
            .header("api-key", API_KEY)
            .header("cdi-version", "5.4")
            .body(r#"{"userId":"u","userDataInJWT":{},"userDataInDatabase":{},"enableAntiCsrf":false}"#)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!create.is_finished(), "the request waits for the lock");
    let killed = Command::new("kill")
        .args(["-TERM", &core.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Longer than the server's shutdown check period (1 s), so a stop that did not wait for
    // the request would show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        core.child.try_wait().unwrap().is_none(),
        "still running while a request is in flight"
    );

    drop(lock);
    let created = tokio::time::timeout(Duration::from_secs(10), create)
        .await
        .expect("the request finishes")
        .unwrap()
        .unwrap();
    assert_eq!(created.status(), 200);
    let body: serde_json::Value = created.json().await.unwrap();
    assert_eq!(body["status"], "OK", "{body}");

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = core.child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "exits after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    // The session was committed before the answer: a new core on the same directory has it.
    let again = start(dir.path());
    let handle = body["session"]["handle"].as_str().unwrap();
    let info = client
        .get(format!(
            "{}/recipe/session?sessionHandle={handle}",
            again.base
        ))
        .header("api-key", API_KEY)
        .send()
        .await
        .unwrap();
    let info: serde_json::Value = info.json().await.unwrap();
    assert_eq!(info["status"], "OK", "{info}");
}

/// Two sessionward-core processes on one PostgreSQL database: a session created through one
/// refreshes through the other. Needs `SESSIONWARD_TEST_DATABASE_URL` (`scripts/pg.sh`; set by
/// `.ci/run`); skipped without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cores_on_one_postgres_database_share_sessions() {
    let Ok(url) = std::env::var("SESSIONWARD_TEST_DATABASE_URL") else {
        eprintln!("skipped: SESSIONWARD_TEST_DATABASE_URL is not set (see scripts/pg.sh)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let on_postgres = |name: &str| {
        let mut child = command(&dir.path().join(name), API_KEY)
            .env("DATABASE_URL", &url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sessionward-core");
        let line = first_line(&mut child).expect("the address line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Core { child, base }
    };
    let (first, second) = (on_postgres("a"), on_postgres("b"));
    let cdi = |core: &Core, path: &str, body: serde_json::Value| {
        let request = client()
            .post(format!("{}{path}", core.base))
            .header("api-key", API_KEY)
            .header("cdi-version", "5.4")
            .header("rid", "session")
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let created = cdi(
        &first,
        "/public/recipe/session",
        serde_json::json!({
            "userId": "shared-on-postgres",
            "userDataInJWT": {},
            "userDataInDatabase": {},
            "enableAntiCsrf": false,
            "useDynamicSigningKey": true,
        }),
    )
    .await;
    assert_eq!(created["status"], "OK", "{created}");
    let refreshed = cdi(
        &second,
        "/recipe/session/refresh",
        serde_json::json!({
            "refreshToken": created["refreshToken"]["token"],
            "enableAntiCsrf": false,
            "useDynamicSigningKey": true,
        }),
    )
    .await;
    assert_eq!(refreshed["status"], "OK", "{refreshed}");
    assert_eq!(
        refreshed["session"]["handle"], created["session"]["handle"],
        "the second core refreshed the first one's session"
    );
}

/// The Java core's environment names and units (as its docker image reads them) configure
/// the process like sessionward's own names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takes_the_java_cores_environment_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sessionward-core"))
        .env("SUPERTOKENS_HOST", "127.0.0.1")
        .env("SUPERTOKENS_PORT", "0")
        .env("DATA_DIR", dir.path())
        .env("API_KEYS", format!("other-key-0123456789abc, {API_KEY}"))
        .env("ACCESS_TOKEN_VALIDITY", "120")
        // Minutes, as the core's setting.
        .env("REFRESH_TOKEN_VALIDITY", "60")
        .env("ACCESS_TOKEN_SIGNING_KEY_DYNAMIC", "true")
        // Hours.
        .env("ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL", "24")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sessionward-core");
    let line = first_line(&mut child).unwrap_or_else(|stderr| panic!("did not start: {stderr}"));
    let port = line
        .trim()
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let core = Core {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let created: serde_json::Value = client()
        .post(format!("{}/recipe/session", core.base))
        .header("api-key", API_KEY)
        .header("cdi-version", "5.4")
        .json(&serde_json::json!({
            "userId": "u1",
            "userDataInJWT": {},
            "userDataInDatabase": {},
            "enableAntiCsrf": false,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lifetime = |token: &serde_json::Value| {
        token["expiry"].as_u64().unwrap() - token["createdTime"].as_u64().unwrap()
    };
    assert_eq!(lifetime(&created["accessToken"]), 120_000, "{created}");
    let refresh = lifetime(&created["refreshToken"]);
    assert_eq!(refresh, 3_600_000, "{created}");
    // A path the core does not serve: its 404 text.
    let unknown = client()
        .get(format!("{}/no/such/path", core.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.text().await.unwrap(), "Not found\n");
}

/// A sessionward name and its Java core name set to different values: refused, without
/// repeating the values (an api key is a secret).
#[test]
fn refuses_an_alias_and_its_java_name_that_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let output = command(dir.path(), API_KEY)
        .env("API_KEYS", "another-key-0123456789abc")
        .output()
        .expect("run sessionward-core");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "nothing is served");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("API_KEY and API_KEYS name the same setting"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(API_KEY) && !stderr.contains("another-key"),
        "{stderr}"
    );
    let output = command(dir.path(), API_KEY)
        .env("PORT", "3999")
        .env("SUPERTOKENS_PORT", "4000")
        .output()
        .expect("run sessionward-core");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("PORT and SUPERTOKENS_PORT"));
}
