//! Continuous matching and inventory uploads racing each other, on a real SQLite file and a
//! real PostgreSQL schema. Each test plays one interleaving step by step.

use ward_model::{Advisory, Component};
use ward_priority::Policy;
use ward_store::{
    AssetId, AssetRow, FindingQuery, InventoryUpload, NewAsset, Scope, Store, StoreError,
};
use ward_testdata::{TestDb, epmm_advisory};

async fn import(store: &Store, advisory: &Advisory) {
    let mut tx = store.begin_import().await.unwrap();
    tx.upsert_advisory(advisory).await.unwrap();
    tx.commit(&serde_json::json!({})).await.unwrap();
}

/// CISA lists the EPMM authentication bypass in KEV (as it did on 2025-05-19).
async fn list_in_kev(store: &Store) {
    let mut tx = store.begin_import().await.unwrap();
    tx.upsert_kev(&ward_model::KevEntry {
        cve_id: "CVE-2025-4427".into(),
        date_added: chrono::NaiveDate::from_ymd_opt(2025, 5, 19),
        due_date: chrono::NaiveDate::from_ymd_opt(2025, 6, 9),
        ..ward_model::KevEntry::default()
    })
    .await
    .unwrap();
    tx.commit(&serde_json::json!({})).await.unwrap();
}

fn epmm(version: &str) -> Vec<Component> {
    let csv = format!(
        "asset,cpe\nmdm-01,cpe:2.3:a:ivanti:endpoint_manager_mobile:{version}:*:*:*:*:*:*:*\n"
    );
    let parsed = ward_inventory::parse_inventory("epmm.csv", csv.as_bytes()).unwrap();
    parsed
        .inventory
        .assets
        .into_iter()
        .flat_map(|a| a.components)
        .collect()
}

/// A member with one internet-facing asset and no inventory yet.
async fn member_asset(db: &TestDb) -> (Store, Policy, AssetRow) {
    let store = Store::open(db.location()).await.unwrap();
    store
        .create_organisation("test", "central", "Central", true)
        .await
        .unwrap();
    let org = store
        .create_organisation("test", "rxa", "A trust", false)
        .await
        .unwrap();
    let asset = store
        .create_asset(
            "test",
            Scope::operator().within(org.id).unwrap(),
            &NewAsset {
                name: "mdm-01".into(),
                exposure: Some(ward_model::Exposure::Open),
                criticality: Some(ward_model::Criticality::High),
                tags: vec![],
            },
        )
        .await
        .unwrap();
    (store, Policy::load("nhs-hsa").unwrap(), asset)
}

/// An inventory matched as an upload matches it: the knowledge mark read first.
struct Matched {
    components: Vec<Component>,
    keys: Vec<(Option<String>, String)>,
    findings: Vec<ward_model::Finding>,
    knowledge_mark: i64,
}

async fn matched(store: &Store, policy: &Policy, asset: &AssetRow, version: &str) -> Matched {
    let knowledge_mark = store.knowledge_mark().await.unwrap();
    let components = epmm(version);
    let (keys, findings) = ward_server::match_asset(store, policy, asset, components.clone())
        .await
        .unwrap();
    Matched {
        components,
        keys,
        findings,
        knowledge_mark,
    }
}

/// Stores a matched inventory as the asset's current one.
async fn store_it(
    store: &Store,
    policy: &Policy,
    asset: &AssetRow,
    m: &Matched,
) -> Result<ward_store::UploadOutcome, StoreError> {
    let upload = InventoryUpload {
        format: "csv",
        file_name: "epmm.csv",
        bytes: b"",
        components: &m.components,
        keys: &m.keys,
        findings: &m.findings,
        knowledge_mark: m.knowledge_mark,
        keep_versions: ward_priority::policy::DEFAULT_INVENTORY_VERSIONS,
    };
    store
        .upload_inventory("test", asset, &upload, policy.alert_threshold)
        .await
}

/// Stores a matched inventory with every finding raising an alert (threshold `defer`).
async fn store_alerting(store: &Store, asset: &AssetRow, m: &Matched) {
    let upload = InventoryUpload {
        format: "csv",
        file_name: "epmm.csv",
        bytes: b"",
        components: &m.components,
        keys: &m.keys,
        findings: &m.findings,
        knowledge_mark: m.knowledge_mark,
        keep_versions: 10,
    };
    store
        .upload_inventory("test", asset, &upload, ward_model::Priority::Defer)
        .await
        .unwrap();
}

/// Matches EPMM at `version` for the asset and stores it.
async fn upload(
    store: &Store,
    policy: &Policy,
    asset: &AssetRow,
    version: &str,
) -> ward_store::UploadOutcome {
    let m = matched(store, policy, asset, version).await;
    store_it(store, policy, asset, &m).await.unwrap()
}

/// (open, resolved) findings of the asset.
async fn findings(store: &Store, asset: AssetId) -> (usize, usize) {
    let query = |resolved| FindingQuery {
        scope: Scope::operator(),
        resolved,
        priority: None,
        search: None,
        asset_id: Some(asset),
        vulnerability: None,
        limit: 100,
        offset: 0,
        after: None,
    };
    let open = store.findings(&query(false)).await.unwrap().0.len();
    let all = store.findings(&query(true)).await.unwrap().0;
    (open, all.iter().filter(|f| f.resolved_at.is_some()).count())
}

