//! The request reader and verification (docs/protocol.md §3.2, §5, §6.2) on arbitrary headers.
//!
//! Byte 0: bit 0 POST (else GET), bit 1 session required, bits 2–3 the anti-CSRF mode. The
//! rest is split on `\n`; a line `name: value` is that header; a line without `:` is the value
//! of a session header chosen by its first byte (cookie, authorization, anti-csrf, rid,
//! st-auth-mode). Invalid header names or values are skipped, as the HTTP parser would.
#![no_main]

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::test::TestRequest;
use libfuzzer_sys::fuzz_target;
use sessionward::__fuzz::{bearer_token, cookie_values, verify_request};
use sessionward_fuzz::{configs, run_ready};

const SESSION_HEADERS: [&str; 5] = [
    "cookie",
    "authorization",
    "anti-csrf",
    "rid",
    "st-auth-mode",
];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let config = &configs()[usize::from(flags >> 2 & 3) % 3];
    let mut request = if flags & 1 == 1 {
        TestRequest::post()
    } else {
        TestRequest::get()
    }
    .uri("/user")
    .app_data(config.clone());
    for line in rest.split(|&b| b == b'\n').take(64) {
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(at) => (
                HeaderName::from_bytes(&line[..at]).ok(),
                line[at + 1..].trim_ascii(),
            ),
            None => match line.split_first() {
                Some((&which, value)) => (
                    Some(HeaderName::from_static(
                        SESSION_HEADERS[usize::from(which) % SESSION_HEADERS.len()],
                    )),
                    value,
                ),
                None => continue,
            },
        };
        if let (Some(name), Ok(value)) = (name, HeaderValue::from_bytes(value)) {
            request = request.append_header((name, value));
        }
    }
    let req = request.to_http_request();
    let _ = cookie_values(&req, "sAccessToken");
    let _ = cookie_values(&req, "sRefreshToken");
    let _ = bearer_token(&req);
    let outcome = run_ready(verify_request(&req, flags & 2 == 2))
        .expect("verification completes without waiting");
    if let Ok(Some(session)) = outcome {
        // Only the Appendix A tokens verify; their user is always `user-1`.
        assert_eq!(session.user_id(), "user-1");
    }
});
