//! The key cache: max age, refetches, single flight, backoff, stale keys on failure.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use super::*;

const FIXTURE: &str = include_str!("../../tests/fixtures/appendix_a.txt");
const DYNAMIC_KID: &str = "d-1700000000000";
const STATIC_KID: &str = "s-7a1e2f10-0000-4000-8000-000000000001";

/// The Appendix A JWKS (everything before the first token name).
fn appendix_jwks() -> JwkSet {
    let end = FIXTURE.find("\nv5\n").unwrap();
    serde_json::from_str(&FIXTURE[..end]).unwrap()
}

/// A source that counts its calls, can be switched to failing, and can be slowed down.
struct TestSource {
    keys: Mutex<JwkSet>,
    failing: AtomicBool,
    delay: Duration,
}

impl TestSource {
    fn new(keys: JwkSet) -> Arc<Self> {
        Arc::new(Self {
            keys: Mutex::new(keys),
            failing: AtomicBool::new(false),
            delay: Duration::ZERO,
        })
    }
    fn slow(keys: JwkSet, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            keys: Mutex::new(keys),
            failing: AtomicBool::new(false),
            delay,
        })
    }
    fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
    fn set_keys(&self, keys: JwkSet) {
        *self.keys.lock().unwrap() = keys;
    }
}

impl KeySource for TestSource {
    fn fetch_keys(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<JwkSet, KeySourceError>> + Send + '_>> {
        Box::pin(async move {
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            if self.failing.load(Ordering::SeqCst) {
                Err(KeySourceError("test source is down".to_owned()))
            } else {
                Ok(self.keys.lock().unwrap().clone())
            }
        })
    }
}

fn only(kid: &str) -> JwkSet {
    let mut set = appendix_jwks();
    set.keys
        .retain(|jwk| jwk.common.key_id.as_deref() == Some(kid));
    set
}

#[test]
fn cache_is_send_sync_and_futures_are_send() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>(_: &T) {}
    assert_send_sync::<JwksCache>();
    assert_send_sync::<StaticKeySource>();
    let cache = JwksCache::new(Arc::new(StaticKeySource::new(appendix_jwks())));
    assert_send(&cache.key_for(DYNAMIC_KID));
    assert_send(&cache.all_keys());
}

