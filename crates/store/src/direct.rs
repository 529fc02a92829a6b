//! Bulk reads straight from a SQLite file, beside the pool.
//!
//! sqlx's `Any` driver passes every row from SQLite's worker thread over a channel and copies
//! each value twice on the way (into a `SqliteRow`, then an `AnyRow`), and the caller copies it
//! once more. Reading a 5,000-component scan's 29,730 views (48 MB) that way took 420 ms, where
//! the `sqlite3` shell reads all 88,156 views of the database (95 MB) in 74 ms, and every copy
//! was fresh memory to fault in. Here each payload is decoded where SQLite holds it, on
//! read-only connections of their own, one per core, on the CPU pool.
//! Only reads are made here: every write goes through the pool and its write turn.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use ward_model::Advisory;

use crate::knowledge::{Decode, decode_view};
use crate::{Result, StoreError};

/// Every view of these vulnerabilities, ordered by id and source, decoded (see
/// [`decode_view`]). `None` when the file cannot be opened for reading here (the caller reads
/// through the pool instead).
pub(crate) async fn views(
    file: &Arc<Path>,
    ids: &[String],
    decode: &Decode,
) -> Result<Option<Vec<Advisory>>> {
    if ids.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let parts = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2)
        .clamp(1, ids.len());
    // Contiguous runs of the sorted ids, so that the parts put together are in order.
    let parts =
        futures_util::future::try_join_all(ids.chunks(ids.len().div_ceil(parts)).map(|run| {
            let (file, decode) = (file.clone(), decode.clone());
            let run = serde_json::to_string(run).expect("a list of strings serialises");
            crate::cpu::run(move || read(&file, &run, &decode))
        }))
        .await?;
    let Some(parts) = parts.into_iter().collect::<Option<Vec<Vec<Advisory>>>>() else {
        return Ok(None);
    };
    // Put together in a list allocated once at its length: extended part by part, the list
    // doubled and copied on the way (a 5,000-component scan's views are 10 MB of it).
    let mut views = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        views.extend(part);
    }
    Ok(Some(views))
}

/// The vulnerabilities (sorted, once each) with a view indexed under one of `pairs` (vendor,
/// product), under one of `products` (any vendor), or under every product (`*`): one
/// statement, the lists bound as JSON arrays. Through sqlx's pool the same lookups took three
/// statements of 2,000 pairs each and 57–65 ms for a 5,000-component scan; here 16–19 ms.
/// `None` when the file cannot be opened for reading here.
pub(crate) async fn vulnerabilities(
    file: &Arc<Path>,
    pairs: &[(&str, &str)],
    products: &[&str],
) -> Result<Option<Vec<String>>> {
    let file = file.clone();
    let pairs = serde_json::to_string(pairs).expect("a list of string pairs serialises");
    let products = serde_json::to_string(products).expect("a list of strings serialises");
    crate::cpu::run(move || {
        let Some(conn) = reader(&file, "looking up products through the pool")? else {
            return Ok(None);
        };
        let mut statement = conn.prepare(
            "SELECT a.vuln_id FROM json_each(?1) AS k JOIN advisory_product a
                 ON a.vendor = json_extract(k.value, '$[0]')
                AND a.product = json_extract(k.value, '$[1]')
             UNION SELECT vuln_id FROM advisory_product
                 WHERE product IN (SELECT value FROM json_each(?2))
             UNION SELECT vuln_id FROM advisory_product WHERE vendor = '*'
             ORDER BY 1",
        )?;
        let ids = statement
            .query_map([&pairs, &products], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(Some(ids))
    })
    .await
}

/// A connection of its own to the database in `file` (beside the pool, one thread's: no
/// mutex); `None` when it cannot be opened, logged with what is done instead (`fallback`).
pub(crate) fn open(file: &Path, flags: OpenFlags, fallback: &str) -> Option<Connection> {
    match Connection::open_with_flags(file, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX) {
        Ok(conn) => Some(conn),
        Err(e) => {
            tracing::debug!(file = %file.display(), error = %e, "{fallback}");
            None
        }
    }
}

/// A read-only connection for one bulk read ([`open`]), waiting up to 30 s for a writer,
/// with a 512 KiB page cache: each page is passed over about once, and SQLite's default 2 MiB
/// per connection only held pages already read (4 MiB of a 5,000-component scan's peak on two
/// cores).
fn reader(file: &Path, fallback: &str) -> Result<Option<Connection>> {
    let Some(conn) = open(file, OpenFlags::SQLITE_OPEN_READ_ONLY, fallback) else {
        return Ok(None);
    };
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.execute_batch("PRAGMA cache_size = -512")?;
    Ok(Some(conn))
}

/// One part: the views of the ids in `ids_json` (a JSON array, read by SQLite's `json_each`:
/// one statement, however many ids).
fn read(file: &Path, ids_json: &str, decode: &Decode) -> Result<Option<Vec<Advisory>>> {
    let Some(conn) = reader(file, "reading views through the pool")? else {
        return Ok(None);
    };
    // Counted first (from the index alone), so that the list is allocated once at its size:
    // grown by doubling, each step was fresh memory to fault in and a copy of every view.
    let count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM advisory WHERE vuln_id IN (SELECT value FROM json_each(?1))",
        [ids_json],
        |row| row.get(0),
    )?;
    let mut statement = conn.prepare(
        "SELECT vuln_id, source, payload FROM advisory
         WHERE vuln_id IN (SELECT value FROM json_each(?1)) ORDER BY vuln_id, source",
    )?;
    let mut rows = statement.query([ids_json])?;
    let mut views = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    while let Some(row) = rows.next()? {
        let text = |i: usize, vuln_id: &str| -> Result<&str> {
            row.get_ref(i)?
                .as_str()
                .map_err(|e| StoreError::Unreadable {
                    table: "advisory",
                    row: vuln_id.to_owned(),
                    column: ["vuln_id", "source", "payload"][i],
                    message: e.to_string(),
                })
        };
        let vuln_id = text(0, "(a row)")?;
        let (source, payload) = (text(1, vuln_id)?, text(2, vuln_id)?);
        views.push(decode_view(vuln_id, source, payload, decode)?);
    }
    Ok(Some(views))
}
