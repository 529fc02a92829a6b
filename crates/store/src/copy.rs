//! `ward db copy`: every row of one Ward database into a new one, SQLite or PostgreSQL either
//! way, so a federation that outgrows one machine moves to PostgreSQL with its alerts, their
//! history and the audit chain intact (re-importing feeds and inventories would lose them).
//!
//! The source is read in one snapshot (a read transaction; `REPEATABLE READ` on PostgreSQL),
//! so a server may go on running on it; the target is written in one transaction, so a failed
//! copy leaves it as it was. Keys are kept as they are (the audit chain and every reference
//! depend on them) and PostgreSQL's identity sequences are moved past them. Afterwards each
//! table is read back from the target and compared with what was read from the source (row
//! count and an order-independent digest of every value), and the target's audit chain is
//! verified.

use std::collections::BTreeSet;

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row, TypeInfo, ValueRef};

use crate::sql::Sql;
use crate::{Backend, Result, Store, StoreError};

/// Ward's tables, each after the tables it refers to. A migration that adds a table adds it
/// here too: the copy refuses a schema with a table it does not know.
pub const TABLES: &[&str] = &[
    "advisory",
    "advisory_product",
    "knowledge_coverage",
    "kev",
    "epss",
    "epss_history",
    "import_run",
    "knowledge_change",
    "matching_cursor",
    "organisation",
    "api_token",
    "sighting",
    "alert",
    "audit_log",
    "audit_head",
    "audit_checkpoint",
    "asset",
    "inventory_version",
    "finding_detail",
    "finding",
    "asset_product",
    "notification_channel",
    "outbox",
    "user_account",
    "session",
    "login_failure",
    "opaque_id",
    "feed_state",
    "vex_statement",
    "taxii_collection",
    "taxii_object",
    "footprint",
    "observation",
    "exposure_contradiction",
];

/// Tables the migrations fill (the audit chain's head, the matching cursor, the opaque ids'
/// sequences and keys): the target's is replaced by the source's.
const SEEDED: &[&str] = &["audit_head", "matching_cursor", "opaque_id"];

/// Tables the database keeps itself, by triggers on the copied ones (the open findings'
/// counts): never copied, filled in the target as the rows they count arrive.
const DERIVED: &[&str] = &["finding_open_count"];

/// Parameters per INSERT statement: under SQLite's 32,766 (PostgreSQL's is 65,535). A table's
/// rows go in as many per statement as fit, up to `MAX_ROWS_PER_INSERT`. Measured on a
/// 515,000-row federation into PostgreSQL over loopback: at most 200 rows per statement 46 s,
/// 1,000: 32 s, 2,000: 18 s, 8,000: 14.5 s (the other way, into SQLite, 13 → 11.5 s).
const PARAMETERS_PER_INSERT: usize = 30_000;
const MAX_ROWS_PER_INSERT: usize = 8_000;

/// One table copied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableCopy {
    pub table: &'static str,
    pub rows: u64,
    /// The sum of every row's SHA-256 (order-independent), equal on both sides.
    pub digest: String,
}

/// What a copy did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CopyReport {
    pub tables: Vec<TableCopy>,
    pub rows: u64,
    /// Entries in the target's audit chain, verified after the copy.
    pub audit_entries: usize,
}

/// How a column stores its values (Ward's schema uses only these three on both backends).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Float,
    Text,
}

struct Column {
    name: String,
    kind: Kind,
}

/// One value.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cell {
    /// The `i`th value of a row read for `column`, in the column's kind.
    fn read(row: &AnyRow, i: usize, table: &str, column: &Column) -> Result<Self> {
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            return Ok(Self::Null);
        }
        let stored = raw.type_info().name().to_ascii_uppercase();
        // SQLite keeps what it is given: an integer in a REAL column is read as the float, and
        // anything else that does not fit the column is refused, named.
        match (stored.as_str(), column.kind) {
            ("BIGINT" | "INTEGER" | "SMALLINT", Kind::Int) => Ok(Self::Int(row.try_get(i)?)),
            ("BIGINT" | "INTEGER" | "SMALLINT", Kind::Float) => {
                Ok(Self::Float(row.try_get::<i64, _>(i)? as f64))
            }
            ("DOUBLE" | "REAL", Kind::Float) => Ok(Self::Float(row.try_get(i)?)),
            ("TEXT", Kind::Text) => Ok(Self::Text(row.try_get(i)?)),
            _ => Err(StoreError::Invalid(format!(
                "table {table}, column {}: a value stored as {stored} does not fit the column",
                column.name
            ))),
        }
    }

    fn bind(self, kind: Kind, list: &mut crate::sql::Separated<'_>) {
        match (self, kind) {
            (Self::Null, Kind::Int) => list.push_bind(None::<i64>),
            (Self::Null, Kind::Float) => list.push_bind(None::<f64>),
            (Self::Null, Kind::Text) => list.push_bind(None::<String>),
            (Self::Int(v), _) => list.push_bind(v),
            (Self::Float(v), _) => list.push_bind(v),
            (Self::Text(v), _) => list.push_bind(v),
        };
    }

    /// Feeds the value, tagged and length-prefixed, to a row's hash.
    fn digest(&self, h: &mut Sha256) {
        match self {
            Self::Null => h.update([0]),
            Self::Int(v) => {
                h.update([1]);
                h.update(v.to_le_bytes());
            }
            Self::Float(v) => {
                h.update([2]);
                h.update(v.to_bits().to_le_bytes());
            }
            Self::Text(s) => {
                h.update([3]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
        }
    }
}

/// The sum (mod 2^256) of every row's SHA-256: the same whatever order the rows are read in.
#[derive(Default)]
struct TableDigest {
    rows: u64,
    sum: [u64; 4],
}

impl TableDigest {
    fn add(&mut self, cells: &[Cell]) {
        let mut h = Sha256::new();
        for c in cells {
            c.digest(&mut h);
        }
        let bytes = h.finalize();
        let mut carry = 0u128;
        for (i, limb) in self.sum.iter_mut().enumerate() {
            let word = u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            let total = u128::from(*limb) + u128::from(word) + carry;
            *limb = total as u64;
            carry = total >> 64;
        }
        self.rows += 1;
    }

    fn hex(&self) -> String {
        self.sum.iter().rev().map(|l| format!("{l:016x}")).collect()
    }
}

/// `SELECT "a", "b" FROM "table"`.
fn select_all(backend: Backend, table: &str, columns: &[Column]) -> Result<Sql> {
    let mut q = Sql::new(backend, "SELECT ");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_identifier(&c.name)?;
    }
    q.push(" FROM ");
    q.push_identifier(table)?;
    Ok(q)
}

