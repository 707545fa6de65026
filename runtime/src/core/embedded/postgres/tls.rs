//! TLS to PostgreSQL: rustls on aws-lc-rs (the crypto backend of the rest of the crate), through
//! `tokio-postgres-rustls`, which also gives SCRAM its channel binding.
//!
//! * `sslmode` is honoured as tokio-postgres reads it: `disable` connects without TLS, `prefer`
//!   (the default) uses TLS when the server offers it, `require` uses TLS or fails. libpq's
//!   `verify-ca` and `verify-full` are read as `require`: every TLS connection is verified
//!   anyway.
//! * Whenever TLS is used, the server's certificate must chain to a trusted CA and name the
//!   host connected to (its DNS name or IP address). This is stricter than libpq, whose
//!   `prefer` and `require` encrypt without checking the certificate; an unverified mode is
//!   deliberately not offered, since it only guards against eavesdroppers who cannot also
//!   answer in the server's place.
//! * Trusted CAs: those given explicitly (the libpq-style `sslrootcert=<file>` URL parameter,
//!   which tokio-postgres does not read, and `SessionConfigBuilder::postgres_root_certificate`)
//!   and only those, as libpq trusts only `sslrootcert`'s; without any, the platform's CA
//!   certificates (`rustls-native-certs`, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`).
//!   `sslrootcert=system` names the platform's explicitly.
//! * The TLS client offers the ALPN protocol `postgresql`, as libpq does: PostgreSQL 17
//!   requires it for `sslnegotiation=direct`, and servers without ALPN ignore it.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The URL parameter naming a file of trusted CA certificates (PEM).
const ROOT_CERT_PARAM: &str = "sslrootcert";
/// `sslrootcert=system`: the platform's CA certificates (as in libpq).
const SYSTEM_ROOTS: &str = "system";

/// A connection string without the TLS parameters that tokio-postgres does not read.
#[derive(Debug)]
pub(crate) struct SplitUrl {
    /// What `tokio_postgres::Config` parses: the string as given, less `sslrootcert`, with
    /// `sslmode=verify-ca`/`verify-full` as `require`.
    pub(crate) client: String,
    /// The `sslrootcert` file, unless absent or `system`.
    pub(crate) root_cert_file: Option<PathBuf>,
}

/// Takes `sslrootcert` out of `url` (a `postgres://` URL or a `key=value` string) and rewrites
/// libpq's verifying `sslmode`s; anything else is left for tokio-postgres to read (and to
/// refuse). A string this cannot read is returned unchanged, for tokio-postgres's error.
pub(crate) fn split_url(url: &str) -> SplitUrl {
    let split = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_uri(url)
    } else {
        split_key_values(url)
    };
    split.unwrap_or_else(|| SplitUrl {
        client: url.to_owned(),
        root_cert_file: None,
    })
}

/// The URI form. The query starts at the first `?` after the first `@` (or after the scheme
/// without one), where tokio-postgres's parser finds it; each `&`-separated `key=value` has
/// percent-encoded parts.
fn split_uri(url: &str) -> Option<SplitUrl> {
    let after_credentials = url.find('@').map_or(0, |at| at + 1);
    let Some(start) = url[after_credentials..]
        .find('?')
        .map(|q| after_credentials + q)
    else {
        return Some(SplitUrl {
            client: url.to_owned(),
            root_cert_file: None,
        });
    };
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in url[start + 1..].split('&') {
        let (key, value) = pair.split_once('=')?;
        let key = percent_encoding::percent_decode_str(key)
            .decode_utf8()
            .ok()?;
        let value = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .ok()?;
        match key.as_ref() {
            ROOT_CERT_PARAM => root_cert = Some(value.into_owned()),
            "sslmode" if verifies(&value) => kept.push("sslmode=require"),
            _ => kept.push(pair),
        }
    }
    let mut client = url[..start].to_owned();
    if !kept.is_empty() {
        client.push('?');
        client.push_str(&kept.join("&"));
    }
    Some(SplitUrl {
        client,
        root_cert_file: root_cert_file(root_cert),
    })
}