async fn a_rematch_of_an_inventory_replaced_meanwhile_leaves_the_new_one_alone(db: TestDb) {
    let (store, policy, asset) = member_asset(&db).await;
    import(&store, &epmm_advisory(13, "12.5.0.1")).await;
    upload(&store, &policy, &asset, "12.5.0.0").await;
    assert_eq!(findings(&store, asset.id).await, (1, 0));

    // Continuous matching reads the asset as it is (version 1, vulnerable) and matches it…
    let read = store.assets_for_matching(&[asset.id]).await.unwrap();
    let (row, components) = &read[0];
    assert_eq!(row.inventory_version, 1);
    let (_, stale) = ward_server::match_asset(&store, &policy, row, components.clone())
        .await
        .unwrap();
    assert_eq!(stale.len(), 1);
    // …the member uploads the patched inventory before matching writes…
    let now = store
        .asset(Scope::operator(), asset.id)
        .await
        .unwrap()
        .unwrap();
    let outcome = upload(&store, &policy, &now, "12.5.0.1").await;
    assert_eq!(outcome.resolved.len(), 1);
    // …and matching's write must not reopen what the patch resolved.
    let done = store
        .rematch_assets(
            &[(row.clone(), store.prepare_findings(&stale), Vec::new())],
            None,
            policy.alert_threshold,
        )
        .await
        .unwrap();
    assert_eq!(done.superseded, [asset.id]);
    assert!(done.outcomes.is_empty() && done.alerts.is_empty());
    assert_eq!(findings(&store, asset.id).await, (0, 1));

    // Matched again as it now is: nothing to do.
    let (run, _) = ward_server::match_all(&store, &policy).await.unwrap();
    assert_eq!((run.assets, run.new, run.superseded), (1, 0, 0));
    assert_eq!(findings(&store, asset.id).await, (0, 1));
}

async fn an_upload_matched_before_an_import_committed_is_refused_whole(db: TestDb) {
    let (store, policy, asset) = member_asset(&db).await;
    // The upload reads the knowledge (nothing on EPMM yet) and matches: no findings…
    let before = matched(&store, &policy, &asset, "12.5.0.0").await;
    assert!(before.findings.is_empty());
    // …the CVE is imported and continuous matching runs before the upload commits (the asset
    // has no inventory yet, so it finds nothing to re-match)…
    import(&store, &epmm_advisory(13, "12.5.0.1")).await;
    let (run, _) = ward_server::match_all(&store, &policy).await.unwrap();
    assert_eq!(run.new, 0);
    assert!(store.knowledge_mark().await.unwrap() > before.knowledge_mark);
    // …so the upload, whose findings predate the CVE, is refused and stores nothing…
    let refused = store_it(&store, &policy, &asset, &before).await;
    assert!(
        matches!(refused, Err(StoreError::KnowledgeMoved)),
        "{refused:?}"
    );
    assert!(
        store
            .inventory_history(Scope::operator(), asset.id)
            .await
            .unwrap()
            .is_empty()
    );
    // …and matched again with what is known now, it finds the CVE.
    let outcome = upload(&store, &policy, &asset, "12.5.0.0").await;
    assert_eq!(outcome.version, 1);
    assert_eq!(outcome.new.len(), 1);
    assert_eq!(findings(&store, asset.id).await, (1, 0));
}

/// An asset's newest `keep_versions` inventory versions keep their components, compressed;
/// older ones keep their history row only; a version stored as plain JSON (before Ward
/// compressed them) still reads back.
async fn inventory_history_is_compact_and_kept_by_policy(db: TestDb) {
    let (store, policy, asset) = member_asset(&db).await;
    // A large inventory: 2,000 components, as a CSV upload gives them.
    let mut csv = String::from("asset,cpe\n");
    for i in 0..2_000 {
        csv.push_str(&format!(
            "mdm-01,cpe:2.3:a:vendor{}:product{i}:1.{i}.0:*:*:*:*:*:*:*\n",
            i % 7
        ));
    }
    let parsed = ward_inventory::parse_inventory("big.csv", csv.as_bytes()).unwrap();
    let components: Vec<Component> = parsed
        .inventory
        .assets
        .into_iter()
        .flat_map(|a| a.components)
        .collect();
    let json = serde_json::to_string(&components).unwrap();
    for _ in 0..4 {
        let upload = InventoryUpload {
            format: "csv",
            file_name: "big.csv",
            bytes: csv.as_bytes(),
            components: &components,
            keys: &[],
            findings: &[],
            knowledge_mark: store.knowledge_mark().await.unwrap(),
            keep_versions: 2,
        };
        store
            .upload_inventory("test", &asset, &upload, policy.alert_threshold)
            .await
            .unwrap();
    }
    let history = store
        .inventory_history(Scope::operator(), asset.id)
        .await
        .unwrap();
    let kept: Vec<(i64, bool, i64)> = history
        .iter()
        .map(|v| (v.version, v.components_kept, v.components))
        .collect();
    assert_eq!(
        kept,
        [
            (1, false, 2_000),
            (2, false, 2_000),
            (3, true, 2_000),
            (4, true, 2_000)
        ]
    );
    let current = store
        .current_components(Scope::operator(), asset.id)
        .await
        .unwrap();
    assert_eq!(serde_json::to_string(&current).unwrap(), json);
    let stored: usize = db
        .scalar("SELECT CAST(SUM(LENGTH(payload)) AS TEXT) FROM inventory_version")
        .parse()
        .unwrap();
    // Generated names compress less than a real SBOM's; still, two versions stored take less
    // than one did as JSON.
    assert!(
        stored < json.len(),
        "two versions take {stored} bytes; one as JSON is {}",
        json.len()
    );
    // A version written as plain JSON before compression is read as it was.
    db.execute(&format!(
        "UPDATE inventory_version SET payload = '{}', payload_encoding = 'json' WHERE version = 4",
        json.replace('\'', "''")
    ))
    .unwrap();
    let current = store
        .current_components(Scope::operator(), asset.id)
        .await
        .unwrap();
    assert_eq!(current.len(), 2_000);
}

