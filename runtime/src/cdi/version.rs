//! The `cdi-version` header: which versions are served, and what each implies
//! (docs/protocol.md §10.2).
//!
//! As the SuperTokens core reads it: a missing header means the newest version; a value that
//! is not dot-separated decimal numbers is `cdi-version header is invalid`; a version above
//! the newest, or (on endpoints that need one) not exactly one of [`SUPPORTED`], is
//! `cdi-version <value> not supported`.

use std::cmp::Ordering;

use super::input::Reject;
use crate::core::AccessTokenVersion;

/// The CDI versions served, oldest first, exactly as a caller must send them: those the
/// SuperTokens core accepts for the session recipe, up to 5.5. Before 2.21 (2.7 to 2.20) they
/// imply v2 access tokens signed with the legacy key, the handshake endpoint, and that key in
/// the create and verify answers. CDI 2.21 is the first with v3 access tokens and the
/// `useDynamicSigningKey`/`checkDatabase` inputs. CDI 5.6 changes the session semantics
/// (verify without promotion, rotation with a grace window at refresh) and is not served.
pub(crate) const SUPPORTED: &[&str] = &[
    "2.7", "2.8", "2.9", "2.10", "2.11", "2.12", "2.13", "2.14", "2.15", "2.16", "2.17", "2.18",
    "2.19", "2.20", "2.21", "3.0", "3.1", "4.0", "5.0", "5.1", "5.2", "5.3", "5.4", "5.5",
];

/// A served CDI version (major, minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CdiVersion(u32, u32);

impl CdiVersion {
    /// The first version whose answers list the legacy keys (`jwtSigningPublicKeyList`).
    pub(crate) const V2_9: Self = Self(2, 9);
    /// The first version with v3 tokens, without the handshake and the legacy key.
    pub(crate) const V2_21: Self = Self(2, 21);
    /// The first version with multitenancy (`tenantId`, tenant path prefixes) and v4 tokens.
    pub(crate) const V3_0: Self = Self(3, 0);
    /// The first version with account linking (`recipeUserId`) and v5 tokens.
    pub(crate) const V4_0: Self = Self(4, 0);
    /// The first version that requires `useDynamicSigningKey` in refresh.
    pub(crate) const V5_0: Self = Self(5, 0);
    /// The newest version served: what a request without the header gets.
    pub(crate) const LATEST: Self = Self(5, 5);

    /// The access tokens the core mints for callers of this version.
    pub(crate) fn access_token_version(self) -> AccessTokenVersion {
        if self >= Self::V4_0 {
            AccessTokenVersion::V5
        } else if self >= Self::V3_0 {
            AccessTokenVersion::V4
        } else if self >= Self::V2_21 {
            AccessTokenVersion::V3
        } else {
            AccessTokenVersion::V2
        }
    }
}

/// What a `cdi-version` header says, before the supported-version check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requested {
    /// One of [`SUPPORTED`] (or no header: [`CdiVersion::LATEST`]).
    Served(CdiVersion),
    /// A well-formed version at most [`CdiVersion::LATEST`] that is not served, as sent.
    Unserved(String),
}

impl Requested {
    /// Reads the header: `Err` for a malformed value or one above the newest version.
    pub(crate) fn parse(header: Option<&[u8]>) -> Result<Self, Reject> {
        let Some(raw) = header else {
            return Ok(Self::Served(CdiVersion::LATEST));
        };
        let text = std::str::from_utf8(raw)
            .map_err(|_| invalid())?
            .trim_matches(|c: char| c == ' ' || c == '\t');
        let parts: Vec<&str> = text.split('.').collect();
        if parts
            .iter()
            .any(|part| part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid());
        }
        // Numbers too large for the core's parser are above every version.
        let numbers: Vec<u64> = parts
            .iter()
            .map(|part| part.parse().unwrap_or(u64::MAX))
            .collect();
        if compare(&numbers, &[5, 5]) == Ordering::Greater {
            return Err(not_supported(text));
        }
        if SUPPORTED.contains(&text) {
            let number = |i: usize| u32::try_from(numbers[i]).unwrap_or(u32::MAX);
            return Ok(Self::Served(CdiVersion(number(0), number(1))));
        }
        Ok(Self::Unserved(text.to_owned()))
    }

    /// The served version, or `cdi-version <value> not supported`.
    pub(crate) fn served(self) -> Result<CdiVersion, Reject> {
        match self {
            Self::Served(version) => Ok(version),
            Self::Unserved(text) => Err(not_supported(&text)),
        }
    }

    /// The version the request is handled as: its own when served, else (on endpoints that
    /// need no version) the newest.
    pub(crate) fn or_latest(&self) -> CdiVersion {
        match self {
            Self::Served(version) => *version,
            Self::Unserved(_) => CdiVersion::LATEST,
        }
    }
}

/// Compares dotted versions, missing parts counting as 0 (`5.5` = `5.5.0`).
fn compare(a: &[u64], b: &[u64]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            x.cmp(&y)
        })
        .find(|ordering| ordering.is_ne())
        .unwrap_or(Ordering::Equal)
}

fn invalid() -> Reject {
    Reject::bad_request("cdi-version header is invalid")
}

fn not_supported(text: &str) -> Reject {
    Reject::bad_request(format!("cdi-version {text} not supported"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(header: &str) -> Result<Requested, String> {
        Requested::parse(Some(header.as_bytes())).map_err(|reject| reject.message().to_owned())
    }

    #[test]
    fn served_versions_and_the_tokens_they_imply() {
        assert_eq!(
            Requested::parse(None).unwrap(),
            Requested::Served(CdiVersion::LATEST)
        );
        let minted = |header: &str| {
            let Ok(Requested::Served(version)) = parse(header) else {
                panic!("{header} is served");
            };
            version.access_token_version().number()
        };
        for (header, token) in [
            ("2.7", 2),
            ("2.9", 2),
            ("2.10", 2),
            ("2.20", 2),
            ("2.21", 3),
            ("3.0", 4),
            ("3.1", 4),
            ("4.0", 5),
            ("5.0", 5),
            ("5.4", 5),
            (" 5.5 ", 5),
        ] {
            assert_eq!(minted(header), token, "{header}");
        }
        assert!(CdiVersion(2, 21) < CdiVersion::V3_0);
        // Numeric, not textual: 2.10 comes after 2.9.
        assert!(CdiVersion(2, 9) < CdiVersion(2, 10));
        assert!(CdiVersion(2, 20) < CdiVersion::V2_21);
        assert!(CdiVersion(3, 1) < CdiVersion::V4_0);
    }

    #[test]
    fn malformed_too_new_and_unserved_versions() {
        for header in ["", "5.", ".5", "5..4", "v5.4", "5.4-beta", "5,4", "٥.٤"] {
            assert_eq!(
                parse(header).unwrap_err(),
                "cdi-version header is invalid",
                "{header:?}"
            );
        }
        for header in ["5.6", "6", "5.5.1", "9.9", "99999999999999999999.0"] {
            assert_eq!(
                parse(header).unwrap_err(),
                format!("cdi-version {header} not supported")
            );
        }
        for header in ["2.6", "2.0", "1.0", "5.4.0", "05.4", "5", "2.07", "2.21.0"] {
            let requested = parse(header).unwrap();
            assert_eq!(requested.or_latest(), CdiVersion::LATEST);
            assert_eq!(
                requested.served().unwrap_err().message(),
                format!("cdi-version {header} not supported")
            );
        }
        assert_eq!(
            Requested::parse(Some(b"\xff")).unwrap_err().message(),
            "cdi-version header is invalid"
        );
    }
}
