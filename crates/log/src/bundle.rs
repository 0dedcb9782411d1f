//! The auditor's bundle: a whole log with its checkpoints, in one text an auditor can check
//! offline (`puente log verify`), line by line, without holding it all in memory.
//!
//! ```text
//! puente-log-bundle-v1
//! origin puente/US/exchange/MX
//! log-key <verifier key of the log: the origin's name, type 0x01>
//! cosigner-key <verifier key of the peer's cosignatures, type 0x04>
//! leaf <base64 of the leaf's data>                 (one line per leaf, in index order)
//! checkpoint <base64 of the signed note>           (right after the leaf that completes its size)
//! end <number of leaves> <number of checkpoints>
//! ```
//!
//! Verification recomputes the tree leaf by leaf and checks, at each checkpoint, that it is the
//! log's (signed by the log key), that its size is the number of leaves so far and its head the
//! tree head of those leaves, and every cosignature it carries by the cosigner key. It also
//! checks what each leaf says: that it belongs in this log (its parties are the origin's), and
//! that each direction's messages are numbered 1, 2, 3… with no gap, repeat or reordering
//! (receipts the owner sealed likewise; receipts it received only increase, since a lost one is
//! never logged). The first thing wrong is named, with its line.

use std::io::BufRead;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use puente_domain::PartyCode;

use crate::checkpoint::Checkpoint;
use crate::compact::CompactRange;
use crate::leaf::{Direction, Leaf, Stream};
use crate::note::{ALG_COSIGNATURE_V1, Note, VerifierKey};
use crate::proof::open_checkpoint;

/// The first line of a bundle.
pub const BUNDLE_VERSION: &str = "puente-log-bundle-v1";

/// Writes a bundle line by line.
pub struct BundleWriter<W: std::io::Write> {
    out: W,
    leaves: u64,
    checkpoints: u64,
}

impl<W: std::io::Write> BundleWriter<W> {
    pub fn new(
        mut out: W,
        origin: &str,
        log_key: &VerifierKey,
        cosigner_key: &VerifierKey,
    ) -> std::io::Result<Self> {
        writeln!(out, "{BUNDLE_VERSION}")?;
        writeln!(out, "origin {origin}")?;
        writeln!(out, "log-key {log_key}")?;
        writeln!(out, "cosigner-key {cosigner_key}")?;
        Ok(Self {
            out,
            leaves: 0,
            checkpoints: 0,
        })
    }

    pub fn leaf(&mut self, data: &str) -> std::io::Result<()> {
        self.leaves += 1;
        writeln!(self.out, "leaf {}", B64.encode(data))
    }

    pub fn checkpoint(&mut self, note: &str) -> std::io::Result<()> {
        self.checkpoints += 1;
        writeln!(self.out, "checkpoint {}", B64.encode(note))
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        writeln!(self.out, "end {} {}", self.leaves, self.checkpoints)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// What a bundle showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleReport {
    pub origin: String,
    pub leaves: u64,
    pub checkpoints: u64,
    /// Checkpoints carrying a verified cosignature, and the largest of their sizes.
    pub cosigned: u64,
    pub last_cosigned_size: Option<u64>,
    /// Whether the cosignatures were checked against a key given by the caller (rather than
    /// the one the bundle names).
    pub cosigner_key_given: bool,
}

/// The first thing wrong in a bundle, and its line (from 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct BundleProblem {
    pub line: u64,
    pub problem: String,
}

/// Verifies a bundle read from `input`; `cosigner_key`, if given, replaces the key the bundle
/// names for the peer's cosignatures.
pub fn verify_bundle(
    input: impl BufRead,
    cosigner_key: Option<&VerifierKey>,
) -> Result<BundleReport, BundleProblem> {
    let mut v = Verifier::default();
    let mut line_no = 0u64;
    for line in input.lines() {
        line_no += 1;
        let line = line.map_err(|e| BundleProblem {
            line: line_no,
            problem: format!("cannot be read: {e}"),
        })?;
        v.line(line_no, &line, cosigner_key)
            .map_err(|problem| BundleProblem {
                line: line_no,
                problem,
            })?;
    }
    v.finish(cosigner_key.is_some())
        .map_err(|problem| BundleProblem {
            line: line_no + 1,
            problem,
        })
}

