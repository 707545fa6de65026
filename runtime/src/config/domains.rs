//! Origins, paths and cookie domains: normalising what the builder is given, and the
//! `SameSite` default that follows from the API and website domains.

use super::{ConfigError, SameSite};

pub(super) fn normalise_origin(origin: &str) -> Result<String, ConfigError> {
    let origin = origin.trim().trim_end_matches('/');
    let origin = if origin.contains("://") {
        origin.to_owned()
    } else {
        format!("http://{origin}")
    };
    let lower = origin.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://"))
        || host_of(&lower).is_empty()
    {
        return Err(ConfigError::InvalidOrigin(origin));
    }
    Ok(lower)
}

pub(super) fn http_status(status: u16) -> Result<u16, ConfigError> {
    if (100..=999).contains(&status) {
        Ok(status)
    } else {
        Err(ConfigError::InvalidStatus(status))
    }
}

pub(super) fn normalise_path(path: &str) -> String {
    let trimmed = path.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    }
}

pub(super) fn normalise_cookie_domain(domain: &str) -> String {
    let d = domain.trim().to_ascii_lowercase();
    let d = d.split("://").last().unwrap_or(&d);
    let host = d.split(['/', ':']).next().unwrap_or(d);
    let bare = host.trim_start_matches('.');
    if bare == "localhost" || bare.parse::<std::net::IpAddr>().is_ok() {
        bare.to_owned()
    } else {
        host.to_owned()
    }
}

pub(super) fn host_of(origin: &str) -> &str {
    let rest = origin.split("://").nth(1).unwrap_or("");
    let authority = rest.split('/').next().unwrap_or("");
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

pub(super) fn is_local(origin: &str) -> bool {
    let host = host_of(origin);
    host == "localhost" || host.ends_with(".localhost") || host.parse::<std::net::IpAddr>().is_ok()
}

/// The site of an origin: localhost and IPs all count as `localhost`; otherwise the last two
/// labels. (The SDKs use the public-suffix list; for multi-label suffixes such as `co.uk`, set
/// `cookie_same_site` explicitly.)
pub(super) fn site_of(origin: &str) -> String {
    if is_local(origin) {
        return "localhost".to_owned();
    }
    let labels: Vec<&str> = host_of(origin).split('.').collect();
    labels[labels.len().saturating_sub(2)..].join(".")
}

pub(super) fn default_same_site(api: &str, website: &str) -> SameSite {
    let scheme = |o: &str| o.split("://").next().unwrap_or("").to_owned();
    if site_of(api) != site_of(website) || scheme(api) != scheme(website) {
        SameSite::None
    } else {
        SameSite::Lax
    }
}
