//! Commitments (owned by one party, or joint between two) and the actions a party takes on them.

use time::Date;
use uuid::Uuid;

use crate::error::{Errors, FieldErrorCode, Invalid, check_text};
use crate::lang::LocalizedText;
use crate::party::PartyCode;
use crate::program::AreaCode;
use crate::record::RecordMeta;
use crate::status::StatusSchedule;

pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 4000;
pub const MAX_AGENCY: usize = 200;
pub const MAX_INDICATORS: usize = 50;
pub const MAX_OUTPUTS: usize = 50;
pub const MAX_EVIDENCE: usize = 50;
pub const MAX_EVIDENCE_REF: usize = 500;
pub const MAX_UNIT: usize = 32;
pub const MAX_WHAT: usize = 200;

/// Who owns a commitment: one party, or two (a joint commitment, changed only when both sign).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owners {
    One(PartyCode),
    /// Two distinct parties, in code order.
    Joint(PartyCode, PartyCode),
}

impl Owners {
    /// One or two distinct parties, given at `pointer`.
    pub fn new(pointer: &str, parties: &[PartyCode]) -> Result<Owners, Invalid> {
        match parties {
            [a] => Ok(Owners::One(*a)),
            [a, b] if a != b => Ok(Owners::Joint(*a.min(b), *a.max(b))),
            [_, _] => Err(Invalid::one(
                format!("{pointer}/1"),
                FieldErrorCode::Duplicate,
            )),
            [] => Err(Invalid::one(pointer, FieldErrorCode::Empty)),
            _ => Err(Invalid::one(pointer, FieldErrorCode::OutOfRange)),
        }
    }

    pub fn parties(&self) -> Vec<PartyCode> {
        match *self {
            Owners::One(a) => vec![a],
            Owners::Joint(a, b) => vec![a, b],
        }
    }

    pub fn is_joint(&self) -> bool {
        matches!(self, Owners::Joint(..))
    }

    pub fn includes(&self, p: PartyCode) -> bool {
        self.parties().contains(&p)
    }
}

/// A checked commitment body. Only [`CommitmentDraft::new`] makes one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CommitmentDraft {
    pub area: AreaCode,
    pub title: LocalizedText,
    pub description: LocalizedText,
    pub owners: Owners,
    pub agency: String,
    pub start: Date,
    pub due: Date,
    /// Ids of the indicators the commitment serves; distinct.
    pub indicators: Vec<Uuid>,
}

impl CommitmentDraft {
    /// Checks the cross-field rules: agency text, due not before start, indicators distinct.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        area: AreaCode,
        title: LocalizedText,
        description: LocalizedText,
        owners: Owners,
        agency: &str,
        start: Date,
        due: Date,
        indicators: Vec<Uuid>,
    ) -> Result<Self, Invalid> {
        let mut errors = Errors::new();
        let agency = errors.take(check_text("/agency", agency, MAX_AGENCY));
        if due < start {
            errors.push("/due", FieldErrorCode::DueBeforeStart);
        }
        if indicators.len() > MAX_INDICATORS {
            errors.push(
                "/indicators",
                FieldErrorCode::TooLong {
                    max: MAX_INDICATORS,
                },
            );
        }
        for (i, id) in indicators.iter().enumerate() {
            if indicators[..i].contains(id) {
                errors.push(format!("/indicators/{i}"), FieldErrorCode::Duplicate);
            }
        }
        errors.finish()?;
        Ok(Self {
            area,
            title,
            description,
            owners,
            agency: agency.unwrap_or_default(),
            start,
            due,
            indicators,
        })
    }
}

/// A stored commitment: its body, its record meta and its status schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Commitment {
    pub meta: RecordMeta,
    pub body: CommitmentDraft,
    pub schedule: StatusSchedule,
}

/// A quantity an action produced, e.g. 120 kg of fentanyl seized.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub value: f64,
    pub unit: String,
    pub what: String,
}

