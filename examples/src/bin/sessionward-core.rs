//! `sessionward-core`: the embedded core served over the Core Driver Interface (CDI 2.7 to
//! 5.5; before 2.21 with v2 access tokens signed by a legacy key of its own), so that
//! supertokens-node, older SDKs speaking CDI 2.x, or sessionward's `CoreClient` can use it as
//! their SuperTokens Core.
//!
//! ```text
//! API_KEY=<20+ characters> cargo run -p sessionward-examples --bin sessionward-core
//! ```
//!
//! Environment (each setting the Java core has also takes the name its docker image reads,
//! in its unit; setting both names to different values refuses to start):
//!
//! | variable | Java core name | default |
//! |---|---|---|
//! | `HOST`: the address to listen on | `SUPERTOKENS_HOST` | `127.0.0.1` |
//! | `PORT` (`0` picks a free port) | `SUPERTOKENS_PORT` | 3567 |
//! | `API_KEY`: keys separated by `,`, each 20 or more letters, digits, `=` or `-` | `API_KEYS` | none: every caller is trusted, allowed only on a loopback `HOST` |
//! | `ACCESS_TOKEN_VALIDITY_SECS` (1 to 86400000) | `ACCESS_TOKEN_VALIDITY` (seconds) | 3600 |
//! | `REFRESH_TOKEN_VALIDITY_SECS` (longer than the access tokens') | `REFRESH_TOKEN_VALIDITY` (**minutes**) | 8640000 s (144000 min) |
//! | — | `ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL` (**hours**, at least 1; also `ACCESS_TOKEN_SIGNING_KEY_UPDATE_INTERVAL`) | 168 |
//! | — | `ACCESS_TOKEN_SIGNING_KEY_DYNAMIC` (`true`/`false`: checked, no effect; before CDI 2.21 the core picks the key of v2 tokens by it, here the legacy key signs them either way) | `true` |
//! | `DATA_DIR` | — | `./core-data` |
//! | `DATABASE_URL` (`postgres://…`: sessions and keys in PostgreSQL instead, shared by every instance on that database; TLS as its `sslmode` and `sslrootcert` say) | `POSTGRESQL_CONNECTION_URI` | none |
//! | `DATABASE_POOL_SIZE`: the most connections to that database (at least 1) | `POSTGRESQL_CONNECTION_POOL_SIZE` | 16 |
//! | `SHUTDOWN_TIMEOUT_SECS` | — | 30 |
//!
//! A new dynamic signing key is published 60 s before it signs, as the core's; with the
//! interval at least an hour (the core's bound) that overlap is never more than a sixtieth of
//! it. Empty values count as unset. It prints `listening on http://<address>` for each bound
//! address, first on stdout.
//!
//! It refuses to start (exit status 1) when `HOST` is not a loopback address and no `API_KEY`
//! is set. `GET /hello` answers `Hello` while the process serves (liveness); `GET /ready`
//! answers 200 once the database answers, 503 otherwise (readiness); other paths answer 404
//! `Not found`, as the core. On SIGTERM (or SIGINT) it stops accepting connections, finishes
//! the requests in flight (for up to `SHUTDOWN_TIMEOUT_SECS`), closes the database and exits 0.
//! It speaks plain HTTP: put TLS in a proxy in front of it.
//!
//! Endpoints: see `sessionward::cdi`.

use std::io;
use std::net::ToSocketAddrs as _;
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use sessionward::{SessionConfig, cdi};
use sessionward_examples::demo::env_or;

