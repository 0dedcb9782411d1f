//! Requests for information: one party asks (a firearm trace by serial number, "is this person
//! known to you", a vehicle plate), the other answers. Same envelope, same trail, same clocks as a
//! referral.
//!
//! ```text
//! Asked ──acknowledge──▶ Acknowledged ──answer──▶ Answered
//!   │ └──────────────────answer─────────────────▶ Answered
//!   └──withdraw──▶ Withdrawn ◀──withdraw──┘
//! ```
//!
//! The rules:
//! - Acknowledging and answering are the **recipient's** steps; withdrawing is the
//!   **originator's**. No other party takes any step.
//! - Acknowledging is optional: an answer acknowledges by itself (a trace answered within
//!   minutes needs no separate receipt). Once answered, a late acknowledgement is out of order.
//! - The originator may withdraw until the answer arrives. Answered and withdrawn are final;
//!   each step happens at most once.
//! - **Crossings**, as for referrals: a step received from the other party is applied even when
//!   a step of ours it could not have seen came first. An acknowledgement that crossed a
//!   withdrawal is recorded in the withdrawn state; an answer that crossed a withdrawal
//!   **stands** (marked `withdrawal_crossed`): the other party did the work and the originator
//!   may still read it. Either order of arrival gives both nodes the same state and timeline.
//! - A refusal names a wrong party first, then a step already taken, then any other step out of
//!   order, and only then invalid content.

use time::OffsetDateTime;

use crate::entity::{Entity, EntityKind};
use crate::error::{Errors, FieldErrorCode, Invalid, check_text};
use crate::handling::Handling;
use crate::lang::Lang;
use crate::party::PartyCode;
use crate::referral::{Urgency, check_list};
use crate::token::tokens;
use crate::trail::{
    ClosureKind, Entry, MAX_REASON, Origin, Parties, Rejected, StepError, TaggedText, Timeline,
    opt_tagged,
};

pub const MAX_QUESTION: usize = 2000;
pub const MAX_ANSWER: usize = 10_000;
pub const MAX_ANSWER_ENTITIES: usize = 100;

tokens! {
    /// What is asked.
    pub enum RequestKind: "request kind" {
        /// Trace a firearm by its serial number: the subject is a firearm with a serial.
        FirearmTrace = "firearm-trace",
        /// "Is this person known to you": the subject is a person.
        PersonCheck = "person-check",
        /// Who holds this plate: the subject is a vehicle with a plate.
        VehiclePlate = "vehicle-plate",
        /// Anything else: the subject is any entity.
        Other = "other",
    }
}

/// A request for information as composed, before checking.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestInput {
    pub kind: RequestKind,
    pub urgency: Urgency,
    /// The language of `question`.
    pub lang: Lang,
    pub question: String,
    pub subject: Entity,
    pub handling: Handling,
}

/// A checked request for information. Only [`InformationRequestDraft::new`] makes one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InformationRequestDraft {
    pub kind: RequestKind,
    pub urgency: Urgency,
    pub lang: Lang,
    pub question: String,
    pub subject: Entity,
    pub handling: Handling,
}

/// Whether `subject` is what `kind` asks about; the error names the field that does not fit.
fn fits(kind: RequestKind, subject: &Entity) -> Option<(String, FieldErrorCode)> {
    let wrong = |expected| {
        Some((
            "/subject".to_owned(),
            FieldErrorCode::WrongType { expected },
        ))
    };
    let missing = |f: &str| Some((format!("/subject/{f}"), FieldErrorCode::Missing));
    match (kind, subject) {
        (RequestKind::FirearmTrace, Entity::Firearm(f)) if f.serial.is_none() => missing("serial"),
        (RequestKind::FirearmTrace, Entity::Firearm(_)) => None,
        (RequestKind::FirearmTrace, _) => wrong("firearm"),
        (RequestKind::VehiclePlate, Entity::Vehicle(v)) if v.plate.is_none() => missing("plate"),
        (RequestKind::VehiclePlate, Entity::Vehicle(_)) => None,
        (RequestKind::VehiclePlate, _) => wrong("vehicle"),
        (RequestKind::PersonCheck, Entity::Person(_)) => None,
        (RequestKind::PersonCheck, _) => wrong("person"),
        (RequestKind::Other, _) => None,
    }
}

