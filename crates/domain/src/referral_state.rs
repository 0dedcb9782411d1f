//! The life of a referral after it is sent, as a state machine over signed steps.
//!
//! ```text
//! Sent ──acknowledge──▶ Acknowledged ──assign──▶ Assigned ──report outcome──▶ Closed
//!   │                        │  └─────────────report outcome────────────────▶ Closed
//!   └────────withdraw────────┴──────────withdraw─────┴──▶ Withdrawn
//! ```
//!
//! The rules:
//! - Acknowledging, assigning and reporting the outcome are the **recipient's** steps;
//!   withdrawing is the **originator's**. No other party takes any step.
//! - An outcome needs an acknowledgement first: a party cannot report on what it never
//!   acknowledged receiving.
//! - Assigning to one of the recipient's agencies is optional: the liaison office may decline
//!   straight after acknowledging, or report an outcome itself. There is one assignment; the
//!   state machine has no reassignment.
//! - The originator may withdraw until an outcome is reported (the information proved wrong);
//!   the withdrawn state keeps whether it had been acknowledged and assigned, so the recipient
//!   knows whom to stand down.
//! - Closed and withdrawn are final. Each step happens at most once.
//!
//! A refusal names a wrong party first, then a step already taken, then any other step out of
//! order, and only then invalid content.

use time::OffsetDateTime;

use crate::commitment::{MAX_AGENCY, Output};
use crate::error::{Errors, FieldErrorCode, Invalid, check_text};
use crate::party::PartyCode;
use crate::referral::check_list;
use crate::token::tokens;
use crate::trail::{
    ClosureKind, Entry, MAX_REASON, Parties, Rejected, StepError, TaggedText, Timeline,
};

pub const MAX_RESULTS: usize = 50;

tokens! {
    /// What acting on a referral achieved.
    pub enum ResultKind: "result kind" {
        Seizure = "seizure",
        Arrest = "arrest",
        Interdiction = "interdiction",
    }
}

/// One result of acting on a referral, e.g. a seizure of 120 kg of fentanyl, an arrest of
/// 3 persons.
#[derive(Debug, Clone, PartialEq)]
pub struct ActedResult {
    pub kind: ResultKind,
    pub quantity: Output,
}

impl ActedResult {
    /// Validates the result at `pointer`; the quantity's fields sit beside `kind`
    /// (`{pointer}/value`, `/unit`, `/what`).
    pub fn check(self, pointer: &str) -> Result<ActedResult, Invalid> {
        let q = self.quantity;
        Ok(ActedResult {
            kind: self.kind,
            quantity: Output::new(pointer, q.value, &q.unit, &q.what)?,
        })
    }
}

/// What the recipient reports at the end.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It acted: at least one result.
    Acted { results: Vec<ActedResult> },
    /// It looked and found nothing.
    NoTrace,
    /// It will not act, and says why.
    Declined { reason: TaggedText },
}

impl Outcome {
    /// Validates the outcome at `pointer`: results non-empty and valid
    /// (`{pointer}/results/0/unit`), a reason as text (`{pointer}/reason`).
    pub fn check(self, pointer: &str) -> Result<Outcome, Invalid> {
        let mut errors = Errors::new();
        let checked = match self {
            Outcome::Acted { results } => {
                let p = format!("{pointer}/results");
                if results.is_empty() {
                    errors.push(p.as_str(), FieldErrorCode::Empty);
                }
                let results = check_list(&mut errors, &p, results, MAX_RESULTS, ActedResult::check);
                Outcome::Acted { results }
            }
            Outcome::NoTrace => Outcome::NoTrace,
            Outcome::Declined { reason } => {
                return reason
                    .check(&format!("{pointer}/reason"), MAX_REASON)
                    .map(|reason| Outcome::Declined { reason });
            }
        };
        errors.finish()?;
        Ok(checked)
    }

    pub fn closure_kind(&self) -> ClosureKind {
        match self {
            Outcome::Acted { .. } => ClosureKind::Acted,
            Outcome::NoTrace => ClosureKind::NoTrace,
            Outcome::Declined { .. } => ClosureKind::Declined,
        }
    }
}

/// A step on a referral. Content is checked when the step is applied; error pointers are relative
/// to the step: `/agency`, `/outcome/results/0/value`, `/outcome/reason`, `/reason`.
#[derive(Debug, Clone, PartialEq)]
pub enum ReferralStep {
    Acknowledge,
    /// Task one of the recipient's own agencies.
    Assign {
        agency: String,
    },
    ReportOutcome(Outcome),
    Withdraw {
        reason: TaggedText,
    },
}

