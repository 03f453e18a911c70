//! The `random` generator: a random string over a charset, optionally with minimum counts of
//! lowercase letters, uppercase letters, digits and symbols.
//!
//! Every character is drawn independently and uniformly (rejection sampling, see `random.rs`).
//! Minimum counts are met by rejecting whole strings that miss them and drawing again, so the
//! result is exactly uniform over the strings that meet them: every valid password is equally
//! likely, and no position or character is favoured. (The common alternative, placing the
//! required characters first and shuffling, is not uniform: it favours strings with more
//! characters of the required classes.)
//!
//! Rejection is only cheap when valid strings are not rare, so `compile` computes the exact
//! probability that a random string meets the minimums and refuses configs where the expected
//! work exceeds [`MAX_EXPECTED_CHARACTERS`] drawn characters.

use zeroize::{Zeroize, Zeroizing};

use crate::GenerateError;
use crate::charset::{self, AMBIGUOUS, CUSTOM, Class, MAX_CUSTOM_CHARS};
use crate::config::{Config, KeyKind, KeySpec, check_printable};
use crate::random::Rng;

pub(crate) const MIN_LENGTH: u64 = 8;
pub(crate) const MAX_LENGTH: u64 = 4096;

/// Refuse minimum counts that would need more than this many characters drawn, on average,
/// per generated string (about 40 ms of CPU in a release build).
pub(crate) const MAX_EXPECTED_CHARACTERS: f64 = 4_194_304.0;

/// Attempts allowed per string: with acceptance probability `p`, `ceil(64 / p)` attempts all
/// fail with probability below e^-64.
const ATTEMPT_FACTOR: f64 = 64.0;

const CHARSET_NAMES: &[&str] = &[
    "alphanumeric",
    "alpha",
    "lowercase",
    "uppercase",
    "numeric",
    "hex",
    "base64url",
    "ascii-printable",
    CUSTOM,
];

const LENGTH: KeySpec = KeySpec {
    name: "length",
    kind: KeyKind::Integer {
        default: 32,
        min: MIN_LENGTH,
        max: MAX_LENGTH,
    },
    required: false,
    description: "number of characters",
};
const CHARSET: KeySpec = KeySpec {
    name: "charset",
    kind: KeyKind::Choice {
        default: "alphanumeric",
        allowed: CHARSET_NAMES,
    },
    required: false,
    description: "named character set (see `charsets`), or `custom` to use `characters`",
};
const CHARACTERS: KeySpec = KeySpec {
    name: "characters",
    kind: KeyKind::Text {
        default: None,
        max_chars: MAX_CUSTOM_CHARS,
    },
    required: false,
    description: "the characters of a custom charset (required with, and only allowed with, \
        charset `custom`): at least 2, no duplicates, no whitespace or control characters",
};
const EXCLUDE_AMBIGUOUS: KeySpec = KeySpec {
    name: "exclude_ambiguous",
    kind: KeyKind::Boolean { default: false },
    required: false,
    description: "drop characters that are easily confused (see `ambiguous_characters`)",
};
const MIN_LOWERCASE: KeySpec = min_key(
    "min_lowercase",
    "at least this many lowercase ASCII letters (a-z)",
);
const MIN_UPPERCASE: KeySpec = min_key(
    "min_uppercase",
    "at least this many uppercase ASCII letters (A-Z)",
);
const MIN_DIGITS: KeySpec = min_key("min_digits", "at least this many digits (0-9)");
const MIN_SYMBOLS: KeySpec = min_key(
    "min_symbols",
    "at least this many symbols (any character that is not an ASCII letter or digit)",
);

const fn min_key(name: &'static str, description: &'static str) -> KeySpec {
    KeySpec {
        name,
        kind: KeyKind::Integer {
            default: 0,
            min: 0,
            max: MAX_LENGTH,
        },
        required: false,
        description,
    }
}

/// Minimum-count keys in [`Class`] order.
const MIN_KEYS: [KeySpec; 4] = [MIN_LOWERCASE, MIN_UPPERCASE, MIN_DIGITS, MIN_SYMBOLS];

pub(crate) const KEYS: &[KeySpec] = &[
    LENGTH,
    CHARSET,
    CHARACTERS,
    EXCLUDE_AMBIGUOUS,
    MIN_LOWERCASE,
    MIN_UPPERCASE,
    MIN_DIGITS,
    MIN_SYMBOLS,
];

