//! Vulnerability intelligence in, Ward's model out.
//!
//! [`parse_document`] detects a document's format (CVE JSON 5 record, NVD CVE API 2.0 object or
//! page, CISA KEV JSON or CSV, EPSS CSV, OSV JSON or YAML) and yields its records one by one; a malformed record
//! becomes a [`RecordError`] naming the file, the record and the field path, and the rest of the
//! document goes on. [`ingest`] walks files, folders and archives and hands each document's
//! bytes to a callback, streaming (nothing is unpacked to disk).
//!
//! No database, no network: callers decide what to do with the records.

pub mod csaf;
pub mod cve5;
pub mod detect;
pub mod document;
pub mod ingest;
pub mod kev_epss;
pub mod nvd;
pub mod osv;
mod time;
pub mod vex;
pub mod vex_out;
pub mod ward_knowledge;

pub use detect::parse_document;
pub use document::{Format, Parsed, Record, RecordError, Warning};
pub use ingest::{IngestError, Limits, human, parse_size, walk, walk_limited, walk_owned};
