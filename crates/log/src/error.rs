//! What can be wrong with a log's formats, proofs and signatures.

use crate::merkle::MerkleError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("not a log leaf: {reason}")]
    Leaf { reason: &'static str },
    #[error("not a signed note: {reason}")]
    Note { reason: &'static str },
    #[error("not a verifier key: {reason}")]
    VerifierKey { reason: &'static str },
    #[error("not a checkpoint: {reason}")]
    Checkpoint { reason: &'static str },
    #[error("not a proof: {reason}")]
    Proof { reason: &'static str },
    #[error("the signature of {name} does not verify")]
    BadSignature { name: String },
    #[error("no signature by a known key")]
    NoKnownSignature,
    #[error("the checkpoint's origin is {got:?}, not {want:?}")]
    WrongOrigin { got: String, want: String },
    #[error(transparent)]
    Merkle(#[from] MerkleError),
}
