//! Parties (the governments taking part) and their codes.
//!
//! A party is named by its ISO 3166-1 alpha-2 code. The United States and Mexico ship as presets
//! with names in English and Spanish; any other officially assigned code is accepted, named by its
//! code until its node says otherwise.

use std::fmt;
use std::str::FromStr;

use crate::error::{FieldErrorCode, Invalid};
use crate::lang::{Lang, LocalizedText};

/// The officially assigned ISO 3166-1 alpha-2 codes (249), space-separated.
const ISO_3166_1_ALPHA_2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY \
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY \
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY \
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ \
VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// Which of the 26 × 26 two-letter codes are assigned, indexed by `(first − 'A') · 26 + (second −
/// 'A')`. Built at compile time from the list above: every envelope header names two parties,
/// and scanning the list for each was a visible share of a node's CPU under load.
const ASSIGNED: [bool; 26 * 26] = {
    let list = ISO_3166_1_ALPHA_2.as_bytes();
    let mut table = [false; 26 * 26];
    let mut i = 0;
    while i + 1 < list.len() {
        table[(list[i] - b'A') as usize * 26 + (list[i + 1] - b'A') as usize] = true;
        i += 3;
    }
    table
};

/// An ISO 3166-1 alpha-2 code that is officially assigned. Only `parse` makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartyCode([u8; 2]);

impl PartyCode {
    /// Accepts exactly two upper-case letters forming an assigned code.
    pub fn parse(s: &str) -> Result<Self, UnknownPartyCode> {
        let b = s.as_bytes();
        if b.len() == 2
            && b.iter().all(u8::is_ascii_uppercase)
            && ASSIGNED[usize::from(b[0] - b'A') * 26 + usize::from(b[1] - b'A')]
        {
            Ok(Self([b[0], b[1]]))
        } else {
            Err(UnknownPartyCode(s.chars().take(8).collect()))
        }
    }

    /// Like `parse`, as a field error at `pointer`.
    pub fn parse_field(pointer: &str, s: &str) -> Result<Self, Invalid> {
        Self::parse(s).map_err(|_| Invalid::one(pointer, FieldErrorCode::UnknownParty))
    }

    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII upper-case letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    pub const US: PartyCode = PartyCode(*b"US");
    pub const MX: PartyCode = PartyCode(*b"MX");
}

impl fmt::Display for PartyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PartyCode {
    type Err = UnknownPartyCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The text is not an assigned ISO 3166-1 alpha-2 code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an ISO 3166-1 alpha-2 party code")]
pub struct UnknownPartyCode(pub String);

/// A party with its display name in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub code: PartyCode,
    pub name: LocalizedText,
}

impl Party {
    /// The preset for `code`: the United States and Mexico have names; any other code is its own name.
    pub fn preset(code: PartyCode) -> Party {
        let (en, es) = match code.as_str() {
            "US" => ("United States", "Estados Unidos"),
            "MX" => ("Mexico", "México"),
            other => (other, other),
        };
        Party {
            code,
            name: LocalizedText::from_pair(en, es),
        }
    }

    pub fn name_in(&self, lang: Lang) -> &str {
        self.name.get(lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_codes_parse_and_others_do_not() {
        assert_eq!(ISO_3166_1_ALPHA_2.split(' ').count(), 249);
        for ok in ["US", "MX", "HT", "JM", "TT", "CA"] {
            assert_eq!(
                PartyCode::parse(ok).map(|p| p.to_string()),
                Ok(ok.to_owned())
            );
        }
        for bad in ["us", "XX", "USA", "", "U", "ZZ", "EU"] {
            assert!(PartyCode::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_table_holds_exactly_the_listed_codes() {
        let listed: Vec<&str> = ISO_3166_1_ALPHA_2.split(' ').collect();
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b]).unwrap();
                assert_eq!(
                    PartyCode::parse(&code).is_ok(),
                    listed.contains(&code.as_str()),
                    "{code}"
                );
            }
        }
        assert_eq!(ASSIGNED.iter().filter(|x| **x).count(), 249);
    }

    #[test]
    fn presets_are_bilingual() {
        let mx = Party::preset(PartyCode::MX);
        assert_eq!(mx.name_in(Lang::Es), "México");
        assert_eq!(mx.name_in(Lang::En), "Mexico");
        let ht = Party::preset(PartyCode::parse("HT").unwrap());
        assert_eq!(ht.name_in(Lang::En), "HT");
    }
}
