//! Response clocks: how long the recipient has to acknowledge an item and to act on it, and
//! where each item stands against those times.
//!
//! Each urgency has a time to acknowledge and a time to act, both counted from the moment the
//! item was sent (the window of opportunity runs from then, not from whenever it was opened).
//! The acknowledge clock stops at the recipient's first sign of receipt — its acknowledgement,
//! or its outcome or answer if that came first. The act clock stops when the outcome is reported
//! (a referral) or the answer given (a request). A withdrawal stops both without a verdict.
//!
//! "On time" includes the due instant itself: acknowledging exactly at the due time is not late,
//! and a clock still running at its due time has zero left; a nanosecond later it is overdue.

use time::{Duration, OffsetDateTime};

use crate::error::{Errors, FieldErrorCode, Invalid};
use crate::referral::Urgency;
use crate::trail::Timeline;

/// The longest response time a policy may set: a year.
pub const MAX_RESPONSE_TIME: Duration = Duration::days(365);

/// The times one urgency allows, both counted from sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseTimes {
    pub acknowledge: Duration,
    pub act: Duration,
}

/// The response times of every urgency. The defaults are a starting point; each node's
/// configuration may override them (a node's clocks measure its peers' answers to it, so the two
/// parties should agree on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockPolicy {
    pub flash: ResponseTimes,
    pub immediate: ResponseTimes,
    pub priority: ResponseTimes,
    pub routine: ResponseTimes,
}

impl Default for ClockPolicy {
    /// flash 15 min / 6 h; immediate 1 h / 24 h; priority 4 h / 72 h; routine 24 h / 14 days.
    fn default() -> Self {
        let t = |acknowledge, act| ResponseTimes { acknowledge, act };
        ClockPolicy {
            flash: t(Duration::minutes(15), Duration::hours(6)),
            immediate: t(Duration::hours(1), Duration::hours(24)),
            priority: t(Duration::hours(4), Duration::hours(72)),
            routine: t(Duration::hours(24), Duration::days(14)),
        }
    }
}

impl ClockPolicy {
    pub fn times(&self, urgency: Urgency) -> ResponseTimes {
        match urgency {
            Urgency::Flash => self.flash,
            Urgency::Immediate => self.immediate,
            Urgency::Priority => self.priority,
            Urgency::Routine => self.routine,
        }
    }

    /// Validates a configured policy: every time positive and at most a year, and the time to
    /// act no shorter than the time to acknowledge. Errors are at `/flash/acknowledge`, …
    pub fn check(self) -> Result<ClockPolicy, Invalid> {
        let mut errors = Errors::new();
        for u in Urgency::ALL {
            let t = self.times(*u);
            for (field, d) in [("acknowledge", t.acknowledge), ("act", t.act)] {
                if d <= Duration::ZERO || d > MAX_RESPONSE_TIME {
                    errors.push(format!("/{u}/{field}"), FieldErrorCode::OutOfRange);
                }
            }
            if t.act < t.acknowledge && !errors.has(&format!("/{u}/act")) {
                errors.push(format!("/{u}/act"), FieldErrorCode::OutOfRange);
            }
        }
        errors.finish()?;
        Ok(self)
    }
}

/// Where one clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    /// Stopped by the recipient; `late` if after the due instant.
    Met { late: bool },
    /// Still running, with this much left (zero at the due instant itself).
    Running { left: Duration },
    /// Still running past the due instant, by this much.
    Overdue { by: Duration },
    /// Stopped by a withdrawal before the recipient met it; `late` if it was already overdue.
    Withdrawn { late: bool },
}

impl ClockState {
    /// Late now or when it stopped.
    pub fn is_late(self) -> bool {
        matches!(
            self,
            ClockState::Overdue { .. }
                | ClockState::Met { late: true }
                | ClockState::Withdrawn { late: true }
        )
    }
}

/// An item's two clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clocks {
    pub acknowledge_due: OffsetDateTime,
    pub act_due: OffsetDateTime,
    pub acknowledge: ClockState,
    pub act: ClockState,
}

impl Clocks {
    /// Some clock is running past its due instant: the item is late and still open.
    pub fn overdue(&self) -> bool {
        matches!(self.acknowledge, ClockState::Overdue { .. })
            || matches!(self.act, ClockState::Overdue { .. })
    }
}

