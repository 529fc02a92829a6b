//! TAXII 2.1 (#20, first part): the central team fills collections over Ward's API; members
//! pull them with OASIS's own client (Python `taxii2-client`), page by page, by manifest and
//! `added_after`; a member reads only the collections open to it; the media type is kept.

mod common;

use common::{Server, admin, client, post_json, run, stderr, token};
use serde_json::{Value, json};
use ward_testdata::TestDb;

const CLIENT: &str = include_str!("reference/taxii_client.py");

fn indicator(id: &str, name: &str, pattern_type: &str, pattern: &str, modified: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2025-05-15T00:00:00.000Z", "modified": modified,
        "name": name, "pattern_type": pattern_type, "pattern": pattern,
        "valid_from": "2025-05-15T00:00:00Z", "indicator_types": ["malicious-activity"]
    })
}

/// The EPMM exploit's Sigma rule (SigmaHQ's, from the shared data when present), carried as a
/// STIX indicator with `pattern_type: "sigma"`.
fn sigma_rule() -> String {
    ward_testdata::shared("sigma/rules-emerging-threats/2025/Exploits/CVE-2025-4427")
        .and_then(|dir| {
            let mut files: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).collect();
            files.sort();
            std::fs::read_to_string(files.first()?).ok()
        })
        .unwrap_or_else(|| {
            "title: Ivanti EPMM expression language injection\nlogsource:\n  category: webserver\ndetection:\n  selection:\n    cs-uri-query|contains: 'format=${'\n  condition: selection\nlevel: high\n".into()
        })
}

