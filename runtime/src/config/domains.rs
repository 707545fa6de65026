//! Origins, paths and cookie domains: normalising what the builder is given, and the
//! `SameSite` default that follows from the API and website domains.

use std::net::IpAddr;

use url::{Host, Url};

use super::{ConfigError, SameSite};

/// Parses `origin` as a WHATWG URL (a missing scheme means `http://`); accepts only http(s)
/// with a host and no credentials, and returns `scheme://host[:port]` (lower case, default
/// port and any path dropped, as the SDKs normalise `apiDomain` and `websiteDomain`).
pub(super) fn normalise_origin(origin: &str) -> Result<String, ConfigError> {
    let trimmed = origin.trim();
    let invalid = || ConfigError::InvalidOrigin(trimmed.to_owned());
    let url = parse_with_default_scheme(trimmed).ok_or_else(invalid)?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(invalid());
    }
    Ok(url.origin().ascii_serialization())
}

/// `input` as a URL, with `http://` put before it when it has no scheme (`localhost:3001`
/// would otherwise parse as the scheme `localhost`).
fn parse_with_default_scheme(input: &str) -> Option<Url> {
    if input.contains("://") {
        Url::parse(input).ok()
    } else {
        Url::parse(&format!("http://{input}")).ok()
    }
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

/// A cookie `Domain`: the host of `domain` (which may be a bare host, a host with a leading
/// dot, or a whole URL), lower case. A leading dot is kept, except for localhost and IP
/// addresses, where browsers ignore it.
pub(super) fn normalise_cookie_domain(domain: &str) -> Result<String, ConfigError> {
    let trimmed = domain.trim();
    let invalid = || ConfigError::InvalidCookieDomain(trimmed.to_owned());
    let (dot, rest) = match trimmed.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let url = parse_with_default_scheme(rest).ok_or_else(invalid)?;
    let host = match url.host().ok_or_else(invalid)? {
        Host::Domain(name) if name == "localhost" => return Ok(name.to_owned()),
        Host::Domain(name) => name.to_owned(),
        Host::Ipv4(ip) => return Ok(ip.to_string()),
        Host::Ipv6(ip) => return Ok(ip.to_string()),
    };
    Ok(if dot { format!(".{host}") } else { host })
}

/// The host of a normalised origin.
fn host_of(origin: &str) -> Option<Host> {
    Url::parse(origin).ok()?.host().map(|h| h.to_owned())
}

fn is_local_host(host: &Host) -> bool {
    match host {
        Host::Domain(name) => {
            *name == "localhost" || name.ends_with(".localhost") || name.parse::<IpAddr>().is_ok()
        }
        Host::Ipv4(_) | Host::Ipv6(_) => true,
    }
}

/// Whether a normalised origin is on this machine: localhost, a `.localhost` name or an IP.
pub(super) fn is_local(origin: &str) -> bool {
    host_of(origin).is_some_and(|host| is_local_host(&host))
}

/// The site of a normalised origin, as browsers decide `SameSite`: its registrable domain
/// (eTLD+1 by the public-suffix list, private suffixes such as `github.io` included). A host
/// that is itself a public suffix is its own site, and localhost and IP addresses all count as
/// one site (`localhost`), so a local setup gets `Lax` cookies whatever its ports.
pub(super) fn site_of(origin: &str) -> String {
    let Some(host) = host_of(origin) else {
        return String::new();
    };
    if is_local_host(&host) {
        return "localhost".to_owned();
    }
    let Host::Domain(name) = host else {
        return String::new();
    };
    let name = name.trim_end_matches('.');
    psl::domain_str(name).unwrap_or(name).to_owned()
}

pub(super) fn default_same_site(api: &str, website: &str) -> SameSite {
    let scheme = |o: &str| o.split("://").next().unwrap_or("").to_owned();
    if site_of(api) != site_of(website) || scheme(api) != scheme(website) {
        SameSite::None
    } else {
        SameSite::Lax
    }
}