/// A compiled `random` field.
pub(crate) struct RandomString {
    alphabet: Vec<char>,
    /// The class of each `alphabet` character.
    classes: Vec<Class>,
    length: usize,
    /// Minimum count per class, in [`Class`] order.
    minimums: [usize; 4],
    max_attempts: u64,
    /// Capacity that holds any string without reallocating (no stray copies of a secret).
    capacity: usize,
    /// `fields[N]`, for the (practically impossible) ConstraintsUnmet error.
    field_path: String,
}

impl RandomString {
    pub fn compile(config: &Config<'_>, field_path: &str) -> Result<Self, GenerateError> {
        let length = to_usize(config.integer(&LENGTH)?)?;
        let charset_name = config.choice(&CHARSET)?;
        let base: Vec<char> = if charset_name == CUSTOM {
            let characters = config
                .text(&CHARACTERS)?
                .ok_or_else(|| config.error(&CHARACTERS, "is required when charset is custom"))?;
            check_custom(config, characters)?
        } else {
            if config.has(&CHARACTERS) {
                return Err(config.error(&CHARACTERS, "is only allowed when charset is custom"));
            }
            charset::named(charset_name)
                .ok_or(GenerateError::Internal("charset list out of sync"))?
                .characters
                .chars()
                .collect()
        };
        let exclude = config.boolean(&EXCLUDE_AMBIGUOUS)?;
        let alphabet: Vec<char> = base
            .iter()
            .copied()
            .filter(|c| !(exclude && AMBIGUOUS.contains(*c)))
            .collect();
        if alphabet.len() < 2 {
            return Err(config.error(
                &EXCLUDE_AMBIGUOUS,
                "leaves fewer than 2 characters in the charset",
            ));
        }
        let classes: Vec<Class> = alphabet.iter().map(|c| Class::of(*c)).collect();

        let mut minimums = [0usize; 4];
        for (class, spec) in Class::ALL.iter().zip(&MIN_KEYS) {
            let minimum = to_usize(config.integer(spec)?)?;
            if minimum > 0 && !classes.contains(class) {
                let had_some = base.iter().any(|c| Class::of(*c) == *class);
                let suffix = if had_some {
                    " left after excluding ambiguous characters"
                } else {
                    ""
                };
                return Err(config.error(
                    spec,
                    format!("charset '{charset_name}' has no {}{suffix}", class.noun()),
                ));
            }
            minimums[*class as usize] = minimum;
        }
        let total_minimum: usize = minimums.iter().sum();
        if total_minimum > length {
            return Err(config.error_whole(format!(
                "min_lowercase + min_uppercase + min_digits + min_symbols = {total_minimum} \
                 exceeds length {length}"
            )));
        }

        let max_attempts = if total_minimum == 0 {
            1
        } else {
            let mut constrained = Vec::new();
            for class in Class::ALL {
                let minimum = minimums[class as usize];
                if minimum > 0 {
                    let size = classes.iter().filter(|c| **c == class).count();
                    constrained.push((size, minimum));
                }
            }
            let p = acceptance_probability(length, alphabet.len(), &constrained);
            if p.is_nan() || p <= 0.0 || length as f64 / p > MAX_EXPECTED_CHARACTERS {
                return Err(config.error_whole(format!(
                    "the minimum counts are too strict for length {length}: a random string \
                     meets them with probability {p:.1e}; raise length or lower the minimums"
                )));
            }
            (ATTEMPT_FACTOR / p).ceil().max(1.0) as u64
        };

        let widest = alphabet.iter().map(|c| c.len_utf8()).max().unwrap_or(1);
        Ok(Self {
            alphabet,
            classes,
            length,
            minimums,
            max_attempts,
            capacity: length * widest,
            field_path: field_path.to_owned(),
        })
    }

