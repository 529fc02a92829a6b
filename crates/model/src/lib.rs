//! Ward's domain model: the types every other crate speaks.
//!
//! This crate holds data and the parsers that make identifiers exist only in valid form
//! ([`Cpe`] per NISTIR 7695). It does no I/O, knows no file format (that is `ward-feeds` and
//! `ward-inventory`), no database (`ward-store`) and no matching rules (`ward-matching`).

pub mod advisory;
pub mod alert;
pub mod cpe;
pub mod finding;
pub mod inventory;
pub mod purl;
pub mod sightings;
pub mod timestamp;
pub mod vex;

pub use advisory::{
    Advisory, Affected, AffectedVersion, Cvss, CvssVersion, Epss, KevEntry, Node, NvdConfiguration,
    NvdCpeMatch, Operator, PackageAffected, PackageRange, RangeEvent, RangeKind, RecordState,
    SourceId, Ssvc, Status, VersionChange,
};
pub use alert::{
    AlertAction, AlertExposure, AlertKind, AlertOrigin, AlertState, ChannelKind, DeliveryState,
    IncidentWindows, Refusal, Resolution, transition,
};
pub use cpe::{Attr, Cpe, CpeError, Part};
pub use finding::{
    Assessment, ComponentRef, Confidence, Deadlines, DecisionPointValue, Explanation, Finding,
    FindingEpss, FindingKev, FindingKind, Prioritiser, Priority, Severity, SeverityLevel,
    SourceVerdict,
};
pub use inventory::{Asset, Component, Criticality, Exposure, Inventory};
pub use purl::{Package, Purl, PurlError};
pub use sightings::{SightingsBundle, StixObject};
pub use vex::{VexProduct, VexStatement, VexStatus};
