//! Deadlines, escalation and expiring risk acceptances, on a real SQLite file and PostgreSQL, with the clock
//! passed in.

use chrono::{DateTime, Duration, Utc};
use ward_model::{AlertExposure, AlertState, ChannelKind};
use ward_store::{
    AlertId, IssueTarget, Job, OrgId, Organisation, Scope, Store, StoreError, Transition,
};
use ward_testdata::TestDb;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A store with a central team and one member.
async fn one_member(db: &TestDb) -> (Store, ward_store::Organisation) {
    let store = Store::open(db.location()).await.unwrap();
    store
        .create_organisation("test", "central", "Central", true)
        .await
        .unwrap();
    let member = store
        .create_organisation("test", "m1", "Member", false)
        .await
        .unwrap();
    (store, member)
}

/// The scope of one organisation, as its members have it.
fn only(org: &Organisation) -> Scope {
    Scope::operator()
        .within(org.id)
        .expect("the operator reaches every organisation")
}

/// The central team's alert about `vuln` for `org`, with these deadlines.
fn issued(
    org: OrgId,
    vuln: &str,
    acknowledge_by: Option<&str>,
    remediate_by: Option<&str>,
) -> IssueTarget {
    IssueTarget {
        organisation_id: org,
        vulnerability: vuln.into(),
        title: vuln.into(),
        exposure: AlertExposure::ConfirmExposure,
        priority: None,
        acknowledge_by: acknowledge_by.map(Into::into),
        remediate_by: remediate_by.map(Into::into),
        severity: None,
    }
}

async fn missed_deadlines_escalate_once_each_and_expired_acceptances_reopen(db: TestDb) {
    let (store, org) = one_member(&db).await;
    store
        .add_channel(
            "test",
            only(&org),
            ChannelKind::Webhook,
            "https://hooks.example/ward",
            Some("whsec-0123456789abcdef"),
        )
        .await
        .unwrap();
    let target = |vuln: &str| {
        issued(
            org.id,
            vuln,
            Some("2025-01-01T00:00:00.000Z"),
            Some("2025-01-10T00:00:00.000Z"),
        )
    };
    let alerts = store
        .issue_alerts(
            "test",
            Scope::operator(),
            &[target("CVE-1"), target("CVE-2"), target("CVE-3")],
            Some("note"),
        )
        .await
        .unwrap();
    let (a1, a2, a3) = (alerts[0].id, alerts[1].id, alerts[2].id);
    // CVE-2 acknowledged in time (by the clock of this test, acknowledgement is not late).
    store
        .transition_alert("test", only(&org), a2, &Transition::Acknowledge)
        .await
        .unwrap();
    // CVE-3: not affected: no deadline applies any more.
    store
        .transition_alert(
            "test",
            only(&org),
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
        first.escalated[0].escalated_at,
        Some(t("2025-01-02T00:00:00.000Z"))
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
    let mut ids: Vec<AlertId> = second.escalated.iter().map(|a| a.id).collect();
    ids.sort();
    let mut both = vec![a1, a2];
    both.sort();
    assert_eq!(ids, both);
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
            only(&org),
            a2,
            &Transition::AcceptRisk {
                justification: "air-gapped".into(),
                until,
            },
        )
        .await
        .unwrap();
    assert_eq!(accepted.state, AlertState::RiskAccepted);
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
    assert_eq!(expired.reopened[0].state, AlertState::Open);
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
        .transition_alert("test", only(&other), a1, &Transition::Acknowledge)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such alert"), "{err}");

    let audit = store.audit_log(Scope::operator()).await.unwrap();
    let escalations = audit
        .iter()
        .filter(|e| e.action == "alert.escalate")
        .count();
    assert_eq!(escalations, 3);
    // Each escalation's notification carries the alert as every event does, and which
    // deadline was missed beside it.
    let sent = store
        .claim_deliveries(100, Duration::seconds(60))
        .await
        .unwrap();
    let mut missed: Vec<(String, String)> = sent
        .iter()
        .filter(|d| d.event == "alert.escalate")
        .map(|d| {
            let p: serde_json::Value = serde_json::from_str(&d.payload).unwrap();
            assert!(p["alert"].get("alert").is_none(), "nested: {p}");
            assert!(p["alert"]["escalated_at"].is_string(), "{p}");
            (
                p["alert"]["subject"].as_str().unwrap().to_owned(),
                p["missed"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    missed.sort();
    assert_eq!(
        missed,
        [
            ("CVE-1".to_owned(), "acknowledgement".to_owned()),
            ("CVE-1".to_owned(), "remediation".to_owned()),
            ("CVE-2".to_owned(), "remediation".to_owned()),
        ]
    );
    assert!(
        audit
            .iter()
            .any(|e| e.action == "alert.reopen" && e.actor == "ward:deadlines")
    );
    assert!(store.verify_audit().await.unwrap().problems.is_empty());
}

/// Three servers (three stores on one database, each with several deliverers) claim from one
/// outbox at once: no notification is claimed twice while its claim holds, and none is left.
async fn concurrent_deliverers_never_claim_the_same_notification(db: TestDb) {
    let (first, org) = one_member(&db).await;
    first
        .add_channel(
            "test",
            only(&org),
            ChannelKind::Webhook,
            "http://127.0.0.1:9/hook",
            Some("whsec-0123456789abcdef"),
        )
        .await
        .unwrap();
    let targets: Vec<IssueTarget> = (0..400)
        .map(|i| issued(org.id, &format!("CVE-2025-{i:05}"), None, None))
        .collect();
    first
        .issue_alerts("test", Scope::operator(), &targets, None)
        .await
        .unwrap();
    let queued = first.outbox_counts().await.unwrap().pending;
    assert_eq!(queued, 400);

    // SQLite has one writer and one server; PostgreSQL is where several servers claim at once.
    let servers = if db.backend() == ward_testdata::Backend::Postgres {
        3
    } else {
        1
    };
    let mut stores = vec![first];
    for _ in 1..servers {
        stores.push(Store::open(db.location()).await.unwrap());
    }
    let mut deliverers = Vec::new();
    for store in &stores {
        for _ in 0..4 {
            let store = store.clone();
            deliverers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store
                        .claim_deliveries(3, Duration::minutes(10))
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    for d in batch {
                        store.delivered(d.id).await.unwrap();
                        mine.push(d.id);
                    }
                }
            }));
        }
    }
    let mut claimed = Vec::new();
    for d in deliverers {
        claimed.extend(d.await.unwrap());
    }
    let total = claimed.len();
    claimed.sort_unstable();
    claimed.dedup();
    assert_eq!(
        claimed.len(),
        total,
        "{} notifications claimed twice",
        total - claimed.len()
    );
    assert_eq!(total, 400);
    assert_eq!(stores[0].outbox_counts().await.unwrap().pending, 0);
}

