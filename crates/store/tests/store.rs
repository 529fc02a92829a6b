//! The store on a real SQLite file and a real PostgreSQL schema.

use chrono::{TimeZone, Utc};
use ward_model::{Advisory, Epss, KevEntry, RecordState, SourceId};
use ward_store::{Outcome, Store};
use ward_testdata::{Backend, TestDb};

use ward_testdata::epmm_advisory as epmm;

async fn open(db: &TestDb) -> Store {
    // A SQLite file in a folder that does not exist yet: opening creates it.
    let location = match db.backend() {
        Backend::Sqlite => db.dir().join("sub/ward.db").to_str().unwrap().to_owned(),
        Backend::Postgres => db.location().to_owned(),
    };
    Store::open(&location).await.unwrap()
}

async fn newer_view_wins_and_reimport_is_idempotent(db: TestDb) {
    let store = open(&db).await;
    let mut tx = store.begin_import().await.unwrap();
    assert_eq!(
        tx.upsert_advisory(&epmm(13, "12.5.0.1")).await.unwrap(),
        Outcome::New
    );
    assert_eq!(
        tx.upsert_advisory(&epmm(13, "12.5.0.1")).await.unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(
        tx.upsert_advisory(&epmm(21, "12.5.0.2")).await.unwrap(),
        Outcome::Updated
    );
    assert_eq!(
        tx.upsert_advisory(&epmm(13, "12.5.0.1")).await.unwrap(),
        Outcome::Older
    );
    tx.commit(&serde_json::json!({})).await.unwrap();

    let slice = store
        .load_for_products(&[(Some("ivanti".into()), "endpoint_manager_mobile".into())])
        .await
        .unwrap();
    assert_eq!(slice.advisories.len(), 1);
    assert_eq!(
        slice.advisories[0].affected[0].versions[0].version,
        "12.5.0.2"
    );
    // Looked up by product alone (an inventory that names no vendor).
    let slice = store
        .load_for_products(&[(None, "endpoint_manager_mobile".into())])
        .await
        .unwrap();
    assert_eq!(slice.advisories.len(), 1);
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (counts.vulnerabilities, counts.views, counts.imports),
        (1, 1, 1)
    );
}

/// An updated view is found by its new product only; a new view in the same batch by its own.
async fn an_updated_view_moves_to_its_new_product(db: TestDb) {
    let store = open(&db).await;
    let mut tx = store.begin_import().await.unwrap();
    tx.upsert_advisory(&epmm(13, "12.5.0.1")).await.unwrap();
    tx.commit(&serde_json::json!({})).await.unwrap();

    let mut renamed = epmm(21, "12.5.0.2");
    renamed.affected[0].product = Some("EPMM".into());
    let mut other = epmm(21, "12.5.0.2");
    other.id = "CVE-2025-4428".into();
    let mut tx = store.begin_import().await.unwrap();
    let outcomes = tx.upsert_advisories(&[renamed, other]).await.unwrap();
    tx.commit(&serde_json::json!({})).await.unwrap();
    assert_eq!(outcomes, [Outcome::Updated, Outcome::New]);

    let found = async |product: &str| {
        let slice = store
            .load_for_products(&[(Some("ivanti".into()), product.into())])
            .await
            .unwrap();
        let mut ids: Vec<String> = slice.advisories.into_iter().map(|a| a.id).collect();
        ids.sort();
        ids
    };
    assert_eq!(found("endpoint_manager_mobile").await, ["CVE-2025-4428"]);
    assert_eq!(found("epmm").await, ["CVE-2025-4427"]);
}

/// A caller's `keep` drops the `affected` entries it does not want as views are read (read
/// straight from a SQLite file, or through the pool on PostgreSQL); without one, all stay.
async fn a_view_keeps_the_entries_its_caller_keeps(db: TestDb) {
    let store = open(&db).await;
    let mut view = epmm(13, "12.5.0.1");
    let mut sentry = view.affected[0].clone();
    sentry.product = Some("Sentry".into());
    view.affected.push(sentry);
    let mut tx = store.begin_import().await.unwrap();
    tx.upsert_advisory(&view).await.unwrap();
    tx.commit(&serde_json::json!({})).await.unwrap();

    let key = [(Some("ivanti".into()), "endpoint_manager_mobile".into())];
    let products = |slice: &ward_store::KnowledgeSlice| -> Vec<Option<String>> {
        slice.advisories[0]
            .affected
            .iter()
            .map(|a| a.product.clone())
            .collect()
    };
    let all = store.load_for_products(&key).await.unwrap();
    assert_eq!(
        products(&all),
        [
            Some("Endpoint Manager Mobile".into()),
            Some("Sentry".into())
        ]
    );
    let keep: ward_store::KeepEntry = std::sync::Arc::new(|a: &ward_model::advisory::Affected| {
        a.product.as_deref() == Some("Sentry")
    });
    let kept = store
        .load_for_products_keeping(&key, Some(keep))
        .await
        .unwrap();
    assert_eq!(products(&kept), [Some("Sentry".to_owned())]);
}