fn clock(
    due: OffsetDateTime,
    met: Option<OffsetDateTime>,
    withdrawn: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> ClockState {
    match (met, withdrawn) {
        (Some(at), _) => ClockState::Met { late: at > due },
        (None, Some(at)) => ClockState::Withdrawn { late: at > due },
        (None, None) if now <= due => ClockState::Running { left: due - now },
        (None, None) => ClockState::Overdue { by: now - due },
    }
}

/// An item's clocks on `now`, from its timeline and urgency (see the module rules).
pub fn clocks(
    timeline: &Timeline,
    urgency: Urgency,
    policy: &ClockPolicy,
    now: OffsetDateTime,
) -> Clocks {
    let times = policy.times(urgency);
    // Saturating: a policy's times are bounded, but a timestamp need not be.
    let acknowledge_due = timeline.sent_at.saturating_add(times.acknowledge);
    let act_due = timeline.sent_at.saturating_add(times.act);
    let withdrawn = timeline.withdrawn_at();
    Clocks {
        acknowledge_due,
        act_due,
        acknowledge: clock(acknowledge_due, timeline.receipt_at(), withdrawn, now),
        act: clock(act_due, timeline.replied_at(), withdrawn, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trail::{Closure, ClosureKind};
    use time::macros::datetime;

    const SENT: OffsetDateTime = datetime!(2025-09-03 12:00 UTC);
    const NS: Duration = Duration::nanoseconds(1);

    fn flash(t: &Timeline, now: OffsetDateTime) -> Clocks {
        clocks(t, Urgency::Flash, &ClockPolicy::default(), now)
    }

    fn closed(at: OffsetDateTime, kind: ClosureKind) -> Option<Closure> {
        Some(Closure { at, kind })
    }

    #[test]
    fn defaults_are_as_documented_and_valid() {
        let p = ClockPolicy::default();
        assert_eq!(
            p.times(Urgency::Flash),
            ResponseTimes {
                acknowledge: Duration::minutes(15),
                act: Duration::hours(6)
            }
        );
        assert_eq!(p.times(Urgency::Immediate).act, Duration::hours(24));
        assert_eq!(p.times(Urgency::Priority).acknowledge, Duration::hours(4));
        assert_eq!(p.times(Urgency::Routine).act, Duration::days(14));
        assert_eq!(p.check(), Ok(p));
    }

    #[test]
    fn a_policy_needs_positive_times_and_act_after_acknowledge() {
        let mut p = ClockPolicy::default();
        p.flash.acknowledge = Duration::ZERO;
        p.priority.act = Duration::hours(1);
        p.routine.act = Duration::days(366);
        let err = p.check().unwrap_err();
        let got: Vec<_> = err.0.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(got, ["/flash/acknowledge", "/priority/act", "/routine/act"]);
    }

    #[test]
    fn running_until_the_due_instant_then_overdue() {
        let t = Timeline::new(SENT);
        let due = SENT + Duration::minutes(15);
        let c = flash(&t, SENT);
        assert_eq!(
            (c.acknowledge_due, c.act_due),
            (due, SENT + Duration::hours(6))
        );
        assert_eq!(
            c.acknowledge,
            ClockState::Running {
                left: Duration::minutes(15)
            }
        );
        assert_eq!(
            flash(&t, due).acknowledge,
            ClockState::Running {
                left: Duration::ZERO
            }
        );
        assert!(!flash(&t, due).overdue());
        assert_eq!(
            flash(&t, due + NS).acknowledge,
            ClockState::Overdue { by: NS }
        );
        assert!(flash(&t, due + NS).overdue());
        // A clock read before the sending (another node's clock) just has more time left.
        assert_eq!(
            flash(&t, SENT - Duration::minutes(1)).acknowledge,
            ClockState::Running {
                left: Duration::minutes(16)
            }
        );
    }

    #[test]
    fn met_exactly_at_the_due_instant_is_on_time() {
        let due = SENT + Duration::minutes(15);
        let on_time = Timeline {
            acknowledged_at: Some(due),
            ..Timeline::new(SENT)
        };
        let late = Timeline {
            acknowledged_at: Some(due + NS),
            ..Timeline::new(SENT)
        };
        let now = SENT + Duration::days(1);
        assert_eq!(
            flash(&on_time, now).acknowledge,
            ClockState::Met { late: false }
        );
        assert_eq!(
            flash(&late, now).acknowledge,
            ClockState::Met { late: true }
        );
        // The act clock keeps running after the acknowledgement.
        assert_eq!(
            flash(&on_time, now).act,
            ClockState::Overdue {
                by: Duration::hours(18)
            }
        );
        let act_due = SENT + Duration::hours(6);
        let done = Timeline {
            closure: closed(act_due, ClosureKind::Acted),
            ..on_time
        };
        assert_eq!(flash(&done, now).act, ClockState::Met { late: false });
        let done = Timeline {
            closure: closed(act_due + NS, ClosureKind::Declined),
            ..on_time
        };
        assert_eq!(flash(&done, now).act, ClockState::Met { late: true });
        assert!(!flash(&done, now).overdue() && flash(&done, now).act.is_late());
    }

    #[test]
    fn an_answer_stops_both_clocks_and_a_withdrawal_stops_them_without_a_verdict() {
        let now = SENT + Duration::days(1);
        let answered = Timeline {
            closure: closed(SENT + Duration::minutes(10), ClosureKind::Found),
            ..Timeline::new(SENT)
        };
        let c = flash(&answered, now);
        assert_eq!(
            (c.acknowledge, c.act),
            (
                ClockState::Met { late: false },
                ClockState::Met { late: false }
            )
        );
        let withdrawn = Timeline {
            closure: closed(SENT + Duration::minutes(20), ClosureKind::Withdrawn),
            ..Timeline::new(SENT)
        };
        let c = flash(&withdrawn, now);
        assert_eq!(
            (c.acknowledge, c.act),
            (
                ClockState::Withdrawn { late: true },
                ClockState::Withdrawn { late: false }
            )
        );
        assert!(!c.overdue());
    }

    #[test]
    fn extreme_instants_do_not_overflow() {
        let t = Timeline::new(time::PrimitiveDateTime::MAX.assume_utc());
        let c = clocks(&t, Urgency::Routine, &ClockPolicy::default(), SENT);
        assert_eq!(c.act_due, time::PrimitiveDateTime::MAX.assume_utc());
    }
}
