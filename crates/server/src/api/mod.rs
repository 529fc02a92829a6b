//! The REST API's handlers, by area. Each handler reads its caller ([`crate::auth::Auth`]),
//! asks for the caller's [`ward_store::Scope`], and calls the store or the application layer
//! ([`crate::app`]); the rules themselves live there, shared with the UI.

pub(crate) mod alerts;
pub(crate) mod assets;
pub(crate) mod exposure;
pub(crate) mod incidents;
pub(crate) mod knowledge;
pub(crate) mod organisations;
pub(crate) mod reports;
pub(crate) mod session;
pub(crate) mod taxii;
pub(crate) mod vex;
