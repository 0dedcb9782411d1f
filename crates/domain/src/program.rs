//! The joint program: its measure areas, loaded from a bilingual data file shipped with puente.

use std::fmt;

use crate::error::{FieldErrorCode, Invalid};
use crate::lang::LocalizedText;

/// A measure area's code: lower-case ASCII letters and dashes, 2–40 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AreaCode(String);

impl AreaCode {
    pub fn parse(s: &str) -> Option<AreaCode> {
        let ok = (2..=40).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        ok.then(|| AreaCode(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One of the areas of measures of the joint statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureArea {
    pub code: AreaCode,
    pub name: LocalizedText,
    pub description: LocalizedText,
}

/// The program the implementation group follows up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    areas: Vec<MeasureArea>,
}

impl Program {
    /// A program needs at least one area and no code twice.
    pub fn new(areas: Vec<MeasureArea>) -> Result<Program, Invalid> {
        if areas.is_empty() {
            return Err(Invalid::one("/areas", FieldErrorCode::Empty));
        }
        for (i, a) in areas.iter().enumerate() {
            if areas[..i].iter().any(|b| b.code == a.code) {
                return Err(Invalid::one(
                    format!("/areas/{i}/code"),
                    FieldErrorCode::Duplicate,
                ));
            }
        }
        Ok(Program { areas })
    }

    pub fn areas(&self) -> &[MeasureArea] {
        &self.areas
    }

    pub fn area(&self, code: &str) -> Option<&MeasureArea> {
        self.areas.iter().find(|a| a.code.as_str() == code)
    }

    /// Resolves an area code given at `pointer`, or says it is unknown.
    pub fn parse_area(&self, pointer: &str, code: &str) -> Result<AreaCode, Invalid> {
        self.area(code)
            .map(|a| a.code.clone())
            .ok_or_else(|| Invalid::one(pointer, FieldErrorCode::UnknownArea))
    }
}
