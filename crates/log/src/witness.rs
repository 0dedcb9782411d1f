//! What a node checks before it cosigns a peer's checkpoint: that the leaves the peer presents
//! extend the copy of its log this node keeps, one by one, and agree with this node's own record
//! of the exchange. Pure: the store gathers the copy's state and the records, and applies the
//! result atomically with the cosignature.
//!
//! The rules, for each leaf (seen from the log's owner, the peer):
//! - it is between the owner and this node, its direction matching its sender;
//! - messages out, messages in and receipts out are numbered 1, 2, 3… with no gap or repeat;
//!   receipts in only increase (a receipt lost on the way is never logged by the one who lost it);
//! - an envelope the owner says it received from this node is one this node sent, with the same
//!   hash; one it says it sent to this node, if this node holds it yet, has the same hash;
//!
//! and after the last leaf the copy's tree head is the checkpoint's.

use puente_domain::PartyCode;

use crate::checkpoint::Checkpoint;
use crate::compact::CompactRange;
use crate::leaf::{Direction, Leaf, Stream};
use crate::merkle::Hash;

/// The copy of a peer's log a node keeps: its compact range and where each sequence stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyState {
    pub range: CompactRange,
    pub next_out_message: u64,
    pub next_in_message: u64,
    pub next_out_receipt: u64,
    pub last_in_receipt: u64,
}

impl CopyState {
    pub fn empty() -> Self {
        Self {
            range: CompactRange::empty(),
            next_out_message: 1,
            next_in_message: 1,
            next_out_receipt: 1,
            last_in_receipt: 0,
        }
    }
}

/// This node's record of the exchange with the log's owner, as the checks ask it.
pub trait Records {
    /// The hash of the envelope this node sent the owner in `stream` with `seq`, if any.
    fn sent(&self, stream: Stream, seq: u64) -> Option<Hash>;
    /// The hash of the envelope this node received from the owner in `stream` with `seq`.
    fn received(&self, stream: Stream, seq: u64) -> Option<Hash>;
}

/// What is wrong with the leaves a peer presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A leaf of another pair of parties, or whose direction does not match its sender.
    NotOurs { index: u64, detail: String },
    /// A leaf out of its sequence: a gap, a repeat or a reordering.
    OutOfOrder { index: u64, detail: String },
    /// A leaf naming an envelope this node never sent, or another than the one it holds.
    UnknownEnvelope { index: u64, detail: String },
    /// The leaves do not give the checkpoint's size and head.
    Inconsistent { detail: String },
}

impl Finding {
    pub fn index(&self) -> Option<u64> {
        match self {
            Finding::NotOurs { index, .. }
            | Finding::OutOfOrder { index, .. }
            | Finding::UnknownEnvelope { index, .. } => Some(*index),
            Finding::Inconsistent { .. } => None,
        }
    }
    pub fn detail(&self) -> &str {
        match self {
            Finding::NotOurs { detail, .. }
            | Finding::OutOfOrder { detail, .. }
            | Finding::UnknownEnvelope { detail, .. }
            | Finding::Inconsistent { detail } => detail,
        }
    }
}

