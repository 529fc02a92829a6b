//! The import parses documents on several threads; what it stores must still follow the order
//! the documents were read in. Many records of one view, each a day newer (or older) than the
//! one before, make any reordering visible in the outcome counts and in the view kept.

use ward_import::{Options, Summary, import_paths};
use ward_store::Store;
use ward_testdata::TestDb;

/// CVE-2025-4427's CNA view as updated on `day`, naming `fixed` as its fix.
fn record(day: u32, fixed: &str) -> String {
    serde_json::json!({
        "dataType": "CVE_RECORD", "dataVersion": "5.1",
        "cveMetadata": {"cveId": "CVE-2025-4427", "assignerShortName": "ivanti", "state": "PUBLISHED",
                        "dateUpdated": format!("2025-05-{day:02}T00:00:00.000Z")},
        "containers": {"cna": {
            "providerMetadata": {"orgId": "00000000-0000-0000-0000-000000000000", "shortName": "ivanti"},
            "affected": [{"vendor": "Ivanti", "product": "Endpoint Manager Mobile", "defaultStatus": "affected",
                          "versions": [{"version": fixed, "status": "unaffected"}]}]}}
    })
    .to_string()
}

/// Writes the records, in file-name order, to a folder and imports it.
async fn import(db: &TestDb, days: impl Iterator<Item = u32>) -> (Store, Summary) {
    let folder = db.dir().join("feeds");
    std::fs::create_dir_all(&folder).unwrap();
    for (i, day) in days.enumerate() {
        std::fs::write(
            folder.join(format!("{i:03}.json")),
            record(day, &format!("12.5.0.{day}")),
        )
        .unwrap();
    }
    let store = Store::open(db.location()).await.unwrap();
    let summary = import_paths(
        &store,
        vec![folder],
        Options::default(),
        &|_| {},
        &mut Vec::new(),
    )
    .await
    .unwrap();
    (store, summary)
}

async fn fix_kept(store: &Store) -> String {
    let slice = store
        .load_for_matching(&["CVE-2025-4427".to_owned()])
        .await
        .unwrap();
    assert_eq!(slice.advisories.len(), 1);
    slice.advisories[0].affected[0].versions[0].version.clone()
}

async fn each_newer_record_updates_the_one_read_before(db: TestDb) {
    let (store, summary) = import(&db, 1..=28).await;
    let counts = &summary.formats["CVE JSON 5"];
    assert_eq!(
        (counts.documents, counts.new, counts.updated, counts.skipped),
        (28, 1, 27, 0)
    );
    assert_eq!(fix_kept(&store).await, "12.5.0.28");
}

async fn each_older_record_is_skipped_for_the_one_read_before(db: TestDb) {
    let (store, summary) = import(&db, (1..=28).rev()).await;
    let counts = &summary.formats["CVE JSON 5"];
    assert_eq!(
        (counts.documents, counts.new, counts.updated, counts.skipped),
        (28, 1, 0, 27)
    );
    assert_eq!(fix_kept(&store).await, "12.5.0.28");
}

ward_testdata::backend_tests!(
    each_newer_record_updates_the_one_read_before,
    each_older_record_is_skipped_for_the_one_read_before,
);