impl InformationRequestDraft {
    /// Checks every field: `/question`, the subject (`/subject/serial`, …) and whether it fits
    /// the kind, `/handling/…`.
    pub fn new(input: RequestInput) -> Result<InformationRequestDraft, Invalid> {
        let mut errors = Errors::new();
        let question = errors.take(check_text("/question", &input.question, MAX_QUESTION));
        let misfit = fits(input.kind, &input.subject);
        let subject = match input.subject.check("/subject") {
            Ok(s) => Some(s),
            Err(Invalid(es)) => {
                for e in es {
                    // A missing serial or plate already says why the subject is incomplete.
                    if !(misfit.is_some() && e.code == FieldErrorCode::Incomplete) {
                        errors.push(e.pointer, e.code);
                    }
                }
                None
            }
        };
        if let Some((pointer, code)) = misfit {
            errors.push(pointer, code);
        }
        let handling = errors.take(input.handling.check("/handling"));
        errors.finish()?;
        match (question, subject, handling) {
            (Some(question), Some(subject), Some(handling)) => Ok(InformationRequestDraft {
                kind: input.kind,
                urgency: input.urgency,
                lang: input.lang,
                question,
                subject,
                handling,
            }),
            // Unreachable: a missing value recorded an error above.
            _ => Err(Invalid::one("/", FieldErrorCode::Missing)),
        }
    }

    /// The kind of the subject.
    pub fn subject_kind(&self) -> EntityKind {
        self.subject.kind()
    }
}

/// The recipient's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Known: what is known, with any related entities (the first retail purchaser of a traced
    /// firearm, the registered keeper of a vehicle).
    Found {
        text: TaggedText,
        entities: Vec<Entity>,
    },
    /// Not known, with an optional note.
    NotFound { text: Option<TaggedText> },
    /// It will not answer, and says why.
    Declined { reason: TaggedText },
}

impl Answer {
    /// Validates the answer at `pointer`: `{pointer}/text`, `{pointer}/entities/0/…`,
    /// `{pointer}/reason`.
    pub fn check(self, pointer: &str) -> Result<Answer, Invalid> {
        let mut errors = Errors::new();
        let checked = match self {
            Answer::Found { text, entities } => {
                let text = errors.take(text.check(&format!("{pointer}/text"), MAX_ANSWER));
                let entities = check_list(
                    &mut errors,
                    &format!("{pointer}/entities"),
                    entities,
                    MAX_ANSWER_ENTITIES,
                    Entity::check,
                );
                text.map(|text| Answer::Found { text, entities })
            }
            Answer::NotFound { text } => Some(Answer::NotFound {
                text: opt_tagged(&mut errors, &format!("{pointer}/text"), text, MAX_ANSWER),
            }),
            Answer::Declined { reason } => errors
                .take(reason.check(&format!("{pointer}/reason"), MAX_REASON))
                .map(|reason| Answer::Declined { reason }),
        };
        errors.finish()?;
        checked.ok_or_else(|| Invalid::one(pointer, FieldErrorCode::Missing))
    }

    pub fn closure_kind(&self) -> ClosureKind {
        match self {
            Answer::Found { .. } => ClosureKind::Found,
            Answer::NotFound { .. } => ClosureKind::NotFound,
            Answer::Declined { .. } => ClosureKind::Declined,
        }
    }
}

/// A step on a request. Error pointers are relative to the step: `/answer/…`, `/reason`.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestStep {
    Acknowledge,
    Answer(Answer),
    Withdraw { reason: TaggedText },
}