/// Deadline checks running at once (several servers, or a server and `ward` by hand) escalate
/// each missed deadline once between them.
async fn concurrent_deadline_checks_escalate_each_alert_once(db: TestDb) {
    let (store, org) = one_member(&db).await;
    let targets: Vec<IssueTarget> = (0..50)
        .map(|i| {
            issued(
                org.id,
                &format!("CVE-2025-{i:05}"),
                Some("2025-01-01T00:00:00.000Z"),
                Some("2025-02-01T00:00:00.000Z"),
            )
        })
        .collect();
    store
        .issue_alerts("test", Scope::operator(), &targets, None)
        .await
        .unwrap();
    let mut checks = Vec::new();
    for _ in 0..3 {
        let other = Store::open(db.location()).await.unwrap();
        checks.push(tokio::spawn(async move {
            other
                .tick(t("2025-01-15T00:00:00Z"))
                .await
                .unwrap()
                .escalated
                .len()
        }));
    }
    let mut escalated = 0;
    for c in checks {
        escalated += c.await.unwrap();
    }
    assert_eq!(escalated, 50);
}

/// A background job is one server's at a time; a server that dies lets go of it.
async fn a_job_is_one_servers_at_a_time(db: TestDb) {
    let a = Store::open(db.location()).await.unwrap();
    let b = Store::open(db.location()).await.unwrap();
    let held = a
        .try_job(Job::Matching)
        .await
        .unwrap()
        .expect("free at first");
    match db.backend() {
        ward_testdata::Backend::Postgres => {
            assert!(b.try_job(Job::Matching).await.unwrap().is_none());
            // Another job is not held by it.
            let other = b
                .try_job(Job::Deadlines)
                .await
                .unwrap()
                .expect("a different job");
            other.release().await.unwrap();
            held.release().await.unwrap();
            let again = b.try_job(Job::Matching).await.unwrap().expect("released");
            // Dropped unreleased (as when the holder fails): the lock goes with its session.
            drop(again);
            let mut waited = 0;
            while a.try_job(Job::Matching).await.unwrap().is_none() {
                waited += 1;
                assert!(waited < 100, "a dropped job lock was never freed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        // One server per SQLite file: its jobs are always its own.
        ward_testdata::Backend::Sqlite => {
            assert!(b.try_job(Job::Matching).await.unwrap().is_some());
            held.release().await.unwrap();
        }
    }
}

/// A member's scope reaches its own records only: alerts, one alert by id, the audit log, and
/// nothing can be issued or planned for another organisation through it.
async fn a_member_scope_reaches_only_its_own_records(db: TestDb) {
    let (store, org) = one_member(&db).await;
    let other = store
        .create_organisation("test", "m2", "Other", false)
        .await
        .unwrap();
    let alerts = store
        .issue_alerts(
            "test",
            Scope::operator(),
            &[
                issued(org.id, "CVE-2025-0001", None, None),
                issued(other.id, "CVE-2025-0002", None, None),
            ],
            None,
        )
        .await
        .unwrap();
    let mine = store.alerts(only(&org)).await.unwrap();
    assert_eq!(
        mine.iter().map(|a| a.subject.as_str()).collect::<Vec<_>>(),
        ["CVE-2025-0001"]
    );
    assert!(
        store
            .alert(only(&org), alerts[1].id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .alert(only(&other), alerts[1].id)
            .await
            .unwrap()
            .is_some()
    );
    let before = store.audit_log(Scope::operator()).await.unwrap().len();
    let refused = store
        .issue_alerts(
            "test",
            only(&org),
            &[issued(other.id, "CVE-2025-0003", None, None)],
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::NotFound(_)), "{refused}");
    assert_eq!(
        store.audit_log(Scope::operator()).await.unwrap().len(),
        before
    );
    let own = store.audit_log(only(&org)).await.unwrap();
    assert!(!own.is_empty());
    assert!(
        own.iter().all(|e| e.organisation_id == Some(org.id.get())),
        "{own:?}"
    );
    assert!(
        store
            .open_findings_for(only(&org), other.id, "CVE-2025-0002")
            .await
            .is_err()
    );
}

/// A stored word outside its vocabulary is an error that names the table, the row and the
/// column (it used to vanish as `None` or pass as text).
async fn an_unreadable_stored_value_names_table_row_and_column(db: TestDb) {
    let (store, org) = one_member(&db).await;
    let alerts = store
        .issue_alerts(
            "test",
            Scope::operator(),
            &[issued(org.id, "CVE-2025-0001", None, None)],
            None,
        )
        .await
        .unwrap();
    db.execute("UPDATE alert SET state = 'shut'").unwrap();
    let err = store.alerts(only(&org)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "stored alert {}: column state is unreadable: alert state \"shut\" is not one of open, acknowledged, remediated, risk-accepted, not-affected, withdrawn, triaged, confirmed, contained, closed, false-positive",
            alerts[0].id
        )
    );
    db.execute("UPDATE alert SET state = 'open', created_at = 'yesterday'")
        .unwrap();
    let err = store.alert(only(&org), alerts[0].id).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::Unreadable {
                table: "alert",
                column: "created_at",
                ..
            }
        ),
        "{err}"
    );
}

