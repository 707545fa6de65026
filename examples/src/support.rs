//! What every example binary shares: logging, settings from the environment, and the first
//! stdout line (`listening on http://<addr>`) that the tests read to find the server.

use std::net::SocketAddr;

use crate::demo::env_or;

/// Logs to stderr at `RUST_LOG` (default `info`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// `PORT` (`0` picks a free port), or `default`.
///
/// # Errors
/// When `PORT` is set but is not a port number.
pub fn port(default: u16) -> std::io::Result<u16> {
    env_or("PORT", default)
}

/// `DATA_DIR` (where the embedded core keeps keys and sessions), or `default`.
///
/// # Errors
/// Never in practice (any string is a path); kept fallible like the other settings.
pub fn data_dir(default: &str) -> std::io::Result<String> {
    env_or("DATA_DIR", default.to_owned())
}

/// Prints the bound addresses, one `listening on http://<addr>` line each, first on stdout.
pub fn announce(addrs: &[SocketAddr]) {
    for addr in addrs {
        println!("listening on http://{addr}");
    }
}
