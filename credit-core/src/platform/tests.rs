//! The use cases as an approval system embedding the library meets them: every one decides what its
//! actor may do and leaves the audit entry a gRPC call of it leaves.

use std::sync::Arc;

use super::*;
use crate::audit::AuditQuery;
use crate::checks::tests::store as checks_store;
use crate::engine::MemoryEngine;

const COMPANY: &str = "91110000600037341L";
const DEBTOR: &str = "11010519491231002X";

fn platform() -> Platform<MemoryEngine> {
    Platform::new(Arc::new(checks_store()), RuleSet::builtin(), DisclosureRules::builtin())
}

fn actor(role: Role) -> Actor {
    Actor {
        key_id: (role != Role::Public).then(|| format!("{}-key", role.as_str())),
        role,
        department: Some("市财政局".into()),
        name: Some("approval-system".into()),
    }
}

fn check_request() -> CheckRequest {
    CheckRequest {
        identifier: COMPANY.into(),
        item: "GOV_PROCUREMENT".into(),
        as_of: NaiveDate::from_ymd_opt(2025, 6, 1).expect("a date"),
        department: Some("市财政局".into()),
    }
}

fn entries(platform: &Platform<MemoryEngine>, operation: &str) -> Vec<crate::audit::AuditEvent> {
    let query = AuditQuery { operation: Some(operation.into()), limit: 100, ..AuditQuery::default() };
    platform.store().audit().query(&query).unwrap().into_iter().map(|e| e.entry.event).collect()
}

#[test]
fn an_embedded_check_is_audited_like_any_other() {
    let platform = platform();
    let regulator = actor(Role::Regulator);
    let result = platform.check(&regulator, &check_request()).unwrap();
    let logged = entries(&platform, "check");
    assert_eq!(logged, vec![AuditEvent::check(regulator.clone(), &result)]);
    assert_eq!(logged[0].detail["verdict"], result.verdict.as_str());
    assert_eq!(logged[0].actor.name.as_deref(), Some("approval-system"));

    let batch = platform.check_batch(&regulator, &[check_request(), check_request()], &Cancel::never()).unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(entries(&platform, "check").len(), 3, "one entry per answered check of the batch");
}

#[test]
fn checks_are_for_regulators_only() {
    let platform = platform();
    let public = platform.check(&Actor::anonymous(), &check_request()).unwrap_err();
    assert!(matches!(public, PlatformError::Unauthenticated { what: "Check" }), "{public}");
    let provider = platform.check(&actor(Role::Provider), &check_request()).unwrap_err();
    assert!(matches!(provider, PlatformError::Forbidden { role: Role::Provider, .. }), "{provider}");
    let batch = platform.check_batch(&actor(Role::Provider), &[check_request()], &Cancel::never()).unwrap_err();
    assert!(matches!(batch, PlatformError::Forbidden { .. }), "{batch}");
    assert!(entries(&platform, "check").is_empty());
}

#[test]
fn a_cancelled_batch_is_neither_recorded_nor_audited() {
    let platform = platform();
    let cancel = Cancel::new();
    cancel.cancel();
    let stopped = platform.check_batch(&actor(Role::Regulator), &[check_request()], &cancel).unwrap_err();
    assert!(matches!(stopped, PlatformError::Cancelled(_)) && !stopped.is_user_error(), "{stopped}");
    assert!(entries(&platform, "check").is_empty());
}

#[test]
fn reading_a_person_as_a_regulator_needs_a_purpose_and_is_audited() {
    let platform = platform();
    let regulator = actor(Role::Regulator);
    let mut query = SubjectQuery { identifier: DEBTOR.into(), view: View::Regulator, ..SubjectQuery::default() };
    let refused = platform.read_subject(&regulator, &query, false).unwrap_err();
    assert!(matches!(refused, PlatformError::PurposeRequired), "{refused}");
    assert!(entries(&platform, "subject.read").is_empty());

    query.purpose = Some("行政许可审查".into());
    let page = platform.read_subject(&regulator, &query, true).unwrap();
    assert!(!page.records.is_empty() && page.subject_history.is_some());
    let logged = entries(&platform, "subject.read");
    assert_eq!(logged.len(), 1);
    assert_eq!((logged[0].subject, logged[0].purpose.as_deref()), (Some(page.subject.id), Some("行政许可审查")));
    assert_eq!(logged[0].actor, regulator);

    // A company needs no purpose, and its read is not written down.
    let company = SubjectQuery { identifier: COMPANY.into(), view: View::Regulator, ..SubjectQuery::default() };
    platform.read_subject(&regulator, &company, false).unwrap();
    assert_eq!(entries(&platform, "subject.read").len(), 1);
}

#[test]
fn the_public_reads_today_only_and_never_the_regulator_view() {
    let platform = platform();
    let public = Actor::anonymous();
    let past = SubjectQuery {
        identifier: COMPANY.into(),
        as_of: NaiveDate::from_ymd_opt(2024, 6, 1),
        ..SubjectQuery::default()
    };
    let refused = platform.read_subject(&public, &past, false).unwrap_err();
    assert!(matches!(refused, PlatformError::TimeTravel { field: "as_of", role: Role::Public }), "{refused}");
    let known_at = SubjectQuery { identifier: COMPANY.into(), known_at: Some(Utc::now()), ..SubjectQuery::default() };
    let refused = platform.read_subject(&actor(Role::Provider), &known_at, false).unwrap_err();
    assert!(matches!(refused, PlatformError::TimeTravel { field: "known_at", .. }), "{refused}");
    let regulator_view = SubjectQuery { identifier: COMPANY.into(), view: View::Regulator, ..SubjectQuery::default() };
    let refused = platform.read_subject(&public, &regulator_view, false).unwrap_err();
    assert!(matches!(refused, PlatformError::Unauthenticated { .. }), "{refused}");
    let history = SubjectQuery { identifier: COMPANY.into(), ..SubjectQuery::default() };
    let refused = platform.read_subject(&public, &history, true).unwrap_err();
    assert!(matches!(refused, PlatformError::Invalid { field: "include_history", .. }), "{refused}");

    let page = platform.read_subject(&public, &history, false).unwrap();
    assert_eq!(page.view, View::Public);
    let missing = SubjectQuery { identifier: "91350100M000100Y43".into(), ..SubjectQuery::default() };
    assert!(matches!(platform.read_subject(&public, &missing, false), Err(PlatformError::NoSubject(_))));
}

#[test]
fn administrative_acts_are_recorded_for_admins_only() {
    use crate::platform::AdminAct;
    let platform = platform();
    let act =
        AdminAct::ApiKeyCreated { id: "k1".into(), role: Role::Provider, dept: Some("市市场监管局".into()) };
    for role in [Role::Public, Role::Provider, Role::Regulator] {
        let actor = Actor { key_id: Some("x".into()), role, department: None, name: None };
        assert!(platform.record_admin(&actor, std::slice::from_ref(&act)).is_err(), "{role:?} may not");
    }
    let rotate = AdminAct::SigningRotate { retired_key_id: "a".into(), key_id: "b".into() };
    platform.record_admin(&Actor::console(None), &[act, rotate]).unwrap();
    let entries = platform.store().audit().query(&AuditQuery { limit: 10, ..AuditQuery::default() }).unwrap();
    let operations: Vec<_> = entries.iter().map(|e| e.entry.event.operation.as_str()).collect();
    assert_eq!(operations, ["api_key.create", "signing.rotate"], "{entries:?}");
    assert_eq!(entries[0].entry.event.detail.get("dept").map(String::as_str), Some("市市场监管局"));
}
