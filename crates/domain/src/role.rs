//! The roles a node's users hold. What each role may do is decided by the policy crate.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Administrator,
    ProgramOfficer,
    LiaisonOfficer,
    Analyst,
    AgencyUser,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Administrator,
        Role::ProgramOfficer,
        Role::LiaisonOfficer,
        Role::Analyst,
        Role::AgencyUser,
        Role::Auditor,
    ];

    /// The kebab-case name used in the API, the CLI, the database and the Cedar policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::ProgramOfficer => "program-officer",
            Role::LiaisonOfficer => "liaison-officer",
            Role::Analyst => "analyst",
            Role::AgencyUser => "agency-user",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the six role names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}

/// A user's login name: 1–64 lower-case letters, digits, `.`, `_` or `-`, starting with a letter
/// or digit. One rule for the API and the command line, so no lookalike names (`Admin`) exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserName(String);

impl UserName {
    pub const MAX: usize = 64;

    pub fn parse(s: &str) -> Result<UserName, crate::Invalid> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(UserName(s.to_owned()))
        } else {
            Err(crate::Invalid::one(
                "/name",
                crate::FieldErrorCode::InvalidFormat {
                    expected: "user-name",
                },
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_are_lower_case_and_plain() {
        for ok in ["admin", "ana.lopez", "cbp_1", "9x"] {
            assert!(UserName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Admin",
            "-x",
            ".x",
            "a b",
            "ñandú",
            &"a".repeat(65),
            "a\0",
        ] {
            assert!(UserName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
