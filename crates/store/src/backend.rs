//! Opening a database (a SQLite file or a PostgreSQL URL), printing its location without the
//! password, and the jobs one server at a time may run (PostgreSQL advisory locks).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{Any, ConnectOptions, Connection};

use crate::{Result, Store, StoreError};

/// A location fit to print: a PostgreSQL URL's password is hidden.
pub fn redact(location: &str) -> String {
    if !is_postgres(location) {
        return location.to_owned();
    }
    let Some(scheme_end) = location.find("://").map(|i| i + 3) else {
        return location.to_owned();
    };
    // The authority ends at the path or the query; its user information at its last '@'.
    let rest = &location[scheme_end..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    match authority
        .rfind('@')
        .map(|at| (&authority[..at], &authority[at..]))
    {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!(
                "{}{user}:***{host}{}",
                &location[..scheme_end],
                &rest[authority.len()..]
            ),
            None => location.to_owned(),
        },
        None => location.to_owned(),
    }
}

#[cfg(test)]
mod redact_tests {
    use super::redact;

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            redact("postgres://ward:s3cr@t@db:5432/ward?options[search_path]=w"),
            "postgres://ward:***@db:5432/ward?options[search_path]=w"
        );
        assert_eq!(
            redact("postgresql://ward@db/ward"),
            "postgresql://ward@db/ward"
        );
        assert_eq!(
            redact("postgres://db:5432/ward?application_name=a@b:c"),
            "postgres://db:5432/ward?application_name=a@b:c"
        );
        assert_eq!(redact("/var/lib/ward/ward.db"), "/var/lib/ward/ward.db");
    }
}

/// Connects once and closes: the database answers (and a SQLite file gets its settings).
pub(crate) async fn connect_once<O>(options: &O) -> Result<(), sqlx::Error>
where
    O: ConnectOptions,
    O::Connection: Sized,
{
    options.connect().await?.close().await
}

