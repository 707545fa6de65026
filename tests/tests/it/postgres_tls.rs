//! TLS to PostgreSQL (`sslmode`, `sslrootcert`, `SessionConfigBuilder::postgres_root_certificate`)
//! against real servers: a cluster of the test's own with TLS on, whose `pg_hba.conf` admits TCP
//! clients only over TLS (`scripts/pg.sh start --tls`), with a throwaway CA and server
//! certificate made here; and the shared test server, which runs without TLS.
//!
//! Like the other PostgreSQL tests they need `SESSIONWARD_TEST_DATABASE_URL` (and the server
//! binaries `scripts/pg.sh` uses); without it they print that they were skipped and pass.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use serde_json::json;
use sessionward::{ConfigError, SessionConfig, SessionConfigBuilder, SessionError, VerifyOptions};
use sessionward_tests::{PgCluster, fresh_database, postgres_available};

/// A password in the test URLs: the clusters trust every local client, so the server never
/// asks for it, and it must not show up in any error.
const PASSWORD: &str = "tls-test-Pa55word";

/// A CA and a certificate it signed, in PEM.
struct Pki {
    ca: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let ca = params.self_signed(&key).expect("CA certificate").pem();
        Self {
            ca,
            issuer: Issuer::new(params, key),
        }
    }

    /// `(certificate, key)` of a server known as `names` (DNS names or IP addresses).
    fn server(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let params = CertificateParams::new(names).expect("server params");
        let key = KeyPair::generate().expect("server key");
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        (certificate.pem(), key.serialize_pem())
    }
}

/// A cluster with TLS on and only TLS accepted over TCP, removed on drop.
struct TlsCluster {
    _cluster: PgCluster,
    dir: PathBuf,
    port: u16,
}

impl TlsCluster {
    fn start(certificate: &str, key: &str) -> Self {
        let files = tempfile::tempdir().expect("a temporary directory");
        let (cert_path, key_path) = (
            files.path().join("server.crt"),
            files.path().join("server.key"),
        );
        std::fs::write(&cert_path, certificate).unwrap();
        std::fs::write(&key_path, key).unwrap();
        let cluster = PgCluster::start(&[
            "--tls",
            cert_path.to_str().unwrap(),
            key_path.to_str().unwrap(),
        ]);
        let url = url::Url::parse(&cluster.url).expect("a URL");
        Self {
            dir: cluster.dir.clone(),
            port: url.port().expect("a port"),
            _cluster: cluster,
        }
    }

    /// `postgres://postgres:<PASSWORD>@<host>:<port>/postgres?<query>`.
    fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@{host}:{}/postgres?{query}",
            self.port
        )
    }

    /// Runs `sql` over the Unix socket (which needs no TLS) and returns the first column of
    /// each row as text.
    async fn admin(&self, sql: &str) -> Vec<String> {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.dir)
            .port(self.port)
            .user("postgres")
            .dbname("postgres");
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect over the Unix socket");
        let connection = tokio::spawn(connection);
        let rows = client.simple_query(sql).await.expect(sql);
        drop(client);
        let _ = connection.await;
        rows.iter()
            .filter_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => {
                    Some(row.get(0).unwrap_or_default().to_owned())
                }
                _ => None,
            })
            .collect()
    }

    /// Serves `certificate` and `key` from now on (to new connections), and closes the
    /// store's open connections so that the next call makes a new one.
    async fn replace_certificate(&self, certificate: &str, key: &str) {
        std::fs::write(self.dir.join("server.crt"), certificate).unwrap();
        std::fs::write(self.dir.join("server.key"), key).unwrap();
        assert_eq!(self.admin("SELECT pg_reload_conf()").await, ["t"]);
        self.admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'sessionward'",
        )
        .await;
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// Builds a config on `url` off the test's runtime (`build` blocks on the database).
async fn build(
    url: String,
    customise: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder + Send + 'static,
) -> Result<SessionConfig, ConfigError> {
    tokio::task::spawn_blocking(move || {
        customise(
            SessionConfig::builder()
                .api_domain("http://localhost:3001")
                .website_domain("http://localhost:3000")
                .database_busy_timeout(Duration::from_secs(5))
                .postgres(url),
        )
        .build()
    })
    .await
    .unwrap()
}

