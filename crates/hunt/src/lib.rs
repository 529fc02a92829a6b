//! Hunt: Sigma rules and STIX 2.1 indicators over an organisation's own logs, locally.
//!
//! Pure apart from reading the logs it is given: no network, no database. `ward hunt` wires it
//! to the command line; the server (later) receives only the sightings.

pub mod hunt;
pub mod indicators;
pub mod logs;
pub mod prefilter;
pub mod sigma;
pub mod stix;

pub use hunt::{EXCERPT_CHARS, Evidence, Hunter, Input, Matched, Report, Sighting, SightingKind};
pub use indicators::IndicatorSet;
pub use logs::{Family, LogFormat, Record};
pub use sigma::RuleSet;
