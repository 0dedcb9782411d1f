//! Dispute files: the evidence a node keeps when a peer's log disagrees with what passed between
//! them, in a form a third party can check offline (`puente log verify FILE`).
//!
//! A dispute file is a JSON object (`"format": "puente-dispute-v1"`) naming its `kind`, the
//! disputed `log` (origin) and the keys to check it with, who raised it and when, a sentence,
//! and the evidence: the log's signed checkpoints, and where the kind needs them the compact
//! range and leaves the log presented, its consistency proof, or an envelope. Each kind is
//! checked as far as signatures and hashes can show it:
//!
//! - `fork`: two checkpoints signed by the log's key, of one size and two tree heads;
//! - `bad-consistency-proof`: two signed checkpoints and the log's consistency proof between
//!   them, which does not verify;
//! - `inconsistent-leaves`: a signed checkpoint, the compact range that gives its head, the
//!   leaves the log presented after it, and a later signed checkpoint whose head they do not give;
//! - `out-of-order`, `unknown-envelope`: a signed checkpoint whose head the compact range and
//!   leaves do give (so the leaves are the log's), and the leaf that breaks the rule — whether it
//!   does is the raiser's statement, to check against its own records;
//! - `missing-envelope`: an envelope the raiser holds from the log's owner (checked by the
//!   caller, who can open envelopes) and the log's checkpoint it is not in — absence is the
//!   raiser's statement: a log that holds it can show an inclusion proof;
//! - `future-cosignature`: a checkpoint cosigned with a time later than the raiser's clock
//!   allowed when it was raised.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::compact::CompactRange;
use crate::leaf::Leaf;
use crate::merkle::{Hash, verify_consistency};
use crate::note::{ALG_COSIGNATURE_V1, Note, VerifierKey};
use crate::proof::open_checkpoint;

pub const DISPUTE_VERSION: &str = "puente-dispute-v1";

/// How far ahead of the raiser's clock a cosignature's time may be (clocks differ a little).
pub const COSIGNATURE_SKEW_SECS: u64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisputeKind {
    Fork,
    BadConsistencyProof,
    InconsistentLeaves,
    OutOfOrder,
    UnknownEnvelope,
    MissingEnvelope,
    FutureCosignature,
}

impl DisputeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeKind::Fork => "fork",
            DisputeKind::BadConsistencyProof => "bad-consistency-proof",
            DisputeKind::InconsistentLeaves => "inconsistent-leaves",
            DisputeKind::OutOfOrder => "out-of-order",
            DisputeKind::UnknownEnvelope => "unknown-envelope",
            DisputeKind::MissingEnvelope => "missing-envelope",
            DisputeKind::FutureCosignature => "future-cosignature",
        }
    }
}

/// A consistency proof as a log presented it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyEvidence {
    pub from: u64,
    pub to: u64,
    /// Standard base64 of each hash.
    pub hashes: Vec<String>,
}

/// One dispute and its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    pub format: String,
    pub kind: DisputeKind,
    /// The disputed log's origin.
    pub log: String,
    /// The log's verifier key (type 0x01, named after the origin).
    pub log_key: String,
    /// The key cosignatures are checked with, for `future-cosignature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosigner_key: Option<String>,
    /// The party that raised it, and when (RFC 3339).
    pub raised_by: String,
    pub raised_at: String,
    /// When it was raised, in seconds since the Unix epoch (for the cosignature check).
    pub raised_at_unix: u64,
    pub detail: String,
    /// Signed checkpoint notes of the log, earliest first.
    #[serde(default)]
    pub checkpoints: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<ConsistencyEvidence>,
    /// The compact range at the first checkpoint, and the leaves the log presented after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact: Option<String>,
    #[serde(default)]
    pub leaves: Vec<String>,
    /// The index (in the log) of the leaf the dispute is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_index: Option<u64>,
    /// Standard base64 of an envelope's exact signed bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
}

impl Dispute {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let d: Dispute =
            serde_json::from_str(text).map_err(|e| format!("not a dispute file: {e}"))?;
        if d.format != DISPUTE_VERSION {
            return Err(format!(
                "the format is {:?}, not {DISPUTE_VERSION}",
                d.format
            ));
        }
        Ok(d)
    }
}

/// What a dispute file shows, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeReport {
    /// What the signatures and hashes prove, in a sentence.
    pub proven: String,
    /// What rests on the raiser's word (if anything), in a sentence.
    pub stated: Option<String>,
}

