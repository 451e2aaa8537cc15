//! What text written by a person may contain: one rule for every field that someone else reads.
//!
//! Chat messages, offer terms and payment details, feedback, usernames, dispute reasons and key
//! names are read by people who act on them, often by paying. A character that draws nothing,
//! or that reorders the text around it, lets a writer show one thing and mean another: U+202E
//! (right-to-left override) makes the digits after it read backwards, U+2066–U+2069 move a
//! reference number elsewhere on the line, U+200B splits a word so that a filter or a search
//! misses it, U+FEFF and U+00AD hide inside an IBAN that a buyer copies. [`check`] refuses every
//! such character by class, from tables of the Unicode Character Database, rather than a list of
//! known tricks: the class is what an attacker has to stay out of.
//!
//! Variation selectors are the one family of invisible characters that stays allowed: they only
//! choose how the visible character before them is drawn (an emoji or its text form, a CJK glyph
//! variant), and ordinary emoji need them.

use std::fmt;

use crate::error::{Error, Result};

/// Every character of general category Cf (format) in Unicode 18.0, as sorted, disjoint,
/// inclusive ranges. Format characters are invisible, or change how the text around them is
/// ordered, joined or broken. A test compares the table with the `unicode-properties` crate's
/// tables, so a newer Unicode version that adds one fails the build's tests until it is added
/// here.
pub const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{AD}', '\u{AD}'),       // soft hyphen
    ('\u{600}', '\u{605}'),     // Arabic number signs
    ('\u{61C}', '\u{61C}'),     // Arabic letter mark
    ('\u{6DD}', '\u{6DD}'),     // Arabic end of ayah
    ('\u{70F}', '\u{70F}'),     // Syriac abbreviation mark
    ('\u{890}', '\u{891}'),     // Arabic pound and piastre marks above
    ('\u{8E2}', '\u{8E2}'),     // Arabic disputed end of ayah
    ('\u{180E}', '\u{180E}'),   // Mongolian vowel separator
    ('\u{200B}', '\u{200F}'),   // zero width space, (non-)joiner, LRM, RLM
    ('\u{202A}', '\u{202E}'),   // bidi embeddings and overrides
    ('\u{2060}', '\u{2064}'),   // word joiner, invisible operators
    ('\u{2066}', '\u{206F}'),   // bidi isolates, deprecated format characters
    ('\u{FEFF}', '\u{FEFF}'),   // zero width no-break space (byte order mark)
    ('\u{FFF9}', '\u{FFFB}'),   // interlinear annotation
    ('\u{110BD}', '\u{110BD}'), // Kaithi number sign
    ('\u{110CD}', '\u{110CD}'), // Kaithi number sign above
    ('\u{13430}', '\u{1343F}'), // Egyptian hieroglyph format controls
    ('\u{1BCA0}', '\u{1BCA3}'), // shorthand format controls
    ('\u{1D173}', '\u{1D17A}'), // musical symbol format controls
    ('\u{E0001}', '\u{E0001}'), // language tag
    ('\u{E0020}', '\u{E007F}'), // tag characters
];

/// The other default-ignorable code points (Unicode's `Default_Ignorable_Code_Point`, which a
/// renderer draws as nothing), less the variation selectors: fillers that are letters by
/// category, joiners that are marks, and the code points reserved in the invisible blocks so
/// that a character assigned there later is refused already. Sorted, disjoint, inclusive.
pub const OTHER_INVISIBLE_CHARACTERS: &[(char, char)] = &[
    ('\u{34F}', '\u{34F}'),     // combining grapheme joiner
    ('\u{115F}', '\u{1160}'),   // Hangul choseong and jungseong fillers
    ('\u{17B4}', '\u{17B5}'),   // Khmer inherent vowels
    ('\u{2065}', '\u{2065}'),   // reserved among the bidi isolates
    ('\u{3164}', '\u{3164}'),   // Hangul filler
    ('\u{FFA0}', '\u{FFA0}'),   // halfwidth Hangul filler
    ('\u{FFF0}', '\u{FFF8}'),   // reserved before the interlinear annotations
    ('\u{E0000}', '\u{E0000}'), // reserved in the tag block
    ('\u{E0002}', '\u{E001F}'), // reserved in the tag block
    ('\u{E0080}', '\u{E00FF}'), // reserved after the tags
    ('\u{E01F0}', '\u{E0FFF}'), // reserved after the variation selectors supplement
];

/// U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, the only characters of categories Zl
/// and Zp: some viewers break the line there and others do not, so the text looks different
/// to the writer and the reader. A newline says the same thing everywhere.
pub const LINE_SEPARATORS: [char; 2] = ['\u{2028}', '\u{2029}'];

/// Whether a text may hold line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lines {
    /// A name or a label: no control character at all.
    One,
    /// A message or a description: newline and tab are the only control characters allowed.
    Many,
}

