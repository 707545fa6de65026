//! The embedded core on PostgreSQL (`SessionConfigBuilder::postgres`), against a real server:
//! the session lifecycle, configs on one database acting as app instances, and outages (a
//! cut connection, a stopped and restarted server). The lifecycle, attack and race suites
//! also run on PostgreSQL (`on_both_stores!`).
//!
//! The tests need `SESSIONWARD_TEST_DATABASE_URL` (a superuser URL; `scripts/pg.sh start`
//! starts a throwaway cluster and prints it, `.ci/run` does so). Without it they print that
//! they were skipped and pass. Each test creates a fresh database of its own.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sessionward::{SessionConfig, SessionConfigBuilder, SessionError, Tenants, VerifyOptions};
use sessionward_tests::{PgCluster, client, fresh_database};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

use crate::support::segment_json;

fn builder() -> SessionConfigBuilder {
    SessionConfig::builder()
        .api_domain("http://localhost:3001")
        .website_domain("http://localhost:3000")
}

/// A config on `url`; `build` blocks on the database, so it runs off the test's runtime.
async fn instance(
    url: &str,
    customise: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder + Send + 'static,
) -> SessionConfig {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || customise(builder().postgres(url)).build())
        .await
        .unwrap()
        .expect("a config on PostgreSQL")
}

fn tokens(session: &sessionward::SessionContainer) -> (String, String) {
    let tokens = session.get_all_session_tokens_dangerously();
    (
        tokens.access_token,
        tokens.refresh_token.expect("a refresh token"),
    )
}

async fn verify(
    config: &SessionConfig,
    access: &str,
    check_database: bool,
) -> Result<Option<sessionward::SessionContainer>, SessionError> {
    config
        .get_session_without_request_response(
            access,
            None,
            &VerifyOptions::new(true).check_database(check_database),
        )
        .await
}

async fn create(config: &SessionConfig, user: &str, data: Value) -> (String, String, String) {
    let session = config
        .create_new_session_without_request_response(
            "public",
            user,
            json!({"role": "admin"}),
            data,
            true,
        )
        .await
        .expect("create");
    let (access, refresh) = tokens(&session);
    (session.handle().to_owned(), access, refresh)
}

async fn refresh(
    config: &SessionConfig,
    refresh_token: &str,
) -> Result<(String, String), SessionError> {
    config
        .refresh_session_without_request_response(refresh_token, true, None)
        .await
        .map(|session| tokens(&session))
}