/// Ids of what members own are neither sequential nor small: a member who creates two assets
/// cannot tell from their ids how many others were made between them, and every id is exact
/// in JavaScript (below 2^53).
async fn ids_of_members_records_are_opaque(db: TestDb) {
    let (store, policy, first) = member_asset(&db).await;
    let org = Scope::operator().within(first.organisation_id).unwrap();
    let mut ids = vec![first.id.get()];
    for i in 0..30 {
        let asset = store
            .create_asset(
                "test",
                org,
                &NewAsset {
                    name: format!("host-{i}"),
                    exposure: None,
                    criticality: None,
                    tags: vec![],
                },
            )
            .await
            .unwrap();
        ids.push(asset.id.get());
    }
    let ascending = ids.windows(2).filter(|w| w[1] > w[0]).count();
    assert!(ascending < 27, "{ascending} of 30 steps ascending: {ids:?}");
    assert!(ids.iter().all(|id| *id > 0 && *id <= 1 << 52), "{ids:?}");
    assert!(
        ids.iter().filter(|id| **id < 1 << 32).count() <= 1,
        "small ids: {ids:?}"
    );
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
    // Findings and alerts too.
    import(&store, &epmm_advisory(20, "12.5.0.1")).await;
    let m = matched(&store, &policy, &first, "12.5.0.0").await;
    let upload = InventoryUpload {
        format: "csv",
        file_name: "epmm.csv",
        bytes: b"",
        components: &m.components,
        keys: &m.keys,
        findings: &m.findings,
        knowledge_mark: m.knowledge_mark,
        keep_versions: 1,
    };
    // Every finding alerts.
    store
        .upload_inventory("test", &first, &upload, ward_model::Priority::Defer)
        .await
        .unwrap();
    let alerts = store.alerts(Scope::operator()).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].id.get() > 1 << 32, "alert id {}", alerts[0].id);
    let finding = db.scalar("SELECT CAST(id AS TEXT) FROM finding");
    assert!(
        finding.parse::<i64>().unwrap() > 1 << 32,
        "finding id {finding}"
    );
}

/// A risk acceptance that runs out after the member upgraded (its findings all resolved
/// meanwhile) closes the alert as remediated; it is neither reopened nor escalated. One whose
/// findings are still open reopens.
async fn an_expired_acceptance_reopens_only_what_is_still_affected(db: TestDb) {
    let (store, policy, asset) = member_asset(&db).await;
    import(&store, &epmm_advisory(20, "12.5.0.1")).await;
    let org = Scope::operator().within(asset.organisation_id).unwrap();
    let alert_after_upload = |version: &'static str| {
        let (store, policy, asset) = (&store, &policy, &asset);
        async move {
            let m = matched(store, policy, asset, version).await;
            store_alerting(store, asset, &m).await;
            store.alerts(Scope::operator()).await.unwrap()
        }
    };
    let alerts = alert_after_upload("12.5.0.0").await;
    assert_eq!(alerts.len(), 1);
    let id = alerts[0].id;
    let until = chrono::Utc::now() + chrono::Duration::days(30);
    store
        .transition_alert(
            "test",
            org,
            id,
            &ward_store::Transition::AcceptRisk {
                justification: "behind the VPN until the upgrade".into(),
                until,
            },
        )
        .await
        .unwrap();
    // The member upgrades while the risk is accepted: its findings resolve.
    alert_after_upload("12.5.0.1").await;
    assert_eq!(findings(&store, asset.id).await.0, 0);
    let tick = store.tick(until + chrono::Duration::days(1)).await.unwrap();
    assert!(tick.reopened.is_empty(), "{:?}", tick.reopened);
    assert!(tick.escalated.is_empty(), "{:?}", tick.escalated);
    assert_eq!(tick.remediated.len(), 1);
    let alert = store.alert(org, id).await.unwrap().unwrap();
    assert_eq!(alert.state, ward_model::AlertState::Remediated);

    // Back on the vulnerable version: the alert reopens with its findings; accepted again, and
    // the acceptance runs out while they are open: it reopens.
    alert_after_upload("12.5.0.0").await;
    let alert = store.alert(org, id).await.unwrap().unwrap();
    assert_eq!(alert.state, ward_model::AlertState::Open);
    store
        .transition_alert(
            "test",
            org,
            id,
            &ward_store::Transition::AcceptRisk {
                justification: "again".into(),
                until,
            },
        )
        .await
        .unwrap();
    let tick = store.tick(until + chrono::Duration::days(2)).await.unwrap();
    assert_eq!(tick.reopened.len(), 1);
    assert!(tick.remediated.is_empty());
}

