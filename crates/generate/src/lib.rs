//! The value generators of secret policies: given a policy's fields, produce a new secret's
//! data, a JSON object of `{output name: string}`.
//!
//! A field is `{"name": "password", "generator": "random", "config": {"length": 32}}`
//! ([`FieldSpec`]). [`compile`] checks a whole field list up front (unknown generators and
//! config keys, ranges, names, template references and cycles) and returns a [`Generator`]
//! whose [`generate`](Generator::generate) cannot fail on input; its errors name the field
//! precisely (`fields[0].config.length: must be between 8 and 4096`) so the server can show
//! them as validation errors. [`catalogue`] describes every generator, config key and charset
//! for `scaivault secret-policies types`.
//!
//! Generators: `random`, `uuid`, `bytes`, `passphrase`, `rsa_key_pair`, `ec_key_pair`,
//! `ed25519_key_pair`, `ssh_key_pair`, `static` and `template`. A key-pair field named `key`
//! produces two outputs, `key` (the private key) and `key_public` (the public key).
//!
//! Why it matters for security: these values are the secrets. All randomness comes from the
//! operating system's CSPRNG (through aws-lc-rs); every choice among `n` options uses
//! rejection sampling, never `x % n`, so no character, word or index is favoured, and the
//! tests check that statistically. Intermediate buffers are zeroized, nothing here implements
//! `Debug` in a way that prints a value, and the crate does no I/O.
//!
//! The `passphrase` generator embeds the EFF large wordlist, © 2016 Electronic Frontier
//! Foundation, <https://www.eff.org/dice>, under the Creative Commons Attribution 3.0 License.

use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

mod bytes;
mod catalogue;
mod charset;
mod config;
mod error;
mod keys;
mod passphrase;
mod random;
mod ssh;
#[cfg(test)]
mod stats;
mod string;
mod template;
mod uuids;

pub use catalogue::{Catalogue, CharsetInfo, ConfigKeyInfo, GeneratorInfo, catalogue};
pub use error::GenerateError;
pub use keys::PUBLIC_KEY_SUFFIX;

use config::{Config, KeyKind, KeySpec};
use random::Rng;

/// Most fields one policy may have.
pub const MAX_FIELDS: usize = 32;
/// Longest field name, in characters (`A-Z a-z 0-9 _ . -`).
pub const MAX_FIELD_NAME_LEN: usize = 64;

const STATIC_VALUE: KeySpec = KeySpec {
    name: "value",
    kind: KeyKind::Text {
        default: None,
        max_chars: 4096,
    },
    required: true,
    description: "the value, stored as given; it is part of the policy, so not a secret",
};
pub(crate) const STATIC_KEYS: &[KeySpec] = &[STATIC_VALUE];

/// One field of a secret policy, as sent over the wire:
/// `{"name": "password", "generator": "random", "config": {"length": 32}}`.
/// `config` may be omitted (or `null`), which means all defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub name: String,
    pub generator: String,
    #[serde(default = "empty_object")]
    pub config: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// A checked policy, ready to generate any number of secrets.
pub struct Generator {
    fields: Vec<Field>,
    /// Field indices such that every template comes after the fields it refers to.
    order: Vec<usize>,
    /// Output name -> (field index, output index within the field).
    outputs: HashMap<String, (usize, usize)>,
}

struct Field {
    generator: &'static str,
    /// `[name]`, or `[name, name_public]` for key pairs.
    outputs: Vec<String>,
    kind: Kind,
}

enum Kind {
    Random(string::RandomString),
    Uuid(uuids::UuidVersion),
    Bytes(bytes::RandomBytes),
    Passphrase(passphrase::Passphrase),
    PemKeyPair(keys::KeyAlgorithm),
    SshKeyPair(ssh::SshKeyPair),
    Static(String),
    Template(template::Template),
}

