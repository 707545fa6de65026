//! Observability: the verification and refresh spans record their outcome under OpenTelemetry
//! names (user id, session handle, error kind) and never a token; the `metrics` counters count
//! by outcome, the histogram times verifications, and every metric is described.
//!
//! The app runs in the test's own thread (`actix_web::test`), so a thread-local subscriber and
//! a thread-local metrics recorder see everything it does.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, Responder, get, http::StatusCode, post, test};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_json::json;
use sessionward::core::CoreError;
use sessionward::prelude::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[post("/login")]
async fn login(req: HttpRequest) -> Result<WithSession<HttpResponse>, SessionError> {
    let session = create_new_session(&req, "alice", json!({})).await?;
    Ok(WithSession::new(
        HttpResponse::Ok().json(json!({"userId": session.user_id()})),
    ))
}

#[get("/me")]
#[verify_session]
async fn me(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

#[get("/admin")]
#[verify_session(claims = [Roles::includes("admin")])]
async fn admin(session: SessionContainer) -> impl Responder {
    HttpResponse::Ok().body(session.user_id().to_owned())
}

/// One closed span or one event, with every field recorded on it.
#[derive(Debug, Clone)]
struct Captured {
    name: String,
    fields: BTreeMap<String, String>,
}

/// A layer that keeps every span (with the fields recorded over its life) and every event.
#[derive(Clone, Default)]
struct Capture {
    open: Arc<Mutex<HashMap<u64, Captured>>>,
    closed: Arc<Mutex<Vec<Captured>>>,
    events: Arc<Mutex<Vec<Captured>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.open.lock().unwrap().insert(
            id.into_u64(),
            Captured {
                name: attrs.metadata().name().to_owned(),
                fields,
            },
        );
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(span) = self.open.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.events.lock().unwrap().push(Captured {
            name: event.metadata().name().to_owned(),
            fields,
        });
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(span) = self.open.lock().unwrap().remove(&id.into_u64()) {
            self.closed.lock().unwrap().push(span);
        }
    }
}

impl Capture {
    /// Closed spans called `name`, in the order they closed.
    fn spans(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        self.closed
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.fields.clone())
            .collect()
    }

    /// Every recorded value, of spans and events alike.
    fn all_values(&self) -> Vec<String> {
        let closed = self.closed.lock().unwrap();
        let open = self.open.lock().unwrap();
        let events = self.events.lock().unwrap();
        closed
            .iter()
            .chain(open.values())
            .chain(events.iter())
            .flat_map(|c| c.fields.values().cloned())
            .collect()
    }
}

/// A metrics recorder that counts, keeps histogram samples and descriptions; keys are
/// `name{label=value,..}`.
#[derive(Default)]
struct Counters {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
    histograms: Mutex<HashMap<String, Arc<Samples>>>,
    described: Mutex<HashMap<String, Option<Unit>>>,
}

/// The samples recorded in one histogram.
#[derive(Default)]
struct Samples(Mutex<Vec<f64>>);

impl metrics::HistogramFn for Samples {
    fn record(&self, value: f64) {
        self.0.lock().unwrap().push(value);
    }
}

fn key_text(key: &Key) -> String {
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    if labels.is_empty() {
        key.name().to_owned()
    } else {
        format!("{}{{{}}}", key.name(), labels.join(","))
    }
}

impl Counters {
    fn get(&self, key: &str) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .get(key)
            .map_or(0, |c| c.load(Ordering::SeqCst))
    }

    fn samples(&self, key: &str) -> Vec<f64> {
        self.histograms
            .lock()
            .unwrap()
            .get(key)
            .map(|h| h.0.lock().unwrap().clone())
            .unwrap_or_default()
    }

    fn describe(&self, name: KeyName, unit: Option<Unit>) {
        self.described
            .lock()
            .unwrap()
            .insert(name.as_str().to_owned(), unit);
    }
}

impl Recorder for Counters {
    fn describe_counter(&self, name: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(name, unit);
    }
    fn describe_gauge(&self, name: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(name, unit);
    }
    fn describe_histogram(&self, name: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(name, unit);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let counter = self
            .counters
            .lock()
            .unwrap()
            .entry(key_text(key))
            .or_default()
            .clone();
        Counter::from_arc(counter)
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let samples = self
            .histograms
            .lock()
            .unwrap()
            .entry(key_text(key))
            .or_default()
            .clone();
        Histogram::from_arc(samples)
    }
}

