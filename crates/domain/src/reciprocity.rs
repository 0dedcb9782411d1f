//! Reciprocity figures: the flow each way between a node and one peer, measured the same way in
//! both directions — items sent and received, how many were acknowledged and how many in time,
//! the median time to acknowledge, the outcomes reported, and what is overdue now.
//!
//! Outbound figures describe how the peer responded to what this party sent; inbound figures how
//! this party responded to what it received. The caller chooses the items (referrals, requests,
//! or both, one peer or all) and passes them in; nothing here reads a store or a clock.

use time::{Duration, OffsetDateTime};

use crate::clocks::{ClockPolicy, clocks};
use crate::referral::Urgency;
use crate::token::tokens;
use crate::trail::{ClosureKind, Timeline};

tokens! {
    /// Which way an item went, seen from this node.
    pub enum FlowDirection: "direction" {
        /// Sent by this party to the peer.
        Outbound = "outbound",
        /// Received by this party from the peer.
        Inbound = "inbound",
    }
}

/// What the figures read of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemSummary {
    pub direction: FlowDirection,
    pub urgency: Urgency,
    pub timeline: Timeline,
}

/// Items closed, by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub acted: u64,
    pub no_trace: u64,
    pub found: u64,
    pub not_found: u64,
    pub declined: u64,
    pub withdrawn: u64,
}

impl OutcomeCounts {
    pub fn total(&self) -> u64 {
        self.acted + self.no_trace + self.found + self.not_found + self.declined + self.withdrawn
    }

    fn count(&mut self, kind: ClosureKind) {
        let slot = match kind {
            ClosureKind::Acted => &mut self.acted,
            ClosureKind::NoTrace => &mut self.no_trace,
            ClosureKind::Found => &mut self.found,
            ClosureKind::NotFound => &mut self.not_found,
            ClosureKind::Declined => &mut self.declined,
            ClosureKind::Withdrawn => &mut self.withdrawn,
        };
        *slot += 1;
    }
}

/// The figures of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionFigures {
    /// Items sent (outbound) or received (inbound).
    pub items: u64,
    /// Items the recipient showed receipt of (an acknowledgement, or an outcome or answer).
    pub acknowledged: u64,
    /// Of those, acknowledged at or before the acknowledge due instant.
    pub acknowledged_in_time: u64,
    /// The median time from sending to receipt among acknowledged items (see [`median`]);
    /// `None` when none is acknowledged.
    pub median_to_acknowledge: Option<Duration>,
    /// Closed items, by how they ended; `open + outcomes.total() == items`.
    pub outcomes: OutcomeCounts,
    pub open: u64,
    /// Open items with a clock past its due instant on `now`.
    pub overdue_now: u64,
}

/// Both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reciprocity {
    pub outbound: DirectionFigures,
    pub inbound: DirectionFigures,
}

/// The median of `values` (reordered in place): the middle value, or for an even count the
/// mean of the two middle values (truncated to the nanosecond). `None` for no values.
pub fn median(values: &mut [Duration]) -> Option<Duration> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => values.get(n / 2).copied(),
        _ => {
            let (a, b) = (values.get(n / 2 - 1)?, values.get(n / 2)?);
            // a + (b − a) / 2 cannot overflow where (a + b) / 2 could.
            Some(*a + (*b - *a) / 2)
        }
    }
}

