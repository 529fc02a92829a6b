//! Ward's database, behind one interface: [`Store`].
//!
//! Callers never see SQL or a driver: they open a [`Store`], import through an [`ImportTx`]
//! (one transaction: a failed or aborted import changes nothing), and load the slice of
//! knowledge an inventory needs with [`Store::load_for_products`]. The embedded default is a
//! SQLite file; a `postgres://` URL gives PostgreSQL, for big federations and several servers
//! on one database. One pool type (sqlx's `Any`) and one set of statements serve both: the SQL
//! is written in the dialect they share (`$n` parameters, `ON CONFLICT`, `RETURNING`,
//! `FILTER`), and the few statements that must differ are picked by [`Backend`].
//!
//! Every statement is parameterised; no input is ever spliced into SQL text.

use sqlx::AnyPool;

pub mod alerts;
pub mod assets;
pub mod audit;
mod backend;
mod canonical;
pub mod copy;
pub mod cpu;
mod direct;
pub mod events;
pub mod exposure;
pub mod feeds;
pub mod finding_detail;
pub mod findings;
mod ids;
mod knowledge;
pub mod organisations;
pub mod outbox;
mod rematch;
mod rows;
mod scope;
pub mod sightings;
mod sql;
pub mod taxii;
pub mod tokens;
pub mod users;
pub mod vex;
mod wal;

pub use alerts::{
    AlertCompliance, AlertCounts, AlertRow, Attention, IssueTarget, MemberScore, TickOutcome,
    Transition, VEX_JUSTIFICATIONS,
};
pub use assets::{
    AssetRow, FindingChange, InventoryUpload, InventoryVersion, NewAsset, UploadOutcome,
};
pub use audit::{
    AuditEntry, AuditVerdict, Change, Checkpoint, checkpoint, entry_hash_of, normalise_time,
};
pub use backend::{Backend, Job, JobLock, OpenOptions, default_location, is_postgres, redact};
pub use copy::{CopyReport, TableCopy};
pub use exposure::{
    ApprovedClaim, Attributed, Contradiction, FootprintDecision, FootprintEntry, NewObservation,
    ObservationRow,
};
pub use feeds::{EpssPoint, FeedOutcome, FeedState};
pub use findings::{FindingQuery, FindingRow, WorklistCursor};
pub use knowledge::{
    CPE_COVERAGE, Counts, Coverage, ImportTx, KeepEntry, KnowledgeSlice, Outcome, ViewWrite,
};
pub use organisations::{Organisation, Principal, Role};
pub use outbox::{Channel, Delivery, Failure, OutboxCounts};
pub use rematch::{Overruled, PreparedFindings, Rematch};
pub use scope::{AlertId, AssetId, ChannelId, FindingId, OrgId, Scope, StatementId, TokenId};
pub use sightings::{
    Campaign, CampaignMember, NewSighting, ReportOutcome, SightingRow, cve_of, vulnerabilities_of,
};
pub use tokens::TokenInfo;
pub use users::{Login, NewSession, UserInfo};
pub use vex::{NewStatement, StatementRow};

/// The old home of the federation's records, kept for the paths callers use.
pub mod federation {
    pub use crate::audit::normalise_time;
}

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
    /// From a read made beside the pool (SQLite only).
    #[error("database error: {0}")]
    Direct(#[from] rusqlite::Error),
    #[error("stored record {vuln_id} ({source_key}) is unreadable: {message}")]
    Corrupt {
        vuln_id: String,
        source_key: String,
        message: String,
    },
    /// A stored value that does not parse as what its column holds.
    #[error("stored {table} {row}: column {column} is unreadable: {message}")]
    Unreadable {
        table: &'static str,
        row: String,
        column: &'static str,
        message: String,
    },
    /// Input that cannot be stored (a bad slug, a role for the wrong kind of organisation).
    #[error("{0}")]
    Invalid(String),
    /// It exists already.
    #[error("{0}")]
    Conflict(String),
    #[error("no such {0}")]
    NotFound(String),
    /// An import committed while an inventory was being matched: match it again.
    #[error("the knowledge base changed while the inventory was matched; match it again")]
    KnowledgeMoved,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Tokens used since the last flush, and when: a request never writes to record its
    /// token's use (`flush_token_uses` does, off the request path).
    token_uses: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<i64, String>>>,
    backend: Backend,
    /// PostgreSQL: the schema Ward's tables live in (advisory lock keys are derived from it).
    schema: String,
    /// SQLite: whose turn it is to write ([`Store::write_turn`]).
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// SQLite in a file: its path, for the bulk reads made without the pool ([`direct`]).
    sqlite_file: Option<std::sync::Arc<std::path::Path>>,
    /// What alert sync has read of shared finding details.
    facts: alerts::sync::FactsCache,
    /// SQLite in a file: the thread that folds the write-ahead log into it.
    checkpointer: Option<std::sync::Arc<wal::Checkpointer>>,
}
