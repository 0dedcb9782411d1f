//! Authorization for one puente node: every decision goes through the node's Cedar policies.
//!
//! Each government runs its own node, and each node's administrator decides who may do what
//! there by editing a Cedar policy file in the node directory; this crate ships the defaults
//! (`policies/default.cedar`) and the schema they are checked against
//! (`policies/schema.cedarschema`). The web layer asks one question per request —
//! [`PolicyEngine::authorize`] — and gets [`Decision::Allow`] or a [`Denial`] that names the rule
//! responsible, so a refused user and the node's logs can both say why.
//!
//! The engine fails closed: anything that goes wrong while deciding is a denial, never an allow
//! and never a panic.

mod decision;
mod engine;
mod error;
mod locate;
mod request;

pub use decision::{DEFAULT_DENY, Decision, Denial};
pub use engine::PolicyEngine;
pub use error::PolicyError;
pub use puente_domain::{PartyCode, Role};
pub use request::{Act, Principal, Resource, ResourceKind};
