//! The `passphrase` generator: words drawn uniformly and independently from the EFF large
//! wordlist, joined by a separator (12.9 bits of entropy per word; 6 words give 77 bits).
//!
//! Word list: "EFF's Long Wordlist" (`eff_large_wordlist.txt`, 7,776 words), by the Electronic
//! Frontier Foundation, 2016, <https://www.eff.org/dice>, licensed under the Creative Commons
//! Attribution 3.0 License (<https://creativecommons.org/licenses/by/3.0/us/>). The file is
//! the EFF's original, unmodified (dice numbers and tab included; SHA-256
//! `addd35536511597a02fa0a9ff1e5284677b8883b83e986e43f15a3db996b903e`), as shipped in
//! Debian's `diceware` package (`wordlist_en_eff.txt`).
//!
//! Four words contain a hyphen (`drop-down`, `felt-tip`, `t-shirt`, `yo-yo`), so with the
//! default separator a passphrase cannot always be split back into words; that costs no
//! meaningful entropy (generation is uniform over word sequences either way).

use std::sync::LazyLock;

use zeroize::Zeroizing;

use crate::GenerateError;
use crate::config::{Config, KeyKind, KeySpec, check_printable};
use crate::random::Rng;

/// The EFF large wordlist (CC BY 3.0, Electronic Frontier Foundation; see the module docs).
const EFF_LARGE_WORDLIST: &str = include_str!("eff_large_wordlist.txt");

/// Number of words in the list.
pub(crate) const WORD_COUNT: usize = 7776;

/// The words, in list order (each line is `<five dice digits>\t<word>`).
pub(crate) static WORDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    EFF_LARGE_WORDLIST
        .lines()
        .filter_map(|line| line.split_once('\t').map(|(_, word)| word.trim()))
        .collect()
});

const WORDS_KEY: KeySpec = KeySpec {
    name: "words",
    kind: KeyKind::Integer {
        default: 6,
        min: 3,
        max: 20,
    },
    required: false,
    description: "number of words (each adds log2(7776) = 12.9 bits of entropy)",
};
const SEPARATOR: KeySpec = KeySpec {
    name: "separator",
    kind: KeyKind::Text {
        default: Some("-"),
        max_chars: 8,
    },
    required: false,
    description: "text between words; may be empty or a space, no other whitespace or \
        control characters",
};
const CAPITALIZE: KeySpec = KeySpec {
    name: "capitalize",
    kind: KeyKind::Boolean { default: false },
    required: false,
    description: "capitalize the first letter of each word",
};

pub(crate) const KEYS: &[KeySpec] = &[WORDS_KEY, SEPARATOR, CAPITALIZE];

pub(crate) struct Passphrase {
    words: usize,
    separator: String,
    capitalize: bool,
}

impl Passphrase {
    pub fn compile(config: &Config<'_>) -> Result<Self, GenerateError> {
        let words = usize::try_from(config.integer(&WORDS_KEY)?)
            .map_err(|_| GenerateError::Internal("words"))?;
        let separator = config.text(&SEPARATOR)?.unwrap_or("-");
        check_printable(config, &SEPARATOR, separator, true)?;
        if WORDS.len() != WORD_COUNT {
            return Err(GenerateError::Internal("the embedded word list is damaged"));
        }
        Ok(Self {
            words,
            separator: separator.to_owned(),
            capitalize: config.boolean(&CAPITALIZE)?,
        })
    }

