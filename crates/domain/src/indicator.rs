//! Indicators in the results-framework style (IATI, DHIS2): baseline, targets per period, and
//! measurements per period and party, with progress toward target computed.
//!
//! An indicator's value for a period is the sum of the parties' measurements for that period:
//! each party reports its own share (shared and differentiated responsibility). An indicator whose
//! unit does not add up across parties, such as a percentage change, is measured by one party.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::error::{Errors, FieldErrorCode, Invalid, check_text};
use crate::lang::LocalizedText;
use crate::party::PartyCode;
use crate::period::Period;
use crate::program::AreaCode;
use crate::record::RecordMeta;

pub const MAX_CODE: usize = 40;
pub const MAX_UNIT: usize = 32;
pub const MAX_SOURCE: usize = 500;
pub const MAX_TARGETS: usize = 100;

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher-is-better",
            Direction::LowerIsBetter => "lower-is-better",
        }
    }
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "higher-is-better" => Some(Direction::HigherIsBetter),
            "lower-is-better" => Some(Direction::LowerIsBetter),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub period: Period,
    pub value: f64,
}

/// A checked indicator body. Only [`IndicatorDraft::new`] makes one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IndicatorDraft {
    /// Upper-case letters, digits and dashes, unique on a node.
    pub code: String,
    pub area: Option<AreaCode>,
    pub name: LocalizedText,
    pub unit: String,
    pub direction: Direction,
    pub baseline_value: f64,
    pub baseline_period: Period,
    /// Distinct periods, in period order.
    pub targets: Vec<Target>,
}

impl IndicatorDraft {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        code: &str,
        area: Option<AreaCode>,
        name: LocalizedText,
        unit: &str,
        direction: Direction,
        baseline_value: f64,
        baseline_period: Period,
        mut targets: Vec<Target>,
    ) -> Result<Self, Invalid> {
        let mut errors = Errors::new();
        let code_ok = !code.is_empty()
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if code.chars().count() > MAX_CODE {
            errors.push("/code", FieldErrorCode::TooLong { max: MAX_CODE });
        } else if !code_ok {
            errors.push(
                "/code",
                FieldErrorCode::InvalidFormat {
                    expected: "indicator-code",
                },
            );
        }
        let unit = errors.take(check_text("/unit", unit, MAX_UNIT));
        if !crate::error::quantity_ok(baseline_value) {
            errors.push("/baseline/value", FieldErrorCode::OutOfRange);
        }
        if targets.len() > MAX_TARGETS {
            errors.push("/targets", FieldErrorCode::TooLong { max: MAX_TARGETS });
        }
        for (i, t) in targets.iter().enumerate() {
            if !crate::error::quantity_ok(t.value) {
                errors.push(format!("/targets/{i}/value"), FieldErrorCode::OutOfRange);
            }
            if targets[..i].iter().any(|u| u.period == t.period) {
                errors.push(format!("/targets/{i}/period"), FieldErrorCode::Duplicate);
            }
        }
        errors.finish()?;
        targets.sort_by_key(|t| t.period);
        Ok(Self {
            code: code.to_owned(),
            area,
            name,
            unit: unit.unwrap_or_default(),
            direction,
            baseline_value,
            baseline_period,
            targets,
        })
    }
}

/// A stored indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub meta: RecordMeta,
    pub body: IndicatorDraft,
}

/// A checked actual value of an indicator for one period, reported by one party.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MeasurementDraft {
    pub indicator: Uuid,
    pub period: Period,
    pub party: PartyCode,
    pub value: f64,
    /// Where the figure comes from, e.g. "Joint press conference, Mexico City, 2025-09-03".
    pub source: String,
}

impl MeasurementDraft {
    pub fn new(
        indicator: Uuid,
        period: Period,
        party: PartyCode,
        value: f64,
        source: &str,
    ) -> Result<Self, Invalid> {
        let mut errors = Errors::new();
        if !crate::error::quantity_ok(value) {
            errors.push("/value", FieldErrorCode::OutOfRange);
        }
        let source = errors.take(check_text("/source", source, MAX_SOURCE));
        errors.finish()?;
        Ok(Self {
            indicator,
            period,
            party,
            value,
            source: source.unwrap_or_default(),
        })
    }
}

