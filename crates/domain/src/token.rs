//! Closed vocabularies named by stable kebab-case tokens (`flash`, `amber-strict`, `no-trace`).
//!
//! One macro writes `ALL`, `as_str`, `Display` and `FromStr` for each such enum, so every
//! vocabulary of the federation spells and parses its tokens the same way as `Role` and `Status`.

/// The text is not one of a vocabulary's tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {token:?}")]
pub struct UnknownToken {
    /// The vocabulary, e.g. `urgency`.
    pub what: &'static str,
    /// The rejected text, cut to 32 characters.
    pub token: String,
}

/// `tokens! { /// doc  pub enum Name: "vocabulary" { /// doc  Variant = "token", … } }`
macro_rules! tokens {
    (
        $(#[$m:meta])*
        $vis:vis enum $name:ident : $what:literal {
            $( $(#[$vm:meta])* $v:ident = $tok:literal ),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vm])* $v ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            /// The stable token used in the API, the database and the exchange.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$v => $tok ),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::token::UnknownToken;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|x| x.as_str() == s)
                    .ok_or_else(|| $crate::token::UnknownToken {
                        what: $what,
                        token: s.chars().take(32).collect(),
                    })
            }
        }
    };
}

pub(crate) use tokens;
