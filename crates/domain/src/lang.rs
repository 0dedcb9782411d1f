//! The two languages every user-facing text exists in, and bilingual text.

use std::fmt;

use crate::error::{Errors, FieldErrorCode, Invalid, check_text};

/// A language puente speaks. Every user-facing string exists in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    En,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// Accepts a BCP 47 tag whose primary subtag is `en` or `es` (`es-MX` is Spanish).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            _ => None,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// Text that exists in English and in Spanish. Only `parse` and `from_pair` make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalizedText {
    en: String,
    es: String,
}

impl LocalizedText {
    /// Validates `{tag: text}` pairs found at `pointer`: both `en` and `es` present, no other
    /// tag, each text non-empty and at most `max` characters. Tags are matched exactly (`en`,
    /// `es`): a regional variant belongs in the text, not the key.
    pub fn parse<'a>(
        pointer: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        max: usize,
    ) -> Result<Self, Invalid> {
        let mut errors = Errors::new();
        let (mut en, mut es) = (None, None);
        for (tag, text) in pairs {
            let p = format!("{pointer}/{}", escape_pointer(tag));
            let slot = match tag {
                "en" => &mut en,
                "es" => &mut es,
                _ => {
                    errors.push(p, FieldErrorCode::UnknownLanguage);
                    continue;
                }
            };
            *slot = errors.take(check_text(&p, text, max));
        }
        for (lang, slot) in [("en", &en), ("es", &es)] {
            if slot.is_none() && !errors.has(&format!("{pointer}/{lang}")) {
                errors.push(
                    format!("{pointer}/{lang}"),
                    FieldErrorCode::MissingLanguage { lang },
                );
            }
        }
        errors.finish()?;
        match (en, es) {
            (Some(en), Some(es)) => Ok(Self { en, es }),
            _ => Err(Invalid::one(pointer, FieldErrorCode::Missing)),
        }
    }

    /// Builds trusted text (presets, shipped data) without checks.
    pub fn from_pair(en: &str, es: &str) -> Self {
        Self {
            en: en.to_owned(),
            es: es.to_owned(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Es => &self.es,
        }
    }

    pub fn en(&self) -> &str {
        &self.en
    }
    pub fn es(&self) -> &str {
        &self.es
    }
}

/// RFC 6901 escaping of one reference token.
pub fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
