//! Test support shared by Ward's test suites (a dev-dependency only).
//!
//! - [`shared`]: a path inside the real public data (`../shared/data` beside the project, or
//!   `$WARD_SHARED_DATA`); `None`, with a message, where it is absent, so tests skip.
//! - [`python`]: runs a Python reference tool (a schema validator, an independent scorer) over
//!   standard input; `None` where its modules are not installed, except under CI (`$CI` set),
//!   where `.ci/run` installs them and their absence fails the test.
//! - [`federation::Federation`]: the central team and two members with a token for every
//!   role, made through the store.
//! - [`pki::test_pki`] and [`smtp::SmtpServer`]: a CA made for the test, and an SMTP relay that
//!   requires STARTTLS with its certificate and keeps what it receives.
//! - [`TestDb`]: a database of its own for one test, on either backend: a SQLite file in a
//!   temporary folder, or a fresh schema in the PostgreSQL at `$WARD_TEST_POSTGRES`
//!   (default `postgres://postgres@127.0.0.1:5432/test`), dropped afterwards. Where no
//!   PostgreSQL answers, PostgreSQL tests say so and skip, except under CI, where they fail.
//! - [`backend_tests!`]: runs each listed test once per backend.
//! - [`epmm_advisory`]: Ivanti's CNA record of CVE-2025-4427, as the store holds it.
//! - [`replay::Replay`]: a publisher replayed over loopback HTTP for the feed-sync tests, with
//!   faults on demand (429 with `Retry-After`, 503, bodies cut short, lying lengths, stalls).

pub mod federation;
pub mod pki;
pub mod replay;
pub mod smtp;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// CVE-2025-4427 as Ivanti's CNA record says (public facts): Endpoint Manager Mobile is
/// affected except the `fixed` release; the record last updated on `updated_day` May 2025.
pub fn epmm_advisory(updated_day: u32, fixed: &str) -> ward_model::Advisory {
    use chrono::TimeZone as _;
    use ward_model::advisory::{Affected, AffectedVersion, Status};
    let mut a =
        ward_model::Advisory::new("CVE-2025-4427", ward_model::SourceId::Cna("ivanti".into()));
    a.updated = chrono::Utc
        .with_ymd_and_hms(2025, 5, updated_day, 0, 0, 0)
        .single();
    a.affected.push(Affected {
        vendor: Some("Ivanti".into()),
        product: Some("Endpoint Manager Mobile".into()),
        package_name: None,
        cpes: vec![],
        default_status: Some(Status::Affected),
        versions: vec![AffectedVersion {
            version: fixed.into(),
            status: Status::Unaffected,
            less_than: None,
            less_than_or_equal: None,
            version_type: None,
            changes: vec![],
        }],
    });
    a
}

/// A path inside the shared data, or `None` (reported on stderr) where it is absent.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let root = std::env::var_os("WARD_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let p = root.join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent (set WARD_SHARED_DATA)", p.display());
        None
    }
}

/// Runs `script` with `python3 -c`, `input` on stdin; returns (success, stdout, stderr), or
/// `None` when one of `modules` cannot be imported outside CI.
pub fn python(modules: &[&str], script: &str, input: &[u8]) -> Option<(bool, String, String)> {
    let probe = Command::new("python3")
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the Python modules {modules:?} (.ci/run)"
        );
        eprintln!(
            "skipped a reference check: pip install {}",
            modules.join(" ")
        );
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .expect("python3 reads its input");
    let out = child.wait_with_output().expect("python3 finishes");
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of one test's own; removed when dropped.
pub struct TestDb {
    location: String,
    dir: tempfile::TempDir,
    /// PostgreSQL: (server URL, schema name).
    schema: Option<(String, String)>,
}

/// The PostgreSQL the tests use.
pub fn postgres_url() -> String {
    std::env::var("WARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Runs a future to completion on a runtime of its own, on a thread of its own: callable from
/// synchronous tests, async tests and `Drop` alike.
fn block_on<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime")
            .block_on(f)
    })
    .join()
    .expect("the database helper thread")
}

async fn admin_sql(url: String, statement: String) -> Result<(), sqlx::Error> {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    conn.execute(sqlx::AssertSqlSafe(statement)).await?;
    conn.close().await
}

impl TestDb {
    /// A new, empty database; `None` (said on stderr) where PostgreSQL is wanted but absent
    /// outside CI.
    pub fn new(backend: Backend) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        match backend {
            Backend::Sqlite => Some(Self {
                location: dir
                    .path()
                    .join("ward.db")
                    .to_str()
                    .expect("UTF-8 temp path")
                    .to_owned(),
                dir,
                schema: None,
            }),
            Backend::Postgres => {
                use std::sync::atomic::{AtomicU32, Ordering};
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let url = postgres_url();
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or_default();
                // Only digits and letters: the name is safe to put in a statement.
                let schema = format!(
                    "ward_test_{}_{}_{nanos}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                );
                if let Err(e) = block_on(admin_sql(url.clone(), format!("CREATE SCHEMA {schema}")))
                {
                    if std::env::var_os("CI").is_some() {
                        panic!("PostgreSQL at {url}: {e} (CI needs it; set WARD_TEST_POSTGRES)");
                    }
                    eprintln!("skipping: no PostgreSQL at {url} ({e}); set WARD_TEST_POSTGRES");
                    return None;
                }
                let sep = if url.contains('?') { '&' } else { '?' };
                Some(Self {
                    location: format!("{url}{sep}options[search_path]={schema}"),
                    dir,
                    schema: Some((url, schema)),
                })
            }
        }
    }

    /// What `--db` / `WARD_DB` takes: a file path, or a PostgreSQL URL.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// A temporary folder of the test's own, for other files.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Runs an SQL script (several statements) on a connection of its own, as an operator
    /// (or an intruder) with direct access to the database would; the error as text.
    pub fn execute(&self, script: &str) -> Result<(), String> {
        let (location, postgres) = (self.location.clone(), self.schema.is_some());
        let script = script.to_owned();
        block_on(async move {
            use sqlx::Connection;
            let run = sqlx::raw_sql(sqlx::AssertSqlSafe(script));
            if postgres {
                let mut c = sqlx::PgConnection::connect(&location).await?;
                run.execute(&mut c).await.map(drop)
            } else {
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{location}")).await?;
                run.execute(&mut c).await.map(drop)
            }
        })
        .map_err(|e: sqlx::Error| e.to_string())
    }

    /// The first column of the first row `select` returns, as text.
    pub fn scalar(&self, select: &str) -> String {
        let (location, postgres) = (self.location.clone(), self.schema.is_some());
        let owned = select.to_owned();
        block_on(async move {
            let select = owned;
            use sqlx::Connection;
            if postgres {
                let mut c = sqlx::PgConnection::connect(&location).await?;
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(select))
                    .fetch_one(&mut c)
                    .await
            } else {
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{location}")).await?;
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(select))
                    .fetch_one(&mut c)
                    .await
            }
        })
        .unwrap_or_else(|e: sqlx::Error| panic!("{select}: {e}"))
    }

    pub fn backend(&self) -> Backend {
        if self.schema.is_some() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.schema.take() {
            let _ = block_on(admin_sql(url, format!("DROP SCHEMA {schema} CASCADE")));
        }
    }
}

/// Runs each listed test once per backend, as `sqlite::name` and `postgres::name`. Each is an
/// `async fn name(db: TestDb)` in the calling module.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Sqlite) {
                        super::$name(db).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::TestDb::new($crate::Backend::Postgres) {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}
