//! Integration tests: real actix servers on 127.0.0.1, real HTTP.

mod apps;
mod csrf;
mod demo;
mod lifecycle;
mod macro_order;
mod session_api;
mod vectors;
