//! Runnable servers that show sessionward; each binary in `src/bin` is one command away
//! (`cargo run -p sessionward-examples --bin <name>`), and the tests serve the same routes.
//!
//! | binary | shows |
//! |---|---|
//! | `demo` | the backend of the browser tests: login, protected, optional and admin routes |
//! | `demo-axum` | the same demo on axum |
//! | `claims` | a custom claim (subscription tier) with an async fetch, checked per route |
//! | `optional_session` | routes that work with or without a session |
//! | `tenants` | multi-tenancy: the tenant comes from the path |
//! | `supertokens_core` | sessions in a SuperTokens Core, through `CoreClient` |
//! | `sessionward-core` | the embedded core served over CDI, as a SuperTokens Core |
//! | `ssr` | server-rendered HTML that redirects to a login page instead of answering 401 |
//! | `lambda` (feature `lambda`) | an AWS Lambda handler that verifies sessions without actix |

pub mod demo;
pub mod demo_axum;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod per_core;
pub mod support;