/// The `key=value` form, read as tokio-postgres (and libpq) read it: whitespace-separated
/// pairs, values optionally single-quoted, `\` escaping the next character. Rewritten with
/// every value quoted when something was taken out or changed.
fn split_key_values(url: &str) -> Option<SplitUrl> {
    let pairs = key_values(url)?;
    if !pairs
        .iter()
        .any(|(key, value)| *key == ROOT_CERT_PARAM || (*key == "sslmode" && verifies(value)))
    {
        return Some(SplitUrl {
            client: url.to_owned(),
            root_cert_file: None,
        });
    }
    let mut root_cert = None;
    let mut kept = Vec::new();
    for (key, value) in pairs {
        match key {
            ROOT_CERT_PARAM => root_cert = Some(value),
            "sslmode" if verifies(&value) => kept.push("sslmode='require'".to_owned()),
            _ => {
                let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
                kept.push(format!("{key}='{quoted}'"));
            }
        }
    }
    Some(SplitUrl {
        client: kept.join(" "),
        root_cert_file: root_cert_file(root_cert),
    })
}

/// The `(key, value)` pairs of a `key=value` string, `None` if it is malformed.
fn key_values(s: &str) -> Option<Vec<(&str, String)>> {
    let mut pairs = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let end = rest.find(|c: char| c.is_whitespace() || c == '=')?;
        let key = &rest[..end];
        rest = rest[end..].trim_start().strip_prefix('=')?.trim_start();
        let quoted = rest.starts_with('\'');
        if quoted {
            rest = &rest[1..];
        }
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let mut end = rest.len();
        let mut closed = false;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
                '\'' if quoted => {
                    end = i + 1;
                    closed = true;
                    break;
                }
                c if !quoted && c.is_whitespace() => {
                    end = i;
                    break;
                }
                c => value.push(c),
            }
        }
        if key.is_empty() || quoted != closed || (!quoted && value.is_empty()) {
            return None;
        }
        pairs.push((key, value));
        rest = rest[end..].trim_start();
    }
    Some(pairs)
}

/// libpq's `sslmode`s that verify the server's certificate, which tokio-postgres does not know.
fn verifies(sslmode: &str) -> bool {
    matches!(sslmode, "verify-ca" | "verify-full")
}

fn root_cert_file(value: Option<String>) -> Option<PathBuf> {
    value.filter(|v| v != SYSTEM_ROOTS).map(PathBuf::from)
}

/// The CA certificates of a PEM document (`what` names it in errors).
pub(crate) fn pem_certificates(pem: &[u8], what: &str) -> io::Result<Vec<CertificateDer<'static>>> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidInput, message);
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(format!("{what}: unreadable PEM: {error}")))?;
    if certificates.is_empty() {
        return Err(invalid(format!("{what}: no PEM certificate in it")));
    }
    Ok(certificates)
}

/// The CA certificates of the `sslrootcert` file.
pub(crate) fn read_root_cert_file(
    path: &std::path::Path,
) -> io::Result<Vec<CertificateDer<'static>>> {
    let what = format!("{ROOT_CERT_PARAM} {}", path.display());
    let pem = std::fs::read(path)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {error}")))?;
    pem_certificates(&pem, &what)
}

