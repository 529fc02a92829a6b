//! Feed sync against publishers replayed on loopback (`ward_testdata::replay`), serving the
//! shared data in each publisher's layout and misbehaving on demand: `ward feeds sync` as an
//! operator runs it, on SQLite and PostgreSQL. Nothing is lost or duplicated, a failed step
//! changes nothing, cursors resume after a kill, rate limits are kept.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{json, p, stderr, ward};
use serde_json::{Value, json};
use ward_testdata::replay::{Fault, Replay, Reply};
use ward_testdata::{TestDb, shared};

fn feeds_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `ward feeds sync --format json`: (exit code, the reports).
fn sync(db: &TestDb, config: &Path, env: &[(&str, &str)]) -> (i32, Vec<Value>) {
    let mut command = ward(db.location());
    command.args(["feeds", "sync", "--config", p(config), "--format", "json"]);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    let code = out.status.code().unwrap();
    assert!(code != 2, "ward feeds sync: {}", stderr(&out));
    let reports = json(&out).as_array().unwrap().clone();
    (code, reports)
}

/// Five of the shared NVD records, each last modified on 2026-11-15 (inside the tests' first
/// window).
fn nvd_records(dir: &Path) -> Vec<Value> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    names
        .iter()
        .take(5)
        .map(|p| {
            let mut cve: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            cve["lastModified"] = json!("2026-11-15T00:00:00.000");
            cve
        })
        .collect()
}

fn status(db: &TestDb) -> Value {
    json(
        &ward(db.location())
            .args(["db", "status", "--format", "json"])
            .output()
            .unwrap(),
    )
}

