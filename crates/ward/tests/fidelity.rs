//! Scan fidelity (#19) through the `ward` binary: Go's own reading of module paths and
//! toolchain versions, versions never guessed, coverage stated, severity checked against the
//! records' own scores, RustSec notices apart, and the inventory formats scanner users have.
//! Real SQLite files and the shared data where present.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use common::{json, p, run, stderr, write};
use serde_json::{Value, json};
use ward_testdata::shared;

const INVENTORIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inventories");

fn cdx(components: &[&str]) -> String {
    let list: Vec<Value> = components
        .iter()
        .map(|purl| {
            let name = purl.split('@').next().unwrap().rsplit('/').next().unwrap();
            json!({"type": "library", "name": name, "purl": purl})
        })
        .collect();
    json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": list}).to_string()
}

fn ids_for(report: &Value, purl_prefix: &str) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["component"]["purl"]
                .as_str()
                .is_some_and(|p| p.starts_with(purl_prefix))
        })
        .flat_map(|f| {
            std::iter::once(&f["vulnerability"])
                .chain(f["aliases"].as_array().unwrap())
                .map(|v| v.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The two Go faults, against the real Go vulndb: module paths match exactly, toolchain
/// versions are read as Go reads them, and an unreadable version is listed, not guessed.
#[test]
fn go_module_paths_and_toolchain_versions_as_go_reads_them() {
    let Some(go) = shared("osv/golang-vulndb-2026-08-21.tar.xz") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let o = run(&db, &["db", "import", p(&go)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sbom = write(
        dir.path(),
        "go.cdx.json",
        &cdx(&[
            // GO-2022-0414 (CVE-2022-21235): github.com/Masterminds/vcs before 1.13.3.
            "pkg:golang/github.com/Masterminds/vcs@v1.13.1",
            "pkg:golang/github.com/masterminds/vcs@v1.13.1",
            "pkg:golang/stdlib@go1.20.4",
            "pkg:golang/stdlib@v1.20.4",
            "pkg:golang/stdlib@go1.21rc2",
            "pkg:golang/stdlib@v1.21.0-rc.2",
            "pkg:golang/stdlib@go1.99.0",
            "pkg:golang/github.com/gin-gonic/gin@(devel)",
        ]),
    );
    let report = json(&run(&db, &["scan", "--format", "json", p(&sbom)]));
    let exact = ids_for(&report, "pkg:golang/github.com/Masterminds/vcs");
    assert!(exact.contains("GO-2022-0414"), "{exact:?}");
    assert!(
        ids_for(&report, "pkg:golang/github.com/masterminds/vcs").is_empty(),
        "a module path differing in case is another module"
    );
    let toolchain = ids_for(&report, "pkg:golang/stdlib@go1.20.4");
    assert!(!toolchain.is_empty());
    assert_eq!(toolchain, ids_for(&report, "pkg:golang/stdlib@v1.20.4"));
    assert_eq!(
        ids_for(&report, "pkg:golang/stdlib@go1.21rc2"),
        ids_for(&report, "pkg:golang/stdlib@v1.21.0-rc.2")
    );
    assert!(ids_for(&report, "pkg:golang/stdlib@go1.99.0").is_empty());
    // `(devel)` is no version: listed, never ordered.
    assert!(ids_for(&report, "pkg:golang/github.com/gin-gonic/gin").is_empty());
    let unchecked = report["unchecked"].as_array().unwrap();
    assert_eq!(unchecked.len(), 1, "{unchecked:?}");
    assert_eq!(unchecked[0]["code"], "invalid-version");
    assert_eq!(unchecked[0]["component"]["version"], "(devel)");
    assert!(unchecked[0]["advisories"].as_u64().unwrap() > 0);
    assert_eq!(report["summary"]["unchecked"], 1);
    // `--fail-on unchecked` fails on it; a priority threshold alone does not.
    let o = run(&db, &["scan", "--fail-on", "unchecked", p(&sbom)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("(devel)") && text.contains("never guessed"),
        "{text}"
    );
}

/// The shared Debian 12 SBOM scanned with only Go and PyPI advisories: the coverage gap is
/// said, and "No findings." is not.
#[test]
fn coverage_gaps_are_said_not_hidden() {
    let (Some(go), Some(pypa), Some(debian)) = (
        shared("osv/golang-vulndb-2026-08-21.tar.xz"),
        shared("osv/pypa-advisory-database-2024-10-10.tar.xz"),
        shared("sbom/syft/debian12-dpkg.cdx.json"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let o = run(&db, &["db", "import", p(&go), p(&pypa)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&db, &["scan", "--width", "100", p(&debian)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(!text.contains("No findings."), "{text}");
    assert!(
        text.contains("707 deb components: no Debian advisories in the knowledge base"),
        "{text}"
    );
    let o = run(
        &db,
        &["scan", "--fail-on", "scheduled,unchecked", p(&debian)],
    );
    assert_eq!(o.status.code(), Some(1));
    let report = json(&run(&db, &["scan", "--format", "json", p(&debian)]));
    let debian_row = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Debian")
        .unwrap()
        .clone();
    assert_eq!(debian_row["kind"], "package");
    assert_eq!(debian_row["checked"], false);
    assert_eq!(debian_row["components"], 707);
    assert_eq!(report["summary"]["not_covered"], 708);

    // A Go SBOM against the same knowledge: covered, with the count and the date.
    let sbom = write(
        dir.path(),
        "go.cdx.json",
        &cdx(&["pkg:golang/golang.org/x/text@v0.3.5"]),
    );
    let report = json(&run(&db, &["scan", "--format", "json", p(&sbom)]));
    let go_row = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Go")
        .unwrap()
        .clone();
    assert_eq!(go_row["checked"], true, "{go_row}");
    assert!(go_row["advisories"].as_i64().unwrap() > 4000, "{go_row}");
    assert!(go_row["updated"].is_string(), "{go_row}");
    assert_eq!(report["summary"]["not_covered"], 0);
}

/// The record's own severity for the source Ward prefers: the CNA's CVSS (CVE 5 records),
/// else NVD's own (Primary) metric, newest CVSS version first. Read from the published
/// `baseSeverity`/`baseScore` fields, not recomputed.
fn published_severity(id: &str) -> Option<(String, f64)> {
    let from_metrics = |metrics: &[(&str, &Value)]| -> Option<(String, f64)> {
        let (_, m) = metrics.first()?;
        let data = m.get("cvssData").unwrap_or(m);
        let score = data["baseScore"].as_f64()?;
        let word = data["baseSeverity"]
            .as_str()
            .or_else(|| m["baseSeverity"].as_str())?;
        Some((word.to_lowercase(), score))
    };
    if let Some(path) = shared(&format!("cve5/records/{id}.json")) {
        let r: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let metrics = r["containers"]["cna"]["metrics"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for key in ["cvssV4_0", "cvssV3_1", "cvssV3_0"] {
            let found: Vec<(&str, &Value)> = metrics
                .iter()
                .filter_map(|m| m.get(key).map(|v| (key, v)))
                .collect();
            if let Some(s) = from_metrics(&found) {
                return Some(s);
            }
        }
    }
    let r: Value =
        serde_json::from_slice(&std::fs::read(shared(&format!("nvd/records/{id}.json"))?).unwrap())
            .unwrap();
    let r = r.get("cve").unwrap_or(&r);
    for key in [
        "cvssMetricV40",
        "cvssMetricV31",
        "cvssMetricV30",
        "cvssMetricV2",
    ] {
        let found: Vec<(&str, &Value)> = r["metrics"][key]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["type"] == "Primary")
            .map(|m| (key, m))
            .collect();
        if let Some(s) = from_metrics(&found) {
            return Some(s);
        }
    }
    None
}

#[test]
fn severity_agrees_with_the_records_own_scores() {
    if shared("nvd/records/CVE-2021-44228.json").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let o = common::ward(&db)
        .args(["demo", "--format", "json", "--db", p(&db)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut checked = 0;
    for f in report["findings"].as_array().unwrap() {
        let id = f["vulnerability"].as_str().unwrap();
        let Some((word, score)) = published_severity(id) else {
            continue;
        };
        assert_eq!(f["severity"]["level"], word, "{id}: {}", f["severity"]);
        assert_eq!(f["severity"]["score"].as_f64(), Some(score), "{id}");
        checked += 1;
    }
    assert!(checked >= 6, "{checked} findings checked");
    assert_eq!(
        report["summary"]["by_severity"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        report["summary"]["findings"].as_u64().unwrap()
    );
}

/// RustSec `unmaintained`/`unsound` notices are informational, apart from the
/// vulnerabilities, exactly as cargo-audit separates them on the same lockfile.
#[test]
fn rustsec_notices_are_informational_as_cargo_audit_says() {
    let (Some(rustsec), Some(sbom), Some(oracle)) = (
        shared("osv/rustsec-osv-2026-08-21.tar.xz"),
        shared("sbom/rust-trustify/trustify-cargo.syft.cdx.json"),
        shared("sbom/rust-trustify/cargo-audit-oracle.json"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let o = run(&db, &["db", "import", p(&rustsec)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = json(&run(&db, &["scan", "--format", "json", p(&sbom)]));
    let oracle: Value = serde_json::from_slice(&std::fs::read(oracle).unwrap()).unwrap();
    let key = |id: &str, name: &str, version: &str| format!("{id} {name}@{version}");
    let mut want_notices = BTreeSet::new();
    for kind in ["unmaintained", "unsound"] {
        for w in oracle["warnings"][kind].as_array().unwrap() {
            want_notices.insert(format!(
                "{kind} {}",
                key(
                    w["advisory"]["id"].as_str().unwrap(),
                    w["package"]["name"].as_str().unwrap(),
                    w["package"]["version"].as_str().unwrap()
                )
            ));
        }
    }
    let want_vulns: BTreeSet<String> = oracle["vulnerabilities"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            key(
                v["advisory"]["id"].as_str().unwrap(),
                v["package"]["name"].as_str().unwrap(),
                v["package"]["version"].as_str().unwrap(),
            )
        })
        .collect();
    let mut notices = BTreeSet::new();
    let mut vulns = BTreeSet::new();
    for f in report["findings"].as_array().unwrap() {
        // The record the finding follows, and those merged into it as the same problem
        // (aliases name related records too, which are not findings of this crate).
        let source = f["explanation"]["source"]
            .as_str()
            .unwrap()
            .trim_start_matches("osv:");
        let mut ids: Vec<&str> = vec![source];
        for note in f["explanation"]["notes"].as_array().unwrap() {
            if let Some(rest) = note.as_str().unwrap().strip_prefix("also published as ") {
                ids.push(rest.split_whitespace().next().unwrap());
            }
        }
        for id in ids {
            let k = key(
                id,
                f["component"]["name"].as_str().unwrap(),
                f["component"]["version"].as_str().unwrap(),
            );
            if f["kind"] == "informational" {
                assert_eq!(f["priority"], "defer");
                notices.insert(format!("{} {k}", f["informational"].as_str().unwrap()));
            } else {
                vulns.insert(k);
            }
        }
    }
    assert_eq!(notices, want_notices);
    assert_eq!(vulns, want_vulns);
    assert_eq!(
        report["summary"]["informational"].as_u64().unwrap() as usize,
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "informational")
            .count()
    );
    // Notices never fail a build: only the vulnerabilities do.
    let o = run(&db, &["scan", "--fail-on", "defer", p(&sbom)]);
    assert_eq!(o.status.code(), Some(1));
}

fn gz(path: &Path, bytes: &[u8]) {
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
}

/// Every inventory format a scanner user has, on a real file each: nmap XML, SPDX 2 JSON
/// compressed with xz (as shared), SPDX 2.2 tag-value and SPDX 3.0 JSON-LD from the SPDX
/// project's examples, and gzip by its magic bytes whatever the name.
#[test]
fn inventories_users_have() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    let o = run(
        &db,
        &[
            "db",
            "import",
            p(Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/osv"
            ))),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let nmap = Path::new(INVENTORIES).join("scanme.nmap.xml");
    let report = json(&run(&db, &["scan", "--format", "json", p(&nmap)]));
    assert_eq!(
        report["summary"]["assets"], 1,
        "the host that is down is no asset"
    );
    assert_eq!(report["summary"]["components"], 3, "{report}");
    let o = run(&db, &["scan", "--format", "csv", p(&nmap)]);
    assert!(o.status.success(), "{}", stderr(&o));

    // gzip by magic bytes, under a name that says nothing of it.
    let bytes = std::fs::read(&nmap).unwrap();
    let hidden = dir.path().join("scan-result.dat");
    gz(&hidden, &bytes);
    let again = json(&run(&db, &["scan", "--format", "json", p(&hidden)]));
    assert_eq!(again["summary"]["components"], 3);
    // A bomb is refused naming the bound (xz of 600 MiB of zeros > 512 MiB).
    let bomb = dir.path().join("bomb.cdx.json.xz");
    {
        let mut enc = liblzma::write::XzEncoder::new(std::fs::File::create(&bomb).unwrap(), 1);
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..600 {
            enc.write_all(&zeros).unwrap();
        }
        enc.finish().unwrap();
    }
    let o = run(&db, &["scan", p(&bomb)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expands beyond"), "{}", stderr(&o));

    let (Some(spdx_xz), Some(examples)) = (
        shared("sbom/syft/debian12-dpkg.spdx.json.xz"),
        shared("sbom/spdx-examples-2026-04-23.tar.xz"),
    ) else {
        return;
    };
    let o = run(&db, &["scan", "--format", "json", p(&spdx_xz)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(json(&o)["summary"]["components"].as_u64().unwrap() >= 700);

    let unpacked = dir.path().join("spdx");
    std::fs::create_dir(&unpacked).unwrap();
    let tar = liblzma::read::XzDecoder::new(std::fs::File::open(&examples).unwrap());
    tar::Archive::new(tar).unpack(&unpacked).unwrap();
    let mut scanned = 0;
    for entry in walkdir::WalkDir::new(&unpacked) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".spdx") || entry.path().to_string_lossy().contains("spdx3.0/"))
            || !entry.file_type().is_file()
        {
            continue;
        }
        let o = run(&db, &["scan", "--format", "json", p(entry.path())]);
        assert!(
            o.status.success(),
            "{}: {}",
            entry.path().display(),
            stderr(&o)
        );
        scanned += 1;
    }
    assert_eq!(scanned, 37, "SPDX 2.2 tag-value and 3.0 JSON-LD examples");
    // Hand-checked: example6-lib names five packages, the Go distribution first.
    let lib = unpacked.join("software/example6/spdx2.2/example6-lib.spdx");
    let r = json(&run(&db, &["scan", "--format", "json", p(&lib)]));
    assert_eq!(r["summary"]["components"], 5);
    // The k8s SPDX 3 example: 4 packages with purls (deb, cargo, …).
    let k8s = unpacked.join("software/example11/spdx3.0/sbom.spdx3.json");
    let r = json(&run(&db, &["scan", "--format", "json", p(&k8s)]));
    assert_eq!(r["summary"]["components"], 4);
    let kinds: BTreeSet<String> = r["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "package")
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains("crates.io") && kinds.contains("Debian"),
        "{kinds:?}"
    );
}
