//! The exchange log's formats and proofs, with no IO, clock or randomness: what a node appends,
//! signs and proves, and what an auditor checks offline.
//!
//! - `merkle`: RFC 9162 §2.1 trees, proofs and their verification;
//! - `compact`: the compact range a log appends with;
//! - `leaf`: what one entry commits to (an envelope's hash, direction, parties, seq, log time);
//! - `note`, `checkpoint`: C2SP signed notes, checkpoints and cosignatures;
//! - `proof`: offline inclusion proofs (C2SP tlog-proof);
//! - `bundle`: the auditor's export of a whole log, verified line by line;
//! - `dispute`: the evidence of a disagreement, checkable by a third party;
//! - `witness`: what a node checks before it cosigns a peer's checkpoint.
//!
//! **Architecture invariant:** nothing here reads a clock, a file or the network; times and
//! keys are parameters, so `puente log verify` runs these same checks with nothing but a file.

pub mod bundle;
pub mod checkpoint;
pub mod compact;
pub mod dispute;
pub mod error;
pub mod leaf;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod witness;

pub use checkpoint::{Checkpoint, cosigner_name, origin};
pub use compact::CompactRange;
pub use error::LogError;
pub use leaf::{Direction, Leaf, Stream};
pub use merkle::{Hash, Subtree};
pub use note::{Note, NoteSignature, Signer, VerifierKey};
pub use proof::InclusionProof;