impl Kind {
    fn compile(generator: &str, config: &Config<'_>, path: &str) -> Result<Self, GenerateError> {
        Ok(match generator {
            "random" => Self::Random(string::RandomString::compile(config, path)?),
            "uuid" => Self::Uuid(uuids::UuidVersion::compile(config)?),
            "bytes" => Self::Bytes(bytes::RandomBytes::compile(config)?),
            "passphrase" => Self::Passphrase(passphrase::Passphrase::compile(config)?),
            "rsa_key_pair" => Self::PemKeyPair(keys::KeyAlgorithm::compile_rsa(config)?),
            "ec_key_pair" => Self::PemKeyPair(keys::KeyAlgorithm::compile_ec(config)?),
            "ed25519_key_pair" => Self::PemKeyPair(keys::KeyAlgorithm::Ed25519),
            "ssh_key_pair" => Self::SshKeyPair(ssh::SshKeyPair::compile(config)?),
            "static" => Self::Static(
                config
                    .text(&STATIC_VALUE)?
                    .ok_or(GenerateError::Internal("required key missing"))?
                    .to_owned(),
            ),
            "template" => Self::Template(template::Template::compile(config)?),
            _ => return Err(GenerateError::Internal("generator list out of sync")),
        })
    }

    fn is_key_pair(&self) -> bool {
        matches!(self, Self::PemKeyPair(_) | Self::SshKeyPair(_))
    }
}

/// Whether `name` is a valid field name: 1 to 64 of `A-Z a-z 0-9 _ . -`.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=MAX_FIELD_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Checks a policy's fields and prepares them for generation.
///
/// Every problem a policy author can cause is reported here, as [`GenerateError::Invalid`]
/// naming the field (`fields[2].config.template: refers to unknown field 'pasword'`); the
/// first problem found is returned.
pub fn compile(fields: &[FieldSpec]) -> Result<Generator, GenerateError> {
    if fields.is_empty() {
        return Err(GenerateError::invalid(
            "fields",
            "at least one field is required",
        ));
    }
    if fields.len() > MAX_FIELDS {
        return Err(GenerateError::invalid(
            "fields",
            format!(
                "at most {MAX_FIELDS} fields are allowed (got {})",
                fields.len()
            ),
        ));
    }

    let mut compiled = Vec::with_capacity(fields.len());
    let mut outputs: HashMap<String, (usize, usize)> = HashMap::new();
    for (index, spec) in fields.iter().enumerate() {
        let path = format!("fields[{index}]");
        if !valid_name(&spec.name) {
            return Err(GenerateError::invalid(
                format!("{path}.name"),
                format!("must be 1 to {MAX_FIELD_NAME_LEN} characters from A-Z a-z 0-9 _ . -"),
            ));
        }
        let Some(definition) = catalogue::generator(&spec.generator) else {
            let known: Vec<&str> = catalogue::GENERATORS.iter().map(|g| g.name).collect();
            return Err(GenerateError::invalid(
                format!("{path}.generator"),
                format!(
                    "unknown generator '{}' (known: {})",
                    spec.generator.chars().take(64).collect::<String>(),
                    known.join(", ")
                ),
            ));
        };
        let config_path = format!("{path}.config");
        let config = Config::new(&spec.config, &config_path, definition.name, definition.keys)?;
        let kind = Kind::compile(definition.name, &config, &path)?;

        let mut names = vec![spec.name.clone()];
        if kind.is_key_pair() {
            names.push(format!("{}{PUBLIC_KEY_SUFFIX}", spec.name));
        }
        for (position, name) in names.iter().enumerate() {
            if let Some((other, _)) = outputs.get(name) {
                return Err(GenerateError::invalid(
                    format!("{path}.name"),
                    format!("output '{name}' is already produced by fields[{other}]"),
                ));
            }
            outputs.insert(name.clone(), (index, position));
        }
        compiled.push(Field {
            generator: definition.name,
            outputs: names,
            kind,
        });
    }

    let mut dependencies = Vec::with_capacity(compiled.len());
    for (index, field) in compiled.iter().enumerate() {
        let mut uses = Vec::new();
        if let Kind::Template(template) = &field.kind {
            let path = format!("fields[{index}].config.template");
            for name in template.references() {
                match outputs.get(name) {
                    None => {
                        return Err(GenerateError::invalid(
                            path,
                            format!("refers to unknown field '{name}'"),
                        ));
                    }
                    Some((producer, _)) if *producer == index => {
                        return Err(GenerateError::invalid(
                            path,
                            format!("refers to its own output '{name}'"),
                        ));
                    }
                    Some((producer, _)) => uses.push(*producer),
                }
            }
        }
        dependencies.push(uses);
    }
    let order = generation_order(&compiled, &dependencies)?;
    Ok(Generator {
        fields: compiled,
        order,
        outputs,
    })
}

