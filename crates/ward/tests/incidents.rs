//! The compromise loop end to end (#20): the central team publishes the EPMM Sigma rule and an
//! attacker's address over TAXII; a member follows its logs (one growing, one rotated and
//! compressed) with `ward hunt --taxii … --follow --report`; each thing sighted becomes one
//! incident with its sighting detail, deadlines from the policy and escalation; an indicator
//! published while the member follows is hunted for in what was already read (retro-hunt);
//! the member works one incident to closure and calls one a false positive; the campaign view
//! follows; the sightings go upward as STIX 2.1 (read back with OASIS's `stix2` library).

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::{Server, admin, client, demo_federation, p, post_json, run, stderr, token, write};
use serde_json::{Value, json};
use ward_testdata::TestDb;

async fn get(url: &str, token: &str) -> Value {
    let r = client().get(url).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    r.json().await.unwrap()
}

/// A combined-format access log line.
fn line(ip: &str, second: u32, target: &str) -> String {
    format!(
        "{ip} - - [15/May/2025:21:{:02}:{:02} +0000] \"GET {target} HTTP/1.1\" 200 512 \"-\" \"curl/8\"\n",
        second / 60 % 60,
        second % 60
    )
}

const EXPLOIT: &str = "/mifs/rs/api/v2/featureusage?format=%7B7*7%7D";

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// SigmaHQ's EPMM rule from the shared data when present; otherwise a rule of the same shape
/// written from its public text.
fn epmm_rule() -> String {
    ward_testdata::shared(
        "sigma/rules-emerging-threats/2025/Exploits/CVE-2025-4427/web_invanti_epmm_cve_2025_4427_and_cve_2025_4428.yml",
    )
    .and_then(|f| std::fs::read_to_string(f).ok())
    .unwrap_or_else(|| {
        "title: Potential Exploitation of CVE-2025-4427/4428 Ivanti EPMM Pre-Auth RCE\nid: 41956f7c-7a6b-46d6-b6bb-da6eb2e83fbe\ntags:\n    - attack.initial-access\n    - cve.2025-4427\n    - cve.2025-4428\nlogsource:\n    category: webserver\ndetection:\n    selection_uri:\n        cs-uri-stem|contains: '/mifs/rs/api/v2/featureusage'\n        cs-uri-query|contains: 'format='\n    selection_exploit:\n        cs-uri-query|contains: '%7B7*7%7D'\n    condition: selection_uri and selection_exploit\nlevel: high\n".into()
    })
}

fn indicator(id: &str, name: &str, pattern_type: &str, pattern: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2025-05-20T00:00:00.000Z", "modified": "2025-05-20T00:00:00.000Z",
        "name": name, "pattern_type": pattern_type, "pattern": pattern,
        "valid_from": "2025-05-01T00:00:00Z", "indicator_types": ["malicious-activity"]
    })
}

const RULE_ID: &str = "indicator--8d3c2b6a-2f0e-4a55-9d77-0a4c1e5b7f01";
const ATTACKER_ID: &str = "indicator--8d3c2b6a-2f0e-4a55-9d77-0a4c1e5b7f02";
const LATE_ID: &str = "indicator--8d3c2b6a-2f0e-4a55-9d77-0a4c1e5b7f03";

fn incidents(alerts: &Value) -> Vec<Value> {
    alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "possible-compromise")
        .cloned()
        .collect()
}

fn by_subject<'a>(list: &'a [Value], subject: &str) -> &'a Value {
    list.iter()
        .find(|a| a["subject"] == subject)
        .unwrap_or_else(|| panic!("no incident about {subject}: {list:#?}"))
}

