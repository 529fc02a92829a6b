//! Deadlines, escalation and expiring risk acceptances, on a real SQLite file and PostgreSQL, with the clock
//! passed in.

use chrono::{DateTime, Duration, Utc};
use ward_store::{IssueTarget, Store, Transition};
use ward_testdata::TestDb;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn missed_deadlines_escalate_once_each_and_expired_acceptances_reopen(db: TestDb) {
    let store = Store::open(db.location()).await.unwrap();
    store
        .create_organisation("test", "central", "Central", true)
        .await
        .unwrap();
    let org = store
        .create_organisation("test", "m1", "Member", false)
        .await
        .unwrap();
    let target = |vuln: &str| IssueTarget {
        organisation_id: org.id,
        vulnerability: vuln.into(),
        title: vuln.into(),
        exposure: "confirm-exposure".into(),
        priority: None,
        acknowledge_by: Some("2025-01-01T00:00:00.000Z".into()),
        remediate_by: Some("2025-01-10T00:00:00.000Z".into()),
    };
    let alerts = store
        .issue_alerts(
            "test",
            &[target("CVE-1"), target("CVE-2"), target("CVE-3")],
            Some("note"),
        )
        .await
        .unwrap();
    let (a1, a2, a3) = (alerts[0].id, alerts[1].id, alerts[2].id);
    // CVE-2 acknowledged in time (by the clock of this test, acknowledgement is not late).
    store
        .transition_alert("test", Some(org.id), a2, &Transition::Acknowledge)
        .await
        .unwrap();
    // CVE-3: not affected: no deadline applies any more.
    store
        .transition_alert(
            "test",
            Some(org.id),
            a3,
            &Transition::NotAffected {
                justification: "component_not_present".into(),
            },
        )
        .await
        .unwrap();

    // Before any deadline: nothing.
    let none = store.tick(t("2024-12-31T00:00:00Z")).await.unwrap();
    assert!(none.escalated.is_empty() && none.reopened.is_empty());
    // The acknowledgement deadline passes: only the unacknowledged alert escalates.
    let first = store.tick(t("2025-01-02T00:00:00Z")).await.unwrap();
    assert_eq!(
        first.escalated.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![a1]
    );
    assert_eq!(
        first.escalated[0].escalated_at.as_deref(),
        Some("2025-01-02T00:00:00.000Z")
    );
    // Once per missed deadline.
    assert!(
        store
            .tick(t("2025-01-03T00:00:00Z"))
            .await
            .unwrap()
            .escalated
            .is_empty()
    );
    // The remediation deadline passes: both open ones escalate (again, for CVE-1).
    let second = store.tick(t("2025-01-11T00:00:00Z")).await.unwrap();
    let mut ids: Vec<i64> = second.escalated.iter().map(|a| a.id).collect();
    ids.sort();
    assert_eq!(ids, vec![a1, a2]);
    assert!(
        store
            .tick(t("2025-01-12T00:00:00Z"))
            .await
            .unwrap()
            .escalated
            .is_empty()
    );

    // A risk acceptance reopens when it expires.
    let until = Utc::now() + Duration::days(30);
    let accepted = store
        .transition_alert(
            "test",
            Some(org.id),
            a2,
            &Transition::AcceptRisk {
                justification: "air-gapped".into(),
                until,
            },
        )
        .await
        .unwrap();
    assert_eq!(accepted.state, "risk-accepted");
    assert!(
        store
            .tick(until - Duration::seconds(1))
            .await
            .unwrap()
            .reopened
            .is_empty()
    );
    let expired = store.tick(until + Duration::seconds(1)).await.unwrap();
    assert_eq!(expired.reopened.len(), 1);
    assert_eq!(expired.reopened[0].state, "open");
    assert_eq!(
        expired.reopened[0].justification.as_deref(),
        Some("air-gapped")
    );

    // Another organisation's scope cannot reach the alert.
    let other = store
        .create_organisation("test", "m2", "Other", false)
        .await
        .unwrap();
    let err = store
        .transition_alert("test", Some(other.id), a1, &Transition::Acknowledge)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such alert"), "{err}");

    let audit = store.audit_log().await.unwrap();
    let escalations = audit
        .iter()
        .filter(|e| e.action == "alert.escalate")
        .count();
    assert_eq!(escalations, 3);
    assert!(
        audit
            .iter()
            .any(|e| e.action == "alert.reopen" && e.actor == "ward:deadlines")
    );
    assert!(store.verify_audit().await.unwrap().problems.is_empty());
}

ward_testdata::backend_tests!(missed_deadlines_escalate_once_each_and_expired_acceptances_reopen);
