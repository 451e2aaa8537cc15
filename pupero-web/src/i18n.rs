//! The site's languages: Fluent messages in `locales/{en,fr}/main.ftl`, the choice of language
//! (the switch's cookie, then `Accept-Language`, then English), and the translator templates
//! receive.
//!
//! A message missing from either language fails a test (`every_key_in_both_languages`), as does
//! a key a template or handler uses that English lacks; at run time a missing key shows the key
//! itself, never an empty string.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language of the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// English, the fallback.
    En,
    /// French.
    Fr,
}

/// The name of the cookie the language switch sets.
pub const LANG_COOKIE: &str = "lang";

impl Locale {
    /// Every language, in the order the switch lists them.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Fr];

    /// The BCP 47 tag (`<html lang>`, the cookie's value, `/lang/{tag}`).
    pub const fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Fr => "fr",
        }
    }

    /// The language of a tag (`fr`, `fr-FR`, `FR-ca`...); `None` for one the site lacks.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.split(['-', '_']).next()?.trim();
        Locale::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(primary))
    }

    /// The first language of an `Accept-Language` header the site speaks, by quality.
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut best: Option<(u16, Locale)> = None;
        for item in header.split(',').take(MAX_ACCEPT_LANGUAGE_ITEMS) {
            let mut parts = item.split(';');
            let Some(locale) = parts.next().and_then(Locale::from_tag) else {
                continue;
            };
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(1000, parse_quality);
            if quality > 0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, locale));
            }
        }
        best.map(|(_, locale)| locale)
    }

    /// The language of a request: the switch's cookie, else `Accept-Language`, else English.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Locale {
        cookie
            .and_then(Locale::from_tag)
            .or_else(|| accept_language.and_then(Locale::from_accept_language))
            .unwrap_or(Locale::En)
    }
}

/// Items of `Accept-Language` looked at: browsers send a handful; a longer list is noise.
const MAX_ACCEPT_LANGUAGE_ITEMS: usize = 16;

/// A `q=` value in thousandths (`0.8` → 800); malformed values count as 0 (not acceptable).
fn parse_quality(q: &str) -> u16 {
    let (whole, fraction) = q.trim().split_once('.').unwrap_or((q.trim(), ""));
    let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
    match (whole, digits.parse::<u16>()) {
        ("1", _) => 1000,
        ("0", Ok(thousandths)) => thousandths,
        _ => 0,
    }
}

/// The English and French messages.
pub(crate) const SOURCES: [(Locale, &str); 2] = [
    (Locale::En, include_str!("../locales/en/main.ftl")),
    (Locale::Fr, include_str!("../locales/fr/main.ftl")),
];

struct Bundles {
    en: FluentBundle<FluentResource>,
    fr: FluentBundle<FluentResource>,
}

static BUNDLES: LazyLock<Bundles> = LazyLock::new(|| {
    let bundle = |locale: Locale| {
        let source = SOURCES
            .iter()
            .find(|(l, _)| *l == locale)
            .map(|(_, s)| *s)
            .unwrap_or_default();
        let resource =
            FluentResource::try_new(source.to_owned()).unwrap_or_else(|(resource, errors)| {
                tracing::error!(?errors, lang = locale.tag(), "messages do not parse");
                resource
            });
        let lang: unic_langid::LanguageIdentifier = locale.tag().parse().unwrap_or_default();
        let mut bundle = FluentBundle::new_concurrent(vec![lang]);
        // The page is HTML with `dir="auto"` and `<bdi>` where user text goes; Unicode
        // isolation marks in every message would only get in the way of copying.
        bundle.set_use_isolating(false);
        if let Err(errors) = bundle.add_resource(resource) {
            tracing::error!(?errors, lang = locale.tag(), "duplicate messages");
        }
        bundle
    };
    Bundles {
        en: bundle(Locale::En),
        fr: bundle(Locale::Fr),
    }
});

/// The translator of one request: `t.t("key")`, `t.a("key", &[("name", value)])`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    /// The request's language.
    pub locale: Locale,
}

impl Tr {
    /// A translator for `locale`.
    pub const fn new(locale: Locale) -> Tr {
        Tr { locale }
    }

    /// The message `key`.
    pub fn t(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// The message `key` with string arguments.
    pub fn a(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            fluent.set(*name, FluentValue::from(*value));
        }
        self.format(key, Some(&fluent))
    }

    /// The message `key` with one number argument `n` (plural forms follow the language).
    pub fn n(&self, key: &str, n: impl std::borrow::Borrow<u64>) -> String {
        let mut fluent = FluentArgs::new();
        fluent.set("n", FluentValue::from(*n.borrow()));
        self.format(key, Some(&fluent))
    }

    fn format(&self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        let bundles = &*BUNDLES;
        let bundle = match self.locale {
            Locale::En => &bundles.en,
            Locale::Fr => &bundles.fr,
        };
        let message = bundle
            .get_message(key)
            .or_else(|| bundles.en.get_message(key))
            .and_then(|m| m.value());
        let Some(pattern) = message else {
            tracing::warn!(key, "missing message");
            return key.to_owned();
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(key, ?errors, "message arguments");
        }
        text.into_owned()
    }