async fn members_pull_collections_with_a_third_party_taxii_client(db: TestDb) {
    let location = db.location().to_owned();
    let central = admin(
        &location,
        &["init", "--slug", "nhs-england", "--name", "NHS England"],
    );
    admin(
        &location,
        &["org", "create", "rxa", "Royal Example Hospital"],
    );
    admin(&location, &["org", "create", "rxb", "Borough General"]);
    let analyst = token(&location, "nhs-england", "central-analyst");
    let rxa = token(&location, "rxa", "member-analyst");
    let rxb = token(&location, "rxb", "member-analyst");
    let server = Server::start(&location);
    let url = server.url.clone();

    // Two collections: one for every member, one for rxa only.
    let (status, body) = post_json(
        &format!("{url}/api/v1/taxii/collections"),
        &analyst,
        &json!({"title": "EPMM exploitation", "description": "CVE-2025-4427/4428 indicators and rules"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let everyone = body["collection"]["id"].as_str().unwrap().to_owned();
    let (status, body) = post_json(
        &format!("{url}/api/v1/taxii/collections"),
        &analyst,
        &json!({"title": "rxa incident", "readers": ["rxa"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let rxa_only = body["collection"]["id"].as_str().unwrap().to_owned();
    let (status, _) = post_json(
        &format!("{url}/api/v1/taxii/collections"),
        &rxa,
        &json!({"title": "mine"}),
    )
    .await;
    assert_eq!(status, 403, "members do not publish collections");

    let ip = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    let rule = "indicator--2f9b7a5e-6a3f-4c0e-9b1d-3c4d5e6f7a8b";
    let note = "note--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061";
    let bundle = json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
        indicator(ip, "EPMM exploitation source", "stix", "[ipv4-addr:value = '203.0.113.66']", "2025-05-15T00:00:00.000Z"),
        indicator(rule, "Ivanti EPMM CVE-2025-4427 exploitation", "sigma", &sigma_rule(), "2025-05-15T00:00:00.000Z"),
        {"type": "note", "spec_version": "2.1", "id": note, "created": "2025-05-15T00:00:00.000Z",
         "modified": "2025-05-15T00:00:00.000Z", "content": "Seen against NHS trusts", "object_refs": [ip]}
    ]});
    let (status, body) = post_json(
        &format!("{url}/api/v1/taxii/collections/{everyone}/objects"),
        &analyst,
        &bundle,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["added"], 3);
    // The same bundle again: nothing new.
    let (_, body) = post_json(
        &format!("{url}/api/v1/taxii/collections/{everyone}/objects"),
        &analyst,
        &bundle,
    )
    .await;
    assert_eq!(
        (body["added"].clone(), body["unchanged"].clone()),
        (json!(0), json!(3))
    );
    let marker = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // A new version of the IP indicator: added after the marker.
    let newer = json!({"type": "bundle", "id": "bundle--6d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
        indicator(ip, "EPMM exploitation source (revised)", "stix", "[ipv4-addr:value = '203.0.113.66']", "2025-05-20T00:00:00.000Z"),
    ]});
    let (status, body) = post_json(
        &format!("{url}/api/v1/taxii/collections/{everyone}/objects"),
        &analyst,
        &newer,
    )
    .await;
    assert_eq!((status, body["added"].clone()), (201, json!(1)), "{body}");
    let (status, _) = post_json(
        &format!("{url}/api/v1/taxii/collections/{rxa_only}/objects"),
        &analyst,
        &json!({"type": "bundle", "id": "bundle--7d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
            indicator("indicator--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "rxa's attacker", "stix", "[ipv4-addr:value = '198.51.100.7']", "2025-05-16T00:00:00.000Z")
        ]}),
    )
    .await;
    assert_eq!(status, 201);

    // The third-party client, as rxa: both collections, every object page by page.
    let input = json!({"discovery": format!("{url}/taxii2/"), "token": rxa, "added_after": marker});
    let Some((ok, out, err)) =
        ward_testdata::python(&["taxii2client"], CLIENT, input.to_string().as_bytes())
    else {
        return;
    };
    assert!(ok, "taxii2-client failed: {err}");
    let seen: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        seen["versions"],
        json!(["application/taxii+json;version=2.1"])
    );
    let collections = seen["collections"].as_array().unwrap();
    assert_eq!(collections.len(), 2, "{seen}");
    let shared = collections
        .iter()
        .find(|c| c["id"] == everyone.as_str())
        .unwrap();
    // Four objects (the IP indicator in two versions), one per page.
    assert_eq!(shared["objects"], json!([ip, rule, note, ip]), "{shared}");
    assert_eq!(shared["pages"], 4, "{shared}");
    assert_eq!(shared["manifest"].as_array().unwrap().len(), 4);
    assert_eq!(
        shared["added_after"],
        json!([ip]),
        "only the revision: {shared}"
    );
    assert_eq!(shared["indicators"], json!([ip, rule, ip]), "{shared}");

    // rxb: only the collection for every member.
    let input = json!({"discovery": format!("{url}/taxii2/"), "token": rxb});
    let (ok, out, err) =
        ward_testdata::python(&["taxii2client"], CLIENT, input.to_string().as_bytes()).unwrap();
    assert!(ok, "{err}");
    let seen: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = seen["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [everyone.as_str()]);
    let r = client()
        .get(format!("{url}/taxii2/api/collections/{rxa_only}/objects/"))
        .bearer_auth(&rxb)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        404,
        "another member's collection is not there"
    );

    // The media type: TAXII's, and 406 for a client that accepts only something else.
    let r = client()
        .get(format!("{url}/taxii2/api/collections/"))
        .bearer_auth(&rxa)
        .header("accept", "application/taxii+json;version=2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/taxii+json;version=2.1"
    );
    let r = client()
        .get(format!("{url}/taxii2/api/collections/"))
        .bearer_auth(&rxa)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 406);
    let r = client()
        .get(format!(
            "{url}/taxii2/api/collections/{everyone}/objects/?limit=2"
        ))
        .bearer_auth(&rxa)
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("x-taxii-date-added-first"));
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["more"], true);
    assert!(page["next"].is_string());
    let r = client()
        .get(format!("{url}/taxii2/api/collections/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // Ward's own client: `ward hunt --taxii` pulls the collection (the IP indicator and the
    // Sigma rule) and hunts with it; the pull is kept, and the next one asks only for what was
    // added since.
    let dir = tempfile::tempdir().unwrap();
    let log = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hunt/epmm-exploit.log");
    let state = dir.path().join("taxii");
    let hunt = |extra: &[&str]| {
        let mut args = vec![
            "hunt",
            "--taxii",
            &format!("{url}/taxii2/api/"),
            "--collection",
            &everyone,
            "--token",
            &rxa,
            "--taxii-state",
            common::p(&state),
            "--format",
            "json",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.push(common::p(&log).to_owned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&location, &refs)
    };
    let o = hunt(&[]);
    assert_eq!(o.status.code(), Some(1), "sightings: {}", stderr(&o));
    assert!(
        stderr(&o).contains("pulled 4 new objects"),
        "{}",
        stderr(&o)
    );
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let sighted = report.to_string();
    assert!(
        sighted.contains("203.0.113.66"),
        "the IP indicator: {report}"
    );
    assert!(
        sighted.contains("EPMM") || sighted.contains("Ivanti"),
        "the Sigma rule: {report}"
    );
    let kept: Value =
        serde_json::from_slice(&std::fs::read(state.join(format!("{everyone}.json"))).unwrap())
            .unwrap();
    assert!(kept["cursor"].is_string());
    assert_eq!(
        kept["objects"].as_object().unwrap().len(),
        3,
        "one per id, the newest"
    );
    // Nothing new: nothing pulled, the kept objects still hunt.
    let o = hunt(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("pulled 0 new objects"),
        "{}",
        stderr(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("203.0.113.66"));
    // A new indicator is published: the next hunt pulls just it and sights it.
    let (status, _) = post_json(
        &format!("{url}/api/v1/taxii/collections/{everyone}/objects"),
        &analyst,
        &json!({"type": "bundle", "id": "bundle--8d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
            indicator("indicator--ae2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "EPMM reconnaissance", "stix", "[ipv4-addr:value = '198.51.100.7']", "2025-05-21T00:00:00.000Z")
        ]}),
    )
    .await;
    assert_eq!(status, 201);
    let o = hunt(&[]);
    assert!(
        stderr(&o).contains("pulled 1 new objects"),
        "{}",
        stderr(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("198.51.100.7"));
    // A member may not pull another's collection.
    let o = run(
        &location,
        &[
            "hunt",
            "--taxii",
            &format!("{url}/taxii2/api/"),
            "--collection",
            &rxa_only,
            "--token",
            &rxb,
            "--taxii-state",
            common::p(&state),
            common::p(&log),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("404"), "{}", stderr(&o));
    drop(central);
}

ward_testdata::backend_tests!(members_pull_collections_with_a_third_party_taxii_client);

/// Ward's client against another TAXII 2.1 server (replayed on loopback, answering with
/// envelopes in the specification's shape: `more` and `next`, `X-TAXII-Date-Added-First` and
/// `-Last`, an empty envelope `{}` when nothing was added): it pages with `next`, asks with its
/// media type, resumes with `added_after` set to the last `X-TAXII-Date-Added-Last`, and a
/// server answering plain JSON is refused.
#[test]
fn wards_client_against_another_taxii_server() {
    use ward_testdata::replay::{Replay, Reply};
    const MEDIA: &str = "application/taxii+json;version=2.1";
    let replay = Replay::start();
    let path = "/api2/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/";
    let page = |body: Value, first: &str, last: &str| {
        let mut r = Reply::ok(MEDIA, body.to_string());
        r.headers = vec![
            ("X-TAXII-Date-Added-First".into(), first.into()),
            ("X-TAXII-Date-Added-Last".into(), last.into()),
        ];
        r
    };
    let ip = indicator(
        "indicator--252c7c11-daf2-42bd-843b-be65edca9f61",
        "Attacker address",
        "stix",
        "[ipv4-addr:value = '203.0.113.66']",
        "2016-04-06T20:03:48.000Z",
    );
    let rule = indicator(
        "indicator--9b5e2ff3-1b9f-4a0e-8a3a-0d2e5b8c1f00",
        "EPMM exploitation",
        "sigma",
        &sigma_rule(),
        "2016-04-06T20:03:48.000Z",
    );
    replay.route(path, move |req| {
        match (req.param("next"), req.param("added_after")) {
            (None, None) => page(
                json!({"more": true, "next": "2", "objects": [ip.clone()]}),
                "2016-11-01T03:04:05.000000Z",
                "2016-11-01T03:04:05.000000Z",
            ),
            (Some("2"), None) => page(
                json!({"more": false, "objects": [rule.clone()]}),
                "2016-11-01T03:04:06.000000Z",
                "2016-11-01T03:04:06.000000Z",
            ),
            (None, Some(_)) => Reply::ok(MEDIA, "{}"),
            _ => Reply::status(400),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let log = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hunt/epmm-exploit.log");
    let hunt = || {
        common::ward(dir.path().join("db.sqlite"))
            .args([
                "hunt",
                "--taxii",
                &format!("{}/api2/", replay.url),
                "--collection",
                "91a7b528-80eb-42ed-a74d-c6fbd5a26116",
                "--token",
                "t",
                "--taxii-state",
                common::p(&dir.path().join("taxii")),
                "--format",
                "json",
                common::p(&log),
            ])
            .output()
            .unwrap()
    };
    let o = hunt();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("pulled 2 new objects"),
        "{}",
        stderr(&o)
    );
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: std::collections::BTreeSet<&str> = report["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["indicator", "sigma"].into(),
        "both pulled objects hunted"
    );
    let asked = replay.requests_to(path);
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0].headers["accept"], MEDIA);
    assert_eq!(asked[0].headers["authorization"], "Bearer t");
    assert_eq!(asked[1].param("next"), Some("2"));
    // The next run asks only for what was added after the last page.
    let o = hunt();
    assert!(
        stderr(&o).contains("pulled 0 new objects"),
        "{}",
        stderr(&o)
    );
    let asked = replay.requests_to(path);
    assert_eq!(
        asked[2].param("added_after"),
        Some("2016-11-01T03:04:06.000000Z")
    );
    assert_eq!(o.status.code(), Some(1), "the kept objects still hunt");
    // A server that answers plain JSON is not a TAXII server.
    replay.set(path, Reply::ok("application/json", "{}"));
    let o = hunt();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not application/taxii+json"),
        "{}",
        stderr(&o)
    );
}