#[actix_web::test]
async fn the_session_lifecycle_on_postgres() {
    let Some(url) = fresh_database("the_session_lifecycle_on_postgres").await else {
        return;
    };
    let config = instance(&url, |b| b).await;

    // Create and verify, with and without the database.
    let (handle, access0, refresh0) = create(&config, "alice", json!({"cart": 3})).await;
    for check in [false, true] {
        let session = verify(&config, &access0, check).await.unwrap().unwrap();
        assert_eq!(session.user_id(), "alice");
        assert_eq!(session.handle(), handle);
        assert_eq!(session.access_token_payload()["role"], "admin");
    }

    // Refresh: a new pair; within the grace window the same refresh token gets the same child.
    let (access1, refresh1) = refresh(&config, &refresh0).await.unwrap();
    assert_ne!(refresh1, refresh0);
    let (_, again) = refresh(&config, &refresh0).await.unwrap();
    assert_eq!(
        again, refresh1,
        "a retry within the grace window gets the same child"
    );
    // Using the new access token promotes the child; the old refresh token is then theft.
    verify(&config, &access1, true).await.unwrap().unwrap();
    let (access2, refresh2) = refresh(&config, &refresh1).await.unwrap();
    verify(&config, &access2, false).await.unwrap().unwrap();
    match refresh(&config, &refresh0).await {
        Err(SessionError::TokenTheftDetected { session_handle, .. }) => {
            assert_eq!(session_handle, handle);
        }
        other => panic!("replaying a rotated refresh token: {other:?}"),
    }
    // Theft revoked the session: its newest tokens are refused too.
    assert!(refresh(&config, &refresh2).await.is_err());
    assert!(verify(&config, &access2, true).await.is_err());
    assert!(
        config
            .get_session_information(&handle)
            .await
            .unwrap()
            .is_none()
    );

    // Session data and the payload by handle.
    let (handle, access, _) = create(&config, "bob", json!({"n": 1})).await;
    let info = config
        .get_session_information(&handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.session_data, json!({"n": 1}));
    assert_eq!(info.user_id, "bob");
    assert!(
        config
            .update_session_data_in_database(&handle, json!({"n": 2, "ü": "ß"}))
            .await
            .unwrap()
    );
    assert!(
        config
            .merge_into_access_token_payload(&handle, json!({"plan": "pro"}))
            .await
            .unwrap()
    );
    let info = config
        .get_session_information(&handle)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.session_data, json!({"n": 2, "ü": "ß"}));
    assert_eq!(info.user_data_in_jwt["plan"], "pro");
    assert!(verify(&config, &access, true).await.unwrap().is_some());

    // By-user functions and revocation.
    let (second, _, _) = create(&config, "bob", Value::Null).await;
    let handles = config
        .get_all_session_handles_for_user("bob", Tenants::All)
        .await
        .unwrap();
    assert_eq!(
        handles,
        vec![handle.clone(), second.clone()],
        "oldest first"
    );
    assert!(config.revoke_session(&second).await.unwrap());
    assert!(!config.revoke_session(&second).await.unwrap());
    let (third, _, _) = create(&config, "bob", Value::Null).await;
    let mut revoked = config
        .revoke_all_sessions_for_user("bob", Tenants::One("public"))
        .await
        .unwrap();
    revoked.sort();
    let mut expected = vec![handle.clone(), third];
    expected.sort();
    assert_eq!(revoked, expected);
    assert!(verify(&config, &access, true).await.is_err());
    assert!(
        !config
            .update_session_data_in_database(&handle, json!(1))
            .await
            .unwrap()
    );
}

#[actix_web::test]
async fn three_instances_share_sessions_keys_and_theft_detection() {
    let Some(url) = fresh_database("three_instances_share_sessions_keys_and_theft_detection").await
    else {
        return;
    };
    let a = instance(&url, |b| b).await;
    let b = instance(&url, |b| b).await;
    let c = instance(&url, |b| b).await;

    // Logged in on A, verified and refreshed on B, and the other way round.
    let (handle, access, refresh0) = create(&a, "carol", json!({"k": "v"})).await;
    let on_b = verify(&b, &access, true).await.unwrap().unwrap();
    assert_eq!(on_b.handle(), handle);
    let (access1, refresh1) = refresh(&b, &refresh0).await.unwrap();
    verify(&a, &access1, false).await.unwrap().unwrap();
    let (access2, _) = refresh(&a, &refresh1).await.unwrap();
    verify(&b, &access2, true).await.unwrap().unwrap();
    // Both sign with the same keys.
    let kid = |token: &str| segment_json(token, 0)["kid"].as_str().unwrap().to_owned();
    let (_, from_b, _) = create(&b, "carol", Value::Null).await;
    verify(&a, &from_b, false).await.unwrap().unwrap();
    assert_eq!(kid(&access), kid(&from_b));
    assert_eq!(kid(&access), kid(&access2));

    // Session data written on A is read on B.
    assert!(
        a.update_session_data_in_database(&handle, json!({"written": "on a"}))
            .await
            .unwrap()
    );
    let info = b.get_session_information(&handle).await.unwrap().unwrap();
    assert_eq!(info.session_data, json!({"written": "on a"}));

    // Theft across instances: the child was refreshed on A, the parent replayed on C.
    match refresh(&c, &refresh0).await {
        Err(SessionError::TokenTheftDetected { session_handle, .. }) => {
            assert_eq!(session_handle, handle);
        }
        other => panic!("a replay on the other instance: {other:?}"),
    }
    for instance in [&a, &b, &c] {
        assert!(verify(instance, &access2, true).await.is_err());
    }

    // Sign-out on A is seen by check_database on B and C at once.
    let (handle, access, _) = create(&a, "dave", Value::Null).await;
    verify(&b, &access, true).await.unwrap().unwrap();
    verify(&c, &access, true).await.unwrap().unwrap();
    assert!(a.revoke_session(&handle).await.unwrap());
    for other in [&b, &c] {
        assert!(matches!(
            verify(other, &access, true).await,
            Err(SessionError::Unauthorised { .. })
        ));
    }
    // Without the database check the still-valid token verifies: that is what
    // check_database is for.
    assert!(verify(&b, &access, false).await.unwrap().is_some());
}