async fn rolled_back_import_changes_nothing(db: TestDb) {
    let store = open(&db).await;
    let mut tx = store.begin_import().await.unwrap();
    tx.upsert_advisory(&epmm(13, "12.5.0.1")).await.unwrap();
    tx.commit(&serde_json::json!({})).await.unwrap();
    let before = store.counts().await.unwrap();

    let mut tx = store.begin_import().await.unwrap();
    tx.upsert_advisory(&epmm(21, "9.9")).await.unwrap();
    tx.upsert_kev(&KevEntry {
        cve_id: "CVE-2025-4427".into(),
        ..KevEntry::default()
    })
    .await
    .unwrap();
    tx.rollback().await.unwrap();

    assert_eq!(store.counts().await.unwrap(), before);
    let slice = store
        .load_for_products(&[(Some("ivanti".into()), "endpoint_manager_mobile".into())])
        .await
        .unwrap();
    assert_eq!(
        slice.advisories[0].affected[0].versions[0].version,
        "12.5.0.1"
    );
    assert!(slice.kev.is_empty());
}

async fn rejected_record_withdraws_the_cve(db: TestDb) {
    let store = open(&db).await;
    let mut tx = store.begin_import().await.unwrap();
    tx.upsert_advisory(&epmm(13, "12.5.0.1")).await.unwrap();
    let mut rejected = Advisory::new("CVE-2025-4427", SourceId::Cna("ivanti".into()));
    rejected.state = RecordState::Rejected;
    rejected.updated = Some(Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap());
    assert_eq!(
        tx.upsert_advisory(&rejected).await.unwrap(),
        Outcome::Updated
    );
    tx.commit(&serde_json::json!({})).await.unwrap();
    let slice = store
        .load_for_products(&[(Some("ivanti".into()), "endpoint_manager_mobile".into())])
        .await
        .unwrap();
    assert!(slice.advisories.is_empty());
    assert_eq!(store.counts().await.unwrap().rejected, 1);
}