impl RequestStep {
    pub fn as_str(&self) -> &'static str {
        match self {
            RequestStep::Acknowledge => "acknowledge",
            RequestStep::Answer(_) => "answer",
            RequestStep::Withdraw { .. } => "withdraw",
        }
    }

    /// The party entitled to take this step.
    pub fn taken_by(&self, parties: Parties) -> PartyCode {
        match self {
            RequestStep::Withdraw { .. } => parties.originator(),
            _ => parties.recipient(),
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestState {
    Asked,
    Acknowledged,
    Answered {
        /// Whether a separate acknowledgement came first.
        acknowledged: bool,
        answer: Answer,
        /// The originator withdrew the request while this answer was on its way; it stands.
        withdrawal_crossed: bool,
    },
    Withdrawn {
        acknowledged: bool,
        reason: TaggedText,
    },
}

impl RequestState {
    pub fn as_str(&self) -> &'static str {
        match self {
            RequestState::Asked => "asked",
            RequestState::Acknowledged => "acknowledged",
            RequestState::Answered { .. } => "answered",
            RequestState::Withdrawn { .. } => "withdrawn",
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(
            self,
            RequestState::Answered { .. } | RequestState::Withdrawn { .. }
        )
    }

    pub fn closure_kind(&self) -> Option<ClosureKind> {
        match self {
            RequestState::Answered { answer, .. } => Some(answer.closure_kind()),
            RequestState::Withdrawn { .. } => Some(ClosureKind::Withdrawn),
            _ => None,
        }
    }

    /// Whether a step of `step`'s kind led to this state.
    fn has_done(&self, step: &RequestStep) -> bool {
        use RequestState as S;
        match step {
            RequestStep::Acknowledge => matches!(
                self,
                S::Acknowledged
                    | S::Answered {
                        acknowledged: true,
                        ..
                    }
                    | S::Withdrawn {
                        acknowledged: true,
                        ..
                    }
            ),
            RequestStep::Answer(_) => matches!(self, S::Answered { .. }),
            RequestStep::Withdraw { .. } => matches!(
                self,
                S::Withdrawn { .. }
                    | S::Answered {
                        withdrawal_crossed: true,
                        ..
                    }
            ),
        }
    }
}

/// The state after `by` takes `step` on a request in `state`, or why the step is refused (see
/// the module rules; `origin` says whether a crossing is possible).
pub fn apply(
    state: &RequestState,
    step: &RequestStep,
    by: PartyCode,
    parties: Parties,
    origin: Origin,
) -> Result<RequestState, StepError> {
    use RequestState as S;
    use RequestStep as T;
    if by != step.taken_by(parties) {
        return Err(StepError::WrongParty {
            step: step.as_str(),
            by,
        });
    }
    let answered = |acknowledged, a: &Answer, withdrawal_crossed| {
        Ok(S::Answered {
            acknowledged,
            answer: a.clone().check("/answer").map_err(StepError::Invalid)?,
            withdrawal_crossed,
        })
    };
    let reason = |r: &TaggedText| {
        r.clone()
            .check("/reason", MAX_REASON)
            .map_err(StepError::Invalid)
    };
    let crossing = origin == Origin::Received;
    match (state, step) {
        (S::Asked, T::Acknowledge) => Ok(S::Acknowledged),
        (S::Asked, T::Answer(a)) => answered(false, a, false),
        (S::Acknowledged, T::Answer(a)) => answered(true, a, false),
        (S::Asked, T::Withdraw { reason: r }) => Ok(S::Withdrawn {
            acknowledged: false,
            reason: reason(r)?,
        }),
        (S::Acknowledged, T::Withdraw { reason: r }) => Ok(S::Withdrawn {
            acknowledged: true,
            reason: reason(r)?,
        }),
        // Crossings: the recipient's steps that crossed our withdrawal, and our withdrawal that
        // crossed its answer.
        (
            S::Withdrawn {
                acknowledged: false,
                reason: r,
            },
            T::Acknowledge,
        ) if crossing => Ok(S::Withdrawn {
            acknowledged: true,
            reason: r.clone(),
        }),
        (S::Withdrawn { acknowledged, .. }, T::Answer(a)) if crossing => {
            answered(*acknowledged, a, true)
        }
        (
            S::Answered {
                acknowledged,
                answer,
                withdrawal_crossed: false,
            },
            T::Withdraw { reason: r },
        ) if crossing => {
            // Checked although it changes nothing: a step is stored only if it is valid.
            reason(r)?;
            Ok(S::Answered {
                acknowledged: *acknowledged,
                answer: answer.clone(),
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

/// A request's current state and the instants its clocks read.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTrail {
    pub state: RequestState,
    pub timeline: Timeline,
}

/// Folds a request's recorded steps, oldest first, into its current state by the received rules
/// (a stored trail holds crossings); the first refused entry is returned with its index.
pub fn replay(
    parties: Parties,
    sent_at: OffsetDateTime,
    entries: &[Entry<RequestStep>],
) -> Result<RequestTrail, Rejected> {
    let mut trail = RequestTrail {
        state: RequestState::Asked,
        timeline: Timeline::new(sent_at),
    };
    for (index, e) in entries.iter().enumerate() {
        trail.state = apply(&trail.state, &e.step, e.by, parties, Origin::Received)
            .map_err(|error| Rejected { index, error })?;
        trail.timeline.record(
            e.at,
            e.step == RequestStep::Acknowledge,
            trail.state.closure_kind(),
        );
    }
    Ok(trail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{Firearm, Person, Vehicle};
    use crate::handling::tests::handling;
    use crate::trail::Closure;
    use crate::trail::Origin::{Here, Received};
    use crate::trail::crossing::{self, Machine};
    use proptest::prelude::*;
    use time::Duration;
    use time::macros::datetime;

    const ORIG: PartyCode = PartyCode::MX;
    const RECIP: PartyCode = PartyCode::US;

    fn parties() -> Parties {
        Parties::new("/to", ORIG, RECIP).unwrap()
    }

    fn said(t: &str) -> TaggedText {
        TaggedText {
            lang: Lang::En,
            text: t.into(),
        }
    }

    fn trace(subject: Entity) -> RequestInput {
        RequestInput {
            kind: RequestKind::FirearmTrace,
            urgency: Urgency::Priority,
            lang: Lang::Es,
            question: "¿Origen de esta arma asegurada en Sonora?".into(),
            subject,
            handling: handling(),
        }
    }

    fn codes(r: Result<InformationRequestDraft, Invalid>) -> Vec<(String, &'static str)> {
        match r {
            Ok(_) => vec![],
            Err(e) => {
                e.0.into_iter()
                    .map(|f| (f.pointer, f.code.code()))
                    .collect()
            }
        }
    }

    #[test]
    fn the_subject_must_fit_the_kind() {
        let serial = Entity::Firearm(Firearm {
            serial: Some("FX-0001".into()),
            ..Firearm::default()
        });
        assert!(InformationRequestDraft::new(trace(serial)).is_ok());
        let no_serial = Entity::Firearm(Firearm {
            make: Some("Colt".into()),
            ..Firearm::default()
        });
        // The missing serial is the one error, not also "incomplete".
        assert_eq!(
            codes(InformationRequestDraft::new(trace(no_serial))),
            [("/subject/serial".into(), "missing")]
        );
        let person = Entity::Person(Person {
            name: "Ana (fictional)".into(),
            ..Person::default()
        });
        assert_eq!(
            codes(InformationRequestDraft::new(trace(person.clone()))),
            [("/subject".into(), "wrong-type")]
        );
        let check = RequestInput {
            kind: RequestKind::PersonCheck,
            ..trace(person.clone())
        };
        assert!(InformationRequestDraft::new(check).is_ok());
        let unplated = Entity::Vehicle(Vehicle {
            make: Some("Ford".into()),
            colour: Some("white".into()),
            ..Vehicle::default()
        });
        let plate = RequestInput {
            kind: RequestKind::VehiclePlate,
            ..trace(unplated.clone())
        };
        assert_eq!(
            codes(InformationRequestDraft::new(plate)),
            [("/subject/plate".into(), "missing")]
        );
        let other = RequestInput {
            kind: RequestKind::Other,
            ..trace(unplated)
        };
        assert!(InformationRequestDraft::new(other).is_ok());
        let bad = RequestInput {
            question: " ".into(),
            kind: RequestKind::PersonCheck,
            handling: Handling {
                retention_days: 0,
                ..handling()
            },
            ..trace(Entity::Person(Person::default()))
        };
        assert_eq!(
            codes(InformationRequestDraft::new(bad)),
            [
                ("/question".into(), "empty"),
                ("/subject/name".into(), "empty"),
                ("/handling/retention_days".into(), "out-of-range"),
            ]
        );
        for k in RequestKind::ALL {
            assert_eq!(k.as_str().parse::<RequestKind>(), Ok(*k));
        }
    }

    #[test]
    fn answers_are_checked_where_they_stand() {
        let p = parties();
        let found = RequestStep::Answer(Answer::Found {
            text: said(" Sold in Phoenix, AZ, 2024 (fictional) "),
            entities: vec![Entity::Person(Person::default())],
        });
        let err = apply(&RequestState::Asked, &found, RECIP, p, Here).unwrap_err();
        assert!(
            matches!(err, StepError::Invalid(ref i) if i.0[0].pointer == "/answer/entities/0/name")
        );
        let nf = RequestStep::Answer(Answer::NotFound { text: None });
        assert_eq!(
            apply(&RequestState::Asked, &nf, RECIP, p, Here),
            Ok(RequestState::Answered {
                acknowledged: false,
                answer: Answer::NotFound { text: None },
                withdrawal_crossed: false,
            })
        );
        let declined = RequestStep::Answer(Answer::Declined { reason: said("") });
        let err = apply(&RequestState::Acknowledged, &declined, RECIP, p, Here).unwrap_err();
        assert!(matches!(err, StepError::Invalid(ref i) if i.0[0].pointer == "/answer/reason"));
    }

    #[test]
    fn an_answer_without_acknowledgement_closes_and_acknowledges() {
        let sent = datetime!(2025-09-03 12:00 UTC);
        let at = sent + Duration::minutes(7);
        let t = replay(
            parties(),
            sent,
            &[Entry {
                step: RequestStep::Answer(Answer::NotFound { text: None }),
                by: RECIP,
                at,
            }],
        )
        .unwrap();
        assert_eq!(t.timeline.acknowledged_at, None);
        assert_eq!(t.timeline.receipt_at(), Some(at));
        assert_eq!(
            t.timeline.closure,
            Some(Closure {
                at,
                kind: ClosureKind::NotFound
            })
        );
        let late_ack = apply(
            &t.state,
            &RequestStep::Acknowledge,
            RECIP,
            parties(),
            Received,
        );
        assert_eq!(
            late_ack,
            Err(StepError::OutOfOrder {
                state: "answered",
                step: "acknowledge"
            })
        );
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum K {
        Ack,
        Answer,
        Withdraw,
    }

    const LEGAL: [&[K]; 6] = [
        &[],
        &[K::Ack],
        &[K::Answer],
        &[K::Ack, K::Answer],
        &[K::Withdraw],
        &[K::Ack, K::Withdraw],
    ];

    fn kind(s: &RequestStep) -> K {
        match s {
            RequestStep::Acknowledge => K::Ack,
            RequestStep::Answer(_) => K::Answer,
            RequestStep::Withdraw { .. } => K::Withdraw,
        }
    }

    /// The rules over the kinds of the steps accepted so far; received steps may cross a
    /// withdrawal (the recipient's steps keep their order, the withdrawal comes once, anywhere).
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
        let legal = match (next, origin) {
            (K::Ack, _) => recipient.is_empty(),
            (K::Answer, _) => recipient.is_empty() || recipient == [K::Ack],
            (K::Withdraw, Here) => done.is_empty() || done == [K::Ack],
            (K::Withdraw, Received) => !done.contains(&K::Withdraw),
        } && !(origin == Here && done.contains(&K::Withdraw));
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

    struct Requests;

    impl Machine for Requests {
        type State = RequestState;
        type Step = RequestStep;
        fn start() -> RequestState {
            RequestState::Asked
        }
        fn apply(
            s: &RequestState,
            t: &RequestStep,
            by: PartyCode,
            p: Parties,
            o: Origin,
        ) -> Result<RequestState, StepError> {
            apply(s, t, by, p, o)
        }
        fn acknowledges(t: &RequestStep) -> bool {
            *t == RequestStep::Acknowledge
        }
        fn closure(s: &RequestState) -> Option<ClosureKind> {
            s.closure_kind()
        }
    }

    fn steps() -> impl Strategy<Value = Vec<(RequestStep, PartyCode, bool)>> {
        let step = (0u8..6, 0u8..3, any::<bool>()).prop_map(|(k, who, valid)| {
            let text = if valid { "ok" } else { "\u{7}" };
            let step = match k {
                0 | 1 => RequestStep::Acknowledge,
                2 => RequestStep::Answer(Answer::Found {
                    text: said(text),
                    entities: vec![],
                }),
                3 => RequestStep::Answer(Answer::NotFound {
                    text: Some(said(text)),
                }),
                4 => RequestStep::Answer(Answer::Declined { reason: said(text) }),
                _ => RequestStep::Withdraw { reason: said(text) },
            };
            let valid = valid || step == RequestStep::Acknowledge;
            let by = [ORIG, RECIP, PartyCode::parse("JM").unwrap_or(ORIG)][who as usize];
            (step, by, valid)
        });
        proptest::collection::vec(step, 0..8)
    }

    proptest! {
        /// No answer out of order, none twice, none by the wrong party, under either origin's
        /// rules; what is accepted is legal, and replay (by the received rules) stops at the
        /// first refusal.
        #[test]
        fn apply_and_replay_agree_with_the_rules(seq in steps(), received in any::<bool>()) {
            let origin = if received { Received } else { Here };
            let mut state = RequestState::Asked;
            let mut done: Vec<K> = vec![];
            let mut first_bad = None;
            for (i, (step, by, valid)) in seq.iter().enumerate() {
                let want = model(&done, kind(step), *by, *valid, origin);
                match apply(&state, step, *by, parties(), origin) {
                    Ok(next) => {
                        prop_assert_eq!(want, Ok(()));
                        done.push(kind(step));
                        state = next;
                    }
                    Err(e) => {
                        prop_assert_eq!(want, Err(e.code()));
                        first_bad.get_or_insert(i);
                    }
                }
                prop_assert!(crossing::legal(&done, &LEGAL, K::Withdraw, origin), "{:?}", done);
                prop_assert_eq!(
                    state.is_final(),
                    done.iter().any(|k| matches!(k, K::Answer | K::Withdraw))
                );
            }
            if origin == Received {
                let entries: Vec<_> = seq.iter().enumerate()
                    .map(|(i, (step, by, _))| Entry {
                        step: step.clone(),
                        by: *by,
                        at: datetime!(2025-09-03 12:00 UTC) + Duration::minutes(i as i64),
                    })
                    .collect();
                match replay(parties(), datetime!(2025-09-03 12:00 UTC), &entries) {
                    Ok(t) => { prop_assert_eq!(first_bad, None); prop_assert_eq!(t.state, state); }
                    Err(r) => prop_assert_eq!(Some(r.index), first_bad),
                }
            }
        }

        /// Two nodes taking their own steps and applying each other's, in any interleaving:
        /// no delivered step is refused and both end with the same state and timeline.
        #[test]
        fn crossing_steps_converge(
            plan in proptest::collection::vec(0u8..4, 0..20),
            acknowledge in any::<bool>(),
            found in any::<bool>(),
        ) {
            let answer = if found {
                Answer::Found { text: said("Sold in Phoenix, AZ (fictional)"), entities: vec![] }
            } else {
                Answer::NotFound { text: None }
            };
            let mut recipient_steps = vec![];
            if acknowledge {
                recipient_steps.push(RequestStep::Acknowledge);
            }
            recipient_steps.push(RequestStep::Answer(answer));
            let withdraw = RequestStep::Withdraw { reason: said("Ya no es necesario") };
            let sent = datetime!(2025-09-03 12:00 UTC);
            let nodes = crossing::simulate::<Requests>(parties(), sent, &plan, &withdraw, &recipient_steps)?;
            prop_assert_eq!(&nodes[0].trail, &nodes[1].trail);
            for node in &nodes {
                let t = replay(parties(), sent, &node.entries)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&(t.state, t.timeline), &node.trail);
            }
        }
    }
}
