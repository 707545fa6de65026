//! Config defaults and validation.

use super::domains::{
    default_same_site, normalise_cookie_domain, normalise_origin, normalise_path,
};
use super::*;

#[test]
fn same_site_defaults() {
    assert_eq!(
        default_same_site("http://localhost:3001", "http://localhost:3000"),
        SameSite::Lax
    );
    assert_eq!(
        default_same_site("https://api.example.com", "https://example.com"),
        SameSite::Lax
    );
    assert_eq!(
        default_same_site("https://api.example.com", "https://example.org"),
        SameSite::None
    );
    assert_eq!(
        default_same_site("http://127.0.0.1:3001", "https://localhost"),
        SameSite::None
    );
}

#[test]
fn cookie_domain_normalisation() {
    assert_eq!(normalise_cookie_domain(" .Example.com "), ".example.com");
    assert_eq!(
        normalise_cookie_domain("https://example.com:443/x"),
        "example.com"
    );
    assert_eq!(normalise_cookie_domain(".localhost"), "localhost");
}

#[test]
fn paths_and_origins() {
    assert_eq!(normalise_path("auth/"), "/auth");
    assert_eq!(
        normalise_origin("localhost:3001").unwrap(),
        "http://localhost:3001"
    );
    assert!(matches!(
        normalise_origin("ftp://x"),
        Err(ConfigError::InvalidOrigin(_))
    ));
}

#[test]
fn no_core_is_a_clear_error() {
    let err = SessionConfig::builder().build().unwrap_err();
    assert!(err.to_string().contains("data_dir"));
}

#[test]
fn equal_statuses_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let err = SessionConfig::builder()
        .data_dir(dir.path())
        .session_expired_status(403u16)
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::SameStatuses));
    let err = SessionConfig::builder()
        .data_dir(dir.path())
        .invalid_claim_status(42u16)
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidStatus(42)));
}
