//! The knowledge base: imports (one transaction each, batched upserts, newest view per
//! source wins) and the slices of it that matching needs.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::Utc;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row};
use ward_model::{Advisory, Epss, KevEntry, RecordState};

use crate::backend::lock_key;
use crate::sql::Sql;
use crate::{Backend, Result, Store, StoreError};

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

/// The coverage key of CPE-named products (NVD configurations, CVE 5 `affected`); package
/// ecosystems are keyed `pkg:<ecosystem>` as the product index names them.
pub const CPE_COVERAGE: &str = "cpe";

/// What the knowledge base holds for one kind of component: a package ecosystem
/// (`pkg:pypi`) or CPE-named products (`cpe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub key: String,
    /// Vulnerabilities with at least one view for it.
    pub advisories: i64,
    /// When an import last changed them.
    pub updated: Option<chrono::DateTime<Utc>>,
}

impl Store {
    /// Starts an import: everything written through the returned transaction lands together
    /// on [`ImportTx::commit`], or not at all.
    pub async fn begin_import(&self) -> Result<ImportTx> {
        // SQLite: the write lock taken now (BEGIN IMMEDIATE). A deferred transaction that
        // reads first fails with SQLITE_BUSY_SNAPSHOT (517) when another writer commits before
        // its first write, which busy_timeout does not retry.
        let turn = self.write_turn().await;
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        if self.backend == Backend::Sqlite {
            sqlx::query(IMPORT_CACHE).execute(&mut *tx).await?;
        }
        Ok(ImportTx {
            tx,
            _turn: turn,
            backend: self.backend,
            change_log_lock: (self.backend == Backend::Postgres)
                .then(|| lock_key(&self.schema, "knowledge_change")),
            started_at: Utc::now().to_rfc3339(),
            changed: HashSet::new(),
            coverage: BTreeSet::new(),
        })
    }