impl ReferralStep {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReferralStep::Acknowledge => "acknowledge",
            ReferralStep::Assign { .. } => "assign",
            ReferralStep::ReportOutcome(_) => "report-outcome",
            ReferralStep::Withdraw { .. } => "withdraw",
        }
    }

    /// The party entitled to take this step.
    pub fn taken_by(&self, parties: Parties) -> PartyCode {
        match self {
            ReferralStep::Withdraw { .. } => parties.originator(),
            _ => parties.recipient(),
        }
    }
}

/// Where a referral stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ReferralState {
    Sent,
    Acknowledged,
    Assigned {
        agency: String,
    },
    Closed {
        /// The agency it had been assigned to, if any.
        agency: Option<String>,
        outcome: Outcome,
    },
    Withdrawn {
        acknowledged: bool,
        agency: Option<String>,
        reason: TaggedText,
    },
}

impl ReferralState {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReferralState::Sent => "sent",
            ReferralState::Acknowledged => "acknowledged",
            ReferralState::Assigned { .. } => "assigned",
            ReferralState::Closed { .. } => "closed",
            ReferralState::Withdrawn { .. } => "withdrawn",
        }
    }

    /// No step follows a closed or withdrawn referral.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ReferralState::Closed { .. } | ReferralState::Withdrawn { .. }
        )
    }

    pub fn closure_kind(&self) -> Option<ClosureKind> {
        match self {
            ReferralState::Closed { outcome, .. } => Some(outcome.closure_kind()),
            ReferralState::Withdrawn { .. } => Some(ClosureKind::Withdrawn),
            _ => None,
        }
    }

    /// Whether a step of `step`'s kind led to this state.
    fn has_done(&self, step: &ReferralStep) -> bool {
        use ReferralState as S;
        match step {
            ReferralStep::Acknowledge => !matches!(
                self,
                S::Sent
                    | S::Withdrawn {
                        acknowledged: false,
                        ..
                    }
            ),
            ReferralStep::Assign { .. } => matches!(
                self,
                S::Assigned { .. }
                    | S::Closed {
                        agency: Some(_),
                        ..
                    }
                    | S::Withdrawn {
                        agency: Some(_),
                        ..
                    }
            ),
            ReferralStep::ReportOutcome(_) => matches!(self, S::Closed { .. }),
            ReferralStep::Withdraw { .. } => matches!(self, S::Withdrawn { .. }),
        }
    }
}

fn invalid(r: Result<String, Invalid>) -> Result<String, StepError> {
    r.map_err(StepError::Invalid)
}

/// The state after `by` takes `step` on a referral in `state`, or why the step is refused (see
/// the module rules).
pub fn apply(
    state: &ReferralState,
    step: &ReferralStep,
    by: PartyCode,
    parties: Parties,
) -> Result<ReferralState, StepError> {
    use ReferralState as S;
    use ReferralStep as T;
    if by != step.taken_by(parties) {
        return Err(StepError::WrongParty {
            step: step.as_str(),
            by,
        });
    }
    let withdrawn = |acknowledged, agency: Option<&String>, reason: &TaggedText| {
        Ok(S::Withdrawn {
            acknowledged,
            agency: agency.cloned(),
            reason: reason
                .clone()
                .check("/reason", MAX_REASON)
                .map_err(StepError::Invalid)?,
        })
    };
    let outcome = |o: &Outcome| o.clone().check("/outcome").map_err(StepError::Invalid);
    match (state, step) {
        (S::Sent, T::Acknowledge) => Ok(S::Acknowledged),
        (S::Acknowledged, T::Assign { agency }) => Ok(S::Assigned {
            agency: invalid(check_text("/agency", agency, MAX_AGENCY))?,
        }),
        (S::Acknowledged, T::ReportOutcome(o)) => Ok(S::Closed {
            agency: None,
            outcome: outcome(o)?,
        }),
        (S::Assigned { agency }, T::ReportOutcome(o)) => Ok(S::Closed {
            agency: Some(agency.clone()),
            outcome: outcome(o)?,
        }),
        (S::Sent, T::Withdraw { reason }) => withdrawn(false, None, reason),
        (S::Acknowledged, T::Withdraw { reason }) => withdrawn(true, None, reason),
        (S::Assigned { agency }, T::Withdraw { reason }) => withdrawn(true, Some(agency), reason),
        _ if state.has_done(step) => Err(StepError::AlreadyDone {
            step: step.as_str(),
        }),
        _ => Err(StepError::OutOfOrder {
            state: state.as_str(),
            step: step.as_str(),
        }),
    }
}

