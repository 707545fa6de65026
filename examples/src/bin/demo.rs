//! The demo backend (embedded core, nothing else to start):
//!
//! ```text
//! cargo run -p sessionward-examples --bin demo
//! ```
//!
//! See [`sessionward_examples::demo`] for the routes and environment variables.

use actix_web::{App, HttpServer};
use sessionward_examples::demo;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port: u16 = demo::env_or("PORT", 3001)?;
    let config = demo::config_from_env(port)?;
    let website_domain = demo::env_or("WEBSITE_DOMAIN", String::from("http://localhost:3000"))?;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(demo::middleware(&config))
            .wrap(demo::cors(&website_domain))
            .service(config.endpoints())
            .configure(demo::routes)
    })
    .bind(("127.0.0.1", port))?;
    // The first line on stdout names the bound address (PORT=0 picks a free port).
    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }
    server.run().await
}
