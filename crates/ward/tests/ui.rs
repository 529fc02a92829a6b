//! The web UI in a real headless Chromium (Debian's `chromium` and `chromedriver`), driven over
//! WebDriver: the central team issues the EPMM alert, an affected member sees it and
//! acknowledges it, and the central team's page shows it without a reload. Without
//! chromedriver the browser tests say so and pass, unless `CI` is set (CI installs it).
//!
//! `WARD_SCREENSHOTS=docs/screenshots cargo test -p ward --test ui` saves the main pages.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, admin, p, run, stderr, token};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use ward_testdata::TestDb;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ward serve` on a free port; the URL uses `localhost`, which browsers treat as a secure
/// context (the session cookie is `Secure`).
fn serve(db: &str) -> (Server, String) {
    let server = Server::start(db);
    let url = server.url.replace("127.0.0.1", "localhost");
    (server, url)
}

fn chromedriver() -> Option<PathBuf> {
    let found = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser tests: install chromium and chromium-driver"
        );
        eprintln!(
            "skipped: chromedriver is not installed (apt-get install chromium chromium-driver)"
        );
    }
    found
}

/// The federation served, and chromedriver ready (`None`: not installed, outside CI).
fn browsing(db: TestDb) -> Option<(TestDb, Server, String, Driver)> {
    let binary = chromedriver()?;
    federation(&db);
    let (server, url) = serve(db.location());
    Some((db, server, url, Driver::start(&binary)))
}

/// chromedriver on a free port, and a way to open browsers (each its own profile: its own
/// cookies).
struct Driver {
    _process: Killed,
    url: String,
}

impl Driver {
    fn start(binary: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            _process: Killed(process),
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn browser(&self, width: u32) -> Client {
        let mut caps = serde_json::Map::new();
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     format!("--window-size={width},900")],
        });
        if Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        caps.insert("goog:chromeOptions".into(), options);
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

async fn sign_in(c: &Client, url: &str, email: &str) {
    c.goto(&format!("{url}/login")).await.unwrap();
    type_into(c, "#email", email).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css("header.top"))
        .await
        .unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn type_into(c: &Client, css: &str, keys: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(keys)
        .await
        .unwrap();
}

async fn follow(c: &Client, link: &str) {
    c.find(Locator::LinkText(link))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn wait_for(c: &Client, css: &str) {
    c.wait().for_element(Locator::Css(css)).await.unwrap();
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Every visible form control has a label (WCAG 1.3.1 / 4.1.2).
async fn assert_labelled(c: &Client) {
    let unlabelled = c
        .execute(
            "return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
                .filter(e => e.labels.length === 0).map(e => e.name || e.id);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "controls without a label");
}

/// The page fits the window's width (tables may scroll inside their own box).
async fn assert_fits(c: &Client) {
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .unwrap();
    let url = c.current_url().await.unwrap();
    assert_eq!(overflow, json!(false), "{url} scrolls sideways");
}

async fn screenshot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("WARD_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{name}.png")),
            c.screenshot().await.unwrap(),
        )
        .unwrap();
    }
}

const PASSWORD: &str = "correct horse battery staple";

