//! `sessionward-core` as a process: it prints its address first, serves CDI 5.4 behind its
//! api key, and refuses to start with a key the core would not accept.

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
    assert_eq!(versions.text().await.unwrap(), r#"{"versions":["5.4"]}"#);
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