    /// Whether the knowledge base holds no view at all (one index probe; [`Store::counts`]
    /// counts everything).
    pub async fn knowledge_is_empty(&self) -> Result<bool> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM (SELECT 1 FROM advisory LIMIT 1) AS one",
        )
        .fetch_one(&self.pool)
        .await?
            == 0)
    }

    pub async fn counts(&self) -> Result<Counts> {
        let one = |sql: &'static str| async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&self.pool)
                .await
        };
        // A view's source is 'cna:<name>', 'adp:<name>', 'nvd', 'osv:<ecosystem>': counted by kind.
        let mut views_by_source: Vec<(String, i64)> = Vec::new();
        let rows = sqlx::query("SELECT source, COUNT(*) AS n FROM advisory GROUP BY source")
            .fetch_all(&self.pool)
            .await?;
        for r in rows {
            let source: String = r.get("source");
            let kind = source.split(':').next().unwrap_or_default().to_owned();
            let n: i64 = r.get("n");
            match views_by_source.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, count)) => *count += n,
                None => views_by_source.push((kind, n)),
            }
        }
        views_by_source.sort();
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
    /// KEV and EPSS entries, for matching (see [`Store::load_for_matching`]). A `None` vendor
    /// means any vendor of that product.
    pub async fn load_for_products(
        &self,
        keys: &[(Option<String>, String)],
    ) -> Result<KnowledgeSlice> {
        self.load_for_products_keeping(keys, None).await
    }

    /// [`Store::load_for_products`], keeping of each view's `affected` entries only those
    /// `keep` keeps (all with `None`): what a scan can weigh, decided by its caller. Entries
    /// are dropped as each view is decoded, so the others are never all held at once.
    pub async fn load_for_products_keeping(
        &self,
        keys: &[(Option<String>, String)],
        keep: Option<KeepEntry>,
    ) -> Result<KnowledgeSlice> {
        let ids = self.vulnerabilities_for_products(keys).await?;
        self.load(&ids, &Decode::ForMatching(keep)).await
    }

    /// The vulnerabilities (sorted) with a view indexed under the given products (a `None`
    /// vendor: any vendor of that product), and those indexed under every product.
    pub async fn vulnerabilities_for_products(
        &self,
        keys: &[(Option<String>, String)],
    ) -> Result<Vec<String>> {
        let pairs: Vec<(&str, &str)> = keys
            .iter()
            .filter_map(|(v, p)| v.as_deref().map(|v| (v, p.as_str())))
            .collect();
        let products: Vec<&str> = keys
            .iter()
            .filter(|(v, _)| v.is_none())
            .map(|(_, p)| p.as_str())
            .collect();
        if let Some(file) = &self.sqlite_file
            && let Some(ids) = crate::direct::vulnerabilities(file, &pairs, &products).await?
        {
            return Ok(ids);
        }
        let mut conn = self.pool.acquire().await?;
        let mut ids: HashSet<String> = HashSet::new();
        for chunk in pairs.chunks(CHUNK) {
            // The pairs as a table joined to the primary key: SQLite plans `(vendor, product)
            // IN (VALUES …)` as a scan of the whole table (91 ms for a 5,000-component scan's
            // 5,000 pairs, where the join's lookups take a third of that).
            let mut q = Sql::new(self.backend, "WITH k(vendor, product) AS (VALUES ");
            let mut list = q.separated(", ");
            for (vendor, product) in chunk {
                list.push("(")
                    .push_bind_unseparated(*vendor)
                    .push_unseparated(", ");
                list.push_bind_unseparated(*product).push_unseparated(")");
            }
            q.push(
                ") SELECT DISTINCT a.vuln_id FROM k JOIN advisory_product a \
                 ON a.vendor = k.vendor AND a.product = k.product",
            );
            ids.extend(
                q.build_query_scalar::<String>()
                    .fetch_all(&mut *conn)
                    .await?,
            );
        }
        for chunk in products.chunks(CHUNK) {
            let mut q = Sql::new(
                self.backend,
                "SELECT DISTINCT vuln_id FROM advisory_product WHERE product IN (",
            );
            push_list(&mut q, chunk);
            ids.extend(
                q.build_query_scalar::<String>()
                    .fetch_all(&mut *conn)
                    .await?,
            );
        }
        ids.extend(
            sqlx::query_scalar::<_, String>(
                "SELECT DISTINCT vuln_id FROM advisory_product WHERE vendor = '*'",
            )
            .fetch_all(&mut *conn)
            .await?,
        );
        let mut ids: Vec<String> = ids.into_iter().collect();
        ids.sort();
        Ok(ids)
    }

    /// What the knowledge base covers: one row per package ecosystem and one for CPE-named
    /// products, kept by imports (a handful of rows: read whole).
    pub async fn coverage(&self) -> Result<Vec<Coverage>> {
        let rows =
            sqlx::query("SELECT key, advisories, updated FROM knowledge_coverage ORDER BY key")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|r| Coverage {
                key: r.get("key"),
                advisories: r.get("advisories"),
                updated: r
                    .get::<Option<String>, _>("updated")
                    .and_then(|u| chrono::DateTime::parse_from_rfc3339(&u).ok())
                    .map(|d| d.with_timezone(&Utc)),
            })
            .collect())
    }

    /// Loads every view of these vulnerabilities (sorted ids), whole, with their KEV and EPSS
    /// entries.
    pub async fn load_vulnerabilities(&self, ids: &[String]) -> Result<KnowledgeSlice> {
        self.load(ids, &Decode::Whole).await
    }

    /// Loads every view of these vulnerabilities (sorted ids) with their KEV and EPSS entries,
    /// without what matching and prioritising never read: descriptions, references and CWEs
    /// (a quarter of a view's text; a scan holds tens of thousands of views at once).
    pub async fn load_for_matching(&self, ids: &[String]) -> Result<KnowledgeSlice> {
        self.load(ids, &Decode::ForMatching(None)).await
    }

    async fn load(&self, ids: &[String], decode: &Decode) -> Result<KnowledgeSlice> {
        let mut slice = KnowledgeSlice::default();
        let direct = match &self.sqlite_file {
            Some(file) => crate::direct::views(file, ids, decode).await?,
            None => None,
        };
        match direct {
            Some(views) => slice.advisories = views,
            None => self.load_views(ids, decode, &mut slice).await?,
        }
        let mut conn = self.pool.acquire().await?;
        // KEV and EPSS are keyed by CVE: also load them for the CVEs that views filed under
        // another id (an OSV record aliasing several CVEs) alias.
        let mut exploit_ids: Vec<String> = ids.to_vec();
        exploit_ids.extend(
            slice
                .advisories
                .iter()
                .flat_map(|a| &a.aliases)
                .filter(|a| a.starts_with("CVE-"))
                .cloned(),
        );
        exploit_ids.sort();
        exploit_ids.dedup();
        for chunk in exploit_ids.chunks(CHUNK) {
            let mut q = Sql::new(
                self.backend,
                "SELECT vuln_id, payload FROM kev WHERE vuln_id IN (",
            );
            push_list(&mut q, chunk);
            for row in q.build().fetch_all(&mut *conn).await? {
                let payload: &str = row.get("payload");
                slice.kev.push(
                    serde_json::from_str(payload).map_err(|e| StoreError::Corrupt {
                        vuln_id: row.get("vuln_id"),
                        source_key: "kev".into(),
                        message: e.to_string(),
                    })?,
                );
            }
            let mut q = Sql::new(
                self.backend,
                "SELECT vuln_id, score, percentile, model_version, score_date FROM epss WHERE vuln_id IN (",
            );
            push_list(&mut q, chunk);
            for row in q.build().fetch_all(&mut *conn).await? {
                slice.epss.push(Epss {
                    cve_id: row.get("vuln_id"),
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

    /// The views through the pool (PostgreSQL, or a SQLite database that is not a plain file).
    async fn load_views(
        &self,
        ids: &[String],
        decode: &Decode,
        slice: &mut KnowledgeSlice,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        // Each chunk's payloads are decoded on the CPU pool while the next chunk is read
        // (decoding was two thirds of reading the views: 0.37 of 0.56 s for 29,730).
        let mut decoding = std::collections::VecDeque::new();
        for chunk in ids.chunks(CHUNK) {
            // At most two chunks in flight, so that the raw rows of every chunk are not held
            // at once.
            if decoding.len() >= 2 {
                let oldest = decoding.pop_front().expect("two are pending");
                slice.advisories.extend(decoded(oldest).await?);
            }
            let mut q = Sql::new(
                self.backend,
                "SELECT vuln_id, source, payload FROM advisory WHERE vuln_id IN (",
            );
            push_list(&mut q, chunk);
            // In order of id and source, as the direct read gives them.
            q.push(" ORDER BY vuln_id, source");
            let rows: Vec<(String, String, String)> = q
                .build()
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| (row.get("vuln_id"), row.get("source"), row.get("payload")))
                .collect();
            let decode = decode.clone();
            decoding.push_back(tokio::spawn(crate::cpu::run(move || {
                rows.iter()
                    .map(|(vuln_id, source_key, payload)| {
                        decode_view(vuln_id, source_key, payload, &decode)
                    })
                    .collect::<Result<Vec<Advisory>>>()
            })));
        }
        for chunk in decoding {
            slice.advisories.extend(decoded(chunk).await?);
        }
        Ok(())
    }

    /// Every literal `(vendor, product)` the knowledge base can match, sorted.
    pub async fn product_keys(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT DISTINCT vendor, product FROM advisory_product WHERE vendor <> '*' AND vendor NOT LIKE 'pkg:%' ORDER BY vendor, product")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get("vendor"), r.get("product")))
            .collect())
    }

    /// Every OSV package the knowledge base can match, as `(pkg:<ecosystem>, name)`, sorted.
    pub async fn package_keys(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT DISTINCT vendor, product FROM advisory_product WHERE vendor LIKE 'pkg:%' ORDER BY vendor, product")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get("vendor"), r.get("product")))
            .collect())
    }
}

/// Which of a view's `affected` entries a caller keeps (see
/// [`Store::load_for_products_keeping`]).
pub type KeepEntry = std::sync::Arc<dyn Fn(&ward_model::advisory::Affected) -> bool + Send + Sync>;

/// How stored views are decoded.
#[derive(Clone)]
pub(crate) enum Decode {
    /// Every field.
    Whole,
    /// What matching reads ([`Lean`]); of the `affected` entries, those the function keeps
    /// (all without one).
    ForMatching(Option<KeepEntry>),
}

/// One stored view, decoded; for matching, without what matching never reads (see
/// [`Store::load_for_matching`]) and with its lists no longer than they need to be.
pub(crate) fn decode_view(
    vuln_id: &str,
    source_key: &str,
    payload: &str,
    decode: &Decode,
) -> Result<Advisory> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt {
        vuln_id: vuln_id.to_owned(),
        source_key: source_key.to_owned(),
        message: e.to_string(),
    };
    let keep = match decode {
        Decode::Whole => return serde_json::from_str::<Advisory>(payload).map_err(corrupt),
        Decode::ForMatching(keep) => keep,
    };
    let mut view = Advisory::from(serde_json::from_str::<Lean>(payload).map_err(corrupt)?);
    if let Some(keep) = keep {
        view.affected.retain(|a| keep(a));
    }
    // The decoder grows lists by doubling: held for a whole scan, the spare room was a
    // third of the views' memory (261 → 180 MiB for a 5,000-component scan's 29,730).
    for a in &mut view.affected {
        a.cpes.shrink_to_fit();
        a.versions.shrink_to_fit();
    }
    view.affected.shrink_to_fit();
    Ok(view)
}