/// Runs `ward admin …`; its standard output (a token's secret, for `token create`).
fn user(db: &str, org: &str, email: &str, role: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args([
            "admin", "user", "create", "--org", org, "--email", email, "--role", role,
        ])
        .env("WARD_DB", db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(child.wait().unwrap().success());
}

/// A federation: the central team, rxa (runs EPMM 12.5.0.0, uploaded through the UI) and rxb
/// (no inventory: asked to confirm), the demo feeds imported.
fn federation(test_db: &TestDb) {
    let db = test_db.location();
    admin(
        db,
        &["init", "--slug", "nhs-england", "--name", "NHS England"],
    );
    admin(db, &["org", "create", "rxa", "Royal Example Hospital"]);
    admin(db, &["org", "create", "rxb", "Borough General"]);
    user(db, "nhs-england", "analyst@nhs.example", "central-analyst");
    user(db, "nhs-england", "admin@nhs.example", "central-admin");
    user(db, "rxa", "lead@rxa.example", "member-admin");
    let feeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/feeds");
    assert!(run(db, &["db", "import", p(&feeds)]).status.success());
}

async fn the_epmm_alert_in_the_browser(db: TestDb) {
    let Some((db, _server, url, driver)) = browsing(db) else {
        return;
    };

    // The member records its MDM server and uploads its inventory through the forms.
    let member = driver.browser(1280).await;
    sign_in(&member, &url, "lead@rxa.example").await;
    assert_eq!(member.current_url().await.unwrap().path(), "/");
    assert_eq!(
        text(&member, "h1").await,
        "What is asked of Royal Example Hospital"
    );
    member.goto(&format!("{url}/assets")).await.unwrap();
    assert_labelled(&member).await;
    type_into(&member, "#name", "mdm-01").await;
    click(&member, "#exposure option[value=open]").await;
    click(&member, "#criticality option[value=very-high]").await;
    click(&member, "form[action='/assets'] button").await;
    wait_for(&member, "#file").await;
    // A malformed file first: each error is shown and nothing changes.
    let bad = db.dir().join("broken.csv");
    std::fs::write(&bad, "asset,vendor,product,version\nmdm-01,ivanti\n").unwrap();
    type_into(&member, "#file", p(&bad)).await;
    click(&member, "form[enctype] button").await;
    let errors = member
        .wait()
        .for_element(Locator::Id("upload-errors"))
        .await
        .unwrap();
    let shown = errors.text().await.unwrap();
    assert!(shown.contains("broken.csv"), "{shown}");
    assert!(shown.to_lowercase().contains("line"), "{shown}");
    let good = db.dir().join("mdm-01.csv");
    std::fs::write(
        &good,
        "asset,vendor,product,version,cpe,purl,exposure,criticality\n\
         mdm-01,ivanti,endpoint_manager_mobile,12.5.0.0,cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*,,open,very-high\n",
    )
    .unwrap();
    type_into(&member, "#file", p(&good)).await;
    click(&member, "form[enctype] button").await;
    let result = member
        .wait()
        .for_element(Locator::Id("upload-result"))
        .await
        .unwrap();
    assert!(
        result.text().await.unwrap().contains("2 new"),
        "{}",
        result.text().await.unwrap()
    );

    // The central analyst finds the CVE, previews who it reaches, and sends it.
    let central = driver.browser(1280).await;
    sign_in(&central, &url, "analyst@nhs.example").await;
    assert_eq!(text(&central, "h1").await, "Federation dashboard");
    screenshot(&central, "dashboard").await;
    central.goto(&format!("{url}/alerts/issue")).await.unwrap();
    assert_labelled(&central).await;
    type_into(&central, "#vulnerabilities", "CVE-2025-4427").await;
    central
        .find(Locator::Id("note"))
        .await
        .unwrap()
        .send_keys("Patch EPMM to 12.5.0.1 now; check for <script> webshells {{7*7}}")
        .await
        .unwrap();
    click(&central, "#preview").await;
    wait_for(&central, "#send").await;
    assert_eq!(text(&central, "ul.affected").await, "rxa");
    assert_eq!(text(&central, "ul.confirm").await, "rxb");
    screenshot(&central, "issue-preview").await;
    click(&central, "#send").await;
    wait_for(&central, "#members-table").await;
    assert!(
        central
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/alerts/cve/CVE-2025-4427")
    );
    // Read in one script call: the page's own script replaces the table every few seconds, so
    // an element found first and read later may be gone by then.
    let state = |c: Client, member: &'static str| async move {
        c.execute(
            "return document.querySelector(`tr[data-member=${arguments[0]}] .state`).textContent.trim();",
            vec![json!(member)],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
    };
    assert_eq!(state(central.clone(), "rxa").await, "open");
    assert_eq!(state(central.clone(), "rxb").await, "open");

    // rxb, which has no inventory: its first page asks it to acknowledge, with the note, and
    // the alert asks whether it runs the product, naming it and its versions.
    user(db.location(), "rxb", "lead@rxb.example", "member-admin");
    let asked = driver.browser(1280).await;
    sign_in(&asked, &url, "lead@rxb.example").await;
    wait_for(&asked, "#awaiting-acknowledgement").await;
    let first = text(&asked, "#awaiting-acknowledgement").await;
    assert!(
        first.contains("From the central team: Patch EPMM"),
        "{first}"
    );
    assert!(first.contains("CVE-2025-4427"), "{first}");
    assert_labelled(&asked).await;
    screenshot(&asked, "member-home").await;
    follow(&asked, "CVE-2025-4427: Authentication Bypass").await;
    wait_for(&asked, "#we-run-it").await;
    assert_eq!(
        text(&asked, "#q-h").await,
        "Do you run Ivanti Endpoint Manager Mobile?"
    );
    assert_labelled(&asked).await;
    assert_fits(&asked).await;
    screenshot(&asked, "confirm-exposure").await;
    asked.close().await.unwrap();

    // The member sees it in its alerts, with the note as text, and acknowledges it.
    member.goto(&format!("{url}/alerts")).await.unwrap();
    follow(&member, "CVE-2025-4427").await;
    wait_for(&member, "#acknowledge").await;
    let page = text(&member, "main").await;
    assert!(
        page.contains("Patch EPMM to 12.5.0.1 now; check for <script> webshells {{7*7}}"),
        "{page}"
    );
    assert_labelled(&member).await;
    screenshot(&member, "member-alert").await;
    click(&member, "#acknowledge").await;
    wait_for(&member, "h1 .s-acknowledged").await;

    // The central page, left open, shows it within seconds (no reload).
    let started = Instant::now();
    loop {
        if state(central.clone(), "rxa").await == "acknowledged" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the central page did not update"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    screenshot(&central, "alert-members").await;
    assert_eq!(state(central.clone(), "rxb").await, "open");

    // The member's worklist and a finding's explanation.
    member.goto(&format!("{url}/worklist")).await.unwrap();
    assert_labelled(&member).await;
    screenshot(&member, "worklist").await;
    follow(&member, "CVE-2025-4428").await;
    wait_for(&member, "#why-h").await;
    let page = text(&member, "main").await;
    assert!(page.contains("Why this priority"), "{page}");
    assert!(page.contains("SSVC deployer decision immediate"), "{page}");
    assert!(page.contains("Where the sources disagree"), "{page}");
    screenshot(&member, "finding").await;

    // Keyboard: the first Tab reaches the skip link, which is visible when focused.
    member.goto(&format!("{url}/worklist")).await.unwrap();
    type_into(&member, "body", "\u{E004}").await;
    let focused = member.active_element().await.unwrap();
    assert_eq!(focused.text().await.unwrap(), "Skip to content");
    let outline = member
        .execute(
            "return getComputedStyle(document.activeElement).outlineStyle;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(outline, json!("solid"), "focus must be visible");

    // Laptop and tablet widths: every page reflows without horizontal scrolling.
    let alert_page = {
        member.goto(&format!("{url}/alerts")).await.unwrap();
        member
            .find(Locator::LinkText("CVE-2025-4427"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap()
    };
    let asset_page = {
        member.goto(&format!("{url}/assets")).await.unwrap();
        member
            .find(Locator::LinkText("mdm-01"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap()
    };
    let tablet = driver.browser(768).await;
    sign_in(&tablet, &url, "lead@rxa.example").await;
    for c in [&member, &tablet] {
        for page in [
            "/worklist",
            "/alerts",
            "/assets",
            asset_page.as_str(),
            alert_page.as_str(),
        ] {
            c.goto(&format!("{url}{page}")).await.unwrap();
            assert_fits(c).await;
        }
    }
    tablet.goto(&format!("{url}/worklist")).await.unwrap();
    screenshot(&tablet, "worklist-tablet").await;
    for page in [
        "/dashboard",
        "/alerts",
        "/alerts/issue",
        "/members",
        "/sources",
        "/alerts/cve/CVE-2025-4427",
    ] {
        central.goto(&format!("{url}{page}")).await.unwrap();
        assert_fits(&central).await;
        assert_labelled(&central).await;
    }

    for c in [member, central, tablet] {
        c.close().await.unwrap();
    }
}

async fn hostile_text_renders_as_text_in_the_browser(db: TestDb) {
    let Some((_db, _server, url, driver)) = browsing(db) else {
        return;
    };
    let member = driver.browser(1280).await;
    sign_in(&member, &url, "lead@rxa.example").await;
    member.goto(&format!("{url}/assets")).await.unwrap();
    let hostile =
        "<img src=x onerror=alert(1)><script>alert(2)</script>${7*7}{{7*7}}#{7*7}' OR 1=1--";
    type_into(&member, "#name", hostile).await;
    click(&member, "form[action='/assets'] button").await;
    wait_for(&member, "dl.facts").await;
    assert_eq!(text(&member, "h1").await, hostile);
    // No script ran and no element was made from the text.
    let made = member
        .execute(
            "return document.querySelectorAll('main img, main script').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(made, json!(0));
    assert!(member.get_alert_text().await.is_err(), "a dialog opened");
    let listed = {
        member.goto(&format!("{url}/assets")).await.unwrap();
        text(&member, "main table").await
    };
    assert!(listed.contains(hostile), "{listed}");
    member.close().await.unwrap();
}

/// A browser's view without a browser: a session cookie, the CSRF token from the page.
struct Visitor {
    http: reqwest::Client,
    url: String,
    cookie: String,
}

impl Visitor {
    async fn sign_in(url: &str, email: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = http
            .post(format!("{url}/login"))
            .form(&[("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        Self {
            http,
            url: url.to_owned(),
            cookie,
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The CSRF token the pages carry in their forms.
    async fn csrf(&self) -> String {
        let (_, page) = self.get("/assets").await;
        let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        page[at..at + 64].to_owned()
    }
}

async fn pages_keep_tenants_apart_need_csrf_and_forbid_inline_script(db: TestDb) {
    let in_ninety_days = (chrono::Utc::now() + chrono::Duration::days(90))
        .format("%Y-%m-%d")
        .to_string();
    federation(&db);
    user(db.location(), "rxb", "lead@rxb.example", "member-admin");
    let (_server, url) = serve(db.location());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Signed out: pages send you to sign in; the policy allows no inline script or style.
    let r = http.get(format!("{url}/worklist")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let r = http.get(format!("{url}/login")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let page = r.text().await.unwrap();
    assert!(
        !page.contains("<script>") && !page.contains("style="),
        "inline script or style"
    );
    let r = http
        .post(format!("{url}/login"))
        .form(&[
            ("email", "lead@rxa.example"),
            ("password", "wrong password!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Wrong email or password."));
    // Two more guesses, and one at an address no one has.
    for email in ["lead@rxa.example", "lead@rxa.example", "nobody@rxa.example"] {
        let r = http
            .post(format!("{url}/login"))
            .form(&[("email", email), ("password", "wrong password!")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }

    // rxa's asset, finding and alert.
    let rxa = Visitor::sign_in(&url, "lead@rxa.example").await;
    let csrf = rxa.csrf().await;
    // A form without the session's token changes nothing.
    for token in [
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let (status, page) = rxa
            .post("/assets", &[("csrf", token), ("name", "sneaky")])
            .await;
        assert_eq!(status, 403, "{page}");
    }
    let (_, page) = rxa.get("/assets").await;
    assert!(!page.contains("sneaky"));
    let (status, _) = rxa
        .post(
            "/assets",
            &[
                ("csrf", &csrf),
                ("name", "mdm-01"),
                ("exposure", "open"),
                ("criticality", "very-high"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let token = admin(
        db.location(),
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
    // Ids are opaque: the asset's is read from its link.
    let (_, assets) = rxa.get("/assets").await;
    let asset_page = format!(
        "/assets/{}",
        assets
            .split("href=\"/assets/")
            .nth(1)
            .unwrap()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    );
    let r = http
        .post(format!(
            "{url}/api/v1{asset_page}/inventory?filename=mdm.csv"
        ))
        .bearer_auth(&token)
        .body(
            "asset,vendor,product,version,cpe,purl,exposure,criticality\n\
             mdm-01,ivanti,endpoint_manager_mobile,12.5.0.0,,,open,very-high\n",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, alerts) = rxa.get("/alerts").await;
    let alert_id: String = alerts
        .split("href=\"/alerts/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let (_, worklist) = rxa.get("/worklist").await;
    let finding_id: String = worklist
        .split("href=\"/findings/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    for path in [
        asset_page.clone(),
        format!("/alerts/{alert_id}"),
        format!("/findings/{finding_id}"),
    ] {
        let (status, page) = rxa.get(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            page.contains("mdm-01") || page.contains("CVE-2025-442"),
            "{path}"
        );
    }

    // The worklist's search: a CVE, an asset's name, a component; `%` and `_` are literal.
    let count = |page: &str| page.matches("href=\"/findings/").count();
    for (search, expected) in [
        ("4428", 1),
        ("mdm-0", 2),
        ("endpoint_manager", 2),
        ("%", 0),
        ("m_m", 0),
    ] {
        let (status, page) = rxa.get(&format!("/worklist?search={search}")).await;
        assert_eq!(status, 200);
        assert_eq!(count(&page), expected, "search {search:?}");
    }
    let (_, page) = rxa.get("/worklist?priority=defer").await;
    assert_eq!(count(&page), 0);
    // An alert's page lists the findings of exactly its vulnerability.
    let (_, page) = rxa.get(&format!("/alerts/{alert_id}")).await;
    assert_eq!(count(&page), 1, "{page}");

    // rxb sees none of it: the pages do not exist for another member, and central pages refuse.
    let rxb = Visitor::sign_in(&url, "lead@rxb.example").await;
    for path in [
        asset_page.clone(),
        format!("/alerts/{alert_id}"),
        format!("/findings/{finding_id}"),
    ] {
        let (status, page) = rxb.get(&path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            !page.contains("mdm-01") && !page.contains("CVE-2025"),
            "{path}: {page}"
        );
    }
    for path in [
        "/dashboard",
        "/members",
        "/sources",
        "/audit",
        "/alerts/issue",
        "/alerts/cve/CVE-2025-4427",
    ] {
        let (status, page) = rxb.get(path).await;
        assert_eq!(status, 403, "{path}");
        assert!(!page.contains("rxa"), "{path}: {page}");
    }
    let rxb_csrf = rxb.csrf().await;
    let (status, _) = rxb
        .post(
            &format!("/alerts/{alert_id}"),
            &[("csrf", &rxb_csrf), ("action", "acknowledge")],
        )
        .await;
    assert_eq!(status, 404);
    for path in ["/worklist", "/alerts", "/assets"] {
        let (_, page) = rxb.get(path).await;
        assert!(
            !page.contains("mdm-01") && !page.contains("CVE-2025"),
            "{path}"
        );
    }
    let (_, alert) = rxa.get(&format!("/alerts/{alert_id}")).await;
    assert!(
        alert.contains("s-open"),
        "rxb's attempt changed rxa's alert"
    );

    // The other forms of the alert page: a refused action shows why, on the page, and changes
    // nothing; accepting the risk needs a reason and an end; not affected needs a VEX reason.
    let path = format!("/alerts/{alert_id}");
    let (status, page) = rxa
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("action", "accept-risk"),
                ("justification", "compensating WAF rule"),
            ],
        )
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("until: when does the acceptance expire"),
        "{page}"
    );
    assert!(page.contains("s-open"));
    let (status, page) = rxa
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("action", "not-affected"),
                ("justification", "trust me"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("trust me"),
        "the refusal names the value: {page}"
    );
    let (status, _) = rxa
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("action", "accept-risk"),
                ("justification", "<b>WAF</b> rule {{7*7}}"),
                ("until", &in_ninety_days),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = rxa.get(&path).await;
    assert!(page.contains("s-risk-accepted"), "{page}");
    // The justification is escaped (no element made) and never evaluated.
    assert!(
        page.contains("&#60;b&#62;WAF&#60;/b&#62; rule {{7*7}}"),
        "{page}"
    );
    assert!(!page.contains("<b>WAF"), "{page}");
    assert!(
        page.contains(&format!("{in_ninety_days} 23:59 UTC")),
        "{page}"
    );

    // The analyst may look but not act on a member's alert; the audit log is for admins.
    let analyst = Visitor::sign_in(&url, "analyst@nhs.example").await;
    // Accepting a risk does not take the member off the KEV card: it still runs the version.
    let (_, dashboard) = analyst.get("/dashboard").await;
    let kev_card = dashboard
        .split("id=\"kev-h\"")
        .nth(1)
        .and_then(|card| card.split("</section>").next())
        .unwrap_or_default();
    assert!(
        kev_card.contains("rxa</a>: CVE-2025-4427, CVE-2025-4428")
            || kev_card.contains("rxa</a>: CVE-2025-4428, CVE-2025-4427"),
        "{kev_card}"
    );
    let (status, _) = analyst.get(&format!("/alerts/{alert_id}")).await;
    assert_eq!(status, 200);
    let (status, _) = analyst.get("/audit").await;
    assert_eq!(status, 403);
    let admin = Visitor::sign_in(&url, "admin@nhs.example").await;
    let (status, page) = admin.get("/audit").await;
    assert_eq!(status, 200);
    assert!(page.contains("The hash chain of all"), "{page}");
    assert!(page.contains("asset.create"), "{page}");
    // Failed sign-ins to an account are audited, once per throttle window (not per guess);
    // guesses at unknown addresses are not.
    assert_eq!(page.matches("session.login-failed").count(), 1, "{page}");
    assert!(!page.contains("nobody@rxa.example"), "{page}");

    // Signing out ends the session.
    let csrf = rxa.csrf().await;
    let (status, _) = rxa.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let (status, _) = rxa.get("/worklist").await;
    assert_eq!(status, 303);
}

/// The cells of one class in a page's HTML (`<td class="late">3</td>` → 3), summed.
fn sum_cells(html: &str, class: &str) -> i64 {
    let marker = format!("<td class=\"{class}\">");
    html.split(&marker)
        .skip(1)
        .map(|rest| {
            rest[..rest.find('<').unwrap()]
                .trim()
                .parse::<i64>()
                .unwrap()
        })
        .sum()
}

/// A member asked about the EPMM CVEs: its first page says what is asked of it (the overdue
/// alert first, with the central team's note and a countdown) and the navigation counts it;
/// the confirm-exposure alert names the product, its affected and fixed versions and
/// severity, and takes the answers "we run version …" and "we do not run it". The central
/// team's members page, the scorecard table and the CSV count the missed acknowledgement
/// the same way (the card said "1 past a deadline" while the table said 0).
async fn a_member_sees_what_is_asked_and_the_numbers_agree(db: TestDb) {
    federation(&db);
    user(db.location(), "rxb", "lead@rxb.example", "member-admin");
    let (_server, url) = serve(db.location());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let token = |org: &str, role: &str| {
        admin(
            db.location(),
            &[
                "token", "create", "--org", org, "--role", role, "--name", "t",
            ],
        )
    };
    let (central, rxa) = (
        token("nhs-england", "central-analyst"),
        token("rxa", "member-admin"),
    );
    let asset: serde_json::Value = http
        .post(format!("{url}/api/v1/assets"))
        .bearer_auth(&rxa)
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
        .bearer_auth(&rxa)
        .body("asset,cpe\nmdm-01,cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.0:*:*:*:*:*:*:*\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = http
        .post(format!("{url}/api/v1/alerts/issue"))
        .bearer_auth(&central)
        .json(
            &json!({"vulnerabilities": ["CVE-2025-4427", "CVE-2025-4428"],
                      "note": "Patch EPMM to 12.5.0.1 today"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // One clock for both kinds of member: rxb (asked to confirm) gets the deadlines rxa's
    // findings got — the KEV due date is long gone, so remediation is due with
    // acknowledgement — not a fresh remediation window of its own (before: 3 days).
    let alerts: serde_json::Value = http
        .get(format!("{url}/api/v1/alerts"))
        .bearer_auth(&central)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for a in alerts["alerts"].as_array().unwrap() {
        assert_eq!(a["remediate_by"], a["acknowledge_by"], "{a}");
        assert_eq!(a["severity"], "high", "{a}");
    }
    // rxb missed the acknowledgement of CVE-2025-4428 (its deadline moved into the past).
    db.execute(
        "UPDATE alert SET acknowledge_by = '2020-01-01T00:00:00.000Z'
         WHERE subject = 'CVE-2025-4428' AND organisation_id = (SELECT id FROM organisation WHERE slug = 'rxb')",
    )
    .unwrap();

    // rxb's first page: what is asked of it, the overdue alert first.
    let rxb = Visitor::sign_in(&url, "lead@rxb.example").await;
    let (status, home) = rxb.get("/").await;
    assert_eq!(status, 200, "{home}");
    assert!(home.contains("What is asked of Borough General"), "{home}");
    let asked = &home[home.find("id=\"awaiting-acknowledgement\"").expect(&home)..];
    let first = asked.find("CVE-2025-4428").unwrap();
    let second = asked.find("CVE-2025-4427").unwrap();
    assert!(first < second, "the overdue alert comes first: {asked}");
    assert!(asked.contains("From the central team:</strong> Patch EPMM to 12.5.0.1 today"));
    assert!(asked.contains("overdue"), "{asked}");
    assert!(home.contains("1 past a deadline"), "{home}");
    // The navigation counts what is asked (2 alerts, one late) and the open findings (none).
    let nav = &home[home.find("id=\"nav-home\"").unwrap()..];
    assert!(
        nav[..nav.find("</a>").unwrap()].contains(">2</span>"),
        "{nav}"
    );
    assert!(home.contains("Worklist <span class=\"count\" title=\"open findings\">0</span>"));

    // The confirm-exposure alert names the product and asks a clear question.
    let href = {
        let at = asked[second - 200..].find("href=\"/alerts/").unwrap() + second - 200;
        let rest = &asked[at + 6..];
        rest[..rest.find('"').unwrap()].to_owned()
    };
    let (_, page) = rxb.get(&href).await;
    assert!(
        page.contains("Do you run Ivanti Endpoint Manager Mobile?"),
        "{page}"
    );
    assert!(page.contains("id=\"products\""), "{page}");
    assert!(page.contains("12.5.0.1"), "the fixed version: {page}");
    assert!(page.contains("id=\"severity\""), "{page}");
    assert!(
        page.contains("The product is not present: we do not run it"),
        "VEX in words"
    );
    let csrf = rxb.csrf().await;
    let (status, _) = rxb
        .post(
            &href,
            &[
                ("csrf", &csrf),
                ("action", "running"),
                ("justification", "12.5.0.0"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = rxb.get(&href).await;
    assert!(page.contains("runs version 12.5.0.0"), "{page}");
    assert!(page.contains("s-acknowledged"), "{page}");

    // The central team's numbers: the card, the table and the CSV agree.
    let analyst = Visitor::sign_in(&url, "analyst@nhs.example").await;
    // The knowledge's freshness (no feeds followed by this server yet).
    let (status, sources) = analyst.get("/sources").await;
    assert_eq!(status, 200);
    assert!(sources.contains("No source has synced yet"), "{sources}");
    // Members appear by name on an alert's page; the pages have an icon.
    let (_, subject) = analyst.get("/alerts/cve/CVE-2025-4427").await;
    assert!(
        subject.contains(">Borough General</a>") && subject.contains(">Royal Example Hospital</a>"),
        "{subject}"
    );
    let r = http.get(format!("{url}/favicon.ico")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    let (_, members) = analyst.get("/members").await;
    let card = &members[members.find("id=\"m-rxb\"").unwrap()..];
    let card = &card[..card.find("</section>").unwrap()];
    assert!(card.contains("1 past a deadline"), "{card}");
    assert_eq!(sum_cells(card, "late"), 1, "{card}");
    assert_eq!(sum_cells(card, "still-open"), 2, "{card}");
    let csv = http
        .get(format!("{url}/api/v1/compliance/members?format=csv"))
        .bearer_auth(&central)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rxb_late: i64 = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|cells| cells[0] == "rxb")
        .map(|cells| cells[column("late")].parse::<i64>().unwrap())
        .sum();
    assert_eq!(rxb_late, 1, "{csv}");
    assert!(header.contains(&"acknowledgement_missed") && header.contains(&"withdrawn"));

    // Account administration in the UI: a member admin sees its own people and tokens only,
    // cannot touch another member's token, and revokes its own.
    let tokens: serde_json::Value = serde_json::from_str(&admin(
        db.location(),
        &["token", "list", "--format", "json"],
    ))
    .unwrap();
    let rxa_token = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["organisation"] == "rxa")
        .unwrap()["id"]
        .to_string();
    let (status, people) = rxb.get("/people").await;
    assert_eq!(status, 200);
    assert!(people.contains("lead@rxb.example") && !people.contains("lead@rxa.example"));
    let csrf = rxb.csrf().await;
    let (status, _) = rxb
        .post(
            "/people",
            &[
                ("csrf", &csrf),
                ("action", "revoke-token"),
                ("token", &rxa_token),
            ],
        )
        .await;
    assert_eq!(status, 404);
    let lead = Visitor::sign_in(&url, "lead@rxa.example").await;
    let csrf = lead.csrf().await;
    let (status, page) = lead
        .post(
            "/people",
            &[
                ("csrf", &csrf),
                ("action", "revoke-token"),
                ("token", &rxa_token),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("is revoked"), "{page}");
    let r = http
        .get(format!("{url}/api/v1/assets"))
        .bearer_auth(&rxa)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a revoked token stops working");
    // An analyst may not administer accounts.
    let (status, _) = analyst.get("/people").await;
    assert_eq!(status, 403);

    // The asset page lists its components (searchable) and what each version changed.
    let rxa_lead = Visitor::sign_in(&url, "lead@rxa.example").await;
    let csv = "asset,cpe,purl\n\
               mdm-01,cpe:2.3:a:ivanti:endpoint_manager_mobile:12.5.0.1:*:*:*:*:*:*:*,\n\
               mdm-01,,pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1\n";
    let token = admin(
        db.location(),
        &[
            "token",
            "create",
            "--org",
            "rxa",
            "--role",
            "member-admin",
            "--name",
            "again",
        ],
    );
    let r = http
        .post(format!(
            "{url}/api/v1/assets/{}/inventory?filename=patched.csv",
            asset["asset"]["id"]
        ))
        .bearer_auth(&token)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let page = format!("/assets/{}", asset["asset"]["id"]);
    let (_, html) = rxa_lead.get(&page).await;
    assert!(html.contains("2 components"), "{html}");
    let diff = &html[html.find("id=\"version-diff\"").expect(&html)..];
    assert!(diff.contains("12.5.0.0 → 12.5.0.1"), "{diff}");
    assert!(diff.contains("log4j-core 2.17.1"), "{diff}");
    let (_, html) = rxa_lead.get(&format!("{page}?q=LOG4J")).await;
    assert!(html.contains("1 component matching"), "{html}");
    assert!(
        html.contains("log4j-core") && !html.contains("<td>endpoint_manager_mobile</td>"),
        "{html}"
    );
    // The finding the upload resolved says so, and why; rxb cannot see rxa's asset.
    let (status, _) = rxb.get(&page).await;
    assert_eq!(status, 404);
    let (_, findings) = rxa_lead.get("/worklist?resolved=true").await;
    let at = findings.find("href=\"/findings/").expect(&findings) + 6;
    let link = &findings[at..at + findings[at..].find('"').unwrap()];
    let (_, finding) = rxa_lead.get(link).await;
    assert!(finding.contains("id=\"resolved\""), "{finding}");
    assert!(
        finding.contains("patched.csv"),
        "the upload that resolved it: {finding}"
    );
    assert!(finding.contains("id=\"description\""), "{finding}");
}

/// VEX statements in the browser (#21): the central analyst publishes a mitigation with a
/// recommended deadline through the form (a not-affected statement without a justification
/// or condition is refused on the form); the member sees it on its statements page, with no way
/// to revoke it, and can download its decisions as VEX.
async fn statements_in_the_browser(db: TestDb) {
    let Some((_db, _server, url, driver)) = browsing(db) else {
        return;
    };
    let analyst = driver.browser(1280).await;
    sign_in(&analyst, &url, "analyst@nhs.example").await;
    follow(&analyst, "Statements").await;
    wait_for(&analyst, "#publish").await;
    assert_labelled(&analyst).await;
    assert_fits(&analyst).await;
    // Not affected, with neither a justification nor a condition: refused, said on the form.
    type_into(&analyst, "#vulnerability", "CVE-2025-4428").await;
    analyst
        .execute(
            "document.getElementById('status').value = 'not_affected';",
            vec![],
        )
        .await
        .unwrap();
    click(&analyst, "#publish-statement").await;
    wait_for(&analyst, "#statement-error").await;
    assert!(
        text(&analyst, "#statement-error")
            .await
            .contains("justification"),
        "{}",
        text(&analyst, "#statement-error").await
    );
    // A mitigation with a recommended deadline.
    type_into(&analyst, "#vulnerability", "CVE-2025-4427").await;
    type_into(
        &analyst,
        "#products",
        "cpe:2.3:a:ivanti:endpoint_manager_mobile:*:*:*:*:*:*:*:*",
    )
    .await;
    type_into(
        &analyst,
        "#remedy",
        "Restrict access to the /mifs API to trusted networks",
    )
    .await;
    analyst
        .execute(
            "document.getElementById('remedy_category').value = 'mitigation';
             document.getElementById('remediate_by').value = '2025-05-30';",
            vec![],
        )
        .await
        .unwrap();
    click(&analyst, "#publish-statement").await;
    wait_for(&analyst, "li.statement").await;
    let card = text(&analyst, "li.statement").await;
    assert!(card.contains("CVE-2025-4427: affected"), "{card}");
    assert!(card.contains("mitigation: Restrict access"), "{card}");
    assert!(card.contains("Recommended by 2025-05-30"), "{card}");
    assert!(card.contains("central team, to every member"), "{card}");
    screenshot(&analyst, "statements-central").await;

    let member = driver.browser(390).await;
    sign_in(&member, &url, "lead@rxa.example").await;
    follow(&member, "Statements").await;
    wait_for(&member, "li.statement").await;
    assert_fits(&member).await;
    let card = text(&member, "li.statement").await;
    assert!(card.contains("CVE-2025-4427: affected"), "{card}");
    assert!(
        member
            .find(Locator::Css("li.statement button.revoke"))
            .await
            .is_err(),
        "a member cannot revoke the central team's statement"
    );
    assert!(
        text(&member, "main").await.contains("CSAF VEX"),
        "the download links"
    );
    screenshot(&member, "statements-member").await;
}

/// An incident in the browser (#20): a member's hunt reports the EPMM exploit from its MDM
/// server's log; the member opens the incident from its first page (title, sighting detail,
/// no VEX or risk form), triages it and calls it a false positive with a reason; the central
/// team's dashboard counted it and its campaign page shows how it ended.
async fn an_incident_in_the_browser(db: TestDb) {
    let Some((db, _server, url, driver)) = browsing(db) else {
        return;
    };
    let token = admin(
        db.location(),
        &[
            "token",
            "create",
            "--org",
            "rxa",
            "--role",
            "member-admin",
            "--name",
            "hunt",
        ],
    );
    let rule = db.dir().join("epmm.yml");
    std::fs::write(
        &rule,
        "title: Ivanti EPMM expression injection\nid: 3f1e0c9a-0f3b-4c51-9a64-1d7e7a0f5b21\ntags:\n  - cve.2025-4427\nlogsource:\n  category: webserver\ndetection:\n  selection:\n    cs-uri-query|contains: '%7B7*7%7D'\n  condition: selection\nlevel: high\n",
    )
    .unwrap();
    let log = db.dir().join("access.log");
    std::fs::write(
        &log,
        "203.0.113.66 - - [15/May/2025:21:20:05 +0000] \"GET /mifs/rs/api/v2/featureusage?format=%7B7*7%7D HTTP/1.1\" 200 512 \"-\" \"curl/8\"\n",
    )
    .unwrap();
    let o = run(
        db.location(),
        &[
            "hunt",
            "--rules",
            p(&rule),
            "--report",
            &url,
            "--token",
            &token,
            "--asset",
            "mdm-01",
            "--share-excerpts",
            p(&log),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    let analyst = driver.browser(1280).await;
    sign_in(&analyst, &url, "analyst@nhs.example").await;
    analyst.goto(&format!("{url}/dashboard")).await.unwrap();
    wait_for(&analyst, "#open-incidents").await;
    assert_eq!(text(&analyst, "#open-incidents").await, "1");

    let member = driver.browser(390).await;
    sign_in(&member, &url, "lead@rxa.example").await;
    click(&member, "#compromises a").await;
    wait_for(&member, "#incident-title").await;
    assert_labelled(&member).await;
    assert_fits(&member).await;
    assert!(
        text(&member, "#incident-title")
            .await
            .starts_with("Ivanti EPMM expression injection"),
        "named by the rule, not an id"
    );
    assert_eq!(text(&member, "#incident-state").await, "open");
    assert_eq!(text(&member, "#sighting-count").await, "1");
    assert!(text(&member, "#sources").await.contains("203.0.113.66"));
    assert!(
        text(&member, "#sightings")
            .await
            .contains("featureusage?format=%7B7*7%7D")
    );
    assert!(
        text(&member, "#incident-vulnerabilities")
            .await
            .contains("CVE-2025-4427")
    );
    let page = member.source().await.unwrap();
    assert!(
        !page.contains("accept-risk") && !page.contains("not-affected"),
        "no VEX or risk form"
    );
    click(&member, "#triage").await;
    // The close form is shown once triaged (the false-positive one was there before).
    wait_for(&member, "#close-reason").await;
    assert_eq!(text(&member, "#incident-state").await, "triaged");
    type_into(&member, "#fp-reason", "Our penetration test on 15 May").await;
    click(&member, "#false-positive").await;
    wait_for(&member, "#resolution-reason").await;
    assert_eq!(text(&member, "#incident-state").await, "false-positive");
    assert!(
        text(&member, "#resolution-reason")
            .await
            .contains("penetration test")
    );
    screenshot(&member, "incident-member").await;

    analyst.goto(&format!("{url}/campaigns")).await.unwrap();
    wait_for(&analyst, ".campaign").await;
    assert_labelled(&analyst).await;
    let row = text(&analyst, "tr[data-member=rxa]").await;
    assert!(
        row.contains("Royal Example Hospital") && row.contains("false positive"),
        "{row}"
    );
    assert_eq!(text(&analyst, ".open-incidents").await, "0");
    screenshot(&analyst, "campaigns-central").await;
}

/// Exposure in the browser: the member proposes its range and authorises probing, the central
/// admin approves it, a scan report attributes an EPMM to the member; both see it.
async fn exposure_in_the_browser(db: TestDb) {
    let Some((db, _server, url, driver)) = browsing(db) else {
        return;
    };
    let member = driver.browser(390).await;
    sign_in(&member, &url, "lead@rxa.example").await;
    click(&member, "#nav-exposure").await;
    wait_for(&member, "#claim-form").await;
    assert_labelled(&member).await;
    type_into(&member, "#claim-form input[name=value]", "203.0.113.0/24").await;
    click(&member, "#claim-form button").await;
    wait_for(&member, "#exposure-message").await;
    assert!(
        text(&member, "#exposure-message")
            .await
            .contains("proposed")
    );
    assert_eq!(
        text(&member, "tr[data-entry='203.0.113.0/24'] .state").await,
        "proposed"
    );
    click(&member, "#consent").await;
    wait_for(&member, "#stop-consent").await;
    assert!(
        text(&member, "#probe-consent")
            .await
            .contains("authorised by")
    );

    let central = driver.browser(1280).await;
    sign_in(&central, &url, "admin@nhs.example").await;
    central.goto(&format!("{url}/exposure")).await.unwrap();
    wait_for(&central, "tr[data-entry='203.0.113.0/24']").await;
    click(
        &central,
        "tr[data-entry='203.0.113.0/24'] button[value=approve]",
    )
    .await;
    wait_for(&central, "#exposure-message").await;
    assert!(
        text(&central, "#exposure-message")
            .await
            .contains("approved")
    );

    let analyst = token(db.location(), "nhs-england", "central-analyst");
    // rxa declared its MDM server internal.
    let lead = token(db.location(), "rxa", "member-admin");
    let r = common::client()
        .post(format!("{url}/api/v1/assets"))
        .bearer_auth(&lead)
        .json(&serde_json::json!({"name": "mdm.rxa.example", "exposure": "controlled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = common::client()
        .post(format!("{url}/api/v1/observations?filename=scan_http.csv"))
        .bearer_auth(&analyst)
        .body("timestamp,ip,port,hostname,tag,asn,device_vendor,device_model,device_version\n2025-05-16 03:12:44,203.0.113.10,443,mdm.rxa.example,ivanti-epmm,64500,Ivanti,Endpoint Manager Mobile,12.5.0.0\n2025-05-16 03:16:00,192.0.2.50,443,,http,64999,,,\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());

    central.goto(&format!("{url}/exposure")).await.unwrap();
    wait_for(&central, "#exposure-members").await;
    assert_labelled(&central).await;
    assert_eq!(text(&central, "tr[data-member=rxa] .vulnerable").await, "1");
    assert!(
        text(&central, "#unattributed-table")
            .await
            .contains("192.0.2.50:443")
    );
    screenshot(&central, "exposure-central").await;
    follow(&central, "rxa").await;
    wait_for(&central, "#observed-services").await;
    let services = text(&central, "#observed-services").await;
    assert!(
        services.contains("203.0.113.10:443") && services.contains("12.5.0.0"),
        "{services}"
    );

    // The member's first page says what the internet saw of an asset it called internal.
    member.goto(&format!("{url}/")).await.unwrap();
    wait_for(&member, "#contradictions").await;
    let seen = text(&member, "#contradictions").await;
    assert!(
        seen.contains("mdm.rxa.example (declared controlled)") && seen.contains("203.0.113.10:443"),
        "{seen}"
    );
    member.goto(&format!("{url}/exposure")).await.unwrap();
    wait_for(&member, "#observed-services").await;
    assert_fits(&member).await;
    assert!(
        text(&member, "#observed-services")
            .await
            .contains("Endpoint Manager Mobile")
    );
    assert!(
        !member.source().await.unwrap().contains("192.0.2.50"),
        "another's observation shown"
    );
    screenshot(&member, "exposure-member").await;
    // The observed asset's components and the alert's findings say what was seen.
    click(&member, "#observed-services a").await;
    wait_for(&member, "#components").await;
    assert!(
        text(&member, "#components .evidence")
            .await
            .contains("answered at 203.0.113.10:443, observed 2025-05-16")
    );
    member.goto(&format!("{url}/alerts")).await.unwrap();
    follow(&member, "CVE-2025-4427").await;
    wait_for(&member, ".evidence").await;
    assert!(
        text(&member, ".evidence")
            .await
            .contains("Ivanti Endpoint Manager Mobile 12.5.0.0 answered at 203.0.113.10:443")
    );
}

ward_testdata::backend_tests!(
    exposure_in_the_browser,
    an_incident_in_the_browser,
    statements_in_the_browser,
    a_member_sees_what_is_asked_and_the_numbers_agree,
    the_epmm_alert_in_the_browser,
    hostile_text_renders_as_text_in_the_browser,
    pages_keep_tenants_apart_need_csrf_and_forbid_inline_script,
);
