//! Reporting periods, written as DHIS2 writes them: `2025` (year), `2025Q3` (quarter),
//! `2025-09` (month).

use std::cmp::Ordering;
use std::fmt;

use time::{Date, Month};

use crate::error::{FieldErrorCode, Invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Year(i32),
    Quarter(i32, u8),
    Month(i32, u8),
}

impl Period {
    /// Parses a DHIS2 period id of one of the three supported kinds, years 1900–2200.
    pub fn parse(s: &str) -> Option<Period> {
        let year = |y: &str| -> Option<i32> {
            (y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
                .then(|| y.parse().ok())
                .flatten()
                .filter(|y| (1900..=2200).contains(y))
        };
        if let Some((y, q)) = s.split_once('Q') {
            let q: u8 = (q.len() == 1).then(|| q.parse().ok()).flatten()?;
            return (1..=4).contains(&q).then_some(Period::Quarter(year(y)?, q));
        }
        if let Some((y, m)) = s.split_once('-') {
            let m: u8 = (m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit()))
                .then(|| m.parse().ok())
                .flatten()?;
            return (1..=12).contains(&m).then_some(Period::Month(year(y)?, m));
        }
        Some(Period::Year(year(s)?))
    }

    pub fn parse_field(pointer: &str, s: &str) -> Result<Period, Invalid> {
        Period::parse(s).ok_or_else(|| {
            Invalid::one(
                pointer,
                FieldErrorCode::InvalidFormat { expected: "period" },
            )
        })
    }

    /// First day of the period.
    pub fn start(self) -> Date {
        let (y, m) = match self {
            Period::Year(y) => (y, 1),
            Period::Quarter(y, q) => (y, (q - 1) * 3 + 1),
            Period::Month(y, m) => (y, m),
        };
        month_start(y, m)
    }

    /// Last day of the period.
    pub fn end(self) -> Date {
        let (y, m) = match self {
            Period::Year(y) => (y, 12),
            Period::Quarter(y, q) => (y, q * 3),
            Period::Month(y, m) => (y, m),
        };
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        month_start(ny, nm).previous_day().unwrap_or(Date::MIN)
    }
}

fn month_start(y: i32, m: u8) -> Date {
    Month::try_from(m)
        .ok()
        .and_then(|m| Date::from_calendar_date(y, m, 1).ok())
        .unwrap_or(Date::MIN)
}

/// Periods order by their end, then by their start: `2025Q3` sorts after `2025-08` and before
/// `2025-09`'s year `2025`.
impl Ord for Period {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.end(), self.start()).cmp(&(other.end(), other.start()))
    }
}

impl PartialOrd for Period {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(y) => write!(f, "{y}"),
            Period::Quarter(y, q) => write!(f, "{y}Q{q}"),
            Period::Month(y, m) => write!(f, "{y}-{m:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn parses_the_three_dhis2_kinds() {
        assert_eq!(Period::parse("2025"), Some(Period::Year(2025)));
        assert_eq!(Period::parse("2025Q3"), Some(Period::Quarter(2025, 3)));
        assert_eq!(Period::parse("2025-09"), Some(Period::Month(2025, 9)));
        for bad in [
            "25", "2025Q5", "2025Q0", "2025-13", "2025-9", "2025W1", "", "abcd", "2025-",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bounds_and_display() {
        let q = Period::Quarter(2025, 3);
        assert_eq!(
            (q.start(), q.end()),
            (date!(2025 - 07 - 01), date!(2025 - 09 - 30))
        );
        assert_eq!(Period::Month(2024, 2).end(), date!(2024 - 02 - 29));
        assert_eq!(Period::Year(2025).end(), date!(2025 - 12 - 31));
        for s in ["2025", "2025Q1", "2025-01"] {
            assert_eq!(Period::parse(s).unwrap().to_string(), s);
        }
        assert!(Period::Month(2025, 8) < Period::Quarter(2025, 3));
        assert!(Period::Quarter(2025, 3) < Period::Month(2025, 10));
    }
}
