//! What referrals and requests for information share as they pass between two parties: the two
//! parties, the steps each takes (each a signed message, recorded as an [`Entry`]), why a step is
//! refused, text said in a step with its language, and the [`Timeline`] the clocks read.
//!
//! Times in a trail come from two nodes' clocks (the originator stamps the sending, the
//! recipient its own steps), so a replay does not refuse a step dated before the one it
//! follows; durations computed from a timeline are clamped at zero instead.

use time::OffsetDateTime;

use crate::error::{Errors, FieldErrorCode, Invalid, check_text};
use crate::lang::Lang;
use crate::party::PartyCode;
use crate::token::tokens;

/// The longest reason for declining or withdrawing.
pub const MAX_REASON: usize = 2000;

/// The two parties to one referral or request: the one who sent it and the one who received it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Parties {
    originator: PartyCode,
    recipient: PartyCode,
}

impl Parties {
    /// Two distinct parties; the recipient's pointer (e.g. `/to`) names the error otherwise.
    pub fn new(
        recipient_pointer: &str,
        originator: PartyCode,
        recipient: PartyCode,
    ) -> Result<Parties, Invalid> {
        if originator == recipient {
            return Err(Invalid::one(recipient_pointer, FieldErrorCode::Duplicate));
        }
        Ok(Parties {
            originator,
            recipient,
        })
    }

    pub fn originator(&self) -> PartyCode {
        self.originator
    }

    pub fn recipient(&self) -> PartyCode {
        self.recipient
    }
}

/// Free text a party says in a step (a reason, an answer), tagged with its language so the
/// reader's screen can say which language it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedText {
    pub lang: Lang,
    pub text: String,
}

impl TaggedText {
    /// Validates the text found at `pointer` (its language is already a `Lang`).
    pub fn check(self, pointer: &str, max: usize) -> Result<TaggedText, Invalid> {
        let text = check_text(pointer, &self.text, max)?;
        Ok(TaggedText {
            lang: self.lang,
            text,
        })
    }
}

/// Checks an optional tagged text into `errors`.
pub(crate) fn opt_tagged(
    errors: &mut Errors,
    pointer: &str,
    t: Option<TaggedText>,
    max: usize,
) -> Option<TaggedText> {
    t.and_then(|t| errors.take(t.check(pointer, max)))
}

/// Where a step is judged from. A step taken **here** must follow from the state this node
/// shows its user. A step **received** from the other party was judged by that party's node
/// against what *it* held, which may not yet include a step of ours that crossed it on the way
/// (we withdrew while they reported the outcome). Received steps are therefore applied by rules
/// under which such crossing steps commute: both nodes reach the same state whichever of the two
/// arrived first, and neither refuses the other's step. A stored trail is replayed by the
/// received rules, since it holds crossings in the order this node saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Here,
    Received,
}

/// One step of a trail as recorded: what, by which party, and when (as that party stamped it).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<S> {
    pub step: S,
    pub by: PartyCode,
    pub at: OffsetDateTime,
}

/// Why a step was refused. A wrong party is named before anything else, so a party that may not
/// act learns nothing about the item's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The party may not take this step (only the recipient answers; only the originator
    /// withdraws; a third party does nothing).
    #[error("{by} may not {step} this item")]
    WrongParty { step: &'static str, by: PartyCode },
    /// The step was taken before (acknowledged twice, two outcomes).
    #[error("{step} was already done")]
    AlreadyDone { step: &'static str },
    /// The step does not follow from the current state (an outcome before the acknowledgement,
    /// anything after a withdrawal).
    #[error("cannot {step} an item that is {state}")]
    OutOfOrder {
        state: &'static str,
        step: &'static str,
    },
    /// The step's content is invalid (an empty agency, an outcome without results).
    #[error(transparent)]
    Invalid(Invalid),
}

impl StepError {
    /// The refusal's code, as the API and the exchange name it.
    pub fn code(&self) -> &'static str {
        match self {
            StepError::WrongParty { .. } => "wrong-party",
            StepError::AlreadyDone { .. } => "already-done",
            StepError::OutOfOrder { .. } => "out-of-order",
            StepError::Invalid(_) => "invalid",
        }
    }
}

/// The first refused entry of a replayed trail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {index}: {error}")]
pub struct Rejected {
    pub index: usize,
    pub error: StepError,
}

