//! Outside-in exposure end to end (#23): members' footprints (set, proposed, approved, refused
//! when another member holds them), scan reports (a Shadowserver-style CSV and nmap XML)
//! attributed to the right members — IPv4, IPv6, a block nested inside another member's —
//! observed services matched and alerted with what was seen, a declared "controlled" asset
//! seen from the internet flagged, a confirm-exposure alert answered by an observation; and
//! `ward probe` fingerprinting a fake EPMM login page on loopback inside a member's range while
//! a listener outside the range hears nothing.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, client, demo_federation, post_json, run, stderr, token};
use serde_json::{Value, json};
use ward_testdata::TestDb;

async fn get(url: &str, token: &str) -> (u16, Value) {
    let r = client().get(url).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn import(url: &str, token: &str, file: &str, body: &str) -> (u16, Value) {
    let r = client()
        .post(format!("{url}/api/v1/observations?filename={file}"))
        .bearer_auth(token)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn claim(url: &str, token: &str, org: Option<&str>, value: &str) -> (u16, Value) {
    let mut body = json!({ "value": value });
    if let Some(o) = org {
        body["organisation"] = json!(o);
    }
    post_json(&format!("{url}/api/v1/footprint"), token, &body).await
}

/// A Shadowserver-style report (their column names, their time format).
const SHADOWSERVER: &str = "\"timestamp\",\"ip\",\"protocol\",\"port\",\"hostname\",\"tag\",\"asn\",\"geo\",\"region\",\"city\",\"device_vendor\",\"device_type\",\"device_model\",\"device_version\"
\"2025-05-16 03:12:44\",\"203.0.113.10\",\"tcp\",443,\"mdm.trust-a.example\",\"ivanti-epmm\",64500,\"GB\",\"ENGLAND\",\"LEEDS\",\"Ivanti\",\"mdm\",\"Endpoint Manager Mobile\",\"12.5.0.0\"
\"2025-05-16 03:13:10\",\"198.51.100.70\",\"tcp\",443,\"\",\"ivanti-epmm\",64501,\"GB\",\"ENGLAND\",\"YORK\",\"Ivanti\",\"mdm\",\"Endpoint Manager Mobile\",\"12.5.0.0\"
\"2025-05-16 03:14:00\",\"198.51.100.5\",\"tcp\",22,\"\",\"ssh\",64501,\"GB\",\"ENGLAND\",\"YORK\",\"\",\"\",\"\",\"\"
\"2025-05-16 03:15:00\",\"2001:db8:a::10\",\"tcp\",8443,\"\",\"http\",64500,\"GB\",\"ENGLAND\",\"LEEDS\",\"\",\"\",\"\",\"\"
\"2025-05-16 03:16:00\",\"192.0.2.50\",\"tcp\",443,\"\",\"http\",64999,\"FR\",\"\",\"\",\"\",\"\",\"\",\"\"
\"2025-05-16 03:17:00\",\"not-an-ip\",\"tcp\",443,\"\",\"http\",64999,\"FR\",\"\",\"\",\"\",\"\",\"\",\"\"
";

/// `nmap -sV -oX` of rxb's address: OpenSSH with its CPE, inside the block nested in hscn's.
const NMAP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" args="nmap -sV -oX - 198.51.100.64/26" start="1747400000" version="7.94">
<host starttime="1747400001" endtime="1747400030"><status state="up" reason="syn-ack"/>
<address addr="198.51.100.70" addrtype="ipv4"/><hostnames/>
<ports><port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/>
<service name="ssh" product="OpenSSH" version="9.6p1 Debian 4" method="probed" conf="10"><cpe>cpe:/a:openbsd:openssh:9.6p1</cpe></service></port></ports>
</host></nmaprun>"#;

async fn observations_are_attributed_matched_and_alerted(db: TestDb) {
    let location = db.location().to_owned();
    demo_federation(
        &location,
        &[
            ("rxa", "Royal Example Hospital"),
            ("rxb", "Borough General"),
            ("hscn", "Health and Social Care Network"),
        ],
    );
    let central = token(&location, "nhs-england", "central-admin");
    let analyst = token(&location, "nhs-england", "central-analyst");
    let rxa = token(&location, "rxa", "member-admin");
    let rxb = token(&location, "rxb", "member-admin");
    let server = Server::start(&location);
    let url = server.url.clone();

    // Footprints: the central team sets some; rxa proposes its IPv6 block and domain.
    for (org, value) in [
        ("rxa", "203.0.113.0/24"),
        ("hscn", "198.51.100.0/24"),
        ("rxb", "198.51.100.64/26"),
    ] {
        let (s, b) = claim(&url, &central, Some(org), value).await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["entry"]["state"], "approved", "{b}");
    }
    let (s, b) = claim(&url, &rxa, None, "2001:DB8:A::/48").await;
    assert_eq!((s, &b["entry"]["state"]), (201, &json!("proposed")), "{b}");
    assert_eq!(b["entry"]["value"], "2001:db8:a::/48");
    let v6 = b["entry"]["id"].as_i64().unwrap();
    // A proposal inside another member's block is a delegation the central admin sees as such
    // (and the member does not: it names the other member).
    let (s, b) = claim(&url, &rxb, None, "198.51.100.128/25").await;
    assert_eq!(s, 201, "{b}");
    let nested = b["entry"]["id"].clone();
    let (_, central_view) = get(&format!("{url}/api/v1/footprint"), &central).await;
    let note = central_view["overlaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == nested)
        .cloned()
        .unwrap_or_else(|| panic!("{central_view:#}"));
    assert_eq!(note["note"], "inside hscn's 198.51.100.0/24");
    let (_, own_view) = get(&format!("{url}/api/v1/footprint"), &rxb).await;
    assert!(
        own_view.get("overlaps").is_none() && !own_view.to_string().contains("hscn"),
        "{own_view:#}"
    );
    // Another member's block is refused without saying whose it is; so is a bad one.
    let (s, b) = claim(&url, &rxb, None, "203.0.113.0/24").await;
    assert_eq!(s, 409, "{b}");
    assert!(!b.to_string().contains("rxa"), "{b}");
    let (s, b) = claim(&url, &rxb, None, "203.0.113.7/24").await;
    assert_eq!(s, 422, "{b}");
    assert!(
        b["error"].as_str().unwrap().contains("203.0.113.0/24"),
        "{b}"
    );
    // A member cannot approve its own proposal, nor claim for another member.
    let (s, _) = post_json(
        &format!("{url}/api/v1/footprint/{v6}/decision"),
        &rxa,
        &json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = claim(&url, &rxa, Some("rxb"), "192.0.2.0/24").await;
    assert_eq!(s, 403);

    // rxa declared its EPMM server internal ("controlled"); rxb says nothing of EPMM, and the
    // central team's high severity alert asks it to confirm.
    let (s, b) = post_json(
        &format!("{url}/api/v1/assets"),
        &rxa,
        &json!({"name": "mdm.trust-a.example", "exposure": "controlled"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = post_json(
        &format!("{url}/api/v1/alerts/issue"),
        &analyst,
        &json!({"vulnerabilities": ["CVE-2025-4427"], "note": "Patch EPMM now"}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (_, alerts) = get(&format!("{url}/api/v1/alerts"), &rxb).await;
    let asked = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["subject"] == "CVE-2025-4427")
        .cloned()
        .unwrap_or_else(|| panic!("rxb was not asked: {alerts:#}"));
    assert_eq!(asked["exposure"], "confirm-exposure", "{asked:#}");

    // The Shadowserver report: attributed by the longest prefix; the IPv6 block is only
    // proposed, so its observation is unattributed until the central team approves it.
    let (s, r) = import(&url, &analyst, "scan_http.csv", SHADOWSERVER).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["format"], "Shadowserver CSV");
    assert_eq!(
        (r["observations"].as_u64(), r["attributed"].as_u64()),
        (Some(5), Some(3)),
        "{r}"
    );
    assert_eq!(r["unattributed"], 2, "{r}");
    let warnings = r["warnings"].as_array().unwrap();
    assert!(
        warnings.len() == 1
            && warnings[0]
                .as_str()
                .unwrap()
                .contains("scan_http.csv: line 7: field `ip`"),
        "{r}"
    );
    let owners: Vec<(String, String)> = r["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["organisation"].as_str().unwrap().into(),
                a["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        owners,
        [
            ("rxa".into(), "203.0.113.10 (observed)".into()),
            ("rxb".into(), "198.51.100.70 (observed)".into()),
            ("hscn".into(), "198.51.100.5 (observed)".into()),
        ],
        "{r}"
    );
    // rxa: CVE-2025-4427 found on the observed EPMM, with what was seen, where and when.
    let epmm = &r["assets"][0];
    assert!(
        epmm["new_findings"]
            .as_array()
            .unwrap()
            .contains(&json!("CVE-2025-4427")),
        "{r}"
    );
    let (_, findings) = get(
        &format!("{url}/api/v1/findings?asset={}", epmm["asset"]),
        &rxa,
    )
    .await;
    let text = findings.to_string();
    assert!(
        text.contains("Ivanti Endpoint Manager Mobile 12.5.0.0 answered at 203.0.113.10:443, observed 2025-05-16 03:12 UTC by shadowserver"),
        "{findings:#}"
    );
    let (_, asset) = get(&format!("{url}/api/v1/assets/{}", epmm["asset"]), &rxa).await;
    assert_eq!(asset["asset"]["exposure"], "open", "{asset:#}");
    let (_, alerts) = get(&format!("{url}/api/v1/alerts"), &rxa).await;
    let alert = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["subject"] == "CVE-2025-4427")
        .cloned()
        .unwrap_or_else(|| panic!("no alert: {alerts:#}"));
    assert_eq!(alert["exposure"], "affected", "{alert:#}");
    // rxb's confirm-exposure alert is answered by the observation: now affected.
    let (_, alerts) = get(&format!("{url}/api/v1/alerts"), &rxb).await;
    let answered = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == asked["id"])
        .cloned()
        .unwrap();
    assert_eq!(answered["exposure"], "affected", "{answered:#}");
    assert_eq!(answered["state"], "open", "{answered:#}");

    // rxa's declared "controlled" EPMM answered from the internet: flagged to rxa and the
    // central team, once.
    assert_eq!(r["contradictions"].as_array().unwrap().len(), 1, "{r}");
    for who in [&rxa, &analyst] {
        let (s, e) = get(&format!("{url}/api/v1/exposure"), who).await;
        assert_eq!(s, 200);
        let c = &e["contradictions"];
        assert_eq!(c.as_array().unwrap().len(), 1, "{e:#}");
        assert_eq!(c[0]["asset_name"], "mdm.trust-a.example");
        assert_eq!(c[0]["declared"], "controlled");
        assert!(
            c[0]["evidence"]
                .as_str()
                .unwrap()
                .contains("203.0.113.10:443"),
            "{e:#}"
        );
    }
    let (_, e) = get(&format!("{url}/api/v1/exposure"), &analyst).await;
    assert_eq!(e["unattributed"], 2, "{e:#}");
    let rxa_row = e["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["organisation"] == "rxa")
        .unwrap()
        .clone();
    assert_eq!(
        (
            rxa_row["services"].as_u64(),
            rxa_row["vulnerable_assets"].as_u64()
        ),
        (Some(1), Some(1)),
        "{e:#}"
    );
    // Each member sees its own observations only; the unattributed list is the central team's.
    let (_, mine) = get(&format!("{url}/api/v1/observations"), &rxb).await;
    let addresses: Vec<&str> = mine["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["198.51.100.70"], "{mine:#}");
    let (s, _) = get(&format!("{url}/api/v1/observations?attributed=false"), &rxb).await;
    assert_eq!(s, 403);
    let (s, _) = get(&format!("{url}/api/v1/observations?organisation=rxa"), &rxb).await;
    assert_eq!(s, 403);
    let (_, none) = get(
        &format!("{url}/api/v1/observations?attributed=false"),
        &analyst,
    )
    .await;
    let mut unattributed: Vec<&str> = none["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["address"].as_str().unwrap())
        .collect();
    unattributed.sort_unstable();
    assert_eq!(unattributed, ["192.0.2.50", "2001:db8:a::10"], "{none:#}");

    // The central admin approves rxa's IPv6 block; the same report again attributes it, and
    // the observations already known move on rather than multiply; nothing is flagged twice.
    let (s, b) = post_json(
        &format!("{url}/api/v1/footprint/{v6}/decision"),
        &central,
        &json!({"decision": "approve"}),
    )
    .await;
    assert_eq!((s, &b["entry"]["state"]), (200, &json!("approved")), "{b}");
    let (s, r) = import(&url, &analyst, "scan_http.csv", SHADOWSERVER).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(
        (r["attributed"].as_u64(), r["unattributed"].as_u64()),
        (Some(4), Some(1)),
        "{r}"
    );
    assert!(r["contradictions"].as_array().unwrap().is_empty(), "{r}");
    let (_, mine) = get(&format!("{url}/api/v1/observations"), &rxa).await;
    let mut addresses: Vec<&str> = mine["observations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["address"].as_str().unwrap())
        .collect();
    addresses.sort_unstable();
    assert_eq!(addresses, ["2001:db8:a::10", "203.0.113.10"], "{mine:#}");

    // nmap XML of rxb's nested block: attributed to rxb (the /26 inside hscn's /24), and its
    // observed asset gains OpenSSH beside the EPMM Shadowserver saw.
    let (s, r) = import(&url, &analyst, "rxb.xml", NMAP).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(r["format"], "nmap (XML)");
    assert_eq!(r["assets"][0]["organisation"], "rxb", "{r}");
    assert_eq!(r["assets"][0]["services"], 2, "{r}");
    let (_, components) = get(
        &format!("{url}/api/v1/assets/{}", r["assets"][0]["asset"]),
        &rxb,
    )
    .await;
    let text = components.to_string();
    assert!(
        text.contains("OpenSSH") && text.contains("Endpoint Manager Mobile"),
        "{components:#}"
    );

    // Seen again, nothing new: no new inventory version (the current one is compared, not the
    // first).
    let history = format!("{url}/api/v1/assets/{}/inventory", r["assets"][0]["asset"]);
    let (_, before) = get(&history, &rxb).await;
    assert_eq!(
        before["versions"].as_array().map(Vec::len),
        Some(2),
        "{before:#}"
    );
    let (s, again) = import(&url, &analyst, "rxb.xml", NMAP).await;
    assert_eq!(s, 201, "{again}");
    assert!(
        again["assets"][0]["new_findings"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{again}"
    );
    let (_, after) = get(&history, &rxb).await;
    assert_eq!(after["versions"], before["versions"], "{after:#}");

    // Every step is in the audit log.
    let (_, audit) = get(&format!("{url}/api/v1/audit?limit=500"), &central).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("{audit:#}"))
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "footprint.set",
        "footprint.propose",
        "footprint.approve",
        "observations.import",
        "asset.exposure-contradicted",
    ] {
        assert!(
            actions.contains(&action),
            "{action} not audited: {actions:?}"
        );
    }
}

/// A minimal HTTP server on `ip`: an EPMM login page at `/mifs/user/login.jsp`, 404 elsewhere;
/// it records each request line. Anything that is not plain HTTP (a TLS hello) is dropped.
fn fake_epmm(ip: &str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let Some(line) = request.lines().next().filter(|l| l.ends_with("HTTP/1.1")) else {
                continue;
            };
            log.lock().unwrap().push(line.to_owned());
            let (status, body) = if line.starts_with("GET /mifs/user/login.jsp ") {
                (
                    "200 OK",
                    "<html><head><title>Ivanti User Portal: Sign In</title><link rel=\"stylesheet\" href=\"/mifs/css/login.css?12.5.0.0\"></head><body>Ivanti User Portal</body></html>",
                )
            } else if line.starts_with("GET / ") {
                (
                    "200 OK",
                    "<html><head><title>Ivanti EPMM</title></head></html>",
                )
            } else {
                ("404 Not Found", "not here")
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nServer: Apache\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

/// A listener that only counts the connections it accepts.
fn trap(ip: &str) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            if s.is_ok() {
                c.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    (port, count)
}

async fn a_probe_fingerprints_only_inside_the_declared_range(db: TestDb) {
    let location = db.location().to_owned();
    demo_federation(&location, &[("rxa", "Royal Example Hospital")]);
    let central = token(&location, "nhs-england", "central-admin");
    let analyst = token(&location, "nhs-england", "central-analyst");
    let rxa = token(&location, "rxa", "member-admin");
    let server = Server::start(&location);
    let url = server.url.clone();
    // rxa's range is one loopback address; EPMM answers there. Another loopback address,
    // outside the range, listens on the same kind of port — and on the EPMM's port number too.
    let (epmm_port, requests) = fake_epmm("127.0.0.2");
    let (trap_port, outside) = trap("127.0.0.3");
    let (s, b) = claim(&url, &central, Some("rxa"), "127.0.0.2/32").await;
    assert_eq!(s, 201, "{b}");

    let probe = |extra: &[&str]| {
        let ports = format!("{epmm_port},{trap_port}");
        let mut args = vec![
            "probe",
            "--server",
            &url,
            "--token",
            &analyst,
            "--organisation",
            "rxa",
            "--ports",
            &ports,
            "--rate",
            "50",
            "--timeout",
            "2",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        run(&location, &args)
    };
    // No authorisation from rxa's admin: refused before a packet is sent.
    let o = probe(&[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("has not authorised probing"),
        "{}",
        stderr(&o)
    );
    assert!(requests.lock().unwrap().is_empty());
    // Only the member's own admin can authorise.
    let r = client()
        .put(format!("{url}/api/v1/probe-consent"))
        .bearer_auth(&central)
        .json(&json!({"consent": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = client()
        .put(format!("{url}/api/v1/probe-consent"))
        .bearer_auth(&rxa)
        .json(&json!({"consent": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // Asked to probe both addresses, the probe keeps to the range.
    let o = probe(&["--targets", "127.0.0.2,127.0.0.3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("127.0.0.3 is outside the member's approved ranges"),
        "{}",
        stderr(&o)
    );
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    let services = out["services"].as_array().unwrap();
    assert_eq!(services.len(), 1, "{out:#}");
    let s0 = &services[0];
    assert_eq!(
        (s0["address"].as_str(), s0["port"].as_u64()),
        (Some("127.0.0.2"), Some(u64::from(epmm_port)))
    );
    assert_eq!(s0["product"], "Ivanti Endpoint Manager Mobile", "{out:#}");
    assert_eq!(s0["version"], "12.5.0.0", "{out:#}");
    assert_eq!(s0["fingerprint"], "ivanti-epmm-login");
    assert_eq!(s0["title"], "Ivanti EPMM");
    // Matched and alerted at the server.
    let alerts = out["import"]["assets"][0]["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty(), "{out:#}");
    let (_, list) = get(&format!("{url}/api/v1/alerts"), &rxa).await;
    assert!(
        list["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == "CVE-2025-4427" && a["exposure"] == "affected"),
        "{list:#}"
    );
    // Nothing reached the address outside the range; only GETs reached the one inside.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        outside.load(Ordering::SeqCst),
        0,
        "a packet left the declared range"
    );
    let lines = requests.lock().unwrap().clone();
    assert!(lines.iter().all(|l| l.starts_with("GET ")), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("GET /mifs/user/login.jsp ")),
        "{lines:?}"
    );
    // The probe is in the audit log, with what it was allowed to touch.
    let (_, audit) = get(&format!("{url}/api/v1/audit?limit=200"), &central).await;
    let start = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "probe.start")
        .cloned()
        .unwrap_or_else(|| panic!("{audit:#}"));
    assert!(start.to_string().contains("127.0.0.2/32"), "{start:#}");
    // Consent withdrawn: the next probe is refused.
    let r = client()
        .put(format!("{url}/api/v1/probe-consent"))
        .bearer_auth(&rxa)
        .json(&json!({"consent": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(!probe(&[]).status.success());
}

ward_testdata::backend_tests!(
    observations_are_attributed_matched_and_alerted,
    a_probe_fingerprints_only_inside_the_declared_range
);
