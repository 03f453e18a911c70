//! Config keys: one table per generator that both validates a field's `config` object and is
//! published in the catalogue, so what the server documents is exactly what it accepts.
//!
//! Unknown keys are refused (a typo such as `lenght` must not silently fall back to a default
//! and weaken a secret).

use serde_json::{Map, Value};

use crate::GenerateError;

/// The type, default and allowed values of one config key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyKind {
    /// An integer in `min..=max`.
    Integer {
        default: u64,
        min: u64,
        max: u64,
    },
    /// An integer from a fixed list.
    IntegerChoice {
        default: u64,
        allowed: &'static [u64],
    },
    /// A string from a fixed list.
    Choice {
        default: &'static str,
        allowed: &'static [&'static str],
    },
    Boolean {
        default: bool,
    },
    /// Free text of at most `max_chars` characters; `default: None` means "absent".
    Text {
        default: Option<&'static str>,
        max_chars: usize,
    },
}

/// One config key of a generator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeySpec {
    pub name: &'static str,
    pub kind: KeyKind,
    pub required: bool,
    pub description: &'static str,
}

/// A field's `config` object, checked against its generator's key table.
pub(crate) struct Config<'a> {
    object: Option<&'a Map<String, Value>>,
    /// `fields[N].config`
    path: &'a str,
}

impl<'a> Config<'a> {
    /// Accepts an object or `null` (no config); refuses unknown keys and missing required keys.
    pub fn new(
        value: &'a Value,
        path: &'a str,
        generator: &str,
        keys: &'static [KeySpec],
    ) -> Result<Self, GenerateError> {
        let object = match value {
            Value::Null => None,
            Value::Object(object) => Some(object),
            _ => return Err(GenerateError::invalid(path, "must be a JSON object")),
        };
        if let Some(object) = object {
            for key in object.keys() {
                if !keys.iter().any(|spec| spec.name == key) {
                    let known = if keys.is_empty() {
                        "none".to_owned()
                    } else {
                        keys.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
                    };
                    // Echo at most 64 characters of a key the author made up.
                    let key: String = key.chars().take(64).collect();
                    return Err(GenerateError::invalid(
                        format!("{path}.{key}"),
                        format!("unknown key for generator '{generator}' (known keys: {known})"),
                    ));
                }
            }
        }
        let config = Self { object, path };
        for spec in keys.iter().filter(|spec| spec.required) {
            if config.raw(spec).is_none() {
                return Err(config.error(spec, "is required"));
            }
        }
        Ok(config)
    }

    /// A validation error about `spec`'s key.
    pub fn error(&self, spec: &KeySpec, message: impl Into<String>) -> GenerateError {
        GenerateError::invalid(self.key_path(spec), message)
    }

    /// A validation error about the config as a whole.
    pub fn error_whole(&self, message: impl Into<String>) -> GenerateError {
        GenerateError::invalid(self.path, message)
    }

    pub fn key_path(&self, spec: &KeySpec) -> String {
        format!("{}.{}", self.path, spec.name)
    }

    /// Whether the key was given (explicit `null` counts as absent).
    pub fn has(&self, spec: &KeySpec) -> bool {
        self.raw(spec).is_some()
    }

    fn raw(&self, spec: &KeySpec) -> Option<&'a Value> {
        self.object
            .and_then(|object| object.get(spec.name))
            .filter(|value| !value.is_null())
    }

    pub fn integer(&self, spec: &KeySpec) -> Result<u64, GenerateError> {
        let raw = self.raw(spec);
        match spec.kind {
            KeyKind::Integer { default, min, max } => {
                let Some(raw) = raw else { return Ok(default) };
                let range = format!("must be an integer between {min} and {max}");
                let value = integer_value(raw).ok_or_else(|| self.error(spec, &range))?;
                if (min..=max).contains(&value) {
                    Ok(value)
                } else {
                    Err(self.error(spec, format!("must be between {min} and {max}")))
                }
            }
            KeyKind::IntegerChoice { default, allowed } => {
                let Some(raw) = raw else { return Ok(default) };
                let list = allowed
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                match integer_value(raw) {
                    Some(value) if allowed.contains(&value) => Ok(value),
                    _ => Err(self.error(spec, format!("must be one of {list}"))),
                }
            }
            _ => Err(GenerateError::Internal("config key is not an integer")),
        }
    }

    pub fn choice(&self, spec: &KeySpec) -> Result<&'static str, GenerateError> {
        let KeyKind::Choice { default, allowed } = spec.kind else {
            return Err(GenerateError::Internal("config key is not a choice"));
        };
        let Some(raw) = self.raw(spec) else {
            return Ok(default);
        };
        raw.as_str()
            .and_then(|given| allowed.iter().copied().find(|a| *a == given))
            .ok_or_else(|| self.error(spec, format!("must be one of {}", allowed.join(", "))))
    }

    pub fn boolean(&self, spec: &KeySpec) -> Result<bool, GenerateError> {
        let KeyKind::Boolean { default } = spec.kind else {
            return Err(GenerateError::Internal("config key is not a boolean"));
        };
        match self.raw(spec) {
            None => Ok(default),
            Some(Value::Bool(value)) => Ok(*value),
            Some(_) => Err(self.error(spec, "must be true or false")),
        }
    }

    /// The text, or its default; `None` when absent without a default.
    pub fn text(&self, spec: &KeySpec) -> Result<Option<&'a str>, GenerateError> {
        let KeyKind::Text { default, max_chars } = spec.kind else {
            return Err(GenerateError::Internal("config key is not text"));
        };
        let Some(raw) = self.raw(spec) else {
            return Ok(default);
        };
        let text = raw
            .as_str()
            .ok_or_else(|| self.error(spec, "must be a string"))?;
        if text.chars().count() > max_chars {
            return Err(self.error(spec, format!("must be at most {max_chars} characters")));
        }
        Ok(Some(text))
    }
}

/// A non-negative integer (also accepts `32.0`, which some JSON encoders produce).
fn integer_value(value: &Value) -> Option<u64> {
    let number = value.as_number()?;
    if let Some(value) = number.as_u64() {
        return Some(value);
    }
    let float = number.as_f64()?;
    if float.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&float) {
        Some(float as u64)
    } else {
        None
    }
}

/// Refuses control characters (newlines would break `authorized_keys` lines and logs) and,
/// unless `allow_space`, any whitespace.
pub(crate) fn check_printable(
    config: &Config<'_>,
    spec: &KeySpec,
    text: &str,
    allow_space: bool,
) -> Result<(), GenerateError> {
    for c in text.chars() {
        let bad = c.is_control() || (c.is_whitespace() && !(allow_space && c == ' '));
        if bad {
            return Err(config.error(
                spec,
                format!("contains a non-printable character (U+{:04X})", c as u32),
            ));
        }
    }
    Ok(())
}
