//! `sessionward-core`: the embedded core served over CDI 5.4, so that supertokens-node (or
//! sessionward's `CoreClient`) can use it as its SuperTokens Core.
//!
//! ```text
//! API_KEY=<20+ characters> cargo run -p sessionward-examples --bin sessionward-core
//! ```
//!
//! Environment: `HOST` (`127.0.0.1`; the address to listen on, as the core's `host`),
//! `PORT` (3567; `0` picks a free port), `DATA_DIR` (`./core-data`), `DATABASE_URL`
//! (`postgres://…`: sessions and keys in PostgreSQL instead, shared by every instance on that
//! database; TLS as its `sslmode` and `sslrootcert` say), `API_KEY` (none: every
//! caller is trusted, which is allowed only on a loopback `HOST`; several keys may be given
//! separated by `,`, each 20 or more letters, digits, `=` or `-`, as the core's `api_keys`),
//! `ACCESS_TOKEN_VALIDITY_SECS` (3600), `REFRESH_TOKEN_VALIDITY_SECS` (8640000),
//! `SHUTDOWN_TIMEOUT_SECS` (30). It prints `listening on http://<address>` for each bound
//! address, first on stdout.
//!
//! It refuses to start (exit status 1) when `HOST` is not a loopback address and no `API_KEY`
//! is set. `GET /hello` answers `Hello` while the process serves (liveness); `GET /ready`
//! answers 200 once the database answers, 503 otherwise (readiness). On SIGTERM (or SIGINT) it
//! stops accepting connections, finishes the requests in flight (for up to
//! `SHUTDOWN_TIMEOUT_SECS`), closes the database and exits 0. It speaks plain HTTP: put TLS in
//! a proxy in front of it.
//!
//! Endpoints: see `sessionward::cdi`.

use std::io;
use std::net::ToSocketAddrs as _;
use std::time::Duration;

use actix_web::{App, HttpServer};
use sessionward::{SessionConfig, cdi};
use sessionward_examples::demo::env_or;

#[actix_web::main]
async fn main() -> io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let host: String = env_or("HOST", String::from("127.0.0.1"))?;
    let port: u16 = env_or("PORT", 3567)?;
    let api_key = match std::env::var("API_KEY") {
        Ok(keys) if !keys.trim().is_empty() => Some(checked_api_keys(&keys)?),
        _ => None,
    };
    let shutdown_timeout: u64 = env_or("SHUTDOWN_TIMEOUT_SECS", 30)?;
    let mut builder = SessionConfig::builder()
        .data_dir(env_or("DATA_DIR", String::from("./core-data"))?)
        .access_token_validity(Duration::from_secs(env_or(
            "ACCESS_TOKEN_VALIDITY_SECS",
            3600,
        )?))
        .refresh_token_validity(Duration::from_secs(env_or(
            "REFRESH_TOKEN_VALIDITY_SECS",
            100 * 24 * 3600,
        )?));
    // Several instances behind a load balancer share one PostgreSQL database.
    if let Ok(url) = std::env::var("DATABASE_URL") {
        builder = builder.postgres(url);
    }
    let config = builder.build().map_err(io::Error::other)?;
    let open = api_key.is_none();
    if open {
        refuse_a_public_host(&host, port)?;
        tracing::warn!("API_KEY is not set: every local caller is trusted");
    }
    let cdi = cdi::configure(config.core().clone(), api_key);
    // actix-web stops gracefully on SIGTERM and SIGINT: no new connections, the requests in
    // flight finish (for up to the shutdown timeout), then `run` returns.
    let server = HttpServer::new(move || App::new().configure(cdi.clone()))
        .shutdown_timeout(shutdown_timeout)
        .bind((host.as_str(), port))
        .map_err(|e| io::Error::new(e.kind(), format!("HOST={host} PORT={port}: {e}")))?;
    // The first lines on stdout name the bound addresses (PORT=0 picks a free port).
    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }
    server.run().await?;
    // Dropping the last handle on the core stops its maintenance thread and lets the database
    // threads finish their queued work and close the file.
    drop(config);
    tracing::info!("stopped");
    Ok(())
}

/// Without an api key every caller is trusted, so `HOST` must name loopback addresses only.
/// A name (`localhost`) counts by every address it resolves to, as the server binds them all;
/// the check comes before binding, so nothing is ever reachable from outside without a key.
fn refuse_a_public_host(host: &str, port: u16) -> io::Result<()> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("HOST={host}: {e}")))?;
    for addr in addrs {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "HOST={host} would listen on {}, which is not a loopback address: set \
                     API_KEY so that callers must present it",
                    addr.ip()
                ),
            ));
        }
    }
    Ok(())
}

/// The `API_KEY` value, if every key in it is one the core would accept.
fn checked_api_keys(keys: &str) -> io::Result<String> {
    for key in keys.split(',').map(str::trim) {
        let allowed = key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'=' || b == b'-');
        if key.len() < 20 || !allowed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "API_KEY: each key (separated by `,`) needs 20 or more letters, digits, `=` or `-`",
            ));
        }
    }
    Ok(keys.to_owned())
}