    pub fn generate(&self, rng: &mut Rng) -> Result<Zeroizing<String>, GenerateError> {
        let longest_word = 9;
        let capacity = self.words * (longest_word + self.separator.len());
        let mut out = Zeroizing::new(String::with_capacity(capacity));
        for i in 0..self.words {
            if i > 0 {
                out.push_str(&self.separator);
            }
            let word = WORDS
                .get(rng.index(WORDS.len())?)
                .ok_or(GenerateError::Internal("word index"))?;
            let mut chars = word.chars();
            if self.capitalize
                && let Some(first) = chars.next()
            {
                out.push(first.to_ascii_uppercase());
                out.push_str(chars.as_str());
            } else {
                out.push_str(word);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashSet;

    fn compile(config: serde_json::Value) -> Result<Passphrase, GenerateError> {
        Passphrase::compile(&Config::new(
            &config,
            "fields[0].config",
            "passphrase",
            KEYS,
        )?)
    }

    #[test]
    fn the_list_is_the_eff_large_wordlist() {
        assert_eq!(WORDS.len(), WORD_COUNT);
        let distinct: HashSet<&str> = WORDS.iter().copied().collect();
        assert_eq!(distinct.len(), WORD_COUNT);
        assert_eq!(WORDS.first(), Some(&"abacus"));
        assert_eq!(WORDS.last(), Some(&"zoom"));
        assert!(
            WORDS.iter().all(|w| (3..=9).contains(&w.len())
                && w.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        );
        // Dice numbering 11111..66666 in order: the file is complete and unshuffled.
        let numbers: Vec<&str> = EFF_LARGE_WORDLIST
            .lines()
            .filter_map(|l| l.split_once('\t').map(|(n, _)| n))
            .collect();
        assert_eq!(numbers.first(), Some(&"11111"));
        assert_eq!(numbers.last(), Some(&"66666"));
    }

    #[test]
    fn default_is_six_listed_words_joined_by_hyphens() {
        let generator = compile(json!({})).unwrap();
        let mut rng = Rng::new();
        for _ in 0..50 {
            let value = generator.generate(&mut rng).unwrap();
            let pieces: Vec<&str> = value.split('-').collect();
            assert!(is_words(&pieces, 6), "{}", *value);
        }
    }

    #[test]
    fn separator_words_and_capitalize() {
        let generator =
            compile(json!({"words": 20, "separator": " ", "capitalize": true})).unwrap();
        let value = generator.generate(&mut Rng::new()).unwrap();
        let words: Vec<&str> = value.split(' ').collect();
        assert_eq!(words.len(), 20);
        for word in words {
            assert!(word.starts_with(|c: char| c.is_ascii_uppercase()), "{word}");
            assert!(
                WORDS.contains(&word.to_ascii_lowercase().as_str()),
                "{word}"
            );
        }
        let joined = compile(json!({"words": 3, "separator": ""})).unwrap();
        let value = joined.generate(&mut Rng::new()).unwrap();
        assert!(value.len() >= 9 && value.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
    }

    #[test]
    fn validation_messages() {
        let cases = [
            (
                json!({"words": 2}),
                "fields[0].config.words: must be between 3 and 20",
            ),
            (
                json!({"words": 21}),
                "fields[0].config.words: must be between 3 and 20",
            ),
            (
                json!({"separator": "\n"}),
                "fields[0].config.separator: contains a non-printable character (U+000A)",
            ),
            (
                json!({"separator": "123456789"}),
                "fields[0].config.separator: must be at most 8 characters",
            ),
            (
                json!({"separator": 1}),
                "fields[0].config.separator: must be a string",
            ),
            (
                json!({"capitalize": 1}),
                "fields[0].config.capitalize: must be true or false",
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(
                compile(config).map(|_| ()).unwrap_err().to_string(),
                expected
            );
        }
    }

    /// Whether hyphen-separated `pieces` are exactly `n` listed words (a listed word may
    /// itself contain one hyphen, as `t-shirt` does).
    fn is_words(pieces: &[&str], n: usize) -> bool {
        match pieces {
            [] => n == 0,
            _ if n == 0 => false,
            [first, rest @ ..] => {
                (WORDS.contains(first) && is_words(rest, n - 1))
                    || match rest {
                        [second, tail @ ..] => {
                            WORDS.contains(&format!("{first}-{second}").as_str())
                                && is_words(tail, n - 1)
                        }
                        [] => false,
                    }
            }
        }
    }
}