async fn epss_keeps_the_latest_score_date(db: TestDb) {
    let store = open(&db).await;
    let score = |s: f64, day: u32| Epss {
        cve_id: "CVE-2025-4427".into(),
        score: s,
        percentile: 0.9,
        model_version: Some("v2025.03.14".into()),
        score_date: chrono::NaiveDate::from_ymd_opt(2025, 6, day),
    };
    let mut tx = store.begin_import().await.unwrap();
    assert_eq!(tx.upsert_epss(&score(0.5, 2)).await.unwrap(), Outcome::New);
    assert_eq!(
        tx.upsert_epss(&score(0.4, 1)).await.unwrap(),
        Outcome::Older
    );
    assert_eq!(
        tx.upsert_epss(&score(0.5, 2)).await.unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(
        tx.upsert_epss(&score(0.9, 3)).await.unwrap(),
        Outcome::Updated
    );
    tx.commit(&serde_json::json!({})).await.unwrap();
}

/// SQLite's migration 0027 rebuilds `finding` with a rowid in write order (#22): every finding
/// keeps its id and every column, the rows then sit in asset order, the open findings' counts
/// stay as they were, and the rebuilt table's triggers still keep them.
#[tokio::test]
async fn findings_move_into_write_order_whole() {
    use sqlx::Row;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("before-0027.db");
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    sqlx::migrate!("./migrations/sqlite")
        .run_to(26, &pool)
        .await
        .unwrap();
    let at = "2026-12-06T10:00:00.000Z";
    for (id, slug) in [(1, "rxa"), (2, "rxb")] {
        sqlx::query("INSERT INTO organisation (id, slug, name, created_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(slug)
            .bind(slug)
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
    }
    let assets = [(20_i64, 2_i64), (5, 1), (10, 1)];
    for (id, org) in assets {
        sqlx::query(
            "INSERT INTO asset (id, organisation_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(org)
        .bind(format!("asset-{id}"))
        .bind(at)
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
    }
    // Ids as the plain opaque scheme gave them: in no order of asset or time.
    for i in 0..90_i64 {
        let (asset, org) = assets[(i % 3) as usize];
        let priority = ["immediate", "out-of-cycle", "scheduled", "defer"][(i % 4) as usize];
        sqlx::query(
            "INSERT INTO finding (id, organisation_id, asset_id, vuln_id, component, priority,
                 payload, first_seen, updated_at, resolved_at, priority_rank, remediate_by,
                 resolution, remediate_order, detail)
             VALUES (?, ?, ?, ?, 'c@1', ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind((i * 7_919 % 1_000) * 1_000_003 + 17)
        .bind(org)
        .bind(asset)
        .bind(format!("CVE-2025-{i:04}"))
        .bind(priority)
        .bind(at)
        .bind(at)
        .bind((i % 5 == 0).then_some(at))
        .bind(i % 4)
        .bind((i % 2 == 0).then_some("2026-12-20T10:00:00.000Z"))
        .bind((i % 5 == 0).then_some("inventory"))
        .bind(if i % 2 == 0 {
            "2026-12-20T10:00:00.000Z"
        } else {
            "~"
        })
        .bind(format!("{i:032x}"))
        .execute(&pool)
        .await
        .unwrap();
    }
    let findings =
        "SELECT id || '|' || organisation_id || '|' || asset_id || '|' || vuln_id || '|' ||
            component || '|' || priority || '|' || payload || '|' || first_seen || '|' ||
            updated_at || '|' || COALESCE(resolved_at, '-') || '|' || priority_rank || '|' ||
            COALESCE(remediate_by, '-') || '|' || COALESCE(resolution, '-') || '|' ||
            remediate_order || '|' || COALESCE(detail, '-') AS r FROM finding ORDER BY id";
    let counts =
        "SELECT organisation_id || ':' || priority || ':' || n AS r FROM finding_open_count
                  ORDER BY organisation_id, priority";
    let read = |pool: sqlx::SqlitePool, sql: &'static str| async move {
        sqlx::query(sql)
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("r"))
            .collect::<Vec<_>>()
    };
    let (before, counts_before) = (
        read(pool.clone(), findings).await,
        read(pool.clone(), counts).await,
    );
    assert_eq!(before.len(), 90);
    pool.close().await;

    let _store = Store::open(path.to_str().unwrap()).await.unwrap();
    let pool =
        sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&path))
            .await
            .unwrap();
    assert_eq!(read(pool.clone(), findings).await, before);
    assert_eq!(read(pool.clone(), counts).await, counts_before);
    // Zero-padded, so that text order is the ids' order.
    let by_rowid = read(
        pool.clone(),
        "SELECT printf('%012d', asset_id) AS r FROM finding ORDER BY rowid",
    )
    .await;
    assert_eq!(by_rowid.len(), 90);
    assert!(
        by_rowid.is_sorted(),
        "rows not in asset order: {by_rowid:?}"
    );
    let schema = read(
        pool.clone(),
        "SELECT name AS r FROM sqlite_master WHERE tbl_name = 'finding'
         AND type IN ('index', 'trigger') AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name",
    )
    .await;
    assert_eq!(
        schema,
        [
            "finding_by_vulnerability",
            "finding_open_central",
            "finding_open_count_delete",
            "finding_open_count_insert",
            "finding_open_count_update",
            "finding_open_member",
            "finding_worklist",
        ]
    );
    // The triggers count on the rebuilt table: one open finding of rxb's resolved.
    let open_b = |pool: sqlx::SqlitePool| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT SUM(n) FROM finding_open_count WHERE organisation_id = 2",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let was = open_b(pool.clone()).await;
    sqlx::query(
        "UPDATE finding SET resolved_at = '2026-12-07T00:00:00.000Z' WHERE id =
             (SELECT MIN(id) FROM finding WHERE organisation_id = 2 AND resolved_at IS NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(open_b(pool.clone()).await, was - 1);
    // An id stays unique.
    let dup = sqlx::query(
        "INSERT INTO finding (id, organisation_id, asset_id, vuln_id, component, priority,
             payload, first_seen, updated_at) SELECT id, organisation_id, asset_id, 'CVE-0', 'x',
             priority, payload, first_seen, updated_at FROM finding LIMIT 1",
    )
    .execute(&pool)
    .await;
    assert!(dup.is_err(), "a second finding took an id in use");
}

/// On a SQLite file the write-ahead log is folded into the database by the store's own
/// checkpointing thread, not by the commits: a write far smaller than the 1,000 pages at
/// which a commit would checkpoint reaches the database file while the store is open, and
/// closing the store leaves no log behind.
#[tokio::test]
async fn the_log_reaches_the_file_beside_the_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ward.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    let slug = "trust-checkpointed-beside-commits";
    store
        .create_organisation("test", slug, "Trust", false)
        .await
        .unwrap();
    let in_file = || {
        std::fs::read(&path)
            .unwrap()
            .windows(slug.len())
            .any(|w| w == slug.as_bytes())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !in_file() {
        assert!(
            std::time::Instant::now() < deadline,
            "the organisation is still only in the log after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    store.close().await;
    assert!(
        !dir.path().join("ward.db-wal").exists(),
        "closing the store removes the log"
    );
    let reopened = Store::open(path.to_str().unwrap()).await.unwrap();
    assert!(
        reopened
            .organisations()
            .await
            .unwrap()
            .iter()
            .any(|o| o.slug == slug)
    );
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_without_its_password() {
    // Port 9 (discard) on loopback: nothing listens.
    let err = Store::open("postgres://ward:s3cret@127.0.0.1:9/ward")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("postgres://ward:***@127.0.0.1:9/ward"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");
}

/// Every table of the schema is one the copy knows (a migration that adds a table without
/// adding it to `copy::TABLES` fails here), and a copy into a new SQLite file reads back equal.
async fn a_copy_knows_every_table_and_reads_back_equal(db: TestDb) {
    let store = open(&db).await;
    let mut tx = store.begin_import().await.unwrap();
    tx.upsert_advisory(&epmm(13, "12.5.0.1")).await.unwrap();
    tx.commit(&serde_json::json!({})).await.unwrap();
    store
        .create_organisation("test", "central", "Central", true)
        .await
        .unwrap();
    let target = Store::open(db.dir().join("copy.db").to_str().unwrap())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let report = store
        .copy_to(&target, |table, _| seen.push(table.to_owned()))
        .await
        .unwrap();
    let tables: Vec<&str> = report.tables.iter().map(|t| t.table).collect();
    assert_eq!(tables, ward_store::copy::TABLES);
    assert!(seen.iter().any(|t| t == "advisory"));
    assert_eq!(report.audit_entries, 1);
    let rows = |t: &str| report.tables.iter().find(|c| c.table == t).unwrap().rows;
    assert_eq!(
        (rows("advisory"), rows("organisation"), rows("audit_log")),
        (1, 1, 1)
    );
    assert_eq!(
        target.counts().await.unwrap(),
        store.counts().await.unwrap()
    );
    // A second copy into it is refused: it is not new any more.
    let again = store.copy_to(&target, |_, _| {}).await.unwrap_err();
    assert!(again.to_string().contains("not new"), "{again}");
}

/// Writers queued behind an import (on SQLite, one writer at a time) wait without holding the
/// readers' connections: a read answers while more writers than the pool has connections are
/// waiting, and every writer goes through once the import ends.
async fn reads_do_not_wait_behind_writers_queued_for_an_import(db: TestDb) {
    let store = open(&db).await;
    store
        .create_organisation("test", "central", "Central", true)
        .await
        .unwrap();
    let org = store
        .create_organisation("test", "rxa", "A trust", false)
        .await
        .unwrap();
    let import = store.begin_import().await.unwrap();
    let mut writers = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let scope = ward_store::Scope::operator().within(org.id).unwrap();
        writers.push(tokio::spawn(async move {
            store
                .create_asset(
                    "test",
                    scope,
                    &ward_store::NewAsset {
                        name: format!("host-{i}"),
                        exposure: None,
                        criticality: None,
                        tags: vec![],
                    },
                )
                .await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // Before the writers queued in memory, the eight took the pool's four SQLite connections
    // waiting for the lock, and this read waited for the import to end.
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        store.alerts(ward_store::Scope::operator()),
    )
    .await;
    assert!(
        read.is_ok(),
        "a read waited behind writers queued for the import"
    );
    import.rollback().await.unwrap();
    for w in writers {
        w.await.unwrap().unwrap();
    }
    let assets = store.assets(ward_store::Scope::operator()).await.unwrap();
    assert_eq!(assets.len(), 8);
}

/// Views load the same however they are read (on a SQLite file, beside the pool, in parts
/// across the cores; on PostgreSQL, through it): every view of every id asked for, in order of
/// id and source, whole for `load_vulnerabilities` and without descriptions, references and
/// CWEs for matching; a payload that does not decode is named by vulnerability and source.
async fn views_load_in_order_whole_or_for_matching(db: TestDb) {
    // At the test database's own location: the corrupt payload is written there below.
    let store = Store::open(db.location()).await.unwrap();
    let mut tx = store.begin_import().await.unwrap();
    let mut ids = Vec::new();
    for n in (0..40).rev() {
        let id = format!("CVE-2025-{:04}", 1000 + n);
        for source in [SourceId::Nvd, SourceId::Cna("ivanti".into())] {
            let mut view = epmm(13, "12.5.0.1");
            view.id = id.clone();
            view.source = source;
            view.description = Some(format!("{id}: a description"));
            view.references = vec![format!("https://example.org/{id}")];
            view.cwes = vec!["CWE-288".into()];
            tx.upsert_advisory(&view).await.unwrap();
        }
        ids.push(id);
    }
    tx.commit(&serde_json::json!({})).await.unwrap();
    ids.sort();
    // Every other id, and one that is not there.
    let mut asked: Vec<String> = ids.iter().step_by(2).cloned().collect();
    asked.push("CVE-2099-0001".into());
    let expected: Vec<(String, String)> = asked[..asked.len() - 1]
        .iter()
        .flat_map(|id| {
            [
                (id.clone(), "cna:ivanti".into()),
                (id.clone(), "nvd".into()),
            ]
        })
        .collect();
    let keys = |views: &[Advisory]| -> Vec<(String, String)> {
        views
            .iter()
            .map(|v| (v.id.clone(), v.source.key()))
            .collect()
    };

    let whole = store.load_vulnerabilities(&asked).await.unwrap();
    assert_eq!(keys(&whole.advisories), expected);
    let first = &whole.advisories[0];
    assert_eq!(
        first.description.as_deref(),
        Some(format!("{}: a description", first.id).as_str())
    );
    assert_eq!(first.references.len(), 1);
    assert_eq!(first.cwes, ["CWE-288"]);

    let lean = store.load_for_matching(&asked).await.unwrap();
    assert_eq!(keys(&lean.advisories), expected);
    for (view, full) in lean.advisories.iter().zip(&whole.advisories) {
        assert_eq!(view.description, None);
        assert!(view.references.is_empty() && view.cwes.is_empty());
        // Everything else as stored.
        let mut stripped = full.clone();
        stripped.description = None;
        stripped.references.clear();
        stripped.cwes.clear();
        assert_eq!(view, &stripped, "{}", view.id);
    }
    assert!(
        store
            .load_for_matching(&[])
            .await
            .unwrap()
            .advisories
            .is_empty()
    );

    db.execute(&format!(
        "UPDATE advisory SET payload = '{{\"id\": 7}}' WHERE vuln_id = '{}' AND source = 'nvd'",
        asked[3]
    ))
    .unwrap();
    let err = store
        .load_for_matching(&asked)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&asked[3]) && err.contains("(nvd)") && err.contains("unreadable"),
        "{err}"
    );
}

/// The vulnerabilities a scan loads: those with a view under one of its (vendor, product)
/// pairs, under one of its products whatever the vendor (a component named without one), or
/// under every product (a wildcard CPE), each once and in order. A SQLite file answers this
/// straight from the file, PostgreSQL through the pool; both must say the same.
async fn vulnerabilities_are_found_by_pair_by_product_and_by_wildcard(db: TestDb) {
    let store = open(&db).await;
    let named = |id: &str, vendor: &str, product: &str| {
        let mut view = epmm(13, "1.0");
        view.id = id.into();
        view.affected[0].vendor = Some(vendor.into());
        view.affected[0].product = Some(product.into());
        view
    };
    let mut wildcard = Advisory::new("CVE-2025-0009", SourceId::Nvd);
    wildcard.configurations = vec![
        serde_json::from_value(serde_json::json!({
            "nodes": [{"cpe_match": [{"vulnerable": true, "criteria": "cpe:2.3:a:*:*:*:*:*:*:*:*:*:*"}]}]
        }))
        .unwrap(),
    ];
    let mut tx = store.begin_import().await.unwrap();
    tx.upsert_advisories(&[
        named("CVE-2025-0003", "Acme", "Widget"),
        named("CVE-2025-0001", "Other", "Widget"),
        named("CVE-2025-0002", "Acme", "Gadget"),
        named("CVE-2025-0004", "Acme", "Gizmo"),
        wildcard,
    ])
    .await
    .unwrap();
    // A second source's view of one of them: still listed once.
    let mut again = named("CVE-2025-0003", "Acme", "Widget");
    again.source = SourceId::Nvd;
    tx.upsert_advisory(&again).await.unwrap();
    tx.commit(&serde_json::json!({})).await.unwrap();

    let ids = async |keys: &[(Option<&str>, &str)]| {
        let keys: Vec<(Option<String>, String)> = keys
            .iter()
            .map(|(v, p)| (v.map(str::to_owned), (*p).to_owned()))
            .collect();
        store.vulnerabilities_for_products(&keys).await.unwrap()
    };
    assert_eq!(
        ids(&[(Some("acme"), "widget")]).await,
        ["CVE-2025-0003", "CVE-2025-0009"]
    );
    assert_eq!(
        ids(&[(None, "widget"), (Some("acme"), "gadget")]).await,
        [
            "CVE-2025-0001",
            "CVE-2025-0002",
            "CVE-2025-0003",
            "CVE-2025-0009"
        ]
    );
    // A pair is a pair: the vendor of one and the product of another name nothing.
    assert_eq!(
        ids(&[(Some("acme"), "nothing"), (Some("other"), "gadget")]).await,
        ["CVE-2025-0009"]
    );
    // Names with quotes and brackets are values, not JSON or SQL.
    assert_eq!(
        ids(&[(Some("a\"],[\"b"), "x'); --")]).await,
        ["CVE-2025-0009"]
    );
}

/// A slice carries the KEV and EPSS entries of the vulnerabilities it holds and of the CVEs
/// their views alias (an OSV record filed under its own id), each once, in order.
async fn a_slice_carries_the_exploit_data_of_its_ids_and_their_aliases(db: TestDb) {
    let store = open(&db).await;
    let mut osv = epmm(13, "1.0");
    osv.id = "GHSA-0000-0000-0001".into();
    osv.source = SourceId::Osv("GHSA".into());
    osv.aliases = vec!["CVE-2025-4428".into(), "CVE-2025-4427".into()];
    let kev = |cve: &str| KevEntry {
        cve_id: cve.into(),
        ..KevEntry::default()
    };
    let epss = |cve: &str| Epss {
        cve_id: cve.into(),
        score: 0.9,
        percentile: 0.99,
        model_version: None,
        score_date: chrono::NaiveDate::from_ymd_opt(2025, 6, 1),
    };
    let mut tx = store.begin_import().await.unwrap();
    tx.upsert_advisories(&[epmm(13, "1.0"), osv]).await.unwrap();
    for cve in ["CVE-2025-4427", "CVE-2025-4428", "CVE-2025-9999"] {
        tx.upsert_kev(&kev(cve)).await.unwrap();
        tx.upsert_epss(&epss(cve)).await.unwrap();
    }
    tx.commit(&serde_json::json!({})).await.unwrap();

    let slice = store
        .load_for_products(&[(Some("ivanti".into()), "endpoint_manager_mobile".into())])
        .await
        .unwrap();
    let mut ids: Vec<&str> = slice.advisories.iter().map(|a| a.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["CVE-2025-4427", "GHSA-0000-0000-0001"]);
    let kev_ids: Vec<&str> = slice.kev.iter().map(|k| k.cve_id.as_str()).collect();
    assert_eq!(kev_ids, ["CVE-2025-4427", "CVE-2025-4428"]);
    let epss_ids: Vec<&str> = slice.epss.iter().map(|e| e.cve_id.as_str()).collect();
    assert_eq!(epss_ids, ["CVE-2025-4427", "CVE-2025-4428"]);
}

ward_testdata::backend_tests!(
    a_copy_knows_every_table_and_reads_back_equal,
    reads_do_not_wait_behind_writers_queued_for_an_import,
    newer_view_wins_and_reimport_is_idempotent,
    an_updated_view_moves_to_its_new_product,
    a_view_keeps_the_entries_its_caller_keeps,
    rolled_back_import_changes_nothing,
    rejected_record_withdraws_the_cve,
    epss_keeps_the_latest_score_date,
    views_load_in_order_whole_or_for_matching,
    vulnerabilities_are_found_by_pair_by_product_and_by_wildcard,
    a_slice_carries_the_exploit_data_of_its_ids_and_their_aliases,
);
