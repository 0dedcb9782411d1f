//! The audit trail: an append-only, hash-chained list of who did what, when and from where.
//!
//! Each entry's hash is SHA-256 over a canonical encoding of its fields and the previous entry's
//! hash (32 zero bytes for the first entry), so changing, removing or reordering any stored entry
//! breaks the chain at that entry, and `verify` names it.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// An entry about to be appended; the store assigns `seq` and the hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub at: OffsetDateTime,
    /// User name, or `system`, or the name tried in a failed login.
    pub actor: String,
    pub ip: Option<String>,
    /// Dotted verb, e.g. `commitment.create`, `login.failure`.
    pub action: String,
    /// The id or name of what was acted on.
    pub target: Option<String>,
    /// Short JSON detail (e.g. the new version); never a secret.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub entry: NewAuditEntry,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// The outcome of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    pub n_entries: u64,
    /// The first entry whose hash, link or sequence is wrong, and why.
    pub first_bad: Option<(i64, String)>,
}

pub const GENESIS: [u8; 32] = [0; 32];

/// The hash of an entry with sequence number `seq` following `prev`.
///
/// Encoding: a JSON array `[seq, at_unix_micros, actor, ip|null, action, target|null, detail,
/// prev_hex]` serialised by serde_json (no whitespace). JSON string escaping makes the encoding
/// unambiguous.
pub fn entry_hash(seq: i64, e: &NewAuditEntry, prev: &[u8; 32]) -> [u8; 32] {
    let micros = (e.at.unix_timestamp_nanos() / 1000) as i64;
    let canonical = serde_json::json!([
        seq,
        micros,
        e.actor,
        e.ip,
        e.action,
        e.target,
        e.detail,
        hex::encode(prev)
    ]);
    Sha256::digest(canonical.to_string().as_bytes()).into()
}

/// Checks a chain given oldest first.
pub fn verify(entries: &[AuditEntry]) -> AuditVerification {
    let mut v = ChainVerifier::new();
    let first_bad = entries
        .iter()
        .find_map(|a| v.push(a).map(|why| (a.seq, why.to_owned())));
    AuditVerification {
        n_entries: entries.len() as u64,
        first_bad,
    }
}

/// Checks a chain fed oldest first, one entry at a time, so a store can verify millions of
/// entries in batches without holding them all in memory.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    prev: [u8; 32],
    expected_seq: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// A verifier expecting the first entry: sequence number 1, linked to [`GENESIS`].
    pub fn new() -> Self {
        Self {
            prev: GENESIS,
            expected_seq: 1,
        }
    }

    /// Checks the next entry; `Some(why)` if it is the first bad one. After a bad entry the
    /// verifier's state is unspecified: stop there.
    pub fn push(&mut self, a: &AuditEntry) -> Option<&'static str> {
        if a.seq != self.expected_seq {
            return Some("sequence gap: an entry is missing");
        }
        if a.prev_hash != self.prev {
            return Some("link broken: previous hash does not match");
        }
        if entry_hash(a.seq, &a.entry, &self.prev) != a.hash {
            return Some("content changed: hash does not match");
        }
        self.prev = a.hash;
        self.expected_seq = a.seq + 1;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let entry = NewAuditEntry {
                    at: OffsetDateTime::UNIX_EPOCH,
                    actor: format!("user{seq}"),
                    ip: None,
                    action: "test.write".into(),
                    target: None,
                    detail: "{}".into(),
                };
                let hash = entry_hash(seq, &entry, &prev);
                let e = AuditEntry {
                    seq,
                    entry,
                    prev_hash: prev,
                    hash,
                };
                prev = hash;
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(
            verify(&chain(5)),
            AuditVerification {
                n_entries: 5,
                first_bad: None
            }
        );
        assert_eq!(
            verify(&[]),
            AuditVerification {
                n_entries: 0,
                first_bad: None
            }
        );
    }

    #[test]
    fn changed_removed_and_missing_first_entries_are_named() {
        let mut c = chain(5);
        c[2].entry.actor = "mallory".into();
        assert_eq!(verify(&c).first_bad.map(|b| b.0), Some(3));

        let mut c = chain(5);
        c.remove(3);
        assert_eq!(verify(&c).first_bad.map(|b| b.0), Some(5));

        let c = chain(5);
        assert_eq!(verify(&c[1..]).first_bad.map(|b| b.0), Some(2));
    }
}
