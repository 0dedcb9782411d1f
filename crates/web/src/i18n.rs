//! Messages in English and Spanish from the Fluent files in `locales/`, and the choice of
//! language for a request (`Accept-Language`, `es` and `es-MX` → Spanish; English otherwise).

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use puente_domain::Lang;
use unic_langid::LanguageIdentifier;

const EN: &str = include_str!("../locales/en/puente.ftl");
const ES: &str = include_str!("../locales/es/puente.ftl");

pub struct I18n {
    en: FluentBundle<FluentResource>,
    es: FluentBundle<FluentResource>,
}

fn bundle(tag: &str, source: &'static str) -> FluentBundle<FluentResource> {
    let id: LanguageIdentifier = tag.parse().unwrap_or_default();
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // Isolation marks would end up inside JSON strings; our arguments are plain values.
    b.set_use_isolating(false);
    // The files ship inside the binary and a unit test parses them strictly, so a failure here
    // can only be a partial resource; keep what parsed.
    let resource = match FluentResource::try_new(source.to_owned()) {
        Ok(r) => r,
        Err((r, _)) => r,
    };
    if let Err(errors) = b.add_resource(resource) {
        tracing::error!(?errors, tag, "duplicate Fluent messages");
    }
    b
}

impl Default for I18n {
    fn default() -> Self {
        Self::new()
    }
}

impl I18n {
    pub fn new() -> Self {
        Self {
            en: bundle("en", EN),
            es: bundle("es", ES),
        }
    }

    /// The message `id` in `lang` with `args`; the id itself if the message is missing (a unit
    /// test keeps both files complete, so this is only a last resort).
    pub fn t(&self, lang: Lang, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let b = match lang {
            Lang::En => &self.en,
            Lang::Es => &self.es,
        };
        let Some(pattern) = b.get_message(id).and_then(|m| m.value()) else {
            return id.to_owned();
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, v.clone());
        }
        let mut errors = vec![];
        b.format_pattern(pattern, Some(&fargs), &mut errors)
            .into_owned()
    }
}

/// Picks English or Spanish from an `Accept-Language` header by quality, English by default.
pub fn negotiate(accept_language: Option<&str>) -> Lang {
    let Some(header) = accept_language else {
        return Lang::En;
    };
    let mut best: Option<(f32, Lang)> = None;
    for part in header.split(',') {
        let mut it = part.trim().split(';');
        let tag = it.next().unwrap_or("").trim();
        let q = it
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        if let Some(lang) = Lang::from_tag(tag) {
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
    }
    best.map_or(Lang::En, |(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(source: &str) -> Vec<String> {
        let r = FluentResource::try_new(source.to_owned()).expect("parses without errors");
        r.entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn both_languages_have_the_same_messages() {
        let (mut en, mut es) = (ids(EN), ids(ES));
        en.sort();
        es.sort();
        assert!(en.len() > 40);
        assert_eq!(en, es);
    }

    #[test]
    fn no_message_is_defined_twice() {
        // A second definition silently replaces the first in the bundle.
        for (tag, source) in [("en", EN), ("es", ES)] {
            let mut all = ids(source);
            all.sort();
            let twice: Vec<&String> = all
                .windows(2)
                .filter(|w| w[0] == w[1])
                .map(|w| &w[0])
                .collect();
            assert!(twice.is_empty(), "{tag}: defined twice: {twice:?}");
        }
    }

    #[test]
    fn negotiation_follows_quality() {
        assert_eq!(negotiate(None), Lang::En);
        assert_eq!(negotiate(Some("es")), Lang::Es);
        assert_eq!(negotiate(Some("es-MX,es;q=0.9,en;q=0.8")), Lang::Es);
        assert_eq!(negotiate(Some("fr-FR, en;q=0.5, es;q=0.7")), Lang::Es);
        assert_eq!(negotiate(Some("en-US,es;q=0.3")), Lang::En);
        assert_eq!(negotiate(Some("fr")), Lang::En);
        assert_eq!(negotiate(Some("es;q=0")), Lang::En);
    }

    #[test]
    fn messages_take_arguments_in_both_languages() {
        let i = I18n::new();
        let args = [("max", FluentValue::from(200))];
        assert_eq!(
            i.t(Lang::En, "field-too-long", &args),
            "Too long: at most 200."
        );
        assert_eq!(
            i.t(Lang::Es, "field-too-long", &args),
            "Demasiado largo: 200 como máximo."
        );
        let lang = [("lang", FluentValue::from("es"))];
        assert_eq!(
            i.t(Lang::Es, "field-missing-language", &lang),
            "Falta el texto en español."
        );
    }
}