/// A stored view as matching reads it: the fields it never reads (description, references,
/// CWEs; a quarter of a view's text) are passed over by the parser rather than built and
/// dropped.
#[derive(serde::Deserialize)]
struct Lean {
    id: String,
    source: ward_model::SourceId,
    state: RecordState,
    updated: Option<chrono::DateTime<Utc>>,
    published: Option<chrono::DateTime<Utc>>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    cvss: Vec<ward_model::Cvss>,
    #[serde(default)]
    affected: Vec<ward_model::Affected>,
    #[serde(default)]
    configurations: Vec<ward_model::NvdConfiguration>,
    #[serde(default)]
    packages: Vec<ward_model::PackageAffected>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
    #[serde(default)]
    ssvc: Option<Box<ward_model::Ssvc>>,
    #[serde(default)]
    kev: Option<Box<KevEntry>>,
}

impl From<Lean> for Advisory {
    fn from(l: Lean) -> Self {
        // Every field named: one added to `Advisory` must be decided on here.
        Self {
            id: l.id,
            source: l.source,
            state: l.state,
            updated: l.updated,
            published: l.published,
            aliases: l.aliases,
            title: l.title,
            description: None,
            cvss: l.cvss,
            affected: l.affected,
            configurations: l.configurations,
            packages: l.packages,
            database_specific: l.database_specific,
            ssvc: l.ssvc,
            kev: l.kev,
            cwes: Vec::new(),
            references: Vec::new(),
        }
    }
}

