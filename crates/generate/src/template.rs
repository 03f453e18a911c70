//! The `template` generator: text with `{name}` references to other fields' outputs, e.g.
//! `postgres://{username}:{password}@db:5432/app`. `{{` and `}}` stand for literal braces.
//!
//! References are resolved when the policy is compiled: every name must be an output of
//! another field (a key-pair field `key` offers `key` and `key_public`), and templates that
//! refer to each other in a cycle are refused. At generation time, fields are produced in an
//! order where every template comes after the fields it uses.

use zeroize::Zeroizing;

use crate::GenerateError;
use crate::config::{Config, KeyKind, KeySpec};

pub(crate) const MAX_TEMPLATE_CHARS: usize = 4096;

pub(crate) const TEMPLATE: KeySpec = KeySpec {
    name: "template",
    kind: KeyKind::Text {
        default: None,
        max_chars: MAX_TEMPLATE_CHARS,
    },
    required: true,
    description: "text with {field} references to other fields' outputs; {{ and }} for \
        literal braces",
};

pub(crate) const KEYS: &[KeySpec] = &[TEMPLATE];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Reference(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn compile(config: &Config<'_>) -> Result<Self, GenerateError> {
        let text = config
            .text(&TEMPLATE)?
            .ok_or(GenerateError::Internal("required key missing"))?;
        parse(text).map_err(|message| config.error(&TEMPLATE, message))
    }

    /// The output names this template uses, in order of first use.
    pub fn references(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Reference(name) = part
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }

    /// Fills in the references; `lookup` returns an already generated output.
    pub fn render<'v>(
        &self,
        lookup: impl Fn(&str) -> Option<&'v str>,
    ) -> Result<Zeroizing<String>, GenerateError> {
        let mut pieces = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            pieces.push(match part {
                Part::Literal(text) => text.as_str(),
                Part::Reference(name) => {
                    lookup(name).ok_or(GenerateError::Internal("template used before its input"))?
                }
            });
        }
        // Sized up front so the secret is never copied by a reallocation.
        let mut out = Zeroizing::new(String::with_capacity(pieces.iter().map(|p| p.len()).sum()));
        for piece in pieces {
            out.push_str(piece);
        }
        Ok(out)
    }
}

/// Splits a template into literals and references; the error message names the position
/// (1-based, in characters).
fn parse(text: &str) -> Result<Template, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().enumerate().peekable();
    while let Some((position, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                chars.next();
                literal.push('}');
            }
            '}' => {
                return Err(format!(
                    "unmatched '}}' at character {} (write }}}} for a literal brace)",
                    position + 1
                ));
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err(format!(
                        "unclosed '{{' at character {} (write {{{{ for a literal brace)",
                        position + 1
                    ));
                }
                if !crate::valid_name(&name) {
                    return Err(format!(
                        "'{{{name}}}' at character {} is not a field reference (names are 1 to \
                         64 of A-Z a-z 0-9 _ . -; write {{{{ for a literal brace)",
                        position + 1
                    ));
                }
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Reference(name));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(Template { parts })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lit(text: &str) -> Part {
        Part::Literal(text.to_owned())
    }

    fn reference(name: &str) -> Part {
        Part::Reference(name.to_owned())
    }

    #[test]
    fn parses_references_and_escapes() {
        let template = parse("postgres://{username}:{password}@db:5432/app").unwrap();
        assert_eq!(
            template.parts,
            [
                lit("postgres://"),
                reference("username"),
                lit(":"),
                reference("password"),
                lit("@db:5432/app"),
            ]
        );
        assert_eq!(template.references(), ["username", "password"]);
        let escaped = parse("{{\"key\": \"{a.b-c_1}\"}}{a.b-c_1}").unwrap();
        assert_eq!(
            escaped.parts,
            [
                lit("{\"key\": \""),
                reference("a.b-c_1"),
                lit("\"}"),
                reference("a.b-c_1")
            ]
        );
        assert_eq!(escaped.references(), ["a.b-c_1"]);
        assert_eq!(parse("").unwrap().parts, []);
        assert_eq!(parse("{{}}").unwrap().parts, [lit("{}")]);
    }

    #[test]
    fn renders() {
        let template = parse("{user}:{pass}@{user}").unwrap();
        let out = template
            .render(|name| match name {
                "user" => Some("admin"),
                "pass" => Some("s3cret"),
                _ => None,
            })
            .unwrap();
        assert_eq!(out.as_str(), "admin:s3cret@admin");
        assert!(template.render(|_| None).is_err());
    }

    #[test]
    fn syntax_errors_name_the_position() {
        let cases = [
            (
                "a}b",
                "unmatched '}' at character 2 (write }} for a literal brace)",
            ),
            (
                "ab{cd",
                "unclosed '{' at character 3 (write {{ for a literal brace)",
            ),
            (
                "x{}",
                "'{}' at character 2 is not a field reference (names are 1 to 64 of A-Z a-z \
                 0-9 _ . -; write {{ for a literal brace)",
            ),
            (
                "{a b}",
                "'{a b}' at character 1 is not a field reference (names are 1 to 64 of A-Z \
                 a-z 0-9 _ . -; write {{ for a literal brace)",
            ),
            (
                "€{x",
                "unclosed '{' at character 2 (write {{ for a literal brace)",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap_err(), expected, "{text}");
        }
    }
}
