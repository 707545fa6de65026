//! `sessionward-core`: the embedded core served over CDI 5.4, so that supertokens-node (or
//! sessionward's `CoreClient`) can use it as its SuperTokens Core.
//!
//! ```text
//! API_KEY=<20+ characters> cargo run -p sessionward-examples --bin sessionward-core
//! ```
//!
//! Environment: `PORT` (3567; `0` picks a free port), `DATA_DIR` (`./core-data`), `API_KEY`
//! (none: every caller is trusted; several keys may be given separated by `,`, each 20 or more
//! letters, digits, `=` or `-`, as the core's `api_keys`), `ACCESS_TOKEN_VALIDITY_SECS`
//! (3600), `REFRESH_TOKEN_VALIDITY_SECS` (8640000). It listens on 127.0.0.1 only and prints
//! `listening on http://127.0.0.1:<port>` as its first line on stdout.
//!
//! Endpoints: see `sessionward::cdi`.

use std::io;
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
    let port: u16 = env_or("PORT", 3567)?;
    let api_key = match std::env::var("API_KEY") {
        Ok(keys) if !keys.trim().is_empty() => Some(checked_api_keys(&keys)?),
        _ => {
            tracing::warn!("API_KEY is not set: every caller on 127.0.0.1 is trusted");
            None
        }
    };
    let config = SessionConfig::builder()
        .data_dir(env_or("DATA_DIR", String::from("./core-data"))?)
        .access_token_validity(Duration::from_secs(env_or(
            "ACCESS_TOKEN_VALIDITY_SECS",
            3600,
        )?))
        .refresh_token_validity(Duration::from_secs(env_or(
            "REFRESH_TOKEN_VALIDITY_SECS",
            100 * 24 * 3600,
        )?))
        .build()
        .map_err(io::Error::other)?;
    let cdi = cdi::configure(config.core().clone(), api_key);
    let server =
        HttpServer::new(move || App::new().configure(cdi.clone())).bind(("127.0.0.1", port))?;
    // The first line on stdout names the bound address (PORT=0 picks a free port).
    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }
    server.run().await
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