/// A stable 64-bit advisory lock key for `name` within `schema`.
pub(crate) fn lock_key(schema: &str, name: &str) -> i64 {
    let digest = Sha256::digest(format!("ward\0{schema}\0{name}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// Where the database lives when neither `--db` nor `WARD_DB` says: the user's data folder.
pub fn default_location() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("ward").join("ward.db")
}

/// Which database engine a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file, one machine.
    Sqlite,
    /// For a federation one machine cannot hold, and for several `ward serve` on one database.
    Postgres,
}

impl Backend {
    /// The backend a connection (or a transaction, by deref) talks to.
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name() == "PostgreSQL" {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Whether `location` names a PostgreSQL database (a `postgres://` or `postgresql://` URL).
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Background work that one server at a time may do (PostgreSQL advisory locks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Matching the knowledge base's changes against the inventories.
    Matching,
    /// Deadlines, escalations and expired risk acceptances.
    Deadlines,
    /// Syncing the configured feeds (`ward serve --feeds`).
    FeedSync,
}

/// A job held by this server until dropped or released (see [`Store::try_job`]).
pub struct JobLock {
    conn: Option<sqlx::pool::PoolConnection<Any>>,
    key: i64,
}

impl JobLock {
    /// Lets the other servers take the job.
    pub async fn release(mut self) -> Result<()> {
        if let Some(mut conn) = self.conn.take() {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        // Not released (an error or a panic on the way): closing the connection ends the
        // session, and PostgreSQL frees its advisory locks with it.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

/// How to open a store.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The most connections the pool holds (several servers on one PostgreSQL share its
    /// `max_connections`).
    pub max_connections: Option<u32>,
}

impl Store {
    /// Opens (creating if needed) the database at `location`: a file path, a `sqlite:` URL, or
    /// a `postgres://` URL (whose `options[search_path]=…` picks a schema). Applies pending
    /// migrations.
    pub async fn open(location: &str) -> Result<Self> {
        Self::open_with(location, &OpenOptions::default()).await
    }

    /// [`Store::open`] with a pool of `options.max_connections` connections (default: 16 on
    /// PostgreSQL, 4 on SQLite, whose one writer gains nothing from more).
    pub async fn open_with(location: &str, options: &OpenOptions) -> Result<Self> {
        let pool_size = options.max_connections;
        sqlx::any::install_default_drivers();
        let open_err = |source| StoreError::Open {
            location: redact(location),
            source,
        };
        if is_postgres(location) {
            let options = AnyConnectOptions::from_str(location).map_err(open_err)?;
            // One connection first: a server that is not there fails now, not after the pool's
            // acquire timeout.
            connect_once(&options).await.map_err(open_err)?;
            let pool = AnyPoolOptions::new()
                .max_connections(pool_size.unwrap_or(16).max(1))
                .connect_with(options)
                .await
                .map_err(open_err)?;
            // Advisory locks are per database: a schema of its own (tests, several Wards in one
            // database) gets keys of its own.
            let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
                .fetch_one(&pool)
                .await
                .map_err(open_err)?;
            // sqlx's migrator holds an advisory lock while it works: servers started together
            // apply each step once.
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            return Ok(Self {
                pool,
                token_uses: Default::default(),
                backend: Backend::Postgres,
                schema,
                writer: Default::default(),
                sqlite_file: None,
                facts: Default::default(),
                checkpointer: None,
            });
        }
        let options = if location.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(location).map_err(open_err)?
        } else {
            let path = Path::new(location);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| open_err(sqlx::Error::Io(e)))?;
            }
            SqliteConnectOptions::new().filename(path)
        };
        let options = options.create_if_missing(true);
        // The journal mode is the file's: set it once, on a connection of its own.
        connect_once(&options.clone().journal_mode(SqliteJournalMode::Wal))
            .await
            .map_err(open_err)?;
        // A database in a file (not in memory) can also be read without the pool.
        let sqlite_file = Some(options.get_filename())
            .filter(|f| f.is_file())
            .map(std::sync::Arc::from);
        let checkpointer = sqlite_file
            .as_deref()
            .and_then(crate::wal::Checkpointer::start)
            .map(std::sync::Arc::new);
        // With the checkpointer, a commit checkpoints only past 262,144 pages of log (see `wal`); without
        // it (a database in memory), at SQLite's default of 1,000 pages.
        let pragmas = if checkpointer.is_some() {
            "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON; \
             PRAGMA wal_autocheckpoint = 262144"
        } else {
            "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON"
        };
        let any = AnyConnectOptions::from_url(&options.to_url_lossy()).map_err(open_err)?;
        let pool = AnyPoolOptions::new()
            .max_connections(pool_size.unwrap_or(4).max(1))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    sqlx::query(pragmas).execute(conn).await?;
                    Ok(())
                })
            })
            .connect_with(any)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self {
            pool,
            token_uses: Default::default(),
            backend: Backend::Sqlite,
            schema: String::new(),
            writer: Default::default(),
            sqlite_file,
            facts: Default::default(),
            checkpointer,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// On SQLite, waits for this process's turn to write and holds it until dropped; `None`
    /// on PostgreSQL, whose writers lock rows, not the database.
    ///
    /// SQLite has one writer at a time. A writer that waited for the lock inside SQLite
    /// (busy_timeout) would hold a pooled connection all the while: behind an import's few
    /// seconds of writing, a handful of waiting uploads, sign-ins and background jobs took every
    /// connection and members' reads waited with them (`ward bench busy`: 3.5 s). Writers wait
    /// here instead, holding nothing, and the pool stays free for readers.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.backend {
            Backend::Sqlite => Some(self.writer.clone().lock_owned().await),
            Backend::Postgres => None,
        }
    }

    /// Bytes the database takes: the SQLite file's pages, or the PostgreSQL schema's tables
    /// with their indexes and TOAST.
    pub async fn size_bytes(&self) -> Result<i64> {
        Ok(match self.backend {
            Backend::Sqlite => {
                sqlx::query_scalar(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                )
                .fetch_one(&self.pool)
                .await?
            }
            Backend::Postgres => {
                sqlx::query_scalar(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
                     JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = current_schema() AND c.relkind = 'r'",
                )
                .fetch_one(&self.pool)
                .await?
            }
        })
    }

    /// Takes `job` for this server if no other server holds it (PostgreSQL: a session advisory
    /// lock, freed when the holder releases it, or dies). `None`: another server is doing it.
    /// On SQLite, one server owns the file and the job is always its own.
    pub async fn try_job(&self, job: Job) -> Result<Option<JobLock>> {
        self.try_job_named(match job {
            Job::Matching => "matching",
            Job::Deadlines => "deadlines",
            Job::FeedSync => "feed-sync",
        })
        .await
    }

    /// [`Store::try_job`] for a job named at run time (a feed source's sync: `feed:<name>`).
    pub async fn try_job_named(&self, name: &str) -> Result<Option<JobLock>> {
        if self.backend == Backend::Sqlite {
            return Ok(Some(JobLock { conn: None, key: 0 }));
        }
        let key = lock_key(&self.schema, name);
        let mut conn = self.pool.acquire().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        Ok(got.then(|| JobLock {
            conn: Some(conn),
            key,
        }))
    }

    pub async fn close(self) {
        if let Err(e) = self.flush_token_uses().await {
            tracing::warn!("recording tokens' last use: {e}");
        }
        // The checkpointer's connection closed first: the pool's last one then removes the log.
        if let Some(checkpointer) = self.checkpointer.clone() {
            let _ = tokio::task::spawn_blocking(move || checkpointer.stop()).await;
        }
        self.pool.close().await;
    }
}
