//! Matching: which components of an inventory are affected by which vulnerabilities, and why.
//!
//! Pure and synchronous: it takes a [`Knowledge`] (the advisories, KEV and EPSS entries that
//! concern the inventory's products, loaded by the caller from a store) and an inventory, and
//! returns findings. It does no I/O and knows no database or file format.
//!
//! - [`version`]: the vendor version order (documented in `docs/version-order.md`).
//! - [`cpe_match`]: NISTIR 7696 CPE name matching.
//! - [`evaluate`]: one source's verdict (NVD configurations, CVE 5 `affected`).
//! - [`scan`]: combines the sources' verdicts, chooses the most precise, explains disagreements.
//! - [`vex`]: VEX statements applied to a scan (cleared findings to `suppressed[]`).
//! - [`quality`]: the patterns in the knowledge base that a literal reading gets wrong.

pub mod cpe_match;
pub mod ecosystem;
pub mod evaluate;
pub mod package;
pub mod quality;
pub mod scan;
pub mod vers;
pub mod version;
pub mod vex;

pub use scan::{Knowledge, ScanReport, Suppressed, scan};
