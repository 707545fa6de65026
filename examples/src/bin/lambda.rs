//! An AWS Lambda function (API Gateway or ALB events) that verifies SuperTokens sessions with
//! `lambda_http`; see [`sessionward_examples::lambda`].
//!
//! ```text
//! cargo build -p sessionward-examples --features lambda --bin lambda
//! ```
//!
//! Deploy it as a `provided.al2023` custom runtime (e.g. with `cargo lambda`); it needs the
//! Lambda runtime environment to start. Environment: `DATA_DIR` (`/tmp/session-data`; one
//! instance only: in production point `CORE_URI` at a SuperTokens Core so every instance shares
//! sessions and keys), `CORE_URI` and `CORE_API_KEY`, `API_GATEWAY_PATH` (the stage, e.g.
//! `/dev`), and the demo's `WEBSITE_DOMAIN`, `API_DOMAIN`, `SESSION_EXPIRED_STATUS`.

use sessionward::SessionConfig;
use sessionward_examples::{demo, lambda, support};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    support::init_tracing();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Err(
            "not running on AWS Lambda (no AWS_LAMBDA_RUNTIME_API): deploy this binary, \
                    or run it under `cargo lambda watch`"
                .into(),
        );
    }
    let mut builder = SessionConfig::builder()
        .data_dir(support::data_dir("/tmp/session-data")?)
        .api_gateway_path(std::env::var("API_GATEWAY_PATH").unwrap_or_default())
        .api_domain(demo::env_or(
            "API_DOMAIN",
            String::from("http://localhost:3001"),
        )?)
        .website_domain(demo::env_or(
            "WEBSITE_DOMAIN",
            String::from("http://localhost:3000"),
        )?)
        .session_expired_status(demo::env_or("SESSION_EXPIRED_STATUS", 401u16)?);
    if let Ok(uri) = std::env::var("CORE_URI") {
        let api_key = std::env::var("CORE_API_KEY").ok();
        builder = builder.supertokens_core(&uri, api_key.as_deref())?;
    }
    lambda_http::run(lambda::function(builder.build()?)).await
}