#[actix_web::main]
async fn main() -> io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let env = |name: &str| std::env::var(name).ok();
    let settings =
        Settings::read(&env).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let Settings {
        host,
        port,
        api_key,
        access_token_validity,
        refresh_token_validity,
        signing_key_rotation,
        database_url,
        database_pool_size,
    } = settings;
    let api_key = api_key.map(|keys| checked_api_keys(&keys)).transpose()?;
    let shutdown_timeout: u64 = env_or("SHUTDOWN_TIMEOUT_SECS", 30)?;
    let mut builder = SessionConfig::builder()
        .data_dir(env_or("DATA_DIR", String::from("./core-data"))?)
        .access_token_validity(access_token_validity)
        .refresh_token_validity(refresh_token_validity)
        .signing_key_rotation(signing_key_rotation);
    // Several instances behind a load balancer share one PostgreSQL database.
    if let Some(url) = database_url {
        builder = builder.postgres(url);
        if let Some(size) = database_pool_size {
            builder = builder.postgres_pool_size(size);
        }
    }
    let config = builder.build().map_err(io::Error::other)?;
    let open = api_key.is_none();
    if open {
        refuse_a_public_host(&host, port)?;
        tracing::warn!("API_KEY is not set: every local caller is trusted");
    }
    let cdi = cdi::configure(config.core().clone(), api_key);
    // actix-web stops gracefully on SIGTERM and SIGINT: no new connections, the requests in
    // flight finish (for up to the shutdown timeout), then `run` returns.
    let server = HttpServer::new(move || {
        App::new()
            .configure(cdi.clone())
            .default_service(web::to(cdi::not_found))
    })
    .shutdown_timeout(shutdown_timeout)
    .bind((host.as_str(), port))
    .map_err(|e| io::Error::new(e.kind(), format!("HOST={host} PORT={port}: {e}")))?;
    // The first lines on stdout name the bound addresses (PORT=0 picks a free port).
    for addr in server.addrs() {
        println!("listening on http://{addr}");
    }
    server.run().await?;
    // Dropping the last handle on the core stops its maintenance thread and lets the database
    // threads finish their queued work and close the file.
    drop(config);
    tracing::info!("stopped");
    Ok(())
}

/// The settings with two names: sessionward's, and the Java core's environment variable (as
/// its docker image reads them). An empty value counts as unset, as in that image.
#[derive(Debug, PartialEq)]
struct Settings {
    host: String,
    port: u16,
    api_key: Option<String>,
    access_token_validity: Duration,
    refresh_token_validity: Duration,
    signing_key_rotation: Duration,
    /// Holds a password: never printed.
    database_url: Option<String>,
    database_pool_size: Option<usize>,
}