/// Checks a dispute file's evidence (all but an envelope's signature, which the caller checks).
pub fn verify_dispute(d: &Dispute) -> Result<DisputeReport, String> {
    let log_key = VerifierKey::parse(&d.log_key).map_err(|e| format!("the log key: {e}"))?;
    if log_key.name() != d.log {
        return Err("the log key is not named after the log".to_owned());
    }
    let checkpoints: Vec<(Checkpoint, Note)> = d
        .checkpoints
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let note = Note::parse(text).map_err(|e| format!("checkpoint {i}: {e}"))?;
            let (c, _) = open_checkpoint(&note, &d.log, std::slice::from_ref(&log_key))
                .map_err(|e| format!("checkpoint {i}: {e}"))?;
            Ok((c, note))
        })
        .collect::<Result<_, String>>()?;
    let need = |n: usize| -> Result<(), String> {
        if checkpoints.len() < n {
            return Err(format!(
                "a {} dispute needs {n} checkpoints",
                d.kind.as_str()
            ));
        }
        Ok(())
    };
    match d.kind {
        DisputeKind::Fork => {
            need(2)?;
            let (a, b) = (&checkpoints[0].0, &checkpoints[1].0);
            if a.size != b.size || a.root == b.root {
                return Err("the two checkpoints are not one size with two heads".to_owned());
            }
            Ok(DisputeReport {
                proven: format!(
                    "{} signed two different trees of size {}: {} and {}",
                    d.log,
                    a.size,
                    B64.encode(a.root),
                    B64.encode(b.root)
                ),
                stated: None,
            })
        }
        DisputeKind::BadConsistencyProof => {
            need(2)?;
            let (a, b) = (&checkpoints[0].0, &checkpoints[1].0);
            let proof = d
                .consistency
                .as_ref()
                .ok_or("no consistency proof in the file")?;
            if (proof.from, proof.to) != (a.size, b.size) {
                return Err("the proof is not between the two checkpoints".to_owned());
            }
            let hashes = decode_hashes(&proof.hashes)?;
            if verify_consistency(a.size, b.size, &hashes, &a.root, &b.root).is_ok() {
                return Err("the consistency proof verifies: there is no dispute".to_owned());
            }
            Ok(DisputeReport {
                proven: format!(
                    "{} presented a consistency proof from size {} to {} that does not verify \
                     between its own signed checkpoints",
                    d.log, a.size, b.size
                ),
                stated: None,
            })
        }
        DisputeKind::InconsistentLeaves => {
            need(1)?;
            let last = &checkpoints[checkpoints.len() - 1].0;
            let first = (checkpoints.len() >= 2).then(|| &checkpoints[0].0);
            let (root, size) = presented_root(d, first)?;
            if size != last.size {
                return Err("the leaves do not reach the last checkpoint's size".to_owned());
            }
            if root == last.root {
                return Err("the leaves give the last checkpoint's head: no dispute".to_owned());
            }
            Ok(DisputeReport {
                proven: format!(
                    "the leaves {} presented after size {} do not give the head it signed for \
                     size {}",
                    d.log,
                    size - d.leaves.len() as u64,
                    last.size
                ),
                stated: None,
            })
        }
        DisputeKind::OutOfOrder | DisputeKind::UnknownEnvelope => {
            need(1)?;
            let last = &checkpoints[checkpoints.len() - 1].0;
            let first = (checkpoints.len() >= 2).then(|| &checkpoints[0].0);
            let (root, size) = presented_root(d, first)?;
            if (root, size) != (last.root, last.size) {
                return Err("the leaves do not give the last checkpoint's head".to_owned());
            }
            let start = size - d.leaves.len() as u64;
            let index = d.leaf_index.ok_or("no leaf index in the file")?;
            let at = index
                .checked_sub(start)
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| d.leaves.get(i))
                .ok_or("the leaf index is not among the leaves")?;
            let leaf = Leaf::parse(at).map_err(|e| e.to_string())?;
            Ok(DisputeReport {
                proven: format!(
                    "leaf {index} of {} ({leaf}, envelope {}) is in the tree of size {} it signed",
                    d.log,
                    hex::encode(leaf.envelope_sha256),
                    last.size
                ),
                stated: Some(d.detail.clone()),
            })
        }
        DisputeKind::MissingEnvelope => {
            need(1)?;
            if d.envelope.is_none() {
                return Err("no envelope in the file".to_owned());
            }
            let last = &checkpoints[checkpoints.len() - 1].0;
            Ok(DisputeReport {
                proven: format!(
                    "{} signed a checkpoint of size {}; the envelope in the file is checked \
                     separately",
                    d.log, last.size
                ),
                stated: Some(d.detail.clone()),
            })
        }
        DisputeKind::FutureCosignature => {
            need(1)?;
            let key = d
                .cosigner_key
                .as_deref()
                .ok_or("no cosigner key in the file")
                .and_then(|k| VerifierKey::parse(k).map_err(|_| "a bad cosigner key"))?;
            let note = &checkpoints[0].1;
            let verified = note
                .verify(&[log_key.clone(), key])
                .map_err(|e| e.to_string())?;
            let time = verified
                .iter()
                .filter(|v| v.alg == ALG_COSIGNATURE_V1)
                .find_map(|v| v.time)
                .ok_or("the checkpoint carries no verified cosignature")?;
            if time <= d.raised_at_unix + COSIGNATURE_SKEW_SECS {
                return Err("the cosignature's time is not in the future of the raiser".to_owned());
            }
            Ok(DisputeReport {
                proven: format!(
                    "a cosignature of {} carries the time {time}, {} s after the dispute was raised",
                    d.log,
                    time - d.raised_at_unix
                ),
                stated: None,
            })
        }
    }
}

fn decode_hashes(hashes: &[String]) -> Result<Vec<Hash>, String> {
    hashes
        .iter()
        .map(|h| {
            B64.decode(h)
                .ok()
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| "a proof hash is not the base64 of 32 bytes".to_owned())
        })
        .collect()
}

/// The head and size the file's compact range and leaves give. The compact range must give the
/// head of `first` (the checkpoint the leaves continue), or be empty when there is none.
fn presented_root(d: &Dispute, first: Option<&Checkpoint>) -> Result<(Hash, u64), String> {
    let mut range = match d.compact.as_deref() {
        Some(text) => CompactRange::from_text(text).ok_or("the compact range does not read")?,
        None => CompactRange::empty(),
    };
    match first {
        Some(first) if range.size() != first.size || range.root() != first.root => {
            return Err("the compact range does not give the first checkpoint's head".to_owned());
        }
        None if range.size() != 0 => {
            return Err("a compact range of a non-empty log needs its checkpoint".to_owned());
        }
        _ => {}
    }
    for (i, data) in d.leaves.iter().enumerate() {
        let leaf = Leaf::parse(data).map_err(|e| format!("leaf {i} of the file: {e}"))?;
        range.append(leaf.hash(), |_, _| {});
    }
    Ok((range.root(), range.size()))
}
