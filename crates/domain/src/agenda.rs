//! The agenda rule: what a meeting must look at.
//!
//! For a meeting held on day `D`, whose previous meeting was on day `L` (or none), the agenda lists
//! every commitment and open follow-up that, on `D`, is
//!
//! 1. **overdue**, then
//! 2. **at risk**, then
//! 3. **due** — its due date falls after `L` and on or before `D` (whatever its status, so
//!    the group confirms what was completed).
//!
//! Items appear once, under the first reason that applies, ordered by reason, then due date,
//! then id, so two nodes build the same agenda from the same records.

use time::Date;
use uuid::Uuid;

use crate::status::{Status, StatusSchedule};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AgendaReason {
    Overdue,
    AtRisk,
    Due,
}

impl AgendaReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AgendaReason::Overdue => "overdue",
            AgendaReason::AtRisk => "at-risk",
            AgendaReason::Due => "due",
        }
    }
}

/// What an agenda item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AgendaSubject {
    Commitment(Uuid),
    FollowUp { meeting: Uuid, follow_up: Uuid },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaItem {
    pub reason: AgendaReason,
    pub subject: AgendaSubject,
    pub status: Status,
    pub due: Date,
}

/// Builds the agenda of a meeting on `date` from candidates (subject and status schedule).
/// Candidates that qualify for no reason are left out, so callers may pass a superset.
pub fn build_agenda(
    date: Date,
    previous: Option<Date>,
    candidates: impl IntoIterator<Item = (AgendaSubject, StatusSchedule)>,
) -> Vec<AgendaItem> {
    let mut items: Vec<AgendaItem> = candidates
        .into_iter()
        .filter_map(|(subject, schedule)| {
            let status = schedule.status_on(date);
            let due_in_window = schedule.due <= date && previous.is_none_or(|l| schedule.due > l);
            let reason = match status {
                Status::Overdue => AgendaReason::Overdue,
                Status::AtRisk => AgendaReason::AtRisk,
                _ if due_in_window => AgendaReason::Due,
                _ => return None,
            };
            Some(AgendaItem {
                reason,
                subject,
                status,
                due: schedule.due,
            })
        })
        .collect();
    items.sort_by_key(|a| (a.reason, a.due, a.subject));
    items.dedup_by(|a, b| a.subject == b.subject);
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::StatusInputs;
    use proptest::prelude::*;
    use time::macros::date;

    fn schedule(start: Date, due: Date, n_actions: u64, completed: bool) -> StatusSchedule {
        with_progress(start, due, n_actions, completed, None)
    }

    fn with_progress(
        start: Date,
        due: Date,
        n_actions: u64,
        completed: bool,
        progress: Option<f64>,
    ) -> StatusSchedule {
        let progress = progress.map(|p| vec![Some(p)]).unwrap_or_default();
        StatusSchedule::of(&StatusInputs {
            start,
            due,
            n_actions,
            completed,
            progress,
        })
    }

    #[test]
    fn orders_overdue_then_at_risk_then_due() {
        let d = date!(2025 - 12 - 01);
        let c = |n| AgendaSubject::Commitment(Uuid::from_u128(n));
        let items = build_agenda(
            d,
            Some(date!(2025 - 09 - 03)),
            [
                (
                    c(1),
                    schedule(date!(2025 - 01 - 01), date!(2025 - 11 - 01), 1, true),
                ), // due, done
                (
                    c(2),
                    schedule(date!(2025 - 01 - 01), date!(2025 - 10 - 01), 1, false),
                ), // overdue
                (
                    c(3),
                    schedule(date!(2025 - 06 - 01), date!(2026 - 06 - 01), 0, false),
                ), // at risk
                (
                    c(4),
                    schedule(date!(2025 - 01 - 01), date!(2025 - 06 - 01), 1, true),
                ), // done before L
                (
                    c(5),
                    schedule(date!(2025 - 11 - 01), date!(2026 - 11 - 01), 1, false),
                ), // on track
            ],
        );
        let got: Vec<_> = items.iter().map(|i| (i.subject, i.reason)).collect();
        assert_eq!(
            got,
            [
                (c(2), AgendaReason::Overdue),
                (c(3), AgendaReason::AtRisk),
                (c(1), AgendaReason::Due),
            ]
        );
    }

    proptest! {
        #[test]
        fn lists_exactly_what_the_rule_names_in_order_and_once(
            cands in proptest::collection::vec(
                (0i64..300, 0i64..300, 0u64..3, proptest::bool::weighted(0.2),
                 proptest::option::of(0.0f64..1.2)),
                0..30,
            ),
            previous in proptest::option::of(0i64..150),
        ) {
            let base = date!(2025 - 01 - 01);
            let d = date!(2025 - 06 - 01);
            let previous = previous.map(|p| base + time::Duration::days(p));
            let cands: Vec<_> = cands.iter().enumerate().map(|(n, (s, len, acts, done, p))| {
                let start = base + time::Duration::days(*s);
                (AgendaSubject::Commitment(Uuid::from_u128(n as u128)),
                 with_progress(start, start + time::Duration::days(*len), *acts, *done, *p))
            }).collect();
            let items = build_agenda(d, previous, cands.clone());
            for (subject, s) in &cands {
                let listed: Vec<_> = items.iter().filter(|i| i.subject == *subject).collect();
                let due_in_window = s.due <= d && previous.is_none_or(|l| s.due > l);
                let expected = match s.status_on(d) {
                    Status::Overdue => Some(AgendaReason::Overdue),
                    Status::AtRisk => Some(AgendaReason::AtRisk),
                    _ if due_in_window => Some(AgendaReason::Due),
                    _ => None,
                };
                prop_assert_eq!(listed.first().map(|i| i.reason), expected);
                prop_assert!(listed.len() <= 1);
            }
            for w in items.windows(2) {
                prop_assert!((w[0].reason, w[0].due, w[0].subject) <= (w[1].reason, w[1].due, w[1].subject));
            }
        }
    }
}