/// A topological order of the fields (depth-first, so it is deterministic), refusing cycles.
fn generation_order(
    fields: &[Field],
    dependencies: &[Vec<usize>],
) -> Result<Vec<usize>, GenerateError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        node: usize,
        fields: &[Field],
        dependencies: &[Vec<usize>],
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), GenerateError> {
        match marks[node] {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let start = stack.iter().position(|n| *n == node).unwrap_or(0);
                let cycle: Vec<&str> = stack[start..]
                    .iter()
                    .chain([&node])
                    .map(|n| fields[*n].outputs[0].as_str())
                    .collect();
                return Err(GenerateError::invalid(
                    format!("fields[{}].config.template", stack[start]),
                    format!("reference cycle: {}", cycle.join(" -> ")),
                ));
            }
            Mark::New => {}
        }
        marks[node] = Mark::Active;
        stack.push(node);
        for &dependency in &dependencies[node] {
            visit(dependency, fields, dependencies, marks, stack, order)?;
        }
        stack.pop();
        marks[node] = Mark::Done;
        order.push(node);
        Ok(())
    }

    let mut marks = vec![Mark::New; fields.len()];
    let mut order = Vec::with_capacity(fields.len());
    let mut stack = Vec::new();
    for node in 0..fields.len() {
        visit(
            node,
            fields,
            dependencies,
            &mut marks,
            &mut stack,
            &mut order,
        )?;
    }
    Ok(order)
}

impl Generator {
    /// Generates a secret's data: every output name mapped to a string.
    #[allow(
        clippy::disallowed_methods,
        reason = "UUIDv7 embeds the real creation time; callers with a Clock use generate_at"
    )]
    pub fn generate(&self) -> Result<Map<String, Value>, GenerateError> {
        self.generate_at(SystemTime::now())
    }

    /// [`generate`](Self::generate) with the current time given, which only `uuid` version 7
    /// uses (time is a parameter so callers can inject their clock).
    pub fn generate_at(&self, now: SystemTime) -> Result<Map<String, Value>, GenerateError> {
        let mut rng = Rng::new();
        let mut produced: Vec<Vec<Zeroizing<String>>> = Vec::with_capacity(self.fields.len());
        produced.resize_with(self.fields.len(), Vec::new);
        for &index in &self.order {
            let field = &self.fields[index];
            let values = match &field.kind {
                Kind::Random(generator) => vec![generator.generate(&mut rng)?],
                Kind::Uuid(version) => vec![Zeroizing::new(version.generate(&mut rng, now)?)],
                Kind::Bytes(generator) => vec![generator.generate(&mut rng)?],
                Kind::Passphrase(generator) => vec![generator.generate(&mut rng)?],
                Kind::PemKeyPair(algorithm) => {
                    let pair = algorithm.generate()?;
                    vec![pair.private, Zeroizing::new(pair.public)]
                }
                Kind::SshKeyPair(generator) => {
                    let pair = generator.generate()?;
                    vec![pair.private, Zeroizing::new(pair.public)]
                }
                Kind::Static(value) => vec![Zeroizing::new(value.clone())],
                Kind::Template(template) => vec![template.render(|name| {
                    let (field, output) = self.outputs.get(name)?;
                    produced.get(*field)?.get(*output).map(|v| v.as_str())
                })?],
            };
            if let Some(slot) = produced.get_mut(index) {
                *slot = values;
            }
        }
        let mut data = Map::new();
        for (field, values) in self.fields.iter().zip(&produced) {
            if values.len() != field.outputs.len() {
                return Err(GenerateError::Internal("a field produced no value"));
            }
            for (name, value) in field.outputs.iter().zip(values) {
                data.insert(name.clone(), Value::String(value.as_str().to_owned()));
            }
        }
        Ok(data)
    }

    /// The names [`generate`](Self::generate) will produce, in field order (a key-pair field
    /// contributes its `_public` output right after its own).
    pub fn output_names(&self) -> Vec<&str> {
        self.fields
            .iter()
            .flat_map(|f| f.outputs.iter().map(String::as_str))
            .collect()
    }
}