/// A name of a setting and how to read its value (`None`: not valid).
type Name<T> = (&'static str, fn(&str) -> Option<T>);

impl Settings {
    fn read(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let host = one_of(env, &[("HOST", text), ("SUPERTOKENS_HOST", text)])?
            .unwrap_or_else(|| String::from("127.0.0.1"));
        let port = one_of(env, &[("PORT", number), ("SUPERTOKENS_PORT", number)])?.unwrap_or(3567);
        // The core ignores whitespace in its key list.
        let api_key = one_of(env, &[("API_KEY", key_list), ("API_KEYS", key_list)])?;
        let access_token_validity = one_of(
            env,
            &[
                ("ACCESS_TOKEN_VALIDITY_SECS", seconds),
                ("ACCESS_TOKEN_VALIDITY", seconds),
            ],
        )?
        .unwrap_or(Duration::from_secs(3600));
        if !(1..=MAX_ACCESS_TOKEN_VALIDITY_SECS).contains(&access_token_validity.as_secs()) {
            return Err(format!(
                "ACCESS_TOKEN_VALIDITY must be between 1 and {MAX_ACCESS_TOKEN_VALIDITY_SECS} \
                 seconds, as the core requires"
            ));
        }
        let refresh_token_validity = one_of(
            env,
            &[
                ("REFRESH_TOKEN_VALIDITY_SECS", seconds),
                ("REFRESH_TOKEN_VALIDITY", minutes),
            ],
        )?
        .unwrap_or(Duration::from_secs(100 * 24 * 3600));
        if refresh_token_validity <= access_token_validity {
            return Err(
                "REFRESH_TOKEN_VALIDITY must be longer than ACCESS_TOKEN_VALIDITY, as the \
                        core requires"
                    .to_owned(),
            );
        }
        // Only CDI versions before 2.21 read the core's default key type, to pick the key of
        // v2 tokens; here the legacy key signs those, and later versions name the key type in
        // each request. Checked, so that a typo is not silent.
        one_of(env, &[("ACCESS_TOKEN_SIGNING_KEY_DYNAMIC", boolean)])?;
        let signing_key_rotation = one_of(
            env,
            &[
                ("ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL", hours),
                ("ACCESS_TOKEN_SIGNING_KEY_UPDATE_INTERVAL", hours),
            ],
        )?
        .unwrap_or(Duration::from_secs(168 * 3600));
        // The core refuses intervals under an hour: its 60 s publish-before-use overlap then
        // stays a small part of the interval.
        if signing_key_rotation < Duration::from_secs(3600) {
            return Err(
                "ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL must be at least 1 hour, as the \
                 core requires"
                    .to_owned(),
            );
        }
        let database_url = one_of(
            env,
            &[("DATABASE_URL", text), ("POSTGRESQL_CONNECTION_URI", text)],
        )?;
        let database_pool_size = one_of(
            env,
            &[
                ("DATABASE_POOL_SIZE", pool_size),
                ("POSTGRESQL_CONNECTION_POOL_SIZE", pool_size),
            ],
        )?;
        if database_pool_size.is_some() && database_url.is_none() {
            return Err(
                "DATABASE_POOL_SIZE is set without DATABASE_URL: the pool is PostgreSQL's"
                    .to_owned(),
            );
        }
        Ok(Self {
            host,
            port,
            api_key,
            access_token_validity,
            refresh_token_validity,
            signing_key_rotation,
            database_url,
            database_pool_size,
        })
    }
}

/// The core's upper bound on `access_token_validity` (1000 days).
const MAX_ACCESS_TOKEN_VALIDITY_SECS: u64 = 86_400_000;

/// The value of the first set name among `names` (which name one setting): an error when it
/// is not valid, or when another name is set to a different value. Messages never repeat the
/// values (an api key is a secret).
fn one_of<T: PartialEq>(
    env: &dyn Fn(&str) -> Option<String>,
    names: &[Name<T>],
) -> Result<Option<T>, String> {
    let mut found: Option<(&str, T)> = None;
    for (name, parse) in names {
        let Some(raw) = env(name).filter(|value| !value.trim().is_empty()) else {
            continue;
        };
        let value = parse(raw.trim()).ok_or_else(|| format!("{name} is not valid"))?;
        match &found {
            Some((first, earlier)) if *earlier != value => {
                return Err(format!(
                    "{first} and {name} name the same setting but are set to different \
                     values: set only one of them"
                ));
            }
            Some(_) => {}
            None => found = Some((name, value)),
        }
    }
    Ok(found.map(|(_, value)| value))
}

fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

fn number(value: &str) -> Option<u16> {
    value.parse().ok()
}

/// As the core: a pool of at least one connection.
fn pool_size(value: &str) -> Option<usize> {
    value.parse().ok().filter(|&size| size > 0)
}

fn key_list(value: &str) -> Option<String> {
    Some(value.chars().filter(|c| !c.is_whitespace()).collect())
}

fn boolean(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn seconds(value: &str) -> Option<Duration> {
    value.parse().ok().map(Duration::from_secs)
}

/// A positive, possibly fractional number of `unit`s, to the millisecond (as the core).
fn fraction_of(value: &str, unit: Duration) -> Option<Duration> {
    let count: f64 = value.parse().ok()?;
    let ms = count * unit.as_millis() as f64;
    (ms.is_finite() && ms >= 1.0 && ms < u64::MAX as f64).then(|| Duration::from_millis(ms as u64))
}

fn minutes(value: &str) -> Option<Duration> {
    fraction_of(value, Duration::from_secs(60))
}

fn hours(value: &str) -> Option<Duration> {
    fraction_of(value, Duration::from_secs(3600))
}

/// Without an api key every caller is trusted, so `HOST` must name loopback addresses only.
/// A name (`localhost`) counts by every address it resolves to, as the server binds them all;
/// the check comes before binding, so nothing is ever reachable from outside without a key.
fn refuse_a_public_host(host: &str, port: u16) -> io::Result<()> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("HOST={host}: {e}")))?;
    for addr in addrs {
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "HOST={host} would listen on {}, which is not a loopback address: set \
                     API_KEY so that callers must present it",
                    addr.ip()
                ),
            ));
        }
    }
    Ok(())
}

