//! Properties, checked with proptest in the normal test run: the token parser, the
//! request reader, the front-token and the claim validators never panic on arbitrary input;
//! a token that verifies yields exactly the payload that was signed; changing any character of
//! a signed token makes it fail. The same code is fuzzed in `fuzz/` (see its README).

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::test::TestRequest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sessionward::__fuzz;
use sessionward::core::VerifyOutcome;
use sessionward::{AntiCsrf, JwksCache, SessionConfig, StaticKeySource};
use sessionward_tests::{AppendixA, FixedKeysCore};

use crate::support::{Signer, b64, now_s};

/// Polls a future that never waits on I/O (static keys, a core answering at once).
fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
    panic!("the future kept waiting although it does no I/O");
}

/// Configs over the Appendix A keys, one per anti-CSRF mode.
fn configs() -> &'static [SessionConfig; 3] {
    static CONFIGS: OnceLock<[SessionConfig; 3]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let jwks = AppendixA::load().jwks;
        [
            AntiCsrf::None,
            AntiCsrf::ViaToken,
            AntiCsrf::ViaCustomHeader,
        ]
        .map(|mode| {
            SessionConfig::builder()
                .core(FixedKeysCore::new(jwks.clone(), || {
                    VerifyOutcome::TryRefreshToken
                }))
                .anti_csrf(mode)
                .build()
                .unwrap()
        })
    })
}

/// One key and a cache that knows it, for minting tokens that verify.
fn minting() -> &'static (Signer, JwksCache) {
    static MINTING: OnceLock<(Signer, JwksCache)> = OnceLock::new();
    MINTING.get_or_init(|| {
        let signer = Signer::foreign("d-1700000000000");
        let jwks = jsonwebtoken::jwk::JwkSet {
            keys: vec![signer.jwk(&signer.kid)],
        };
        let cache = JwksCache::new(Arc::new(StaticKeySource::new(jwks)));
        (signer, cache)
    })
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Arbitrary JSON objects whose keys favour the names the code looks at.
fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    let key = prop_oneof![
        Just("sub".to_owned()),
        Just("exp".to_owned()),
        Just("iat".to_owned()),
        Just("stt".to_owned()),
        Just("tId".to_owned()),
        Just("rsub".to_owned()),
        Just("sessionHandle".to_owned()),
        Just("refreshTokenHash1".to_owned()),
        Just("antiCsrfToken".to_owned()),
        Just("st-ev".to_owned()),
        Just("st-role".to_owned()),
        Just("st-perm".to_owned()),
        Just("custom".to_owned()),
        ".{0,8}",
    ];
    let claim = prop_oneof![
        json_value(),
        (json_value(), any::<u64>()).prop_map(|(v, t)| json!({"v": v, "t": t})),
        (prop::collection::vec(".{0,6}", 0..4), any::<u32>())
            .prop_map(|(v, t)| json!({"v": v, "t": t})),
    ];
    prop::collection::btree_map(key, claim, 0..10).prop_map(|m| m.into_iter().collect())
}

