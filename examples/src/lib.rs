//! Runnable servers that show session-guard; each binary in `src/bin` is one command away
//! (`cargo run -p session-guard-examples --bin <name>`), and the tests serve the same routes.

pub mod demo;
