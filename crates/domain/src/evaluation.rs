//! The evaluation of a piece of intelligence: how reliable its source is and how credible the
//! information itself is, on the 4×4 ("4x4") scale Europol and UK law enforcement use.
//!
//! The two grades are independent: a reliable source may pass on hearsay (A3), and an unknown
//! source may report what the officer can verify (X1). Both travel with every referral so the
//! receiving party weighs it as the sending party did.

use std::fmt;

use crate::token::tokens;

tokens! {
    /// How reliable the source is (the letter of the grade).
    pub enum SourceReliability: "source reliability" {
        /// Always reliable: no doubt about the source's authenticity, trustworthiness and
        /// competence, or a history of complete reliability.
        A = "A",
        /// Mostly reliable: information from this source has in most instances proved reliable.
        B = "B",
        /// Not reliable: information from this source has in most instances proved unreliable.
        C = "C",
        /// Cannot be judged: the source is new or its reliability cannot be assessed.
        X = "X",
    }
}

tokens! {
    /// How credible the information is (the digit of the grade).
    pub enum InfoCredibility: "information credibility" {
        /// 1 — known to be true without reservation.
        KnownTrue = "1",
        /// 2 — known personally to the source but not to the officer passing it on.
        KnownToSource = "2",
        /// 3 — not known personally to the source, but corroborated by information already held.
        Corroborated = "3",
        /// 4 — cannot be judged.
        CannotBeJudged = "4",
    }
}

impl InfoCredibility {
    /// The grade as its digit, 1 to 4.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::KnownTrue => 1,
            Self::KnownToSource => 2,
            Self::Corroborated => 3,
            Self::CannotBeJudged => 4,
        }
    }

    pub fn from_u8(n: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_u8() == n)
    }
}

/// A 4×4 grade such as `B2`. Any combination is meaningful, so there is nothing to validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Evaluation {
    pub reliability: SourceReliability,
    pub credibility: InfoCredibility,
}

impl fmt::Display for Evaluation {
    /// The conventional two-character code: `B2`, `X4`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.reliability, self.credibility)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_round_trip_and_print_as_a_code() {
        for r in SourceReliability::ALL {
            assert_eq!(r.as_str().parse::<SourceReliability>(), Ok(*r));
        }
        for c in InfoCredibility::ALL {
            assert_eq!(c.as_str().parse::<InfoCredibility>(), Ok(*c));
            assert_eq!(InfoCredibility::from_u8(c.as_u8()), Some(*c));
        }
        assert!("D".parse::<SourceReliability>().is_err());
        assert!("5".parse::<InfoCredibility>().is_err());
        assert_eq!(InfoCredibility::from_u8(0), None);
        let e = Evaluation {
            reliability: SourceReliability::B,
            credibility: InfoCredibility::KnownToSource,
        };
        assert_eq!(e.to_string(), "B2");
    }
}