fn feed_status(db: &TestDb, config: &Path) -> Vec<Value> {
    let out = ward(db.location())
        .args(["feeds", "status", "--config", p(config), "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out).as_array().unwrap().clone()
}

fn xz(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut liblzma::read::XzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut out,
    )
    .unwrap();
    out
}

/// KEV: the whole catalogue, fetched only when it changed (ETag); a 429 is waited out; CISA's
/// "Access Denied" page is a failed sync that changes nothing; entries CISA removed are
/// removed; a body cut short is fetched again.
async fn kev_sync_is_conditional_refuses_error_pages_and_follows_removals(db: TestDb) {
    let (Some(kev_path), Some(denied)) = (
        shared("kev/known_exploited_vulnerabilities-2026.08.07.json"),
        shared("kev/feed-error-access-denied-2024-11-26.html"),
    ) else {
        return;
    };
    let catalogue = std::fs::read(&kev_path).unwrap();
    let entries = serde_json::from_slice::<Value>(&catalogue).unwrap()["vulnerabilities"]
        .as_array()
        .unwrap()
        .len() as i64;
    let replay = Replay::start();
    let path = "/sites/default/files/feeds/known_exploited_vulnerabilities.json";
    replay.set(
        path,
        Reply::ok("application/json", catalogue.clone()).with_etag("\"v1\""),
    );
    let config = feeds_file(
        db.dir(),
        &format!(
            "[[source]]\nkind = \"kev\"\nurl = \"{}{path}\"\ntimeout = \"5s\"\n",
            replay.url
        ),
    );

    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(
        (r[0]["records"].as_i64(), r[0]["changed"].as_bool()),
        (Some(entries), Some(true))
    );
    assert_eq!(status(&db)["kev"], entries);

    // Unchanged: one conditional request, answered 304, nothing imported.
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        (r[0]["records"].as_i64(), r[0]["changed"].as_bool()),
        (Some(0), Some(false))
    );
    let asked = replay.requests_to(path);
    assert_eq!(asked.len(), 2);
    assert_eq!(
        asked[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );

    // Rate-limited, then an HTML error page where the JSON should be: nothing changes.
    replay.fault(path, Fault::Status(429, Some(1)));
    replay.set(
        path,
        Reply::ok("text/html", std::fs::read(&denied).unwrap()).with_etag("\"denied\""),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 1, "a failed source exits 1: {r:?}");
    let error = r[0]["error"].as_str().unwrap();
    assert!(
        error.contains("expected CISA KEV (JSON)") && error.contains("Access Denied"),
        "{error}"
    );
    assert_eq!(
        status(&db)["kev"],
        entries,
        "the error page changed the catalogue"
    );
    assert_eq!(replay.requests_to(path).len(), 4, "the 429 was tried again");

    // CISA removes two entries: they are removed here too (and logged as knowledge changes).
    let mut smaller: Value = serde_json::from_slice(&catalogue).unwrap();
    let list = smaller["vulnerabilities"].as_array_mut().unwrap();
    let removed: Vec<String> = list
        .drain(list.len() - 2..)
        .map(|v| v["cveID"].as_str().unwrap().to_owned())
        .collect();
    let smaller = serde_json::to_vec(&smaller).unwrap();
    replay.set(
        path,
        Reply::ok("application/json", smaller.clone()).with_etag("\"v2\""),
    );
    // A body cut short first: fetched again, imported once.
    replay.fault(path, Fault::Truncate(1000));
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    let mut got: Vec<String> = r[0]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want = removed.clone();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(status(&db)["kev"], entries - 2);

    // The status says when it last succeeded and what failed before.
    let s = feed_status(&db, &config);
    assert_eq!(s[0]["name"], "kev");
    assert_eq!(s[0]["failures"], 0);
    assert!(
        s[0]["last_success_at"].is_string() && s[0]["next_run_at"].is_string(),
        "{s:?}"
    );
    assert!(
        s[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("Access Denied")
    );
}

/// NVD API 2.0 pages of a `lastModStartDate`/`lastModEndDate` window: the API key goes in the
/// `apiKey` header, requests keep to the configured rate, a 503 with `Retry-After` is waited
/// out, and a sync killed mid-window (a stalled page) resumes at the page after the last one
/// imported: every record once, none twice.
async fn nvd_pages_resume_keep_the_rate_and_send_the_key(db: TestDb) {
    let Some(dir) = shared("nvd/records") else {
        return;
    };
    // Modified within the first window (the replay answers by the window, as NVD does).
    let records = nvd_records(&dir);
    let total = records.len();
    let replay = Replay::start();
    let path = "/rest/json/cves/2.0";
    replay.route(path, move |r| {
        assert!(r.param("lastModStartDate").is_some() && r.param("lastModEndDate").is_some());
        let start: usize = r.param("startIndex").unwrap().parse().unwrap();
        let within = |t: &str| {
            let t = chrono::DateTime::parse_from_rfc3339(t).unwrap();
            let from =
                chrono::DateTime::parse_from_rfc3339(r.param("lastModStartDate").unwrap()).unwrap();
            let to =
                chrono::DateTime::parse_from_rfc3339(r.param("lastModEndDate").unwrap()).unwrap();
            from <= t && t <= to
        };
        let modified: Vec<&Value> = records
            .iter()
            .filter(|c| within(&format!("{}Z", c["lastModified"].as_str().unwrap())))
            .collect();
        let total = modified.len();
        let page: Vec<Value> = modified
            .into_iter()
            .skip(start)
            .take(2)
            .map(|cve| json!({"cve": cve}))
            .collect();
        Reply::ok(
            "application/json",
            serde_json::to_vec(&json!({
                "resultsPerPage": page.len(), "startIndex": start, "totalResults": total,
                "format": "NVD_CVE", "version": "2.0", "timestamp": "2026-12-01T00:00:00.000",
                "vulnerabilities": page,
            }))
            .unwrap(),
        )
    });
    let config = feeds_file(
        db.dir(),
        &format!(
            "[[source]]\nkind = \"nvd\"\nurl = \"{}{path}\"\napi_key_env = \"WARD_TEST_NVD_KEY\"\n\
             requests_per_30s = 60\ntimeout = \"1s\"\nattempts = 2\nsince = \"2026-11-01T00:00:00Z\"\n",
            replay.url
        ),
    );
    let key = [("WARD_TEST_NVD_KEY", "test-key-0123")];
    // Page 1 is rate-limited once; page 3 stalls past the timeout on both attempts: the sync
    // fails after importing pages 1 and 2.
    replay.fault(path, Fault::Status(503, Some(1)));
    replay.fault(path, Fault::Pass);
    replay.fault(path, Fault::Pass);
    replay.fault(path, Fault::Stall(Duration::from_secs(3)));
    replay.fault(path, Fault::Stall(Duration::from_secs(3)));
    let (code, r) = sync(&db, &config, &key);
    assert_eq!(code, 1, "{r:?}");
    assert_eq!(r[0]["records"], 4, "{r:?}");
    assert_eq!(status(&db)["vulnerabilities"], 4);
    let first: Vec<_> = replay.requests_to(path);
    assert!(
        first
            .iter()
            .all(|q| q.headers.get("apikey").map(String::as_str) == Some("test-key-0123"))
    );
    assert!(
        first.iter().all(|q| !q
            .query
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("apikey"))),
        "the key never goes in the URL"
    );
    // 60 requests per 30 s: at least half a second between two.
    for pair in first.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(450), "{gap:?}");
    }

    // Restarted: it resumes at the third page of the same window.
    let (code, r) = sync(&db, &config, &key);
    assert_eq!(code, 0, "{r:?}");
    let second = &replay.requests_to(path)[first.len()..];
    assert_eq!(second[0].param("startIndex"), Some("4"));
    assert_eq!(
        second[0].param("lastModStartDate"),
        first[0].param("lastModStartDate")
    );
    assert_eq!(r[0]["records"], 1);
    assert_eq!(status(&db)["vulnerabilities"], total);
    assert_eq!(
        status(&db)["views_by_source"],
        json!([["nvd", total]]),
        "no view twice"
    );
}

