//! Config defaults and validation.

use super::domains::{
    default_same_site, normalise_cookie_domain, normalise_origin, normalise_path, site_of,
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
    assert_eq!(
        default_same_site("http://127.0.0.1:3001", "http://app.localhost:3000"),
        SameSite::Lax
    );
}

#[test]
fn same_site_follows_the_public_suffix_list() {
    // `co.uk` is one public suffix: both hosts are under the registrable domain example.co.uk.
    assert_eq!(
        default_same_site("https://api.example.co.uk", "https://www.example.co.uk"),
        SameSite::Lax
    );
    // The last two labels (`co.uk`) agree, but the registrable domains differ.
    assert_eq!(
        default_same_site("https://api.example.co.uk", "https://www.other.co.uk"),
        SameSite::None
    );
    // `github.io` is a private suffix: each user's pages are a site of their own.
    assert_eq!(
        default_same_site("https://a.github.io", "https://b.github.io"),
        SameSite::None
    );
    assert_eq!(
        default_same_site("https://api.a.github.io", "https://a.github.io"),
        SameSite::Lax
    );
    // A host that is itself a public suffix is its own site.
    assert_eq!(
        default_same_site("https://github.io", "https://a.github.io"),
        SameSite::None
    );
    // Same site, other scheme: cross-site for cookies.
    assert_eq!(
        default_same_site("http://api.example.co.uk", "https://example.co.uk"),
        SameSite::None
    );
}

#[test]
fn sites_the_list_does_not_settle() {
    // A public suffix is its own site; an unknown suffix takes the list's default rule.
    assert_eq!(site_of("https://github.io"), "github.io");
    assert_eq!(site_of("http://app.example.local"), "example.local");
    assert_eq!(site_of("http://[::1]:3001"), "localhost");
    assert_eq!(site_of("https://API.Example.CO.UK"), "example.co.uk");
}

#[test]
fn cookie_domain_normalisation() {
    let domain = |d: &str| normalise_cookie_domain(d).unwrap();
    assert_eq!(domain(" .Example.com "), ".example.com");
    assert_eq!(domain("https://example.com:443/x"), "example.com");
    assert_eq!(domain(".localhost"), "localhost");
    assert_eq!(domain(".127.0.0.1"), "127.0.0.1");
    assert!(matches!(
        normalise_cookie_domain("exa mple.com"),
        Err(ConfigError::InvalidCookieDomain(_))
    ));
}

#[test]
fn paths_and_origins() {
    assert_eq!(normalise_path("auth/"), "/auth");
    assert_eq!(
        normalise_origin("localhost:3001").unwrap(),
        "http://localhost:3001"
    );
    assert_eq!(
        normalise_origin(" HTTPS://API.Example.com:443/some/path/ ").unwrap(),
        "https://api.example.com"
    );
    assert_eq!(
        normalise_origin("http://[::1]:3001").unwrap(),
        "http://[::1]:3001"
    );
    for bad in [
        "ftp://x",
        "http://",
        "https://user:pw@example.com",
        "http://exa mple.com",
    ] {
        assert!(
            matches!(normalise_origin(bad), Err(ConfigError::InvalidOrigin(_))),
            "{bad}"
        );
    }
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
