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
