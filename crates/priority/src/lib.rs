//! Prioritisation: a finding's facts (KEV, SSVC, CVSS, EPSS) and its asset → an SSVC decision,
//! deadlines, and the reasons.
//!
//! - [`ssvc`]: decision tables as data (CERT/CC Deployer, CISA BOD 26-04), compiled in.
//! - [`policy`]: TOML policies (presets `ssvc-deployer`, `nhs-hsa`, `bod-26-04`) implementing
//!   the [`ward_model::Prioritiser`] seam that matching calls.
//! - [`cvss`]: vectors parsed and scored, so a published score is never trusted blindly.
//!
//! Pure: no I/O beyond reading a policy file the caller names.

pub mod cvss;
pub mod policy;
pub mod ssvc;

pub use policy::{Policy, PolicyError};
pub use ward_model::IncidentWindows;