    /// The `<html lang>` tag.
    pub fn lang(&self) -> &'static str {
        self.locale.tag()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_the_cookie_then_the_header() {
        assert_eq!(Locale::negotiate(Some("fr"), Some("en")), Locale::Fr);
        assert_eq!(
            Locale::negotiate(Some("de"), Some("fr-FR,fr;q=0.9")),
            Locale::Fr
        );
        assert_eq!(
            Locale::negotiate(None, Some("de-DE,fr;q=0.5,en;q=0.7")),
            Locale::En
        );
        assert_eq!(Locale::negotiate(None, Some("de, fr;q=0.1")), Locale::Fr);
        assert_eq!(Locale::negotiate(None, Some("fr;q=0")), Locale::En);
        assert_eq!(Locale::negotiate(None, None), Locale::En);
    }

    #[test]
    fn plurals_follow_the_language() {
        let en = Tr::new(Locale::En);
        let fr = Tr::new(Locale::Fr);
        assert_eq!(en.n("confirmations", 0), "0 confirmations");
        assert_eq!(en.n("confirmations", 1), "1 confirmation");
        assert_eq!(fr.n("confirmations", 0), "0 confirmation");
        assert_eq!(fr.n("confirmations", 2), "2 confirmations");
    }
}

/// Every message the site can ask for exists in both languages.
#[cfg(test)]
mod keys {
    use std::collections::BTreeSet;

    use fluent_bundle::FluentResource;
    use fluent_syntax::ast::Entry;

    use super::SOURCES;

    fn ids(source: &str) -> BTreeSet<String> {
        let resource = FluentResource::try_new(source.to_owned()).expect("messages parse");
        resource
            .entries()
            .filter_map(|entry| match entry {
                Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    fn english() -> BTreeSet<String> {
        ids(SOURCES[0].1)
    }

    /// Everything a template prints is escaped: no template opts out with `|safe`.
    #[test]
    fn no_template_prints_unescaped() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
        for entry in std::fs::read_dir(dir).expect("templates") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("template");
            for word in ["|safe", "| safe", "escape=\"none\""] {
                assert!(!text.contains(word), "{} uses {word}", path.display());
            }
        }
    }

    #[test]
    fn every_key_in_both_languages() {
        let en = english();
        let fr = ids(SOURCES[1].1);
        assert_eq!(
            en.symmetric_difference(&fr).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "messages in one language only"
        );
    }

    /// `"key"` literals passed to `t(`, `.a(`, `.n(` in the templates, and literals of
    /// message-like shape (`word-word`) in the sources whose first word starts a message.
    fn used_keys() -> BTreeSet<String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/");
        let mut used = BTreeSet::new();
        let read = |sub: &str| {
            std::fs::read_dir(format!("{dir}{sub}"))
                .expect("directory")
                .map(|e| e.expect("entry").path())
                .filter(|p| p.is_file())
                .map(|p| std::fs::read_to_string(p).expect("file"))
                .collect::<Vec<_>>()
        };
        for template in read("templates") {
            for call in [".t(\"", ".a(\"", ".n(\""] {
                for part in template.split(call).skip(1) {
                    used.insert(part.split('"').next().unwrap_or_default().to_owned());
                }
            }
        }
        let prefixes: BTreeSet<String> = english()
            .iter()
            .filter_map(|k| k.split('-').next().map(str::to_owned))
            .collect();
        let mut sources = read("src");
        sources.extend(read("src/pages"));
        for source in sources {
            for literal in source.split('"').skip(1).step_by(2) {
                let shaped = literal.contains('-')
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                let first = literal.split('-').next().unwrap_or_default();
                if shaped && prefixes.contains(first) && !NOT_MESSAGES.contains(&literal) {
                    used.insert(literal.to_owned());
                }
            }
        }
        used
    }

    /// Literals of a message's shape that are not messages.
    const NOT_MESSAGES: &[&str] = &["no-store", "one-time-code"];

    #[test]
    fn every_key_used_exists() {
        let en = english();
        let mut used = used_keys();
        // Keys built from the API's closed sets.
        let sets: [(&str, Vec<&str>); 9] = [
            (
                "state",
                pupero_sdk::TradeState::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect(),
            ),
            (
                "event",
                pupero_sdk::EventKind::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect(),
            ),
            (
                "code",
                pupero_sdk::TransferCode::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect(),
            ),
            (
                "entry",
                pupero_sdk::EntryStatus::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect(),
            ),
            (
                "deposit",
                pupero_sdk::DepositState::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect(),
            ),
            (
                "withdrawal",
                pupero_sdk::WithdrawalState::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect(),
            ),
            (
                "offer-status",
                pupero_sdk::OfferStatus::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect(),
            ),
            (
                "rating",
                pupero_sdk::Rating::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (
                "box",
                vec![
                    "escrowed-buyer",
                    "escrowed-seller",
                    "escrowed-other",
                    "paid-buyer",
                    "paid-seller",
                    "paid-other",
                    "released",
                    "cancelled",
                    "expired",
                    "disputed",
                    "resolved",
                ],
            ),
        ];
        for (prefix, values) in sets {
            for value in values {
                used.insert(format!("{prefix}-{}", value.replace('_', "-")));
            }
        }
        used.extend(
            crate::pages::API_CODES_WITH_MESSAGES
                .iter()
                .map(|code| crate::pages::api_key(*code)),
        );
        let missing: Vec<&String> = used.iter().filter(|k| !en.contains(*k)).collect();
        assert!(missing.is_empty(), "messages used but missing: {missing:?}");
        assert!(used.len() > 200, "the scan found the keys ({})", used.len());
    }
}
