//! TAXII 2.1 collections: what the central team publishes to members (STIX 2.1 indicators, Sigma
//! rules carried as indicators with `pattern_type: "sigma"`), and who may read each. Objects are
//! kept per (collection, id, version) with a `date_added` that strictly increases within a
//! collection, so that members paging with `added_after` neither skip nor repeat an object.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;

use crate::audit::now;
use crate::{Result, Store, StoreError};

/// A collection as the store keeps it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CollectionRow {
    /// A UUID (TAXII's collection id).
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// `*` for every member, else the slugs of the members that may read it.
    pub readers: Vec<String>,
    pub created_at: String,
    pub created_by: String,
    pub objects: i64,
}

impl CollectionRow {
    /// Whether a member (by slug) may read it; central roles read every collection.
    pub fn readable_by(&self, slug: &str, central: bool) -> bool {
        central || self.readers.iter().any(|r| r == "*" || r == slug)
    }
}

/// One stored object, as TAXII serves it.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub seq: i64,
    pub id: String,
    pub version: String,
    pub date_added: String,
    pub payload: serde_json::Value,
}

/// What adding objects did.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct AddedObjects {
    pub added: usize,
    /// The same id and version already held: not added again.
    pub unchanged: usize,
}

/// At most this many objects per request to add, and per page served.
pub const MAX_OBJECTS: usize = 100_000;
pub const MAX_PAGE: i64 = 1_000;

fn collection_row(r: &sqlx::any::AnyRow) -> Result<CollectionRow> {
    let readers: String = r.get("readers");
    let readers = if readers == "*" {
        vec!["*".to_owned()]
    } else {
        serde_json::from_str(&readers).map_err(|e| StoreError::Unreadable {
            table: "taxii_collection",
            row: r.get("id"),
            column: "readers",
            message: e.to_string(),
        })?
    };
    Ok(CollectionRow {
        id: r.get("id"),
        title: r.get("title"),
        description: r.get("description"),
        readers,
        created_at: r.get("created_at"),
        created_by: r.get("created_by"),
        objects: r.get("objects"),
    })
}

