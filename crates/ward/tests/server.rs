//! The federation server as a process: `ward serve` over real HTTP on loopback, `ward admin`
//! to bootstrap, `ward hunt --report` as a member would run it, the audit chain against an
//! intruder, kills and restarts, TLS, e-mail and several servers. What needs no process (the
//! API's authorisation and tenancy, imports over HTTP, the OpenAPI document) is tested in
//! process in `crates/server/tests/api.rs`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{Server, p, run, stderr};
use serde_json::{Value, json};
use ward_testdata::pki::test_pki;
use ward_testdata::smtp::SmtpServer;
use ward_testdata::{Backend, TestDb};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hunt")
        .join(name)
}

/// Runs `ward admin …` and returns its standard output (a token's secret, for `token create`).
fn admin(db: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> String {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let o = run(db, &all);
    assert!(o.status.success(), "ward admin {args:?}: {}", stderr(&o));
    String::from_utf8(o.stdout).unwrap().trim().to_owned()
}

struct Federation {
    test_db: TestDb,
    /// The database's location (`WARD_DB`).
    db: String,
    central: String,
    analyst: String,
    /// Tokens of the member `rxa` by role.
    rxa: Vec<(&'static str, String)>,
    /// Tokens of the member `rxb` by role.
    rxb: Vec<(&'static str, String)>,
}

fn federation(test_db: TestDb) -> Federation {
    let db = test_db.location().to_owned();
    let central = admin(
        &db,
        &["init", "--slug", "nhs-england", "--name", "NHS England"],
    );
    let analyst = admin(
        &db,
        &[
            "token",
            "create",
            "--org",
            "nhs-england",
            "--role",
            "central-analyst",
            "--name",
            "analyst",
        ],
    );
    admin(&db, &["org", "create", "rxa", "Royal Example Hospital"]);
    admin(&db, &["org", "create", "rxb", "Borough General"]);
    let tokens = |org: &str| {
        ["member-admin", "member-analyst", "read-only"]
            .into_iter()
            .map(|role| {
                (
                    role,
                    admin(
                        &db,
                        &[
                            "token", "create", "--org", org, "--role", role, "--name", role,
                        ],
                    ),
                )
            })
            .collect::<Vec<_>>()
    };
    let rxa = tokens("rxa");
    let rxb = tokens("rxb");
    Federation {
        test_db,
        db,
        central,
        analyst,
        rxa,
        rxb,
    }
}

/// An HTTP client (reqwest is built without a default TLS provider; Ward installs ring).
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn get(url: &str, token: &str) -> (u16, Value) {
    let r = client().get(url).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(url: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    let r = client()
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn hunt_report(db: impl AsRef<std::ffi::OsStr>, url: &str, token: &str) -> std::process::Output {
    let Some(rule) =
        ward_testdata::shared("sigma/rules-emerging-threats/2025/Exploits/CVE-2025-4427")
    else {
        // Without the shared rules, the fixture bundle's indicators stand in.
        return run(
            db,
            &[
                "hunt",
                "--indicators",
                p(&fixture("indicators/bundle.json")),
                "--report",
                url,
                "--token",
                token,
                p(&fixture("epmm-exploit.log")),
            ],
        );
    };
    run(
        db,
        &[
            "hunt",
            "--rules",
            p(&rule),
            "--report",
            url,
            "--token",
            token,
            p(&fixture("epmm-exploit.log")),
        ],
    )
}

async fn a_members_hunt_reaches_the_central_team_as_a_possible_compromise_alert(db: TestDb) {
    let f = federation(db);
    let server = Server::start(&f.db);
    let (_, analyst_token) = &f.rxa[1];

    let o = hunt_report(&f.db, &server.url, analyst_token);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sightings recorded, 0 already known"),
        "{}",
        stderr(&o)
    );

    // The central team sees one alert for rxa, with every sighting as evidence.
    let (status, body) = get(&format!("{}/api/v1/alerts", server.url), &f.central).await;
    assert_eq!(status, 200);
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{body}");
    let alert = &alerts[0];
    assert_eq!(alert["organisation"], "rxa");
    assert_eq!(alert["kind"], "possible-compromise");
    assert_eq!(alert["state"], "open");
    assert!(
        alert["title"]
            .as_str()
            .unwrap()
            .starts_with("Possible compromise: ")
    );
    let evidence = alert["evidence"].as_i64().unwrap();
    assert!(evidence >= 2, "{alert}");
    // The analyst sees it too; filtered by organisation as well.
    let (_, body) = get(
        &format!("{}/api/v1/alerts?organisation=rxa", server.url),
        &f.analyst,
    )
    .await;
    assert_eq!(body["alerts"].as_array().unwrap().len(), 1);

    // Only what matched was sent: the log's other fields never left the member.
    let (_, body) = get(&format!("{}/api/v1/sightings", server.url), &f.central).await;
    let sightings = body["sightings"].as_array().unwrap();
    assert_eq!(sightings.len() as i64, evidence);
    let text = body.to_string();
    assert!(
        !text.contains("python-requests"),
        "a user agent leaked: {text}"
    );
    assert!(!text.contains("400 118"), "a raw line leaked");

    // Reporting the same hunt again changes nothing (deterministic STIX ids).
    let o = hunt_report(&f.db, &server.url, analyst_token);
    assert!(
        stderr(&o).contains(": 0 sightings recorded"),
        "{}",
        stderr(&o)
    );
    let (_, body) = get(&format!("{}/api/v1/alerts", server.url), &f.central).await;
    assert_eq!(body["alerts"][0]["evidence"].as_i64().unwrap(), evidence);

    // A read-only token may not report; a revoked token is refused; no token is refused.
    let (_, read_only) = &f.rxa[2];
    let o = hunt_report(&f.db, &server.url, read_only);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("403"), "{}", stderr(&o));
    let list = admin(&f.db, &["token", "list", "--format", "json"]);
    let list: Value = serde_json::from_str(&list).unwrap();
    let id = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["organisation"] == "rxa" && t["role"] == "member-analyst")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    admin(&f.db, &["token", "revoke", &id.to_string()]);
    let o = hunt_report(&f.db, &server.url, analyst_token);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("401"), "{}", stderr(&o));
    let r = client()
        .get(format!("{}/api/v1/alerts", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");

    // Every change is in the audit log, and the chain is intact.
    let (status, body) = get(&format!("{}/api/v1/audit", server.url), &f.central).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "organisation.create",
        "token.create",
        "sightings.report",
        "alert.raise",
        "token.revoke",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let o = run(&f.db, &["audit", "verify"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

async fn hostile_text_is_stored_and_returned_verbatim_and_bad_reports_change_nothing(db: TestDb) {
    let f = federation(db);
    let server = Server::start(&f.db);
    let hostile = [
        "${7*7}",
        "{{7*7}}",
        "#{7*7}",
        "<script>alert(1)</script>",
        "' OR 1=1--",
        "%{(#_memberAccess)}",
    ];
    for (i, text) in hostile.iter().enumerate() {
        let (status, body) = post(
            &format!("{}/api/v1/organisations", server.url),
            &f.central,
            serde_json::to_vec(&json!({"slug": format!("h{i}"), "name": text})).unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["organisation"]["name"], *text);
    }
    let long = "A".repeat(100_000);
    let (status, _) = post(
        &format!("{}/api/v1/organisations", server.url),
        &f.central,
        serde_json::to_vec(&json!({"slug": "long", "name": long})).unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let (_, body) = get(&format!("{}/api/v1/organisations", server.url), &f.central).await;
    let names: Vec<&str> = body["organisations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    for text in hostile {
        assert!(names.contains(&text), "{text} not returned verbatim");
    }
    assert!(names.contains(&long.as_str()));
    // A slug that is not one, and a duplicate: 4xx with the reason.
    let (status, body) = post(
        &format!("{}/api/v1/organisations", server.url),
        &f.central,
        br#"{"slug":"' OR 1=1--","name":"x"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("lower-case letters")
    );
    let (status, body) = post(
        &format!("{}/api/v1/organisations", server.url),
        &f.central,
        br#"{"slug":"rxa","name":"again"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Malformed reports: 400 naming the problem, and nothing stored.
    let token = &f.rxa[1].1;
    let url = format!("{}/api/v1/sightings", server.url);
    for (body, says) in [
        (b"\xff\xfe not json".to_vec(), "not JSON"),
        (br#"{"type":"report"}"#.to_vec(), "bundle"),
        (br#"{"type":"bundle","objects":[]}"#.to_vec(), "no sighting objects"),
        (
            br#"{"type":"bundle","objects":[{"type":"sighting","id":"sighting--1","sighting_of_ref":"indicator--1","first_seen":"yesterday","last_seen":"2025-05-15T21:20:05Z"}]}"#.to_vec(),
            "objects[0].first_seen",
        ),
        (
            br#"{"type":"bundle","objects":[{"type":"sighting","id":"sighting--1","first_seen":"2025-05-15T21:20:05Z","last_seen":"2025-05-15T21:20:05Z"}]}"#.to_vec(),
            "objects[0].sighting_of_ref",
        ),
    ] {
        let (status, answer) = post(&url, token, body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(says), "{answer} should say {says}");
    }
    let (_, body) = get(&url, &f.central).await;
    assert_eq!(body["sightings"], json!([]));
    // Hostile text inside a sighting is data too.
    let bundle = json!({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "indicator", "id": "indicator--x", "name": "{{7*7}} ${7*7} <script>"},
        {"type": "sighting", "id": "sighting--h", "sighting_of_ref": "indicator--x",
         "first_seen": "2025-05-15T21:20:05Z", "last_seen": "2025-05-15T21:20:05Z",
         "x_ward_matched": [{"field": "cs-uri-query", "value": "' OR 1=1--"}]}
    ]});
    let (status, answer) = post(&url, token, serde_json::to_vec(&bundle).unwrap()).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        answer["alerts"][0]["title"],
        "Possible compromise: {{7*7}} ${7*7} <script>"
    );
    let (_, body) = get(&url, token).await;
    assert_eq!(
        body["sightings"][0]["payload"]["x_ward_matched"][0]["value"],
        "' OR 1=1--"
    );
}

async fn the_audit_chain_shows_a_changed_or_deleted_entry(db: TestDb) {
    let postgres = db.backend() == Backend::Postgres;
    let f = federation(db);
    let o = run(&f.db, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("audit log intact: 11 entries"));
    // Command-line administrators are named by their operating-system account and host.
    let actor = f
        .test_db
        .scalar("SELECT actor FROM audit_log WHERE seq = 1");
    let (user, host) = actor
        .strip_prefix("cli:")
        .and_then(|a| a.split_once('@'))
        .unwrap_or_else(|| panic!("actor {actor:?} is not cli:<user>@<host>"));
    assert!(!user.is_empty() && user != "unknown", "{actor}");
    assert!(!host.is_empty() && host != "unknown-host", "{actor}");

    // The log refuses changes through SQL…
    let refused = |script: &str| f.test_db.execute(script).unwrap_err();
    let e = refused("UPDATE audit_log SET actor = 'someone' WHERE seq = 3");
    assert!(e.contains("append-only"), "{e}");
    let e = refused("DELETE FROM audit_log WHERE seq = 3");
    assert!(e.contains("append-only"), "{e}");
    // …and someone who drops the guards is still caught.
    let drop_guards = if postgres {
        "ALTER TABLE audit_log DISABLE TRIGGER USER;"
    } else {
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
    };
    f.test_db
        .execute(&format!(
            "{drop_guards} UPDATE audit_log SET after = replace(after, 'member-admin', 'central-admin') WHERE seq = 6;"
        ))
        .unwrap();
    let o = run(&f.db, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("entry 6 (token.create token:3) was changed"),
        "{out}"
    );
}

/// Someone who can write the database drops the guards, edits an entry and recomputes every
/// hash and the head: the chain alone says "intact", the checkpoint signed with a key kept
/// outside the database does not — nor does a checkpoint altered to match.
async fn a_rewritten_chain_is_caught_by_its_signed_checkpoint(db: TestDb) {
    let postgres = db.backend() == Backend::Postgres;
    let f = federation(db);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("audit-key.pem");
    let public = dir.path().join("audit-key.pem.pub");
    let o = run(&f.db, &["audit", "keygen", "--out", p(&key)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&f.db, &["audit", "keygen", "--out", p(&key)]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "an existing key is never overwritten"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Before any checkpoint, the key vouches for nothing.
    let o = run(&f.db, &["audit", "verify", "--key", p(&public)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no checkpoint signed"));
    let o = run(&f.db, &["audit", "checkpoint", "--key", p(&key)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&f.db, &["audit", "verify", "--key", p(&public)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 signed checkpoints hold"));

    // The rewrite, as an attacker with the database and Ward's source would do it.
    let store = ward_store::Store::open(&f.db).await.unwrap();
    let mut entries = store
        .audit_log(ward_store::Scope::operator())
        .await
        .unwrap();
    store.close().await;
    let drop_guards = if postgres {
        "ALTER TABLE audit_log DISABLE TRIGGER USER;"
    } else {
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
    };
    let mut script = drop_guards.to_owned();
    let mut prev = String::new();
    for e in entries.iter_mut() {
        if e.seq == 6 {
            e.after = e
                .after
                .as_ref()
                .map(|a| a.replace("member-admin", "central-admin"));
        }
        if e.seq >= 6 {
            e.prev_hash.clone_from(&prev);
            e.hash = ward_store::entry_hash_of(e);
            script.push_str(&format!(
                "UPDATE audit_log SET after = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {};",
                e.after.clone().unwrap_or_default().replace('\'', "''"),
                e.prev_hash,
                e.hash,
                e.seq
            ));
        }
        prev.clone_from(&e.hash);
    }
    let last = entries.last().unwrap();
    script.push_str(&format!(
        "UPDATE audit_head SET hash = '{}' WHERE id = 1;",
        last.hash
    ));
    f.test_db.execute(&script).unwrap();
    let o = run(&f.db, &["audit", "verify"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "the recomputed chain is consistent on its own: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = run(&f.db, &["audit", "verify", "--key", p(&public)]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains(&format!("entry {} no longer has the hash signed", last.seq)),
        "{out}"
    );
    // Altering the checkpoint to match breaks its signature.
    f.test_db
        .execute(&format!(
            "UPDATE audit_checkpoint SET hash = '{}' WHERE seq = {};",
            last.hash, last.seq
        ))
        .unwrap();
    let o = run(&f.db, &["audit", "verify", "--key", p(&key)]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("signature this key did not make"), "{out}");
}

async fn a_deleted_audit_entry_is_missed(db: TestDb) {
    let drop_guard = match db.backend() {
        Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER USER;",
        Backend::Sqlite => "DROP TRIGGER audit_log_no_delete;",
    };
    let f = federation(db);
    f.test_db
        .execute(&format!(
            "{drop_guard} DELETE FROM audit_log WHERE seq = 4;"
        ))
        .unwrap();
    let out = String::from_utf8_lossy(&run(&f.db, &["audit", "verify"]).stdout).into_owned();
    assert!(out.contains("entries 4 to 4 are missing"), "{out}");
    assert!(out.contains("entry 5 does not follow"), "{out}");
    f.test_db
        .execute("DELETE FROM audit_log WHERE seq = 11;")
        .unwrap();
    let o = run(&f.db, &["audit", "verify", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains("deleted from the end")),
        "{v}"
    );
}

#[test]
fn admin_commands_refuse_what_makes_no_sense() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ward.db");
    admin(&db, &["init", "--slug", "central", "--name", "Central"]);
    let o = run(
        &db,
        &["admin", "init", "--slug", "other", "--name", "Other"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the central team exists already (central)"));
    admin(&db, &["org", "create", "m1", "Member One"]);
    let o = run(
        &db,
        &[
            "admin",
            "token",
            "create",
            "--org",
            "m1",
            "--role",
            "central-admin",
            "--name",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("role central-admin is for the central organisation"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &db,
        &[
            "admin",
            "token",
            "create",
            "--org",
            "nowhere",
            "--role",
            "read-only",
            "--name",
            "x",
        ],
    );
    assert!(
        stderr(&o).contains("no such organisation \"nowhere\""),
        "{}",
        stderr(&o)
    );
    let o = run(
        &db,
        &[
            "admin", "token", "create", "--org", "m1", "--role", "root", "--name", "x",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown role \"root\""),
        "{}",
        stderr(&o)
    );
    let o = run(&db, &["admin", "org", "create", "Bad Slug", "x"]);
    assert!(stderr(&o).contains("lower-case letters"), "{}", stderr(&o));
    // Secrets are stored hashed: the database file does not contain the token.
    let secret = admin(
        &db,
        &[
            "token",
            "create",
            "--org",
            "m1",
            "--role",
            "read-only",
            "--name",
            "x",
        ],
    );
    assert!(secret.starts_with("ward_") && secret.len() == 69);
    let mut bytes = std::fs::read(&db).unwrap();
    for ext in ["-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{}{ext}", db.display())) {
            bytes.extend(b);
        }
    }
    let hay = String::from_utf8_lossy(&bytes);
    assert!(!hay.contains(&secret[5..]), "the token is stored in clear");
}

fn demo_feeds() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/feeds")
}

fn epmm_csv(version: &str) -> Vec<u8> {
    format!(
        "asset,vendor,product,version,cpe,purl,exposure,criticality\nmdm-01,,,,cpe:2.3:a:ivanti:endpoint_manager_mobile:{version}:*:*:*:*:*:*:*,,,\n"
    )
    .into_bytes()
}

async fn uploading_an_inventory_matches_it_and_a_fixed_one_resolves_the_findings(db: TestDb) {
    let f = federation(db);
    let o = run(&f.db, &["db", "import", p(&demo_feeds())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let server = Server::start(&f.db);
    let member = &f.rxa[1].1;
    let (status, body) = post(
        &format!("{}/api/v1/assets", server.url),
        member,
        br#"{"name":"mdm-01","exposure":"open","criticality":"high","tags":["mdm","prod"]}"#
            .to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["asset"]["id"].as_i64().unwrap();
    let upload = |bytes: Vec<u8>, name: &str| {
        let url = format!(
            "{}/api/v1/assets/{id}/inventory?filename={name}",
            server.url
        );
        async move { post(&url, member, bytes).await }
    };

    // EPMM 12.5.0.0, internet-facing: both CVEs, immediate.
    let (status, body) = upload(epmm_csv("12.5.0.0"), "epmm.csv").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], 1);
    let new: Vec<&str> = body["new"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["vulnerability"].as_str().unwrap())
        .collect();
    assert_eq!(new.len(), 2, "{body}");
    assert!(new.contains(&"CVE-2025-4427") && new.contains(&"CVE-2025-4428"));
    assert!(
        body["new"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["priority"] == "immediate")
    );

    // The worklist has them, most urgent first, with deadlines and the explanation.
    let (_, list) = get(&format!("{}/api/v1/findings", server.url), member).await;
    let findings = list["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2);
    assert!(findings[0]["finding"]["deadlines"]["remediate_by"].is_string());
    assert_eq!(findings[0]["asset"], "mdm-01");
    // A page at a time after a cursor: the first, then the second, then none.
    let (_, first) = get(&format!("{}/api/v1/findings?limit=1", server.url), member).await;
    assert_eq!(first["findings"][0]["id"], findings[0]["id"]);
    assert_eq!(first["total"], 2);
    let next = first["next"]
        .as_str()
        .expect("a full page says where the next starts");
    let (_, second) = get(
        &format!("{}/api/v1/findings?limit=1&after={next}", server.url),
        member,
    )
    .await;
    assert_eq!(second["findings"][0]["id"], findings[1]["id"]);
    let (_, third) = get(
        &format!(
            "{}/api/v1/findings?limit=1&after={}",
            server.url,
            second["next"].as_str().unwrap()
        ),
        member,
    )
    .await;
    assert_eq!(third["findings"], json!([]));
    assert!(third.get("next").is_none(), "{third}");
    let (status, body) = get(
        &format!("{}/api/v1/findings?after=1:x:%27%3B--", server.url),
        member,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("after"), "{body}");
    // Summaries: the same findings without their explanations.
    let (_, summary) = get(
        &format!("{}/api/v1/findings?view=summary", server.url),
        member,
    )
    .await;
    let summarised = summary["findings"].as_array().unwrap();
    assert_eq!(summarised.len(), 2);
    assert!(
        findings[0]["finding"]["explanation"].is_object()
            || findings[0]["finding"]["explanation"].is_array(),
        "{}",
        findings[0]
    );
    for (s, f) in summarised.iter().zip(findings) {
        assert_eq!(s["id"], f["id"]);
        assert!(s["finding"].get("explanation").is_none(), "{s}");
        assert_eq!(s["finding"]["priority"], f["finding"]["priority"]);
    }
    let (status, _) = get(&format!("{}/api/v1/findings?view=all", server.url), member).await;
    assert_eq!(status, 400);

    // A malformed upload: 400 naming the problem, and nothing changes.
    let (status, body) = upload(b"asset,version\n\"unterminated,1\n".to_vec(), "broken.csv").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("broken.csv"),
        "{body}"
    );
    let (status, body) = upload(
        br#"{"bomFormat": "CycloneDX", "components": 7}"#.to_vec(),
        "bad.cdx.json",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("bad.cdx.json"),
        "{body}"
    );
    let (_, history) = get(
        &format!("{}/api/v1/assets/{id}/inventory", server.url),
        member,
    )
    .await;
    assert_eq!(history["versions"].as_array().unwrap().len(), 1);
    let (_, list) = get(&format!("{}/api/v1/findings", server.url), member).await;
    assert_eq!(list["findings"].as_array().unwrap().len(), 2);

    // The same inventory again: nothing new, nothing resolved.
    let (_, body) = upload(epmm_csv("12.5.0.0"), "epmm.csv").await;
    assert_eq!(
        (
            body["unchanged"].as_i64(),
            body["new"].as_array().unwrap().len()
        ),
        (Some(2), 0)
    );

    // Patched to 12.5.0.1: both resolved; history keeps every version.
    let (_, body) = upload(epmm_csv("12.5.0.1"), "patched.csv").await;
    assert_eq!(body["version"], 3);
    assert_eq!(body["resolved"].as_array().unwrap().len(), 2, "{body}");
    let (_, list) = get(&format!("{}/api/v1/findings", server.url), member).await;
    assert_eq!(list["findings"], json!([]));
    let (_, list) = get(
        &format!("{}/api/v1/findings?resolved=true", server.url),
        &f.central,
    )
    .await;
    let all = list["findings"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert!(
        all.iter()
            .all(|f| f["resolved_at"].is_string() && f["organisation"] == "rxa")
    );
    let (_, history) = get(
        &format!("{}/api/v1/assets/{id}/inventory", server.url),
        member,
    )
    .await;
    let versions: Vec<&str> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["epmm.csv", "epmm.csv", "patched.csv"]);
    let (_, one) = get(&format!("{}/api/v1/assets/{id}", server.url), member).await;
    assert!(
        one["components"][0]["cpe"]
            .as_str()
            .unwrap()
            .contains(":12.5.0.1:"),
        "{one}"
    );
    assert_eq!(one["asset"]["tags"], json!(["mdm", "prod"]));

    // Another member cannot see, read or upload to this asset: it does not exist for them.
    for (role, token) in &f.rxb {
        for path in [
            format!("/api/v1/assets/{id}"),
            format!("/api/v1/assets/{id}/inventory"),
        ] {
            let (status, body) = get(&format!("{}{path}", server.url), token).await;
            assert_eq!(status, 404, "{role} {path}: {body}");
            assert!(!body.to_string().contains("mdm-01"));
        }
        let (status, _) = post(
            &format!("{}/api/v1/assets/{id}/inventory?filename=x.csv", server.url),
            token,
            epmm_csv("12.5.0.0"),
        )
        .await;
        assert!(status == 404 || status == 403, "{role}: {status}");
        for path in ["/api/v1/assets", "/api/v1/findings?resolved=true"] {
            let (status, body) = get(&format!("{}{path}", server.url), token).await;
            assert_eq!(status, 200);
            assert!(
                !body.to_string().contains("mdm-01"),
                "{role} saw rxa's asset at {path}"
            );
        }
    }
    // The central team can create an asset for a member, but must say which.
    let (status, body) = post(
        &format!("{}/api/v1/assets", server.url),
        &f.central,
        br#"{"name":"x"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(
        &format!("{}/api/v1/assets", server.url),
        &f.central,
        br#"{"name":"vpn-01","organisation":"rxb","exposure":"open"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["asset"]["organisation"], "rxb");
    // A member cannot create an asset in another organisation, nor with nonsense attributes.
    let (status, _) = post(
        &format!("{}/api/v1/assets", server.url),
        member,
        br#"{"name":"y","organisation":"rxb"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = post(
        &format!("{}/api/v1/assets", server.url),
        member,
        br#"{"name":"y","exposure":"everywhere"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().starts_with("exposure:"),
        "{body}"
    );
    assert_eq!(run(&f.db, &["audit", "verify"]).status.code(), Some(0));
}

async fn create_asset(url: &str, token: &str, name: &str) -> i64 {
    let (status, body) = post(
        &format!("{url}/api/v1/assets"),
        token,
        serde_json::to_vec(&json!({"name": name, "exposure": "open", "criticality": "high"}))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["asset"]["id"].as_i64().unwrap()
}

async fn alert_of(url: &str, token: &str, org: &str, vuln: &str) -> Value {
    let (_, body) = get(&format!("{url}/api/v1/alerts"), token).await;
    body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["organisation"] == org && a["subject"] == vuln)
        .cloned()
        .unwrap_or(Value::Null)
}

/// The story Ward exists for: CVE-2025-4427/4428 land; the central team issues a high severity
/// alert; the member running EPMM is affected, the member whose inventory says nothing is asked
/// to confirm, the member already patched is left alone; the affected member acknowledges and
/// remediates by uploading its patched inventory; the other declares itself not affected.
async fn the_epmm_story_end_to_end(db: TestDb) {
    let f = federation(db);
    assert!(
        run(&f.db, &["db", "import", p(&demo_feeds())])
            .status
            .success()
    );
    admin(&f.db, &["org", "create", "rxc", "Already Patched"]);
    let rxc = admin(
        &f.db,
        &[
            "token",
            "create",
            "--org",
            "rxc",
            "--role",
            "member-admin",
            "--name",
            "x",
        ],
    );
    let server = Server::start(&f.db);
    let url = server.url.clone();
    let (rxa, rxb) = (&f.rxa[0].1, &f.rxb[0].1);

    let a = create_asset(&url, rxa, "mdm-01").await;
    let (status, body) = post(
        &format!("{url}/api/v1/assets/{a}/inventory?filename=epmm.csv"),
        rxa,
        epmm_csv("12.5.0.0"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // Immediate findings reach the policy's threshold: alerts raised at once.
    assert_eq!(body["alerts"].as_array().unwrap().len(), 2, "{body}");
    let c = create_asset(&url, &rxc, "mdm").await;
    post(
        &format!("{url}/api/v1/assets/{c}/inventory?filename=epmm.csv"),
        &rxc,
        epmm_csv("12.5.0.1"),
    )
    .await;

    // Preview, then issue.
    let issue = json!({"vulnerabilities": ["CVE-2025-4427", "CVE-2025-4428"], "note": "Patch EPMM to 12.5.0.1 now", "dry_run": true});
    let (status, body) = post(
        &format!("{url}/api/v1/alerts/issue"),
        &f.analyst,
        serde_json::to_vec(&issue).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["preview"][0],
        json!({"vulnerability": "CVE-2025-4427", "affected": ["rxa"], "confirm_exposure": ["rxb"], "not_affected": ["rxc"]})
    );
    let (_, before) = get(&format!("{url}/api/v1/alerts"), &f.central).await;
    assert_eq!(
        before["alerts"].as_array().unwrap().len(),
        2,
        "a dry run alerted someone"
    );
    let mut issue = issue;
    issue["dry_run"] = json!(false);
    // Members may not issue.
    let (status, _) = post(
        &format!("{url}/api/v1/alerts/issue"),
        rxa,
        serde_json::to_vec(&issue).unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = post(
        &format!("{url}/api/v1/alerts/issue"),
        &f.analyst,
        serde_json::to_vec(&issue).unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["alerts"].as_array().unwrap().len(), 4); // rxa and rxb, two CVEs each

    let rxa_alert = alert_of(&url, &f.central, "rxa", "CVE-2025-4427").await;
    assert_eq!(rxa_alert["exposure"], "affected");
    assert_eq!(rxa_alert["origin"], "issued");
    assert_eq!(rxa_alert["priority"], "immediate");
    assert_eq!(rxa_alert["note"], "Patch EPMM to 12.5.0.1 now");
    assert!(rxa_alert["acknowledge_by"].is_string() && rxa_alert["remediate_by"].is_string());
    let rxb_alert = alert_of(&url, &f.central, "rxb", "CVE-2025-4427").await;
    assert_eq!(rxb_alert["exposure"], "confirm-exposure");
    assert!(rxb_alert["acknowledge_by"].is_string());
    assert_eq!(
        alert_of(&url, &f.central, "rxc", "CVE-2025-4427").await,
        Value::Null
    );
    // Each member sees only its own.
    let (_, mine) = get(&format!("{url}/api/v1/alerts"), rxb).await;
    assert!(
        mine["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["organisation"] == "rxb")
    );

    // rxa acknowledges; acknowledging twice is refused; so is claiming remediation while the
    // inventory still has the vulnerable version.
    let id = rxa_alert["id"].as_i64().unwrap();
    let (status, body) = post(
        &format!("{url}/api/v1/alerts/{id}/acknowledge"),
        rxa,
        vec![],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alert"]["state"], "acknowledged");
    let (status, _) = post(
        &format!("{url}/api/v1/alerts/{id}/acknowledge"),
        rxa,
        vec![],
    )
    .await;
    assert_eq!(status, 409);
    let (status, body) = post(&format!("{url}/api/v1/alerts/{id}/remediate"), rxa, vec![]).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("upload the patched inventory")
    );
    // rxb cannot touch rxa's alert: it does not exist for them.
    let (status, _) = post(
        &format!("{url}/api/v1/alerts/{id}/acknowledge"),
        rxb,
        vec![],
    )
    .await;
    assert_eq!(status, 404);

    // rxa uploads the patched inventory: both alerts remediated, by the inventory.
    let (_, body) = post(
        &format!("{url}/api/v1/assets/{a}/inventory?filename=patched.csv"),
        rxa,
        epmm_csv("12.5.0.1"),
    )
    .await;
    let states: Vec<(&str, &str)> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["subject"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states.len(), 2, "{body}");
    assert!(states.iter().all(|(_, s)| *s == "remediated"), "{states:?}");
    let done = alert_of(&url, &f.central, "rxa", "CVE-2025-4427").await;
    assert!(done["resolved_at"].is_string() && done["acknowledged_at"].is_string());

    // rxb: not affected, with a VEX justification (others refused).
    let rxb_id = rxb_alert["id"].as_i64().unwrap();
    let (status, body) = post(
        &format!("{url}/api/v1/alerts/{rxb_id}/not-affected"),
        rxb,
        br#"{"justification":"we think so"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("component_not_present")
    );
    let (status, body) = post(
        &format!("{url}/api/v1/alerts/{rxb_id}/not-affected"),
        rxb,
        br#"{"justification":"component_not_present"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alert"]["state"], "not-affected");

    // The other rxb alert: risk accepted, which needs a reason and a future expiry.
    let other = alert_of(&url, &f.central, "rxb", "CVE-2025-4428").await["id"]
        .as_i64()
        .unwrap();
    let accept_url = format!("{url}/api/v1/alerts/{other}/accept-risk");
    let accept = |b: Vec<u8>| post(&accept_url, rxb, b);
    assert_eq!(
        accept(br#"{"justification":"isolated"}"#.to_vec()).await.0,
        400
    );
    assert_eq!(
        accept(br#"{"justification":"isolated","until":"2020-01-01T00:00:00Z"}"#.to_vec())
            .await
            .0,
        422
    );
    assert_eq!(
        accept(br#"{"justification":"","until":"2099-01-01T00:00:00Z"}"#.to_vec())
            .await
            .0,
        422
    );
    let (status, body) = accept(
        json!({"justification": "isolated network, replaced in Q1",
               "until": (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339()})
        .to_string()
        .into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alert"]["state"], "risk-accepted");
    // A read-only token and the central analyst cannot act on alerts.
    assert_eq!(
        post(
            &format!("{url}/api/v1/alerts/{other}/acknowledge"),
            &f.rxb[2].1,
            vec![]
        )
        .await
        .0,
        403
    );
    assert_eq!(
        post(
            &format!("{url}/api/v1/alerts/{other}/acknowledge"),
            &f.analyst,
            vec![]
        )
        .await
        .0,
        403
    );

    // Central compliance shows it: per CVE, who acknowledged and remediated within deadline.
    let (status, body) = get(&format!("{url}/api/v1/compliance/alerts"), &f.central).await;
    assert_eq!(status, 200, "{body}");
    let c = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["vulnerability"] == "CVE-2025-4427")
        .unwrap()
        .clone();
    assert_eq!(
        (
            c["members"].as_i64(),
            c["affected"].as_i64(),
            c["confirm_exposure"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    // The policy applies KEV's due date (2025-06-09), long past when the alert came: remediation
    // is due with acknowledgement, not before it (the member would have been late on arrival).
    assert_eq!(done["remediate_by"], done["acknowledge_by"], "{done}");
    assert!(
        done["remediate_by"].as_str().unwrap() > "2025-06-09T23:59:59.000Z",
        "{done}"
    );
    assert_eq!(
        (
            c["acknowledged_on_time"].as_i64(),
            c["remediated"].as_i64(),
            c["remediated_on_time"].as_i64()
        ),
        (Some(2), Some(1), Some(1)),
        "{c}"
    );
    assert_eq!(
        (c["not_affected"].as_i64(), c["open"].as_i64()),
        (Some(1), Some(0))
    );
    let r = client()
        .get(format!("{url}/api/v1/compliance/members?format=csv"))
        .bearer_auth(&f.central)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    // Read by column name (the columns are `docs/server.md`'s compliance definitions).
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let cell = |member: &str, column: &str| -> i64 {
        let at = header.iter().position(|h| *h == column).expect(column);
        rows.iter()
            .filter(|r| r[0] == member)
            .map(|r| r[at].parse::<i64>().unwrap())
            .sum()
    };
    // rxa: 2 alerts, both acknowledged and remediated on time (remediation is not due before
    // acknowledgement). rxb: 2 alerts acknowledged on time, one answered not affected and one
    // risk accepted — neither is a remediation (the not-affected answer counted as "remediated
    // on time" before), each is counted in its own column.
    let columns = [
        "alerts",
        "acknowledged_on_time",
        "remediated_on_time",
        "late",
        "escalated",
        "still_open",
        "not_affected",
        "risk_accepted",
        "withdrawn",
    ];
    for (member, want) in [
        ("rxa", [2, 2, 2, 0, 0, 0, 0, 0, 0]),
        ("rxb", [2, 2, 0, 0, 0, 0, 1, 1, 0]),
    ] {
        let got: Vec<i64> = columns.iter().map(|c| cell(member, c)).collect();
        assert_eq!(got, want, "{member}: {csv}");
    }
    // A member sees its own scorecard only.
    let (_, mine) = get(&format!("{url}/api/v1/compliance/members"), rxb).await;
    assert!(
        mine["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["organisation"] == "rxb"),
        "{mine}"
    );

    // If rxa's vulnerable version comes back, its alerts reopen.
    let (_, body) = post(
        &format!("{url}/api/v1/assets/{a}/inventory?filename=rollback.csv"),
        rxa,
        epmm_csv("12.5.0.0"),
    )
    .await;
    assert!(
        body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "open"),
        "{body}"
    );
    let (_, audit) = get(&format!("{url}/api/v1/audit"), &f.central).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "alert.raise",
        "alert.issue",
        "alert.acknowledge",
        "alert.remediate",
        "alert.not-affected",
        "alert.accept-risk",
        "alert.reopen",
        "inventory.upload",
    ] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
    assert_eq!(run(&f.db, &["audit", "verify"]).status.code(), Some(0));
}

/// Continuous matching: an import into the server's database reaches the affected members'
/// findings and alerts without any upload, and only the assets it touches are re-matched.
async fn an_import_reaches_the_affected_members_within_seconds(db: TestDb) {
    let f = federation(db);
    let server = Server::start(&f.db);
    let url = server.url.clone();
    let rxa = &f.rxa[0].1;
    let a = create_asset(&url, rxa, "mdm-01").await;
    let (_, body) = post(
        &format!("{url}/api/v1/assets/{a}/inventory?filename=epmm.csv"),
        rxa,
        epmm_csv("12.5.0.0"),
    )
    .await;
    assert_eq!(body["new"], json!([]), "the knowledge base is empty yet");
    let b = create_asset(&url, &f.rxb[0].1, "web-01").await;
    let web = b"asset,vendor,product,version,cpe,purl,exposure,criticality\nweb-01,,,,,pkg:pypi/jinja2@3.1.2,,\n".to_vec();
    post(
        &format!("{url}/api/v1/assets/{b}/inventory?filename=web.csv"),
        &f.rxb[0].1,
        web,
    )
    .await;

    // The records of the two CVEs arrive.
    let feeds = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(demo_feeds()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.contains("2025-4427") || name.contains("2025-4428") {
            std::fs::copy(&path, feeds.path().join(&name)).unwrap();
        }
    }
    let started = std::time::Instant::now();
    let o = run(&f.db, &["db", "import", p(feeds.path())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let findings = loop {
        let (_, list) = get(&format!("{url}/api/v1/findings"), rxa).await;
        let n = list["findings"].as_array().unwrap().len();
        if n == 2 {
            break list;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "no findings after 30 s: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    eprintln!("import to findings and alerts: {:?}", started.elapsed());
    assert!(
        findings["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["priority"] == "immediate")
    );

    // CISA's own KEV entry (with its due date; the CVE record's ADP container gave only the
    // date added) changes no priority, already immediate, but reaches the findings all the same.
    assert!(
        findings["findings"][0]["finding"]["kev"]["due_date"].is_null(),
        "{findings}"
    );
    let kev = tempfile::tempdir().unwrap();
    std::fs::copy(
        demo_feeds().join("kev-subset.json"),
        kev.path().join("kev.json"),
    )
    .unwrap();
    assert!(
        run(&f.db, &["db", "import", p(kev.path())])
            .status
            .success()
    );
    let started = std::time::Instant::now();
    loop {
        let (_, list) = get(&format!("{url}/api/v1/findings"), rxa).await;
        let listed = list["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["finding"]["kev"]["due_date"].is_string())
            .count();
        if listed == 2 {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "KEV not in the findings: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Records about products no member runs touch no asset.
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(
        demo_feeds().join("nvd-CVE-2021-44228.json"),
        other.path().join("log4j.json"),
    )
    .unwrap();
    let rematches = |audit: &Value| {
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "findings.rematch")
            .count()
    };
    let (_, audit) = get(&format!("{url}/api/v1/audit"), &f.central).await;
    let before = rematches(&audit);
    assert!(
        run(&f.db, &["db", "import", p(other.path())])
            .status
            .success()
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let (_, audit) = get(&format!("{url}/api/v1/audit"), &f.central).await;
    assert_eq!(rematches(&audit), before);
    let alert = alert_of(&url, &f.central, "rxa", "CVE-2025-4427").await;
    assert_eq!(alert["state"], "open", "{alert}");
    assert_eq!(alert["origin"], "automatic");

    // rxb's Jinja2 asset was not touched by any of it.
    let (_, audit) = get(&format!("{url}/api/v1/audit"), &f.central).await;
    let rematched: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "findings.rematch")
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert!(!rematched.is_empty());
    assert!(
        rematched.iter().all(|t| *t == format!("asset:{a}")),
        "{rematched:?}"
    );
    assert_eq!(run(&f.db, &["audit", "verify"]).status.code(), Some(0));
}

/// A webhook receiver on loopback: records every request (headers it cares about and body),
/// answers after `delay`, with 500 for the first `fail_first` requests.
#[derive(Clone, Debug)]
struct Received {
    key: String,
    event: String,
    signature: String,
    body: Vec<u8>,
}

/// The tests' receivers listen on loopback, which a server reaches only when allowed.
const LOOPBACK: &str = "127.0.0.0/8";

struct Receiver {
    url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(delay: std::time::Duration, fail_first: usize) -> Self {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Received>::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            let mut served = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let header_end = loop {
                    let Ok(n) = stream.read(&mut chunk) else {
                        break None;
                    };
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i + 4);
                    }
                };
                let Some(header_end) = header_end else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..header_end]).to_lowercase();
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
                        .unwrap_or_default()
                };
                let len: usize = header("content-length").parse().unwrap_or(0);
                while buf.len() < header_end + len {
                    let Ok(n) = stream.read(&mut chunk) else {
                        break;
                    };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                std::thread::sleep(delay);
                served += 1;
                let status = if served <= fail_first {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .as_bytes(),
                );
                if served > fail_first {
                    sink.lock().unwrap().push(Received {
                        key: header("idempotency-key"),
                        event: header("x-ward-event"),
                        signature: header("x-ward-signature"),
                        body: buf[header_end..header_end + len.min(buf.len() - header_end)]
                            .to_vec(),
                    });
                }
            }
        });
        Self { url, got }
    }

    fn keys(&self) -> std::collections::BTreeSet<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.key.clone())
            .collect()
    }
}

const SECRET: &str = "whsec-0123456789abcdef";

/// Issues a high severity alert for both EPMM CVEs to every member (none has an inventory:
/// all are asked to confirm exposure): two alerts per member.
async fn issue_to_everyone(url: &str, analyst: &str) -> usize {
    let (status, body) = post(
        &format!("{url}/api/v1/alerts/issue"),
        analyst,
        serde_json::to_vec(&json!({"vulnerabilities": ["CVE-2025-4427", "CVE-2025-4428"]}))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["alerts"].as_array().unwrap().len()
}

async fn webhooks_are_signed_retried_and_syslog_speaks_rfc_5424(db: TestDb) {
    let f = federation(db);
    assert!(
        run(&f.db, &["db", "import", p(&demo_feeds())])
            .status
            .success()
    );
    let server = Server::start_with(&f.db, &["--allow-targets", LOOPBACK]);
    let url = server.url.clone();
    // The first request fails: it is retried (backoff) and delivered.
    let receiver = Receiver::start(std::time::Duration::ZERO, 1);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();

    // Channels: admins only; a webhook needs a real secret; the secret is never returned.
    let body = json!({"kind": "webhook", "target": receiver.url, "secret": SECRET});
    assert_eq!(
        post(
            &format!("{url}/api/v1/channels"),
            &f.analyst,
            serde_json::to_vec(&body).unwrap()
        )
        .await
        .0,
        403
    );
    let (status, answer) = post(
        &format!("{url}/api/v1/channels"),
        &f.central,
        br#"{"kind":"webhook","target":"http://x/","secret":"short"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    let (status, answer) = post(
        &format!("{url}/api/v1/channels"),
        &f.central,
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert!(!answer.to_string().contains(SECRET));
    let syslog =
        json!({"kind": "syslog", "target": format!("udp://{}", udp.local_addr().unwrap())});
    let (status, answer) = post(
        &format!("{url}/api/v1/channels"),
        &f.rxa[0].1,
        serde_json::to_vec(&syslog).unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let (_, list) = get(&format!("{url}/api/v1/channels"), &f.rxb[0].1).await;
    assert_eq!(
        list["channels"],
        json!([]),
        "rxb sees another member's channel"
    );

    let issued = issue_to_everyone(&url, &f.analyst).await;
    assert_eq!(issued, 4);
    // Syslog: rxa's two alerts, RFC 5424, UDP.
    let mut buf = [0u8; 65536];
    for _ in 0..2 {
        let (n, _) = udp.recv_from(&mut buf).unwrap();
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(line.starts_with("<132>1 "), "{line}");
        assert!(
            line.contains(" ward ") && line.contains(" alert.issue [ward@32473 key=\""),
            "{line}"
        );
        assert!(line.contains("\"organisation\":\"rxa\""), "{line}");
    }
    // Webhooks: the central channel hears all four, each signed over its exact body.
    let started = std::time::Instant::now();
    while receiver.keys().len() < issued {
        assert!(
            started.elapsed().as_secs() < 30,
            "only {:?}",
            receiver.keys()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for r in receiver.got.lock().unwrap().iter() {
        assert_eq!(r.event, "alert.issue");
        assert_eq!(r.signature, ward_server::notify::signature(SECRET, &r.body));
        let payload: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(payload["event"], "alert.issue");
        assert_eq!(payload["version"], 1);
        assert!(
            payload["alert"]["subject"]
                .as_str()
                .unwrap()
                .starts_with("CVE-2025-442")
        );
    }

    // More kinds of event: rxa answers one alert "we run it" and the other "not affected".
    let (_, mine) = get(&format!("{url}/api/v1/alerts"), &f.rxa[0].1).await;
    let ids: Vec<String> = mine["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].to_string())
        .collect();
    let (status, body) = post(
        &format!("{url}/api/v1/alerts/{}/running", ids[0]),
        &f.rxa[0].1,
        br#"{"justification": "12.5.0.0"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["alert"]["answer"], "runs version 12.5.0.0");
    let (status, body) = post(
        &format!("{url}/api/v1/alerts/{}/not-affected", ids[1]),
        &f.rxa[0].1,
        br#"{"justification": "component_not_present"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    while receiver.keys().len() < issued + 2 {
        assert!(started.elapsed().as_secs() < 30, "{:?}", receiver.keys());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Every delivery is valid against the documented schema (`docs/events.schema.json`).
    let bodies: Vec<Value> = receiver
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let events: std::collections::BTreeSet<&str> = bodies
        .iter()
        .map(|b| b["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events.into_iter().collect::<Vec<_>>(),
        ["alert.acknowledge", "alert.issue", "alert.not-affected"]
    );
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/events.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    validate_events(&schema, &bodies);
    // And the schema catches a delivery that is not of the shape.
    let mut wrong = bodies[0].clone();
    wrong["alert"]["state"] = json!("shut");
    let result = std::panic::catch_unwind(|| validate_events(&schema, &[wrong]));
    assert!(
        result.is_err(),
        "an alert in an unknown state passed the schema"
    );
}

/// Validates notification bodies against a JSON Schema with Python's `jsonschema` (Draft
/// 2020-12, the reference implementation), panicking with its errors.
fn validate_events(schema: &Value, bodies: &[Value]) {
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
given = json.load(sys.stdin)
validator = Draft202012Validator(given["schema"])
errors = [f"{i}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
          for i, b in enumerate(given["bodies"]) for e in validator.iter_errors(b)]
print("\n".join(errors))
sys.exit(1 if errors else 0)
"#;
    let input = serde_json::to_vec(&json!({"schema": schema, "bodies": bodies})).unwrap();
    if let Some((ok, out, err)) = ward_testdata::python(&["jsonschema"], script, &input) {
        assert!(ok, "{out}{err}");
    }
}

/// At least once across crashes: the server is killed with SIGKILL while notifications are
/// being delivered to a slow receiver, restarted, and every notification arrives.
async fn no_notification_is_lost_when_the_server_is_killed_mid_delivery(db: TestDb) {
    let f = federation(db);
    assert!(
        run(&f.db, &["db", "import", p(&demo_feeds())])
            .status
            .success()
    );
    for i in 0..10 {
        admin(
            &f.db,
            &[
                "org",
                "create",
                &format!("trust-{i}"),
                &format!("Trust {i}"),
            ],
        );
    }
    let receiver = Receiver::start(std::time::Duration::from_millis(150), 0);
    let mut server = Server::start_with(
        &f.db,
        &["--delivery-hold", "2", "--allow-targets", LOOPBACK],
    );
    let url = server.url.clone();
    let body = json!({"kind": "webhook", "target": receiver.url, "secret": SECRET});
    assert_eq!(
        post(
            &format!("{url}/api/v1/channels"),
            &f.central,
            serde_json::to_vec(&body).unwrap()
        )
        .await
        .0,
        201
    );
    let issued = issue_to_everyone(&url, &f.analyst).await;
    assert_eq!(issued, 24);
    // Kill it mid-delivery: some delivered, the rest not.
    let started = std::time::Instant::now();
    while receiver.keys().len() < 3 {
        assert!(started.elapsed().as_secs() < 30);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // SIGKILL: no chance to finish anything.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let at_kill = receiver.keys().len();
    assert!(
        at_kill < issued,
        "everything was delivered before the kill ({at_kill})"
    );

    let _restarted = Server::start_with(
        &f.db,
        &["--delivery-hold", "2", "--allow-targets", LOOPBACK],
    );
    let started = std::time::Instant::now();
    while receiver.keys().len() < issued {
        assert!(
            started.elapsed().as_secs() < 60,
            "lost notifications: {} of {issued} after restart",
            receiver.keys().len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let total = receiver.got.lock().unwrap().len();
    eprintln!(
        "{issued} notifications: {at_kill} before SIGKILL, all after restart; {total} requests (duplicates: {})",
        total - issued
    );
    assert_eq!(receiver.keys().len(), issued);
}

/// `ward ARGS` with `stdin` as its standard input (a password).
fn run_with_stdin(db: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .env("WARD_DB", db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `ward admin user create` of a member admin of rxa, the password on stdin.
fn create_user(db: &str, email: &str, password: &str) -> std::process::Output {
    run_with_stdin(
        db,
        &[
            "admin",
            "user",
            "create",
            "--org",
            "rxa",
            "--email",
            email,
            "--role",
            "member-admin",
        ],
        &format!("{password}\n"),
    )
}

async fn people_sign_in_with_a_password_sessions_need_csrf_and_guessing_is_throttled(db: TestDb) {
    let f = federation(db);
    let create = |email: &str, password: &str| create_user(&f.db, email, password);
    let o = create("lead@rxa.example", "short");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 12 characters"));
    assert!(
        create("Lead@RXA.example", "correct horse battery staple")
            .status
            .success()
    );
    // Stored as Argon2id, never in clear.
    let hash = f.test_db.scalar("SELECT password_hash FROM user_account");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");

    let server = Server::start(&f.db);
    let url = server.url.clone();
    let login = |email: &'static str, password: &'static str| {
        let url = url.clone();
        async move {
            client()
                .post(format!("{url}/api/v1/login"))
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    let r = login("lead@rxa.example", "wrong password!").await;
    assert_eq!(r.status().as_u16(), 401);
    let r = login("lead@rxa.example", "correct horse battery staple").await;
    assert_eq!(r.status().as_u16(), 200);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let session = set_cookie.split(';').next().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(body["organisation"]["slug"], "rxa");

    // The cookie reads; a change needs the CSRF token too.
    let me = client()
        .get(format!("{url}/api/v1/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200);
    let asset = json!({"name": "from-the-browser"});
    let r = client()
        .post(format!("{url}/api/v1/assets"))
        .header("cookie", &session)
        .json(&asset)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("CSRF"));
    let r = client()
        .post(format!("{url}/api/v1/assets"))
        .header("cookie", &session)
        .header("x-csrf-token", "0".repeat(64))
        .json(&asset)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = client()
        .post(format!("{url}/api/v1/assets"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&asset)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let (_, audit) = get(&format!("{url}/api/v1/audit"), &f.central).await;
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "user:lead@rxa.example@rxa" && e["action"] == "asset.create")
    );

    // Logging out ends the session.
    let r = client()
        .post(format!("{url}/api/v1/logout"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let me = client()
        .get(format!("{url}/api/v1/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 401);

    // Login CSRF: a sign-in form posted from another site is refused (and counts nothing).
    let r = client()
        .post(format!("{url}/login"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("email", "lead@rxa.example"),
            ("password", "correct horse battery staple"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.headers().get("set-cookie").is_none());

    // Guessing: after five failures even the right password is refused for a while (the
    // sign-in above cleared this address's earlier failure).
    for _ in 0..5 {
        assert_eq!(
            login("lead@rxa.example", "guess guess guess")
                .await
                .status()
                .as_u16(),
            401
        );
    }
    let r = login("lead@rxa.example", "correct horse battery staple").await;
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "900");
    // An unknown email is refused the same way as a wrong password.
    let r = login("nobody@rxa.example", "correct horse battery staple").await;
    assert!(matches!(r.status().as_u16(), 401 | 429));
}

async fn alerts_are_e_mailed_over_starttls_and_an_untrusted_relay_gets_nothing(db: TestDb) {
    let f = federation(db);
    assert!(
        run(&f.db, &["db", "import", p(&demo_feeds())])
            .status
            .success()
    );
    let pki = test_pki();
    let smtp = SmtpServer::start(&pki).await;
    let ca = f.test_db.dir().join("smtp-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let relay = format!("smtp://{}", smtp.addr);
    let from = "ward@nhs-england.example";

    // Without the relay's CA the certificate is not trusted: nothing is sent in clear.
    let server = Server::start_with(&f.db, &["--smtp", &relay, "--smtp-from", from]);
    let url = server.url.clone();
    for bad in [
        json!({"kind": "email", "target": "security@rxa.example, evil@attacker.example"}),
        json!({"kind": "email", "target": "security@rxa.example\r\nBcc: evil@attacker.example"}),
        json!({"kind": "email", "target": "nobody"}),
    ] {
        let (status, answer) = post(
            &format!("{url}/api/v1/channels"),
            &f.rxa[0].1,
            serde_json::to_vec(&bad).unwrap(),
        )
        .await;
        assert_eq!(status, 422, "{bad}: {answer}");
    }
    let (status, answer) = post(
        &format!("{url}/api/v1/channels"),
        &f.rxa[0].1,
        serde_json::to_vec(&json!({"kind": "email", "target": "security@rxa.example"})).unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(issue_to_everyone(&url, &f.analyst).await, 4);
    let started = std::time::Instant::now();
    while smtp
        .failed_handshakes
        .load(std::sync::atomic::Ordering::SeqCst)
        == 0
    {
        assert!(started.elapsed().as_secs() < 30, "no STARTTLS attempt");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The member sees how delivery goes; the central team also sees why.
    let (_, channels) = get(&format!("{url}/api/v1/channels"), &f.rxa[0].1).await;
    let channel = &channels["channels"][0];
    assert_eq!(channel["pending"], 2, "{channels}");
    assert_eq!(channel["delivery"], "failing", "{channels}");
    assert!(channel.get("last_error").is_none(), "{channels}");
    let (_, channels) = get(
        &format!("{url}/api/v1/channels?organisation=rxa"),
        &f.central,
    )
    .await;
    let channel = &channels["channels"][0];
    assert!(
        channel["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("SMTP") && e.to_lowercase().contains("certificate")),
        "{channels}"
    );
    assert!(smtp.mails().is_empty());
    drop(server);

    // With the CA: both of rxa's alerts arrive, over TLS, from and to the right addresses.
    let ca_arg = p(&ca).to_owned();
    let server = Server::start_with(
        &f.db,
        &["--smtp", &relay, "--smtp-from", from, "--smtp-ca", &ca_arg],
    );
    let started = std::time::Instant::now();
    while smtp.mails().len() < 2 {
        assert!(started.elapsed().as_secs() < 60, "only {:?}", smtp.mails());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let mails = smtp.mails();
    let mut subjects = Vec::new();
    for m in &mails {
        assert!(m.tls, "sent before STARTTLS");
        assert_eq!(m.from, from);
        assert_eq!(m.to, ["security@rxa.example"]);
        assert!(
            m.data.contains("From: ward@nhs-england.example\r\n"),
            "{}",
            m.data
        );
        assert!(
            m.data.contains("To: security@rxa.example\r\n"),
            "{}",
            m.data
        );
        assert!(m.data.contains("Message-ID: <"), "{}", m.data);
        assert!(m.data.contains("@nhs-england.example>"), "{}", m.data);
        assert!(
            m.data.contains("please confirm whether you run it"),
            "{}",
            m.data
        );
        let subject = m
            .data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap()
            .to_owned();
        subjects.push(subject);
    }
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "[Ward] High severity alert: CVE-2025-4427 (rxa)",
            "[Ward] High severity alert: CVE-2025-4428 (rxa)"
        ]
    );
    let (_, channels) = get(
        &format!("{server_url}/api/v1/channels", server_url = server.url),
        &f.rxa[0].1,
    )
    .await;
    assert_eq!(channels["channels"][0]["pending"], 0, "{channels}");
    assert_eq!(channels["channels"][0]["delivered"], 2, "{channels}");
}

async fn the_server_speaks_https_with_hsts_when_given_a_certificate(db: TestDb) {
    let f = federation(db);
    let pki = test_pki();
    let dir = f.test_db.dir().to_owned();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    let server = Server::start_with(&f.db, &["--tls-cert", p(&cert), "--tls-key", p(&key)]);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let response = trusting
        .get(format!("{}/api/v1/me", server.url))
        .bearer_auth(&f.central)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["organisation"]["slug"], "nhs-england", "{me}");
    // A client that does not trust the CA refuses the connection; plain HTTP is not served.
    let untrusting = reqwest::Client::new();
    assert!(
        untrusting
            .get(format!("{}/api/v1/health", server.url))
            .send()
            .await
            .is_err()
    );
    let plain = server.url.replacen("https://", "http://", 1);
    let answer = untrusting
        .get(format!("{plain}/api/v1/health"))
        .send()
        .await;
    assert!(answer.is_err() || !answer.unwrap().status().is_success());
    // A key that does not belong to the certificate is refused at start, with the file names.
    let other = test_pki();
    std::fs::write(&key, &other.key_pem).unwrap();
    let o = run(
        &f.db,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            p(&cert),
            "--tls-key",
            p(&key),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("key.pem"), "{}", stderr(&o));
}

/// The server's log: JSON lines, one access line per request carrying its id (echoed in
/// `X-Request-Id`), a refused delivery logged with its channel — and no password, token or
/// webhook secret anywhere in it, even at the most verbose level.
async fn the_log_has_request_ids_and_never_a_secret(db: TestDb) {
    let f = federation(db);
    let password = "correct horse battery staple 42";
    let o = create_user(&f.db, "ann@rxa.example", password);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("ward.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // Everything at trace level but the HTTP client's internals: the most a curious operator
    // could turn on.
    let server = Server::start_logging(
        &f.db,
        &["--log-format", "json"],
        "trace,hyper=info,hyper_util=info,h2=info,rustls=info",
        log,
    );
    let url = server.url.clone();
    let hook_secret = "hook-secret-0123456789abcdef";
    let client = client();
    // A request id the caller chose is echoed and logged; one is made for a request without.
    let r = client
        .get(format!("{url}/api/v1/me"))
        .bearer_auth(&f.central)
        .header("x-request-id", "trace-me-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "trace-me-4711");
    let r = client
        .get(format!("{url}/api/v1/health"))
        .send()
        .await
        .unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 32, "{made}");
    // A forged id with a line break is replaced.
    let r = client
        .get(format!("{url}/api/v1/health"))
        .header("x-request-id", "a\tb")
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["x-request-id"], "a\tb");
    // Logins, wrong and right; tokens; a channel with a secret whose delivery is refused.
    for attempt in ["wrong password 1", password] {
        let r = client
            .post(format!("{url}/api/v1/login"))
            .json(&json!({"email": "ann@rxa.example", "password": attempt}))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success() || r.status() == 401,
            "{}",
            r.status()
        );
    }
    let admin_token = &f.rxa[0].1;
    let (status, answer) = post(
        &format!("{url}/api/v1/channels"),
        admin_token,
        serde_json::to_vec(
            &json!({"kind": "webhook", "target": "https://localhost/hook/s3cr3t-path", "secret": hook_secret}),
        )
        .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert!(
        run(&f.db, &["db", "import", p(&demo_feeds())])
            .status
            .success()
    );
    issue_to_everyone(&url, &f.analyst).await;
    // The refused delivery reaches the log.
    let started = std::time::Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log_path).unwrap();
        if text.contains("delivery failed") {
            break text;
        }
        assert!(
            started.elapsed().as_secs() < 20,
            "no delivery failure logged:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    drop(server);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    let access = lines
        .iter()
        .find(|l| l["message"] == "request" && l["span"]["id"] == "trace-me-4711")
        .unwrap_or_else(|| panic!("no access line for the chosen id:\n{text}"));
    assert_eq!(access["span"]["path"], "/api/v1/me");
    assert_eq!(access["status"], 200);
    let refused = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("delivery failed"))
        })
        .unwrap();
    assert_eq!(refused["refused"], true, "{refused}");
    for secret in [
        password,
        "wrong password 1",
        hook_secret,
        "s3cr3t-path",
        f.central.as_str(),
        f.analyst.as_str(),
        admin_token.as_str(),
    ] {
        assert!(!text.contains(secret), "the log holds {secret:?}");
    }
}

/// Feeds imported over HTTP are bounded by the server's own limits (`ward serve
/// --max-document/--max-archive`): past them the import is refused naming the file, the limit
/// and the flag, and nothing is stored; within them it imports.
async fn http_imports_keep_to_the_servers_limits(db: TestDb) {
    let f = federation(db);
    let name = "cve5-CVE-2025-4427.json";
    let feed = std::fs::read(demo_feeds().join(name)).unwrap();
    assert!(feed.len() > 2048);
    let imports = |url: &str| format!("{url}/api/v1/knowledge/imports?filename={name}");
    let strict = Server::start_with(&f.db, &["--max-document", "2KiB"]);
    let (status, body) = post(&imports(&strict.url), &f.central, feed.clone()).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"].as_str().unwrap_or_default();
    for word in [name, "2 KiB", "--max-document"] {
        assert!(message.contains(word), "{word:?} not in {message:?}");
    }
    let (_, audit) = get(&format!("{}/api/v1/audit", strict.url), &f.central).await;
    assert!(
        !audit.to_string().contains("knowledge.import"),
        "a refused import is not recorded as one: {audit}"
    );
    drop(strict);
    let roomy = Server::start_with(&f.db, &["--max-document", "1MiB"]);
    let (status, body) = post(&imports(&roomy.url), &f.central, feed).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["import"]["committed"], true, "{body}");
}

/// `ward admin user list|disable|reset-password`: a disabled user's session ends and they
/// cannot sign in; a new password replaces the old one, ends sessions and enables the account
/// again; each is in the audit log under the operator's name, without the hash.
async fn people_are_listed_disabled_and_given_new_passwords(db: TestDb) {
    let f = federation(db);
    assert!(
        create_user(&f.db, "lead@rxa.example", "correct horse battery staple")
            .status
            .success()
    );
    let listed = run(
        &f.db,
        &["admin", "user", "list", "--org", "rxa", "--format", "json"],
    );
    assert!(listed.status.success(), "{}", stderr(&listed));
    let users: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(users["users"][0]["email"], "lead@rxa.example", "{users}");
    assert!(users["users"][0].get("disabled_at").is_none(), "{users}");
    let none = run(&f.db, &["admin", "user", "list", "--org", "rxb"]);
    assert!(none.status.success() && none.stdout.is_empty());

    let server = Server::start(&f.db);
    let url = server.url.clone();
    let login = |password: &'static str| {
        let url = url.clone();
        async move {
            client()
                .post(format!("{url}/api/v1/login"))
                .json(&json!({"email": "lead@rxa.example", "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    let me = |cookie: String| {
        let url = url.clone();
        async move {
            client()
                .get(format!("{url}/api/v1/me"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let cookie = |r: &reqwest::Response| {
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let r = login("correct horse battery staple").await;
    assert_eq!(r.status().as_u16(), 200);
    let session = cookie(&r);
    assert_eq!(me(session.clone()).await, 200);

    let o = run(
        &f.db,
        &["admin", "user", "disable", "--email", "lead@rxa.example"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(me(session).await, 401, "the session ended");
    assert_eq!(
        login("correct horse battery staple")
            .await
            .status()
            .as_u16(),
        401
    );
    let listed = run(&f.db, &["admin", "user", "list", "--format", "json"]);
    let users: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(users["users"][0]["disabled_at"].is_string(), "{users}");

    let reset = |password: &str| {
        run_with_stdin(
            &f.db,
            &[
                "admin",
                "user",
                "reset-password",
                "--email",
                "lead@rxa.example",
            ],
            &format!("{password}\n"),
        )
    };
    let o = reset("password1234");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("too easy to guess"), "{}", stderr(&o));
    let o = reset("violet tugboat marmalade quorum");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        login("correct horse battery staple")
            .await
            .status()
            .as_u16(),
        401
    );
    let r = login("violet tugboat marmalade quorum").await;
    assert_eq!(
        r.status().as_u16(),
        200,
        "enabled again with the new password"
    );

    let o = run(
        &f.db,
        &["admin", "user", "disable", "--email", "nobody@rxa.example"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nobody@rxa.example"), "{}", stderr(&o));

    let (_, audit) = get(&format!("{url}/api/v1/audit"), &f.central).await;
    let entries = audit["entries"].as_array().unwrap();
    for action in ["user.disable", "user.reset-password"] {
        let e = entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {audit}"));
        assert!(e["actor"].as_str().unwrap().starts_with("cli:"), "{e}");
    }
    assert!(
        !audit.to_string().contains("argon2"),
        "a hash in the audit log"
    );
}

/// Validates a VEX document Ward served against its format's official schema: OpenVEX (the
/// shared data's schema), CycloneDX 1.5 (the reference library), CSAF 2.0 (OASIS, via csaf-lib).
fn valid_vex(format: &str, doc: &Value) {
    let bytes = doc.to_string().into_bytes();
    let outcome = match format {
        "openvex" => {
            let Some(schema) = ward_testdata::shared("vex/openvex_json_schema.json") else {
                return;
            };
            let script = format!(
                "import json, sys\nfrom jsonschema import Draft202012Validator\nschema = json.load(open({:?}))\nDraft202012Validator(schema).validate(json.load(sys.stdin))\n",
                p(&schema)
            );
            ward_testdata::python(&["jsonschema"], &script, &bytes)
        }
        "cyclonedx" => ward_testdata::python(
            &["cyclonedx.validation.json"],
            "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\nerr = JsonStrictValidator(SchemaVersion.V1_5).validate_str(sys.stdin.read())\nif err: sys.exit(str(err))\n",
            &bytes,
        ),
        _ => ward_testdata::python(
            &["jsonschema", "referencing", "csaf_lib"],
            include_str!("reference/csaf_schema_check.py"),
            &bytes,
        ),
    };
    if let Some((ok, _, err)) = outcome {
        assert!(ok, "{format} is invalid: {err}\n{doc}");
    }
}

/// VEX in and out through the server (#21): a member's not-affected answer exported as
/// OpenVEX, CycloneDX VEX and CSAF VEX (each valid against its schema) and read back by
/// `ward scan --vex`, clearing the same finding; a central statement with a mitigation and a
/// deadline reaching the members' findings and alerts (through the outbox); a central
/// not-affected statement under a condition resolving findings that name it, revoked and
/// matched again; uploaded VEX documents per member; scope and roles kept.
async fn vex_in_and_out_through_the_server(db: TestDb) {
    let f = federation(db);
    let o = run(&f.db, &["db", "import", p(&demo_feeds())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let server = Server::start(&f.db);
    let url = server.url.clone();
    let rxa = &f.rxa[0].1;
    let rxb = &f.rxb[0].1;
    for token in [rxa, rxb] {
        let id = create_asset(&url, token, "mdm-01").await;
        let (status, body) = post(
            &format!("{url}/api/v1/assets/{id}/inventory?filename=epmm.csv"),
            token,
            epmm_csv("12.5.0.0"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }

    // rxa: CVE-2025-4428 does not apply (a VEX justification).
    let alert = alert_of(&url, &f.central, "rxa", "CVE-2025-4428").await;
    let (status, body) = post(
        &format!("{url}/api/v1/alerts/{}/not-affected", alert["id"]),
        rxa,
        br#"{"justification":"vulnerable_code_not_in_execute_path"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Exported in the three formats, each valid; only rxa's decisions in rxa's export.
    for format in ["openvex", "cyclonedx", "csaf"] {
        let (status, doc) = get(&format!("{url}/api/v1/vex?format={format}"), rxa).await;
        assert_eq!(status, 200, "{doc}");
        valid_vex(format, &doc);
        assert!(!doc.to_string().contains("Borough General"), "{doc}");
    }
    let (status, _) = get(&format!("{url}/api/v1/vex?format=spdx"), rxa).await;
    assert_eq!(status, 400);
    let (_, openvex) = get(&format!("{url}/api/v1/vex?format=openvex"), rxa).await;
    let statements = openvex["statements"].as_array().unwrap();
    let cleared = statements
        .iter()
        .find(|s| s["vulnerability"]["name"] == "CVE-2025-4428")
        .expect("the not-affected answer");
    assert_eq!(cleared["status"], "not_affected");
    assert_eq!(
        cleared["justification"],
        "vulnerable_code_not_in_execute_path"
    );
    assert_eq!(cleared["supplier"], "Royal Example Hospital");
    let still = statements
        .iter()
        .find(|s| s["vulnerability"]["name"] == "CVE-2025-4427")
        .expect("the open alert, as affected");
    assert_eq!(still["status"], "affected");
    // Round trip: read back by `ward scan --vex`, the same finding is cleared, the other kept.
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("rxa.openvex.json");
    std::fs::write(&exported, openvex.to_string()).unwrap();
    let inventory = dir.path().join("epmm.csv");
    std::fs::write(&inventory, epmm_csv("12.5.0.0")).unwrap();
    let o = run(
        &f.db,
        &[
            "scan",
            "--format",
            "json",
            "--vex",
            p(&exported),
            p(&inventory),
        ],
    );
    assert!(
        o.status.success() || o.status.code() == Some(1),
        "{}",
        stderr(&o)
    );
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let found: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["vulnerability"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["CVE-2025-4427"], "{report}");
    assert_eq!(report["suppressed"][0]["vulnerability"], "CVE-2025-4428");

    // The central team: a mitigation for CVE-2025-4427 with a recommended deadline.
    let mitigation = json!({
        "vulnerability": "CVE-2025-4427",
        "products": ["cpe:2.3:a:ivanti:endpoint_manager_mobile:*:*:*:*:*:*:*:*"],
        "status": "affected",
        "action": "Restrict access to the /mifs API to trusted networks until patched",
        "action_category": "mitigation",
        "remediate_by": "2025-05-30T17:00:00Z",
        "references": ["https://forums.ivanti.com/s/article/Security-Advisory-Ivanti-Endpoint-Manager-Mobile-EPMM"],
    });
    let (status, body) = post(
        &format!("{url}/api/v1/vex/statements"),
        rxa,
        serde_json::to_vec(
            &json!({"organisation": "rxb", "vulnerability": "CVE-2025-4427", "status": "fixed"}),
        )
        .unwrap(),
    )
    .await;
    assert_eq!(status, 403, "a member speaks only for itself: {body}");
    let (status, body) = post(
        &format!("{url}/api/v1/vex/statements"),
        &f.analyst,
        serde_json::to_vec(&mitigation).unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["members_told"], 2, "{body}");
    let first = body["statements"][0]["id"].as_i64().unwrap();
    let rxb_alert = alert_of(&url, &f.central, "rxb", "CVE-2025-4427").await;
    assert!(
        rxb_alert["note"]
            .as_str()
            .unwrap()
            .contains("mitigation: Restrict access to the /mifs API"),
        "{rxb_alert}"
    );
    let (_, list) = get(&format!("{url}/api/v1/findings"), rxb).await;
    let notes = list["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["vulnerability"] == "CVE-2025-4427")
        .unwrap()["finding"]["explanation"]["notes"]
        .to_string();
    assert!(
        notes.contains("says affected; action: mitigation"),
        "{notes}"
    );
    // The members see it; a member cannot revoke it.
    let (_, seen) = get(&format!("{url}/api/v1/vex/statements"), rxb).await;
    assert_eq!(seen["statements"].as_array().unwrap().len(), 1, "{seen}");
    let (status, _) = post(
        &format!("{url}/api/v1/vex/statements/{first}/revoke"),
        rxb,
        vec![],
    )
    .await;
    assert_eq!(status, 404);

    // A central not-affected statement under a condition, for rxb only: rxb's CVE-2025-4428
    // finding is resolved naming it; revoked, it is matched again and reopens.
    let condition = json!({
        "organisation": "rxb",
        "vulnerability": "CVE-2025-4428",
        "status": "not_affected",
        "justification": "vulnerable_code_cannot_be_controlled_by_adversary",
        "impact": "Not exploitable while the admin portal is not reachable from the internet",
    });
    let (status, body) = post(
        &format!("{url}/api/v1/vex/statements"),
        &f.analyst,
        serde_json::to_vec(&condition).unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["matching"]["resolved"], 1, "{body}");
    let conditional = body["statements"][0]["id"].as_i64().unwrap();
    let (_, open) = get(&format!("{url}/api/v1/findings"), rxb).await;
    assert!(
        !open.to_string().contains("CVE-2025-4428"),
        "rxb's CVE-2025-4428 is cleared: {open}"
    );
    let (_, all) = get(&format!("{url}/api/v1/findings?resolved=true"), rxb).await;
    let gone = all["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["vulnerability"] == "CVE-2025-4428")
        .unwrap();
    assert!(
        gone["resolution_reason"]
            .as_str()
            .unwrap()
            .contains(&format!("ward:statement:{conditional}")),
        "{gone}"
    );
    // rxa's is untouched (the statement was for rxb), and rxa does not see rxb's statement.
    let (_, theirs) = get(&format!("{url}/api/v1/vex/statements"), rxa).await;
    assert_eq!(
        theirs["statements"].as_array().unwrap().len(),
        1,
        "{theirs}"
    );
    let (status, body) = post(
        &format!("{url}/api/v1/vex/statements/{conditional}/revoke"),
        &f.analyst,
        vec![],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["matching"]["new"], 1, "{body}");
    let (_, open) = get(&format!("{url}/api/v1/findings"), rxb).await;
    assert!(open.to_string().contains("CVE-2025-4428"), "{open}");

    // A member uploads a supplier's VEX document for its own products.
    let supplier = json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.org/vex/epmm-2025-05",
        "author": "EPMM reseller PSIRT",
        "timestamp": "2025-05-20T10:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": "CVE-2025-4428"},
            "products": [{"@id": "cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*"}],
            "status": "not_affected",
            "justification": "inline_mitigations_already_exist"
        }]
    });
    let (status, _) = post(
        &format!("{url}/api/v1/vex"),
        &f.rxb[2].1,
        serde_json::to_vec(&supplier).unwrap(),
    )
    .await;
    assert_eq!(status, 403, "read-only");
    let (status, body) = post(
        &format!("{url}/api/v1/vex"),
        rxb,
        serde_json::to_vec(&supplier).unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["matching"]["resolved"], 1, "{body}");
    let (status, body) = post(
        &format!("{url}/api/v1/vex"),
        rxb,
        b"{\"not\": \"vex\"}".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // Every change is in the audit log.
    let (_, audit) = get(&format!("{url}/api/v1/audit"), &f.central).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in ["vex.publish", "vex.revoke", "alert.statement"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

ward_testdata::backend_tests!(
    vex_in_and_out_through_the_server,
    http_imports_keep_to_the_servers_limits,
    people_are_listed_disabled_and_given_new_passwords,
    a_rewritten_chain_is_caught_by_its_signed_checkpoint,
    the_log_has_request_ids_and_never_a_secret,
    the_audit_chain_shows_a_changed_or_deleted_entry,
    a_deleted_audit_entry_is_missed,
    a_members_hunt_reaches_the_central_team_as_a_possible_compromise_alert,
    hostile_text_is_stored_and_returned_verbatim_and_bad_reports_change_nothing,
    uploading_an_inventory_matches_it_and_a_fixed_one_resolves_the_findings,
    the_epmm_story_end_to_end,
    an_import_reaches_the_affected_members_within_seconds,
    webhooks_are_signed_retried_and_syslog_speaks_rfc_5424,
    no_notification_is_lost_when_the_server_is_killed_mid_delivery,
    people_sign_in_with_a_password_sessions_need_csrf_and_guessing_is_throttled,
    alerts_are_e_mailed_over_starttls_and_an_untrusted_relay_gets_nothing,
    the_server_speaks_https_with_hsts_when_given_a_certificate,
);

/// Waits (up to a minute) until `done` says the value `probe` returned is final.
async fn wait_until<F, Fut>(what: &str, mut probe: F, done: impl Fn(&Value) -> bool) -> Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let started = std::time::Instant::now();
    loop {
        let v = probe().await;
        if done(&v) {
            return v;
        }
        assert!(started.elapsed().as_secs() < 60, "{what}: still {v}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// A national service runs several `ward serve` behind a load balancer, on one PostgreSQL
/// database. Matching after an import, deadline checks and deliveries are each done once,
/// whichever server takes them; when one server is killed in the middle of it, the others
/// finish the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_one_postgres_alert_once_and_carry_on_when_one_is_killed() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let f = federation(db);
    let mut members: Vec<(String, String)> = vec![
        ("rxa".into(), f.rxa[0].1.clone()),
        ("rxb".into(), f.rxb[0].1.clone()),
    ];
    for i in 1..=4 {
        let slug = format!("m{i}");
        admin(&f.db, &["org", "create", &slug, "Member"]);
        let token = admin(
            &f.db,
            &[
                "token",
                "create",
                "--org",
                &slug,
                "--role",
                "member-admin",
                "--name",
                "admin",
            ],
        );
        members.push((slug, token));
    }
    let mut servers: Vec<Server> = (0..3)
        .map(|_| {
            Server::start_with(
                &f.db,
                &[
                    "--delivery-hold",
                    "20",
                    "--tick",
                    "1",
                    "--allow-targets",
                    LOOPBACK,
                ],
            )
        })
        .collect();
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();

    // The central team hears every member's alerts; each member's EPMM server is on record,
    // each through a different server (a load balancer spreads them).
    let receiver = Receiver::start(std::time::Duration::from_millis(20), 0);
    let (status, body) = post(
        &format!("{}/api/v1/channels", urls[0]),
        &f.central,
        serde_json::to_vec(&json!({"kind": "webhook", "target": receiver.url, "secret": SECRET}))
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    for (i, (_, token)) in members.iter().enumerate() {
        let url = &urls[i % 3];
        let asset = create_asset(url, token, "mdm-01").await;
        let (status, body) = post(
            &format!("{url}/api/v1/assets/{asset}/inventory?filename=epmm.csv"),
            token,
            epmm_csv("12.5.0.0"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let import = |cve: &str| {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("cve5-{cve}.json");
        std::fs::copy(demo_feeds().join(&name), dir.path().join(&name)).unwrap();
        let o = run(&f.db, &["db", "import", p(dir.path())]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let alerts = |url: String| {
        let central = f.central.clone();
        move || {
            let (url, central) = (url.clone(), central.clone());
            async move { get(&format!("{url}/api/v1/alerts"), &central).await.1 }
        }
    };
    let count = |v: &Value, cve: &str| {
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["subject"] == cve)
            .count()
    };
    let channel = |url: String| {
        let central = f.central.clone();
        move || {
            let (url, central) = (url.clone(), central.clone());
            async move {
                get(&format!("{url}/api/v1/channels"), &central).await.1["channels"][0].clone()
            }
        }
    };

    // All three servers up: the first CVE reaches all six members, once each.
    import("CVE-2025-4427");
    let list = wait_until("alerts for CVE-2025-4427", alerts(urls[1].clone()), |v| {
        count(v, "CVE-2025-4427") >= 6
    })
    .await;
    assert_eq!(count(&list, "CVE-2025-4427"), 6, "{list}");
    let ch = wait_until("deliveries", channel(urls[2].clone()), |c| {
        c["pending"] == 0 && c["delivered"].as_i64().unwrap_or(0) >= 6
    })
    .await;
    let delivered = ch["delivered"].as_i64().unwrap() as usize;
    let received: Vec<String> = receiver
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.key.clone())
        .collect();
    assert_eq!(
        received.len(),
        delivered,
        "each notification once: {received:?}"
    );
    assert_eq!(receiver.keys().len(), delivered, "{received:?}");

    // The second CVE lands and a server is killed straight away, perhaps in the middle of
    // matching it or of delivering: the other two finish.
    import("CVE-2025-4428");
    let killed = servers.remove(0);
    drop(killed);
    let list = wait_until("alerts for CVE-2025-4428", alerts(urls[2].clone()), |v| {
        count(v, "CVE-2025-4428") >= 6
    })
    .await;
    assert_eq!(count(&list, "CVE-2025-4428"), 6, "{list}");
    assert_eq!(count(&list, "CVE-2025-4427"), 6, "{list}");
    let ch = wait_until("deliveries after the kill", channel(urls[1].clone()), |c| {
        c["pending"] == 0 && c["delivered"].as_i64().unwrap_or(0) >= 12
    })
    .await;
    // Every notification arrived; one the killed server had sent but not recorded may come
    // twice, with the same idempotency key for the receiver to drop.
    let keys = receiver.keys();
    assert_eq!(keys.len() as i64, ch["delivered"].as_i64().unwrap(), "{ch}");
    assert_eq!(
        f.test_db.scalar("SELECT COUNT(*)::text FROM outbox"),
        keys.len().to_string()
    );

    // One alert per member and CVE, each created once in the audit chain, which is intact.
    assert_eq!(f.test_db.scalar("SELECT COUNT(*)::text FROM alert"), "12");
    assert_eq!(
        f.test_db
            .scalar("SELECT COUNT(*)::text FROM audit_log WHERE action = 'alert.raise'"),
        "12"
    );
    assert_eq!(run(&f.db, &["audit", "verify"]).status.code(), Some(0));
    drop(servers);
}