/// NVD pages of a window that changes while it is paged: a record already imported is
/// modified again and leaves the window, the later pages shift, and paging on would skip a
/// record. The total changing says so; the window is paged again and nothing is lost (the
/// record that left comes with the next window).
async fn an_nvd_window_that_changes_while_paged_loses_nothing(db: TestDb) {
    let Some(dir) = shared("nvd/records") else {
        return;
    };
    let records = nvd_records(&dir);
    let records = std::sync::Arc::new(std::sync::Mutex::new(records));
    let replay = Replay::start();
    let path = "/rest/json/cves/2.0";
    let shared_records = records.clone();
    replay.route(path, move |r| {
        let mut records = shared_records.lock().unwrap();
        let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
        let (from, to) = (
            time(r.param("lastModStartDate").unwrap()),
            time(r.param("lastModEndDate").unwrap()),
        );
        let window: Vec<Value> = records
            .iter()
            .filter(|c| {
                let t = time(&format!("{}Z", c["lastModified"].as_str().unwrap()));
                from <= t && t <= to
            })
            .cloned()
            .collect();
        let start: usize = r.param("startIndex").unwrap().parse().unwrap();
        let page: Vec<Value> = window
            .iter()
            .skip(start)
            .take(2)
            .map(|c| json!({"cve": c}))
            .collect();
        let body = serde_json::to_vec(&json!({
            "resultsPerPage": page.len(), "startIndex": start, "totalResults": window.len(),
            "format": "NVD_CVE", "version": "2.0", "timestamp": "2026-12-01T00:00:00.000",
            "vulnerabilities": page,
        }))
        .unwrap();
        // Right after the first page is served, its second record is modified again.
        if start == 0 && records[1]["lastModified"] == "2026-11-15T00:00:00.000" {
            records[1]["lastModified"] = json!(
                chrono::Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S%.3f")
                    .to_string()
            );
        }
        Reply::ok("application/json", body)
    });
    let config = feeds_file(
        db.dir(),
        &format!(
            "[[source]]\nkind = \"nvd\"\nurl = \"{}{path}\"\nrequests_per_30s = 600\nsince = \"2026-11-01T00:00:00Z\"\n",
            replay.url
        ),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(
        status(&db)["vulnerabilities"],
        5,
        "a record was skipped: {r:?}"
    );
    let asked: Vec<String> = replay
        .requests_to(path)
        .iter()
        .map(|q| q.param("startIndex").unwrap().to_owned())
        .collect();
    assert_eq!(
        asked[..3],
        ["0", "2", "0"],
        "the window was paged again: {asked:?}"
    );
    // The modified record comes with the next window.
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(r[0]["records"], 1, "{r:?}");
}

/// OSV's bucket: `all.zip` on the first sync, then only the records `modified_id.csv` lists
/// as modified since.
async fn osv_loads_all_zip_once_then_follows_modified_id(db: TestDb) {
    let record = |id: &str, fixed: &str| {
        json!({
            "schema_version": "1.6.0", "id": id, "modified": "2024-01-01T00:00:00Z",
            "summary": "test record written for the replay",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "jinja2"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]
        })
        .to_string()
    };
    let mut zipped = Vec::new();
    {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
        for (id, fixed) in [("PYSEC-2099-1", "3.1.3"), ("PYSEC-2099-2", "3.1.4")] {
            z.start_file(
                format!("{id}.json"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            z.write_all(record(id, fixed).as_bytes()).unwrap();
        }
        z.finish().unwrap();
    }
    let replay = Replay::start();
    replay.set("/osv/PyPI/all.zip", Reply::ok("application/zip", zipped));
    replay.set(
        "/osv/PyPI/modified_id.csv",
        Reply::ok(
            "text/csv",
            "2024-01-02T00:00:00Z,PYSEC-2099-2\n2024-01-01T00:00:00Z,PYSEC-2099-1\n",
        ),
    );
    let config = feeds_file(
        db.dir(),
        &format!(
            "[[source]]\nkind = \"osv\"\nurl = \"{}/osv\"\necosystems = [\"PyPI\"]\n",
            replay.url
        ),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(r[0]["records"], 2);

    // One record modified since: only it is fetched.
    replay.set(
        "/osv/PyPI/modified_id.csv",
        Reply::ok(
            "text/csv",
            "2024-02-01T00:00:00Z,PYSEC-2099-3\n2024-01-02T00:00:00Z,PYSEC-2099-2\n2024-01-01T00:00:00Z,PYSEC-2099-1\n",
        ),
    );
    replay.set(
        "/osv/PyPI/PYSEC-2099-3.json",
        Reply::ok("application/json", record("PYSEC-2099-3", "3.1.5")),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(r[0]["records"], 1);
    assert_eq!(replay.requests_to("/osv/PyPI/all.zip").len(), 1);
    assert_eq!(replay.requests_to("/osv/PyPI/PYSEC-2099-2.json").len(), 0);
    assert_eq!(status(&db)["vulnerabilities"], 3);
}

/// CVE List V5: the baseline archive on the first sync (a zip inside a zip, as the project's
/// releases are), then the records `deltaLog.json` names since the baseline was made —
/// fetched from the repository's layout.
async fn cve5_baseline_then_delta_log(db: TestDb) {
    let (Some(a), Some(b)) = (
        shared("cve5/records/CVE-2025-4427.json"),
        shared("cve5/records/CVE-2025-4428.json"),
    ) else {
        return;
    };
    let mut zipped = Vec::new();
    {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
        z.start_file(
            "cves/2025/4xxx/CVE-2025-4427.json",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(&std::fs::read(&a).unwrap()).unwrap();
        z.finish().unwrap();
    }
    // As CVE List V5 releases it: the records' zip inside another zip.
    let mut outer = Vec::new();
    {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut outer));
        z.start_file("cves.zip", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(&zipped).unwrap();
        z.finish().unwrap();
    }
    let replay = Replay::start();
    let mut baseline = Reply::ok("application/zip", outer);
    baseline.headers.push((
        "Last-Modified".into(),
        "Wed, 14 May 2025 00:00:00 GMT".into(),
    ));
    replay.set("/archive/baseline.zip", baseline);
    replay.set(
        "/cvelist/cves/deltaLog.json",
        Reply::ok(
            "application/json",
            json!([
                {"fetchTime": "2025-05-20T10:00:00.000Z", "numberOfChanges": 1,
                 "new": [{"cveId": "CVE-2025-4428"}], "updated": []},
                {"fetchTime": "2025-05-01T10:00:00.000Z", "numberOfChanges": 1,
                 "new": [], "updated": [{"cveId": "CVE-2025-4427"}]}
            ])
            .to_string(),
        ),
    );
    replay.set(
        "/cvelist/cves/2025/4xxx/CVE-2025-4428.json",
        Reply::ok("application/json", std::fs::read(&b).unwrap()),
    );
    let config = feeds_file(
        db.dir(),
        &format!(
            "[[source]]\nkind = \"cve5\"\nurl = \"{0}/cvelist/cves\"\nbaseline = \"{0}/archive/baseline.zip\"\n",
            replay.url
        ),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(status(&db)["vulnerabilities"], 2);
    // The entry from before the baseline was made is not fetched again.
    assert_eq!(
        replay
            .requests_to("/cvelist/cves/2025/4xxx/CVE-2025-4427.json")
            .len(),
        0
    );
    let (code, _) = sync(&db, &config, &[]);
    assert_eq!(code, 0);
    assert_eq!(replay.requests_to("/archive/baseline.zip").len(), 1);
    assert_eq!(
        replay
            .requests_to("/cvelist/cves/2025/4xxx/CVE-2025-4428.json")
            .len(),
        1
    );
}

/// EPSS: the daily file (gzip, FIRST's layout with its score-date line) each week; the score
/// history keeps CVE-2025-4427's jump from 0.049 to 0.749.
async fn epss_keeps_the_score_history(db: TestDb) {
    let (Some(before), Some(after)) = (
        shared("epss/epss-first-api-2025-05-18.csv.xz"),
        shared("epss/epss-first-api-2025-05-25.csv.xz"),
    ) else {
        return;
    };
    // FIRST's daily file, from the API export: the score-date line and header, then the rows
    // (a slice of them and the EPMM pair, to keep the test quick).
    let daily = |path: &Path, date: &str| {
        let text = String::from_utf8(xz(path)).unwrap();
        let mut out = format!(
            "#model_version:v2025.03.14,score_date:{date}T00:00:00+0000\ncve,epss,percentile\n"
        );
        for line in text
            .lines()
            .filter(|l| l.starts_with("CVE-2025-442") || l.starts_with("CVE-2024-1"))
        {
            out.push_str(&line.replace(';', ","));
            out.push('\n');
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(out.as_bytes()).unwrap();
        gz.finish().unwrap()
    };
    let replay = Replay::start();
    let path = "/epss_scores-current.csv.gz";
    replay.set(
        path,
        Reply::ok("application/gzip", daily(&before, "2025-05-18")).with_etag("\"d1\""),
    );
    let config = feeds_file(
        db.dir(),
        &format!(
            "[[source]]\nkind = \"epss\"\nurl = \"{}{path}\"\n",
            replay.url
        ),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    replay.set(
        path,
        Reply::ok("application/gzip", daily(&after, "2025-05-25")).with_etag("\"d2\""),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    let store = ward_store::Store::open(db.location()).await.unwrap();
    let history = store.epss_history("CVE-2025-4427").await.unwrap();
    let points: Vec<(String, f64)> = history.iter().map(|h| (h.date.clone(), h.score)).collect();
    assert_eq!(
        points,
        [
            ("2025-05-18".to_owned(), 0.04918),
            ("2025-05-25".to_owned(), 0.74905)
        ],
        "{history:?}"
    );
    store.close().await;
}

/// GET `url` with a bearer token: the JSON answer.
async fn get_json(http: &reqwest::Client, url: impl reqwest::IntoUrl, token: &str) -> Value {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn admin(db: &TestDb, args: &[&str]) -> String {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let o = common::run(db.location(), &all);
    assert!(o.status.success(), "ward admin {args:?}: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

/// `ward serve --feeds`: CISA adds CVE-2025-4427 to KEV; the server's next poll imports it,
/// continuous matching puts it on the member's finding, within seconds, with no one at the
/// keyboard — while a slow NVD load runs beside it. The central team sees each source's
/// freshness; members do not.
async fn the_server_follows_the_feeds_on_schedule(db: TestDb) {
    let Some(kev_path) = shared("kev/known_exploited_vulnerabilities-2026.08.07.json") else {
        return;
    };
    let catalogue: Value = serde_json::from_slice(&std::fs::read(&kev_path).unwrap()).unwrap();
    let mut before = catalogue.clone();
    before["vulnerabilities"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v["cveID"] != "CVE-2025-4427");
    let replay = Replay::start();
    let path = "/feeds/known_exploited_vulnerabilities.json";
    replay.set(
        path,
        Reply::ok("application/json", serde_json::to_vec(&before).unwrap()).with_etag("\"v1\""),
    );
    let central = admin(
        &db,
        &["init", "--slug", "nhs-england", "--name", "NHS England"],
    );
    admin(&db, &["org", "create", "rxa", "Royal Example Hospital"]);
    let member = admin(
        &db,
        &[
            "token",
            "create",
            "--org",
            "rxa",
            "--role",
            "member-admin",
            "--name",
            "t",
        ],
    );
    // The CNA's record alone (CISA's ADP container carries the KEV listing too: without it,
    // only the KEV feed can tell).
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/feeds/cve5-CVE-2025-4427.json");
    let mut record: Value = serde_json::from_slice(&std::fs::read(&demo).unwrap()).unwrap();
    record["containers"].as_object_mut().unwrap().remove("adp");
    let cna_only = db.dir().join("CVE-2025-4427.json");
    std::fs::write(&cna_only, serde_json::to_vec(&record).unwrap()).unwrap();
    assert!(
        common::run(db.location(), &["db", "import", p(&cna_only)])
            .status
            .success()
    );
    // Beside it, an NVD first load that takes minutes (each page answers after 90 s): it must
    // not hold up the KEV polls.
    replay.route("/nvd", |_| {
        std::thread::sleep(Duration::from_secs(90));
        Reply::status(503)
    });
    let config = feeds_file(
        db.dir(),
        &format!(
            "[[source]]\nkind = \"nvd\"\nurl = \"{0}/nvd\"\ntimeout = \"120s\"\nattempts = 1\n\n\
             [[source]]\nkind = \"kev\"\nurl = \"{0}{path}\"\nevery = \"1s\"\n",
            replay.url
        ),
    );
    let server = common::Server::start_with(db.location(), &["--feeds", p(&config)]);
    let url = server.url.clone();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let asset: Value = http
        .post(format!("{url}/api/v1/assets"))
        .bearer_auth(&member)
        .json(&json!({"name": "mdm-01", "exposure": "open", "criticality": "high"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!(
            "{url}/api/v1/assets/{}/inventory?filename=mdm.csv",
            asset["asset"]["id"]
        ))
        .bearer_auth(&member)
        .body("asset,cpe\nmdm-01,cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let kev_of_finding = || async {
        let list = get_json(&http, format!("{url}/api/v1/findings"), &member).await;
        list["findings"][0]["finding"]["kev"].clone()
    };
    // The first poll imports the catalogue without it.
    let started = std::time::Instant::now();
    while replay.requests_to(path).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server never polled"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(kev_of_finding().await.is_null());

    // CISA publishes: within seconds the member's finding says KEV.
    replay.set(
        path,
        Reply::ok("application/json", serde_json::to_vec(&catalogue).unwrap()).with_etag("\"v2\""),
    );
    let published = std::time::Instant::now();
    loop {
        if !kev_of_finding().await.is_null() {
            break;
        }
        assert!(
            published.elapsed() < Duration::from_secs(30),
            "not known within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "KEV listing to the member's finding: {:?}",
        published.elapsed()
    );
    let feeds = get_json(&http, format!("{url}/api/v1/feeds"), &central).await;
    let kev = feeds["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "kev")
        .unwrap();
    assert_eq!(kev["name"], "kev");
    assert_eq!(kev["every_seconds"], 1);
    assert_eq!(kev["behind"], false);
    assert!(
        kev["last_success_at"].is_string() && kev["etag"] == "\"v2\"",
        "{feeds}"
    );
    let r = http
        .get(format!("{url}/api/v1/feeds"))
        .bearer_auth(&member)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// Trusts sit behind proxies: `HTTP_PROXY`/`HTTPS_PROXY` from the environment are used (the
/// replay plays the proxy; the publisher's name does not even resolve here).
async fn feeds_go_through_the_proxy_the_environment_names(db: TestDb) {
    let Some(kev_path) = shared("kev/known_exploited_vulnerabilities-2026.08.07.json") else {
        return;
    };
    let proxy = Replay::start();
    let target =
        "http://publisher.invalid/sites/default/files/feeds/known_exploited_vulnerabilities.json";
    proxy.set(
        target,
        Reply::ok("application/json", std::fs::read(&kev_path).unwrap()),
    );
    let config = feeds_file(
        db.dir(),
        &format!("[[source]]\nkind = \"kev\"\nurl = \"{target}\"\n"),
    );
    let (code, r) = sync(
        &db,
        &config,
        &[("HTTP_PROXY", &proxy.url), ("NO_PROXY", "")],
    );
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(proxy.requests_to(target).len(), 1);
    assert!(status(&db)["kev"].as_i64().unwrap() > 1000);
}

/// A source that keeps failing falls behind (no success for twice its interval): the central
/// team's channels are told once (`feed.behind`, in the documented event schema), the status
/// says so, and the audit log has it.
async fn a_source_that_falls_behind_tells_the_central_team(db: TestDb) {
    let replay = Replay::start();
    replay.set("/kev.json", Reply::status(503));
    replay.set("/hook", Reply::ok("text/plain", "ok"));
    let central = admin(
        &db,
        &["init", "--slug", "nhs-england", "--name", "NHS England"],
    );
    let config = feeds_file(
        db.dir(),
        &format!(
            "[[source]]\nkind = \"kev\"\nurl = \"{}/kev.json\"\nevery = \"1s\"\nattempts = 1\n",
            replay.url
        ),
    );
    // The central team's channel first (a server without feeds), then the server that follows
    // them: the source falls behind only once there is someone to tell.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    {
        let setup = common::Server::start_with(db.location(), &["--allow-targets", "127.0.0.1"]);
        let r = http
            .post(format!("{}/api/v1/channels", setup.url))
            .bearer_auth(&central)
            .json(&json!({"kind": "webhook", "target": format!("{}/hook", replay.url), "secret": "whsec-0123456789abcdef"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let server = common::Server::start_with(
        db.location(),
        &["--feeds", p(&config), "--allow-targets", "127.0.0.1"],
    );
    let started = std::time::Instant::now();
    while replay.requests_to("/hook").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the central team was never told"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Told once, however many more syncs fail.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let hooks = replay.requests_to("/hook");
    assert_eq!(hooks.len(), 1);
    let body: Value = serde_json::from_slice(&hooks[0].body).unwrap();
    assert_eq!(body["event"], "feed.behind");
    assert_eq!(body["source"]["name"], "kev");
    assert!(
        body["source"]["last_error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{body}"
    );
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/events.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let script = "import json, sys\nfrom jsonschema import Draft202012Validator\ng = json.load(sys.stdin)\n\
                  errors = [e.message for e in Draft202012Validator(g['schema']).iter_errors(g['body'])]\n\
                  print(errors)\nsys.exit(1 if errors else 0)\n";
    let input = serde_json::to_vec(&json!({"schema": schema, "body": body})).unwrap();
    if let Some((ok, out, err)) = ward_testdata::python(&["jsonschema"], script, &input) {
        assert!(ok, "{out}{err}");
    }
    let feeds = get_json(&http, format!("{}/api/v1/feeds", server.url), &central).await;
    assert_eq!(feeds["feeds"][0]["behind"], true, "{feeds}");
    assert!(feeds["feeds"][0]["behind_since"].is_string());
    let audit = get_json(&http, format!("{}/api/v1/audit", server.url), &central).await;
    let told = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "feed.behind")
        .count();
    assert_eq!(told, 1);
}

ward_testdata::backend_tests!(
    csaf_providers_are_verified_then_followed,
    an_nvd_window_that_changes_while_paged_loses_nothing,
    a_source_that_falls_behind_tells_the_central_team,
    feeds_go_through_the_proxy_the_environment_names,
    offline_bundles_are_signed_checked_and_published,
    the_server_follows_the_feeds_on_schedule,
    kev_sync_is_conditional_refuses_error_pages_and_follows_removals,
    nvd_pages_resume_keep_the_rate_and_send_the_key,
    osv_loads_all_zip_once_then_follows_modified_id,
    cve5_baseline_then_delta_log,
    epss_keeps_the_score_history,
);

/// Rewrites a bundle's archive, passing each entry (name, bytes) through `change`.
fn rewrite(
    from: &Path,
    to: &Path,
    change: impl Fn(&str, Vec<u8>) -> Option<Vec<u8>>,
    extra: Option<(&str, &[u8])>,
) {
    let mut input = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(from).unwrap(),
    ));
    let mut out = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    ));
    let mut put = |name: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        out.append_data(&mut h, name, bytes).unwrap();
    };
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        if let Some(bytes) = change(&name, bytes) {
            put(&name, &bytes);
        }
    }
    if let Some((name, bytes)) = extra {
        put(name, bytes);
    }
    out.into_inner().unwrap().finish().unwrap();
}

/// Offline bundles: the central server's knowledge, signed; a member without internet access
/// imports it after checking the signature and every file's hash — a changed file, an added
/// one or another key's signature is refused with nothing imported — or pulls the newest one
/// from the server.
async fn offline_bundles_are_signed_checked_and_published(db: TestDb) {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/feeds");
    assert!(
        common::run(db.location(), &["db", "import", p(&demo)])
            .status
            .success()
    );
    let central = status(&db);
    let dir = db.dir().to_owned();
    let key = dir.join("bundle.pem");
    assert!(
        common::run(db.location(), &["audit", "keygen", "--out", p(&key)])
            .status
            .success()
    );
    let public = dir.join("bundle.pem.pub");
    let published = dir.join("published");
    std::fs::create_dir(&published).unwrap();
    let bundle = published.join("ward-knowledge-2026-12-03.tar.gz");
    let out = ward(db.location())
        .args([
            "feeds",
            "bundle",
            "--since",
            "2020-01-01",
            "-o",
            p(&bundle),
            "--key",
            p(&key),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest = json(&out);
    assert_eq!(manifest["views"], central["views"]);
    assert_eq!(manifest["kev"], central["kev"]);

    // A member's own database, offline: the bundle checked, then imported.
    let member = dir.join("member.db");
    let import = |file: &Path, key: &Path| {
        common::run(
            &member,
            &[
                "db",
                "import",
                p(file),
                "--verify-key",
                p(key),
                "--format",
                "json",
            ],
        )
    };
    let o = import(&bundle, &public);
    assert!(o.status.success(), "{}", stderr(&o));
    let mine = json(&common::run(&member, &["db", "status", "--format", "json"]));
    for field in ["vulnerabilities", "views", "kev", "epss"] {
        assert_eq!(mine[field], central[field], "{field}");
    }

    // Changed, added to, or signed by another key: refused, nothing imported.
    let fresh = dir.join("fresh.db");
    let refused = |file: &Path, key: &Path, why: &str| {
        let o = common::run(&fresh, &["db", "import", p(file), "--verify-key", p(key)]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(why), "{why}: {}", stderr(&o));
        let s = json(&common::run(&fresh, &["db", "status", "--format", "json"]));
        assert_eq!(s["views"], 0);
    };
    let changed = dir.join("changed.tar.gz");
    rewrite(
        &bundle,
        &changed,
        |name, bytes| {
            Some(if name == "knowledge-0001.json" {
                String::from_utf8(bytes)
                    .unwrap()
                    .replacen("Ivanti", "Ivanto", 1)
                    .into_bytes()
            } else {
                bytes
            })
        },
        None,
    );
    refused(&changed, &public, "the file was changed");
    let added = dir.join("added.tar.gz");
    rewrite(
        &bundle,
        &added,
        |_, b| Some(b),
        Some(("knowledge-9999.json", b"{\"ward_knowledge\": 1}")),
    );
    refused(&added, &public, "is not in the manifest");
    let other = dir.join("other.pem");
    assert!(
        common::run(db.location(), &["audit", "keygen", "--out", p(&other)])
            .status
            .success()
    );
    refused(
        &bundle,
        &dir.join("other.pem.pub"),
        "signature does not match",
    );

    // Published by the server: any member pulls the newest.
    let token = {
        let o = common::run(
            db.location(),
            &["admin", "init", "--slug", "central", "--name", "Central"],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap().trim().to_owned()
    };
    let server = common::Server::start_with(db.location(), &["--bundle-dir", p(&published)]);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/api/v1/knowledge/bundles/latest", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/gzip");
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        std::fs::read(&bundle).unwrap().as_slice()
    );
    let r = http
        .get(format!("{}/api/v1/knowledge/bundles/latest", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// GnuPG in a home of its own: an Ed25519 signing key for the provider, made here.
struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    fn new() -> Option<Self> {
        if std::process::Command::new("gpg")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install gpg (.ci/run)"
            );
            eprintln!("skipped: gpg is not installed");
            return None;
        }
        let g = Self {
            home: tempfile::tempdir().unwrap(),
        };
        let o = g.run(
            &[
                "--quick-gen-key",
                "Example PSIRT <psirt@example.org>",
                "ed25519",
                "sign",
                "never",
            ],
            None,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Some(g)
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
        let mut child = std::process::Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or_default())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn fingerprint(&self) -> String {
        let o = self.run(&["--with-colons", "--list-keys"], None);
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_owned())
            })
            .unwrap()
    }

    fn public_key(&self) -> Vec<u8> {
        self.run(&["--armor", "--export"], None).stdout
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let o = self.run(&["--armor", "--detach-sign"], Some(data));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    }
}

/// A CSAF 2.0 advisory written for the test from public facts (Ivanti's EPMM advisory of
/// May 2025: versions before 12.5.0.1 are affected by CVE-2025-4427).
fn csaf_doc(id: &str, cve: &str, released: &str) -> Vec<u8> {
    json!({
        "document": {
            "category": "csaf_security_advisory", "csaf_version": "2.0",
            "title": format!("{id}: Endpoint Manager Mobile"),
            "publisher": {"category": "vendor", "name": "Example PSIRT", "namespace": "https://psirt.example.org"},
            "tracking": {"id": id, "status": "final", "version": "1",
                         "initial_release_date": released, "current_release_date": released,
                         "revision_history": [{"date": released, "number": "1", "summary": "Initial"}]}
        },
        "product_tree": {"branches": [{"category": "vendor", "name": "Ivanti", "branches": [
            {"category": "product_name", "name": "Endpoint Manager Mobile", "branches": [
                {"category": "product_version_range", "name": "vers:generic/<12.5.0.1",
                 "product": {"name": "Ivanti Endpoint Manager Mobile < 12.5.0.1", "product_id": "EPMM-1"}}]}]}]},
        "vulnerabilities": [{"cve": cve, "product_status": {"known_affected": ["EPMM-1"]},
            "remediations": [{"category": "vendor_fix", "details": "Update to 12.5.0.1", "product_ids": ["EPMM-1"]}]}]
    })
    .to_string()
    .into_bytes()
}

/// A CSAF provider: the documents `changes.csv` lists, each with its SHA-512 and a detached
/// signature made by GnuPG; Ward verifies with the key the metadata names (by fingerprint),
/// then follows `changes.csv`; a document whose signature fails is refused and nothing of the
/// step is imported; a key whose fingerprint is not the stated one is refused.
async fn csaf_providers_are_verified_then_followed(db: TestDb) {
    use sha2::Digest as _;
    let Some(gpg) = Gpg::new() else { return };
    let replay = Replay::start();
    let base = "/.well-known/csaf";
    let publish = |path: &str, body: Vec<u8>, signature: Vec<u8>| {
        replay.set(
            &format!("{base}/white/{path}.sha512"),
            Reply::ok(
                "text/plain",
                format!("{}  {path}\n", hex::encode(sha2::Sha512::digest(&body))),
            ),
        );
        replay.set(
            &format!("{base}/white/{path}.asc"),
            Reply::ok("text/plain", signature),
        );
        replay.set(
            &format!("{base}/white/{path}"),
            Reply::ok("application/json", body),
        );
    };
    let metadata = |fingerprint: &str| {
        json!({
            "canonical_url": format!("{}{base}/provider-metadata.json", replay.url),
            "distributions": [{"directory_url": format!("{}{base}/white/", replay.url)}],
            "last_updated": "2025-05-20T00:00:00Z", "list_on_CSAF_aggregators": true,
            "metadata_version": "2.0", "mirror_on_CSAF_aggregators": true,
            "public_openpgp_keys": [{"fingerprint": fingerprint, "url": format!("{}{base}/openpgp/key.asc", replay.url)}],
            "publisher": {"category": "vendor", "name": "Example PSIRT", "namespace": "https://psirt.example.org"},
            "role": "csaf_trusted_provider"
        })
        .to_string()
    };
    replay.set(
        &format!("{base}/provider-metadata.json"),
        Reply::ok("application/json", metadata(&gpg.fingerprint())),
    );
    replay.set(
        &format!("{base}/openpgp/key.asc"),
        Reply::ok("text/plain", gpg.public_key()),
    );
    let first = csaf_doc("EX-2025-0001", "CVE-2025-4427", "2025-05-13T00:00:00Z");
    publish("2025/ex-2025-0001.json", first.clone(), gpg.sign(&first));
    replay.set(
        &format!("{base}/white/changes.csv"),
        Reply::ok(
            "text/csv",
            "\"2025/ex-2025-0001.json\",\"2025-05-13T00:00:00Z\"\n",
        ),
    );
    let config = feeds_file(
        db.dir(),
        &format!(
            "[[source]]\nname = \"example-psirt\"\nkind = \"csaf\"\nurl = \"{}{base}/provider-metadata.json\"\n",
            replay.url
        ),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(r[0]["records"], 1, "{r:?}");
    assert_eq!(status(&db)["views_by_source"], json!([["csaf", 1]]));

    // A second document: only it is fetched.
    let second = csaf_doc("EX-2025-0002", "CVE-2025-4428", "2025-05-14T00:00:00Z");
    publish("2025/ex-2025-0002.json", second.clone(), gpg.sign(&second));
    replay.set(
        &format!("{base}/white/changes.csv"),
        Reply::ok("text/csv", "\"2025/ex-2025-0002.json\",\"2025-05-14T00:00:00Z\"\n\"2025/ex-2025-0001.json\",\"2025-05-13T00:00:00Z\"\n"),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(r[0]["records"], 1, "{r:?}");
    assert_eq!(
        replay
            .requests_to(&format!("{base}/white/2025/ex-2025-0001.json"))
            .len(),
        1
    );

    // A document changed after it was signed (its hash file updated to match): refused, and
    // nothing of the step imported; the next sync tries it again.
    let third = csaf_doc("EX-2025-0003", "CVE-2026-1281", "2025-05-15T00:00:00Z");
    let signature = gpg.sign(&third);
    let mut tampered = third.clone();
    let at = tampered.len() - 3;
    tampered.insert(at, b' ');
    publish("2025/ex-2025-0003.json", tampered, signature);
    replay.set(
        &format!("{base}/white/changes.csv"),
        Reply::ok("text/csv", "\"2025/ex-2025-0003.json\",\"2025-05-15T00:00:00Z\"\n\"2025/ex-2025-0002.json\",\"2025-05-14T00:00:00Z\"\n\"2025/ex-2025-0001.json\",\"2025-05-13T00:00:00Z\"\n"),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_ne!(code, 0, "{r:?}");
    let error = r[0]["error"].as_str().unwrap();
    assert!(
        error.contains("ex-2025-0003.json") && error.contains("signature"),
        "{error}"
    );
    assert_eq!(status(&db)["vulnerabilities"], 2);
    publish("2025/ex-2025-0003.json", third.clone(), gpg.sign(&third));
    let (code, r) = sync(&db, &config, &[]);
    assert_eq!(code, 0, "{r:?}");
    assert_eq!(status(&db)["vulnerabilities"], 3);

    // A key that is not the one the metadata names by fingerprint is refused.
    replay.set(
        &format!("{base}/provider-metadata.json"),
        Reply::ok("application/json", metadata(&"0".repeat(40))),
    );
    let (code, r) = sync(&db, &config, &[]);
    assert_ne!(code, 0, "{r:?}");
    assert!(
        r[0]["error"].as_str().unwrap().contains("fingerprint"),
        "{r:?}"
    );
}
