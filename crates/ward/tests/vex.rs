//! VEX in (#21, first part): `ward scan --vex` with OpenVEX and CycloneDX VEX documents, on the
//! demo's knowledge base and trust; the Node.js project's own OpenVEX document read whole.

mod common;

use std::path::PathBuf;

use common::{json, p, run, stderr, write};
use serde_json::{Value, json};
use ward_testdata::shared;

/// The demo's feeds in a fresh database; the demo trust's inventory.
fn demo(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo");
    let db = dir.join("ward.db");
    let o = run(&db, &["db", "import", p(&demo.join("feeds"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    (db, demo.join("st-elsewhere-trust.csv"))
}

fn finding<'a>(report: &'a Value, asset: &str, vulnerability: &str) -> Option<&'a Value> {
    report["findings"].as_array().unwrap().iter().find(|f| {
        f["asset"].as_str().unwrap().starts_with(asset) && f["vulnerability"] == vulnerability
    })
}

#[test]
fn vex_statements_clear_findings_with_their_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let (db, inventory) = demo(dir.path());
    let before = json(&run(&db, &["scan", "--format", "json", p(&inventory)]));
    assert!(finding(&before, "pacs-web", "CVE-2021-44228").is_some());
    assert!(finding(&before, "mdm-01", "CVE-2025-4427").is_some());

    let openvex = write(
        dir.path(),
        "pacs.openvex.json",
        &json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.org/vex/pacs-2025-001",
            "author": "PACS vendor PSIRT",
            "timestamp": "2025-05-01T10:00:00Z",
            "version": 1,
            "statements": [
                {"vulnerability": {"name": "CVE-2021-44228"},
                 "products": [{"@id": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}],
                 "status": "affected", "action_statement": "upgrade to 2.17.1",
                 "timestamp": "2025-01-01T00:00:00Z"},
                {"vulnerability": {"name": "CVE-2021-44228"},
                 "products": [{"@id": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}],
                 "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
                 "impact_statement": "JNDI lookups are disabled in this build"}
            ]
        })
        .to_string(),
    );
    let cdx = write(
        dir.path(),
        "epmm.vex.cdx.json",
        &json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "metadata": {"timestamp": "2025-05-20T00:00:00Z", "authors": [{"name": "Central team"}]},
            "components": [{"bom-ref": "epmm", "type": "application", "name": "EPMM",
                            "cpe": "cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*"}],
            "vulnerabilities": [{"id": "CVE-2025-4427",
                                 "analysis": {"state": "exploitable", "response": ["update"],
                                              "detail": "apply 12.5.0.1 within 48 hours"},
                                 "affects": [{"ref": "epmm"}]}]
        })
        .to_string(),
    );
    let o = run(
        &db,
        &[
            "scan",
            "--format",
            "json",
            "--vex",
            p(&openvex),
            "--vex",
            p(&cdx),
            p(&inventory),
        ],
    );
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    let after = json(&o);
    // The later statement (not affected) decides; the finding is suppressed, with who said it.
    assert!(finding(&after, "pacs-web", "CVE-2021-44228").is_none());
    let s = after["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["vulnerability"] == "CVE-2021-44228")
        .expect("listed, not dropped");
    assert_eq!(s["statement"]["author"], "PACS vendor PSIRT");
    assert_eq!(s["statement"]["status"], "not_affected");
    assert_eq!(
        s["statement"]["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    let reason = s["reason"].as_str().unwrap();
    assert!(
        reason.contains("PACS vendor PSIRT") && reason.contains("2025-05-01"),
        "{reason}"
    );
    assert_eq!(
        after["summary"]["findings"].as_u64().unwrap() + 1,
        before["summary"]["findings"].as_u64().unwrap()
    );
    assert_eq!(
        after["summary"]["suppressed"].as_u64().unwrap(),
        before["summary"]["suppressed"].as_u64().unwrap() + 1
    );
    // An affected statement adds its action to the finding.
    let epmm = finding(&after, "mdm-01", "CVE-2025-4427").unwrap();
    let notes = epmm["explanation"]["notes"].to_string();
    assert!(
        notes.contains("Central team") && notes.contains("apply 12.5.0.1"),
        "{notes}"
    );
    // mdm-dr runs 12.4.0.1, which the statement does not name: no VEX note there.
    let dr = finding(&after, "mdm-dr", "CVE-2025-4427").unwrap();
    assert!(
        !dr["explanation"]["notes"]
            .to_string()
            .contains("Central team")
    );

    // VEX out: OpenVEX, valid against the OpenVEX schema, with what was found as affected and
    // the statement that cleared log4j carried with its author.
    let o = run(
        &db,
        &[
            "scan",
            "--format",
            "openvex",
            "--vex",
            p(&openvex),
            p(&inventory),
        ],
    );
    let out = json(&o);
    let statements = out["statements"].as_array().unwrap();
    assert!(
        statements
            .iter()
            .any(|s| s["vulnerability"]["name"] == "CVE-2025-4427"
                && s["status"] == "affected"
                && s["action_statement"].as_str().unwrap().contains("12.5.0.1"))
    );
    let carried = statements
        .iter()
        .find(|s| s["vulnerability"]["name"] == "CVE-2021-44228")
        .unwrap();
    assert_eq!(carried["status"], "not_affected");
    assert_eq!(carried["supplier"], "PACS vendor PSIRT");
    // The document's id is a digest of its statements (written as they are built, and hashed
    // the same way): the same scan, the same id.
    let digest = |v: &Value| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(serde_json::to_string(v).unwrap()))
    };
    assert_eq!(
        out["@id"],
        format!("urn:ward:vex:{}", &digest(&out["statements"])[..32])
    );
    if let Some(schema) = shared("vex/openvex_json_schema.json") {
        let script = format!(
            "import json, sys\nfrom jsonschema import Draft202012Validator\nschema = json.load(open({:?}))\nDraft202012Validator(schema).validate(json.load(sys.stdin))\n",
            p(&schema)
        );
        if let Some((ok, _, err)) = ward_testdata::python(&["jsonschema"], &script, &o.stdout) {
            assert!(ok, "OpenVEX is invalid: {err}");
        }
    }
    // Read back by `--vex`: the document Ward wrote clears nothing it says is affected.
    let written = write(dir.path(), "ward.openvex.json", &out.to_string());
    let again = json(&run(
        &db,
        &[
            "scan",
            "--format",
            "json",
            "--vex",
            p(&written),
            p(&inventory),
        ],
    ));
    assert_eq!(again["summary"]["findings"], after["summary"]["findings"]);

    // CycloneDX VEX out: valid against the CycloneDX 1.5 schema (the reference library's strict
    // validator), and read back by `--vex` it clears the same findings.
    let o = run(
        &db,
        &[
            "scan",
            "--format",
            "cyclonedx-vex",
            "--vex",
            p(&openvex),
            p(&inventory),
        ],
    );
    let cdx_out = json(&o);
    let script = "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\nerr = JsonStrictValidator(SchemaVersion.V1_5).validate_str(sys.stdin.read())\nif err: sys.exit(str(err))\n";
    if let Some((ok, _, err)) =
        ward_testdata::python(&["cyclonedx.validation.json"], script, &o.stdout)
    {
        assert!(ok, "CycloneDX VEX is invalid: {err}");
    }
    let cleared = cdx_out["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "CVE-2021-44228")
        .unwrap();
    assert_eq!(cleared["analysis"]["state"], "not_affected");
    assert_eq!(cleared["analysis"]["justification"], "code_not_reachable");
    // Its serial number is drawn from a digest of its vulnerability entries, each naming a
    // component listed.
    let d = digest(&cdx_out["vulnerabilities"]);
    assert_eq!(
        cdx_out["serialNumber"],
        format!(
            "urn:uuid:{}-{}-4{}-8{}-{}",
            &d[0..8],
            &d[8..12],
            &d[13..16],
            &d[17..20],
            &d[20..32]
        )
    );
    let listed: Vec<&Value> = cdx_out["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["bom-ref"])
        .collect();
    for v in cdx_out["vulnerabilities"].as_array().unwrap() {
        assert!(listed.contains(&&v["affects"][0]["ref"]), "{v}");
    }
    let written = write(dir.path(), "ward.vex.cdx.json", &cdx_out.to_string());
    let again = json(&run(
        &db,
        &[
            "scan",
            "--format",
            "json",
            "--vex",
            p(&written),
            p(&inventory),
        ],
    ));
    assert_eq!(again["summary"]["findings"], after["summary"]["findings"]);

    // CSAF 2.0 VEX out: valid against the OASIS CSAF 2.0 schema, the cleared finding as
    // `known_not_affected` with its justification flag, and read back by `--vex` (Ward's CSAF
    // reader, its mandatory tests included) it clears the same findings.
    let o = run(
        &db,
        &[
            "scan",
            "--format",
            "csaf-vex",
            "--vex",
            p(&openvex),
            p(&inventory),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let csaf_out = json(&o);
    if let Some((ok, _, err)) = ward_testdata::python(
        &["jsonschema", "referencing", "csaf_lib"],
        include_str!("reference/csaf_schema_check.py"),
        &o.stdout,
    ) {
        assert!(ok, "CSAF VEX is invalid: {err}");
    }
    assert_eq!(csaf_out["document"]["category"], "csaf_vex");
    let log4j = csaf_out["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["cve"] == "CVE-2021-44228")
        .unwrap();
    assert_eq!(
        log4j["flags"][0]["label"], "vulnerable_code_not_in_execute_path",
        "{log4j}"
    );
    assert!(log4j["product_status"]["known_not_affected"].is_array());
    let written = write(dir.path(), "ward.csaf.json", &csaf_out.to_string());
    let again = json(&run(
        &db,
        &[
            "scan",
            "--format",
            "json",
            "--vex",
            p(&written),
            p(&inventory),
        ],
    ));
    assert_eq!(again["summary"]["findings"], after["summary"]["findings"]);
    let s = again["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["vulnerability"] == "CVE-2021-44228")
        .expect("cleared by the CSAF document");
    assert_eq!(s["statement"]["status"], "not_affected");
    assert!(
        s["statement"]["document"]
            .as_str()
            .unwrap()
            .contains("ward.csaf.json"),
        "{s}"
    );

    // A bad statement is an error naming the file, statement and field; nothing is printed.
    let bad = write(
        dir.path(),
        "bad.openvex.json",
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"vulnerability": {"name": "CVE-2021-44228"}, "status": "maybe", "products": [{"@id": "pkg:maven/a/b@1"}]}]}"#,
    );
    let o = run(&db, &["scan", "--vex", p(&bad), p(&inventory)]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("bad.openvex.json") && e.contains("statements[0].status"),
        "{e}"
    );
    assert!(o.stdout.is_empty());
}

/// The Node.js project's own OpenVEX document: 183 statements read, its two quirks coped with
/// (a repeated statement, and a product that writes a range where a purl has a version).
#[test]
fn the_node_project_openvex_document() {
    let Some(node) = shared("vex/nodejs-node.openvex.json") else {
        return;
    };
    let doc =
        ward_feeds::vex::parse_vex("node.openvex.json", &std::fs::read(&node).unwrap()).unwrap();
    assert_eq!(doc.statements.len(), 183);
    assert_eq!(
        doc.statements
            .iter()
            .filter(|s| s.status == ward_model::VexStatus::NotAffected)
            .count(),
        11
    );
    assert!(
        doc.statements
            .iter()
            .all(|s| s.author.as_deref() == Some("Node.js Security WG"))
    );
    assert!(
        doc.warnings.iter().any(|w| w.contains("v>= 10.9.0")),
        "{:?}",
        doc.warnings
    );
    // A node component at a release the document says is fixed: the statement names it.
    let fixed = doc
        .statements
        .iter()
        .find(|s| s.vulnerability == "CVE-2023-30581")
        .unwrap();
    assert!(
        fixed
            .products
            .iter()
            .any(|p| p.purl.as_deref() == Some("pkg:nodejs/node@v20.3.1"))
    );
    // Through the binary, on a scan: no error, warnings on stderr.
    let dir = tempfile::tempdir().unwrap();
    let (db, inventory) = demo(dir.path());
    let o = run(&db, &["scan", "--vex", p(&node), p(&inventory)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("v>= 10.9.0"));
}

/// Statements are found by the vulnerability ids they name, not by reading every statement for
/// every finding: one naming the vulnerability only as an alias, in another case, still
/// speaks to it; thousands about other vulnerabilities for the same product do not; and of
/// statements equally late, the last given still decides.
#[test]
fn statements_are_found_by_the_ids_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let (db, inventory) = demo(dir.path());
    let log4j = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1";
    let scan = |statements: Vec<Value>| {
        let doc = write(
            dir.path(),
            "many.openvex.json",
            &json!({
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.org/vex/many",
                "author": "PACS vendor PSIRT",
                "timestamp": "2025-05-01T10:00:00Z",
                "version": 1,
                "statements": statements,
            })
            .to_string(),
        );
        let o = run(
            &db,
            &["scan", "--format", "json", "--vex", p(&doc), p(&inventory)],
        );
        assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
        json(&o)
    };
    let others: Vec<Value> = (0..3000)
        .map(|i| {
            json!({"vulnerability": {"name": format!("CVE-2099-{i:05}")},
                   "products": [{"@id": log4j}], "status": "not_affected",
                   "justification": "component_not_present"})
        })
        .collect();
    let by_alias = json!({"vulnerability": {"name": "GHSA-jfh8-c2jp-5v3q",
                                            "aliases": ["cve-2021-44228"]},
                          "products": [{"@id": log4j}], "status": "not_affected",
                          "justification": "vulnerable_code_not_in_execute_path"});
    let mut statements = others.clone();
    statements.push(by_alias);
    let report = scan(statements);
    assert!(finding(&report, "pacs-web", "CVE-2021-44228").is_none());
    // Cleared by a statement: that one only (the others listed are a source's word).
    let by_statement: Vec<&Value> = report["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["statement"].is_null())
        .collect();
    assert_eq!(by_statement.len(), 1, "{by_statement:?}");
    assert_eq!(
        by_statement[0]["statement"]["vulnerability"],
        "GHSA-jfh8-c2jp-5v3q"
    );

    // Two statements at one time: the one given last decides, whichever it is.
    let at = "2025-05-02T00:00:00Z";
    let affected = json!({"vulnerability": {"name": "CVE-2021-44228"},
                          "products": [{"@id": log4j}], "status": "affected",
                          "action_statement": "upgrade to 2.17.1", "timestamp": at});
    let cleared = json!({"vulnerability": {"name": "CVE-2021-44228"},
                         "products": [{"@id": log4j}], "status": "not_affected",
                         "justification": "vulnerable_code_not_present", "timestamp": at});
    let mut statements = others.clone();
    statements.extend([cleared.clone(), affected.clone()]);
    let report = scan(statements);
    let kept =
        finding(&report, "pacs-web", "CVE-2021-44228").expect("the affected statement decides");
    assert!(kept.to_string().contains("upgrade to 2.17.1"), "{kept}");
    let mut statements = others;
    statements.extend([affected, cleared]);
    let report = scan(statements);
    assert!(finding(&report, "pacs-web", "CVE-2021-44228").is_none());
}
