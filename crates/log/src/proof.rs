//! Offline inclusion proofs in the C2SP `tlog-proof` form: that an entry is in a log, checkable
//! with the log's (and cosigners') keys alone.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the leaf's data>     (optional; puente always writes it)
//! index <the leaf's index>
//! <base64 proof hash>                   (one per line, the leaf's sibling first)
//!
//! <the checkpoint's signed note, with its cosignatures>
//! ```
//!
//! puente puts the leaf's data in `extra`, so the proof carries what the entry says (which
//! envelope, which way, when) as well as where it is; the data is authenticated by the proof
//! itself, since its hash is the leaf hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::Checkpoint;
use crate::error::LogError;
use crate::merkle::{Hash, leaf_hash, verify_inclusion};
use crate::note::{ALG_ED25519, Note, Verified, VerifierKey};

/// The first line of a proof.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// An entry's inclusion proof under a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The leaf's data, if carried.
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub hashes: Vec<Hash>,
    pub checkpoint: Note,
}

impl InclusionProof {
    pub fn to_text(&self) -> String {
        let mut out = format!("{PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint.to_text());
        out
    }

    pub fn parse(text: &str) -> Result<Self, LogError> {
        let bad = |reason| LogError::Proof { reason };
        let (head, note) = text
            .split_once("\n\n")
            .ok_or(bad("there is no blank line before the checkpoint"))?;
        let mut lines = head.split('\n').peekable();
        if lines.next() != Some(PROOF_HEADER) {
            return Err(bad("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let extra = match lines.peek().and_then(|l| l.strip_prefix("extra ")) {
            Some(b) => {
                let data = B64.decode(b).map_err(|_| bad("extra is not base64"))?;
                lines.next();
                Some(data)
            }
            None => None,
        };
        let index_text = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .ok_or(bad("no index line"))?;
        let index: u64 = index_text
            .parse()
            .map_err(|_| bad("the index is not a number"))?;
        if index.to_string() != index_text {
            return Err(bad("the index is not in canonical decimal"));
        }
        let mut hashes = Vec::new();
        for l in lines {
            let h: Hash = B64
                .decode(l)
                .ok()
                .and_then(|h| h.try_into().ok())
                .ok_or(bad("a proof line is not the base64 of 32 bytes"))?;
            hashes.push(h);
        }
        Ok(Self {
            extra,
            index,
            hashes,
            checkpoint: Note::parse(note)?,
        })
    }

    /// Checks the proof: the checkpoint is `origin`'s, signed by `log_key` (and by every known
    /// cosigner whose line it carries), and the leaf whose data is `extra` is at `index` under
    /// its head. What verified, and the checkpoint.
    pub fn verify(
        &self,
        origin: &str,
        keys: &[VerifierKey],
    ) -> Result<(Checkpoint, Vec<Verified>), LogError> {
        let (checkpoint, verified) = open_checkpoint(&self.checkpoint, origin, keys)?;
        let extra = self.extra.as_ref().ok_or(LogError::Proof {
            reason: "it does not carry the leaf's data",
        })?;
        verify_inclusion(
            &leaf_hash(extra),
            self.index,
            checkpoint.size,
            &self.hashes,
            &checkpoint.root,
        )?;
        Ok((checkpoint, verified))
    }
}

/// Opens a checkpoint note of `origin`: it must carry the log's own signature (the key named
/// after the origin) among `keys`, and every known signature on it must verify.
pub fn open_checkpoint(
    note: &Note,
    origin: &str,
    keys: &[VerifierKey],
) -> Result<(Checkpoint, Vec<Verified>), LogError> {
    let verified = note.verify(keys)?;
    if !verified
        .iter()
        .any(|v| v.alg == ALG_ED25519 && v.name == origin)
    {
        return Err(LogError::NoKnownSignature);
    }
    let checkpoint = Checkpoint::parse(note.text())?;
    if checkpoint.origin != origin {
        return Err(LogError::WrongOrigin {
            got: checkpoint.origin,
            want: origin.to_owned(),
        });
    }
    Ok((checkpoint, verified))
}