#[tokio::test]
async fn loads_on_first_use_then_serves_from_cache() {
    let source = TestSource::new(appendix_jwks());
    let cache = JwksCache::new(source.clone());
    assert_eq!(cache.fetch_count(), 0);
    assert!(cache.cached_key(DYNAMIC_KID).is_none());
    cache.key_for(DYNAMIC_KID).await.unwrap();
    cache.key_for(STATIC_KID).await.unwrap();
    assert_eq!(cache.all_keys().await.unwrap().len(), 2);
    assert_eq!(cache.fetch_count(), 1);
    assert!(cache.cached_key(DYNAMIC_KID).is_some());
    assert_eq!(cache.cached_keys().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_unknown_kids_fetches_at_most_twice() {
    // The fetch is slow so that the burst piles up behind the single flight.
    let source = TestSource::slow(appendix_jwks(), Duration::from_millis(20));
    // A long cooldown keeps the bound independent of how long the burst takes.
    let cache = Arc::new(JwksCache::new(source.clone()).with_cooldown(Duration::from_secs(3600)));
    let tasks: Vec<_> = (0..1000u32)
        .map(|i| {
            let cache = Arc::clone(&cache);
            let kid = format!("d-{}", 1_000_000 + i.wrapping_mul(7919) % 1_000_000);
            tokio::spawn(async move { cache.key_for(&kid).await })
        })
        .collect();
    for task in tasks {
        let result = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(result.unwrap_err(), KeyError::UnknownKey);
    }
    assert!(
        cache.fetch_count() <= 2,
        "fetched {} times",
        cache.fetch_count()
    );
    // Known kids still work without another fetch.
    let before = cache.fetch_count();
    cache.key_for(DYNAMIC_KID).await.unwrap();
    assert_eq!(cache.fetch_count(), before);
}

#[tokio::test]
async fn unknown_kid_within_cooldown_does_not_refetch() {
    let source = TestSource::new(only(DYNAMIC_KID));
    let cache = JwksCache::new(source.clone()).with_cooldown(Duration::from_secs(3600));
    cache.key_for(DYNAMIC_KID).await.unwrap();
    source.set_keys(appendix_jwks());
    for _ in 0..10 {
        assert_eq!(
            cache.key_for(STATIC_KID).await.unwrap_err(),
            KeyError::UnknownKey
        );
    }
    assert_eq!(cache.fetch_count(), 1);
}

#[tokio::test]
async fn unknown_kid_refetches_once_after_cooldown() {
    let source = TestSource::new(only(DYNAMIC_KID));
    let cache = JwksCache::new(source.clone()).with_cooldown(Duration::from_millis(30));
    cache.key_for(DYNAMIC_KID).await.unwrap();
    assert_eq!(cache.fetch_count(), 1);

    // The core publishes a new key; after the cooldown one lookup refetches once.
    source.set_keys(appendix_jwks());
    tokio::time::sleep(Duration::from_millis(60)).await;
    cache.key_for(STATIC_KID).await.unwrap();
    assert_eq!(cache.fetch_count(), 2);
    cache.key_for(STATIC_KID).await.unwrap();
    cache.key_for(DYNAMIC_KID).await.unwrap();
    assert_eq!(cache.fetch_count(), 2);
}

#[tokio::test]
async fn fruitless_refetches_back_off() {
    let source = TestSource::new(only(DYNAMIC_KID));
    let cache = JwksCache::new(source.clone()).with_cooldown(Duration::from_millis(200));
    cache.key_for(DYNAMIC_KID).await.unwrap();
    // Unknown kids: the first lookup after the cooldown refetches; the cooldown then
    // doubles with every fetch that did not find the kid. (Margins of 150 ms or more either
    // side, so a loaded machine cannot move a lookup across a boundary.)
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(cache.key_for("d-404").await.is_err());
    assert_eq!(cache.fetch_count(), 2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(cache.key_for("d-405").await.is_err());
    assert_eq!(cache.fetch_count(), 2, "within the doubled cooldown");
    assert_eq!(cache.backoff(1), Duration::from_millis(400));
    assert_eq!(cache.backoff(40), MAX_BACKOFF);
    // A refetch that finds the wanted key resets the backoff.
    source.set_keys(appendix_jwks());
    tokio::time::sleep(Duration::from_millis(300)).await;
    cache.key_for(STATIC_KID).await.unwrap();
    assert_eq!(cache.fetch_count(), 3);
    assert_eq!(cache.read().fruitless, 0);
}

#[tokio::test]
async fn max_age_expiry_refetches() {
    let source = TestSource::new(appendix_jwks());
    let cache = JwksCache::new(source.clone())
        .with_max_age(Duration::from_millis(20))
        .with_cooldown(Duration::ZERO);
    cache.key_for(DYNAMIC_KID).await.unwrap();
    assert_eq!(cache.fetch_count(), 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    cache.key_for(DYNAMIC_KID).await.unwrap();
    assert_eq!(cache.fetch_count(), 2);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(cache.all_keys().await.unwrap().len(), 2);
    assert_eq!(cache.fetch_count(), 3);
}

#[tokio::test]
async fn failing_source_keeps_stale_keys() {
    let source = TestSource::new(appendix_jwks());
    let cache = JwksCache::new(source.clone())
        .with_max_age(Duration::from_millis(10))
        .with_cooldown(Duration::from_millis(10));
    cache.key_for(DYNAMIC_KID).await.unwrap();
    source.set_failing(true);
    tokio::time::sleep(Duration::from_millis(40)).await;

    // Stale set, fetch fails: the cached key is still served.
    cache.key_for(DYNAMIC_KID).await.unwrap();
    assert_eq!(cache.fetch_count(), 2);
    assert_eq!(cache.all_keys().await.unwrap().len(), 2);
    // Unknown kid while the source is down: keys unavailable, not "unknown key".
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(
        cache.key_for("d-1").await.unwrap_err(),
        KeyError::Unavailable
    );

    // Recovery.
    source.set_failing(false);
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(
        cache.key_for("d-1").await.unwrap_err(),
        KeyError::UnknownKey
    );
    cache.key_for(STATIC_KID).await.unwrap();
}

#[tokio::test]
async fn failing_source_without_cache_is_unavailable() {
    let source = TestSource::new(appendix_jwks());
    source.set_failing(true);
    let cache = JwksCache::new(source.clone()).with_cooldown(Duration::from_secs(3600));
    assert_eq!(
        cache.key_for(DYNAMIC_KID).await.unwrap_err(),
        KeyError::Unavailable
    );
    assert_eq!(cache.all_keys().await.unwrap_err(), KeyError::Unavailable);
    // Within the cooldown the failing source is not called again.
    assert_eq!(cache.fetch_count(), 1);
}

#[tokio::test]
async fn invalidate_refetches_even_within_cooldown() {
    let source = TestSource::new(only(DYNAMIC_KID));
    let cache = JwksCache::new(source.clone()).with_cooldown(Duration::from_secs(3600));
    cache.key_for(DYNAMIC_KID).await.unwrap();
    source.set_keys(appendix_jwks());
    assert_eq!(
        cache.key_for(STATIC_KID).await.unwrap_err(),
        KeyError::UnknownKey
    );
    cache.invalidate();
    cache.key_for(STATIC_KID).await.unwrap();
    assert_eq!(cache.fetch_count(), 2);
    // Only once per invalidation.
    cache.key_for(DYNAMIC_KID).await.unwrap();
    assert_eq!(
        cache.key_for("d-1").await.unwrap_err(),
        KeyError::UnknownKey
    );
    assert_eq!(cache.fetch_count(), 2);
}

#[tokio::test]
async fn unusable_jwks_are_skipped() {
    let mut set = appendix_jwks();
    let template = serde_json::to_value(&set.keys[0]).unwrap();
    let variant = |kid: &str, edit: &dyn Fn(&mut serde_json::Value)| -> Jwk {
        let mut value = template.clone();
        value["kid"] = kid.into();
        edit(&mut value);
        serde_json::from_value(value).unwrap()
    };
    set.keys
        .push(variant("rs384", &|v| v["alg"] = "RS384".into()));
    set.keys
        .push(variant("ps256", &|v| v["alg"] = "PS256".into()));
    set.keys
        .push(variant("weird-alg", &|v| v["alg"] = "XX999".into()));
    set.keys.push(variant("enc", &|v| v["use"] = "enc".into()));
    set.keys.push(variant("ops", &|v| {
        v["key_ops"] = serde_json::json!(["encrypt"])
    }));
    set.keys
        .push(variant("bad-n", &|v| v["n"] = "not base64!".into()));
    set.keys
        .push(variant("short-n", &|v| v["n"] = "AQAB".into()));
    set.keys.push(
        serde_json::from_value(serde_json::json!(
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"}
        ))
        .unwrap(),
    );
    set.keys.push(
        serde_json::from_value(serde_json::json!({
            "kty": "EC", "kid": "ec", "crv": "P-256", "alg": "ES256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        }))
        .unwrap(),
    );
    let ok_ops = variant("ok-ops", &|v| {
        v.as_object_mut().unwrap().remove("use");
        v["key_ops"] = serde_json::json!(["verify"]);
    });
    set.keys.push(ok_ops);
    let no_alg = variant("no-alg", &|v| {
        let v = v.as_object_mut().unwrap();
        v.remove("alg");
        v.remove("use");
    });
    set.keys.push(no_alg);

    let cache = JwksCache::new(Arc::new(StaticKeySource::new(set)));
    for kid in [
        "rs384",
        "ps256",
        "weird-alg",
        "enc",
        "ops",
        "bad-n",
        "short-n",
        "hmac",
        "ec",
    ] {
        assert_eq!(
            cache.key_for(kid).await.unwrap_err(),
            KeyError::UnknownKey,
            "{kid}"
        );
    }
    for kid in [DYNAMIC_KID, STATIC_KID, "ok-ops", "no-alg"] {
        cache.key_for(kid).await.unwrap();
    }
    assert_eq!(cache.all_keys().await.unwrap().len(), 4);
}

#[tokio::test]
async fn set_without_usable_keys_counts_as_failure() {
    let source = TestSource::new(appendix_jwks());
    let cache = JwksCache::new(source.clone()).with_cooldown(Duration::ZERO);
    cache.key_for(DYNAMIC_KID).await.unwrap();
    source.set_keys(JwkSet::default());
    cache.invalidate();
    // The empty set does not replace the cached keys.
    cache.key_for(DYNAMIC_KID).await.unwrap();
    assert_eq!(cache.fetch_count(), 2);
}

#[test]
fn debug_output_names_no_key_material() {
    let set = appendix_jwks();
    let n = match &set.keys[0].algorithm {
        AlgorithmParameters::RSA(rsa) => rsa.n.clone(),
        _ => unreachable!(),
    };
    let source = StaticKeySource::new(set);
    let text = format!("{source:?}");
    assert!(
        text.contains(DYNAMIC_KID) && !text.contains(&n[..20]),
        "{text}"
    );
    let cache = JwksCache::new(Arc::new(source));
    let text = format!("{cache:?}");
    assert!(
        text.starts_with("JwksCache") && !text.contains(&n[..20]),
        "{text}"
    );
}

#[tokio::test]
async fn a_fresh_set_is_told_without_a_lock_until_it_is_replaced_invalidated_or_aged_out() {
    let source = TestSource::new(appendix_jwks());
    let cache = JwksCache::new(source.clone()).with_cooldown(Duration::ZERO);
    let key = cache.key_for(DYNAMIC_KID).await.unwrap();
    let first = cache.set_number_of(DYNAMIC_KID, &key).unwrap();
    assert!(cache.is_fresh_set(first));
    assert!(!cache.is_fresh_set(first.wrapping_add(1)));
    // Another key object (here: the other kid's) is not the set's key for this kid.
    let other = cache.key_for(STATIC_KID).await.unwrap();
    assert_eq!(cache.set_number_of(DYNAMIC_KID, &other), None);

    // Invalidated: not fresh until a fetch, which builds a new set (new key objects).
    cache.invalidate();
    assert!(!cache.is_fresh_set(first));
    let renewed = cache.key_for(DYNAMIC_KID).await.unwrap();
    assert_eq!(cache.set_number_of(DYNAMIC_KID, &key), None);
    let second = cache.set_number_of(DYNAMIC_KID, &renewed).unwrap();
    assert_ne!(second, first);
    assert!(cache.is_fresh_set(second));
    assert!(!cache.is_fresh_set(first));

    // A failed fetch changes neither the set nor its freshness.
    source.set_failing(true);
    cache.key_for("no-such-kid").await.unwrap_err();
    assert!(cache.is_fresh_set(second));
}

#[tokio::test]
async fn a_set_past_its_max_age_is_not_fresh_without_a_lock() {
    let source = TestSource::new(appendix_jwks());
    // Freshness is kept in whole seconds, rounded down: a max age under one second is never
    // fresh on the lock-free path (callers then take the locked one).
    let cache = JwksCache::new(source.clone()).with_max_age(Duration::from_millis(300));
    let key = cache.key_for(DYNAMIC_KID).await.unwrap();
    let number = cache.set_number_of(DYNAMIC_KID, &key).unwrap();
    assert!(!cache.is_fresh_set(number));

    let cache = JwksCache::new(source).with_max_age(Duration::from_millis(1500));
    let key = cache.key_for(DYNAMIC_KID).await.unwrap();
    let number = cache.set_number_of(DYNAMIC_KID, &key).unwrap();
    assert!(cache.is_fresh_set(number));
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(!cache.is_fresh_set(number));
    assert!(!cache.read().is_fresh(cache.max_age));
}