/// The message of a config that must fail, after checking it keeps the password out.
async fn build_error(
    url: String,
    customise: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder + Send + 'static,
) -> String {
    let error = match build(url, customise).await {
        Ok(_) => panic!("the config was built"),
        Err(error) => error,
    };
    assert!(matches!(error, ConfigError::Postgres { .. }), "{error:?}");
    let message = error.to_string();
    for shown in [&message, &format!("{error:?}")] {
        assert!(!shown.contains(PASSWORD), "the password leaked: {shown}");
    }
    message
}

async fn verify(config: &SessionConfig, access: &str) -> Result<(), SessionError> {
    config
        .get_session_without_request_response(
            access,
            None,
            &VerifyOptions::new(true).check_database(true),
        )
        .await
        .map(|session| assert!(session.is_some(), "a session"))
}

/// Creates, verifies (in the database), refreshes and revokes a session.
async fn lifecycle(config: &SessionConfig) {
    let session = config
        .create_new_session_without_request_response("public", "alice", json!({}), json!({}), true)
        .await
        .expect("create");
    let tokens = session.get_all_session_tokens_dangerously();
    verify(config, &tokens.access_token).await.expect("verify");
    let refreshed = config
        .refresh_session_without_request_response(
            &tokens.refresh_token.expect("a refresh token"),
            true,
            None,
        )
        .await
        .expect("refresh");
    let access = refreshed.get_all_session_tokens_dangerously().access_token;
    verify(config, &access).await.expect("verify the new token");
    refreshed.revoke_session().await.expect("revoke");
    assert!(
        matches!(
            verify(config, &access).await,
            Err(SessionError::Unauthorised { .. })
        ),
        "a revoked session no longer verifies"
    );
}