/// NVD's view of CVE-2025-4427: EPMM from 12.5.0.0 up to (not including) 12.5.0.1.
/// NVD's view of CVE-2025-4427, two of its four ranges: before 11.12.0.5, and 12.5.0.0 to
/// before 12.5.0.1 (NVD writes the latter as the exact 12.5.0.0).
fn nvd_epmm() -> Advisory {
    use ward_model::advisory::{Node, NvdConfiguration, NvdCpeMatch};
    let mut a = Advisory::new("CVE-2025-4427", ward_model::SourceId::Nvd);
    let range = |start: Option<&str>, end: &str| NvdCpeMatch {
        vulnerable: true,
        criteria: "cpe:2.3:a:ivanti:endpoint_manager_mobile:*:*:*:*:*:*:*:*"
            .parse()
            .unwrap(),
        start_including: start.map(Into::into),
        start_excluding: None,
        end_including: None,
        end_excluding: Some(end.into()),
    };
    a.configurations.push(NvdConfiguration {
        operator: Default::default(),
        negate: false,
        nodes: vec![Node {
            operator: Default::default(),
            negate: false,
            cpe_match: vec![
                range(None, "11.12.0.5"),
                range(Some("12.5.0.0"), "12.5.0.1"),
            ],
        }],
    });
    a
}

/// A knowledge change about one vulnerability brings only that vulnerability's alerts in line:
/// the member's other open alert, about a vulnerability the change did not touch, stays open.
async fn a_knowledge_change_leaves_other_vulnerabilities_alerts_alone(db: TestDb) {
    let (store, policy, asset) = member_asset(&db).await;
    let org = Scope::operator().within(asset.organisation_id).unwrap();
    import(&store, &epmm_advisory(13, "12.5.0.1")).await;
    let mut other = epmm_advisory(13, "12.5.0.1");
    other.id = "CVE-2025-4428".into();
    import(&store, &other).await;
    let m = matched(&store, &policy, &asset, "11.12.0.5").await;
    assert_eq!(m.findings.len(), 2);
    store_alerting(&store, &asset, &m).await;

    // NVD's record of CVE-2025-4427 clears 11.12.0.5 of it; CVE-2025-4428 is not touched.
    import(&store, &nvd_epmm()).await;
    let mut lenient = policy.clone();
    lenient.alert_threshold = ward_model::Priority::Defer;
    let run = ward_server::match_knowledge_changes(&store, &lenient)
        .await
        .unwrap();
    assert_eq!(run.resolved, 1, "{run:?}");
    let states: std::collections::BTreeMap<String, ward_model::AlertState> = store
        .alerts(org)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.subject, a.state))
        .collect();
    assert_eq!(
        states,
        [
            (
                "CVE-2025-4427".to_owned(),
                ward_model::AlertState::Withdrawn
            ),
            ("CVE-2025-4428".to_owned(), ward_model::AlertState::Open),
        ]
        .into()
    );
}

/// The storyline of #17: a CNA-only import flags 11.12.0.5 (every release but the fix is
/// "affected" by the CNA's default status), the trust is alerted and acknowledges; NVD's
/// record, more precise, then clears 11.12.0.5. The alert is withdrawn — not remediated,
/// nothing was patched — with the reason (who said what before and after), the finding
/// says why it went, the member is told, and compliance counts no remediation. When the
/// knowledge widens again the alert reopens, saying why.
async fn a_knowledge_change_withdraws_an_alert_with_its_reason(db: TestDb) {
    let (store, policy, asset) = member_asset(&db).await;
    let org = Scope::operator().within(asset.organisation_id).unwrap();
    import(&store, &epmm_advisory(13, "12.5.0.1")).await;
    let m = matched(&store, &policy, &asset, "11.12.0.5").await;
    assert_eq!(
        m.findings.len(),
        1,
        "the CNA's default status flags 11.12.0.5"
    );
    store_alerting(&store, &asset, &m).await;
    let alerts = store.alerts(org).await.unwrap();
    assert_eq!(alerts.len(), 1);
    let id = alerts[0].id;
    store
        .transition_alert("member", org, id, &ward_store::Transition::Acknowledge)
        .await
        .unwrap();

    // NVD's record arrives; continuous matching takes the finding away.
    import(&store, &nvd_epmm()).await;
    let mut lenient = policy.clone();
    lenient.alert_threshold = ward_model::Priority::Defer;
    let run = ward_server::match_knowledge_changes(&store, &lenient)
        .await
        .unwrap();
    assert_eq!(run.resolved, 1, "{run:?}");
    let alert = store.alert(org, id).await.unwrap().unwrap();
    assert_eq!(alert.state, ward_model::AlertState::Withdrawn);
    assert_eq!(alert.resolution, Some(ward_model::Resolution::Withdrawn));
    let reason = alert.resolution_reason.clone().unwrap();
    assert!(
        reason.contains("mdm-01")
            && reason.contains("cna:ivanti says affected")
            && reason.contains("nvd"),
        "{reason}"
    );
    // The finding says why it went.
    let (rows, _) = store
        .findings(&FindingQuery {
            resolved: true,
            ..FindingQuery::new(org)
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].resolution.as_deref(), Some("knowledge"));
    assert!(
        rows[0]
            .resolution_reason
            .as_deref()
            .unwrap()
            .contains("before, cna:ivanti says affected"),
        "{:?}",
        rows[0].resolution_reason
    );
    let audit = store.audit_log(org).await.unwrap();
    let withdraw = audit
        .iter()
        .find(|e| e.action == "alert.withdraw")
        .expect("the withdrawal is audited");
    assert_eq!(withdraw.actor, "ward:matching");
    assert!(withdraw.after.as_deref().unwrap().contains(&reason));
    // Compliance: nothing remediated, one withdrawn; card, table and CSV share these counts.
    let c = &store.alert_compliance(org).await.unwrap()[0];
    assert_eq!((c.remediated, c.remediated_on_time, c.withdrawn), (0, 0, 1));
    let s = &store.member_scorecards(org).await.unwrap()[0];
    assert_eq!((s.remediated_on_time, s.withdrawn, s.still_open), (0, 1, 0));

    // The CNA widens again (a newer record, no NVD range can override an exact listing):
    // the alert reopens and the notification says why.
    let mut wider = epmm_advisory(20, "12.5.0.1");
    wider.affected[0]
        .versions
        .push(ward_model::advisory::AffectedVersion {
            version: "11.12.0.5".into(),
            status: ward_model::advisory::Status::Affected,
            less_than: None,
            less_than_or_equal: None,
            version_type: None,
            changes: vec![],
        });
    import(&store, &wider).await;
    ward_server::match_knowledge_changes(&store, &lenient)
        .await
        .unwrap();
    let alert = store.alert(org, id).await.unwrap().unwrap();
    assert_eq!(alert.state, ward_model::AlertState::Open, "{alert:?}");
    assert_eq!(alert.resolution, None);
    let audit = store.audit_log(org).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "alert.reopen"));
}

