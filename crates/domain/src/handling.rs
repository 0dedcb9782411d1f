//! Handling: the conditions that travel with every referral and request for information — its
//! TLP level, whether it may be passed on or used as evidence, why it is shared, under which law,
//! and how long the receiving party may keep it. Both ends enforce them ("within our respective
//! legal frameworks").

use crate::error::{Errors, FieldErrorCode, Invalid, check_text};
use crate::token::tokens;

pub const MAX_PURPOSE: usize = 500;
pub const MAX_LEGAL_BASIS: usize = 500;
/// Ten years: longer than any retention period the parties' laws allow for shared intelligence.
pub const MAX_RETENTION_DAYS: u32 = 3650;

tokens! {
    /// A Traffic Light Protocol 2.0 label (FIRST), ordered from least to most restrictive.
    pub enum Tlp: "TLP level" {
        /// TLP:CLEAR — disclosure is not limited; anyone may receive it.
        Clear = "clear",
        /// TLP:GREEN — the recipient's community (peer agencies), not public channels.
        Green = "green",
        /// TLP:AMBER — the recipient's organisation and its clients, on a need-to-know basis.
        Amber = "amber",
        /// TLP:AMBER+STRICT — the recipient's organisation only, on a need-to-know basis.
        AmberStrict = "amber-strict",
        /// TLP:RED — the named recipients only; no further disclosure.
        Red = "red",
    }
}

impl Tlp {
    /// The label as FIRST prints it: `TLP:AMBER+STRICT`.
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }
}

/// The handling conditions of one item. A value is plain data; [`Handling::check`] validates it,
/// and drafts hold only checked handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handling {
    pub tlp: Tlp,
    /// Onward dissemination: the recipient party may pass it beyond itself (to a third party).
    /// Tasking one of the recipient's own agencies is not passing it on.
    pub may_pass_on: bool,
    /// The recipient may use it as evidence in proceedings, not only as intelligence.
    pub evidence_use: bool,
    pub purpose: String,
    pub legal_basis: String,
    /// How long the recipient may keep it, in days (1 to 3650).
    pub retention_days: u32,
}

impl Handling {
    /// Validates the handling found at `pointer` (e.g. `/handling`): purpose and legal basis are
    /// non-empty text within their limits, retention is 1–3650 days, and TLP:RED information is
    /// not marked as passable (RED means no further disclosure, so the two contradict).
    pub fn check(self, pointer: &str) -> Result<Handling, Invalid> {
        let mut errors = Errors::new();
        let purpose = errors.take(check_text(
            &format!("{pointer}/purpose"),
            &self.purpose,
            MAX_PURPOSE,
        ));
        let legal_basis = errors.take(check_text(
            &format!("{pointer}/legal_basis"),
            &self.legal_basis,
            MAX_LEGAL_BASIS,
        ));
        if !(1..=MAX_RETENTION_DAYS).contains(&self.retention_days) {
            errors.push(
                format!("{pointer}/retention_days"),
                FieldErrorCode::OutOfRange,
            );
        }
        if self.tlp == Tlp::Red && self.may_pass_on {
            errors.push(
                format!("{pointer}/may_pass_on"),
                FieldErrorCode::Contradictory,
            );
        }
        errors.finish()?;
        Ok(Handling {
            purpose: purpose.unwrap_or_default(),
            legal_basis: legal_basis.unwrap_or_default(),
            ..self
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn handling() -> Handling {
        Handling {
            tlp: Tlp::Amber,
            may_pass_on: false,
            evidence_use: false,
            purpose: " Interdiction of an arms shipment ".into(),
            legal_basis: "Bilateral agreement, art. 4".into(),
            retention_days: 365,
        }
    }

    #[test]
    fn tokens_round_trip_and_order_by_restriction() {
        for t in Tlp::ALL {
            assert_eq!(t.as_str().parse::<Tlp>(), Ok(*t));
        }
        assert_eq!(Tlp::AmberStrict.as_str(), "amber-strict");
        assert_eq!(Tlp::AmberStrict.label(), "TLP:AMBER+STRICT");
        assert!(
            Tlp::Clear < Tlp::Green && Tlp::Amber < Tlp::AmberStrict && Tlp::AmberStrict < Tlp::Red
        );
        assert!("white".parse::<Tlp>().is_err());
    }

    #[test]
    fn valid_handling_is_trimmed() {
        let h = handling().check("/handling").unwrap();
        assert_eq!(h.purpose, "Interdiction of an arms shipment");
    }

    #[test]
    fn every_error_is_reported_with_its_pointer() {
        let bad = Handling {
            tlp: Tlp::Red,
            may_pass_on: true,
            purpose: "  ".into(),
            legal_basis: "x".repeat(MAX_LEGAL_BASIS + 1),
            retention_days: 0,
            ..handling()
        };
        let err = bad.check("/handling").unwrap_err();
        let got: Vec<_> = err
            .0
            .iter()
            .map(|e| (e.pointer.as_str(), e.code.code()))
            .collect();
        assert_eq!(
            got,
            [
                ("/handling/purpose", "empty"),
                ("/handling/legal_basis", "too-long"),
                ("/handling/retention_days", "out-of-range"),
                ("/handling/may_pass_on", "contradictory"),
            ]
        );
        for days in [1, MAX_RETENTION_DAYS] {
            assert!(
                Handling {
                    retention_days: days,
                    ..handling()
                }
                .check("/h")
                .is_ok()
            );
        }
        assert!(
            Handling {
                retention_days: MAX_RETENTION_DAYS + 1,
                ..handling()
            }
            .check("/h")
            .is_err()
        );
        // RED without onward dissemination is fine.
        assert!(
            Handling {
                tlp: Tlp::Red,
                ..handling()
            }
            .check("/h")
            .is_ok()
        );
    }
}
