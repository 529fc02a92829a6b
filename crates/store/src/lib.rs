//! Ward's database, behind one interface: [`Store`].
//!
//! Callers never see SQL or a driver: they open a [`Store`], import through an [`ImportTx`]
//! (one transaction: a failed or aborted import changes nothing), and load the slice of
//! knowledge an inventory needs with [`Store::load_for_products`]. The embedded default is a
//! SQLite file; the SQL is written in the dialect SQLite and PostgreSQL share (`$n`
//! parameters, `ON CONFLICT`) so that a PostgreSQL backend can slot in behind the same type.
//!
//! Every statement is parameterised; no input is ever spliced into SQL text.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::Utc;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use ward_model::{Advisory, Epss, KevEntry, RecordState};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {location}: {source}")]
    Open {
        location: String,
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("stored record {vuln_id} ({source_key}) is unreadable: {message}")]
    Corrupt {
        vuln_id: String,
        source_key: String,
        message: String,
    },
    #[error("{0}")]
    Unsupported(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    New,
    Updated,
    /// The same content was already stored.
    Unchanged,
    /// The stored view is newer (`dateUpdated`/`lastModified`/score date): kept.
    Older,
}

/// Counts of what the knowledge base holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub vulnerabilities: i64,
    pub views: i64,
    pub views_by_source: Vec<(String, i64)>,
    pub rejected: i64,
    pub kev: i64,
    pub epss: i64,
    pub imports: i64,
}

/// The part of the knowledge base an inventory needs.
#[derive(Debug, Default)]
pub struct KnowledgeSlice {
    pub advisories: Vec<Advisory>,
    pub kev: Vec<KevEntry>,
    pub epss: Vec<Epss>,
}

/// The database.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// Where the database lives when neither `--db` nor `WARD_DB` says: the user's data folder.
pub fn default_location() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("ward").join("ward.db")
}