/// #24: a release the CNA calls affected and NVD's ranges skip (their branch unnamed, no
/// source fixes it) is a disputed finding; its alert asks the member to confirm exposure, and
/// an upgrade to a fixed release closes it like any other.
async fn a_disputed_finding_asks_the_member_to_confirm(db: TestDb) {
    let (store, policy, asset) = member_asset(&db).await;
    let org = Scope::operator().within(asset.organisation_id).unwrap();
    import(&store, &epmm_advisory(13, "12.5.0.1")).await;
    import(&store, &nvd_epmm()).await;
    let m = matched(&store, &policy, &asset, "12.1.0.0").await;
    assert_eq!(m.findings.len(), 1);
    assert_eq!(m.findings[0].confidence, ward_model::Confidence::Disputed);
    store_alerting(&store, &asset, &m).await;
    let alerts = store.alerts(org).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].exposure,
        Some(ward_model::AlertExposure::ConfirmExposure)
    );
    // A settled finding (12.5.0.0, inside NVD's range) makes it affected.
    let m = matched(&store, &policy, &asset, "12.5.0.0").await;
    assert_eq!(m.findings[0].confidence, ward_model::Confidence::Exact);
    store_alerting(&store, &asset, &m).await;
    let alert = store.alert(org, alerts[0].id).await.unwrap().unwrap();
    assert_eq!(alert.exposure, Some(ward_model::AlertExposure::Affected));
    // The fix closes it.
    let m = matched(&store, &policy, &asset, "12.5.0.1").await;
    assert!(m.findings.is_empty());
    store_alerting(&store, &asset, &m).await;
    let alert = store.alert(org, alerts[0].id).await.unwrap().unwrap();
    assert_eq!(alert.state, ward_model::AlertState::Remediated);

    // A second asset on 12.0.0.0: disputed again, and a confirm alert whose findings go
    // (the asset upgraded) is closed, not left asking.
    let other = store
        .create_asset(
            "test",
            org,
            &NewAsset {
                name: "mdm-02".into(),
                exposure: None,
                criticality: None,
                tags: vec![],
            },
        )
        .await
        .unwrap();
    import(&store, &{
        let mut a = epmm_advisory(14, "12.5.0.1");
        a.id = "CVE-2025-4428".into();
        a
    })
    .await;
    import(&store, &{
        let mut a = nvd_epmm();
        a.id = "CVE-2025-4428".into();
        a
    })
    .await;
    let m = matched(&store, &policy, &other, "12.0.0.0").await;
    store_alerting(&store, &other, &m).await;
    let open: Vec<_> = store
        .alerts(org)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.state == ward_model::AlertState::Open)
        .collect();
    assert!(!open.is_empty());
    assert!(
        open.iter()
            .all(|a| a.exposure == Some(ward_model::AlertExposure::ConfirmExposure)),
        "{open:?}"
    );
    let m = matched(&store, &policy, &other, "12.5.0.1").await;
    store_alerting(&store, &other, &m).await;
    assert!(
        store
            .alerts(org)
            .await
            .unwrap()
            .iter()
            .all(|a| a.state != ward_model::AlertState::Open),
        "confirm alerts raised by matching close when their findings go"
    );
}

