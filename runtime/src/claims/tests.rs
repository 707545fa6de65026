//! Claims and validators: payload encoding and the SDKs' exact failure reasons.

use super::*;

fn payload(v: Value) -> Payload {
    v.as_object().unwrap().clone()
}

const NOW: u64 = 1_700_000_100_000;

#[test]
fn has_value_reasons() {
    let v = EmailVerified::is_verified();
    assert_eq!(
        v.validate(&payload(json!({})), NOW).unwrap_err(),
        json!({"message": "value does not exist", "expectedValue": true})
    );
    assert_eq!(
        v.validate(&payload(json!({"st-ev": {"v": false, "t": NOW}})), NOW)
            .unwrap_err(),
        json!({"message": "wrong value", "expectedValue": true, "actualValue": false})
    );
    assert!(
        v.validate(&payload(json!({"st-ev": {"v": true, "t": NOW}})), NOW)
            .is_ok()
    );
}

#[test]
fn max_age_reason_and_refetch() {
    let v = EmailVerified::is_verified().with_max_age(10);
    let p = payload(json!({"st-ev": {"v": true, "t": NOW - 12_500}}));
    assert_eq!(
        v.validate(&p, NOW).unwrap_err(),
        json!({"message": "expired", "ageInSeconds": 12.5, "maxAgeInSeconds": 10})
    );
    assert!(v.needs_refetch(&p, NOW));
    assert!(!v.needs_refetch(&payload(json!({"st-ev": {"v": true, "t": NOW}})), NOW));
    assert!(v.needs_refetch(&payload(json!({})), NOW));
}

#[test]
fn unverified_email_is_refetched_after_ten_seconds() {
    let v = EmailVerified::is_verified();
    let fresh = payload(json!({"st-ev": {"v": false, "t": NOW - 5_000}}));
    let stale = payload(json!({"st-ev": {"v": false, "t": NOW - 11_000}}));
    let verified = payload(json!({"st-ev": {"v": true, "t": NOW - 1_000_000}}));
    assert!(!v.needs_refetch(&fresh, NOW));
    assert!(v.needs_refetch(&stale, NOW));
    assert!(!v.needs_refetch(&verified, NOW));
}

#[test]
fn array_validators() {
    let p = payload(json!({"st-role": {"v": ["user", "editor"], "t": NOW}}));
    assert!(Roles::includes("user").validate(&p, NOW).is_ok());
    assert_eq!(
        Roles::includes("admin").validate(&p, NOW).unwrap_err(),
        json!({"message": "wrong value", "expectedToInclude": "admin", "actualValue": ["user", "editor"]})
    );
    assert!(Roles::excludes("admin").validate(&p, NOW).is_ok());
    assert_eq!(
        Roles::excludes("user").validate(&p, NOW).unwrap_err()["expectedToNotInclude"],
        json!("user")
    );
    assert!(
        Roles::includes_all(["user", "editor"])
            .validate(&p, NOW)
            .is_ok()
    );
    assert!(
        Roles::includes_all(["user", "admin"])
            .validate(&p, NOW)
            .is_err()
    );
    assert!(
        Roles::includes_any(["admin", "editor"])
            .validate(&p, NOW)
            .is_ok()
    );
    assert_eq!(
        Roles::includes_any(["admin"])
            .validate(&p, NOW)
            .unwrap_err(),
        json!({"message": "wrong value", "expectedToIncludeAtLeastOneOf": ["admin"], "actualValue": ["user", "editor"]})
    );
    assert!(
        Roles::excludes_all(["admin", "root"])
            .validate(&p, NOW)
            .is_ok()
    );
    assert!(
        Roles::excludes_all(["admin", "user"])
            .validate(&p, NOW)
            .is_err()
    );
}

#[test]
fn missing_array_value_reasons_follow_node() {
    let empty = payload(json!({}));
    assert_eq!(
        Roles::includes("admin").validate(&empty, NOW).unwrap_err(),
        json!({"message": "value does not exist", "expectedToInclude": "admin"})
    );
    assert_eq!(
        Roles::includes_any(["a"])
            .validate(&empty, NOW)
            .unwrap_err(),
        json!({"message": "value does not exist", "expectedToNotInclude": ["a"]})
    );
}

#[test]
fn typed_claim_values() {
    let p = payload(json!({"st-role": {"v": ["admin"], "t": NOW}, "st-ev": {"v": true, "t": NOW}}));
    assert_eq!(Roles.value_from_payload(&p), Some(vec!["admin".to_owned()]));
    assert_eq!(EmailVerified.value_from_payload(&p), Some(true));
    assert_eq!(Permissions.value_from_payload(&p), None);
    assert_eq!(Roles.last_fetched_ms(&p), Some(NOW));
}

#[test]
fn custom_id_is_reported() {
    let v = Roles::includes("admin").with_id("must-be-admin");
    assert_eq!(SessionClaimValidator::id(&v), "must-be-admin");
    assert_eq!(v.claim_key(), "st-role");
}
