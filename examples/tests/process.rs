//! The demo as a process: it starts with its one command and answers, both demos answer CORS
//! for exactly `WEBSITE_DOMAIN`, and a SIGKILL in the middle of a create+refresh loop loses no
//! session whose response was received: on SQLite (one instance, restarted) and on PostgreSQL
//! (one of two instances killed).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running demo process, killed on drop.
struct Demo {
    child: Child,
    base: String,
}

impl Demo {
    fn start(data_dir: &std::path::Path) -> Self {
        Self::start_with("DATA_DIR", data_dir.to_str().expect("a UTF-8 path"))
    }

    /// A demo with its store named by `variable` (`DATA_DIR` or `DATABASE_URL`).
    fn start_with(variable: &str, store: &str) -> Self {
        Self::launch(env!("CARGO_BIN_EXE_demo"), &[(variable, store)])
    }

    /// The demo `binary` (the actix-web or the axum one) with `environment` added.
    fn launch(binary: &str, environment: &[(&str, &str)]) -> Self {
        let mut child = Command::new(binary)
            .env("PORT", "0")
            .envs(environment.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the demo");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the demo's address");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Demo { child, base }
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL on Unix
        let _ = self.child.wait();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.kill();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: String,
}

fn tokens_of(response: &reqwest::Response) -> Option<Tokens> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Some(Tokens {
        access: header("st-access-token")?,
        refresh: header("st-refresh-token")?,
    })
}

async fn login(base: &str, user: &str) -> Option<Tokens> {
    let response = client()
        .post(format!("{base}/login"))
        .json(&serde_json::json!({ "userId": user }))
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    tokens_of(&response)
}