/// Reads a whole table, one row at a time, into a digest (and `each`).
async fn read_table(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    columns: &[Column],
    mut each: impl AsyncFnMut(Vec<Cell>) -> Result<()>,
) -> Result<TableDigest> {
    let mut digest = TableDigest::default();
    let query = select_all(backend, table, columns)?.build();
    let mut rows = query.fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        let cells = columns
            .iter()
            .enumerate()
            .map(|(i, c)| Cell::read(&row, i, table, c))
            .collect::<Result<Vec<_>>>()?;
        digest.add(&cells);
        each(cells).await?;
    }
    Ok(digest)
}

impl Store {
    /// Ward's tables in this database (not sqlx's migration table).
    async fn table_names(&self, conn: &mut AnyConnection) -> Result<BTreeSet<String>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name AS t FROM sqlite_master WHERE type = 'table'
                 AND name NOT LIKE 'sqlite%' AND name <> '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT table_name::text AS t FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                 AND table_name <> '_sqlx_migrations'"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&mut *conn).await?;
        Ok(rows.iter().map(|r| r.get::<String, _>("t")).collect())
    }

    /// A table's columns, in the table's order, with how each stores its values.
    async fn columns(&self, conn: &mut AnyConnection, table: &str) -> Result<Vec<Column>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name AS c, upper(type) AS k FROM pragma_table_info($1) ORDER BY cid"
            }
            Backend::Postgres => {
                "SELECT column_name::text AS c, upper(data_type::text) AS k
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1
                 ORDER BY ordinal_position"
            }
        };
        let rows = sqlx::query(sql).bind(table).fetch_all(&mut *conn).await?;
        rows.iter()
            .map(|r| {
                let name: String = r.get("c");
                let declared: String = r.get("k");
                let kind = match declared.as_str() {
                    "INTEGER" | "BIGINT" | "INT" | "SMALLINT" => Kind::Int,
                    "REAL" | "DOUBLE PRECISION" | "DOUBLE" => Kind::Float,
                    "TEXT" => Kind::Text,
                    other => {
                        return Err(StoreError::Invalid(format!(
                            "table {table}, column {name}: type {other} is not one Ward's copy knows"
                        )));
                    }
                };
                Ok(Column { name, kind })
            })
            .collect()
    }

    /// Checks that this database holds exactly Ward's tables.
    async fn check_tables(&self, conn: &mut AnyConnection, which: &str) -> Result<()> {
        let found = self.table_names(conn).await?;
        let known: BTreeSet<String> = TABLES
            .iter()
            .chain(DERIVED)
            .map(|t| (*t).to_owned())
            .collect();
        if found != known {
            let unknown: Vec<&String> = found.difference(&known).collect();
            let missing: Vec<&String> = known.difference(&found).collect();
            return Err(StoreError::Invalid(format!(
                "the {which} database's tables are not the ones this version of Ward copies \
                 (unknown: {unknown:?}; missing: {missing:?})"
            )));
        }
        Ok(())
    }

    /// Copies every row of this database into `target`, which must be new (migrated, nothing
    /// stored), in one transaction; then reads the target back and compares. `progress` is
    /// told each table's name and the rows copied so far.
    pub async fn copy_to(
        &self,
        target: &Self,
        mut progress: impl FnMut(&str, u64),
    ) -> Result<CopyReport> {
        let mut source = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // One snapshot of every table, while a server may go on writing.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *source)
                .await?;
        }
        self.check_tables(&mut source, "source").await?;
        let mut tx = target.pool.begin().await?;
        target.check_tables(&mut tx, "target").await?;

        // Only into a new database: a copy never merges with, or overwrites, what is there.
        for &table in TABLES.iter().filter(|t| !SEEDED.contains(t)) {
            let mut q = Sql::new(target.backend, "SELECT COUNT(*) AS n FROM ");
            q.push_identifier(table)?;
            let n: i64 = q.build().fetch_one(&mut *tx).await?.get("n");
            if n > 0 {
                return Err(StoreError::Conflict(format!(
                    "the target database is not new: table {table} holds {n} rows \
                     (ward db copy only copies into an empty database)"
                )));
            }
        }

        let mut copied = Vec::with_capacity(TABLES.len());
        for &table in TABLES {
            let columns = self.columns(&mut source, table).await?;
            let target_columns = target.columns(&mut tx, table).await?;
            let names = |cs: &[Column]| {
                let mut n: Vec<String> = cs.iter().map(|c| c.name.clone()).collect();
                n.sort();
                n
            };
            if names(&columns) != names(&target_columns) {
                return Err(StoreError::Invalid(format!(
                    "table {table} has columns {:?} in the source but {:?} in the target",
                    names(&columns),
                    names(&target_columns)
                )));
            }
            // Values are read in the target column's kind.
            let columns: Vec<Column> = columns
                .into_iter()
                .map(|c| {
                    let kind = target_columns
                        .iter()
                        .find(|t| t.name == c.name)
                        .map_or(c.kind, |t| t.kind);
                    Column { name: c.name, kind }
                })
                .collect();
            if SEEDED.contains(&table) {
                let mut q = Sql::new(target.backend, "DELETE FROM ");
                q.push_identifier(table)?;
                q.build().execute(&mut *tx).await?;
            }
            let per_insert =
                (PARAMETERS_PER_INSERT / columns.len().max(1)).min(MAX_ROWS_PER_INSERT);
            let mut batch: Vec<Vec<Cell>> = Vec::with_capacity(per_insert);
            let mut rows = 0u64;
            let tx_ref = &mut tx;
            let digest = read_table(&mut source, self.backend, table, &columns, async |cells| {
                batch.push(cells);
                if batch.len() == per_insert {
                    rows += batch.len() as u64;
                    insert(
                        target.backend,
                        tx_ref,
                        table,
                        &columns,
                        std::mem::take(&mut batch),
                    )
                    .await?;
                    progress(table, rows);
                }
                Ok(())
            })
            .await?;
            insert(target.backend, &mut tx, table, &columns, batch).await?;
            progress(table, digest.rows);
            copied.push((table, columns, digest));
        }
        if target.backend == Backend::Postgres {
            // New rows get keys after the copied ones.
            let identities = sqlx::query(
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns
                 WHERE table_schema = current_schema() AND is_identity = 'YES'",
            )
            .fetch_all(&mut *tx)
            .await?;
            for r in identities {
                let (t, c): (String, String) = (r.get("t"), r.get("c"));
                let mut q = Sql::new(target.backend, "SELECT setval(pg_get_serial_sequence(");
                q.push_bind(format!("\"{t}\""))
                    .push(", ")
                    .push_bind(c.clone());
                q.push("), COALESCE((SELECT MAX(");
                q.push_identifier(&c)?.push(") FROM ");
                q.push_identifier(&t)?.push("), 0) + 1, false)");
                q.build().execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        source.rollback().await?;

        // Read back: every table as it was read from the source.
        let mut conn = target.pool.acquire().await?;
        let mut tables = Vec::with_capacity(copied.len());
        for (table, columns, digest) in copied {
            let again =
                read_table(&mut conn, target.backend, table, &columns, async |_| Ok(())).await?;
            if (again.rows, again.sum) != (digest.rows, digest.sum) {
                return Err(StoreError::Invalid(format!(
                    "table {table}: the copy reads back differently ({} rows, {} copied)",
                    again.rows, digest.rows
                )));
            }
            tables.push(TableCopy {
                table,
                rows: digest.rows,
                digest: digest.hex(),
            });
        }
        drop(conn);
        let audit = target.verify_audit().await?;
        if !audit.problems.is_empty() {
            return Err(StoreError::Invalid(format!(
                "the copied audit chain does not verify: {}",
                audit.problems.join("; ")
            )));
        }
        Ok(CopyReport {
            rows: tables.iter().map(|t| t.rows).sum(),
            tables,
            audit_entries: audit.entries,
        })
    }
}

/// One multi-row INSERT of a batch into the target.
async fn insert(
    backend: Backend,
    tx: &mut AnyConnection,
    table: &str,
    columns: &[Column],
    rows: Vec<Vec<Cell>>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(backend, "INSERT INTO ");
    q.push_identifier(table)?.push(" (");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_identifier(&c.name)?;
    }
    q.push(") ");
    q.push_values(rows, |mut list, cells| {
        for (cell, column) in cells.into_iter().zip(columns) {
            cell.bind(column.kind, &mut list);
        }
    });
    q.build().execute(&mut *tx).await?;
    Ok(())
}