/// `token` with one character of its signature changed (still a well-formed token).
fn tamper(token: &str) -> String {
    let at = token.rfind('.').expect("a JWT") + 10;
    let swapped = if token.as_bytes()[at] == b'A' {
        "B"
    } else {
        "A"
    };
    format!("{}{swapped}{}", &token[..at], &token[at + 1..])
}

fn header(response: &ServiceResponse, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[actix_web::test]
async fn spans_and_counters_record_outcomes_and_never_tokens() {
    let capture = Capture::default();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(capture.clone()));
    // Keep a second dispatcher registered while the test runs: with a single one, tracing
    // decides whether a callsite first hit on another test's thread is enabled from that
    // thread's subscriber alone, and caches "never" for ours too.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _tracing = tracing::dispatcher::set_default(&dispatch);
    let counters = Counters::default();
    let _metrics = metrics::set_default_local_recorder(&counters);

    let (_dir, config) = sessionward_tests::embedded_config(|b| b);
    let app = test::init_service(
        App::new()
            .app_data(config.clone())
            .service(config.endpoints())
            .service(login)
            .service(me)
            .service(admin),
    )
    .await;
    let send = |req: test::TestRequest| app.call(req.to_request());

    // No session.
    let response = send(test::TestRequest::get().uri("/me")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Login in header mode: the tokens come back as headers.
    let response = send(
        test::TestRequest::post()
            .uri("/login")
            .insert_header(("st-auth-mode", "header")),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let access = header(&response, "st-access-token");
    let refresh = header(&response, "st-refresh-token");
    let front = header(&response, "front-token");
    assert!(!access.is_empty() && !refresh.is_empty() && !front.is_empty());
    let bearer = |token: &str| ("authorization", format!("Bearer {token}"));

    // A valid session, a failed claim, a tampered token.
    let response = send(
        test::TestRequest::get()
            .uri("/me")
            .insert_header(bearer(&access)),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = send(
        test::TestRequest::get()
            .uri("/admin")
            .insert_header(bearer(&access)),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let tampered = tamper(&access);
    let response = send(
        test::TestRequest::get()
            .uri("/me")
            .insert_header(bearer(&tampered)),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A refresh, then one with a refresh token that is not one.
    let response = send(
        test::TestRequest::post()
            .uri("/auth/session/refresh")
            .insert_header(bearer(&refresh)),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let new_access = header(&response, "st-access-token");
    let new_refresh = header(&response, "st-refresh-token");
    let response = send(
        test::TestRequest::post()
            .uri("/auth/session/refresh")
            .insert_header(bearer("not-a-refresh-token")),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Verification spans: one per guarded request, in order.
    let verify = capture.spans("sessionward.verify");
    let outcomes: Vec<(&str, &str)> = verify
        .iter()
        .map(|f| {
            (
                f.get("sessionward.outcome").map_or("-", String::as_str),
                f.get("error.type").map_or("-", String::as_str),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("error", "unauthorised"),
            ("ok", "-"),
            ("error", "invalid_claims"),
            ("error", "try_refresh_token"),
        ],
        "{verify:#?}"
    );
    assert_eq!(verify[0]["sessionward.reason"], "no access token");
    assert_eq!(verify[0]["url.path"], "/me");
    assert_eq!(verify[0]["http.request.method"], "GET");
    for ok in [&verify[1], &verify[2]] {
        // Known for a failed claim too: the token itself was valid.
        assert_eq!(ok["user.id"], "alice");
        assert_eq!(ok["sessionward.tenant_id"], "public");
        assert!(!ok["session.id"].is_empty());
    }
    assert_eq!(
        verify[3]["sessionward.reason"],
        "access token failed verification"
    );
    assert!(!verify[3].contains_key("user.id"));
    // A client without a valid session is not a failure of ours.
    assert!(verify.iter().all(|f| !f.contains_key("otel.status_code")));

    // Refresh spans.
    let refreshes = capture.spans("sessionward.refresh");
    assert_eq!(refreshes.len(), 2, "{refreshes:#?}");
    assert_eq!(refreshes[0]["sessionward.outcome"], "ok");
    assert_eq!(refreshes[0]["user.id"], "alice");
    assert_eq!(refreshes[0]["session.id"], verify[1]["session.id"]);
    assert_eq!(refreshes[1]["sessionward.outcome"], "error");
    assert_eq!(refreshes[1]["error.type"], "unauthorised");

    // No token, nor any of its three parts, in any span field or event.
    let secrets: Vec<&str> = [&access, &refresh, &new_access, &new_refresh, &tampered]
        .iter()
        .flat_map(|t| t.split('.'))
        .chain([front.as_str()])
        .filter(|part| part.len() >= 16)
        .collect();
    assert!(secrets.len() >= 8, "{secrets:?}");
    for value in capture.all_values() {
        for secret in &secrets {
            assert!(
                !value.contains(secret),
                "a token reached the traces: {value}"
            );
        }
    }

    // Counters (the tests crate enables sessionward's `metrics` feature).
    assert_eq!(
        counters.get("sessionward_verifications_total{outcome=ok}"),
        1
    );
    for kind in ["unauthorised", "invalid_claims", "try_refresh_token"] {
        assert_eq!(
            counters.get(&format!(
                "sessionward_verifications_total{{outcome={kind}}}"
            )),
            1,
            "{kind}"
        );
    }
    assert_eq!(counters.get("sessionward_refreshes_total{outcome=ok}"), 1);
    assert_eq!(
        counters.get("sessionward_refreshes_total{outcome=unauthorised}"),
        1
    );
    assert_eq!(counters.get("sessionward_sessions_created_total"), 1);

    // One verification-time sample per verification, by outcome.
    let ok_times = counters.samples("sessionward_verification_duration_seconds{outcome=ok}");
    assert_eq!(ok_times.len(), 1);
    assert!(ok_times[0] > 0.0 && ok_times[0] < 60.0, "{ok_times:?}");
    for kind in ["unauthorised", "invalid_claims", "try_refresh_token"] {
        let key = format!("sessionward_verification_duration_seconds{{outcome={kind}}}");
        assert_eq!(counters.samples(&key).len(), 1, "{kind}");
    }
    // The cache (on by default) missed the new token and the tampered one, and hit the second
    // use of the token; the request without a token asked nothing.
    assert_eq!(
        counters.get("sessionward_verified_token_cache_lookups_total{result=miss}"),
        2
    );
    assert_eq!(
        counters.get("sessionward_verified_token_cache_lookups_total{result=hit}"),
        1
    );
    // The signing keys were fetched from the embedded core, without failure.
    assert!(counters.get("sessionward_key_fetches_total{outcome=ok}") >= 1);
    assert_eq!(
        counters.get("sessionward_key_fetches_total{outcome=error}"),
        0
    );
    assert_eq!(
        counters.get("sessionward_core_errors_total{kind=unavailable}"),
        0
    );

    // Every metric was described when the config was built, with its unit.
    let described = counters.described.lock().unwrap().clone();
    for name in [
        "sessionward_verifications_total",
        "sessionward_refreshes_total",
        "sessionward_sessions_created_total",
        "sessionward_verified_token_cache_lookups_total",
        "sessionward_key_fetches_total",
        "sessionward_core_errors_total",
    ] {
        assert_eq!(described.get(name), Some(&Some(Unit::Count)), "{name}");
    }
    assert_eq!(
        described.get("sessionward_verification_duration_seconds"),
        Some(&Some(Unit::Seconds))
    );
}

#[actix_web::test]
async fn core_errors_are_counted_by_kind_and_mark_spans_as_failed() {
    let counters = Counters::default();
    let _metrics = metrics::set_default_local_recorder(&counters);
    let capture = Capture::default();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(capture.clone()));
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let _tracing = tracing::dispatcher::set_default(&dispatch);

    let down = SessionError::from(CoreError::Unavailable("connection refused".into()));
    assert_eq!(down.status_with(401, 403), 503);
    let _ = SessionError::from(CoreError::BadRequest("no such field".into()));
    let _ = SessionError::from(CoreError::Unavailable("timed out".into()));
    assert_eq!(
        counters.get("sessionward_core_errors_total{kind=unavailable}"),
        2
    );
    assert_eq!(
        counters.get("sessionward_core_errors_total{kind=bad_request}"),
        1
    );

    // A verification that fails for our own reason (the key source is down: nothing listens on
    // the core's port) marks its span as an error (the test above: client errors do not).
    let config = SessionConfig::builder()
        .supertokens_core("http://127.0.0.1:9", None)
        .unwrap()
        .build()
        .unwrap();
    let options = VerifyOptions::new(true);
    let vectors = sessionward_tests::AppendixA::load();
    let verified = config
        .get_session_without_request_response(vectors.token("v5"), None, &options)
        .await;
    assert!(
        matches!(verified, Err(SessionError::CoreUnavailable(_))),
        "{verified:?}"
    );
    let spans = capture.spans("sessionward.verify");
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0]["error.type"], "core_unavailable");
    assert_eq!(spans[0]["otel.status_code"], "ERROR");
    assert!(counters.get("sessionward_key_fetches_total{outcome=error}") >= 1);
}