/// The api keys, if every key is one the core would accept.
fn checked_api_keys(keys: &str) -> io::Result<String> {
    for key in keys.split(',').map(str::trim) {
        let allowed = key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'=' || b == b'-');
        if key.len() < 20 || !allowed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "API_KEY (API_KEYS): each key (separated by `,`) needs 20 or more letters, digits, \
                 `=` or `-`",
            ));
        }
    }
    Ok(keys.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::read(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        assert_eq!(
            read(&[]).unwrap(),
            Settings {
                host: "127.0.0.1".into(),
                port: 3567,
                api_key: None,
                access_token_validity: Duration::from_secs(3600),
                refresh_token_validity: Duration::from_secs(8_640_000),
                signing_key_rotation: Duration::from_secs(168 * 3600),
                database_url: None,
                database_pool_size: None,
            }
        );
    }

    #[test]
    fn the_java_cores_names_and_units() {
        let settings = read(&[
            ("SUPERTOKENS_HOST", "0.0.0.0"),
            ("SUPERTOKENS_PORT", "3568"),
            ("API_KEYS", "key-one-0123456789abc, key-two-0123456789abc"),
            ("ACCESS_TOKEN_VALIDITY", "60"),
            ("REFRESH_TOKEN_VALIDITY", "1.5"),
            ("ACCESS_TOKEN_SIGNING_KEY_DYNAMIC", "false"),
            ("ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL", "2.5"),
            ("POSTGRESQL_CONNECTION_URI", "postgres://core:pw@db/core"),
            ("POSTGRESQL_CONNECTION_POOL_SIZE", "10"),
        ])
        .unwrap();
        assert_eq!(
            settings,
            Settings {
                host: "0.0.0.0".into(),
                port: 3568,
                api_key: Some("key-one-0123456789abc,key-two-0123456789abc".into()),
                access_token_validity: Duration::from_secs(60),
                refresh_token_validity: Duration::from_secs(90),
                signing_key_rotation: Duration::from_secs(9000),
                database_url: Some("postgres://core:pw@db/core".into()),
                database_pool_size: Some(10),
            }
        );
        // The older name of the key interval, as the core's config still reads it.
        let older = read(&[("ACCESS_TOKEN_SIGNING_KEY_UPDATE_INTERVAL", "24")]).unwrap();
        assert_eq!(older.signing_key_rotation, Duration::from_secs(86_400));
    }

    #[test]
    fn an_alias_and_its_java_name_must_agree() {
        // The same value under both names (in their own units) is fine; blanks are unset.
        let same = read(&[
            ("REFRESH_TOKEN_VALIDITY_SECS", "7200"),
            ("REFRESH_TOKEN_VALIDITY", "120"),
            ("PORT", "4000"),
            ("SUPERTOKENS_PORT", " 4000 "),
            ("HOST", ""),
        ])
        .unwrap();
        assert_eq!(same.refresh_token_validity, Duration::from_secs(7200));
        for (vars, names) in [
            (
                [
                    ("ACCESS_TOKEN_VALIDITY_SECS", "60"),
                    ("ACCESS_TOKEN_VALIDITY", "61"),
                ],
                "ACCESS_TOKEN_VALIDITY_SECS and ACCESS_TOKEN_VALIDITY",
            ),
            (
                [
                    ("REFRESH_TOKEN_VALIDITY_SECS", "7200"),
                    ("REFRESH_TOKEN_VALIDITY", "7200"),
                ],
                "REFRESH_TOKEN_VALIDITY_SECS and REFRESH_TOKEN_VALIDITY",
            ),
            (
                [
                    ("API_KEY", "secret-key-0123456789abc"),
                    ("API_KEYS", "other-key-0123456789abc"),
                ],
                "API_KEY and API_KEYS",
            ),
            (
                [("HOST", "127.0.0.1"), ("SUPERTOKENS_HOST", "0.0.0.0")],
                "HOST and SUPERTOKENS_HOST",
            ),
            (
                [
                    ("DATABASE_URL", "postgres://a:key-0123456789abc@db/a"),
                    (
                        "POSTGRESQL_CONNECTION_URI",
                        "postgres://b:key-0123456789abc@db/b",
                    ),
                ],
                "DATABASE_URL and POSTGRESQL_CONNECTION_URI",
            ),
        ] {
            let message = read(&vars).unwrap_err();
            assert!(message.starts_with(names), "{message}");
            assert!(!message.contains("key-0123456789abc"), "{message}");
        }
    }

    #[test]
    fn the_cores_bounds() {
        for vars in [
            &[("ACCESS_TOKEN_VALIDITY", "0")][..],
            &[("ACCESS_TOKEN_VALIDITY", "86400001")][..],
            &[
                ("ACCESS_TOKEN_VALIDITY", "3600"),
                ("REFRESH_TOKEN_VALIDITY", "60"),
            ][..],
            &[("ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL", "0.5")][..],
            &[("ACCESS_TOKEN_DYNAMIC_SIGNING_KEY_UPDATE_INTERVAL", "-1")][..],
            &[("REFRESH_TOKEN_VALIDITY", "NaN")][..],
            &[("ACCESS_TOKEN_SIGNING_KEY_DYNAMIC", "yes")][..],
            &[("SUPERTOKENS_PORT", "70000")][..],
            &[
                ("DATABASE_URL", "postgres://db/a"),
                ("DATABASE_POOL_SIZE", "0"),
            ][..],
            &[("DATABASE_POOL_SIZE", "8")][..],
        ] {
            assert!(read(vars).is_err(), "{vars:?}");
        }
    }
}
