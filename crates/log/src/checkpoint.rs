//! Checkpoints (<https://c2sp.org/tlog-checkpoint>): the text of a signed note naming a log
//! (its origin), its size and its tree head.
//!
//! A puente node keeps one log per peer; its origin is `puente/<owner>/exchange/<peer>` (for
//! example `puente/US/exchange/MX`: US's log of what passed between US and MX), and its
//! checkpoints are signed by the owner's node key under that name. The peer cosigns them under
//! the name `puente/<peer>/cosigner`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use puente_domain::PartyCode;

use crate::error::LogError;
use crate::merkle::Hash;

/// The origin of `owner`'s log of its exchange with `peer`.
pub fn origin(owner: PartyCode, peer: PartyCode) -> String {
    format!("puente/{owner}/exchange/{peer}")
}

/// The name under which `party` cosigns its peers' checkpoints.
pub fn cosigner_name(party: PartyCode) -> String {
    format!("puente/{party}/cosigner")
}

/// A log's size and tree head, under its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: origin, size and base64 tree head, each on its line.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Reads a checkpoint's text. Extension lines are allowed by the format and ignored; puente
    /// writes none.
    pub fn parse(text: &str) -> Result<Self, LogError> {
        let bad = |reason| LogError::Checkpoint { reason };
        let body = text
            .strip_suffix('\n')
            .ok_or(bad("it does not end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(bad("no origin"))?;
        let size_text = lines.next().ok_or(bad("no size"))?;
        let size: u64 = size_text
            .parse()
            .map_err(|_| bad("the size is not a number"))?;
        if size.to_string() != size_text {
            return Err(bad("the size is not in canonical decimal"));
        }
        let root_text = lines.next().ok_or(bad("no root hash"))?;
        let root: Hash = B64
            .decode(root_text)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(bad("the root hash is not the base64 of 32 bytes"))?;
        if B64.encode(root) != root_text {
            return Err(bad("the root hash is not in canonical base64"));
        }
        if lines.any(str::is_empty) {
            return Err(bad("an extension line is empty"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_read_back_and_nothing_else_reads() {
        let c = Checkpoint {
            origin: origin(PartyCode::US, PartyCode::MX),
            size: 20_852_163,
            root: [7; 32],
        };
        let text = c.to_text();
        assert_eq!(
            text,
            "puente/US/exchange/MX\n20852163\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
        );
        assert_eq!(Checkpoint::parse(&text), Ok(c.clone()));
        assert_eq!(
            Checkpoint::parse(&format!("{text}extension\n")),
            Ok(c.clone())
        );
        for bad in [
            text.trim_end().to_owned(),
            text.replace("20852163", "020852163"),
            text.replace("20852163", "-1"),
            text.replace("Bwc=", "Bwd="),
            text.replace("=\n", "\n"),
            format!("{text}\n"),
            format!("\n{text}"),
            "puente/US/exchange/MX\n1\n".to_owned(),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "accepted {bad:?}");
        }
    }
}