async fn the_compromise_loop(db: TestDb) {
    let location = db.location().to_owned();
    demo_federation(
        &location,
        &[
            ("rxa", "Royal Example Hospital"),
            ("rxb", "Borough General"),
        ],
    );
    let analyst = token(&location, "nhs-england", "central-analyst");
    let rxa = token(&location, "rxa", "member-admin");
    let rxb = token(&location, "rxb", "member-admin");
    // Incident windows short enough to be missed during the test.
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.toml",
        &(std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../priority/policies/nhs-hsa.toml"),
        )
        .unwrap()
        .split("[incidents]")
        .next()
        .unwrap()
        .to_owned()
            + "[incidents]\ntriage = \"1h\"\ncontain = \"2h\"\nexploited_triage = \"3s\"\nexploited_contain = \"1h\"\n"),
    );
    let server = Server::start_with(&location, &["--policy", p(&policy), "--tick", "1"]);
    let url = server.url.clone();

    // rxa runs EPMM 12.5.0.0 on epmm-01: CVE-2025-4427 and -4428 are open there.
    let (status, body) = post_json(
        &format!("{url}/api/v1/assets"),
        &rxa,
        &json!({"name": "epmm-01", "exposure": "open"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let asset = body["asset"]["id"].as_i64().unwrap();
    let r = client()
        .post(format!(
            "{url}/api/v1/assets/{asset}/inventory?filename=epmm.csv"
        ))
        .bearer_auth(&rxa)
        .body("asset,vendor,product,version,cpe,purl,exposure,criticality\nepmm-01,,,,cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*,,,\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);

    // The central team publishes the EPMM Sigma rule and the attacker's address.
    let (status, body) = post_json(
        &format!("{url}/api/v1/taxii/collections"),
        &analyst,
        &json!({"title": "EPMM campaign"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let collection = body["collection"]["id"].as_str().unwrap().to_owned();
    let mut rule = indicator(
        RULE_ID,
        "Ivanti EPMM CVE-2025-4427/4428 exploitation",
        "sigma",
        &epmm_rule(),
    );
    rule["external_references"] = json!([
        {"source_name": "cve", "external_id": "CVE-2025-4427"},
        {"source_name": "cve", "external_id": "CVE-2025-4428"}
    ]);
    let attacker = indicator(
        ATTACKER_ID,
        "EPMM exploitation source",
        "stix",
        "[ipv4-addr:value = '203.0.113.66']",
    );
    let objects = format!("{url}/api/v1/taxii/collections/{collection}/objects");
    let (status, body) = post_json(
        &objects,
        &analyst,
        &json!({"type": "bundle", "id": "bundle--5d0f5c1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "objects": [rule, attacker]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // rxa's logs: yesterday's, rotated and compressed, holds the exploit from the attacker's
    // address and a request from an address published only later; today's grows.
    let logs = tempfile::tempdir().unwrap();
    let live = logs.path().join("access.log");
    {
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(logs.path().join("access.log.1.gz")).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(line("192.0.2.10", 1, "/index.html").as_bytes())
            .unwrap();
        gz.write_all(line("203.0.113.66", 2, EXPLOIT).as_bytes())
            .unwrap();
        gz.write_all(line("198.51.100.99", 3, "/mifs/login.jsp").as_bytes())
            .unwrap();
        gz.finish().unwrap();
    }
    append(&live, &line("192.0.2.10", 10, "/index.html"));
    let state = tempfile::tempdir().unwrap();
    let child = StdCommand::new(env!("CARGO_BIN_EXE_ward"))
        .args([
            "hunt",
            "--taxii",
            &format!("{url}/taxii2/api/"),
            "--collection",
            &collection,
            "--token",
            &rxa,
            "--taxii-state",
            p(&state.path().join("taxii")),
            "--follow",
            "--follow-state",
            p(&state.path().join("follow.json")),
            "--interval",
            "0.2",
            "--pull-every",
            "1s",
            "--follow-for",
            "7s",
            "--report",
            &url,
            "--asset",
            "epmm-01",
            "--share-excerpts",
            "--format",
            "json",
            p(&live),
        ])
        .env("WARD_DB", &location)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The log grows: the exploit again from another address, and the attacker browsing.
    append(&live, &line("198.51.100.23", 20, EXPLOIT));
    append(&live, &line("203.0.113.66", 21, "/mifs/user/login.jsp"));
    // The central team publishes another address while rxa follows: found in what was read.
    let late = indicator(
        LATE_ID,
        "EPMM scanner",
        "stix",
        "[ipv4-addr:value = '198.51.100.99']",
    );
    let (status, body) = post_json(
        &objects,
        &analyst,
        &json!({"type": "bundle", "id": "bundle--5d0f5c1e-1a2b-4c3d-8e9f-0a1b2c3d4e60", "objects": [late]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "sightings found: {err}");
    assert!(
        err.contains("retro-hunt with 0 new rules and 1 new indicators: 1 sightings"),
        "{err}"
    );
    assert!(!err.contains("error:"), "{err}");

    // One incident per thing sighted, with its detail.
    let all = incidents(&get(&format!("{url}/api/v1/alerts"), &rxa).await);
    assert_eq!(all.len(), 3, "{all:#?}");
    let exploit = by_subject(&all, RULE_ID);
    assert_eq!(
        exploit["title"],
        "Possible compromise: Ivanti EPMM CVE-2025-4427/4428 exploitation"
    );
    assert_eq!(exploit["evidence"], 2);
    assert_eq!(
        exploit["level"], "critical",
        "an exploit attempt where the CVE is open"
    );
    assert_eq!(
        exploit["vulnerabilities"],
        json!(["CVE-2025-4427", "CVE-2025-4428"])
    );
    let link = exploit["link"].as_str().unwrap();
    assert!(
        link.contains(
            "CVE-2025-4427 is still open on epmm-01 (the asset whose logs it was sighted in)"
        ),
        "{link}"
    );
    assert!(
        exploit["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("cve.2025-4427")),
        "{exploit}"
    );
    // Exploited (KEV-listed, and open here): triage within the exploited window (3 s).
    let raised =
        chrono::DateTime::parse_from_rfc3339(exploit["created_at"].as_str().unwrap()).unwrap();
    let triage_by =
        chrono::DateTime::parse_from_rfc3339(exploit["acknowledge_by"].as_str().unwrap()).unwrap();
    assert!(
        triage_by - raised <= chrono::Duration::seconds(4),
        "{exploit}"
    );
    let address = by_subject(&all, ATTACKER_ID);
    assert_eq!(
        address["title"],
        "Possible compromise: EPMM exploitation source"
    );
    assert_eq!(address["evidence"], 2);
    assert_eq!(address["level"], "high");
    assert!(address["link"].is_null());
    let contain_by =
        chrono::DateTime::parse_from_rfc3339(address["remediate_by"].as_str().unwrap()).unwrap();
    let raised =
        chrono::DateTime::parse_from_rfc3339(address["created_at"].as_str().unwrap()).unwrap();
    assert!(
        contain_by - raised > chrono::Duration::minutes(100),
        "not exploited: 2 h"
    );
    let scanner = by_subject(&all, LATE_ID);
    assert_eq!(scanner["evidence"], 1, "the retro-hunt's sighting");

    let id = exploit["id"].as_i64().unwrap();
    let detail = get(&format!("{url}/api/v1/incidents/{id}"), &rxa).await;
    let summary = &detail["summary"];
    assert_eq!(summary["count"], 2, "{detail:#}");
    assert_eq!(summary["first_seen"], "2025-05-15T21:00:02.000Z");
    assert_eq!(summary["last_seen"], "2025-05-15T21:00:20.000Z");
    assert_eq!(
        summary["sources"],
        json!([{"source": "198.51.100.23", "count": 1}, {"source": "203.0.113.66", "count": 1}])
    );
    assert_eq!(summary["assets"], json!(["epmm-01"]));
    let first = &detail["sightings"][0];
    assert!(
        first["file"].as_str().unwrap().ends_with("access.log.1.gz"),
        "{first}"
    );
    assert_eq!(first["line"], 2);
    assert!(
        first["excerpt"].as_str().unwrap().contains(EXPLOIT),
        "{first}"
    );
    assert_eq!(first["line_sha256"].as_str().unwrap().len(), 64);
    // Another member does not see it.
    let r = client()
        .get(format!("{url}/api/v1/incidents/{id}"))
        .bearer_auth(&rxb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    // Nobody triaged the exploit within 3 s: escalated (the address, 1 h, is not).
    let started = Instant::now();
    let escalated = loop {
        let all = incidents(&get(&format!("{url}/api/v1/alerts"), &rxa).await);
        let e = by_subject(&all, RULE_ID).clone();
        if !e["escalated_at"].is_null() || started.elapsed() > Duration::from_secs(15) {
            assert!(by_subject(&all, ATTACKER_ID)["escalated_at"].is_null());
            break e;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(!escalated["escalated_at"].is_null(), "{escalated}");
    let audit = get(
        &format!("{url}/api/v1/audit"),
        &token(&location, "nhs-england", "central-admin"),
    )
    .await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "alert.escalate" && e["target"] == format!("alert:{id}")),
        "the escalation is audited"
    );

    // rxb sights the exploit too (a plain hunt over its own log).
    let rxb_log = write(
        logs.path(),
        "rxb-access.log",
        &line("198.51.100.23", 40, EXPLOIT),
    );
    let o = StdCommand::new(env!("CARGO_BIN_EXE_ward"))
        .args([
            "hunt",
            "--taxii",
            &format!("{url}/taxii2/api/"),
            "--collection",
            &collection,
            "--token",
            &rxb,
            "--taxii-state",
            p(&state.path().join("rxb")),
            "--report",
            &url,
            p(&rxb_log),
        ])
        .env("WARD_DB", &location)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // rxa works the exploit to closure and calls the address a false positive.
    let act = |id: i64, action: &'static str, why: Option<&'static str>| {
        let url = url.clone();
        let rxa = rxa.clone();
        async move {
            post_json(
                &format!("{url}/api/v1/alerts/{id}/{action}"),
                &rxa,
                &json!({"justification": why}),
            )
            .await
        }
    };
    let (status, body) = act(id, "contain", None).await;
    assert_eq!(status, 409, "not confirmed yet: {body}");
    let (status, body) = act(id, "not-affected", Some("component_not_present")).await;
    assert_eq!(
        status, 422,
        "a VEX answer does not fit a compromise: {body}"
    );
    for action in ["triage", "confirm", "contain"] {
        let (status, body) = act(id, action, None).await;
        assert_eq!(status, 200, "{action}: {body}");
    }
    let (status, body) = act(
        id,
        "close",
        Some("web shell removed, host rebuilt, credentials rotated"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alert"]["state"], "closed");
    assert_eq!(body["alert"]["resolution"], "closed");
    assert!(!body["alert"]["confirmed_at"].is_null());
    let addr = address["id"].as_i64().unwrap();
    let (status, _) = act(addr, "false-positive", None).await;
    assert_eq!(status, 422, "a false positive says why");
    let (status, body) = act(
        addr,
        "false-positive",
        Some("our own vulnerability scanner"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alert"]["state"], "false-positive");
    assert_eq!(
        body["alert"]["justification"],
        "our own vulnerability scanner"
    );

    // The campaign view: who sighted what, when, and how far each incident got.
    let campaigns = get(&format!("{url}/api/v1/campaigns"), &analyst).await;
    let list = campaigns["campaigns"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{campaigns:#}");
    let c = list.iter().find(|c| c["subject"] == RULE_ID).unwrap();
    let members: Vec<(&str, &str)> = c["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["organisation"].as_str().unwrap(),
                m["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(members, [("rxa", "closed"), ("rxb", "open")]);
    assert_eq!(c["open_incidents"], 1);
    assert_eq!(c["confirmed"], 1);
    assert_eq!(c["first_seen"], "2025-05-15T21:00:02.000Z");
    assert_eq!(c["last_seen"], "2025-05-15T21:00:40.000Z");
    let c = list.iter().find(|c| c["subject"] == ATTACKER_ID).unwrap();
    assert_eq!(c["members"][0]["state"], "false-positive");
    assert_eq!(c["open_incidents"], 0);
    // A member sees only its own part.
    let own = get(&format!("{url}/api/v1/campaigns"), &rxb).await;
    let own = own["campaigns"].as_array().unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["members"].as_array().unwrap().len(), 1);
    assert_eq!(own[0]["members"][0]["organisation"], "rxb");

    // Upward: the sightings as STIX 2.1 in a collection a national CERT reads; false positives
    // left out, members by pseudonym.
    let (status, body) = post_json(
        &format!("{url}/api/v1/taxii/collections"),
        &analyst,
        &json!({"title": "To the national CERT", "readers": []}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let upward = body["collection"]["id"].as_str().unwrap().to_owned();
    let (status, body) = post_json(
        &format!("{url}/api/v1/campaigns/publish"),
        &analyst,
        &json!({"collection": upward, "anonymise": true}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["sightings"], 3,
        "rxa and rxb's exploit, rxa's scanner: {body}"
    );
    assert_eq!(body["identities"], 2);
    let (status, again) = post_json(
        &format!("{url}/api/v1/campaigns/publish"),
        &analyst,
        &json!({"collection": upward, "anonymise": true}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        again["already_present"],
        body["sightings"].as_u64().unwrap() + 2 + 2,
        "{again}"
    );
    let page: Value = client()
        .get(format!("{url}/taxii2/api/collections/{upward}/objects/"))
        .bearer_auth(&analyst)
        .header("accept", "application/taxii+json;version=2.1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = page.to_string();
    assert!(
        !text.contains("Royal Example") && !text.contains("Borough"),
        "pseudonyms only"
    );
    let bundle = json!({"type": "bundle", "id": "bundle--6d0f5c1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "objects": page["objects"]});
    let check = r#"
import json, sys, stix2
bundle = stix2.parse(sys.stdin.read(), allow_custom=True)
print(json.dumps(sorted((o.type, getattr(o, "count", 0)) for o in bundle.objects)))
"#;
    match ward_testdata::python(&["stix2"], check, bundle.to_string().as_bytes()) {
        Some((ok, out, err)) => {
            assert!(ok, "stix2 refused the bundle: {err}");
            let parsed: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(
                parsed,
                json!([
                    ["identity", 0],
                    ["identity", 0],
                    ["indicator", 0],
                    ["indicator", 0],
                    ["sighting", 1],
                    ["sighting", 1],
                    ["sighting", 2]
                ]),
                "{out}"
            );
        }
        None => eprintln!("skipped the stix2 check: python3 with stix2 is not installed"),
    }
}

/// A threat-intelligence provider's STIX 2.1 bundle at a URL, polled like a feed
/// (`kind = "stix"`): its objects fill a TAXII collection, fetched again only when it changed;
/// a revised indicator is a new version; something that is not a bundle is refused and adds
/// nothing.
async fn stix_bundles_from_a_url_fill_a_collection(db: TestDb) {
    use ward_testdata::replay::{Replay, Reply};
    let location = db.location().to_owned();
    admin(
        &location,
        &["init", "--slug", "nhs-england", "--name", "NHS England"],
    );
    let analyst = token(&location, "nhs-england", "central-analyst");
    let server = Server::start(&location);
    let url = server.url.clone();
    let (status, body) = post_json(
        &format!("{url}/api/v1/taxii/collections"),
        &analyst,
        &json!({"title": "Provider feed"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let collection = body["collection"]["id"].as_str().unwrap().to_owned();
    let replay = Replay::start();
    let path = "/intel/epmm.json";
    let bundle = |modified: &str| {
        let mut attacker = indicator(
            ATTACKER_ID,
            "EPMM exploitation source",
            "stix",
            "[ipv4-addr:value = '203.0.113.66']",
        );
        attacker["modified"] = json!(modified);
        serde_json::to_vec(
            &json!({"type": "bundle", "id": "bundle--5d0f5c1e-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
            "objects": [attacker, indicator(RULE_ID, "EPMM rule", "sigma", &epmm_rule())]}),
        )
        .unwrap()
    };
    replay.set(
        path,
        Reply::ok("application/json", bundle("2025-05-20T00:00:00.000Z")).with_etag("\"v1\""),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        dir.path(),
        "feeds.toml",
        &format!(
            "[[source]]\nname = \"provider\"\nkind = \"stix\"\nurl = \"{}{path}\"\ncollection = \"{collection}\"\n",
            replay.url
        ),
    );
    let sync = || {
        let o = run(
            &location,
            &["feeds", "sync", "--config", p(&config), "--format", "json"],
        );
        let reports: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        (o.status.code(), reports[0].clone(), stderr(&o))
    };
    let objects = || async {
        let page: Value = client()
            .get(format!(
                "{url}/taxii2/api/collections/{collection}/objects/"
            ))
            .bearer_auth(&analyst)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["objects"].as_array().cloned().unwrap_or_default()
    };
    let (code, r, err) = sync();
    assert_eq!(code, Some(0), "{r} {err}");
    assert_eq!(
        (r["records"].as_u64(), r["new"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    assert_eq!(objects().await.len(), 2);
    // Unchanged (the same ETag): nothing fetched, nothing added.
    let (code, r, _) = sync();
    assert_eq!(code, Some(0));
    assert_eq!(r["new"], 0, "{r}");
    assert_eq!(objects().await.len(), 2);
    // The provider revises the address indicator: one new version.
    replay.set(
        path,
        Reply::ok("application/json", bundle("2025-05-21T00:00:00.000Z")).with_etag("\"v2\""),
    );
    let (code, r, _) = sync();
    assert_eq!(code, Some(0));
    assert_eq!(
        (r["records"].as_u64(), r["new"].as_u64()),
        (Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(
        objects().await.len(),
        3,
        "both versions are kept, as TAXII serves them"
    );
    // An error page instead of the bundle: refused, said, nothing added.
    replay.set(
        path,
        Reply::ok("text/html", b"<html>maintenance</html>".to_vec()).with_etag("\"v3\""),
    );
    let (code, r, _) = sync();
    assert_eq!(code, Some(1), "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("not a STIX 2.1 bundle"),
        "{r}"
    );
    assert_eq!(objects().await.len(), 3);
}

ward_testdata::backend_tests!(
    the_compromise_loop,
    stix_bundles_from_a_url_fill_a_collection
);