tokens! {
    /// How an item ended: a referral's outcome, a request's answer, or a withdrawal.
    pub enum ClosureKind: "closure" {
        /// A referral acted on (seizure, arrest, interdiction).
        Acted = "acted",
        /// A referral looked into without trace.
        NoTrace = "no-trace",
        /// A request answered: found.
        Found = "found",
        /// A request answered: not found.
        NotFound = "not-found",
        /// Declined by the recipient, with a reason.
        Declined = "declined",
        /// Withdrawn by the originator.
        Withdrawn = "withdrawn",
    }
}

/// When and how an item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closure {
    pub at: OffsetDateTime,
    pub kind: ClosureKind,
}

/// The instants the clocks and the reciprocity figures read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    pub sent_at: OffsetDateTime,
    pub acknowledged_at: Option<OffsetDateTime>,
    pub closure: Option<Closure>,
}

impl Timeline {
    pub fn new(sent_at: OffsetDateTime) -> Timeline {
        Timeline {
            sent_at,
            acknowledged_at: None,
            closure: None,
        }
    }

    /// Notes a step taken at `at`: an acknowledgement stamps `acknowledged_at`, and a step that
    /// changed how the item ended (`closure`, from the new state) stamps how and when. A step that
    /// leaves the closure as it was (an acknowledgement that crossed a withdrawal, a withdrawal
    /// that crossed the outcome) keeps its first stamp, so the order two crossing steps arrived
    /// in does not change the timeline.
    pub fn record(&mut self, at: OffsetDateTime, acknowledges: bool, closure: Option<ClosureKind>) {
        if acknowledges {
            self.acknowledged_at = Some(at);
        }
        if let Some(kind) = closure {
            if self.closure.map(|c| c.kind) != Some(kind) {
                self.closure = Some(Closure { at, kind });
            }
        }
    }

    /// When the recipient first showed it had the item: its acknowledgement, or else its closing
    /// reply (an answer or outcome acknowledges too). A withdrawal is not the recipient's reply.
    pub fn receipt_at(&self) -> Option<OffsetDateTime> {
        let reply = self
            .closure
            .filter(|c| c.kind != ClosureKind::Withdrawn)
            .map(|c| c.at);
        match (self.acknowledged_at, reply) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    /// When the recipient replied with an outcome or answer (not a withdrawal).
    pub fn replied_at(&self) -> Option<OffsetDateTime> {
        self.closure
            .filter(|c| c.kind != ClosureKind::Withdrawn)
            .map(|c| c.at)
    }

    /// When the originator withdrew the item.
    pub fn withdrawn_at(&self) -> Option<OffsetDateTime> {
        self.closure
            .filter(|c| c.kind == ClosureKind::Withdrawn)
            .map(|c| c.at)
    }
}

/// A simulation of two nodes taking steps on one item and sending them to each other, for the
/// state machines' property tests: each node takes its own steps by the rules for steps taken
/// here and applies the other's by the received rules, in any interleaving of local steps and
/// deliveries (each direction in order, as the exchange's streams are).
#[cfg(test)]
pub(crate) mod crossing {
    use std::collections::VecDeque;
    use std::fmt::Debug;

    use proptest::test_runner::TestCaseError;
    use time::{Duration, OffsetDateTime};

    use super::{ClosureKind, Entry, Origin, Parties, StepError, Timeline};
    use crate::party::PartyCode;

    /// One item kind's state machine.
    pub(crate) trait Machine {
        type State: Clone + PartialEq + Debug;
        type Step: Clone + PartialEq + Debug;
        fn start() -> Self::State;
        fn apply(
            state: &Self::State,
            step: &Self::Step,
            by: PartyCode,
            parties: Parties,
            origin: Origin,
        ) -> Result<Self::State, StepError>;
        fn acknowledges(step: &Self::Step) -> bool;
        fn closure(state: &Self::State) -> Option<ClosureKind>;
    }

    /// Whether the kinds of step accepted so far (`done`) could have been accepted under
    /// `origin`'s rules, given every prefix of the strict order (`legal`, withdrawals included):
    /// taken here, `done` is one of them; received, the recipient's own steps are one of them and
    /// the withdrawal came at most once, anywhere among them.
    pub(crate) fn legal<K: Copy + PartialEq>(
        done: &[K],
        legal: &[&[K]],
        withdraw: K,
        origin: Origin,
    ) -> bool {
        match origin {
            Origin::Here => legal.contains(&done),
            Origin::Received => {
                let recipient: Vec<K> = done.iter().copied().filter(|k| *k != withdraw).collect();
                legal.iter().any(|l| recipient == *l)
                    && done.iter().filter(|k| **k == withdraw).count() <= 1
            }
        }
    }

