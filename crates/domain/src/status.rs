//! The one rule that derives a commitment's (or follow-up's) status. Status is never typed in.
//!
//! # The rule, evaluated on a day `today`
//!
//! Let the window be the days from `start` to `due` (at least one day), and let *progress* be
//! the least progress toward target among the indicators the commitment serves that have data.
//!
//! 1. **done** — completion was recorded (an action marked as completing it), or the commitment
//!    serves at least one indicator and every one of them has reached its target (progress ≥ 1).
//! 2. **overdue** — not done, and `today` is after `due`.
//! 3. **not started** — `today` is before `start`; or no action has been recorded and less than a
//!    quarter of the window has elapsed.
//! 4. **at risk** — no action has been recorded and a quarter of the window or more has elapsed;
//!    or the share of the window elapsed exceeds progress by more than 0.25.
//! 5. **on track** — otherwise.
//!
//! Because the only input that moves by itself is `today`, the rule is computed once per change
//! into a [`StatusSchedule`]: the days on which the status changes. Stores keep the schedule, so
//! "every commitment at risk today" is a range query rather than a scan.

use std::fmt;
use std::str::FromStr;

use time::{Date, Duration};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    NotStarted,
    OnTrack,
    AtRisk,
    Overdue,
    Done,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::NotStarted,
        Status::OnTrack,
        Status::AtRisk,
        Status::Overdue,
        Status::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "not-started",
            Status::OnTrack => "on-track",
            Status::AtRisk => "at-risk",
            Status::Overdue => "overdue",
            Status::Done => "done",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Status::ALL.into_iter().find(|x| x.as_str() == s).ok_or(())
    }
}

/// Everything the rule reads besides `today`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusInputs {
    pub start: Date,
    pub due: Date,
    pub n_actions: u64,
    /// An action recorded as completing the commitment.
    pub completed: bool,
    /// Progress toward target of each indicator served (`None`: no data yet).
    pub progress: Vec<Option<f64>>,
}

/// The status as a function of the day: see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusSchedule {
    pub done: bool,
    /// Not started on any day before this one.
    pub not_started_until: Date,
    /// At risk from this day on (until overdue). After `due` when there is no at-risk phase.
    pub at_risk_from: Date,
    pub due: Date,
}

fn add_days(d: Date, n: i64) -> Date {
    d.checked_add(Duration::days(n)).unwrap_or(Date::MAX)
}

impl StatusSchedule {
    pub fn of(i: &StatusInputs) -> StatusSchedule {
        let window = (i.due - i.start).whole_days().max(1);
        let done = i.completed
            || (!i.progress.is_empty() && i.progress.iter().all(|p| p.is_some_and(|p| p >= 1.0)));
        let never = add_days(i.due, 1);
        let (not_started_until, at_risk_from) = if i.n_actions == 0 {
            // A quarter of the window, rounded up: the first day on which elapsed ≥ window / 4.
            let quarter = add_days(i.start, (window + 3) / 4);
            (quarter, quarter)
        } else {
            let least = i.progress.iter().flatten().copied().reduce(f64::min);
            let at_risk_from = match least {
                // elapsed / window > p + 0.25  ⇔  elapsed > (p + 0.25) · window.
                Some(p) => {
                    let threshold = ((p.max(0.0) + 0.25) * window as f64).floor();
                    if threshold >= window as f64 {
                        never
                    } else {
                        add_days(i.start, threshold as i64 + 1)
                    }
                }
                None => never,
            };
            (i.start, at_risk_from.min(never))
        };
        StatusSchedule {
            done,
            not_started_until,
            at_risk_from,
            due: i.due,
        }
    }

    /// The status on `today`.
    pub fn status_on(&self, today: Date) -> Status {
        if self.done {
            Status::Done
        } else if today > self.due {
            Status::Overdue
        } else if today < self.not_started_until {
            Status::NotStarted
        } else if today >= self.at_risk_from {
            Status::AtRisk
        } else {
            Status::OnTrack
        }
    }

    /// How the status moves over time: the status before any day, then each day on which it
    /// changes with the status from that day on. The status on a day is the last change on or
    /// before it. Stores keep status counts per day from these, not by re-deciding every record.
    pub fn changes(&self) -> (Status, Vec<(Date, Status)>) {
        let first = self.status_on(Date::MIN);
        // `status_on` compares the day with these three bounds only, so it can change only there.
        let mut days = [
            self.not_started_until,
            self.at_risk_from,
            self.due.next_day().unwrap_or(Date::MAX),
        ];
        days.sort();
        let mut now = first;
        let mut out = Vec::with_capacity(3);
        for d in days {
            let s = self.status_on(d);
            if s != now {
                out.push((d, s));
                now = s;
            }
        }
        (first, out)
    }