#[actix_web::test]
async fn tls_to_a_server_that_accepts_only_tls() {
    if !postgres_available("tls_to_a_server_that_accepts_only_tls") {
        return;
    }
    let pki = Pki::new("sessionward test CA");
    let stranger = Pki::new("another CA");
    let (certificate, key) = pki.server(&["localhost", "127.0.0.1"]);
    let cluster = tokio::task::spawn_blocking(move || TlsCluster::start(&certificate, &key))
        .await
        .unwrap();
    let files = tempfile::tempdir().unwrap();
    let ca = write(files.path(), "ca.pem", &pki.ca);
    let other_ca = write(files.path(), "other-ca.pem", &stranger.ca);

    // require with the CA in sslrootcert, by IP address and by name: the whole lifecycle.
    let mut configs = Vec::new();
    for host in ["127.0.0.1", "localhost"] {
        let url = cluster.url(host, &format!("sslmode=require&sslrootcert={ca}"));
        let config = build(url, |b| b).await.expect("a config over TLS");
        lifecycle(&config).await;
        configs.push(config);
    }
    // The store's connections are the ones pg_stat_ssl shows as TLS (the server admits no
    // other over TCP, which the `sslmode=disable` case below shows).
    let tls_flags = cluster
        .admin(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'sessionward'",
        )
        .await;
    assert!(!tls_flags.is_empty(), "the store holds connections");
    assert!(tls_flags.iter().all(|flag| flag == "t"), "{tls_flags:?}");
    drop(configs);

    // Without sslmode (prefer), TLS is used because the server offers it; a key=value string
    // takes sslrootcert too; libpq's verify-full is accepted; the CA may come from the builder.
    let prefer = cluster.url("127.0.0.1", &format!("sslrootcert={ca}"));
    lifecycle(&build(prefer, |b| b).await.expect("prefer")).await;
    let key_values = format!(
        "host=localhost port={} user=postgres password='{PASSWORD}' dbname=postgres \
         sslmode=require sslrootcert='{ca}'",
        cluster.port
    );
    lifecycle(&build(key_values, |b| b).await.expect("key=value")).await;
    let ca_pem = pki.ca.clone();
    let verify_full = cluster.url("localhost", "sslmode=verify-full");
    let config = build(verify_full, move |b| b.postgres_root_certificate(ca_pem))
        .await
        .expect("the CA from the builder");
    lifecycle(&config).await;

    // Without TLS the server refuses the connection: TLS really carried the traffic above.
    let message = build_error(cluster.url("127.0.0.1", "sslmode=disable"), |b| b).await;
    assert!(message.contains("no encryption"), "{message}");

    // A certificate from a CA that is not trusted: from another CA, and from the platform's
    // (the default when no CA is given). The error says what to do, and never the password.
    for query in [
        format!("sslmode=require&sslrootcert={other_ca}"),
        "sslmode=require".to_owned(),
        "sslmode=prefer&sslrootcert=system".to_owned(),
    ] {
        let message = build_error(cluster.url("127.0.0.1", &query), |b| b).await;
        assert!(message.contains("UnknownIssuer"), "{query}: {message}");
        assert!(message.contains("sslrootcert="), "{query}: {message}");
    }
    // The certificate is verified against the host name of the URL, even when the address
    // to connect to is given separately (hostaddr).
    let wrong_name = cluster.url(
        "db.invalid",
        &format!("hostaddr=127.0.0.1&sslmode=require&sslrootcert={ca}"),
    );
    let message = build_error(wrong_name, |b| b).await;
    assert!(
        message.contains(r#"not valid for name "db.invalid""#),
        "{message}"
    );

    // A CA file that does not exist, or holds no certificate: refused before connecting.
    let missing = files.path().join("missing.pem");
    let url = cluster.url(
        "127.0.0.1",
        &format!("sslmode=require&sslrootcert={}", missing.display()),
    );
    let message = build_error(url, |b| b).await;
    assert!(message.contains("missing.pem"), "{message}");
    let message = build_error(cluster.url("127.0.0.1", "sslmode=require"), |b| {
        b.postgres_root_certificate("not a certificate")
    })
    .await;
    assert!(message.contains("postgres_root_certificate"), "{message}");

    // A certificate that stops being trusted while the app runs: the calls that need the
    // database answer 503 (nobody is signed out), and they work again once it is trusted.
    let config = build(
        cluster.url("127.0.0.1", &format!("sslmode=require&sslrootcert={ca}")),
        |b| b.database_busy_timeout(Duration::from_secs(2)),
    )
    .await
    .expect("a config over TLS");
    let session = config
        .create_new_session_without_request_response("public", "bob", json!({}), json!({}), true)
        .await
        .expect("create");
    let access = session.get_all_session_tokens_dangerously().access_token;
    let (untrusted_certificate, untrusted_key) = stranger.server(&["127.0.0.1"]);
    cluster
        .replace_certificate(&untrusted_certificate, &untrusted_key)
        .await;
    let mut last = None;
    for _ in 0..50 {
        match config.core().ready().await {
            Err(error) if error.to_string().contains("UnknownIssuer") => {
                last = Some(error.to_string());
                break;
            }
            other => last = Some(format!("{other:?}")),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = last.unwrap_or_default();
    assert!(last.contains("UnknownIssuer"), "{last}");
    assert!(!last.contains(PASSWORD), "{last}");
    match verify(&config, &access).await {
        Err(error @ SessionError::CoreUnavailable(_)) => {
            assert_eq!(error.status_with(401, 403), 503);
        }
        other => panic!("a verification while the certificate is untrusted: {other:?}"),
    }
    let (certificate, key) = pki.server(&["localhost", "127.0.0.1"]);
    cluster.replace_certificate(&certificate, &key).await;
    config.core().ready().await.expect("ready again");
    verify(&config, &access)
        .await
        .expect("the session survived");
}

#[actix_web::test]
async fn require_against_a_server_without_tls_fails_clearly() {
    let Some(url) = fresh_database("require_against_a_server_without_tls_fails_clearly").await
    else {
        return;
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    let connection = tokio::spawn(connection);
    let ssl = client.query_one("SHOW ssl", &[]).await.unwrap();
    drop(client);
    let _ = connection.await;
    if ssl.get::<_, String>(0) != "off" {
        eprintln!("skipped: the test server has TLS on");
        return;
    }
    let mut url = url::Url::parse(&url).unwrap();
    url.set_password(Some(PASSWORD)).unwrap();
    url.set_query(Some("sslmode=require"));
    let message = build_error(url.to_string(), |b| b).await;
    assert!(message.contains("server does not support TLS"), "{message}");

    // The same server without TLS, asked for none: still works.
    url.set_query(Some("sslmode=disable"));
    lifecycle(&build(url.into(), |b| b).await.expect("sslmode=disable")).await;
}
