//! The metrics sessionward reports through the [`metrics`](https://docs.rs/metrics) facade
//! (feature `metrics`): their names, descriptions and units, and one function per event.
//! Without the feature every function is empty and compiles away.
//!
//! This module imports nothing of the crate, so any layer may report.

#[cfg(feature = "metrics")]
use std::time::Duration;

/// Counter of verifications, labelled `outcome` (`ok`, `no_session` or an error kind).
#[cfg(feature = "metrics")]
pub(crate) const VERIFICATIONS: &str = "sessionward_verifications_total";
/// Histogram of how long verifications took, in seconds, labelled `outcome`.
#[cfg(feature = "metrics")]
pub(crate) const VERIFICATION_DURATION: &str = "sessionward_verification_duration_seconds";
/// Counter of refresh calls, labelled `outcome` (`ok` or an error kind).
#[cfg(feature = "metrics")]
pub(crate) const REFRESHES: &str = "sessionward_refreshes_total";
/// Counter of sessions created.
#[cfg(feature = "metrics")]
pub(crate) const SESSIONS_CREATED: &str = "sessionward_sessions_created_total";
/// Counter of verified-token cache lookups, labelled `result` (`hit` or `miss`).
#[cfg(feature = "metrics")]
pub(crate) const CACHE_LOOKUPS: &str = "sessionward_verified_token_cache_lookups_total";
/// Counter of signing-key (JWKS) fetches, labelled `outcome` (`ok` or `error`).
#[cfg(feature = "metrics")]
pub(crate) const KEY_FETCHES: &str = "sessionward_key_fetches_total";
/// Counter of errors from the session core, labelled `kind` (`unavailable`, `bad_request`,
/// `internal`).
#[cfg(feature = "metrics")]
pub(crate) const CORE_ERRORS: &str = "sessionward_core_errors_total";

/// Describes every metric (help text and unit) to the installed recorder. Recorders keep
/// descriptions that arrive before or after the first sample; describing twice is harmless.
#[cfg(feature = "metrics")]
pub(crate) fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(
        VERIFICATIONS,
        Unit::Count,
        "Session verifications, by outcome (ok, no_session or the error kind)."
    );
    describe_histogram!(
        VERIFICATION_DURATION,
        Unit::Seconds,
        "Time to verify a request's session (token, signature or cache, core, claims)."
    );
    describe_counter!(
        REFRESHES,
        Unit::Count,
        "Calls of the refresh endpoint, by outcome (ok or the error kind)."
    );
    describe_counter!(SESSIONS_CREATED, Unit::Count, "Sessions created.");
    describe_counter!(
        CACHE_LOOKUPS,
        Unit::Count,
        "Verified-token cache lookups, by result (hit or miss)."
    );
    describe_counter!(
        KEY_FETCHES,
        Unit::Count,
        "Fetches of the core's signing keys (JWKS), by outcome (ok or error)."
    );
    describe_counter!(
        CORE_ERRORS,
        Unit::Count,
        "Errors of calls to the session core, by kind (unavailable, bad_request, internal)."
    );
}

/// Without the feature there is nothing to describe.
#[cfg(not(feature = "metrics"))]
pub(crate) fn describe() {}

/// A verification ended with `outcome` (`ok`, `no_session` or an error kind) after `took`.
#[cfg(feature = "metrics")]
pub(crate) fn verification(outcome: &'static str, took: Duration) {
    metrics::counter!(VERIFICATIONS, "outcome" => outcome).increment(1);
    metrics::histogram!(VERIFICATION_DURATION, "outcome" => outcome).record(took.as_secs_f64());
}

/// A refresh call ended with `outcome` (`ok` or an error kind).
pub(crate) fn refresh(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(REFRESHES, "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// A session was created.
pub(crate) fn session_created() {
    #[cfg(feature = "metrics")]
    metrics::counter!(SESSIONS_CREATED).increment(1);
}

/// A verified-token cache lookup found a usable entry (`hit`) or not.
pub(crate) fn cache_lookup(hit: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(CACHE_LOOKUPS, "result" => if hit { "hit" } else { "miss" }).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = hit;
}

/// A fetch of the signing keys succeeded or failed.
pub(crate) fn key_fetch(ok: bool) {
    #[cfg(feature = "metrics")]
    metrics::counter!(KEY_FETCHES, "outcome" => if ok { "ok" } else { "error" }).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = ok;
}

/// A call to the session core failed with an error of `kind`.
pub(crate) fn core_error(kind: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(CORE_ERRORS, "kind" => kind).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}