    pub fn generate(&self, rng: &mut Rng) -> Result<Zeroizing<String>, GenerateError> {
        let mut out = Zeroizing::new(String::with_capacity(self.capacity));
        for _ in 0..self.max_attempts {
            // Wipes a rejected attempt (and keeps the allocation).
            out.zeroize();
            let mut counts = [0usize; 4];
            for _ in 0..self.length {
                let i = rng.index(self.alphabet.len())?;
                counts[self.classes[i] as usize] += 1;
                out.push(self.alphabet[i]);
            }
            if counts
                .iter()
                .zip(&self.minimums)
                .all(|(have, need)| have >= need)
            {
                return Ok(out);
            }
        }
        Err(GenerateError::ConstraintsUnmet {
            path: self.field_path.clone(),
        })
    }
}

fn to_usize(value: u64) -> Result<usize, GenerateError> {
    usize::try_from(value).map_err(|_| GenerateError::Internal("integer does not fit usize"))
}

/// A custom charset: non-empty, at least 2 characters, no duplicates, printable.
fn check_custom(config: &Config<'_>, characters: &str) -> Result<Vec<char>, GenerateError> {
    if characters.is_empty() {
        return Err(config.error(&CHARACTERS, "must not be empty"));
    }
    check_printable(config, &CHARACTERS, characters, false)?;
    let mut seen = Vec::new();
    for c in characters.chars() {
        if seen.contains(&c) {
            return Err(config.error(&CHARACTERS, format!("contains '{c}' more than once")));
        }
        seen.push(c);
    }
    if seen.len() < 2 {
        return Err(config.error(&CHARACTERS, "must contain at least 2 characters"));
    }
    Ok(seen)
}

/// The probability that `length` characters drawn uniformly from an alphabet of `total`
/// characters include at least `min` of each class given as `(class size, min)`; the classes
/// are disjoint and the alphabet may hold other characters too.
///
/// First a union bound: if the chance of missing any one minimum is small, `1 - sum` is a
/// lower bound, which is all the caller needs (it only sizes the attempt budget). Otherwise the
/// exact value: given `n` positions uniform over the classes from `j` on (plus the rest), the
/// count of class `j` is binomial and the other positions are uniform over the remaining
/// classes, so `Q_j(n) = sum_c Binom(n, c; a_j) * Q_{j+1}(n - c)` over `c >= min_j`.
fn acceptance_probability(length: usize, total: usize, constrained: &[(usize, usize)]) -> f64 {
    let ln_factorial = ln_factorials(length);
    let miss: f64 = constrained
        .iter()
        .map(|&(size, min)| {
            let a = size as f64 / total as f64;
            (0..min.min(length + 1))
                .map(|c| binomial_pmf(&ln_factorial, length, c, a))
                .sum::<f64>()
        })
        .sum();
    if miss <= 0.5 {
        return 1.0 - miss;
    }
    exact_acceptance(length, total, constrained, &ln_factorial)
}

fn exact_acceptance(
    length: usize,
    total: usize,
    constrained: &[(usize, usize)],
    ln_factorial: &[f64],
) -> f64 {
    let k = constrained.len();
    // lo[j] = minimums still to place from class j on; hi[j] = positions left for them.
    let mut lo = vec![0usize; k + 1];
    for j in (0..k).rev() {
        lo[j] = lo[j + 1] + constrained[j].1;
    }
    let mut hi = vec![length; k + 1];
    for j in 1..=k {
        hi[j] = hi[j - 1].saturating_sub(constrained[j - 1].1);
    }
    let constrained_size: usize = constrained.iter().map(|c| c.0).sum();
    // Alphabet of the classes from j on plus the unconstrained characters.
    let mut alphabet = total.saturating_sub(constrained_size) as f64;
    let mut next = vec![1.0f64; length + 1]; // Q_k: nothing left to meet.
    for j in (0..k).rev() {
        let (size, min) = constrained[j];
        alphabet += size as f64;
        let a = size as f64 / alphabet;
        let mut current = vec![0.0f64; length + 1];
        // Q_0 is only needed at n = length.
        let from = if j == 0 { length } else { lo[j] };
        for n in from..=hi[j] {
            // Terms further than w from the mean are below e^-80 (Bernstein's inequality);
            // dropping them keeps the result a lower bound and the work near O(k L sqrt(L)).
            let mean = n as f64 * a;
            let w = 12.0 * (mean * (1.0 - a)).sqrt() + 60.0;
            let first = min.max((mean - w).floor().max(0.0) as usize);
            let last = n.saturating_sub(lo[j + 1]).min((mean + w).ceil() as usize);
            current[n] = (first..=last)
                .map(|c| binomial_pmf(ln_factorial, n, c, a) * next[n - c])
                .sum();
        }
        next = current;
    }
    next[length]
}