/// A stored measurement. At most one per indicator, period and party.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub meta: RecordMeta,
    pub body: MeasurementDraft,
}

impl IndicatorDraft {
    /// The indicator's value per period: the sum of the parties' measurements.
    pub fn actuals(&self, measurements: &[MeasurementDraft]) -> BTreeMap<Period, f64> {
        let mut out = BTreeMap::new();
        for m in measurements {
            *out.entry(m.period).or_insert(0.0) += m.value;
        }
        out
    }

    /// Progress toward the last target: how far the latest actual has moved from the baseline,
    /// as a share of the distance from baseline to target. 0 is the baseline, 1 the target met;
    /// it can be below 0 (things got worse) or above 1. `None` without a target or a measurement.
    pub fn progress(&self, measurements: &[MeasurementDraft]) -> Option<f64> {
        let target = self.targets.last()?;
        let (_, actual) = self.actuals(measurements).into_iter().next_back()?;
        let span = target.value - self.baseline_value;
        if span == 0.0 {
            let met = match self.direction {
                Direction::HigherIsBetter => actual >= target.value,
                Direction::LowerIsBetter => actual <= target.value,
            };
            return Some(if met { 1.0 } else { 0.0 });
        }
        // Bounded inputs keep this finite; never hand on a NaN that reads like "no data".
        Some((actual - self.baseline_value) / span).filter(|p| p.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indicator(direction: Direction, baseline: f64, target: f64) -> IndicatorDraft {
        IndicatorDraft::new(
            "BORDER-ENCOUNTERS",
            None,
            LocalizedText::from_pair("Border encounters", "Encuentros fronterizos"),
            "%",
            direction,
            baseline,
            Period::Year(2024),
            vec![Target {
                period: Period::Year(2026),
                value: target,
            }],
        )
        .unwrap()
    }

    fn m(period: &str, party: PartyCode, value: f64) -> MeasurementDraft {
        MeasurementDraft::new(
            Uuid::nil(),
            Period::parse(period).unwrap(),
            party,
            value,
            "test",
        )
        .unwrap()
    }

    #[test]
    fn progress_works_in_both_directions() {
        let lower = indicator(Direction::LowerIsBetter, 0.0, -80.0);
        assert_eq!(
            lower.progress(&[m("2025-08", PartyCode::US, -93.0)]),
            Some(93.0 / 80.0)
        );
        let higher = indicator(Direction::HigherIsBetter, 0.0, 100.0);
        let ms = [
            m("2025-08", PartyCode::MX, 55.0),
            m("2025-09", PartyCode::MX, 59.0),
        ];
        assert_eq!(higher.progress(&ms), Some(0.59));
        assert_eq!(higher.progress(&[]), None);
    }

    #[test]
    fn parties_add_up_within_a_period() {
        let higher = indicator(Direction::HigherIsBetter, 0.0, 100.0);
        let ms = [
            m("2025Q3", PartyCode::MX, 30.0),
            m("2025Q3", PartyCode::US, 20.0),
        ];
        assert_eq!(higher.progress(&ms), Some(0.5));
    }

    #[test]
    fn flat_target_is_met_or_not() {
        let flat = indicator(Direction::LowerIsBetter, 5.0, 5.0);
        assert_eq!(flat.progress(&[m("2025", PartyCode::US, 4.0)]), Some(1.0));
        assert_eq!(flat.progress(&[m("2025", PartyCode::US, 6.0)]), Some(0.0));
    }

    #[test]
    fn bad_codes_and_duplicate_targets_are_named() {
        let err = IndicatorDraft::new(
            "bad code",
            None,
            LocalizedText::from_pair("a", "b"),
            "",
            Direction::HigherIsBetter,
            f64::NAN,
            Period::Year(2024),
            vec![
                Target {
                    period: Period::Year(2025),
                    value: 1.0,
                },
                Target {
                    period: Period::Year(2025),
                    value: 2.0,
                },
            ],
        )
        .unwrap_err();
        let ptrs: Vec<_> = err.0.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            ["/code", "/unit", "/baseline/value", "/targets/1/period"]
        );
    }
}