impl Store {
    /// Opens (creating if needed) the database at `location`: a file path or `sqlite:` URL.
    /// Applies pending migrations.
    pub async fn open(location: &str) -> Result<Self> {
        if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            return Err(StoreError::Unsupported(
                "PostgreSQL is not supported by this build yet; use a SQLite file path".into(),
            ));
        }
        let open_err = |source| StoreError::Open {
            location: location.to_owned(),
            source,
        };
        let options = if location.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(location).map_err(open_err)?
        } else {
            let path = Path::new(location);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| open_err(sqlx::Error::Io(e)))?;
            }
            SqliteConnectOptions::new().filename(path)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Starts an import: everything written through the returned transaction lands together
    /// on [`ImportTx::commit`], or not at all.
    pub async fn begin_import(&self) -> Result<ImportTx> {
        Ok(ImportTx {
            tx: self.pool.begin().await?,
            started_at: Utc::now().to_rfc3339(),
        })
    }

    pub async fn counts(&self) -> Result<Counts> {
        let one = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&self.pool)
                .await
        };
        let views_by_source = sqlx::query(
            "SELECT CASE WHEN instr(source, ':') > 0 THEN substr(source, 1, instr(source, ':') - 1) ELSE source END AS kind, \
             COUNT(*) AS n FROM advisory GROUP BY kind ORDER BY kind",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| (r.get::<String, _>("kind"), r.get::<i64, _>("n")))
        .collect();
        Ok(Counts {
            vulnerabilities: one("SELECT COUNT(DISTINCT vuln_id) FROM advisory").await?,
            views: one("SELECT COUNT(*) FROM advisory").await?,
            views_by_source,
            rejected: one("SELECT COUNT(*) FROM advisory WHERE state = 'rejected'").await?,
            kev: one("SELECT COUNT(*) FROM kev").await?,
            epss: one("SELECT COUNT(*) FROM epss").await?,
            imports: one("SELECT COUNT(*) FROM import_run").await?,
        })
    }

    /// Loads every view of every vulnerability indexed under the given products, with their
    /// KEV and EPSS entries. A `None` vendor means any vendor of that product.
    pub async fn load_for_products(
        &self,
        keys: &[(Option<String>, String)],
    ) -> Result<KnowledgeSlice> {
        let mut ids: HashSet<String> = HashSet::new();
        let mut conn = self.pool.acquire().await?;
        for (vendor, product) in keys {
            let rows: Vec<String> = match vendor {
                Some(v) => {
                    sqlx::query_scalar("SELECT DISTINCT vuln_id FROM advisory_product WHERE vendor = $1 AND product = $2")
                        .bind(v)
                        .bind(product)
                        .fetch_all(&mut *conn)
                        .await?
                }
                None => {
                    sqlx::query_scalar("SELECT DISTINCT vuln_id FROM advisory_product WHERE product = $1")
                        .bind(product)
                        .fetch_all(&mut *conn)
                        .await?
                }
            };
            ids.extend(rows);
        }
        let wildcard: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT vuln_id FROM advisory_product WHERE vendor = '*'")
                .fetch_all(&mut *conn)
                .await?;
        ids.extend(wildcard);
        let mut ids: Vec<String> = ids.into_iter().collect();
        ids.sort();

        let mut slice = KnowledgeSlice::default();
        for id in &ids {
            let rows = sqlx::query("SELECT source, payload FROM advisory WHERE vuln_id = $1")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?;
            for row in rows {
                let payload: String = row.get("payload");
                let advisory: Advisory =
                    serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt {
                        vuln_id: id.clone(),
                        source_key: row.get("source"),
                        message: e.to_string(),
                    })?;
                slice.advisories.push(advisory);
            }
            if let Some(payload) =
                sqlx::query_scalar::<_, String>("SELECT payload FROM kev WHERE vuln_id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
            {
                slice.kev.push(serde_json::from_str(&payload).map_err(|e| {
                    StoreError::Corrupt {
                        vuln_id: id.clone(),
                        source_key: "kev".into(),
                        message: e.to_string(),
                    }
                })?);
            }
            if let Some(row) = sqlx::query(
                "SELECT score, percentile, model_version, score_date FROM epss WHERE vuln_id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            {
                slice.epss.push(Epss {
                    cve_id: id.clone(),
                    score: row.get("score"),
                    percentile: row.get("percentile"),
                    model_version: row.get("model_version"),
                    score_date: row
                        .get::<Option<String>, _>("score_date")
                        .and_then(|d| d.parse().ok()),
                });
            }
        }
        Ok(slice)
    }

    /// Every literal `(vendor, product)` the knowledge base can match, sorted.
    pub async fn product_keys(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT DISTINCT vendor, product FROM advisory_product WHERE vendor <> '*' ORDER BY vendor, product")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get("vendor"), r.get("product")))
            .collect())
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

fn hash(payload: &str) -> String {
    hex::encode(Sha256::digest(payload.as_bytes()))
}

/// One import, in one transaction.
pub struct ImportTx {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    started_at: String,
}