/// Why a character is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Offence {
    /// A control character (category Cc): carriage returns, escape sequences and NULs corrupt
    /// a terminal, a log or a layout. In a one-line text this includes newline and tab.
    Control,
    /// A format character (category Cf, [`FORMAT_CHARACTERS`]).
    Format,
    /// A line or paragraph separator ([`LINE_SEPARATORS`]).
    Separator,
    /// Another character that draws nothing ([`OTHER_INVISIBLE_CHARACTERS`]).
    Invisible,
}

/// A character that text shown to others may not contain, and why. Its `Display` names the
/// character as `U+XXXX`, since the writer may not be able to see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForbiddenCharacter {
    character: char,
    offence: Offence,
}

impl ForbiddenCharacter {
    /// The character.
    pub const fn character(&self) -> char {
        self.character
    }

    /// Why it is refused.
    pub const fn offence(&self) -> Offence {
        self.offence
    }
}

impl fmt::Display for ForbiddenCharacter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "U+{:04X} is not allowed: {}",
            u32::from(self.character),
            self.offence
        )
    }
}

impl std::error::Error for ForbiddenCharacter {}

impl Offence {
    const fn reason(self) -> &'static str {
        match self {
            Offence::Control => "control characters break how the text is shown",
            Offence::Format => {
                "invisible and direction-changing characters can disguise what the text says"
            }
            Offence::Separator => {
                "line and paragraph separators break lines in some viewers only; use a newline"
            }
            Offence::Invisible => "invisible characters can disguise what the text says",
        }
    }
}

impl fmt::Display for Offence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// Why `c` may not appear in a text of `lines`, or `None` if it may.
pub fn offence(c: char, lines: Lines) -> Option<Offence> {
    if c.is_control() {
        let allowed = lines == Lines::Many && matches!(c, '\n' | '\t');
        return (!allowed).then_some(Offence::Control);
    }
    if c.is_ascii() {
        return None;
    }
    if in_ranges(FORMAT_CHARACTERS, c) {
        Some(Offence::Format)
    } else if LINE_SEPARATORS.contains(&c) {
        Some(Offence::Separator)
    } else if in_ranges(OTHER_INVISIBLE_CHARACTERS, c) {
        Some(Offence::Invisible)
    } else {
        None
    }
}

/// The first character of `text` that a text of `lines` may not contain.
pub fn first_forbidden(text: &str, lines: Lines) -> Option<ForbiddenCharacter> {
    text.chars().find_map(|character| {
        offence(character, lines).map(|offence| ForbiddenCharacter { character, offence })
    })
}