#[derive(Default)]
struct Verifier {
    origin: Option<(String, PartyCode, PartyCode)>,
    log_key: Option<VerifierKey>,
    cosigner_key: Option<VerifierKey>,
    range: CompactRange,
    checkpoints: u64,
    cosigned: u64,
    last_cosigned_size: Option<u64>,
    last_checkpoint_size: u64,
    /// The next seq of messages out and in, and of receipts out; the last receipt in.
    next: [u64; 3],
    last_receipt_in: u64,
    ended: bool,
}

impl Verifier {
    fn line(
        &mut self,
        n: u64,
        line: &str,
        given_cosigner: Option<&VerifierKey>,
    ) -> Result<(), String> {
        if self.ended {
            return Err("there is more after the end line".to_owned());
        }
        match n {
            1 if line == BUNDLE_VERSION => return Ok(()),
            1 => return Err(format!("the first line is not {BUNDLE_VERSION}")),
            2 => {
                let origin = line
                    .strip_prefix("origin ")
                    .ok_or("the second line is not the origin")?;
                let parties = parse_origin(origin).ok_or(format!(
                    "{origin:?} is not the origin of a puente exchange log"
                ))?;
                self.origin = Some((origin.to_owned(), parties.0, parties.1));
                return Ok(());
            }
            3 => {
                let key = line
                    .strip_prefix("log-key ")
                    .ok_or("the third line is not the log key")?;
                let key = VerifierKey::parse(key).map_err(|e| format!("the log key: {e}"))?;
                let origin = self.origin_name()?;
                if key.name() != origin {
                    return Err(format!("the log key is named {}, not {origin}", key.name()));
                }
                self.log_key = Some(key);
                return Ok(());
            }
            4 => {
                let key = line
                    .strip_prefix("cosigner-key ")
                    .ok_or("the fourth line is not the cosigner key")?;
                let key = VerifierKey::parse(key).map_err(|e| format!("the cosigner key: {e}"))?;
                if key.alg() != ALG_COSIGNATURE_V1 {
                    return Err("the cosigner key is not a cosignature key".to_owned());
                }
                self.cosigner_key = Some(given_cosigner.cloned().unwrap_or(key));
                return Ok(());
            }
            _ => {}
        }
        if let Some(b) = line.strip_prefix("leaf ") {
            let data = B64
                .decode(b)
                .map_err(|_| "a leaf line is not base64".to_owned())?;
            let data = String::from_utf8(data).map_err(|_| "a leaf is not UTF-8".to_owned())?;
            let leaf =
                Leaf::parse(&data).map_err(|e| format!("leaf {}: {e}", self.range.size()))?;
            self.check_leaf(&leaf)?;
            self.range.append(leaf.hash(), |_, _| {});
            Ok(())
        } else if let Some(b) = line.strip_prefix("checkpoint ") {
            let text = B64
                .decode(b)
                .ok()
                .and_then(|t| String::from_utf8(t).ok())
                .ok_or("a checkpoint line is not the base64 of a text")?;
            self.check_checkpoint(&text)
        } else if let Some(counts) = line.strip_prefix("end ") {
            let want = format!("{} {}", self.range.size(), self.checkpoints);
            if counts != want {
                return Err(format!(
                    "the end line says {counts} (leaves, checkpoints), but the bundle holds {want}"
                ));
            }
            self.ended = true;
            Ok(())
        } else {
            Err("the line is not a leaf, a checkpoint or the end".to_owned())
        }
    }

    fn origin_name(&self) -> Result<String, String> {
        self.origin
            .as_ref()
            .map(|o| o.0.clone())
            .ok_or_else(|| "no origin".to_owned())
    }

    fn check_leaf(&mut self, leaf: &Leaf) -> Result<(), String> {
        let index = self.range.size();
        let Some((_, owner, peer)) = self.origin else {
            return Err("a leaf before the origin".to_owned());
        };
        let (sender, recipient) = match leaf.direction {
            Direction::Out => (owner, peer),
            Direction::In => (peer, owner),
        };
        if (leaf.sender, leaf.recipient) != (sender, recipient) {
            return Err(format!(
                "leaf {index} ({leaf}) does not belong in the log of {owner} with {peer}"
            ));
        }
        match (leaf.direction, leaf.stream) {
            (Direction::In, Stream::Receipt) => {
                if leaf.seq <= self.last_receipt_in {
                    return Err(format!(
                        "leaf {index} ({leaf}) comes after receipt {} from the peer",
                        self.last_receipt_in
                    ));
                }
                self.last_receipt_in = leaf.seq;
            }
            (direction, stream) => {
                let slot = match (direction, stream) {
                    (Direction::Out, Stream::Message) => 0,
                    (Direction::In, Stream::Message) => 1,
                    _ => 2,
                };
                let want = self.next[slot].max(1);
                if leaf.seq != want {
                    return Err(format!(
                        "leaf {index} ({leaf}) is out of sequence: seq {want} was due"
                    ));
                }
                self.next[slot] = want + 1;
            }
        }
        Ok(())
    }