/// Authenticating reads only: a token's use is noted in memory and recorded by
/// `flush_token_uses`, so a request never waits for the database's write lock.
async fn a_tokens_use_is_recorded_off_the_request_path(db: TestDb) {
    let (store, member) = one_member(&db).await;
    let (_, secret) = store
        .create_token("test", &member.slug, "reader", ward_store::Role::ReadOnly)
        .await
        .unwrap();
    let last_used = || db.scalar("SELECT COALESCE(last_used_at, 'never') FROM api_token");
    let principal = store.authenticate(&secret).await.unwrap().unwrap();
    assert_eq!(principal.organisation.slug, "m1");
    assert_eq!(last_used(), "never", "authentication wrote");
    assert_eq!(store.flush_token_uses().await.unwrap(), 1);
    let recorded = last_used();
    assert!(recorded.starts_with("20"), "{recorded}");
    assert_eq!(store.flush_token_uses().await.unwrap(), 0, "nothing new");
}

ward_testdata::backend_tests!(
    a_tokens_use_is_recorded_off_the_request_path,
    an_unreadable_stored_value_names_table_row_and_column,
    a_member_scope_reaches_only_its_own_records,
    missed_deadlines_escalate_once_each_and_expired_acceptances_reopen,
    concurrent_deliverers_never_claim_the_same_notification,
    concurrent_deadline_checks_escalate_each_alert_once,
    a_job_is_one_servers_at_a_time,
);