/// Refuses `text` if it holds a character that a text of `lines` may not contain; the error
/// names the first one.
pub fn check(text: &str, lines: Lines) -> Result<()> {
    match first_forbidden(text, lines) {
        None => Ok(()),
        Some(forbidden) => Err(Error::ForbiddenCharacter(forbidden)),
    }
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|&(low, high)| {
            if high < c {
                std::cmp::Ordering::Less
            } else if low > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_and_disjoint(ranges: &[(char, char)]) -> bool {
        ranges.iter().all(|(low, high)| low <= high)
            && ranges.windows(2).all(|pair| pair[0].1 < pair[1].0)
    }

    #[test]
    fn the_tables_are_sorted_and_disjoint() {
        assert!(sorted_and_disjoint(FORMAT_CHARACTERS));
        assert!(sorted_and_disjoint(OTHER_INVISIBLE_CHARACTERS));
        for c in LINE_SEPARATORS {
            assert!(!in_ranges(FORMAT_CHARACTERS, c));
            assert!(!in_ranges(OTHER_INVISIBLE_CHARACTERS, c));
        }
        for &(low, high) in OTHER_INVISIBLE_CHARACTERS {
            assert!(!in_ranges(FORMAT_CHARACTERS, low) && !in_ranges(FORMAT_CHARACTERS, high));
        }
    }

    /// The table is exactly general category Cf, every code point compared with an independent
    /// copy of the Unicode Character Database.
    #[test]
    fn the_format_table_is_exactly_category_cf() {
        use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
        assert_eq!(
            unicode_properties::UNICODE_VERSION,
            (18, 0, 0),
            "a new Unicode version: compare FORMAT_CHARACTERS with its Cf list and update the \
             version in its comment"
        );
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let is_format = c.general_category() == GeneralCategory::Format;
            assert_eq!(
                in_ranges(FORMAT_CHARACTERS, c),
                is_format,
                "U+{:04X}",
                u32::from(c)
            );
            let is_separator = matches!(
                c.general_category(),
                GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator
            );
            assert_eq!(
                LINE_SEPARATORS.contains(&c),
                is_separator,
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn every_class_of_offender_is_refused_wherever_it_stands() {
        let offenders: &[(char, Offence)] = &[
            ('\0', Offence::Control),
            ('\u{7}', Offence::Control),
            ('\r', Offence::Control),
            ('\u{1B}', Offence::Control),
            ('\u{7F}', Offence::Control),
            ('\u{85}', Offence::Control),
            ('\u{9F}', Offence::Control),
            ('\u{AD}', Offence::Format),
            ('\u{600}', Offence::Format),
            ('\u{61C}', Offence::Format),
            ('\u{180E}', Offence::Format),
            ('\u{200B}', Offence::Format),
            ('\u{200C}', Offence::Format),
            ('\u{200D}', Offence::Format),
            ('\u{200E}', Offence::Format),
            ('\u{200F}', Offence::Format),
            ('\u{202A}', Offence::Format),
            ('\u{202B}', Offence::Format),
            ('\u{202C}', Offence::Format),
            ('\u{202D}', Offence::Format),
            ('\u{202E}', Offence::Format),
            ('\u{2060}', Offence::Format),
            ('\u{2064}', Offence::Format),
            ('\u{2066}', Offence::Format),
            ('\u{2067}', Offence::Format),
            ('\u{2068}', Offence::Format),
            ('\u{2069}', Offence::Format),
            ('\u{206F}', Offence::Format),
            ('\u{FEFF}', Offence::Format),
            ('\u{FFF9}', Offence::Format),
            ('\u{FFFB}', Offence::Format),
            ('\u{110BD}', Offence::Format),
            ('\u{1343F}', Offence::Format),
            ('\u{1BCA0}', Offence::Format),
            ('\u{1D173}', Offence::Format),
            ('\u{E0001}', Offence::Format),
            ('\u{E0020}', Offence::Format),
            ('\u{E007F}', Offence::Format),
            ('\u{2028}', Offence::Separator),
            ('\u{2029}', Offence::Separator),
            ('\u{34F}', Offence::Invisible),
            ('\u{115F}', Offence::Invisible),
            ('\u{1160}', Offence::Invisible),
            ('\u{17B4}', Offence::Invisible),
            ('\u{2065}', Offence::Invisible),
            ('\u{3164}', Offence::Invisible),
            ('\u{FFA0}', Offence::Invisible),
            ('\u{FFF0}', Offence::Invisible),
            ('\u{E0000}', Offence::Invisible),
            ('\u{E0080}', Offence::Invisible),
            ('\u{E0FFF}', Offence::Invisible),
        ];
        for &(c, why) in offenders {
            let code = format!("U+{:04X}", u32::from(c));
            for lines in [Lines::One, Lines::Many] {
                for text in [
                    format!("{c}"),
                    format!("{c}pay to IBAN DE89"),
                    format!("pay to {c}IBAN DE89"),
                    format!("pay to IBAN DE89{c}"),
                ] {
                    let refused = check(&text, lines).unwrap_err();
                    assert!(refused.is_invalid_input(), "{code}");
                    assert_eq!(
                        refused,
                        Error::ForbiddenCharacter(ForbiddenCharacter {
                            character: c,
                            offence: why
                        }),
                        "{code} in {lines:?}"
                    );
                    assert!(
                        refused
                            .to_string()
                            .starts_with(&format!("{code} is not allowed: "))
                    );
                }
            }
        }
    }

    #[test]
    fn the_error_names_the_first_offender() {
        let refused = check("a\u{202E}b\u{200B}", Lines::Many).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "U+202E is not allowed: invisible and direction-changing characters can disguise \
             what the text says"
        );
        assert_eq!(
            first_forbidden("x\u{7}", Lines::Many).map(|f| (f.character(), f.offence())),
            Some(('\u{7}', Offence::Control))
        );
    }

    #[test]
    fn newline_and_tab_only_in_text_of_many_lines() {
        for c in ['\n', '\t'] {
            assert_eq!(offence(c, Lines::Many), None);
            assert_eq!(offence(c, Lines::One), Some(Offence::Control));
        }
    }

    #[test]
    fn ordinary_text_in_many_scripts_passes() {
        for text in [
            "Paid by SEPA, reference 1234-ABCD (see IBAN DE89 3704 0044 0532 0130 00).",
            "Zahlung über SEPA, Grüße aus Köln ✓",
            "Réglé par virement, merci ! À bientôt, ça marche.",
            "Ñandú, año, pingüino — ¿listo? ¡Sí!",
            "Оплата через Сбербанк, спасибо",
            "Ελληνικά: ευχαριστώ",
            "שלום, התשלום נשלח",
            "تم الدفع عبر التحويل البنكي، شكراً",
            "پرداخت انجام شد",
            "付款已完成，谢谢。",
            "支払いが完了しました。ありがとうございます",
            "결제 완료했습니다, 감사합니다",
            "भुगतान हो गया, धन्यवाद",
            "ชำระเงินแล้ว ขอบคุณครับ",
            "გადახდილია, მადლობა",
            "Thanks 👍🏽 🎉 ❤️ 🇩🇪 🙂",
            "math: 2×3 ≤ 7, ½ ¼ € £ ¥ ₿",
            "non\u{A0}breaking and\u{2009}thin spaces",
            "a\u{301} combining accent",
            "漢\u{E0100} with an ideographic variation selector",
        ] {
            for lines in [Lines::One, Lines::Many] {
                assert_eq!(check(text, lines), Ok(()), "{text:?}");
            }
        }
        assert_eq!(check("line one\n\tline two", Lines::Many), Ok(()));
    }
}