/// Checks `leaves`, presented by `owner` as the continuation of the copy in `state` up to
/// `checkpoint`, against this node's (`me`) records; the copy's new state if all is well.
pub fn check(
    state: &CopyState,
    owner: PartyCode,
    me: PartyCode,
    leaves: &[Leaf],
    records: &dyn Records,
    checkpoint: &Checkpoint,
) -> Result<CopyState, Finding> {
    let mut next = state.clone();
    for leaf in leaves {
        let index = next.range.size();
        let (sender, recipient) = match leaf.direction {
            Direction::Out => (owner, me),
            Direction::In => (me, owner),
        };
        if (leaf.sender, leaf.recipient) != (sender, recipient) {
            return Err(Finding::NotOurs {
                index,
                detail: format!("leaf {index} ({leaf}) is not between {owner} and {me}"),
            });
        }
        let out_of_order = |want: &str| Finding::OutOfOrder {
            index,
            detail: format!("leaf {index} ({leaf}) is out of sequence: {want}"),
        };
        match (leaf.direction, leaf.stream) {
            (Direction::Out, Stream::Message) => {
                if leaf.seq != next.next_out_message {
                    return Err(out_of_order(&format!(
                        "seq {} was due",
                        next.next_out_message
                    )));
                }
                next.next_out_message += 1;
            }
            (Direction::In, Stream::Message) => {
                if leaf.seq != next.next_in_message {
                    return Err(out_of_order(&format!(
                        "seq {} was due",
                        next.next_in_message
                    )));
                }
                next.next_in_message += 1;
            }
            (Direction::Out, Stream::Receipt) => {
                if leaf.seq != next.next_out_receipt {
                    return Err(out_of_order(&format!(
                        "seq {} was due",
                        next.next_out_receipt
                    )));
                }
                next.next_out_receipt += 1;
            }
            (Direction::In, Stream::Receipt) => {
                if leaf.seq <= next.last_in_receipt {
                    return Err(out_of_order(&format!(
                        "receipt {} came before it",
                        next.last_in_receipt
                    )));
                }
                next.last_in_receipt = leaf.seq;
            }
        }
        let mine = match leaf.direction {
            // The owner received it from this node: this node sent it.
            Direction::In => match records.sent(leaf.stream, leaf.seq) {
                Some(hash) => Some(hash),
                None => {
                    return Err(Finding::UnknownEnvelope {
                        index,
                        detail: format!("leaf {index} ({leaf}) names an envelope {me} never sent"),
                    });
                }
            },
            // The owner sent it: this node may not have it yet.
            Direction::Out => records.received(leaf.stream, leaf.seq),
        };
        if let Some(hash) = mine {
            if hash != leaf.envelope_sha256 {
                return Err(Finding::UnknownEnvelope {
                    index,
                    detail: format!(
                        "leaf {index} ({leaf}) names envelope {}, but {me} holds {} under that seq",
                        hex::encode(leaf.envelope_sha256),
                        hex::encode(hash)
                    ),
                });
            }
        }
        next.range.append(leaf.hash(), |_, _| {});
    }
    if next.range.size() != checkpoint.size || next.range.root() != checkpoint.root {
        return Err(Finding::Inconsistent {
            detail: format!(
                "the copy of {}'s log and the leaves it presented give size {} and a head other \
                 than its checkpoint of size {}",
                owner,
                next.range.size(),
                checkpoint.size
            ),
        });
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::origin;
    use std::collections::HashMap;
    use time::OffsetDateTime;

    #[derive(Default)]
    struct Book {
        sent: HashMap<(Stream, u64), Hash>,
        received: HashMap<(Stream, u64), Hash>,
    }
    impl Records for Book {
        fn sent(&self, stream: Stream, seq: u64) -> Option<Hash> {
            self.sent.get(&(stream, seq)).copied()
        }
        fn received(&self, stream: Stream, seq: u64) -> Option<Hash> {
            self.received.get(&(stream, seq)).copied()
        }
    }

    fn leaf(direction: Direction, stream: Stream, seq: u64) -> Leaf {
        let (sender, recipient) = match direction {
            Direction::Out => (PartyCode::MX, PartyCode::US),
            Direction::In => (PartyCode::US, PartyCode::MX),
        };
        Leaf {
            sender,
            recipient,
            direction,
            stream,
            seq,
            logged: OffsetDateTime::UNIX_EPOCH,
            envelope_sha256: hash_of(direction, stream, seq),
        }
    }

    fn hash_of(direction: Direction, stream: Stream, seq: u64) -> Hash {
        let mut h = [0u8; 32];
        h[0] = direction as u8;
        h[1] = stream as u8;
        h[2..10].copy_from_slice(&seq.to_be_bytes());
        h
    }

    /// MX's log as US sees it: MX sent messages 1–3 (US holds 1 and 2), received US's messages
    /// 1–2 and receipt 1, and sent its receipt 1.
    fn setting() -> (Vec<Leaf>, Book) {
        use Direction::*;
        use Stream::*;
        let leaves = vec![
            leaf(Out, Message, 1),
            leaf(In, Message, 1),
            leaf(Out, Message, 2),
            leaf(Out, Receipt, 1),
            leaf(In, Message, 2),
            leaf(In, Receipt, 1),
            leaf(Out, Message, 3),
        ];
        let mut book = Book::default();
        for (s, n) in [(Message, 1), (Message, 2), (Receipt, 1)] {
            book.sent.insert((s, n), hash_of(In, s, n));
        }
        for (s, n) in [(Message, 1), (Message, 2), (Receipt, 1)] {
            book.received.insert((s, n), hash_of(Out, s, n));
        }
        (leaves, book)
    }

    fn checkpoint_of(leaves: &[Leaf]) -> Checkpoint {
        let mut r = CompactRange::empty();
        for l in leaves {
            r.append(l.hash(), |_, _| {});
        }
        Checkpoint {
            origin: origin(PartyCode::MX, PartyCode::US),
            size: r.size(),
            root: r.root(),
        }
    }

    fn run(leaves: &[Leaf], book: &Book) -> Result<CopyState, Finding> {
        check(
            &CopyState::empty(),
            PartyCode::MX,
            PartyCode::US,
            leaves,
            book,
            &checkpoint_of(leaves),
        )
    }

    #[test]
    fn an_honest_log_extends_the_copy_in_steps() {
        let (leaves, book) = setting();
        let all = run(&leaves, &book).unwrap();
        assert_eq!(all.range.size(), 7);
        assert_eq!((all.next_out_message, all.next_in_message), (4, 3));
        // The same in two steps, from the state the first left.
        let first = run(&leaves[..4], &book).unwrap();
        let rest = check(
            &first,
            PartyCode::MX,
            PartyCode::US,
            &leaves[4..],
            &book,
            &checkpoint_of(&leaves),
        )
        .unwrap();
        assert_eq!(rest, all);
    }

    #[test]
    fn dropped_altered_reordered_or_foreign_leaves_are_found() {
        let (leaves, book) = setting();
        let mut dropped = leaves.clone();
        dropped.remove(1);
        assert!(matches!(
            run(&dropped, &book),
            Err(Finding::OutOfOrder { index: 3, .. })
        ));
        let mut reordered = leaves.clone();
        reordered.swap(0, 2);
        assert!(matches!(
            run(&reordered, &book),
            Err(Finding::OutOfOrder { index: 0, .. })
        ));
        let mut altered = leaves.clone();
        altered[4].envelope_sha256[31] ^= 1;
        assert!(matches!(
            run(&altered, &book),
            Err(Finding::UnknownEnvelope { index: 4, .. })
        ));
        let mut altered = leaves.clone();
        altered[2].envelope_sha256[31] ^= 1;
        assert!(matches!(
            run(&altered, &book),
            Err(Finding::UnknownEnvelope { index: 2, .. })
        ));
        // Message 3 from MX has not reached US yet: nothing to compare, not a finding.
        assert!(book.received(Stream::Message, 3).is_none());
        let mut invented = leaves.clone();
        invented.push(leaf(Direction::In, Stream::Message, 3));
        assert!(matches!(
            run(&invented, &book),
            Err(Finding::UnknownEnvelope { index: 7, .. })
        ));
        let mut foreign = leaves.clone();
        foreign[3].recipient = PartyCode::parse("CA").unwrap();
        assert!(matches!(
            run(&foreign, &book),
            Err(Finding::NotOurs { index: 3, .. })
        ));
        // Leaves that are fine but do not give the checkpoint's head.
        let wrong = check(
            &CopyState::empty(),
            PartyCode::MX,
            PartyCode::US,
            &leaves,
            &book,
            &checkpoint_of(&leaves[..6]),
        );
        assert!(matches!(wrong, Err(Finding::Inconsistent { .. })));
    }
}
