//! The demo backend on axum (embedded core, nothing else to start):
//!
//! ```text
//! cargo run -p sessionward-examples --bin demo-axum
//! ```
//!
//! See [`sessionward_examples::demo_axum`] for the routes; the environment is the actix demo's.

use sessionward_examples::{demo, demo_axum, per_core, support};

fn main() -> std::io::Result<()> {
    support::init_tracing();
    let port: u16 = demo::env_or("PORT", 3001)?;
    let config = demo::config_from_env(port)?;
    let website_domain = demo::env_or("WEBSITE_DOMAIN", String::from("http://localhost:3000"))?;
    let app = demo_axum::with_cors(demo_axum::app(&config), &website_domain);
    per_core::serve_axum((std::net::Ipv4Addr::LOCALHOST, port).into(), app)
}