/// ln(i!) for i in 0..=n.
fn ln_factorials(n: usize) -> Vec<f64> {
    let mut table = Vec::with_capacity(n + 1);
    let mut acc = 0.0f64;
    table.push(acc);
    for i in 1..=n {
        acc += (i as f64).ln();
        table.push(acc);
    }
    table
}

/// P(X = c) for X ~ Binomial(n, a), computed in log space (n! overflows f64 past 170).
fn binomial_pmf(ln_factorial: &[f64], n: usize, c: usize, a: f64) -> f64 {
    if c > n {
        return 0.0;
    }
    if a >= 1.0 {
        return if c == n { 1.0 } else { 0.0 };
    }
    let ln = ln_factorial[n] - ln_factorial[c] - ln_factorial[n - c]
        + c as f64 * a.ln()
        + (n - c) as f64 * (1.0 - a).ln();
    ln.exp()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::charset::NAMED;
    use crate::stats::{chi_square, critical_value};
    use serde_json::{Value, json};

    fn compile(config: Value) -> Result<RandomString, GenerateError> {
        let config = Config::new(&config, "fields[0].config", "random", KEYS)?;
        RandomString::compile(&config, "fields[0]")
    }

    fn message(config: Value) -> String {
        match compile(config) {
            Ok(_) => panic!("config was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults_give_32_alphanumerics() {
        let generator = compile(json!({})).unwrap();
        let value = generator.generate(&mut Rng::new()).unwrap();
        assert_eq!(value.len(), 32);
        assert!(value.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn every_charset_emits_only_its_characters() {
        let mut rng = Rng::new();
        for charset in NAMED {
            let generator = compile(json!({"charset": charset.name, "length": 256})).unwrap();
            let value = generator.generate(&mut rng).unwrap();
            assert_eq!(value.chars().count(), 256);
            assert!(
                value.chars().all(|c| charset.characters.contains(c)),
                "{}",
                charset.name
            );
        }
        let generator = compile(json!({"charset": "custom", "characters": "ab€"})).unwrap();
        let value = generator.generate(&mut rng).unwrap();
        assert_eq!(value.chars().count(), 32);
        assert!(value.chars().all(|c| "ab€".contains(c)));
    }

    #[test]
    fn validation_messages() {
        let cases = [
            (
                json!({"length": 7}),
                "fields[0].config.length: must be between 8 and 4096",
            ),
            (
                json!({"length": 4097}),
                "fields[0].config.length: must be between 8 and 4096",
            ),
            (
                json!({"length": "32"}),
                "fields[0].config.length: must be an integer between 8 and 4096",
            ),
            (
                json!({"length": -1}),
                "fields[0].config.length: must be an integer between 8 and 4096",
            ),
            (
                json!({"charset": "emoji"}),
                "fields[0].config.charset: must be one of alphanumeric, alpha, lowercase, \
                 uppercase, numeric, hex, base64url, ascii-printable, custom",
            ),
            (
                json!({"lenght": 32}),
                "fields[0].config.lenght: unknown key for generator 'random' (known keys: \
                 length, charset, characters, exclude_ambiguous, min_lowercase, min_uppercase, \
                 min_digits, min_symbols)",
            ),
            (
                json!({"charset": "custom"}),
                "fields[0].config.characters: is required when charset is custom",
            ),
            (
                json!({"characters": "abc"}),
                "fields[0].config.characters: is only allowed when charset is custom",
            ),
            (
                json!({"charset": "custom", "characters": ""}),
                "fields[0].config.characters: must not be empty",
            ),
            (
                json!({"charset": "custom", "characters": "x"}),
                "fields[0].config.characters: must contain at least 2 characters",
            ),
            (
                json!({"charset": "custom", "characters": "abca"}),
                "fields[0].config.characters: contains 'a' more than once",
            ),
            (
                json!({"charset": "custom", "characters": "ab\u{7}"}),
                "fields[0].config.characters: contains a non-printable character (U+0007)",
            ),
            (
                json!({"charset": "custom", "characters": "a b"}),
                "fields[0].config.characters: contains a non-printable character (U+0020)",
            ),
            (
                json!({"charset": "custom", "characters": "0O1", "exclude_ambiguous": true}),
                "fields[0].config.exclude_ambiguous: leaves fewer than 2 characters in the \
                 charset",
            ),
            (
                json!({"exclude_ambiguous": "yes"}),
                "fields[0].config.exclude_ambiguous: must be true or false",
            ),
            (
                json!({"charset": "numeric", "min_lowercase": 1}),
                "fields[0].config.min_lowercase: charset 'numeric' has no lowercase letters",
            ),
            (
                json!({"min_symbols": 1}),
                "fields[0].config.min_symbols: charset 'alphanumeric' has no symbols",
            ),
            (
                json!({"charset": "custom", "characters": "|'ab", "exclude_ambiguous": true,
                       "min_symbols": 1}),
                "fields[0].config.min_symbols: charset 'custom' has no symbols left after \
                 excluding ambiguous characters",
            ),
            (
                json!({"length": 8, "min_lowercase": 5, "min_digits": 4}),
                "fields[0].config: min_lowercase + min_uppercase + min_digits + min_symbols = 9 \
                 exceeds length 8",
            ),
            (
                json!({"length": 8, "min_digits": 8}),
                "fields[0].config: the minimum counts are too strict for length 8: a random \
                 string meets them with probability 4.6e-7; raise length or lower the minimums",
            ),
            (json!([1]), "fields[0].config: must be a JSON object"),
        ];
        for (config, expected) in cases {
            assert_eq!(message(config.clone()), expected, "{config}");
        }
        // Explicit nulls mean "default".
        assert!(compile(json!({"length": null})).is_ok());
        assert!(compile(Value::Null).is_ok());
    }

    #[test]
    fn minimum_counts_are_always_met() {
        let mut rng = Rng::new();
        let configs = [
            json!({"length": 8, "charset": "ascii-printable", "min_lowercase": 2,
                   "min_uppercase": 2, "min_digits": 2, "min_symbols": 2}),
            json!({"length": 12, "min_digits": 6}),
            json!({"length": 8, "charset": "custom", "characters": "aB1!", "min_symbols": 3,
                   "min_digits": 3}),
            json!({"length": 64, "charset": "base64url", "min_symbols": 4,
                   "exclude_ambiguous": true}),
        ];
        for config in configs {
            let generator = compile(config.clone()).unwrap();
            let need = |key: &str| config.get(key).and_then(Value::as_u64).unwrap_or(0) as usize;
            for _ in 0..300 {
                let value = generator.generate(&mut rng).unwrap();
                let count = |class| value.chars().filter(|c| Class::of(*c) == class).count();
                assert!(
                    count(Class::Lower) >= need("min_lowercase"),
                    "{config}: {}",
                    *value
                );
                assert!(
                    count(Class::Upper) >= need("min_uppercase"),
                    "{config}: {}",
                    *value
                );
                assert!(
                    count(Class::Digit) >= need("min_digits"),
                    "{config}: {}",
                    *value
                );
                assert!(
                    count(Class::Symbol) >= need("min_symbols"),
                    "{config}: {}",
                    *value
                );
            }
        }
    }

    #[test]
    fn exclude_ambiguous_never_emits_an_ambiguous_character() {
        let mut rng = Rng::new();
        for charset in ["ascii-printable", "alphanumeric", "hex"] {
            let generator =
                compile(json!({"charset": charset, "length": 4096, "exclude_ambiguous": true}))
                    .unwrap();
            for _ in 0..5 {
                let value = generator.generate(&mut rng).unwrap();
                assert!(!value.chars().any(|c| AMBIGUOUS.contains(c)), "{charset}");
            }
        }
    }

    /// Brute force over all 4^8 strings of a 4-character alphabet against the exact formula.
    #[test]
    fn acceptance_probability_matches_enumeration() {
        // Alphabet: a (lower), B (upper), 1 (digit), ! (symbol).
        let cases: [[usize; 4]; 4] = [[1, 1, 1, 1], [3, 0, 2, 0], [0, 0, 0, 7], [2, 2, 2, 2]];
        for minimums in cases {
            let mut valid = 0u64;
            for code in 0..4u32.pow(8) {
                let mut counts = [0usize; 4];
                for position in 0..8 {
                    counts[((code >> (2 * position)) & 3) as usize] += 1;
                }
                if counts.iter().zip(&minimums).all(|(h, n)| h >= n) {
                    valid += 1;
                }
            }
            let expected = valid as f64 / 65536.0;
            let constrained: Vec<(usize, usize)> = minimums
                .iter()
                .filter(|m| **m > 0)
                .map(|m| (1, *m))
                .collect();
            let exact = exact_acceptance(8, 4, &constrained, &ln_factorials(8));
            assert!(
                (exact - expected).abs() < 1e-12,
                "{minimums:?}: {exact} vs {expected}"
            );
            let bound = acceptance_probability(8, 4, &constrained);
            assert!(
                bound <= expected + 1e-12,
                "{minimums:?}: bound {bound} > {expected}"
            );
        }
    }

    /// Counts, per alphabet character, `strings` generated strings of length 4096.
    fn character_counts(generator: &RandomString, strings: usize) -> Vec<u64> {
        let mut rng = Rng::new();
        let mut counts = vec![0u64; generator.alphabet.len()];
        for _ in 0..strings {
            let value = generator.generate(&mut rng).unwrap();
            for c in value.chars() {
                let i = generator.alphabet.iter().position(|a| *a == c).unwrap();
                counts[i] += 1;
            }
        }
        counts
    }

    /// The statistical test: for every named charset (and two with ambiguous characters
    /// excluded), 409,600 characters fit the uniform distribution at a false-alarm probability
    /// of 1e-6 per charset.
    #[test]
    fn no_charset_bias() {
        let mut configs: Vec<Value> = NAMED
            .iter()
            .map(|c| json!({"charset": c.name, "length": 4096}))
            .collect();
        configs.push(json!({"charset": "alphanumeric", "length": 4096, "exclude_ambiguous": true}));
        configs.push(json!({"charset": "ascii-printable", "length": 4096,
                            "exclude_ambiguous": true}));
        for config in configs {
            let generator = compile(config.clone()).unwrap();
            let counts = character_counts(&generator, 100);
            let df = counts.len() - 1;
            let statistic = chi_square(&counts);
            let critical = critical_value(df);
            eprintln!("{config}: chi-square {statistic:.1}, df {df}, critical {critical:.1}");
            assert!(
                statistic < critical,
                "{config}: {statistic:.1} >= {critical:.1}"
            );
        }
    }

    /// The same checker rejects `byte % n`, so `no_charset_bias` can fail.
    #[test]
    fn checker_rejects_modulo_bias() {
        let mut rng = Rng::new();
        for (charset, samples) in [("alphanumeric", 409_600usize), ("numeric", 1_000_000)] {
            let n = charset::named(charset).unwrap().characters.len();
            let mut bytes = vec![0u8; samples];
            rng.fill(&mut bytes).unwrap();
            let mut counts = vec![0u64; n];
            for byte in bytes {
                counts[byte as usize % n] += 1; // deliberately biased
            }
            let statistic = chi_square(&counts);
            let critical = critical_value(n - 1);
            eprintln!("biased {charset}: chi-square {statistic:.1}, critical {critical:.1}");
            assert!(
                statistic > critical,
                "{charset}: bias not detected ({statistic:.1})"
            );
        }
    }

    /// With minimums, every valid string is equally likely. Over {a, B} with length 8 and at
    /// least 7 uppercase there are exactly 9 valid strings; place-then-shuffle would give
    /// "BBBBBBBB" probability 1/2, rejection gives each 1/9.
    #[test]
    fn minimums_are_uniform_over_valid_strings() {
        let generator = compile(json!({"charset": "custom", "characters": "aB", "length": 8,
                                       "min_uppercase": 7}))
        .unwrap();
        let mut rng = Rng::new();
        let mut counts = [0u64; 9];
        for _ in 0..9_000 {
            let value = generator.generate(&mut rng).unwrap();
            // 0 for BBBBBBBB, else 1 + the position of the single 'a'.
            let bin = value.find('a').map_or(0, |position| position + 1);
            counts[bin] += 1;
        }
        let statistic = chi_square(&counts);
        assert!(statistic < critical_value(8), "{counts:?}: {statistic:.1}");
    }
}
