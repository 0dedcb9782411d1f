//! Pure domain of puente: parties, the joint program, commitments, actions, indicators, meetings,
//! and the rules that derive a commitment's status and build a meeting's agenda; and the
//! federation's vocabulary and rules: referrals and requests for information with their
//! entities, evaluation and handling, the state machines of their trails, response clocks and
//! reciprocity figures.
//!
//! **Architecture invariant:** this crate does no IO, reads no clock and draws no random numbers.
//! Callers pass `today`, `now` and ids in, so every rule here is a pure function tests control.
//! It has no serde either: wire formats belong to the web API and the exchange protocol.

pub mod agenda;
pub mod clocks;
pub mod commitment;
pub mod entity;
pub mod error;
pub mod evaluation;
pub mod handling;
pub mod indicator;
pub mod lang;
pub mod meeting;
pub mod party;
pub mod period;
pub mod program;
pub mod reciprocity;
pub mod record;
pub mod referral;
pub mod referral_state;
pub mod request;
pub mod role;
pub mod status;
pub mod token;
pub mod trail;

pub use agenda::{AgendaItem, AgendaReason, AgendaSubject, build_agenda};
pub use clocks::{ClockPolicy, ClockState, Clocks, ResponseTimes, clocks};
pub use commitment::{Action, ActionDraft, Commitment, CommitmentDraft, Output, Owners};
pub use entity::{
    Account, Entity, EntityKind, Firearm, Identifier, Location, Organization, Person, Vehicle,
    Vessel,
};
pub use error::{FieldError, FieldErrorCode, Invalid};
pub use evaluation::{Evaluation, InfoCredibility, SourceReliability};
pub use handling::{Handling, Tlp};
pub use indicator::{Direction, Indicator, IndicatorDraft, Measurement, MeasurementDraft, Target};
pub use lang::{Lang, LocalizedText};
pub use meeting::{FollowUp, Meeting, MeetingDecision, MeetingDraft};
pub use party::{Party, PartyCode};
pub use period::Period;
pub use program::{AreaCode, MeasureArea, Program};
pub use reciprocity::{
    DirectionFigures, FlowDirection, ItemSummary, OutcomeCounts, Reciprocity, reciprocity,
};
pub use record::RecordMeta;
pub use referral::{ActionWindow, ReferralDraft, ReferralInput, ReferralKind, Urgency};
pub use referral_state::{
    ActedResult, Outcome, ReferralState, ReferralStep, ReferralTrail, ResultKind,
};
pub use request::{
    Answer, InformationRequestDraft, RequestInput, RequestKind, RequestState, RequestStep,
    RequestTrail,
};
pub use role::{Role, UserName};
pub use status::{Status, StatusInputs, StatusSchedule};
pub use token::UnknownToken;
pub use trail::{
    Closure, ClosureKind, Entry, Origin, Parties, Rejected, StepError, TaggedText, Timeline,
};