impl Output {
    /// A finite, non-negative value with a unit and what was counted, found at `pointer`.
    pub fn new(pointer: &str, value: f64, unit: &str, what: &str) -> Result<Output, Invalid> {
        let mut errors = Errors::new();
        if !crate::error::quantity_ok(value) || value < 0.0 {
            errors.push(format!("{pointer}/value"), FieldErrorCode::OutOfRange);
        }
        let unit = errors.take(check_text(&format!("{pointer}/unit"), unit, MAX_UNIT));
        let what = errors.take(check_text(&format!("{pointer}/what"), what, MAX_WHAT));
        errors.finish()?;
        Ok(Output {
            value,
            unit: unit.unwrap_or_default(),
            what: what.unwrap_or_default(),
        })
    }
}

/// A checked action body: something a party did within its own territory. Only `new` makes one.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ActionDraft {
    pub commitment: Uuid,
    pub date: Date,
    pub agency: String,
    pub description: LocalizedText,
    pub outputs: Vec<Output>,
    /// References to evidence held by the acting party (case numbers, document ids, URLs).
    pub evidence: Vec<String>,
    /// This action completes the commitment (the tunnel is sealed, the law is enacted).
    pub completes: bool,
}

impl ActionDraft {
    pub fn new(
        commitment: Uuid,
        date: Date,
        agency: &str,
        description: LocalizedText,
        outputs: Vec<Output>,
        evidence: Vec<String>,
        completes: bool,
    ) -> Result<Self, Invalid> {
        let mut errors = Errors::new();
        let agency = errors.take(check_text("/agency", agency, MAX_AGENCY));
        if outputs.len() > MAX_OUTPUTS {
            errors.push("/outputs", FieldErrorCode::TooLong { max: MAX_OUTPUTS });
        }
        if evidence.len() > MAX_EVIDENCE {
            errors.push("/evidence", FieldErrorCode::TooLong { max: MAX_EVIDENCE });
        }
        let evidence: Vec<String> = evidence
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                errors.take(check_text(&format!("/evidence/{i}"), e, MAX_EVIDENCE_REF))
            })
            .collect();
        errors.finish()?;
        Ok(Self {
            commitment,
            date,
            agency: agency.unwrap_or_default(),
            description,
            outputs,
            evidence,
            completes,
        })
    }
}

/// A stored action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub meta: RecordMeta,
    pub body: ActionDraft,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn text() -> LocalizedText {
        LocalizedText::from_pair("Seal tunnels", "Sellar túneles")
    }

    #[test]
    fn owners_are_one_or_two_distinct() {
        let (us, mx) = (PartyCode::US, PartyCode::MX);
        assert_eq!(Owners::new("/owners", &[mx, us]), Ok(Owners::Joint(mx, us)));
        assert!(Owners::new("/owners", &[us, us]).is_err());
        assert!(Owners::new("/owners", &[]).is_err());
        assert!(Owners::new("/owners", &[us, mx, us]).is_err());
    }

    #[test]
    fn due_before_start_and_every_other_error_are_reported_together() {
        let id = Uuid::from_u128(7);
        let err = CommitmentDraft::new(
            AreaCode::parse("fuel-theft").unwrap(),
            text(),
            text(),
            Owners::One(PartyCode::MX),
            "  ",
            date!(2025 - 09 - 03),
            date!(2025 - 09 - 02),
            vec![id, id],
        )
        .unwrap_err();
        let codes: Vec<_> = err
            .0
            .iter()
            .map(|e| (e.pointer.as_str(), e.code.code()))
            .collect();
        assert_eq!(
            codes,
            [
                ("/agency", "empty"),
                ("/due", "due-before-start"),
                ("/indicators/1", "duplicate")
            ]
        );
    }

    #[test]
    fn outputs_must_be_finite_and_non_negative() {
        assert!(Output::new("/outputs/0", 120.0, "kg", "fentanyl seized").is_ok());
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(Output::new("/outputs/0", bad, "kg", "x").is_err());
        }
    }
}
