//! Field-level validation errors: what is wrong, and where (an RFC 6901 JSON pointer).
//!
//! The domain names the problem with a stable code; the web layer turns the code into words in the
//! reader's language. Constructors collect every error rather than stopping at the first, so a
//! user fixes a form in one round.

use std::fmt;

/// Why one field was rejected. The kebab-case name is the stable code clients may match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldErrorCode {
    Missing,
    WrongType {
        expected: &'static str,
    },
    UnknownField,
    UnknownArea,
    UnknownParty,
    /// A party this node has no peer registration for.
    UnknownPeer,
    UnknownIndicator,
    UnknownCommitment,
    DueBeforeStart,
    MissingLanguage {
        lang: &'static str,
    },
    UnknownLanguage,
    TooLong {
        max: usize,
    },
    Empty,
    InvalidFormat {
        expected: &'static str,
    },
    OutOfRange,
    Duplicate,
    /// The field may not change after creation.
    Immutable,
    /// The value does not match what is on record (a current password).
    Mismatch,
    /// The value contradicts another field of the same item (TLP:RED marked as passable).
    Contradictory,
    /// An end instant that is not later than its start (an action window that closes when or
    /// before it opens).
    EndNotAfterStart,
    /// Too little to identify the thing described: none of the field combinations its kind
    /// requires is present (a firearm with neither serial nor make and model).
    Incomplete,
}

impl FieldErrorCode {
    /// The stable machine code, also the Fluent message id suffix.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::WrongType { .. } => "wrong-type",
            Self::UnknownField => "unknown-field",
            Self::UnknownArea => "unknown-area",
            Self::UnknownParty => "unknown-party",
            Self::UnknownPeer => "unknown-peer",
            Self::UnknownIndicator => "unknown-indicator",
            Self::UnknownCommitment => "unknown-commitment",
            Self::DueBeforeStart => "due-before-start",
            Self::MissingLanguage { .. } => "missing-language",
            Self::UnknownLanguage => "unknown-language",
            Self::TooLong { .. } => "too-long",
            Self::Empty => "empty",
            Self::InvalidFormat { .. } => "invalid-format",
            Self::OutOfRange => "out-of-range",
            Self::Duplicate => "duplicate",
            Self::Immutable => "immutable",
            Self::Mismatch => "mismatch",
            Self::Contradictory => "contradictory",
            Self::EndNotAfterStart => "end-not-after-start",
            Self::Incomplete => "incomplete",
        }
    }
}

/// One rejected field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// RFC 6901 JSON pointer to the field, e.g. `/title/es`.
    pub pointer: String,
    pub code: FieldErrorCode,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, code: FieldErrorCode) -> Self {
        Self {
            pointer: pointer.into(),
            code,
        }
    }
}

/// Every reason a draft was rejected; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(pointer: impl Into<String>, code: FieldErrorCode) -> Self {
        Self(vec![FieldError::new(pointer, code)])
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.pointer, e.code.code()))
            .collect();
        write!(f, "invalid input ({})", parts.join(", "))
    }
}

impl std::error::Error for Invalid {}

/// Collects field errors while a constructor checks every field.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, pointer: impl Into<String>, code: FieldErrorCode) {
        self.0.push(FieldError::new(pointer, code));
    }
    pub fn extend(&mut self, other: Invalid) {
        self.0.extend(other.0);
    }
    /// Records the error of a fallible step and returns its value if it succeeded.
    pub fn take<T>(&mut self, r: Result<T, Invalid>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.extend(e);
                None
            }
        }
    }
    /// Whether an error was already recorded at `pointer`.
    pub fn has(&self, pointer: &str) -> bool {
        self.0.iter().any(|e| e.pointer == pointer)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn finish(self) -> Result<(), Invalid> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.0))
        }
    }
}

/// Checks a free-text field: trimmed non-empty, at most `max` characters, and no control
/// characters other than tab and line breaks (a NUL, for one, is not text, and PostgreSQL refuses
/// it).
pub fn check_text(pointer: &str, text: &str, max: usize) -> Result<String, Invalid> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Invalid::one(pointer, FieldErrorCode::Empty));
    }
    if t.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(Invalid::one(
            pointer,
            FieldErrorCode::InvalidFormat { expected: "text" },
        ));
    }
    if t.chars().count() > max {
        return Err(Invalid::one(pointer, FieldErrorCode::TooLong { max }));
    }
    Ok(t.to_owned())
}

/// The largest magnitude a quantity, target or measurement may have. Far beyond any real figure,
/// and small enough that progress arithmetic stays finite.
pub const MAX_QUANTITY: f64 = 1e15;

/// Whether `v` is a number puente accepts as a quantity.
pub fn quantity_ok(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_QUANTITY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(check_text("/t", "  hola ", 10), Ok("hola".to_owned()));
        assert!(check_text("/t", "line one\nline two\ttab", 100).is_ok());
        for bad in ["", "   ", "a\0b", "bell\u{7}", "x".repeat(11).as_str()] {
            assert!(check_text("/t", bad, 10).is_err(), "{bad:?}");
        }
        assert!(quantity_ok(1e15) && !quantity_ok(1e16) && !quantity_ok(f64::NAN));
    }
}