/// Shows field names and generators only, never a value (static values included).
impl fmt::Debug for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.fields
                    .iter()
                    .map(|field| (&field.outputs[0], field.generator)),
            )
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Vec<FieldSpec> {
        serde_json::from_value(value).unwrap()
    }

    fn error(value: Value) -> String {
        match compile(&fields(value)) {
            Ok(_) => panic!("accepted"),
            Err(e) => {
                assert!(e.is_invalid());
                e.to_string()
            }
        }
    }

    #[test]
    fn generators_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Generator>();
        assert_send_sync::<GenerateError>();
    }

    #[test]
    fn the_cli_docs_example() {
        let generator = compile(&fields(json!([
            {"name": "password", "generator": "random",
             "config": {"length": 32, "charset": "alphanumeric"}}
        ])))
        .unwrap();
        let data = generator.generate().unwrap();
        assert_eq!(data.len(), 1);
        let password = data["password"].as_str().unwrap();
        assert_eq!(password.len(), 32);
        assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(generator.generate().unwrap()["password"], data["password"]);
    }

    #[test]
    fn field_spec_wire_shape() {
        let spec: FieldSpec =
            serde_json::from_value(json!({"name": "id", "generator": "uuid"})).unwrap();
        assert_eq!(spec.config, json!({}));
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            back,
            json!({"name": "id", "generator": "uuid", "config": {}})
        );
        let unknown = serde_json::from_value::<FieldSpec>(
            json!({"name": "id", "generator": "uuid", "cofnig": {}}),
        );
        assert!(unknown.is_err());
    }

    #[test]
    fn a_database_credential_policy() {
        let generator = compile(&fields(json!([
            {"name": "url", "generator": "template",
             "config": {"template": "postgres://{username}:{password}@db:5432/app?x={{y}}"}},
            {"name": "username", "generator": "static", "config": {"value": "app_user"}},
            {"name": "password", "generator": "random", "config": {"length": 24}},
            {"name": "api_key", "generator": "bytes", "config": {"encoding": "base64url"}},
            {"name": "id", "generator": "uuid", "config": {"version": 7}},
            {"name": "phrase", "generator": "passphrase"},
            {"name": "tls", "generator": "ec_key_pair"},
            {"name": "pem", "generator": "template", "config": {"template": "{tls_public}"}},
        ])))
        .unwrap();
        assert_eq!(
            generator.output_names(),
            [
                "url",
                "username",
                "password",
                "api_key",
                "id",
                "phrase",
                "tls",
                "tls_public",
                "pem"
            ]
        );
        let data = generator.generate().unwrap();
        let get = |name: &str| data[name].as_str().unwrap().to_owned();
        assert_eq!(data.len(), 9);
        assert_eq!(
            get("url"),
            format!(
                "postgres://app_user:{}@db:5432/app?x={{y}}",
                get("password")
            )
        );
        assert_eq!(get("username"), "app_user");
        assert_eq!(get("pem"), get("tls_public"));
        assert!(get("tls").starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(data.values().all(Value::is_string));
        // Debug shows names and generators, no values.
        let debug = format!("{generator:?}");
        assert!(debug.contains("\"username\": \"static\""), "{debug}");
        assert!(!debug.contains("app_user"));
    }

    #[test]
    fn templates_chain_in_dependency_order() {
        let generator = compile(&fields(json!([
            {"name": "c", "generator": "template", "config": {"template": "<{b}>"}},
            {"name": "b", "generator": "template", "config": {"template": "{a}{a}"}},
            {"name": "a", "generator": "static", "config": {"value": "x"}},
        ])))
        .unwrap();
        let data = generator.generate().unwrap();
        assert_eq!(data["c"], "<xx>");
        assert_eq!(generator.order, [2, 1, 0]);
    }

    #[test]
    fn field_list_validation_messages() {
        let cases = [
            (json!([]), "fields: at least one field is required"),
            (
                Value::Array(
                    (0..33)
                        .map(|i| json!({"name": format!("f{i}"), "generator": "uuid"}))
                        .collect(),
                ),
                "fields: at most 32 fields are allowed (got 33)",
            ),
            (
                json!([{"name": "", "generator": "uuid"}]),
                "fields[0].name: must be 1 to 64 characters from A-Z a-z 0-9 _ . -",
            ),
            (
                json!([{"name": "a", "generator": "uuid"}, {"name": "a/b", "generator": "uuid"}]),
                "fields[1].name: must be 1 to 64 characters from A-Z a-z 0-9 _ . -",
            ),
            (
                json!([{"name": "x".repeat(65), "generator": "uuid"}]),
                "fields[0].name: must be 1 to 64 characters from A-Z a-z 0-9 _ . -",
            ),
            (
                json!([{"name": "a", "generator": "uuid"}, {"name": "a", "generator": "uuid"}]),
                "fields[1].name: output 'a' is already produced by fields[0]",
            ),
            (
                json!([{"name": "key_public", "generator": "static", "config": {"value": "v"}},
                       {"name": "key", "generator": "ed25519_key_pair"}]),
                "fields[1].name: output 'key_public' is already produced by fields[0]",
            ),
            (
                json!([{"name": "a", "generator": "passwrod"}]),
                "fields[0].generator: unknown generator 'passwrod' (known: random, uuid, bytes, \
                 passphrase, rsa_key_pair, ec_key_pair, ed25519_key_pair, ssh_key_pair, static, \
                 template)",
            ),
            (
                json!([{"name": "a", "generator": "static"}]),
                "fields[0].config.value: is required",
            ),
            (
                json!([{"name": "a", "generator": "static", "config": {"value": 5}}]),
                "fields[0].config.value: must be a string",
            ),
            (
                json!([{"name": "a", "generator": "template"}]),
                "fields[0].config.template: is required",
            ),
            (
                json!([{"name": "a", "generator": "uuid"},
                       {"name": "b", "generator": "template", "config": {"template": "{pasword}"}}]),
                "fields[1].config.template: refers to unknown field 'pasword'",
            ),
            (
                json!([{"name": "a", "generator": "template", "config": {"template": "{a}"}}]),
                "fields[0].config.template: refers to its own output 'a'",
            ),
            (
                json!([{"name": "k", "generator": "ssh_key_pair"},
                       {"name": "t", "generator": "template", "config": {"template": "{t}"}}]),
                "fields[1].config.template: refers to its own output 't'",
            ),
            (
                json!([{"name": "a", "generator": "template", "config": {"template": "{b}"}},
                       {"name": "b", "generator": "template", "config": {"template": "{c}"}},
                       {"name": "c", "generator": "template", "config": {"template": "{a}!"}}]),
                "fields[0].config.template: reference cycle: a -> b -> c -> a",
            ),
            (
                json!([{"name": "x", "generator": "uuid"},
                       {"name": "a", "generator": "template", "config": {"template": "{x}{b}"}},
                       {"name": "b", "generator": "template", "config": {"template": "{a}"}}]),
                "fields[1].config.template: reference cycle: a -> b -> a",
            ),
            (
                json!([{"name": "a", "generator": "random", "config": {"length": 7}}]),
                "fields[0].config.length: must be between 8 and 4096",
            ),
            (
                json!([{"name": "a", "generator": "uuid", "config": "v4"}]),
                "fields[0].config: must be a JSON object",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(error(value.clone()), expected, "{value}");
        }
    }

    #[test]
    fn thirty_two_fields_and_long_names_are_fine() {
        let many: Vec<Value> = (0..32)
            .map(|i| json!({"name": format!("{i}.{}", "n".repeat(60)), "generator": "uuid"}))
            .collect();
        let data = compile(&fields(Value::Array(many)))
            .unwrap()
            .generate()
            .unwrap();
        assert_eq!(data.len(), 32);
    }

    #[test]
    fn key_pair_fields_produce_a_public_output() {
        let generator = compile(&fields(json!([
            {"name": "signing", "generator": "ed25519_key_pair"},
            {"name": "deploy", "generator": "ssh_key_pair", "config": {"comment": "ci"}},
        ])))
        .unwrap();
        let data = generator.generate().unwrap();
        let keys: Vec<&String> = data.keys().collect();
        assert_eq!(keys.len(), 4);
        assert!(
            data["signing_public"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY")
        );
        assert!(
            data["deploy"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY")
        );
        assert!(data["deploy_public"].as_str().unwrap().ends_with(" ci"));
        let derived = keys::tests::openssl(&["pkey", "-pubout"], data["signing"].as_str().unwrap());
        assert_eq!(derived, data["signing_public"].as_str().unwrap());
    }
}