    fn check_checkpoint(&mut self, text: &str) -> Result<(), String> {
        let origin = self.origin_name()?;
        let (Some(log_key), Some(cosigner)) = (&self.log_key, &self.cosigner_key) else {
            return Err("a checkpoint before the keys".to_owned());
        };
        let note = Note::parse(text).map_err(|e| format!("checkpoint: {e}"))?;
        // A line under the cosigner's name by another key is not ignored, as an unknown key
        // would be: the auditor named the key the peer cosigns with.
        if let Some(s) = note
            .signatures()
            .iter()
            .find(|s| s.name == cosigner.name() && s.id != cosigner.id())
        {
            return Err(format!(
                "checkpoint: the cosignature of {} is not by the cosigner key {} (key id {})",
                s.name,
                cosigner,
                hex::encode(s.id)
            ));
        }
        let (checkpoint, verified) =
            open_checkpoint(&note, &origin, &[log_key.clone(), cosigner.clone()])
                .map_err(|e| format!("checkpoint: {e}"))?;
        let Checkpoint { size, root, .. } = checkpoint;
        if size != self.range.size() {
            return Err(format!(
                "a checkpoint of size {size} after {} leaves",
                self.range.size()
            ));
        }
        if size <= self.last_checkpoint_size && self.checkpoints > 0 {
            return Err(format!(
                "a checkpoint of size {size} after one of size {}",
                self.last_checkpoint_size
            ));
        }
        if root != self.range.root() {
            return Err(format!(
                "the checkpoint of size {size} has the tree head {}, but the leaves before it give {}",
                B64.encode(root),
                B64.encode(self.range.root())
            ));
        }
        if verified.iter().any(|v| v.alg == ALG_COSIGNATURE_V1) {
            self.cosigned += 1;
            self.last_cosigned_size = Some(size);
        }
        self.checkpoints += 1;
        self.last_checkpoint_size = size;
        Ok(())
    }

    fn finish(self, cosigner_key_given: bool) -> Result<BundleReport, String> {
        if !self.ended {
            return Err("the bundle has no end line: it was cut short".to_owned());
        }
        Ok(BundleReport {
            origin: self.origin.map(|o| o.0).unwrap_or_default(),
            leaves: self.range.size(),
            checkpoints: self.checkpoints,
            cosigned: self.cosigned,
            last_cosigned_size: self.last_cosigned_size,
            cosigner_key_given,
        })
    }
}

