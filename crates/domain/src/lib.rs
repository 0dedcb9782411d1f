//! Pure domain of puente: parties, the joint program, commitments, actions, indicators, meetings,
//! and the rules that derive a commitment's status and build a meeting's agenda.
//!
//! **Architecture invariant:** this crate does no IO, reads no clock and draws no random numbers.
//! Callers pass `today`, `now` and ids in, so every rule here is a pure function tests control.
//! It has no serde either: wire formats belong to the web API and the exchange protocol.

pub mod agenda;
pub mod commitment;
pub mod error;
pub mod indicator;
pub mod lang;
pub mod meeting;
pub mod party;
pub mod period;
pub mod program;
pub mod record;
pub mod role;
pub mod status;

pub use agenda::{AgendaItem, AgendaReason, AgendaSubject, build_agenda};
pub use commitment::{Action, ActionDraft, Commitment, CommitmentDraft, Output, Owners};
pub use error::{FieldError, FieldErrorCode, Invalid};
pub use indicator::{Direction, Indicator, IndicatorDraft, Measurement, MeasurementDraft, Target};
pub use lang::{Lang, LocalizedText};
pub use meeting::{FollowUp, Meeting, MeetingDecision, MeetingDraft};
pub use party::{Party, PartyCode};
pub use period::Period;
pub use program::{AreaCode, MeasureArea, Program};
pub use record::RecordMeta;
pub use role::{Role, UserName};
pub use status::{Status, StatusInputs, StatusSchedule};
