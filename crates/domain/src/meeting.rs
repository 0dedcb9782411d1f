//! Meetings of the implementation group: attendees, decisions, and follow-ups tracked like
//! commitments.

use time::Date;
use uuid::Uuid;

use crate::error::{Errors, FieldErrorCode, Invalid, check_text};
use crate::lang::LocalizedText;
use crate::party::PartyCode;
use crate::record::RecordMeta;
use crate::status::StatusSchedule;

pub const MAX_PLACE: usize = 200;
pub const MAX_ATTENDEE: usize = 200;
pub const MAX_ATTENDEES: usize = 200;
pub const MAX_DECISIONS: usize = 100;
pub const MAX_FOLLOW_UPS: usize = 100;
/// A follow-up is at risk in the last week before it is due.
pub const FOLLOW_UP_WARN_DAYS: i64 = 7;

/// Something the meeting decided, recorded in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingDecision {
    pub text: LocalizedText,
}

/// A task the meeting gave one party, with a due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub id: Uuid,
    pub title: LocalizedText,
    pub owner: PartyCode,
    pub due: Date,
    /// The day the owner reported it done.
    pub completed_on: Option<Date>,
}

impl FollowUp {
    /// Its status schedule: open from the meeting that set it, done once completed.
    pub fn schedule(&self, meeting_date: Date) -> StatusSchedule {
        StatusSchedule::for_follow_up(
            meeting_date,
            self.due,
            self.completed_on.is_some(),
            FOLLOW_UP_WARN_DAYS,
        )
    }
}

/// A checked meeting body. Only [`MeetingDraft::new`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MeetingDraft {
    pub date: Date,
    pub place: String,
    pub attendees: Vec<String>,
    pub decisions: Vec<MeetingDecision>,
    pub follow_ups: Vec<FollowUp>,
}

impl MeetingDraft {
    pub fn new(
        date: Date,
        place: &str,
        attendees: Vec<String>,
        decisions: Vec<MeetingDecision>,
        follow_ups: Vec<FollowUp>,
    ) -> Result<Self, Invalid> {
        let mut errors = Errors::new();
        let place = errors.take(check_text("/place", place, MAX_PLACE));
        if attendees.len() > MAX_ATTENDEES {
            errors.push("/attendees", FieldErrorCode::TooLong { max: MAX_ATTENDEES });
        }
        let attendees: Vec<String> = attendees
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                errors.take(check_text(&format!("/attendees/{i}"), a, MAX_ATTENDEE))
            })
            .collect();
        if decisions.len() > MAX_DECISIONS {
            errors.push("/decisions", FieldErrorCode::TooLong { max: MAX_DECISIONS });
        }
        if follow_ups.len() > MAX_FOLLOW_UPS {
            errors.push(
                "/follow_ups",
                FieldErrorCode::TooLong {
                    max: MAX_FOLLOW_UPS,
                },
            );
        }
        for (i, f) in follow_ups.iter().enumerate() {
            if f.due < date {
                errors.push(
                    format!("/follow_ups/{i}/due"),
                    FieldErrorCode::DueBeforeStart,
                );
            }
            if f.completed_on.is_some_and(|c| c < date) {
                errors.push(
                    format!("/follow_ups/{i}/completed_on"),
                    FieldErrorCode::OutOfRange,
                );
            }
            if follow_ups[..i].iter().any(|g| g.id == f.id) {
                errors.push(format!("/follow_ups/{i}/id"), FieldErrorCode::Duplicate);
            }
        }
        errors.finish()?;
        Ok(Self {
            date,
            place: place.unwrap_or_default(),
            attendees,
            decisions,
            follow_ups,
        })
    }
}

/// A stored meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meeting {
    pub meta: RecordMeta,
    pub body: MeetingDraft,
}
