//! An AWS Lambda function (API Gateway or ALB events) that verifies SuperTokens sessions with
//! `lambda_http`; see [`sessionward_examples::lambda`].
//!
//! ```text
//! cargo build -p sessionward-examples --features lambda --bin lambda
//! ```
//!
//! Deploy it as a `provided.al2023` custom runtime (e.g. with `cargo lambda`); it needs the
//! Lambda runtime environment to start. Environment: `DATA_DIR` (`/tmp/session-data`; in
//! production use the same keys as the service that creates sessions).

use lambda_http::{Request, service_fn};
use sessionward::SessionConfig;
use sessionward_examples::{lambda, support};

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
    let config = SessionConfig::builder()
        .data_dir(support::data_dir("/tmp/session-data")?)
        .build()?;
    lambda_http::run(service_fn(move |request: Request| {
        let config = config.clone();
        async move { lambda::handle(&config, request).await }
    }))
    .await
}