/// The owner and peer of an origin `puente/<owner>/exchange/<peer>`.
pub fn parse_origin(origin: &str) -> Option<(PartyCode, PartyCode)> {
    let rest = origin.strip_prefix("puente/")?;
    let (owner, peer) = rest.split_once("/exchange/")?;
    let (owner, peer) = (PartyCode::parse(owner).ok()?, PartyCode::parse(peer).ok()?);
    (owner != peer && crate::checkpoint::origin(owner, peer) == origin).then_some((owner, peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{cosigner_name, origin};
    use crate::note::{Signer, cosign};
    use ed25519_dalek::SigningKey;
    use time::OffsetDateTime;

    fn leaves(n: u64) -> Vec<Leaf> {
        (0..n)
            .map(|i| {
                let (direction, stream, seq) = match i % 5 {
                    4 => (Direction::In, Stream::Receipt, i / 5 * 3 + 2),
                    _ => (Direction::Out, Stream::Message, i - i / 5 + 1),
                };
                let (sender, recipient) = match direction {
                    Direction::Out => (PartyCode::US, PartyCode::MX),
                    Direction::In => (PartyCode::MX, PartyCode::US),
                };
                Leaf {
                    sender,
                    recipient,
                    direction,
                    stream,
                    seq,
                    logged: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(i as i64),
                    envelope_sha256: [i as u8; 32],
                }
            })
            .collect()
    }

    /// A bundle of `n` leaves with a checkpoint after every `every`, cosigned by MX; its text.
    fn bundle(leaves: &[Leaf], every: usize) -> String {
        let us = SigningKey::from_bytes(&[1; 32]);
        let mx = SigningKey::from_bytes(&[2; 32]);
        let o = origin(PartyCode::US, PartyCode::MX);
        let log_key = VerifierKey::ed25519(&o, &us.public_key()).unwrap();
        let cosigner =
            VerifierKey::cosigner(&cosigner_name(PartyCode::MX), &mx.public_key()).unwrap();
        let mut w = BundleWriter::new(Vec::new(), &o, &log_key, &cosigner).unwrap();
        let mut range = CompactRange::empty();
        for (i, leaf) in leaves.iter().enumerate() {
            w.leaf(&leaf.to_data()).unwrap();
            range.append(leaf.hash(), |_, _| {});
            if (i + 1) % every == 0 {
                let c = Checkpoint {
                    origin: o.clone(),
                    size: range.size(),
                    root: range.root(),
                };
                let mut note = Note::new(c.to_text()).unwrap();
                note.sign(&o, &us).unwrap();
                note.push(
                    cosign(
                        &c.to_text(),
                        &cosigner_name(PartyCode::MX),
                        &mx,
                        1_700_000_000,
                    )
                    .unwrap(),
                );
                w.checkpoint(&note.to_text()).unwrap();
            }
        }
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn an_honest_bundle_verifies() {
        let text = bundle(&leaves(40), 8);
        let report = verify_bundle(text.as_bytes(), None).unwrap();
        assert_eq!(
            (report.leaves, report.checkpoints, report.cosigned),
            (40, 5, 5)
        );
        assert_eq!(report.last_cosigned_size, Some(40));
    }

    fn problem(text: &str) -> BundleProblem {
        verify_bundle(text.as_bytes(), None).unwrap_err()
    }

    #[test]
    fn a_dropped_altered_or_reordered_leaf_is_named() {
        let honest = leaves(40);
        // Dropped: a message is missing, so the next is out of sequence.
        let mut dropped = honest.clone();
        dropped.remove(6);
        let p = problem(&bundle(&dropped, 8));
        assert!(p.problem.contains("out of sequence"), "{p}");
        // Reordered: two messages swap places.
        let mut reordered = honest.clone();
        reordered.swap(10, 11);
        let p = problem(&bundle(&reordered, 8));
        assert!(p.problem.contains("out of sequence"), "{p}");
        // Altered after it was checkpointed: the checkpoints were signed over the honest log.
        let text = bundle(&honest, 8);
        let mut altered = honest[13].clone();
        altered.envelope_sha256 = [0xee; 32];
        let forged = text.replace(
            &B64.encode(honest[13].to_data()),
            &B64.encode(altered.to_data()),
        );
        let p = problem(&forged);
        assert!(p.problem.contains("tree head"), "{p}");
        // Four header lines, sixteen leaves and two checkpoints: the second is where it shows.
        assert_eq!(p.line, 4 + 16 + 2);
    }

    #[test]
    fn keys_counts_and_ends_are_checked() {
        let text = bundle(&leaves(16), 8);
        // Cut short.
        let cut: String = text.lines().take(10).map(|l| format!("{l}\n")).collect();
        assert!(problem(&cut).problem.contains("cut short"));
        // A cosigner key other than the peer's.
        let other = VerifierKey::cosigner(
            &cosigner_name(PartyCode::MX),
            &SigningKey::from_bytes(&[3; 32]).public_key(),
        )
        .unwrap();
        let p = verify_bundle(text.as_bytes(), Some(&other)).unwrap_err();
        assert!(p.problem.contains("is not by the cosigner key"), "{p}");
        // A wrong count at the end, a line after it, a stranger's leaf.
        assert!(
            problem(&text.replace("end 16 2", "end 16 3"))
                .problem
                .contains("end line")
        );
        assert!(
            problem(&format!("{text}leaf AA==\n"))
                .problem
                .contains("after the end")
        );
        let mut stranger = leaves(16);
        stranger[3].recipient = PartyCode::parse("CA").unwrap();
        assert!(
            problem(&bundle(&stranger, 8))
                .problem
                .contains("does not belong")
        );
        assert!(parse_origin("puente/US/exchange/MX").is_some());
        assert!(parse_origin("puente/US/exchange/US").is_none());
        assert!(parse_origin("puente/us/exchange/MX").is_none());
    }
}