async fn refresh(base: &str, tokens: &Tokens) -> Option<Tokens> {
    let response = client()
        .post(format!("{base}/auth/session/refresh"))
        .bearer_auth(&tokens.refresh)
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    tokens_of(&response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(dir.path());
    let health = client()
        .get(format!("{}/health", demo.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let user = client()
        .get(format!("{}/user", demo.base))
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 401);
    assert_eq!(
        user.json::<Value>().await.unwrap(),
        serde_json::json!({"message": "unauthorised"})
    );
    let tokens = login(&demo.base, "alice").await.expect("login");
    let user = client()
        .get(format!("{}/user", demo.base))
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 200);
}

/// A response's values of header `name`, split at commas, trimmed and lowercased, in order.
fn header_list(response: &reqwest::Response, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .flat_map(|value| value.to_str().unwrap().split(','))
        .map(|item| item.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_demos_answer_cors_for_exactly_the_website_domain() {
    const WEBSITE: &str = "http://localhost:5173";
    let vary = [
        "origin",
        "access-control-request-method",
        "access-control-request-headers",
    ];
    for binary in [env!("CARGO_BIN_EXE_demo"), env!("CARGO_BIN_EXE_demo-axum")] {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_str().unwrap();
        let demo = Demo::launch(
            binary,
            &[("DATA_DIR", data_dir), ("WEBSITE_DOMAIN", WEBSITE)],
        );
        let origin = |response: &reqwest::Response| {
            response
                .headers()
                .get("access-control-allow-origin")
                .map(|value| value.to_str().unwrap().to_owned())
        };

        // A request from the website: allowed, with credentials, the SuperTokens headers
        // exposed, and a Vary naming each CORS request header once.
        let response = client()
            .get(format!("{}/user", demo.base))
            .header("origin", WEBSITE)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{binary}");
        assert_eq!(origin(&response).as_deref(), Some(WEBSITE), "{binary}");
        assert_eq!(
            response.headers()["access-control-allow-credentials"],
            "true"
        );
        let exposed = header_list(&response, "access-control-expose-headers");
        for name in [
            "front-token",
            "st-access-token",
            "st-refresh-token",
            "anti-csrf",
        ] {
            assert!(exposed.iter().any(|e| e == name), "{binary}: {exposed:?}");
        }
        assert_eq!(header_list(&response, "vary"), vary, "{binary}");

        // A preflight for a POST with the SDK's headers.
        let response = client()
            .request(reqwest::Method::OPTIONS, format!("{}/user", demo.base))
            .header("origin", WEBSITE)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,st-auth-mode",
            )
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{binary}: {}",
            response.status()
        );
        assert_eq!(origin(&response).as_deref(), Some(WEBSITE), "{binary}");
        assert_eq!(
            response.headers()["access-control-allow-credentials"],
            "true"
        );
        assert!(header_list(&response, "access-control-allow-methods").contains(&"post".into()));
        let allowed = header_list(&response, "access-control-allow-headers");
        for name in [
            "content-type",
            "st-auth-mode",
            "anti-csrf",
            "rid",
            "fdi-version",
        ] {
            assert!(allowed.iter().any(|a| a == name), "{binary}: {allowed:?}");
        }
        assert_eq!(header_list(&response, "vary"), vary, "{binary}");

        // Another origin is never allowed.
        let response = client()
            .get(format!("{}/health", demo.base))
            .header("origin", "http://evil.example")
            .send()
            .await
            .unwrap();
        assert_ne!(
            origin(&response).as_deref(),
            Some("http://evil.example"),
            "{binary}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_create_and_refresh_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start(dir.path());
    let base = demo.base.clone();
    let acknowledged = create_and_refresh_until_killed(demo, &base, &base).await;

    // Restart on the same data directory: every acknowledged session verifies and refreshes.
    let demo = Demo::start(dir.path());
    serve_every_session(&acknowledged, &[&demo]).await;
}

/// Logs in on `base` and refreshes an earlier session each time (on `base` and `other` in
/// turn), keeping the tokens of every answer received, until `doomed` (serving `base`) is
/// SIGKILLed 1.5 s in. Returns the acknowledged sessions' latest tokens.
async fn create_and_refresh_until_killed(mut doomed: Demo, base: &str, other: &str) -> Vec<Tokens> {
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        doomed.kill();
        doomed
    });
    let mut acknowledged: Vec<Tokens> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0u32;
    loop {
        assert!(Instant::now() < deadline, "the process was never killed");
        i += 1;
        let Some(created) = login(base, &format!("user-{i}")).await else {
            break; // the process is gone
        };
        acknowledged.push(created.clone());
        // Refresh an earlier session too; keep only what a response acknowledged.
        let k = (i as usize * 7) % acknowledged.len();
        let on = if i.is_multiple_of(2) { base } else { other };
        if let Some(next) = refresh(on, &acknowledged[k]).await {
            acknowledged[k] = next;
        }
    }
    drop(killer.await.unwrap());
    assert!(
        acknowledged.len() > 5,
        "the loop ran too briefly to mean anything"
    );
    acknowledged
}

/// Every session in `acknowledged` verifies and refreshes, the n-th on `demos[n % len]`.
async fn serve_every_session(acknowledged: &[Tokens], demos: &[&Demo]) {
    for (n, tokens) in acknowledged.iter().enumerate() {
        let serving = demos[n % demos.len()];
        let user = client()
            .get(format!("{}/user", serving.base))
            .bearer_auth(&tokens.access)
            .send()
            .await
            .unwrap();
        assert_eq!(user.status(), 200, "session {n} lost its access token");
        assert!(
            refresh(&serving.base, tokens).await.is_some(),
            "session {n} cannot refresh"
        );
    }
}

/// A URL of a new, empty database on the PostgreSQL server of the tests, or `None` when
/// `SESSIONWARD_TEST_DATABASE_URL` is not set (`scripts/pg.sh`; `.ci/run` sets it).
async fn fresh_database(name: &str) -> Option<String> {
    let admin = std::env::var("SESSIONWARD_TEST_DATABASE_URL").ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let name = format!("{name}_{}_{now}", std::process::id());
    let (db, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    let connection = tokio::spawn(connection);
    db.batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    drop(db);
    let _ = connection.await;
    let (server, _) = admin
        .rsplit_once('/')
        .expect("a postgres://…/<database> URL");
    Some(format!("{server}/{name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_one_instance_on_postgres_loses_nothing_acknowledged() {
    let Some(url) = fresh_database("sessionward_sigkill").await else {
        eprintln!("skipped: SESSIONWARD_TEST_DATABASE_URL is not set (see scripts/pg.sh)");
        return;
    };
    let doomed = Demo::start_with("DATABASE_URL", &url);
    let survivor = Demo::start_with("DATABASE_URL", &url);
    let (base, other) = (doomed.base.clone(), survivor.base.clone());
    // Create on one instance and refresh on both until that instance is killed under the loop.
    let acknowledged = create_and_refresh_until_killed(doomed, &base, &other).await;

    // The surviving instance, and a new one started in place of the killed one, serve every
    // acknowledged session.
    let replacement = Demo::start_with("DATABASE_URL", &url);
    serve_every_session(&acknowledged, &[&survivor, &replacement]).await;
}
