//! Integration tests: real actix servers on 127.0.0.1, real HTTP.

mod apps;
mod attacks;
mod axum;
mod cdi_legacy;
mod cdi_server;
mod config_options;
mod core_client;
mod csrf;
mod demo;
mod faults;
mod hooks;
mod jwt;
mod lifecycle;
mod macro_order;
mod manage;
mod middleware;
mod node_options;
mod observability;
mod postgres;
mod postgres_tls;
mod properties;
mod races;
mod secrets;
mod session_api;
mod support;
mod vectors;