    /// One party's node: its state and timeline, and the entries it stored in order.
    pub(crate) struct Node<M: Machine> {
        pub trail: (M::State, Timeline),
        pub entries: Vec<Entry<M::Step>>,
    }

    impl<M: Machine> Node<M> {
        fn new(sent: OffsetDateTime) -> Self {
            Node {
                trail: (M::start(), Timeline::new(sent)),
                entries: vec![],
            }
        }

        fn step(
            &mut self,
            e: &Entry<M::Step>,
            parties: Parties,
            origin: Origin,
        ) -> Result<(), StepError> {
            let next = M::apply(&self.trail.0, &e.step, e.by, parties, origin)?;
            self.trail
                .1
                .record(e.at, M::acknowledges(&e.step), M::closure(&next));
            self.trail.0 = next;
            self.entries.push(e.clone());
            Ok(())
        }
    }

    /// Runs `plan` (0: the originator tries to withdraw; 1: the recipient tries its next step;
    /// 2, 3: one message is delivered to the originator, to the recipient), then delivers what
    /// is left. A delivered step that is refused fails the test. Returns [originator, recipient].
    pub(crate) fn simulate<M: Machine>(
        parties: Parties,
        sent: OffsetDateTime,
        plan: &[u8],
        withdraw: &M::Step,
        recipient_steps: &[M::Step],
    ) -> Result<[Node<M>; 2], TestCaseError> {
        let mut nodes = [Node::<M>::new(sent), Node::<M>::new(sent)];
        let mut wire: [VecDeque<Entry<M::Step>>; 2] = Default::default();
        let mut next = 0;
        let mut withdrawn = false;
        let refused =
            |e: StepError| TestCaseError::fail(format!("a delivered step was refused: {e}"));
        for (minute, action) in (1i64..).zip(plan) {
            let at = sent + Duration::minutes(minute);
            let (who, by, step) = match action {
                0 if !withdrawn => (0, parties.originator(), withdraw),
                1 if next < recipient_steps.len() => {
                    (1, parties.recipient(), &recipient_steps[next])
                }
                2 | 3 => {
                    let to = usize::from(action - 2);
                    if let Some(e) = wire[to].pop_front() {
                        nodes[to]
                            .step(&e, parties, Origin::Received)
                            .map_err(refused)?;
                    }
                    continue;
                }
                _ => continue,
            };
            let e = Entry {
                step: step.clone(),
                by,
                at,
            };
            // A step this node's user may not take now is simply not taken.
            if nodes[who].step(&e, parties, Origin::Here).is_ok() {
                if who == 0 {
                    withdrawn = true;
                } else {
                    next += 1;
                }
                wire[1 - who].push_back(e);
            }
        }
        for (to, queue) in wire.iter_mut().enumerate() {
            while let Some(e) = queue.pop_front() {
                nodes[to]
                    .step(&e, parties, Origin::Received)
                    .map_err(refused)?;
            }
        }
        Ok(nodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn parties_are_distinct() {
        assert!(Parties::new("/to", PartyCode::US, PartyCode::MX).is_ok());
        let err = Parties::new("/to", PartyCode::MX, PartyCode::MX).unwrap_err();
        assert_eq!(err.0[0].pointer, "/to");
    }

    #[test]
    fn an_answer_counts_as_receipt_but_a_withdrawal_does_not() {
        let t0 = datetime!(2025-09-03 12:00 UTC);
        let t1 = datetime!(2025-09-03 12:10 UTC);
        let mut t = Timeline::new(t0);
        assert_eq!(t.receipt_at(), None);
        t.closure = Some(Closure {
            at: t1,
            kind: ClosureKind::Withdrawn,
        });
        assert_eq!((t.receipt_at(), t.withdrawn_at()), (None, Some(t1)));
        t.closure = Some(Closure {
            at: t1,
            kind: ClosureKind::Found,
        });
        assert_eq!(t.receipt_at(), Some(t1));
        t.acknowledged_at = Some(t0);
        assert_eq!(t.receipt_at(), Some(t0));
    }

    #[test]
    fn tagged_text_is_checked_as_text() {
        let bad = TaggedText {
            lang: Lang::Es,
            text: " ".into(),
        };
        assert_eq!(
            bad.check("/reason", 10).unwrap_err().0[0].pointer,
            "/reason"
        );
        let ok = TaggedText {
            lang: Lang::Es,
            text: " sí ".into(),
        };
        assert_eq!(ok.check("/reason", 10).unwrap().text, "sí");
    }
}
