//! The named character sets of the `random` generator, the characters `exclude_ambiguous`
//! drops, and the four character classes that `min_*` counts refer to.

/// A named character set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NamedCharset {
    pub name: &'static str,
    pub description: &'static str,
    pub characters: &'static str,
}

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";

/// Every named charset, in catalogue order (`custom` is not one: it has no fixed characters).
pub(crate) const NAMED: &[NamedCharset] = &[
    NamedCharset {
        name: "alphanumeric",
        description: "ASCII letters and digits (62)",
        characters: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    },
    NamedCharset {
        name: "alpha",
        description: "ASCII letters (52)",
        characters: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    },
    NamedCharset {
        name: "lowercase",
        description: "lowercase ASCII letters (26)",
        characters: LOWER,
    },
    NamedCharset {
        name: "uppercase",
        description: "uppercase ASCII letters (26)",
        characters: UPPER,
    },
    NamedCharset {
        name: "numeric",
        description: "decimal digits (10)",
        characters: DIGITS,
    },
    NamedCharset {
        name: "hex",
        description: "lowercase hexadecimal digits (16)",
        characters: "0123456789abcdef",
    },
    NamedCharset {
        name: "base64url",
        description: "the URL-safe base64 alphabet of RFC 4648 section 5 (64)",
        characters: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    },
    NamedCharset {
        name: "ascii-printable",
        description: "printable ASCII without space, 0x21 to 0x7E (94)",
        characters: "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
    },
];

/// The value of `charset` that takes its characters from the `characters` key.
pub(crate) const CUSTOM: &str = "custom";

/// Characters easily confused with another when read or typed: zero and the letter O,
/// one and lowercase L, uppercase i and the vertical bar, backtick and apostrophe.
pub(crate) const AMBIGUOUS: &str = "0Oo1lI|`'";

/// Longest `characters` value accepted for a custom charset.
pub(crate) const MAX_CUSTOM_CHARS: usize = 1024;

pub(crate) fn named(name: &str) -> Option<&'static NamedCharset> {
    NAMED.iter().find(|charset| charset.name == name)
}

/// The class a character counts towards for `min_lowercase`, `min_uppercase`, `min_digits`
/// and `min_symbols`. Only ASCII letters and digits are letters and digits here; every other
/// character (punctuation, and any non-ASCII character of a custom charset) is a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Lower = 0,
    Upper = 1,
    Digit = 2,
    Symbol = 3,
}

impl Class {
    pub fn of(c: char) -> Self {
        if c.is_ascii_lowercase() {
            Self::Lower
        } else if c.is_ascii_uppercase() {
            Self::Upper
        } else if c.is_ascii_digit() {
            Self::Digit
        } else {
            Self::Symbol
        }
    }

    pub const ALL: [Class; 4] = [Self::Lower, Self::Upper, Self::Digit, Self::Symbol];

    /// The plural noun used in messages ("charset 'numeric' has no lowercase letters").
    pub fn noun(self) -> &'static str {
        match self {
            Self::Lower => "lowercase letters",
            Self::Upper => "uppercase letters",
            Self::Digit => "digits",
            Self::Symbol => "symbols",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn named_charsets_have_the_documented_sizes_and_no_duplicates() {
        let sizes = [62, 52, 26, 26, 10, 16, 64, 94];
        for (charset, size) in NAMED.iter().zip(sizes) {
            let distinct: HashSet<char> = charset.characters.chars().collect();
            assert_eq!(distinct.len(), size, "{}", charset.name);
            assert_eq!(charset.characters.chars().count(), size, "{}", charset.name);
            assert!(charset.description.contains(&format!("({size})")));
        }
        assert_eq!(NAMED.len(), sizes.len());
    }

    #[test]
    fn ascii_printable_is_exactly_0x21_to_0x7e() {
        let expected: String = (0x21u8..=0x7e).map(char::from).collect();
        assert_eq!(
            named("ascii-printable").map(|c| c.characters),
            Some(&*expected)
        );
    }

    #[test]
    fn classes() {
        assert_eq!(Class::of('a'), Class::Lower);
        assert_eq!(Class::of('Z'), Class::Upper);
        assert_eq!(Class::of('7'), Class::Digit);
        assert_eq!(Class::of('-'), Class::Symbol);
        assert_eq!(Class::of('é'), Class::Symbol);
    }
}