fn millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Store {
    /// Creates a collection (the central team's), audited.
    pub async fn create_collection(
        &self,
        actor: &str,
        title: &str,
        description: Option<&str>,
        readers: &[String],
    ) -> Result<CollectionRow> {
        let title = title.trim();
        if title.is_empty() || title.len() > 200 {
            return Err(StoreError::Invalid("title: 1 to 200 characters".into()));
        }
        if readers.is_empty() {
            return Err(StoreError::Invalid(
                "readers: \"*\" (every member) or the members' slugs".into(),
            ));
        }
        let mut change = self.begin_change(actor).await?;
        for slug in readers.iter().filter(|r| *r != "*") {
            let known = sqlx::query("SELECT 1 FROM organisation WHERE slug = $1")
                .bind(slug)
                .fetch_optional(&mut *change.tx)
                .await?;
            if known.is_none() {
                return Err(StoreError::Invalid(format!(
                    "readers: no organisation {slug:?}"
                )));
            }
        }
        let readers = if readers.iter().any(|r| r == "*") {
            "*".to_owned()
        } else {
            serde_json::to_string(readers).expect("strings")
        };
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO taxii_collection (id, title, description, readers, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(title)
        .bind(description)
        .bind(&readers)
        .bind(now())
        .bind(actor)
        .execute(&mut *change.tx)
        .await?;
        let row = collection_in(&mut change.tx, &id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("collection {id}")))?;
        change
            .created(None, "taxii.collection", &format!("collection:{id}"), &row)
            .await?;
        change.commit().await?;
        Ok(row)
    }

    pub async fn collections(&self) -> Result<Vec<CollectionRow>> {
        let rows = sqlx::query(
            "SELECT c.*, (SELECT COUNT(*) FROM taxii_object o WHERE o.collection_id = c.id) AS objects
             FROM taxii_collection c ORDER BY c.created_at, c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(collection_row).collect()
    }

    pub async fn collection(&self, id: &str) -> Result<Option<CollectionRow>> {
        let mut conn = self.pool.acquire().await?;
        collection_in(&mut conn, id).await
    }

    /// A stable pseudonym for an organisation in what is published outward (16 bytes): keyed
    /// by a secret that never leaves the database (the opaque-id key), so that nobody without
    /// it can tie a pseudonym to a member by trying names.
    pub async fn pseudonym(&self, slug: &str) -> Result<[u8; 16]> {
        use sha2::Digest as _;
        let key: String = sqlx::query("SELECT key FROM opaque_id WHERE kind = 'alert'")
            .fetch_one(&self.pool)
            .await?
            .get("key");
        let digest = sha2::Sha256::new()
            .chain_update(b"ward pseudonym\0")
            .chain_update(key.as_bytes())
            .chain_update(b"\0")
            .chain_update(slug.as_bytes())
            .finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        Ok(out)
    }

    /// The newest version of an object the central team published, in any collection.
    pub async fn published_object(&self, stix_id: &str) -> Result<Option<serde_json::Value>> {
        published_object_in(&mut *self.pool.acquire().await?, stix_id).await
    }

    /// Adds STIX objects to a collection in one audited change: each new (id, version) gets the
    /// next `date_added`; one already held is left as it was.
    pub async fn add_objects(
        &self,
        actor: &str,
        collection: &str,
        objects: &[serde_json::Value],
    ) -> Result<AddedObjects> {
        if objects.len() > MAX_OBJECTS {
            return Err(StoreError::Invalid(format!(
                "at most {MAX_OBJECTS} objects at once"
            )));
        }
        let mut change = self.begin_change(actor).await?;
        if collection_in(&mut change.tx, collection).await?.is_none() {
            return Err(StoreError::NotFound(format!("collection {collection}")));
        }
        let last = sqlx::query(
            "SELECT seq, date_added FROM taxii_object WHERE collection_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(collection)
        .fetch_optional(&mut *change.tx)
        .await?;
        let mut seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM taxii_object")
            .fetch_one(&mut *change.tx)
            .await?
            .get("m");
        let mut added_at: DateTime<Utc> = Utc::now();
        if let Some(last) = &last {
            let before: String = last.get("date_added");
            if let Ok(t) = DateTime::parse_from_rfc3339(&before) {
                let t = t.with_timezone(&Utc);
                if added_at <= t {
                    added_at = t + Duration::milliseconds(1);
                }
            }
        }
        let mut out = AddedObjects::default();
        for (i, o) in objects.iter().enumerate() {
            let field = |name: &str| -> Result<String> {
                o.get(name)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| StoreError::Invalid(format!("objects[{i}].{name}: missing")))
            };
            let id = field("id")?;
            let kind = field("type")?;
            if !id.starts_with(&format!("{kind}--")) || id.len() > 200 {
                return Err(StoreError::Invalid(format!(
                    "objects[{i}].id: {id:?} is not a STIX id of a {kind}"
                )));
            }
            // Objects without versions (marking definitions) take their creation time.
            let version = field("modified")
                .or_else(|_| field("created"))
                .unwrap_or_else(|_| "unversioned".into());
            let exists = sqlx::query(
                "SELECT 1 FROM taxii_object WHERE collection_id = $1 AND stix_id = $2 AND version = $3",
            )
            .bind(collection)
            .bind(&id)
            .bind(&version)
            .fetch_optional(&mut *change.tx)
            .await?;
            if exists.is_some() {
                out.unchanged += 1;
                continue;
            }
            seq += 1;
            sqlx::query(
                "INSERT INTO taxii_object (seq, collection_id, stix_id, version, type, date_added, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(seq)
            .bind(collection)
            .bind(&id)
            .bind(&version)
            .bind(&kind)
            .bind(millis(added_at))
            .bind(o.to_string())
            .execute(&mut *change.tx)
            .await?;
            added_at += Duration::milliseconds(1);
            out.added += 1;
        }
        change
            .log(
                None,
                "taxii.objects",
                &format!("collection:{collection}"),
                None,
                Some(&serde_json::to_value(&out).expect("serialises")),
            )
            .await?;
        change.commit().await?;
        Ok(out)
    }

    /// A page of a collection's objects, oldest first: added after `added_after` (exclusive)
    /// and after `after_seq` (a `next` cursor), of these types and ids when given. Returns the
    /// page and whether more follow.
    pub async fn collection_objects(
        &self,
        collection: &str,
        added_after: Option<&str>,
        after_seq: i64,
        limit: i64,
        types: &[String],
        ids: &[String],
    ) -> Result<(Vec<StoredObject>, bool, i64)> {
        let limit = limit.clamp(1, MAX_PAGE);
        let fetch = if types.is_empty() && ids.is_empty() {
            limit + 1
        } else {
            MAX_PAGE * 10
        };
        let rows = sqlx::query(
            "SELECT seq, stix_id, version, type, date_added, payload FROM taxii_object
             WHERE collection_id = $1 AND seq > $2 AND ($3 IS NULL OR date_added > $3)
             ORDER BY seq LIMIT $4",
        )
        .bind(collection)
        .bind(after_seq)
        .bind(added_after)
        // The filters are applied below, so ask for more than a page when filtering.
        .bind(fetch)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        let mut more = false;
        // Where the next page starts: after the last object returned, or after the last row
        // looked at when a filter left the page short.
        let mut next = after_seq;
        for r in &rows {
            let kind: String = r.get("type");
            let id: String = r.get("stix_id");
            if (!types.is_empty() && !types.contains(&kind))
                || (!ids.is_empty() && !ids.contains(&id))
            {
                continue;
            }
            if out.len() as i64 == limit {
                more = true;
                break;
            }
            next = r.get("seq");
            let payload: String = r.get("payload");
            out.push(StoredObject {
                seq: r.get("seq"),
                id,
                version: r.get("version"),
                date_added: r.get("date_added"),
                payload: serde_json::from_str(&payload).map_err(|e| StoreError::Unreadable {
                    table: "taxii_object",
                    row: r.get::<i64, _>("seq").to_string(),
                    column: "payload",
                    message: e.to_string(),
                })?,
            });
        }
        if !more && rows.len() as i64 == fetch && out.len() as i64 != limit {
            more = true;
            next = rows.last().map_or(next, |r| r.get("seq"));
        }
        Ok((out, more, next))
    }
}

async fn collection_in(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Option<CollectionRow>> {
    let row = sqlx::query(
        "SELECT c.*, (SELECT COUNT(*) FROM taxii_object o WHERE o.collection_id = c.id) AS objects
         FROM taxii_collection c WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(collection_row).transpose()
}

/// [`Store::published_object`], on any connection (the pool's, or a change's transaction).
pub(crate) async fn published_object_in(
    conn: &mut sqlx::AnyConnection,
    stix_id: &str,
) -> Result<Option<serde_json::Value>> {
    let row = sqlx::query(
        "SELECT payload FROM taxii_object WHERE stix_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(stix_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| serde_json::from_str(r.get::<&str, _>("payload")).ok()))
}