/// The TLS connector of the store: trusting `roots` if any are given, else the platform's CA
/// certificates. `load_platform` is false when TLS is never used (`sslmode=disable`), so that
/// the platform's certificates are not read for nothing.
pub(crate) fn connector(
    roots: Vec<CertificateDer<'static>>,
    load_platform: bool,
) -> io::Result<MakeRustlsConnect> {
    let mut store = rustls::RootCertStore::empty();
    if roots.is_empty() {
        if load_platform {
            let native = rustls_native_certs::load_native_certs();
            if !native.errors.is_empty() {
                // Some platform certificates could not be read; the rest still serve.
                tracing::warn!(
                    errors = native.errors.len(),
                    first = %native.errors[0],
                    "some of the platform's CA certificates could not be read"
                );
            }
            let (added, ignored) = store.add_parsable_certificates(native.certs);
            if ignored > 0 {
                tracing::warn!(
                    ignored,
                    "some of the platform's CA certificates are unusable"
                );
            }
            if added == 0 {
                tracing::warn!(
                    "no CA certificates found on this platform: TLS connections to PostgreSQL \
                     will fail unless sslrootcert names the server's CA"
                );
            }
        }
    } else {
        for root in roots {
            store.add(root).map_err(|error| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unusable CA certificate for PostgreSQL: {error}"),
                )
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(MakeRustlsConnect::new(config))
}

/// What to do about a connection error caused by the server's certificate, if it was.
pub(crate) fn certificate_hint(error: &tokio_postgres::Error) -> Option<&'static str> {
    let mut source = std::error::Error::source(error);
    while let Some(error) = source {
        let rustls_error = error
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .or_else(|| error.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(_)) = rustls_error {
            return Some(
                "the server's certificate must chain to a trusted CA (those of \
                 sslrootcert=<file> or postgres_root_certificate, else the platform's) and name \
                 the host connected to; sslmode=disable connects without TLS",
            );
        }
        source = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, Option<String>) {
        let split = split_url(url);
        let file = split
            .root_cert_file
            .map(|path| path.to_string_lossy().into_owned());
        (split.client, file)
    }

    #[test]
    fn sslrootcert_is_taken_out_of_a_uri() {
        assert_eq!(
            split("postgres://app:pw@db:5432/x?sslmode=require&sslrootcert=%2Fetc%2Fca%20b.pem"),
            (
                "postgres://app:pw@db:5432/x?sslmode=require".to_owned(),
                Some("/etc/ca b.pem".to_owned())
            )
        );
        assert_eq!(
            split("postgresql://db/x?sslrootcert=/ca.pem"),
            ("postgresql://db/x".to_owned(), Some("/ca.pem".to_owned()))
        );
        assert_eq!(
            split("postgres://db/x?sslrootcert=system&application_name=a%26b"),
            ("postgres://db/x?application_name=a%26b".to_owned(), None)
        );
        // A `?` in the password is not the query.
        assert_eq!(
            split("postgres://app:p?w@db/x?sslrootcert=/ca.pem&sslmode=verify-full"),
            (
                "postgres://app:p?w@db/x?sslmode=require".to_owned(),
                Some("/ca.pem".to_owned())
            )
        );
        // Nothing to take out: unchanged.
        for url in [
            "postgres://db/x",
            "postgres://db/x?sslmode=disable",
            "postgres://db/x?bad",
        ] {
            assert_eq!(split(url), (url.to_owned(), None));
        }
    }

    #[test]
    fn sslrootcert_is_taken_out_of_key_values() {
        let (client, file) =
            split("host=db password='p w\\'x' sslrootcert = '/my ca.pem' sslmode=verify-ca");
        assert_eq!(file.as_deref(), Some("/my ca.pem"));
        let config: tokio_postgres::Config = client.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"p w'x"[..]));
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        );
        // Nothing to take out, or unreadable: unchanged.
        for s in ["host=db sslmode=disable", "host=db password='open", "host"] {
            assert_eq!(split(s), (s.to_owned(), None));
        }
    }

    #[test]
    fn verify_modes_read_as_require() {
        for mode in ["verify-ca", "verify-full"] {
            let client = split_url(&format!("postgres://db/x?sslmode={mode}")).client;
            let config: tokio_postgres::Config = client.parse().unwrap();
            assert_eq!(
                config.get_ssl_mode(),
                tokio_postgres::config::SslMode::Require
            );
        }
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        let error = pem_certificates(b"not a certificate", "test").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("no PEM certificate"), "{error}");
    }
}