#[actix_web::test]
async fn key_rotation_is_shared_by_instances() {
    let Some(url) = fresh_database("key_rotation_is_shared_by_instances").await else {
        return;
    };
    let fast = |b: SessionConfigBuilder| {
        b.signing_key_rotation(Duration::from_secs(2))
            .signing_key_overlap(Duration::from_millis(500))
    };
    let a = instance(&url, fast).await;
    let b = instance(&url, fast).await;
    let mut kids = BTreeSet::new();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(7) {
        for (mine, other) in [(&a, &b), (&b, &a)] {
            let (_, access, _) = create(mine, "erin", Value::Null).await;
            kids.insert(segment_json(&access, 0)["kid"].as_str().unwrap().to_owned());
            // A token signed with a key the other instance created or rotated to verifies on
            // this one: the keys live in the database.
            assert!(
                verify(other, &access, false).await.unwrap().is_some(),
                "a token of one instance is refused by the other"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(kids.len() >= 2, "the dynamic key rotated: {kids:?}");
    assert!(kids.iter().all(|kid| kid.starts_with("d-")), "{kids:?}");
}

#[actix_web::test]
async fn the_url_password_never_appears_in_errors() {
    // Nothing listens on port 9 of 127.0.0.1: the connection is refused.
    let url = "postgres://app:hunter2-very-secret@127.0.0.1:9/sessions?connect_timeout=2";
    let error = tokio::task::spawn_blocking(move || builder().postgres(url).build())
        .await
        .unwrap()
        .expect_err("no database there");
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("hunter2"), "the password leaked: {text}");
        assert!(text.contains("127.0.0.1:9/sessions"), "{text}");
    }
    let bad = "postgres://app:hunter2-very-secret@127.0.0.1:notaport/db";
    let error = tokio::task::spawn_blocking(move || builder().postgres(bad).build())
        .await
        .unwrap()
        .expect_err("an invalid URL");
    assert!(
        !format!("{error} {error:?}").contains("hunter2"),
        "{error:?}"
    );
    let builder = builder().postgres("postgres://app:hunter2-very-secret@db/x");
    assert!(!format!("{builder:?}").contains("hunter2"));
}

/// A TCP relay to the database that can be cut (connections dropped, new ones refused) and
/// restored on the same port: a database outage without stopping the shared server.
struct Relay {
    port: u16,
    upstream: String,
    task: Option<tokio::task::JoinHandle<()>>,
    open: Arc<tokio::sync::Notify>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut relay = Self {
            port,
            upstream,
            task: None,
            open: Arc::new(tokio::sync::Notify::new()),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let stop = Arc::clone(&self.open);
        self.task = Some(tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    () = stop.notified() => break,
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { break };
                        let upstream = upstream.clone();
                        links.spawn(async move {
                            if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                                let _ = outbound.shutdown().await;
                            }
                        });
                    }
                }
            }
            // Dropping the set aborts every link: the pooled connections break.
            links.abort_all();
        }));
    }

    async fn cut(&mut self) {
        self.open.notify_one();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    async fn restore(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_a_503_and_the_pool_recovers() {
    let Some(url) = fresh_database("an_unreachable_database_is_a_503_and_the_pool_recovers").await
    else {
        return;
    };
    let mut direct = url::Url::parse(&url).unwrap();
    let upstream = format!(
        "{}:{}",
        direct.host_str().unwrap(),
        direct.port().unwrap_or(5432)
    );
    let mut relay = Relay::start(upstream).await;
    direct.set_port(Some(relay.port)).unwrap();
    let config = instance(direct.as_str(), |b| {
        b.database_busy_timeout(Duration::from_secs(1))
    })
    .await;
    let (handle, access, refresh0) = create(&config, "frank", Value::Null).await;
    config
        .core()
        .ready()
        .await
        .expect("ready while the database answers");

    relay.cut().await;
    assert!(
        config.core().ready().await.is_err(),
        "not ready while the database is unreachable"
    );
    match refresh(&config, &refresh0).await {
        Err(error @ SessionError::CoreUnavailable(_)) => {
            assert_eq!(error.status_with(401, 403), 503);
        }
        other => panic!("a refresh while the database is unreachable: {other:?}"),
    }
    assert!(matches!(
        verify(&config, &access, true).await,
        Err(SessionError::CoreUnavailable(_))
    ));

    relay.restore().await;
    config.core().ready().await.expect("ready again");
    // The pool reconnects by itself; the session survived the outage.
    let session = verify(&config, &access, true).await.unwrap().unwrap();
    assert_eq!(session.handle(), handle);
    let (access1, _) = refresh(&config, &refresh0).await.unwrap();
    verify(&config, &access1, true).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_and_restarted_server_is_a_503_then_recovers_without_a_restart() {
    if !sessionward_tests::postgres_available("a_stopped_and_restarted_server_is_a_503") {
        return;
    }
    let cluster = Arc::new(
        tokio::task::spawn_blocking(|| PgCluster::start(&[]))
            .await
            .unwrap(),
    );
    let in_the_background = |step: fn(&PgCluster)| {
        let cluster = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || step(&cluster))
    };
    let config = instance(&cluster.url, |b| {
        b.database_busy_timeout(Duration::from_secs(1))
    })
    .await;
    let server = sessionward_tests::serve_axum(sessionward_examples::demo_axum::app(&config));
    let login = client()
        .post(server.url("/login"))
        .header("st-auth-mode", "header")
        .json(&json!({"userId": "outage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let header = |response: &reqwest::Response, name: &str| {
        response.headers()[name].to_str().unwrap().to_owned()
    };
    let (access, refresh_token) = (
        header(&login, "st-access-token"),
        header(&login, "st-refresh-token"),
    );

    let send_refresh = || async {
        client()
            .post(server.url("/auth/session/refresh"))
            .header("st-auth-mode", "header")
            .bearer_auth(&refresh_token)
            .send()
            .await
            .unwrap()
    };

    in_the_background(PgCluster::halt).await.unwrap();
    // While the server is down, a valid access token still verifies (no database needed)...
    let verified = client()
        .get(server.url("/user"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    // ...and refresh is a 503 with Retry-After, never a sign-out.
    let during = send_refresh().await;
    assert_eq!(during.status(), 503);
    assert!(during.headers().contains_key("retry-after"));
    assert!(
        during.headers().get("front-token").is_none(),
        "not a sign-out"
    );
    assert!(config.core().ready().await.is_err());

    in_the_background(PgCluster::resume).await.unwrap();
    config
        .core()
        .ready()
        .await
        .expect("ready again, without a restart");
    let after = send_refresh().await;
    assert_eq!(after.status(), 200, "the session survived the outage");
    let user = client()
        .get(server.url("/user"))
        .bearer_auth(header(&after, "st-access-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 200);
}

#[actix_web::test]
async fn instances_starting_together_migrate_once_and_share_keys() {
    let Some(url) = fresh_database("instances_starting_together_migrate_once_and_share_keys").await
    else {
        return;
    };
    let starting: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::task::spawn_blocking(move || builder().postgres(url).build())
        })
        .collect();
    let mut instances = Vec::new();
    for start in starting {
        instances.push(start.await.unwrap().expect("concurrent start"));
    }
    let (_, access, _) = create(&instances[0], "grace", Value::Null).await;
    let kid = segment_json(&access, 0)["kid"].as_str().unwrap().to_owned();
    for other in &instances[1..] {
        let (_, theirs, _) = create(other, "grace", Value::Null).await;
        assert_eq!(
            segment_json(&theirs, 0)["kid"],
            kid.as_str(),
            "one dynamic key"
        );
        verify(other, &access, true).await.unwrap().unwrap();
    }

    // A database migrated by a newer version is refused, not misread.
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    db.execute(
        "UPDATE sessionward_meta SET value = '99' WHERE key = 'schema_version'",
        &[],
    )
    .await
    .unwrap();
    drop(db);
    let _ = connection.await;
    let error = tokio::task::spawn_blocking(move || builder().postgres(url).build())
        .await
        .unwrap()
        .expect_err("a newer schema");
    assert!(error.to_string().contains("schema version 99"), "{error}");
}

/// How many connections the store holds open to the database at `url`.
async fn store_connections(admin: &tokio_postgres::Client, url: &str) -> i64 {
    let database = url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'sessionward'",
            &[&database],
        )
        .await
        .unwrap()
        .get(0)
}

/// Eight creates wait on a table lock, each holding a connection while it waits (as under a
/// slow database); the lock's release lets them all finish. Returns the most connections
/// seen meanwhile, waiting (boundedly) for `expected` of them to appear.
async fn connections_under_load(config: &SessionConfig, url: &str, expected: i64) -> i64 {
    let (admin, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    admin
        .batch_execute("BEGIN; LOCK TABLE sessionward_sessions IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..8 {
        let config = config.clone();
        creates.spawn(async move { create(&config, &format!("user-{i}"), Value::Null).await });
    }
    let watch = async {
        let mut most = 0;
        // Opening a connection can take a while on a busy machine; the bound is generous.
        for _ in 0..400 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            most = most.max(store_connections(&admin, url).await);
            if most >= expected {
                break;
            }
        }
        // A few more looks: a pool above its size would show here.
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            most = most.max(store_connections(&admin, url).await);
        }
        admin.batch_execute("COMMIT").await.unwrap();
        most
    };
    let most = watch.await;
    let created = creates.join_all().await;
    assert_eq!(
        created.len(),
        8,
        "every create finished once the lock was gone"
    );
    drop(admin);
    let _ = connection.await;
    most
}

#[actix_web::test]
async fn the_pool_opens_at_most_the_configured_connections() {
    let Some(url) = fresh_database("the_pool_opens_at_most_the_configured_connections").await
    else {
        return;
    };
    // The default pool opens a connection for each waiting create.
    let default = instance(&url, |b| b).await;
    assert!(connections_under_load(&default, &url, 8).await >= 8);
    drop(default);
    // Closed with the config (the server notices a moment later).
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let mut open = store_connections(&admin, &url).await;
    for _ in 0..100 {
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        open = store_connections(&admin, &url).await;
    }
    assert_eq!(open, 0, "the dropped config closed its connections");
    drop(admin);
    let _ = connection.await;

    let small = instance(&url, |b| b.postgres_pool_size(2)).await;
    assert_eq!(connections_under_load(&small, &url, 2).await, 2);

    // A pool of no connections is a configuration error, not a hang.
    let error =
        tokio::task::spawn_blocking(move || builder().postgres(url).postgres_pool_size(0).build())
            .await
            .unwrap()
            .expect_err("an empty pool");
    assert!(error.to_string().contains("pool size"), "{error}");
}
