//! A leaf of the exchange log: what one entry commits to. Specified in `docs/exchange-log.md`.
//!
//! A leaf's data is an exact text of LF-terminated lines, in this order and nothing else:
//!
//! ```text
//! puente-log-leaf-v1
//! sender US
//! recipient MX
//! direction out
//! stream message
//! seq 17
//! logged 2026-12-04T15:00:00.123456Z
//! envelope-sha256 <64 lower-case hex digits>
//! ```
//!
//! `direction` is seen from the log's owner (`out`: the owner sent it); `stream` is `message`
//! or `receipt`; `seq` is the envelope's sequence number in its direction and stream; `logged`
//! is when the owner appended it (UTC, exactly six fractional digits); `envelope-sha256` is the
//! hash of the envelope's exact signed bytes. Its leaf hash is `SHA-256(0x00 || data)`.

use std::fmt;

use puente_domain::PartyCode;
use time::{OffsetDateTime, UtcOffset};

use crate::error::LogError;
use crate::merkle::{Hash, leaf_hash};

/// The first line of a leaf.
pub const LEAF_VERSION: &str = "puente-log-leaf-v1";

/// Longest leaf data accepted: the fields are all short and fixed.
pub const MAX_LEAF_LEN: usize = 512;

/// Which way an envelope went, seen from the log's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Out,
    In,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::In => "in",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "out" => Some(Direction::Out),
            "in" => Some(Direction::In),
            _ => None,
        }
    }
    /// The other side's view of the same envelope.
    pub fn reversed(self) -> Self {
        match self {
            Direction::Out => Direction::In,
            Direction::In => Direction::Out,
        }
    }
}

/// The two sequences of envelopes between a pair of nodes, each numbered per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    Message,
    Receipt,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Message => "message",
            Stream::Receipt => "receipt",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "message" => Some(Stream::Message),
            "receipt" => Some(Stream::Receipt),
            _ => None,
        }
    }
}

/// One entry of an exchange log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub sender: PartyCode,
    pub recipient: PartyCode,
    pub direction: Direction,
    pub stream: Stream,
    pub seq: u64,
    /// When the log's owner appended it, to the microsecond.
    pub logged: OffsetDateTime,
    pub envelope_sha256: Hash,
}

impl Leaf {
    /// The leaf's data: the exact text its hash commits to.
    pub fn to_data(&self) -> String {
        format!(
            "{LEAF_VERSION}\nsender {}\nrecipient {}\ndirection {}\nstream {}\nseq {}\nlogged {}\nenvelope-sha256 {}\n",
            self.sender,
            self.recipient,
            self.direction.as_str(),
            self.stream.as_str(),
            self.seq,
            format_time(self.logged),
            hex::encode(self.envelope_sha256),
        )
    }

    /// `SHA-256(0x00 || data)`.
    pub fn hash(&self) -> Hash {
        leaf_hash(self.to_data().as_bytes())
    }

