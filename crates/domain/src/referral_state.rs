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
//! - **Crossings.** The two parties' nodes take steps independently, so a withdrawal and the
//!   recipient's steps can cross on the way. A step received from the other party
//!   ([`Origin::Received`]) is therefore applied even when a step of ours it could not have seen
//!   came first: an acknowledgement or assignment that crossed a withdrawal is recorded in the
//!   withdrawn state (the recipient knows whom to stand down), and an outcome that crossed a
//!   withdrawal **stands**: the referral is closed with it, marked `withdrawal_crossed`, because
//!   what an agency did on the ground is a fact the originator's second thoughts do not undo.
//!   Either order of arrival gives the same state and timeline on both nodes. Steps taken here
//!   ([`Origin::Here`]) are held to the diagram.
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
    ClosureKind, Entry, MAX_REASON, Origin, Parties, Rejected, StepError, TaggedText, Timeline,
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
        /// The originator withdrew it while this outcome was on its way; the outcome stands.
        withdrawal_crossed: bool,
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
            ReferralStep::Withdraw { .. } => matches!(
                self,
                S::Withdrawn { .. }
                    | S::Closed {
                        withdrawal_crossed: true,
                        ..
                    }
            ),
        }
    }
}

fn invalid(r: Result<String, Invalid>) -> Result<String, StepError> {
    r.map_err(StepError::Invalid)
}

