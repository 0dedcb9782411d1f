//! The life cycle of exchanged items as the store records them: an item's stored steps are read
//! back and replayed through the domain's state machines (referrals, requests for information),
//! so that both nodes derive the same state from the same signed steps, and a new step is
//! decided against that state inside the store's transaction.

use puente_domain::referral_state::{self, ReferralState, ReferralStep};
use puente_domain::request::{self, RequestState, RequestStep};
use puente_domain::{Entry, Origin, Parties, StepError, Timeline};
use puente_store::{ExchangeItem, ItemKind, ItemState, ItemStep, StepRefused};
use time::OffsetDateTime;

use crate::wire::{self, MessageKind};

/// A step on either kind of item.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyStep {
    Referral(ReferralStep),
    Request(RequestStep),
}

impl AnyStep {
    pub fn item_kind(&self) -> ItemKind {
        match self {
            AnyStep::Referral(_) => ItemKind::Referral,
            AnyStep::Request(_) => ItemKind::Request,
        }
    }
}

/// Where an item stands, with the instants its clocks read.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyState {
    Referral(ReferralState),
    Request(RequestState),
}

impl AnyState {
    pub fn as_str(&self) -> &'static str {
        match self {
            AnyState::Referral(s) => s.as_str(),
            AnyState::Request(s) => s.as_str(),
        }
    }
}

/// An item's state and timeline, replayed from its steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Trail {
    pub state: AnyState,
    pub timeline: Timeline,
}

/// Reads a stored step back from its message type and exact body.
pub fn stored_step(kind: ItemKind, step: &ItemStep) -> Result<AnyStep, StepRefused> {
    let corrupt = |detail: String| StepRefused {
        code: "corrupt",
        detail,
    };
    let message = MessageKind::parse(&step.step)
        .map_err(|_| corrupt(format!("stored step type {:?} is unknown", step.step)))?;
    let body = wire::parse_body(step.body.as_bytes())
        .map_err(|e| corrupt(format!("stored step body does not parse: {e}")))?;
    let read = match kind {
        ItemKind::Referral => {
            wire::read_referral_step(message, &body).map(|(_, s)| AnyStep::Referral(s))
        }
        ItemKind::Request => {
            wire::read_request_step(message, &body).map(|(_, s)| AnyStep::Request(s))
        }
    };
    read.map_err(|e| corrupt(format!("stored step does not read back: {e:?}")))
}

fn parties(item: &ExchangeItem) -> Result<Parties, StepRefused> {
    Parties::new("/to", item.originator, item.recipient).map_err(|_| StepRefused {
        code: "corrupt",
        detail: "an item's originator and recipient are the same party".to_owned(),
    })
}

/// Replays an item's stored steps into its current state.
pub fn trail(item: &ExchangeItem) -> Result<Trail, StepRefused> {
    let parties = parties(item)?;
    let replay_error = |e: puente_domain::Rejected| StepRefused {
        code: "corrupt",
        detail: format!("stored step {} is refused on replay: {}", e.index, e.error),
    };
    match item.kind {
        ItemKind::Referral => {
            let mut entries = Vec::with_capacity(item.steps.len());
            for s in &item.steps {
                if let AnyStep::Referral(step) = stored_step(item.kind, s)? {
                    entries.push(Entry {
                        step,
                        by: s.by,
                        at: s.at,
                    });
                }
            }
            let t =
                referral_state::replay(parties, item.sent_at, &entries).map_err(replay_error)?;
            Ok(Trail {
                state: AnyState::Referral(t.state),
                timeline: t.timeline,
            })
        }
        ItemKind::Request => {
            let mut entries = Vec::with_capacity(item.steps.len());
            for s in &item.steps {
                if let AnyStep::Request(step) = stored_step(item.kind, s)? {
                    entries.push(Entry {
                        step,
                        by: s.by,
                        at: s.at,
                    });
                }
            }
            let t = request::replay(parties, item.sent_at, &entries).map_err(replay_error)?;
            Ok(Trail {
                state: AnyState::Request(t.state),
                timeline: t.timeline,
            })
        }
    }
}

/// The stored state of `item` once `by` takes `step` at `at`, or why the step is refused. A
/// step taken on this node is held to the state its user sees; a step received from the peer
/// may have crossed one of ours (see [`Origin`]).
pub fn next_state(
    item: &ExchangeItem,
    step: &AnyStep,
    by: puente_domain::PartyCode,
    at: OffsetDateTime,
    origin: Origin,
) -> Result<ItemState, StepRefused> {
    let parties = parties(item)?;
    let current = trail(item)?;
    let mut timeline = current.timeline;
    let state = match (&current.state, step) {
        (AnyState::Referral(s), AnyStep::Referral(step)) => {
            let next = referral_state::apply(s, step, by, parties, origin).map_err(refused)?;
            timeline.record(at, *step == ReferralStep::Acknowledge, next.closure_kind());
            AnyState::Referral(next)
        }
        (AnyState::Request(s), AnyStep::Request(step)) => {
            let next = request::apply(s, step, by, parties, origin).map_err(refused)?;
            timeline.record(at, *step == RequestStep::Acknowledge, next.closure_kind());
            AnyState::Request(next)
        }
        _ => {
            return Err(StepRefused {
                code: "wrong-kind",
                detail: format!(
                    "a {} step cannot apply to a {}",
                    step.item_kind().as_str(),
                    item.kind.as_str()
                ),
            });
        }
    };
    Ok(stored_state(&Trail { state, timeline }))
}

/// The columns the store keeps of a trail.
pub fn stored_state(trail: &Trail) -> ItemState {
    let agency = match &trail.state {
        AnyState::Referral(ReferralState::Assigned { agency }) => Some(agency.clone()),
        AnyState::Referral(ReferralState::Closed { agency, .. })
        | AnyState::Referral(ReferralState::Withdrawn { agency, .. }) => agency.clone(),
        _ => None,
    };
    ItemState {
        state: trail.state.as_str().to_owned(),
        agency,
        acknowledged_at: trail.timeline.acknowledged_at,
        closed_at: trail.timeline.closure.map(|c| c.at),
        closure: trail.timeline.closure.map(|c| c.kind.as_str().to_owned()),
    }
}

fn refused(e: StepError) -> StepRefused {
    StepRefused {
        code: e.code(),
        detail: e.to_string(),
    }
}