    /// Reads exactly one leaf's data; anything else (another order, extra spaces or lines, a
    /// time not in the one form) is refused, so every leaf has one encoding.
    pub fn parse(data: &str) -> Result<Leaf, LogError> {
        let bad = |reason: &'static str| LogError::Leaf { reason };
        if data.len() > MAX_LEAF_LEN {
            return Err(bad("it is longer than a leaf can be"));
        }
        let body = data
            .strip_suffix('\n')
            .ok_or(bad("it does not end with a line feed"))?;
        let mut lines = body.split('\n');
        if lines.next() != Some(LEAF_VERSION) {
            return Err(bad("the first line is not puente-log-leaf-v1"));
        }
        let mut field = |name: &'static str| -> Result<&str, LogError> {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .ok_or(LogError::Leaf {
                    reason: "a field is missing or out of order",
                })
        };
        let sender = PartyCode::parse(field("sender")?).map_err(|_| bad("bad sender"))?;
        let recipient = PartyCode::parse(field("recipient")?).map_err(|_| bad("bad recipient"))?;
        let direction = Direction::parse(field("direction")?).ok_or(bad("bad direction"))?;
        let stream = Stream::parse(field("stream")?).ok_or(bad("bad stream"))?;
        let seq_text = field("seq")?;
        let seq: u64 = seq_text.parse().map_err(|_| bad("bad seq"))?;
        let logged = parse_time(field("logged")?).ok_or(bad("bad logged time"))?;
        let mut envelope_sha256 = [0u8; 32];
        let hash_text = field("envelope-sha256")?;
        if hash_text.len() != 64 || hash_text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("bad envelope-sha256"));
        }
        hex::decode_to_slice(hash_text, &mut envelope_sha256)
            .map_err(|_| bad("bad envelope-sha256"))?;
        if lines.next().is_some() {
            return Err(bad("it has lines after envelope-sha256"));
        }
        let leaf = Leaf {
            sender,
            recipient,
            direction,
            stream,
            seq,
            logged,
            envelope_sha256,
        };
        // One encoding only: leading zeros, "+1" and the like fail here.
        if leaf.to_data() != data {
            return Err(bad("it is not in canonical form"));
        }
        if sender == recipient {
            return Err(bad("its sender is its recipient"));
        }
        Ok(leaf)
    }

    /// The party whose log this leaf can be in: the sender if it went out, else the recipient.
    pub fn owner(&self) -> PartyCode {
        match self.direction {
            Direction::Out => self.sender,
            Direction::In => self.recipient,
        }
    }
}

impl fmt::Display for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}→{} seq {}",
            self.stream.as_str(),
            self.direction.as_str(),
            self.sender,
            self.recipient,
            self.seq
        )
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, truncated to the microsecond.
pub fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Reads `format_time`'s form and nothing else.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    (format_time(t) == s).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> Leaf {
        Leaf {
            sender: PartyCode::US,
            recipient: PartyCode::MX,
            direction: Direction::Out,
            stream: Stream::Message,
            seq: 17,
            logged: OffsetDateTime::from_unix_timestamp_nanos(1_764_860_400_123_456_000).unwrap(),
            envelope_sha256: [0xab; 32],
        }
    }

    #[test]
    fn a_leaf_has_one_text_and_reads_back() {
        let l = leaf();
        let data = l.to_data();
        assert_eq!(
            data,
            format!(
                "puente-log-leaf-v1\nsender US\nrecipient MX\ndirection out\nstream message\n\
                 seq 17\nlogged 2025-12-04T15:00:00.123456Z\nenvelope-sha256 {}\n",
                "ab".repeat(32)
            )
        );
        assert_eq!(Leaf::parse(&data), Ok(l.clone()));
        assert_eq!(l.owner(), PartyCode::US);
        assert_eq!(l.hash(), leaf_hash(data.as_bytes()));
    }

    #[test]
    fn every_other_text_is_refused() {
        let data = leaf().to_data();
        let bad = [
            data.trim_end().to_owned(),
            data.replace("seq 17", "seq 017"),
            data.replace("seq 17", "seq +17"),
            data.replace("sender US", "sender  US"),
            data.replace("sender US", "sender XX"),
            data.replace("direction out", "direction sideways"),
            data.replace("stream message", "stream Message"),
            data.replace(".123456Z", ".123Z"),
            data.replace("Z\n", "+00:00\n"),
            data.replace(&"ab".repeat(32), &"AB".repeat(32)),
            data.replace(&"ab".repeat(32), &"ab".repeat(31)),
            data.replace("puente-log-leaf-v1", "puente-log-leaf-v2"),
            data.replace("recipient MX", "recipient US"),
            format!("{data}extra\n"),
            data.replacen("sender US\nrecipient MX", "recipient MX\nsender US", 1),
            data.replace('\n', "\r\n"),
        ];
        for b in bad {
            assert!(Leaf::parse(&b).is_err(), "accepted: {b:?}");
        }
    }
}