/// A referral's current state and the instants its clocks read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferralTrail {
    pub state: ReferralState,
    pub timeline: Timeline,
}

/// Folds a referral's recorded steps, oldest first, into its current state; the first refused
/// entry is returned with its index.
pub fn replay(
    parties: Parties,
    sent_at: OffsetDateTime,
    entries: &[Entry<ReferralStep>],
) -> Result<ReferralTrail, Rejected> {
    let mut trail = ReferralTrail {
        state: ReferralState::Sent,
        timeline: Timeline::new(sent_at),
    };
    for (index, e) in entries.iter().enumerate() {
        trail.state = apply(&trail.state, &e.step, e.by, parties)
            .map_err(|error| Rejected { index, error })?;
        trail.timeline.record(
            e.at,
            e.step == ReferralStep::Acknowledge,
            trail.state.closure_kind(),
        );
    }
    Ok(trail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Lang;
    use crate::trail::Closure;
    use proptest::prelude::*;
    use time::Duration;
    use time::macros::datetime;

    const ORIG: PartyCode = PartyCode::US;
    const RECIP: PartyCode = PartyCode::MX;

    fn parties() -> Parties {
        Parties::new("/to", ORIG, RECIP).unwrap()
    }

    fn third() -> PartyCode {
        PartyCode::parse("GT").unwrap()
    }

    fn reason(t: &str) -> TaggedText {
        TaggedText {
            lang: Lang::Es,
            text: t.into(),
        }
    }

    fn seizure() -> Outcome {
        Outcome::Acted {
            results: vec![ActedResult {
                kind: ResultKind::Seizure,
                quantity: Output {
                    value: 12.0,
                    unit: "rifles".into(),
                    what: "AR-15 pattern".into(),
                },
            }],
        }
    }

    fn entry(step: ReferralStep, by: PartyCode, minutes: i64) -> Entry<ReferralStep> {
        Entry {
            step,
            by,
            at: datetime!(2025-09-03 12:00 UTC) + Duration::minutes(minutes),
        }
    }

    #[test]
    fn the_whole_path_with_its_timeline() {
        let sent = datetime!(2025-09-03 12:00 UTC);
        let t = replay(
            parties(),
            sent,
            &[
                entry(ReferralStep::Acknowledge, RECIP, 10),
                entry(
                    ReferralStep::Assign {
                        agency: " SEMAR ".into(),
                    },
                    RECIP,
                    30,
                ),
                entry(ReferralStep::ReportOutcome(seizure()), RECIP, 300),
            ],
        )
        .unwrap();
        assert_eq!(
            t.state,
            ReferralState::Closed {
                agency: Some("SEMAR".into()),
                outcome: seizure()
            }
        );
        assert_eq!(
            t.timeline.acknowledged_at,
            Some(sent + Duration::minutes(10))
        );
        assert_eq!(
            t.timeline.closure,
            Some(Closure {
                at: sent + Duration::minutes(300),
                kind: ClosureKind::Acted
            })
        );
    }

    #[test]
    fn decline_straight_after_acknowledging_but_never_before() {
        let declined = ReferralStep::ReportOutcome(Outcome::Declined {
            reason: reason("Fuera de nuestra jurisdicción"),
        });
        let s = apply(&ReferralState::Acknowledged, &declined, RECIP, parties()).unwrap();
        assert_eq!(s.closure_kind(), Some(ClosureKind::Declined));
        assert_eq!(
            apply(&ReferralState::Sent, &declined, RECIP, parties()),
            Err(StepError::OutOfOrder {
                state: "sent",
                step: "report-outcome"
            })
        );
    }

    #[test]
    fn refusals_name_party_then_repetition_then_order_then_content() {
        let p = parties();
        let assigned = ReferralState::Assigned {
            agency: "FGR".into(),
        };
        assert_eq!(
            apply(&ReferralState::Sent, &ReferralStep::Acknowledge, ORIG, p),
            Err(StepError::WrongParty {
                step: "acknowledge",
                by: ORIG
            })
        );
        assert!(matches!(
            apply(
                &ReferralState::Sent,
                &ReferralStep::Withdraw {
                    reason: reason("x")
                },
                RECIP,
                p
            ),
            Err(StepError::WrongParty { .. })
        ));
        assert!(matches!(
            apply(&ReferralState::Sent, &ReferralStep::Acknowledge, third(), p),
            Err(StepError::WrongParty { .. })
        ));
        assert_eq!(
            apply(&assigned, &ReferralStep::Acknowledge, RECIP, p),
            Err(StepError::AlreadyDone {
                step: "acknowledge"
            })
        );
        assert_eq!(
            apply(
                &assigned,
                &ReferralStep::Assign {
                    agency: "SEDENA".into()
                },
                RECIP,
                p
            ),
            Err(StepError::AlreadyDone { step: "assign" })
        );
        let bad = apply(
            &ReferralState::Acknowledged,
            &ReferralStep::Assign { agency: " ".into() },
            RECIP,
            p,
        );
        assert!(matches!(bad, Err(StepError::Invalid(ref i)) if i.0[0].pointer == "/agency"));
        let empty = ReferralStep::ReportOutcome(Outcome::Acted { results: vec![] });
        let bad = apply(&assigned, &empty, RECIP, p);
        assert!(
            matches!(bad, Err(StepError::Invalid(ref i)) if i.0[0].pointer == "/outcome/results")
        );
        let neg = ReferralStep::ReportOutcome(Outcome::Acted {
            results: vec![ActedResult {
                kind: ResultKind::Arrest,
                quantity: Output {
                    value: -1.0,
                    unit: "persons".into(),
                    what: "x".into(),
                },
            }],
        });
        let bad = apply(&assigned, &neg, RECIP, p);
        assert!(
            matches!(bad, Err(StepError::Invalid(ref i)) if i.0[0].pointer == "/outcome/results/0/value")
        );
        let w = apply(
            &assigned,
            &ReferralStep::Withdraw {
                reason: reason("Información errónea"),
            },
            ORIG,
            p,
        )
        .unwrap();
        assert_eq!(
            w,
            ReferralState::Withdrawn {
                acknowledged: true,
                agency: Some("FGR".into()),
                reason: reason("Información errónea")
            }
        );
        assert_eq!(
            apply(&w, &ReferralStep::ReportOutcome(Outcome::NoTrace), RECIP, p),
            Err(StepError::OutOfOrder {
                state: "withdrawn",
                step: "report-outcome"
            })
        );
    }

    /// The kinds of step, for the reference model.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum K {
        Ack,
        Assign,
        Outcome,
        Withdraw,
    }

    fn kind(s: &ReferralStep) -> K {
        match s {
            ReferralStep::Acknowledge => K::Ack,
            ReferralStep::Assign { .. } => K::Assign,
            ReferralStep::ReportOutcome(_) => K::Outcome,
            ReferralStep::Withdraw { .. } => K::Withdraw,
        }
    }

    /// The rules, stated over the kinds of the steps accepted so far.
    fn model(done: &[K], next: K, by: PartyCode, valid: bool) -> Result<(), &'static str> {
        let right = if next == K::Withdraw { ORIG } else { RECIP };
        let legal = match next {
            K::Ack => done.is_empty(),
            K::Assign => done == [K::Ack],
            K::Outcome => done == [K::Ack] || done == [K::Ack, K::Assign],
            K::Withdraw => done.is_empty() || done == [K::Ack] || done == [K::Ack, K::Assign],
        };
        if by != right {
            Err("wrong-party")
        } else if legal && valid {
            Ok(())
        } else if legal {
            Err("invalid")
        } else if done.contains(&next) {
            Err("already-done")
        } else {
            Err("out-of-order")
        }
    }

    /// Every prefix of the legal order, withdrawals included.
    const LEGAL: [&[K]; 8] = [
        &[],
        &[K::Ack],
        &[K::Ack, K::Assign],
        &[K::Ack, K::Outcome],
        &[K::Ack, K::Assign, K::Outcome],
        &[K::Withdraw],
        &[K::Ack, K::Withdraw],
        &[K::Ack, K::Assign, K::Withdraw],
    ];

    fn name(e: &StepError) -> &'static str {
        match e {
            StepError::WrongParty { .. } => "wrong-party",
            StepError::AlreadyDone { .. } => "already-done",
            StepError::OutOfOrder { .. } => "out-of-order",
            StepError::Invalid(_) => "invalid",
        }
    }

    /// A random step, valid or not, by a random one of three parties.
    fn steps() -> impl Strategy<Value = Vec<(ReferralStep, PartyCode, bool)>> {
        let step = (0u8..7, 0u8..3, any::<bool>()).prop_map(|(k, who, valid)| {
            let text = if valid { "ok" } else { " " };
            let step = match k {
                0 | 1 => ReferralStep::Acknowledge,
                2 => ReferralStep::Assign {
                    agency: text.into(),
                },
                3 => ReferralStep::ReportOutcome(if valid {
                    seizure()
                } else {
                    Outcome::Acted { results: vec![] }
                }),
                4 => ReferralStep::ReportOutcome(Outcome::Declined {
                    reason: reason(text),
                }),
                5 => ReferralStep::ReportOutcome(Outcome::NoTrace),
                _ => ReferralStep::Withdraw {
                    reason: reason(text),
                },
            };
            let valid = valid
                || matches!(
                    step,
                    ReferralStep::Acknowledge | ReferralStep::ReportOutcome(Outcome::NoTrace)
                );
            let by = [ORIG, RECIP, PartyCode::parse("GT").unwrap_or(ORIG)][who as usize];
            (step, by, valid)
        });
        proptest::collection::vec(step, 0..10)
    }

    proptest! {
        /// Applying steps one by one (a refused step changes nothing) agrees with the model: no
        /// step out of order, none twice, none by the wrong party, and what is accepted is a
        /// prefix of the legal order.
        #[test]
        fn apply_agrees_with_the_rules(seq in steps()) {
            let mut state = ReferralState::Sent;
            let mut done: Vec<K> = vec![];
            for (step, by, valid) in &seq {
                let want = model(&done, kind(step), *by, *valid);
                match apply(&state, step, *by, parties()) {
                    Ok(next) => {
                        prop_assert_eq!(want, Ok(()));
                        done.push(kind(step));
                        state = next;
                    }
                    Err(e) => prop_assert_eq!(want, Err(name(&e))),
                }
                prop_assert!(LEGAL.iter().any(|l| done == *l), "{:?}", done);
                prop_assert_eq!(state.is_final(), matches!(done.last(), Some(K::Outcome | K::Withdraw)));
            }
        }

        /// Replay stops at the first refused entry, at its index, and otherwise ends where
        /// applying ended.
        #[test]
        fn replay_rejects_the_first_bad_entry(seq in steps()) {
            let entries: Vec<_> = seq.iter().enumerate()
                .map(|(i, (s, by, _))| entry(s.clone(), *by, i as i64))
                .collect();
            let mut state = ReferralState::Sent;
            let mut first_bad = None;
            for (i, (s, by, _)) in seq.iter().enumerate() {
                match apply(&state, s, *by, parties()) {
                    Ok(next) => state = next,
                    Err(e) => { first_bad = Some((i, e)); break; }
                }
            }
            match (replay(parties(), datetime!(2025-09-03 12:00 UTC), &entries), first_bad) {
                (Ok(t), None) => prop_assert_eq!(t.state, state),
                (Err(r), Some((i, e))) => { prop_assert_eq!(r.index, i); prop_assert_eq!(r.error, e); }
                (got, want) => prop_assert!(false, "replay {:?}, expected {:?}", got, want),
            }
        }

        /// Every legal full sequence ends closed, with both instants on its timeline.
        #[test]
        fn a_full_legal_sequence_ends_closed(assign in any::<bool>(), which in 0u8..3) {
            let outcome = match which {
                0 => seizure(),
                1 => Outcome::NoTrace,
                _ => Outcome::Declined { reason: reason("Sin recursos disponibles") },
            };
            let mut entries = vec![entry(ReferralStep::Acknowledge, RECIP, 5)];
            if assign {
                entries.push(entry(ReferralStep::Assign { agency: "Guardia Nacional".into() }, RECIP, 20));
            }
            entries.push(entry(ReferralStep::ReportOutcome(outcome.clone()), RECIP, 60));
            let t = replay(parties(), datetime!(2025-09-03 12:00 UTC), &entries).unwrap();
            prop_assert!(matches!(t.state, ReferralState::Closed { .. }), "{:?}", t.state);
            prop_assert_eq!(t.state.closure_kind(), Some(outcome.closure_kind()));
            prop_assert!(t.timeline.acknowledged_at.is_some() && t.timeline.closure.is_some());
        }
    }
}