/// The reciprocity figures of `items` on `now` under `policy`.
pub fn reciprocity(
    items: &[ItemSummary],
    policy: &ClockPolicy,
    now: OffsetDateTime,
) -> Reciprocity {
    let mut out = Reciprocity::default();
    let (mut to_ack_out, mut to_ack_in) = (vec![], vec![]);
    for item in items {
        let (fig, to_ack) = match item.direction {
            FlowDirection::Outbound => (&mut out.outbound, &mut to_ack_out),
            FlowDirection::Inbound => (&mut out.inbound, &mut to_ack_in),
        };
        let t = &item.timeline;
        let c = clocks(t, item.urgency, policy, now);
        fig.items += 1;
        if let Some(at) = t.receipt_at() {
            fig.acknowledged += 1;
            if at <= c.acknowledge_due {
                fig.acknowledged_in_time += 1;
            }
            // Two nodes' clocks: a receipt stamped before the sending counts as immediate.
            to_ack.push((at - t.sent_at).max(Duration::ZERO));
        }
        match t.closure {
            Some(closure) => fig.outcomes.count(closure.kind),
            None => fig.open += 1,
        }
        if c.overdue() {
            fig.overdue_now += 1;
        }
    }
    out.outbound.median_to_acknowledge = median(&mut to_ack_out);
    out.inbound.median_to_acknowledge = median(&mut to_ack_in);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trail::Closure;
    use proptest::prelude::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2025-09-03 12:00 UTC);

    fn item(
        direction: FlowDirection,
        ack_min: Option<i64>,
        closure: Option<(i64, ClosureKind)>,
    ) -> ItemSummary {
        ItemSummary {
            direction,
            urgency: Urgency::Flash,
            timeline: Timeline {
                sent_at: T0,
                acknowledged_at: ack_min.map(|m| T0 + Duration::minutes(m)),
                closure: closure.map(|(m, kind)| Closure {
                    at: T0 + Duration::minutes(m),
                    kind,
                }),
            },
        }
    }

    #[test]
    fn no_items_no_figures() {
        let r = reciprocity(&[], &ClockPolicy::default(), T0);
        assert_eq!(r, Reciprocity::default());
        assert_eq!(r.inbound.median_to_acknowledge, None);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let m =
            |v: &[i64]| median(&mut v.iter().map(|&s| Duration::minutes(s)).collect::<Vec<_>>());
        assert_eq!(m(&[]), None);
        assert_eq!(m(&[7]), Some(Duration::minutes(7)));
        assert_eq!(m(&[30, 10]), Some(Duration::minutes(20)));
        assert_eq!(m(&[10, 2, 3]), Some(Duration::minutes(3)));
        assert_eq!(m(&[1, 100, 2, 4]), Some(Duration::minutes(3)));
        let mut truncated = [Duration::nanoseconds(1), Duration::nanoseconds(2)];
        assert_eq!(median(&mut truncated), Some(Duration::nanoseconds(1)));
    }

    #[test]
    fn figures_per_direction() {
        use ClosureKind::*;
        use FlowDirection::*;
        let now = T0 + Duration::hours(7);
        let items = [
            item(Outbound, Some(5), Some((120, Acted))),
            item(Outbound, Some(20), None), // acknowledged late, act clock overdue now
            item(Outbound, None, None),     // never acknowledged: overdue
            item(Outbound, None, Some((3, Withdrawn))),
            item(Inbound, None, Some((10, NotFound))), // an answer acknowledges
            item(Inbound, Some(15), Some((30, Declined))),
        ];
        let r = reciprocity(&items, &ClockPolicy::default(), now);
        assert_eq!(
            r.outbound,
            DirectionFigures {
                items: 4,
                acknowledged: 2,
                acknowledged_in_time: 1,
                median_to_acknowledge: Some(Duration::seconds(750)),
                outcomes: OutcomeCounts {
                    acted: 1,
                    withdrawn: 1,
                    ..OutcomeCounts::default()
                },
                open: 2,
                overdue_now: 2,
            }
        );
        assert_eq!(
            r.inbound,
            DirectionFigures {
                items: 2,
                acknowledged: 2,
                acknowledged_in_time: 2,
                median_to_acknowledge: Some(Duration::seconds(750)),
                outcomes: OutcomeCounts {
                    not_found: 1,
                    declined: 1,
                    ..OutcomeCounts::default()
                },
                open: 0,
                overdue_now: 0,
            }
        );
    }

    fn items() -> impl Strategy<Value = Vec<ItemSummary>> {
        let one = (
            any::<bool>(),
            0usize..4,
            proptest::option::of(-5i64..3000),
            proptest::option::of((0i64..30_000, 0usize..6)),
        )
            .prop_map(|(out, u, ack, closure)| ItemSummary {
                direction: if out {
                    FlowDirection::Outbound
                } else {
                    FlowDirection::Inbound
                },
                urgency: Urgency::ALL[u],
                timeline: Timeline {
                    sent_at: T0,
                    acknowledged_at: ack.map(|m| T0 + Duration::minutes(m)),
                    closure: closure.map(|(m, k)| Closure {
                        at: T0 + Duration::minutes(m),
                        kind: ClosureKind::ALL[k],
                    }),
                },
            });
        proptest::collection::vec(one, 0..40)
    }

    proptest! {
        #[test]
        fn the_counts_add_up(items in items(), now_min in 0i64..40_000) {
            let r = reciprocity(&items, &ClockPolicy::default(), T0 + Duration::minutes(now_min));
            prop_assert_eq!((r.outbound.items + r.inbound.items) as usize, items.len());
            for (f, d) in [(r.outbound, FlowDirection::Outbound), (r.inbound, FlowDirection::Inbound)] {
                let mine: Vec<_> = items.iter().filter(|i| i.direction == d).collect();
                prop_assert_eq!(f.items as usize, mine.len());
                prop_assert_eq!(f.open + f.outcomes.total(), f.items);
                prop_assert!(f.acknowledged_in_time <= f.acknowledged && f.acknowledged <= f.items);
                prop_assert!(f.overdue_now <= f.open);
                prop_assert_eq!(f.median_to_acknowledge.is_some(), f.acknowledged > 0);
                let waits: Vec<Duration> = mine.iter()
                    .filter_map(|i| i.timeline.receipt_at().map(|a| (a - T0).max(Duration::ZERO)))
                    .collect();
                if let Some(m) = f.median_to_acknowledge {
                    prop_assert!(waits.iter().any(|w| *w <= m) && waits.iter().any(|w| *w >= m));
                }
            }
        }
    }
}