/// The state after `by` takes `step` on a referral in `state`, or why the step is refused (see
/// the module rules; `origin` says whether a crossing is possible).
pub fn apply(
    state: &ReferralState,
    step: &ReferralStep,
    by: PartyCode,
    parties: Parties,
    origin: Origin,
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
    let crossing = origin == Origin::Received;
    match (state, step) {
        (S::Sent, T::Acknowledge) => Ok(S::Acknowledged),
        (S::Acknowledged, T::Assign { agency }) => Ok(S::Assigned {
            agency: invalid(check_text("/agency", agency, MAX_AGENCY))?,
        }),
        (S::Acknowledged, T::ReportOutcome(o)) => Ok(S::Closed {
            agency: None,
            outcome: outcome(o)?,
            withdrawal_crossed: false,
        }),
        (S::Assigned { agency }, T::ReportOutcome(o)) => Ok(S::Closed {
            agency: Some(agency.clone()),
            outcome: outcome(o)?,
            withdrawal_crossed: false,
        }),
        (S::Sent, T::Withdraw { reason }) => withdrawn(false, None, reason),
        (S::Acknowledged, T::Withdraw { reason }) => withdrawn(true, None, reason),
        (S::Assigned { agency }, T::Withdraw { reason }) => withdrawn(true, Some(agency), reason),
        // Crossings: the recipient's steps that crossed our withdrawal, and our withdrawal that
        // crossed its outcome.
        (
            S::Withdrawn {
                acknowledged: false,
                agency: None,
                reason,
            },
            T::Acknowledge,
        ) if crossing => Ok(S::Withdrawn {
            acknowledged: true,
            agency: None,
            reason: reason.clone(),
        }),
        (
            S::Withdrawn {
                acknowledged: true,
                agency: None,
                reason,
            },
            T::Assign { agency },
        ) if crossing => Ok(S::Withdrawn {
            acknowledged: true,
            agency: Some(invalid(check_text("/agency", agency, MAX_AGENCY))?),
            reason: reason.clone(),
        }),
        (
            S::Withdrawn {
                acknowledged: true,
                agency,
                ..
            },
            T::ReportOutcome(o),
        ) if crossing => Ok(S::Closed {
            agency: agency.clone(),
            outcome: outcome(o)?,
            withdrawal_crossed: true,
        }),
        (
            S::Closed {
                agency,
                outcome,
                withdrawal_crossed: false,
            },
            T::Withdraw { reason },
        ) if crossing => {
            // Checked although it changes nothing: a step is stored only if it is valid.
            reason
                .clone()
                .check("/reason", MAX_REASON)
                .map_err(StepError::Invalid)?;
            Ok(S::Closed {
                agency: agency.clone(),
                outcome: outcome.clone(),
                withdrawal_crossed: true,
            })
        }
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

/// Folds a referral's recorded steps, oldest first, into its current state by the received
/// rules (a stored trail holds crossings); the first refused entry is returned with its index.
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
        trail.state = apply(&trail.state, &e.step, e.by, parties, Origin::Received)
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
    use crate::trail::Origin::{Here, Received};
    use crate::trail::crossing::{self, Machine};
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
                outcome: seizure(),
                withdrawal_crossed: false,
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
        let s = apply(
            &ReferralState::Acknowledged,
            &declined,
            RECIP,
            parties(),
            Here,
        )
        .unwrap();
        assert_eq!(s.closure_kind(), Some(ClosureKind::Declined));
        assert_eq!(
            apply(&ReferralState::Sent, &declined, RECIP, parties(), Here),
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
            apply(
                &ReferralState::Sent,
                &ReferralStep::Acknowledge,
                ORIG,
                p,
                Here
            ),
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
                p,
                Here,
            ),
            Err(StepError::WrongParty { .. })
        ));
        assert!(matches!(
            apply(
                &ReferralState::Sent,
                &ReferralStep::Acknowledge,
                third(),
                p,
                Here
            ),
            Err(StepError::WrongParty { .. })
        ));
        assert_eq!(
            apply(&assigned, &ReferralStep::Acknowledge, RECIP, p, Here),
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
                p,
                Here,
            ),
            Err(StepError::AlreadyDone { step: "assign" })
        );
        let bad = apply(
            &ReferralState::Acknowledged,
            &ReferralStep::Assign { agency: " ".into() },
            RECIP,
            p,
            Here,
        );
        assert!(matches!(bad, Err(StepError::Invalid(ref i)) if i.0[0].pointer == "/agency"));
        let empty = ReferralStep::ReportOutcome(Outcome::Acted { results: vec![] });
        let bad = apply(&assigned, &empty, RECIP, p, Here);
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
        let bad = apply(&assigned, &neg, RECIP, p, Here);
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
            Here,
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
            apply(
                &w,
                &ReferralStep::ReportOutcome(Outcome::NoTrace),
                RECIP,
                p,
                Here
            ),
            Err(StepError::OutOfOrder {
                state: "withdrawn",
                step: "report-outcome"
            })
        );
    }

    struct Referrals;

    impl Machine for Referrals {
        type State = ReferralState;
        type Step = ReferralStep;
        fn start() -> ReferralState {
            ReferralState::Sent
        }
        fn apply(
            s: &ReferralState,
            t: &ReferralStep,
            by: PartyCode,
            p: Parties,
            o: Origin,
        ) -> Result<ReferralState, StepError> {
            apply(s, t, by, p, o)
        }
        fn acknowledges(t: &ReferralStep) -> bool {
            *t == ReferralStep::Acknowledge
        }
        fn closure(s: &ReferralState) -> Option<ClosureKind> {
            s.closure_kind()
        }
    }

    #[test]
    fn an_outcome_that_crossed_a_withdrawal_stands_in_either_order() {
        let outcome = entry(ReferralStep::ReportOutcome(seizure()), RECIP, 30);
        let withdraw = entry(
            ReferralStep::Withdraw {
                reason: reason("Información errónea"),
            },
            ORIG,
            31,
        );
        let ack = entry(ReferralStep::Acknowledge, RECIP, 10);
        let sent = datetime!(2025-09-03 12:00 UTC);
        let at_us = replay(
            parties(),
            sent,
            &[ack.clone(), withdraw.clone(), outcome.clone()],
        );
        let at_mx = replay(parties(), sent, &[ack, outcome.clone(), withdraw.clone()]);
        assert_eq!(at_us, at_mx);
        let t = at_us.unwrap();
        assert_eq!(
            t.state,
            ReferralState::Closed {
                agency: None,
                outcome: seizure(),
                withdrawal_crossed: true
            }
        );
        assert_eq!(t.timeline.closure.map(|c| c.at), Some(outcome.at));
        // Taken here, against a state that shows the other step, each is refused.
        let withdrawn = apply(&t.state, &withdraw.step, ORIG, parties(), Received);
        assert_eq!(withdrawn, Err(StepError::AlreadyDone { step: "withdraw" }));
        let closed = ReferralState::Closed {
            agency: None,
            outcome: seizure(),
            withdrawal_crossed: false,
        };
        assert!(matches!(
            apply(&closed, &withdraw.step, ORIG, parties(), Here),
            Err(StepError::OutOfOrder { .. })
        ));
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

    /// The rules, stated over the kinds of the steps accepted so far. Received steps may cross
    /// a withdrawal: the recipient's own steps keep their order, and the withdrawal may come
    /// anywhere among them, once.
    fn model(
        done: &[K],
        next: K,
        by: PartyCode,
        valid: bool,
        origin: Origin,
    ) -> Result<(), &'static str> {
        let right = if next == K::Withdraw { ORIG } else { RECIP };
        let recipient: Vec<K> = match origin {
            Here => done.to_vec(),
            Received => done.iter().copied().filter(|k| *k != K::Withdraw).collect(),
        };
        let withdrawn = origin == Here && done.contains(&K::Withdraw);
        let legal = match next {
            K::Ack => recipient.is_empty(),
            K::Assign => recipient == [K::Ack],
            K::Outcome => recipient == [K::Ack] || recipient == [K::Ack, K::Assign],
            K::Withdraw => match origin {
                Here => done.is_empty() || done == [K::Ack] || done == [K::Ack, K::Assign],
                Received => !done.contains(&K::Withdraw),
            },
        } && !withdrawn;
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
        /// Applying steps one by one (a refused step changes nothing) agrees with the model,
        /// under either origin's rules: no step out of order, none twice, none by the wrong
        /// party, and what is accepted is legal.
        #[test]
        fn apply_agrees_with_the_rules(seq in steps(), received in any::<bool>()) {
            let origin = if received { Received } else { Here };
            let mut state = ReferralState::Sent;
            let mut done: Vec<K> = vec![];
            for (step, by, valid) in &seq {
                let want = model(&done, kind(step), *by, *valid, origin);
                match apply(&state, step, *by, parties(), origin) {
                    Ok(next) => {
                        prop_assert_eq!(want, Ok(()));
                        done.push(kind(step));
                        state = next;
                    }
                    Err(e) => prop_assert_eq!(want, Err(e.code())),
                }
                prop_assert!(crossing::legal(&done, &LEGAL, K::Withdraw, origin), "{:?}", done);
                prop_assert_eq!(
                    state.is_final(),
                    done.iter().any(|k| matches!(k, K::Outcome | K::Withdraw))
                );
            }
        }

        /// Replay (by the received rules) stops at the first refused entry, at its index, and
        /// otherwise ends where applying ended.
        #[test]
        fn replay_rejects_the_first_bad_entry(seq in steps()) {
            let entries: Vec<_> = seq.iter().enumerate()
                .map(|(i, (s, by, _))| entry(s.clone(), *by, i as i64))
                .collect();
            let mut state = ReferralState::Sent;
            let mut first_bad = None;
            for (i, (s, by, _)) in seq.iter().enumerate() {
                match apply(&state, s, *by, parties(), Received) {
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

        /// Two nodes, each taking its own steps by the rules for steps taken here and sending
        /// them to the other, which applies them by the received rules, in any interleaving of
        /// local steps and deliveries: no delivered step is ever refused, and once everything
        /// is delivered both nodes hold the same state and the same timeline.
        #[test]
        fn crossing_steps_converge(
            plan in proptest::collection::vec(0u8..4, 0..24),
            assign in any::<bool>(),
            which in 0u8..3,
        ) {
            let outcome = match which {
                0 => seizure(),
                1 => Outcome::NoTrace,
                _ => Outcome::Declined { reason: reason("Sin recursos") },
            };
            let mut recipient_steps = vec![ReferralStep::Acknowledge];
            if assign {
                recipient_steps.push(ReferralStep::Assign { agency: "SEMAR".into() });
            }
            recipient_steps.push(ReferralStep::ReportOutcome(outcome));
            let withdraw = ReferralStep::Withdraw { reason: reason("Información errónea") };
            let sent = datetime!(2025-09-03 12:00 UTC);
            let nodes = crossing::simulate::<Referrals>(parties(), sent, &plan, &withdraw, &recipient_steps)?;
            prop_assert_eq!(&nodes[0].trail, &nodes[1].trail);
            for node in &nodes {
                let t = replay(parties(), sent, &node.entries)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&(t.state, t.timeline), &node.trail);
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