/// Header values as the HTTP parser could deliver them (visible ASCII and obs-text bytes).
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            8 => 0x20u8..0x7f,
            1 => 0x80u8..=0xff,
            1 => prop::sample::select(b";=.%\" ,".to_vec()),
        ],
        0..200,
    )
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_parser_never_panics_on_text(raw in "\\PC{0,300}") {
        let _ = __fuzz::parse_access_token(&raw);
    }

    #[test]
    fn token_parser_never_panics_on_json_segments(
        header in json_value(),
        payload in json_object(),
        signature in "[A-Za-z0-9_=+/-]{0,40}",
    ) {
        let token = format!(
            "{}.{}.{signature}",
            b64(serde_json::to_vec(&header).unwrap()),
            b64(serde_json::to_vec(&payload).unwrap()),
        );
        if let Ok(parsed) = __fuzz::parse_access_token(&token) {
            prop_assert!(matches!(parsed.version, 3..=5));
            prop_assert_eq!(parsed.payload, payload);
        }
    }

    #[test]
    fn request_reader_never_panics(
        post in any::<bool>(),
        required in any::<bool>(),
        mode in 0usize..3,
        headers in prop::collection::vec(
            (prop::sample::select(vec!["cookie", "authorization", "anti-csrf", "rid", "st-auth-mode"]), header_bytes()),
            0..6,
        ),
    ) {
        let mut request = if post { TestRequest::post() } else { TestRequest::get() }
            .uri("/user")
            .app_data(configs()[mode].clone());
        for (name, value) in &headers {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                request = request.append_header((HeaderName::from_static(name), value));
            }
        }
        let req = request.to_http_request();
        let _ = __fuzz::cookie_values(&req, "sAccessToken");
        let _ = __fuzz::bearer_token(&req);
        let outcome = run_ready(__fuzz::verify_request(&req, required));
        prop_assert!(!matches!(outcome, Ok(Some(_))), "random headers made a session");
        if let Err(error) = outcome {
            let status = actix_web::ResponseError::status_code(&error).as_u16();
            prop_assert_eq!(status, 401, "{}", error);
        }
    }

    #[test]
    fn request_reader_never_panics_on_real_tokens_in_odd_places(
        which in 0usize..4,
        prefix in "[ ;=a-zA-Z]{0,6}",
        suffix in "[ ;=a-zA-Z%]{0,6}",
        as_cookie in any::<bool>(),
    ) {
        let vectors = AppendixA::load();
        let token = vectors.token(["v5", "v4", "v2", "v5_anticsrf"][which]);
        let value = if as_cookie {
            format!("{prefix}sAccessToken={token}{suffix}")
        } else {
            format!("Bearer {prefix}{token}{suffix}")
        };
        let name = if as_cookie { "cookie" } else { "authorization" };
        let req = TestRequest::get()
            .uri("/user")
            .app_data(configs()[0].clone())
            .insert_header((name, value))
            .to_http_request();
        if let Ok(Some(session)) = run_ready(__fuzz::verify_request(&req, true)) {
            prop_assert_eq!(session.user_id(), "user-1");
        }
    }

    #[test]
    fn front_token_round_trips(user in "\\PC{0,40}", ate in any::<u64>(), payload in json_object()) {
        let token = __fuzz::front_token(&user, ate, &payload);
        let decoded: Value = serde_json::from_slice(&STANDARD.decode(&token).unwrap()).unwrap();
        prop_assert_eq!(decoded, json!({"uid": user, "ate": ate, "up": payload}));
    }

    #[test]
    fn claim_validators_never_panic(payload in json_object(), now in any::<u64>()) {
        for (id, reason) in __fuzz::validate_claims(&payload, now) {
            prop_assert!(!id.is_empty());
            prop_assert!(reason["message"].is_string(), "{}", reason);
        }
    }
}

proptest! {
    // Every case signs with RSA (slow in debug builds): fewer cases.
    #![proptest_config(ProptestConfig { cases: 48, ..config() })]

    #[test]
    fn a_token_that_verifies_round_trips_its_payload(
        extra in json_object(),
        user in "\\PC{1,20}",
        lifetime in 10u64..1_000_000,
    ) {
        let (signer, cache) = minting();
        let mut payload = extra;
        for (key, value) in [
            ("sub", json!(user)),
            ("exp", json!(now_s() + lifetime)),
            ("iat", json!(now_s())),
            ("sessionHandle", json!("h")),
            ("refreshTokenHash1", json!("r")),
            ("tId", json!("public")),
            ("rsub", json!(user)),
        ] {
            payload.insert(key.to_owned(), value);
        }
        let token = signer.token(&Value::Object(payload.clone()));
        let verified = run_ready(__fuzz::verify_access_token(&token, cache, crate::support::now_ms()));
        match verified {
            Ok(verified) => prop_assert_eq!(verified, payload),
            // Only a wrong token type may stop a well-formed, signed, unexpired token.
            Err(reason) => prop_assert!(
                payload.get("stt").is_some_and(|stt| stt.as_f64() != Some(0.0)),
                "{}", reason
            ),
        }
    }

    #[test]
    fn changing_any_character_of_a_signed_token_breaks_it(position in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.-]") {
        let (signer, cache) = minting();
        let payload = crate::support::payload("user", now_s() + 600, json!({}));
        let token = signer.token(&payload);
        let at = position.index(token.len());
        prop_assume!(token[at..].chars().next() != replacement.chars().next());
        let mut changed = token.clone();
        changed.replace_range(at..at + 1, &replacement);
        let verified = run_ready(__fuzz::verify_access_token(&changed, cache, crate::support::now_ms()));
        prop_assert!(verified.is_err(), "changed at {} to {:?}: still verifies", at, replacement);
    }
}
