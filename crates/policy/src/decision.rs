//! The answer to an authorization question, and for a denial, which rule refused and why.

use std::fmt;

/// The rule a [`Denial`] names when no policy permitted the request, or when the decision could
/// not be evaluated (the engine fails closed).
pub const DEFAULT_DENY: &str = "default-deny";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(Denial),
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow)
    }

    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Decision::Allow => None,
            Decision::Deny(d) => Some(d),
        }
    }
}

/// Why a request was refused, for the user's error message and the node's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The `@id` of the forbid policy that denied, or [`DEFAULT_DENY`] when no permit matched
    /// (or evaluation failed).
    pub rule: String,
    /// One English sentence for logs, e.g. "no policy permits role analyst to update commitment".
    pub explanation: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.explanation, self.rule)
    }
}