/// A chunk of advisories decoded on the CPU pool (a panic there is resumed here).
async fn decoded(chunk: tokio::task::JoinHandle<Result<Vec<Advisory>>>) -> Result<Vec<Advisory>> {
    match chunk.await {
        Ok(decoded) => decoded,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn hash(payload: &str) -> String {
    hex::encode(Sha256::digest(payload.as_bytes()))
}

/// Rows per multi-row statement: at most 7 parameters a row, 14,000 a statement, under
/// SQLite's 32,766. Fewer, larger statements: the CVE 5 corpus imported into PostgreSQL in
/// 8.9 s rather than 11.7 s with 400 (SQLite: the same either way).
const CHUNK: usize = 2000;

fn push_list(q: &mut Sql, items: &[impl AsRef<str>]) {
    let mut list = q.separated(", ");
    for item in items {
        list.push_bind(item.as_ref());
    }
    list.push_unseparated(")");
}

/// Appends `(VALUES ($1, $2), …)` for the `(vuln_id, source)` keys of the views.
fn push_view_keys<'a>(q: &mut Sql, views: impl Iterator<Item = &'a ViewWrite>) {
    q.push("(VALUES ");
    let mut list = q.separated(", ");
    for p in views {
        list.push("(")
            .push_bind_unseparated(&p.id)
            .push_unseparated(", ");
        list.push_bind_unseparated(&p.source).push_unseparated(")");
    }
    q.push(")");
}

/// One source's view of a vulnerability made ready to write: its stored JSON, the JSON's hash
/// and the keys it is found by. Made where the view was parsed ([`ViewWrite::new`] on the
/// import's parsing threads), so that the writer, holding the database's write lock, only
/// writes; and smaller to hold than the [`Advisory`] (which it no longer needs).
#[derive(Debug)]
pub struct ViewWrite {
    id: String,
    source: String,
    state: RecordState,
    updated: Option<String>,
    hash: String,
    payload: String,
    /// The CPE `(vendor, product)` keys, then the packages' `(pkg:<ecosystem>, name)` keys.
    keys: Vec<(String, String)>,
    /// How many of `keys` are CPE products.
    products: usize,
}

impl ViewWrite {
    pub fn new(advisory: &Advisory) -> Self {
        let payload = serde_json::to_string(advisory)
            .expect("Advisory serialises: it holds only strings, numbers and dates");
        let mut keys = advisory.product_keys();
        let products = keys.len();
        keys.extend(advisory.package_keys());
        Self {
            id: advisory.id.clone(),
            source: advisory.source.key(),
            state: advisory.state,
            updated: advisory
                .updated
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            hash: hash(&payload),
            payload,
            keys,
            products,
        }
    }
}

/// SQLite: the page cache of an import's connection, while it imports (SQLite's default is
/// 2 MiB). Product keys arrive in no order of the index they go to; with the index's pages
/// held, writing the CVE 5 corpus's 137,195 keys took 0.85 s rather than 1.0–1.26 s. Set back
/// to the default by [`ImportTx::commit`] and [`ImportTx::rollback`]; an import dropped on an
/// error (sqlx rolls it back) leaves its connection's limit at 64 MiB, filled only as that
/// connection reads.
const IMPORT_CACHE: &str = "PRAGMA cache_size = -65536";

/// One import, in one transaction. Writes go in batches (multi-row statements): one round trip
/// per few hundred records, not several per record.
pub struct ImportTx {
    tx: sqlx::Transaction<'static, Any>,
    /// SQLite: this process's turn to write, held until the import ends.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    backend: Backend,
    /// PostgreSQL: imports log their changes one at a time (see [`ImportTx::commit`]).
    change_log_lock: Option<i64>,
    started_at: String,
    /// Vulnerabilities whose views, KEV entry or EPSS score this import changed: logged on
    /// commit for continuous matching.
    changed: HashSet<String>,
    /// Coverage keys (`pkg:<ecosystem>`, `cpe`) of the views this import wrote: recounted on
    /// commit.
    coverage: BTreeSet<String>,
}

impl ImportTx {
    /// Stores one source's view of each vulnerability; the newer view wins, and identical
    /// content is left alone. Returns one outcome per advisory, in order.
    pub async fn upsert_advisories(&mut self, batch: &[Advisory]) -> Result<Vec<Outcome>> {
        let views: Vec<ViewWrite> = batch.iter().map(ViewWrite::new).collect();
        self.upsert_views(&views).await
    }

    /// [`ImportTx::upsert_advisories`] of views already made ready to write.
    pub async fn upsert_views(&mut self, batch: &[ViewWrite]) -> Result<Vec<Outcome>> {
        let mut outcomes = Vec::with_capacity(batch.len());
        // A key seen twice in one batch is written in order: split the batch there.
        let mut start = 0;
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        for (i, v) in batch.iter().enumerate() {
            if !seen.insert((&v.id, &v.source)) {
                outcomes.extend(self.upsert_unique(&batch[start..i]).await?);
                start = i;
                seen.clear();
                seen.insert((&v.id, &v.source));
            }
        }
        outcomes.extend(self.upsert_unique(&batch[start..]).await?);
        Ok(outcomes)
    }

    /// Convenience for one advisory.
    pub async fn upsert_advisory(&mut self, advisory: &Advisory) -> Result<Outcome> {
        Ok(self.upsert_views(&[ViewWrite::new(advisory)]).await?[0])
    }

    async fn upsert_unique(&mut self, batch: &[ViewWrite]) -> Result<Vec<Outcome>> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(CHUNK) {
            let mut q = Sql::new(
                self.backend,
                "SELECT vuln_id, source, updated, content_hash FROM advisory WHERE (vuln_id, source) IN ",
            );
            push_view_keys(&mut q, chunk.iter());
            let existing: HashMap<(String, String), (Option<String>, String)> = q
                .build()
                .fetch_all(&mut *self.tx)
                .await?
                .into_iter()
                .map(|r| {
                    (
                        (r.get("vuln_id"), r.get("source")),
                        (r.get("updated"), r.get("content_hash")),
                    )
                })
                .collect();
            let mut writes: Vec<(&ViewWrite, Outcome)> = Vec::new();
            for p in chunk {
                let outcome = match existing.get(&(p.id.clone(), p.source.clone())) {
                    None => Outcome::New,
                    Some((_, old_hash)) if *old_hash == p.hash => Outcome::Unchanged,
                    // RFC 3339 UTC strings with fixed precision order as text.
                    Some((Some(old), _)) if p.updated.as_ref().is_some_and(|new| old > new) => {
                        Outcome::Older
                    }
                    Some(_) => Outcome::Updated,
                };
                if matches!(outcome, Outcome::New | Outcome::Updated) {
                    writes.push((p, outcome));
                    self.changed.insert(p.id.clone());
                }
                outcomes.push(outcome);
            }
            if writes.is_empty() {
                continue;
            }
            let now = Utc::now().to_rfc3339();
            let mut q = Sql::new(
                self.backend,
                "INSERT INTO advisory (vuln_id, source, state, updated, content_hash, payload, imported_at) ",
            );
            q.push_values(&writes, |mut b, (p, _)| {
                let state = match p.state {
                    RecordState::Published => "published",
                    RecordState::Rejected => "rejected",
                    RecordState::Withdrawn => "withdrawn",
                };
                b.push_bind(&p.id)
                    .push_bind(&p.source)
                    .push_bind(state)
                    .push_bind(&p.updated)
                    .push_bind(&p.hash)
                    .push_bind(&p.payload)
                    .push_bind(now.clone());
            });
            q.push(
                " ON CONFLICT (vuln_id, source) DO UPDATE SET state = excluded.state, updated = excluded.updated, \
                 content_hash = excluded.content_hash, payload = excluded.payload, imported_at = excluded.imported_at",
            );
            q.build().execute(&mut *self.tx).await?;

            // A new view has no product rows yet (they are written with their view, and a
            // view is never deleted): only an updated one's are replaced.
            let updated: Vec<&ViewWrite> = writes
                .iter()
                .filter_map(|&(p, o)| (o == Outcome::Updated).then_some(p))
                .collect();
            if !updated.is_empty() {
                let mut q = Sql::new(
                    self.backend,
                    "DELETE FROM advisory_product WHERE (vuln_id, source) IN ",
                );
                push_view_keys(&mut q, updated.into_iter());
                q.build().execute(&mut *self.tx).await?;
            }

            for (p, _) in &writes {
                if p.products > 0 {
                    self.coverage.insert(CPE_COVERAGE.to_owned());
                }
                for (ecosystem, _) in &p.keys[p.products..] {
                    if !self.coverage.contains(ecosystem) {
                        self.coverage.insert(ecosystem.clone());
                    }
                }
            }
            // CPE products and OSV packages (`pkg:<ecosystem>`, name) share the index.
            let mut rows: Vec<(&str, &str, &str, &str)> = writes
                .iter()
                .filter(|(p, _)| p.state == RecordState::Published)
                .flat_map(|(p, _)| {
                    p.keys
                        .iter()
                        .map(|(v, pr)| (v.as_str(), pr.as_str(), p.id.as_str(), p.source.as_str()))
                })
                .collect();
            // In the order of the table's key: each statement's rows land in neighbouring pages.
            rows.sort_unstable();
            for rows in rows.chunks(CHUNK) {
                let mut q = Sql::new(
                    self.backend,
                    "INSERT INTO advisory_product (vendor, product, vuln_id, source) ",
                );
                q.push_values(rows, |mut b, r| {
                    b.push_bind(r.0)
                        .push_bind(r.1)
                        .push_bind(r.2)
                        .push_bind(r.3);
                });
                q.push(" ON CONFLICT DO NOTHING");
                q.build().execute(&mut *self.tx).await?;
            }
            // A rejected CVE is withdrawn: no source's view of it matches any more.
            let rejected: Vec<&str> = writes
                .iter()
                .filter(|(p, _)| p.state == RecordState::Rejected)
                .map(|(p, _)| p.id.as_str())
                .collect();
            if !rejected.is_empty() {
                let mut q = Sql::new(
                    self.backend,
                    "DELETE FROM advisory_product WHERE vuln_id IN (",
                );
                push_list(&mut q, &rejected);
                q.build().execute(&mut *self.tx).await?;
            }
        }
        Ok(outcomes)
    }

    /// Stores KEV entries; the catalogue being imported is taken as current.
    pub async fn upsert_kevs(&mut self, batch: &[KevEntry]) -> Result<Vec<Outcome>> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(CHUNK) {
            let prepared: Vec<(&KevEntry, String, String)> = chunk
                .iter()
                .map(|k| {
                    let payload = serde_json::to_string(k).expect("KevEntry serialises");
                    let h = hash(&payload);
                    (k, payload, h)
                })
                .collect();
            let ids: Vec<&str> = chunk.iter().map(|k| k.cve_id.as_str()).collect();
            let mut q = Sql::new(
                self.backend,
                "SELECT vuln_id, content_hash FROM kev WHERE vuln_id IN (",
            );
            push_list(&mut q, &ids);
            let mut existing: HashMap<String, String> = q
                .build()
                .fetch_all(&mut *self.tx)
                .await?
                .into_iter()
                .map(|r| (r.get("vuln_id"), r.get("content_hash")))
                .collect();
            let mut writes = Vec::new();
            for (k, payload, h) in &prepared {
                let outcome = match existing.get(&k.cve_id) {
                    Some(old) if old == h => Outcome::Unchanged,
                    Some(_) => Outcome::Updated,
                    None => Outcome::New,
                };
                if outcome != Outcome::Unchanged {
                    // A later duplicate in the same chunk compares against this one.
                    existing.insert(k.cve_id.clone(), h.clone());
                    writes.retain(|(w, _, _): &(&KevEntry, &String, &String)| w.cve_id != k.cve_id);
                    writes.push((*k, payload, h));
                    self.changed.insert(k.cve_id.clone());
                }
                outcomes.push(outcome);
            }
            if writes.is_empty() {
                continue;
            }
            let mut q = Sql::new(
                self.backend,
                "INSERT INTO kev (vuln_id, date_added, due_date, content_hash, payload) ",
            );
            q.push_values(&writes, |mut b, (k, payload, h)| {
                b.push_bind(&k.cve_id)
                    .push_bind(k.date_added.map(|d| d.to_string()))
                    .push_bind(k.due_date.map(|d| d.to_string()))
                    .push_bind(*h)
                    .push_bind(*payload);
            });
            q.push(
                " ON CONFLICT (vuln_id) DO UPDATE SET date_added = excluded.date_added, due_date = excluded.due_date, \
                 content_hash = excluded.content_hash, payload = excluded.payload",
            );
            q.build().execute(&mut *self.tx).await?;
        }
        Ok(outcomes)
    }

    /// The catalogue just imported is the whole of KEV: entries stored but absent from it
    /// (`present`) were removed by CISA (it has withdrawn entries several times) and are
    /// deleted, each logged as a change so that matching re-prioritises. Returns them.
    pub async fn remove_kev_absent(&mut self, present: &HashSet<String>) -> Result<Vec<String>> {
        let stored: Vec<String> = sqlx::query("SELECT vuln_id FROM kev")
            .fetch_all(&mut *self.tx)
            .await?
            .iter()
            .map(|r| r.get("vuln_id"))
            .collect();
        let mut gone: Vec<String> = stored
            .into_iter()
            .filter(|id| !present.contains(id))
            .collect();
        gone.sort();
        for chunk in gone.chunks(CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let mut q = Sql::new(self.backend, "DELETE FROM kev WHERE vuln_id IN (");
            push_list(&mut q, &ids);
            q.build().execute(&mut *self.tx).await?;
        }
        self.changed.extend(gone.iter().cloned());
        Ok(gone)
    }

    pub async fn upsert_kev(&mut self, kev: &KevEntry) -> Result<Outcome> {
        Ok(self.upsert_kevs(std::slice::from_ref(kev)).await?[0])
    }

    /// Stores EPSS scores, each unless a score from a later date is already stored.
    pub async fn upsert_epss_batch(&mut self, batch: &[Epss]) -> Result<Vec<Outcome>> {
        type Stored = (f64, f64, Option<String>);
        let mut outcomes = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(|e| e.cve_id.as_str()).collect();
            let mut q = Sql::new(
                self.backend,
                "SELECT vuln_id, score, percentile, score_date FROM epss WHERE vuln_id IN (",
            );
            push_list(&mut q, &ids);
            let mut existing: HashMap<String, Stored> = q
                .build()
                .fetch_all(&mut *self.tx)
                .await?
                .into_iter()
                .map(|r| {
                    (
                        r.get("vuln_id"),
                        (r.get("score"), r.get("percentile"), r.get("score_date")),
                    )
                })
                .collect();
            let mut writes: Vec<(&Epss, Option<String>)> = Vec::new();
            // The history keeps a score's first day and each day it moved by a point (0.01)
            // or more: a jump stays visible without a row per CVE per day.
            let mut history: Vec<(&Epss, String)> = Vec::new();
            for e in chunk {
                let date = e.score_date.map(|d| d.to_string());
                let outcome = match existing.get(&e.cve_id) {
                    None => Outcome::New,
                    Some((s, p, d)) if *s == e.score && *p == e.percentile && *d == date => {
                        Outcome::Unchanged
                    }
                    Some((_, _, Some(old))) if date.as_ref().is_some_and(|new| old > new) => {
                        Outcome::Older
                    }
                    Some(_) => Outcome::Updated,
                };
                if matches!(outcome, Outcome::New | Outcome::Updated) {
                    let moved = existing
                        .get(&e.cve_id)
                        .is_none_or(|(s, _, _)| (s - e.score).abs() >= 0.01);
                    if let (true, Some(d)) = (moved, &date) {
                        history.retain(|(h, _)| h.cve_id != e.cve_id);
                        history.push((e, d.clone()));
                    }
                    existing.insert(e.cve_id.clone(), (e.score, e.percentile, date.clone()));
                    writes.retain(|(w, _)| w.cve_id != e.cve_id);
                    writes.push((e, date));
                    self.changed.insert(e.cve_id.clone());
                }
                outcomes.push(outcome);
            }
            if writes.is_empty() {
                continue;
            }
            let mut q = Sql::new(
                self.backend,
                "INSERT INTO epss (vuln_id, score, percentile, model_version, score_date) ",
            );
            q.push_values(&writes, |mut b, (e, date)| {
                b.push_bind(&e.cve_id)
                    .push_bind(e.score)
                    .push_bind(e.percentile)
                    .push_bind(&e.model_version)
                    .push_bind(date);
            });
            q.push(
                " ON CONFLICT (vuln_id) DO UPDATE SET score = excluded.score, percentile = excluded.percentile, \
                 model_version = excluded.model_version, score_date = excluded.score_date",
            );
            q.build().execute(&mut *self.tx).await?;
            if !history.is_empty() {
                let mut q = Sql::new(
                    self.backend,
                    "INSERT INTO epss_history (vuln_id, score_date, score, percentile) ",
                );
                q.push_values(&history, |mut b, (e, date)| {
                    b.push_bind(&e.cve_id)
                        .push_bind(date)
                        .push_bind(e.score)
                        .push_bind(e.percentile);
                });
                q.push(
                    " ON CONFLICT (vuln_id, score_date) DO UPDATE SET score = excluded.score, \
                     percentile = excluded.percentile",
                );
                q.build().execute(&mut *self.tx).await?;
            }
        }
        Ok(outcomes)
    }

    pub async fn upsert_epss(&mut self, e: &Epss) -> Result<Outcome> {
        Ok(self.upsert_epss_batch(std::slice::from_ref(e)).await?[0])
    }

    /// Commits, recording a summary of the run.
    pub async fn commit(mut self, summary: &serde_json::Value) -> Result<()> {
        let mut changed: Vec<&String> = self.changed.iter().collect();
        changed.sort();
        // The matcher reads the change log up to a cursor: a change must never commit below a
        // sequence number it has already passed. On PostgreSQL, sequence numbers are handed
        // out before commit, so two imports logging at once could commit out of order; this
        // lock (held to commit) makes them take turns. SQLite has one writer at a time anyway.
        if let Some(key) = self.change_log_lock {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut *self.tx)
                .await?;
        }
        for chunk in changed.chunks(CHUNK) {
            let mut q = Sql::new(self.backend, "INSERT INTO knowledge_change (vuln_id) ");
            q.push_values(chunk, |mut b, id| {
                b.push_bind(*id);
            });
            q.build().execute(&mut *self.tx).await?;
        }
        for key in &self.coverage {
            let advisories: i64 = if key == CPE_COVERAGE {
                sqlx::query_scalar(
                    "SELECT COUNT(DISTINCT vuln_id) FROM advisory_product WHERE vendor NOT LIKE 'pkg:%'",
                )
                .fetch_one(&mut *self.tx)
                .await?
            } else {
                sqlx::query_scalar(
                    "SELECT COUNT(DISTINCT vuln_id) FROM advisory_product WHERE vendor = $1",
                )
                .bind(key)
                .fetch_one(&mut *self.tx)
                .await?
            };
            sqlx::query(
                "INSERT INTO knowledge_coverage (key, advisories, updated) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET advisories = excluded.advisories, updated = excluded.updated",
            )
            .bind(key)
            .bind(advisories)
            .bind(Utc::now().to_rfc3339())
            .execute(&mut *self.tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO import_run (started_at, finished_at, summary) VALUES ($1, $2, $3)",
        )
        .bind(&self.started_at)
        .bind(Utc::now().to_rfc3339())
        .bind(summary.to_string())
        .execute(&mut *self.tx)
        .await?;
        self.restore_cache().await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// SQLite: the connection goes back to the pool with the default page cache.
    async fn restore_cache(&mut self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA cache_size = -2000")
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    /// Abandons the import: the database is exactly as it was before it began.
    pub async fn rollback(mut self) -> Result<()> {
        self.restore_cache().await?;
        self.tx.rollback().await?;
        Ok(())
    }
}
