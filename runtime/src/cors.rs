//! The CORS header lists a SuperTokens frontend needs (docs/protocol.md §3.6), for `actix-cors`.
//!
//! ```
//! // With actix-cors:
//! // Cors::default()
//! //     .allowed_origin("https://example.com")
//! //     .allowed_headers(sessionward::cors::allowed_headers())
//! //     .expose_headers(sessionward::cors::exposed_headers())
//! //     .supports_credentials()
//! assert!(sessionward::cors::allowed_headers().contains(&"st-auth-mode"));
//! ```

/// Request headers the frontend SDK sends: list them in `Access-Control-Allow-Headers`.
pub fn allowed_headers() -> [&'static str; 6] {
    [
        "content-type",
        "rid",
        "fdi-version",
        "anti-csrf",
        "st-auth-mode",
        "authorization",
    ]
}

/// Response headers the frontend SDK reads: list them in `Access-Control-Expose-Headers`.
pub fn exposed_headers() -> [&'static str; 4] {
    [
        "front-token",
        "st-access-token",
        "st-refresh-token",
        "anti-csrf",
    ]
}