    /// A follow-up's schedule: done once completed, at risk in the last `warn_days` before due.
    pub fn for_follow_up(opened: Date, due: Date, completed: bool, warn_days: i64) -> Self {
        let at_risk_from = add_days(due, -warn_days).max(opened);
        StatusSchedule {
            done: completed,
            not_started_until: opened,
            at_risk_from,
            due,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    /// The rule as the module documentation words it, computed directly for one day.
    fn rule(i: &StatusInputs, today: Date) -> Status {
        let window = (i.due - i.start).whole_days().max(1) as f64;
        let elapsed = (today - i.start).whole_days() as f64 / window;
        let done = i.completed
            || (!i.progress.is_empty() && i.progress.iter().all(|p| p.is_some_and(|p| p >= 1.0)));
        let least = i.progress.iter().flatten().copied().reduce(f64::min);
        if done {
            Status::Done
        } else if today > i.due {
            Status::Overdue
        } else if today < i.start || (i.n_actions == 0 && elapsed < 0.25) {
            Status::NotStarted
        } else if i.n_actions == 0 || least.is_some_and(|p| elapsed - p.max(0.0) > 0.25) {
            Status::AtRisk
        } else {
            Status::OnTrack
        }
    }

    fn inputs() -> impl Strategy<Value = (StatusInputs, Date)> {
        let base = date!(2025 - 01 - 01);
        (
            0i64..400,
            0i64..400,
            0u64..3,
            proptest::bool::weighted(0.1),
            proptest::collection::vec(proptest::option::of(-0.5f64..1.5), 0..4),
            -30i64..900,
        )
            .prop_map(move |(s, len, n_actions, completed, progress, t)| {
                let start = add_days(base, s);
                (
                    StatusInputs {
                        start,
                        due: add_days(start, len),
                        n_actions,
                        completed,
                        progress,
                    },
                    add_days(base, t),
                )
            })
    }

    proptest! {
        #[test]
        fn schedule_agrees_with_the_worded_rule((i, today) in inputs()) {
            prop_assert_eq!(StatusSchedule::of(&i).status_on(today), rule(&i, today));
        }

        #[test]
        fn changes_give_the_status_of_every_day((i, today) in inputs()) {
            let s = StatusSchedule::of(&i);
            let (first, changes) = s.changes();
            let replayed = changes
                .iter()
                .take_while(|(d, _)| *d <= today)
                .last()
                .map_or(first, |c| c.1);
            prop_assert_eq!(replayed, s.status_on(today));
            // In order, each a real change.
            prop_assert!(changes.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 != w[1].1));
            prop_assert!(changes.first().is_none_or(|c| c.1 != first));
        }

        #[test]
        fn overdue_exactly_when_past_due_and_not_done((i, today) in inputs()) {
            let s = StatusSchedule::of(&i);
            prop_assert_eq!(s.status_on(today) == Status::Overdue, today > i.due && !s.done);
        }

        #[test]
        fn done_is_done_on_every_day((i, today) in inputs()) {
            let s = StatusSchedule::of(&i);
            if s.done {
                prop_assert_eq!(s.status_on(today), Status::Done);
                prop_assert_eq!(s.status_on(add_days(today, 10_000)), Status::Done);
            }
        }

        #[test]
        fn more_progress_never_makes_things_worse((i, today) in inputs(), bump in 0.0f64..1.0) {
            let better = StatusInputs {
                progress: i.progress.iter().map(|p| p.map(|p| p + bump)).collect(),
                ..i.clone()
            };
            let rank = |s: Status| match s {
                Status::Done => 0,
                Status::OnTrack | Status::NotStarted => 1,
                Status::AtRisk => 2,
                Status::Overdue => 3,
            };
            prop_assert!(rank(StatusSchedule::of(&better).status_on(today))
                <= rank(StatusSchedule::of(&i).status_on(today)));
        }

        #[test]
        fn once_overdue_stays_overdue_until_done((i, today) in inputs(), later in 0i64..500) {
            let s = StatusSchedule::of(&i);
            if s.status_on(today) == Status::Overdue {
                prop_assert_eq!(s.status_on(add_days(today, later)), Status::Overdue);
            }
        }
    }

    #[test]
    fn worked_example() {
        // A year-long commitment, one action, halfway through its indicators.
        let i = StatusInputs {
            start: date!(2025 - 01 - 01),
            due: date!(2025 - 12 - 31),
            n_actions: 1,
            completed: false,
            progress: vec![Some(0.5)],
        };
        let s = StatusSchedule::of(&i);
        assert_eq!(s.status_on(date!(2024 - 12 - 31)), Status::NotStarted);
        assert_eq!(s.status_on(date!(2025 - 06 - 01)), Status::OnTrack);
        // 0.5 + 0.25 = 0.75 of 364 days = day 273: from 2025-10-02 on, at risk.
        assert_eq!(s.status_on(date!(2025 - 10 - 01)), Status::OnTrack);
        assert_eq!(s.status_on(date!(2025 - 10 - 02)), Status::AtRisk);
        assert_eq!(s.status_on(date!(2026 - 01 - 01)), Status::Overdue);
        let none = StatusInputs {
            n_actions: 0,
            progress: vec![],
            ..i.clone()
        };
        assert_eq!(
            StatusSchedule::of(&none).status_on(date!(2025 - 03 - 01)),
            Status::NotStarted
        );
        assert_eq!(
            StatusSchedule::of(&none).status_on(date!(2025 - 05 - 01)),
            Status::AtRisk
        );
        let met = StatusInputs {
            progress: vec![Some(1.0), Some(1.2)],
            ..i
        };
        assert_eq!(
            StatusSchedule::of(&met).status_on(date!(2030 - 01 - 01)),
            Status::Done
        );
    }
}
