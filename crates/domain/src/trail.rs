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

    /// Notes a step taken at `at`: an acknowledgement stamps `acknowledged_at`, and a step after
    /// which the item is closed (`closure`, from the new state) stamps how and when it closed.
    pub fn record(&mut self, at: OffsetDateTime, acknowledges: bool, closure: Option<ClosureKind>) {
        if acknowledges {
            self.acknowledged_at = Some(at);
        }
        if let Some(kind) = closure {
            self.closure = Some(Closure { at, kind });
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
