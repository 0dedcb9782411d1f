//! What the store keeps of the exchange log (formats and proofs are `puente_log`'s): each
//! node's own log per peer, appended in the same transaction as every envelope it stores, and
//! its copy of each peer's log, extended only when it cosigns; their checkpoints; and the
//! disputes a node raised.
//!
//! **Architecture invariant:** an envelope is stored if and only if its leaf is in the own log of
//! its peer, in the same transaction; nothing updates or deletes a leaf, a subtree head, a
//! checkpoint or a dispute.

use puente_domain::PartyCode;
use puente_log::witness::Finding;
use puente_log::{CompactRange, Hash, Leaf};
use time::OffsetDateTime;
use uuid::Uuid;

/// Complete subtrees of `2^STORED_LEVEL` leaves and more have their heads stored (about one row
/// per 8 leaves); smaller ones are computed from at most that many leaf hashes when a proof
/// needs them, so a proof reads two or three small sets of rows whatever the log's size.
pub const STORED_LEVEL: u32 = 4;

/// Where a log stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    pub origin: String,
    pub peer: PartyCode,
    pub own: bool,
    pub range: CompactRange,
}

impl LogState {
    pub fn size(&self) -> u64 {
        self.range.size()
    }
    pub fn root(&self) -> Hash {
        self.range.root()
    }
}

/// A checkpoint as kept: for the node's own log, as it signed it (with the peer's cosignature
/// once that came); for a copy of a peer's log, as the peer signed it with this node's
/// cosignature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub note: String,
    pub made_at: OffsetDateTime,
    pub cosigned_at: Option<OffsetDateTime>,
}

/// A peer's request to cosign its checkpoint, as the exchange read and verified it (the note's
/// signature and origin): the leaves from `from` on, to be checked against this node's copy.
#[derive(Debug, Clone)]
pub struct WitnessRequest {
    pub peer: PartyCode,
    /// The peer's signed checkpoint note, and what it says.
    pub note: String,
    pub size: u64,
    pub root: Hash,
    /// The size the leaves start from: the copy's size, as the peer believes it.
    pub from: u64,
    pub leaves: Vec<Leaf>,
}

/// What came of a request to cosign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WitnessOutcome {
    /// Cosigned now, or before (the same size and head): the note with this node's
    /// cosignature.
    Cosigned { note: String },
    /// The leaves do not start where this node's copy ends: send them from `size`.
    Behind { size: u64 },
    /// Something was wrong; the dispute was raised (or had been) and nothing was cosigned.
    Disputed { id: Uuid, finding: String },
}

/// How the store asks the caller to cosign: the checkpoint's note text → the signature line.
pub type Cosigner<'a> = &'a (dyn Fn(&str) -> Result<String, String> + Send + Sync);

/// Builds the dispute file of a finding about a peer's presented leaves (the caller knows the
/// keys and the format): the previous checkpoint this node cosigned (if any), the compact range
/// it had, and the finding.
pub type DisputeBuilder<'a> = &'a (dyn Fn(&DisputeContext<'_>) -> String + Send + Sync);

/// What a dispute about presented leaves is built from.
pub struct DisputeContext<'a> {
    pub finding: &'a Finding,
    pub previous_note: Option<&'a str>,
    pub copy_before: &'a CompactRange,
    pub request: &'a WitnessRequest,
}

/// A dispute to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDispute {
    pub peer: PartyCode,
    pub origin: String,
    /// The kind's name (`puente_log::dispute::DisputeKind::as_str`).
    pub kind: String,
    /// What it is about, so that one finding is raised once (a size, an envelope id).
    pub subject: String,
    pub detail: String,
    /// The dispute file.
    pub evidence: String,
}

/// A dispute as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeRecord {
    pub id: Uuid,
    pub peer: PartyCode,
    pub origin: String,
    pub kind: String,
    pub subject: String,
    pub detail: String,
    pub evidence: String,
    pub raised_at: OffsetDateTime,
}

/// An envelope of this node's that the peer's log should hold by now and does not (or, from
/// `settle_pending`, the one it holds under a seq the peer's log named another for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlogged {
    pub id: Uuid,
    /// Seen from this node.
    pub direction: crate::Direction,
    pub stream: crate::Stream,
    pub seq: u64,
    pub hash: Hash,
    pub signed: String,
}