impl ImportTx {
    /// Stores one source's view; the newer view wins, and identical content is left alone.
    pub async fn upsert_advisory(&mut self, advisory: &Advisory) -> Result<Outcome> {
        let payload = serde_json::to_string(advisory)
            .expect("Advisory serialises: it holds only strings, numbers and dates");
        let content_hash = hash(&payload);
        let source = advisory.source.key();
        let updated = advisory
            .updated
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let existing = sqlx::query(
            "SELECT updated, content_hash FROM advisory WHERE vuln_id = $1 AND source = $2",
        )
        .bind(&advisory.id)
        .bind(&source)
        .fetch_optional(&mut *self.tx)
        .await?;
        let outcome = match existing {
            None => Outcome::New,
            Some(row) => {
                let old_hash: String = row.get("content_hash");
                let old_updated: Option<String> = row.get("updated");
                if old_hash == content_hash {
                    return Ok(Outcome::Unchanged);
                }
                // RFC 3339 UTC strings with fixed precision order as text.
                if let (Some(old), Some(new)) = (&old_updated, &updated)
                    && old > new
                {
                    return Ok(Outcome::Older);
                }
                Outcome::Updated
            }
        };
        let state = match advisory.state {
            RecordState::Published => "published",
            RecordState::Rejected => "rejected",
        };
        sqlx::query(
            "INSERT INTO advisory (vuln_id, source, state, updated, content_hash, payload, imported_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (vuln_id, source) DO UPDATE SET state = excluded.state, updated = excluded.updated, \
             content_hash = excluded.content_hash, payload = excluded.payload, imported_at = excluded.imported_at",
        )
        .bind(&advisory.id)
        .bind(&source)
        .bind(state)
        .bind(&updated)
        .bind(&content_hash)
        .bind(&payload)
        .bind(Utc::now().to_rfc3339())
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("DELETE FROM advisory_product WHERE vuln_id = $1 AND source = $2")
            .bind(&advisory.id)
            .bind(&source)
            .execute(&mut *self.tx)
            .await?;
        if advisory.state == RecordState::Published {
            for (vendor, product) in advisory.product_keys() {
                sqlx::query(
                    "INSERT INTO advisory_product (vendor, product, vuln_id, source) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&vendor)
                .bind(&product)
                .bind(&advisory.id)
                .bind(&source)
                .execute(&mut *self.tx)
                .await?;
            }
        } else {
            // A rejected CVE is withdrawn: no source's view of it matches any more.
            sqlx::query("DELETE FROM advisory_product WHERE vuln_id = $1")
                .bind(&advisory.id)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(outcome)
    }

    /// Stores a KEV entry; the catalogue being imported is taken as current.
    pub async fn upsert_kev(&mut self, kev: &KevEntry) -> Result<Outcome> {
        let payload = serde_json::to_string(kev).expect("KevEntry serialises");
        let content_hash = hash(&payload);
        let old: Option<String> =
            sqlx::query_scalar("SELECT content_hash FROM kev WHERE vuln_id = $1")
                .bind(&kev.cve_id)
                .fetch_optional(&mut *self.tx)
                .await?;
        if old.as_deref() == Some(content_hash.as_str()) {
            return Ok(Outcome::Unchanged);
        }
        sqlx::query(
            "INSERT INTO kev (vuln_id, date_added, due_date, content_hash, payload) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (vuln_id) DO UPDATE SET date_added = excluded.date_added, due_date = excluded.due_date, \
             content_hash = excluded.content_hash, payload = excluded.payload",
        )
        .bind(&kev.cve_id)
        .bind(kev.date_added.map(|d| d.to_string()))
        .bind(kev.due_date.map(|d| d.to_string()))
        .bind(&content_hash)
        .bind(&payload)
        .execute(&mut *self.tx)
        .await?;
        Ok(if old.is_some() {
            Outcome::Updated
        } else {
            Outcome::New
        })
    }

    /// Stores an EPSS score unless a score from a later date is already stored.
    pub async fn upsert_epss(&mut self, e: &Epss) -> Result<Outcome> {
        let score_date = e.score_date.map(|d| d.to_string());
        let old = sqlx::query("SELECT score, percentile, score_date FROM epss WHERE vuln_id = $1")
            .bind(&e.cve_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        if let Some(row) = &old {
            let (s, p, d): (f64, f64, Option<String>) = (
                row.get("score"),
                row.get("percentile"),
                row.get("score_date"),
            );
            if s == e.score && p == e.percentile && d == score_date {
                return Ok(Outcome::Unchanged);
            }
            if let (Some(old), Some(new)) = (&d, &score_date)
                && old > new
            {
                return Ok(Outcome::Older);
            }
        }
        sqlx::query(
            "INSERT INTO epss (vuln_id, score, percentile, model_version, score_date) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (vuln_id) DO UPDATE SET score = excluded.score, percentile = excluded.percentile, \
             model_version = excluded.model_version, score_date = excluded.score_date",
        )
        .bind(&e.cve_id)
        .bind(e.score)
        .bind(e.percentile)
        .bind(&e.model_version)
        .bind(&score_date)
        .execute(&mut *self.tx)
        .await?;
        Ok(if old.is_some() {
            Outcome::Updated
        } else {
            Outcome::New
        })
    }

    /// Commits, recording a summary of the run.
    pub async fn commit(mut self, summary: &serde_json::Value) -> Result<()> {
        sqlx::query(
            "INSERT INTO import_run (started_at, finished_at, summary) VALUES ($1, $2, $3)",
        )
        .bind(&self.started_at)
        .bind(Utc::now().to_rfc3339())
        .bind(summary.to_string())
        .execute(&mut *self.tx)
        .await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// Abandons the import: the database is exactly as it was before it began.
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}