/// #24: a record whose fix is a hot-fix package, not a release: the finding cannot tell, the
/// member answers "fix installed" (refused as "remediated" while the finding stays), and later
/// uploads of the same release leave the answer standing.
async fn a_fix_the_version_cannot_show_is_answered_fix_installed(db: TestDb) {
    let (store, policy, asset) = member_asset(&db).await;
    let org = Scope::operator().within(asset.organisation_id).unwrap();
    let mut record = epmm_advisory(13, "12.x.1.x RPM");
    record.id = "CVE-2099-0002".into();
    import(&store, &record).await;
    let m = matched(&store, &policy, &asset, "12.5.1.0").await;
    assert_eq!(m.findings.len(), 1);
    assert_eq!(
        m.findings[0].confidence,
        ward_model::Confidence::FixUnverifiable
    );
    store_alerting(&store, &asset, &m).await;
    let id = store.alerts(org).await.unwrap()[0].id;
    let refused = store
        .transition_alert("member", org, id, &ward_store::Transition::Remediate)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let after = store
        .transition_alert(
            "member",
            org,
            id,
            &ward_store::Transition::FixInstalled {
                fix: "12.x.1.x RPM hot-fix".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(after.state, ward_model::AlertState::Remediated);
    assert_eq!(after.resolution, Some(ward_model::Resolution::Statement));
    assert!(
        after
            .answer
            .as_deref()
            .unwrap()
            .contains("12.x.1.x RPM hot-fix")
    );
    // The same release uploaded again: the answer stands.
    let m = matched(&store, &policy, &asset, "12.5.1.0").await;
    store_alerting(&store, &asset, &m).await;
    let alert = store.alert(org, id).await.unwrap().unwrap();
    assert_eq!(alert.state, ward_model::AlertState::Remediated);
    let audit = store.audit_log(org).await.unwrap();
    assert!(
        audit.iter().any(|e| e.action == "alert.remediate"
            && e.after
                .as_deref()
                .is_some_and(|a| a.contains("fix installed"))),
        "audited"
    );
}

/// The worklist read page by page after a cursor is the whole worklist in its order (priority,
/// then the remediation deadline with none last, then id), for a member and for the central
/// team; its totals, read from the counts the triggers keep, follow findings opened, resolved
/// and reopened, and agree with counting the rows.
async fn the_worklist_pages_by_keyset_and_keeps_its_counts(db: TestDb) {
    let (store, policy, asset) = member_asset(&db).await;
    import(&store, &epmm_advisory(13, "12.5.0.1")).await;
    let m = matched(&store, &policy, &asset, "12.5.0.0").await;
    let template = m.findings[0].clone();
    let base = chrono::Utc::now();
    let many = |n: usize| -> Vec<ward_model::Finding> {
        (0..n)
            .map(|i| {
                let mut f = template.clone();
                f.vulnerability = format!("CVE-2099-{i:05}");
                f.priority = ward_model::Priority::ALL[i % 4];
                // Ties on the deadline, and some without one.
                f.deadlines.remediate_by =
                    (i % 5 != 0).then(|| base + chrono::Duration::days((i % 7) as i64));
                f
            })
            .collect()
    };
    let put = |findings: Vec<ward_model::Finding>| {
        let m = Matched {
            components: m.components.clone(),
            keys: m.keys.clone(),
            findings,
            knowledge_mark: m.knowledge_mark,
        };
        let (store, policy, asset) = (&store, &policy, &asset);
        async move { store_it(store, policy, asset, &m).await.unwrap() }
    };
    put(many(230)).await;
    let member = Scope::operator().within(asset.organisation_id).unwrap();
    // One write of an asset's findings takes one block of ids (#22): they follow each other,
    // above every id of the plain opaque scheme.
    let mut ids: Vec<i64> = store
        .findings(&FindingQuery {
            limit: 1000,
            ..FindingQuery::new(member)
        })
        .await
        .unwrap()
        .0
        .iter()
        .map(|r| r.id.get())
        .collect();
    ids.sort_unstable();
    assert!(ids[0] > 1 << 52, "{}", ids[0]);
    assert_eq!(ids[229] - ids[0], 229, "not one block: {ids:?}");

    for scope in [member, Scope::operator()] {
        let whole = store
            .findings(&FindingQuery {
                limit: 1000,
                ..FindingQuery::new(scope)
            })
            .await
            .unwrap();
        assert_eq!(whole.0.len(), 230);
        assert_eq!(whole.1, 230, "the total");
        let key = |r: &ward_store::FindingRow| {
            (
                ward_model::Priority::ALL
                    .iter()
                    .position(|p| *p == r.priority),
                r.finding["deadlines"]["remediate_by"]
                    .as_str()
                    .map_or("~".to_owned(), str::to_owned),
                r.id,
            )
        };
        let keys: Vec<_> = whole.0.iter().map(key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "worklist order");

        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let (page, total) = store
                .findings(&FindingQuery {
                    limit: 17,
                    after: after.clone(),
                    ..FindingQuery::new(scope)
                })
                .await
                .unwrap();
            assert_eq!(total, 230);
            let Some(last) = page.last() else { break };
            after = Some(last.position.clone());
            let cursor: ward_store::WorklistCursor = last.position.to_string().parse().unwrap();
            assert_eq!(cursor, last.position, "a cursor reads back as written");
            paged.extend(page.iter().map(|r| r.id));
        }
        assert_eq!(
            paged,
            whole.0.iter().map(|r| r.id).collect::<Vec<_>>(),
            "pages after cursors are the worklist"
        );
        // By priority: the kept counts, and the rows.
        for p in ward_model::Priority::ALL {
            let (rows, total) = store
                .findings(&FindingQuery {
                    priority: Some(p),
                    limit: 1000,
                    ..FindingQuery::new(scope)
                })
                .await
                .unwrap();
            assert_eq!(total, rows.len() as i64, "{p:?}");
            assert!(rows.iter().all(|r| r.priority == p));
        }
    }

    // 130 resolved by an upload without them; then 30 of them back.
    put(many(100)).await;
    let total = |scope| {
        let store = &store;
        async move { store.findings(&FindingQuery::new(scope)).await.unwrap().1 }
    };
    assert_eq!(total(member).await, 100);
    assert_eq!(total(Scope::operator()).await, 100);
    let counted = store
        .findings(&FindingQuery {
            search: Some("CVE-2099".into()),
            limit: 1000,
            ..FindingQuery::new(member)
        })
        .await
        .unwrap();
    assert_eq!(
        (counted.0.len(), counted.1),
        (100, 100),
        "counted row by row"
    );
    put(many(130)).await;
    assert_eq!(total(member).await, 130);
    let with_resolved = store
        .findings(&FindingQuery {
            resolved: true,
            limit: 1000,
            ..FindingQuery::new(member)
        })
        .await
        .unwrap();
    assert_eq!(with_resolved.1, 230);
}

/// Findings are stored in parts (#22): two assets alike with the same component share one
/// detail and one component; the API reads back exactly what matching found; a knowledge
/// change that rewrites the findings leaves the old detail unreferenced, and collecting deletes
/// it (and nothing in use); rows stored as before migrations 0028 (component and deadlines in
/// the payload) and 0024 (the whole finding in it) still read.
async fn findings_share_their_details_and_none_is_left_behind(db: TestDb) {
    let (store, policy, asset) = member_asset(&db).await;
    let org = Scope::operator().within(asset.organisation_id).unwrap();
    let twin = store
        .create_asset(
            "test",
            org,
            &NewAsset {
                name: "mdm-02 `twin`".into(),
                exposure: Some(ward_model::Exposure::Open),
                criticality: Some(ward_model::Criticality::High),
                tags: vec![],
            },
        )
        .await
        .unwrap();
    import(&store, &epmm_advisory(13, "12.5.0.1")).await;
    let mut matched_now = Vec::new();
    for a in [&asset, &twin] {
        let m = matched(&store, &policy, a, "12.5.0.0").await;
        assert_eq!(m.findings.len(), 1);
        store_it(&store, &policy, a, &m).await.unwrap();
        matched_now.push(m.findings[0].clone());
    }
    let count = |table: &str| -> i64 {
        db.scalar(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
            .parse()
            .unwrap()
    };
    // One detail and one component, each kept once for both.
    assert_eq!((count("finding"), count("finding_detail")), (2, 2));
    let read = |scope: Scope| {
        let store = store.clone();
        async move {
            let mut rows = store.findings(&FindingQuery::new(scope)).await.unwrap().0;
            rows.sort_by(|a, b| a.asset.cmp(&b.asset));
            rows
        }
    };
    let rows = read(org).await;
    for (row, found) in rows.iter().zip(&matched_now) {
        assert_eq!(row.finding, serde_json::to_value(found).unwrap());
    }
    assert!(
        rows[1].finding["explanation"]["decision_points"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["source"] == "inventory: asset `mdm-02 `twin``"),
        "each finding names its own asset: {}",
        rows[1].finding
    );
    assert_eq!(
        store.collect_finding_details().await.unwrap(),
        0,
        "both in use"
    );

    // CISA lists it: the findings' facts and explanations change, the old detail is left.
    list_in_kev(&store).await;
    ward_server::match_knowledge_changes(&store, &policy)
        .await
        .unwrap();
    assert_eq!(count("finding_detail"), 3);
    assert_eq!(store.collect_finding_details().await.unwrap(), 1);
    assert_eq!(count("finding_detail"), 2);
    let rows = read(org).await;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(
            row.finding["kev"]["date_added"], "2025-05-19",
            "{}",
            row.finding
        );
    }

    // A row as stored before 0028: its component and deadlines in its payload.
    let own = serde_json::json!({
        "asset": rows[1].finding["asset"],
        "component": rows[1].finding["component"],
        "deadlines": rows[1].finding["deadlines"],
    })
    .to_string();
    db.execute(&format!(
        "UPDATE finding SET payload = '{}', component_detail = NULL, acknowledge_by = NULL WHERE id = (SELECT MIN(f.id) FROM finding f JOIN asset a ON a.id = f.asset_id WHERE a.name = 'mdm-02 `twin`')",
        own.replace('\'', "''")
    ))
    .unwrap();
    assert_eq!(read(org).await[1].finding, rows[1].finding);
    // A row as stored before details were kept apart: the whole finding in its payload.
    let whole = serde_json::to_string(&rows[0].finding).unwrap();
    db.execute(&format!(
        "UPDATE finding SET payload = '{}', detail = NULL WHERE id = (SELECT MIN(f.id) FROM finding f JOIN asset a ON a.id = f.asset_id WHERE a.name = 'mdm-01')",
        whole.replace('\'', "''")
    ))
    .unwrap();
    assert_eq!(read(org).await[0].finding, rows[0].finding);
    // Deleting findings keeps the open counts (triggers: per row on SQLite, per statement on
    // PostgreSQL) equal to counting the rows.
    db.execute("DELETE FROM finding WHERE detail IS NULL")
        .unwrap();
    assert_eq!(
        db.scalar("SELECT CAST(SUM(n) AS TEXT) FROM finding_open_count"),
        db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM finding WHERE resolved_at IS NULL"),
    );
    assert_eq!(count("finding"), 1);
    assert_eq!(
        store.collect_finding_details().await.unwrap(),
        1,
        "the component no row names any more; the twin's detail is in use"
    );
    assert_eq!(count("finding_detail"), 1);
    assert_eq!(read(org).await[0].finding, rows[1].finding);
}

/// A knowledge change over many assets (#22): re-matched in batches that keep each member's
/// assets together, so each member's alert is raised once with all its evidence (batches of 50
/// split a member of 60 and updated the alert the first batch raised); a KEV listing after it
/// keeps every finding's id, and the audit chain stays whole.
async fn a_knowledge_change_over_many_assets_tells_each_member_once(db: TestDb) {
    let (store, mut policy, first) = member_asset(&db).await;
    // Every finding alerts: the alerts are what is counted.
    policy.alert_threshold = ward_model::Priority::Defer;
    let other = store
        .create_organisation("test", "rxb", "B trust", false)
        .await
        .unwrap();
    let mut assets = vec![first.clone()];
    for i in 1..120 {
        let org = if i < 60 {
            first.organisation_id
        } else {
            other.id
        };
        assets.push(
            store
                .create_asset(
                    "test",
                    Scope::operator().within(org).unwrap(),
                    &NewAsset {
                        name: format!("mdm-{i:03}"),
                        exposure: Some(ward_model::Exposure::Open),
                        criticality: Some(ward_model::Criticality::High),
                        tags: vec![],
                    },
                )
                .await
                .unwrap(),
        );
    }
    // Inventories stored before the knowledge names EPMM: nothing found yet.
    for asset in &assets {
        let m = matched(&store, &policy, asset, "12.5.0.0").await;
        assert!(m.findings.is_empty());
        store_it(&store, &policy, asset, &m).await.unwrap();
    }
    import(&store, &epmm_advisory(13, "12.5.0.1")).await;
    let run = ward_server::match_knowledge_changes(&store, &policy)
        .await
        .unwrap();
    assert_eq!((run.assets, run.new), (120, 120));
    let actions = |entries: &[ward_store::AuditEntry], action: &str| {
        entries.iter().filter(|e| e.action == action).count()
    };
    let log = store.audit_log(Scope::operator()).await.unwrap();
    assert_eq!(actions(&log, "findings.rematch"), 120);
    assert_eq!(actions(&log, "alert.raise"), 2, "one alert per member");
    assert_eq!(
        actions(&log, "alert.evidence"),
        0,
        "no alert raised half-told"
    );
    let alerts = store.alerts(Scope::operator()).await.unwrap();
    let mut evidence: Vec<(i64, String)> = alerts
        .iter()
        .map(|a| (a.evidence, a.subject.clone()))
        .collect();
    evidence.sort();
    assert_eq!(
        evidence,
        vec![(60, "CVE-2025-4427".into()), (60, "CVE-2025-4427".into())]
    );

    let ids = |store: Store| async move {
        let mut rows: Vec<(i64, String, String)> = store
            .findings(&FindingQuery {
                limit: 1000,
                ..FindingQuery::new(Scope::operator())
            })
            .await
            .unwrap()
            .0
            .iter()
            .map(|r| {
                (
                    r.id.get(),
                    r.finding["asset"].to_string(),
                    r.finding["vulnerability"].to_string(),
                )
            })
            .collect();
        rows.sort();
        rows
    };
    let before = ids(store.clone()).await;
    assert_eq!(before.len(), 120);
    list_in_kev(&store).await;
    let run = ward_server::match_knowledge_changes(&store, &policy)
        .await
        .unwrap();
    assert_eq!((run.assets, run.new, run.resolved), (120, 0, 0));
    assert_eq!(
        ids(store.clone()).await,
        before,
        "a re-match keeps the findings' ids"
    );
    let listed = store
        .findings(&FindingQuery {
            limit: 1000,
            ..FindingQuery::new(Scope::operator())
        })
        .await
        .unwrap()
        .0;
    assert!(
        listed.iter().all(|r| r.finding["kev"].is_object()),
        "every finding now carries the KEV listing"
    );
    let verdict = store.verify_audit().await.unwrap();
    assert!(verdict.problems.is_empty(), "{:?}", verdict.problems);
}

ward_testdata::backend_tests!(
    a_knowledge_change_over_many_assets_tells_each_member_once,
    findings_share_their_details_and_none_is_left_behind,
    the_worklist_pages_by_keyset_and_keeps_its_counts,
    a_fix_the_version_cannot_show_is_answered_fix_installed,
    a_disputed_finding_asks_the_member_to_confirm,
    a_knowledge_change_withdraws_an_alert_with_its_reason,
    a_knowledge_change_leaves_other_vulnerabilities_alerts_alone,
    a_rematch_of_an_inventory_replaced_meanwhile_leaves_the_new_one_alone,
    an_upload_matched_before_an_import_committed_is_refused_whole,
    inventory_history_is_compact_and_kept_by_policy,
    ids_of_members_records_are_opaque,
    an_expired_acceptance_reopens_only_what_is_still_affected,
);
