//! What `scaivault secret-policies types` shows: every generator with its config keys, and
//! every named charset with its characters. Built from the same key tables that validate
//! configs, so the documentation cannot drift from the behaviour.

use serde::Serialize;
use serde_json::Value;

use crate::config::{KeyKind, KeySpec};
use crate::{
    MAX_FIELD_NAME_LEN, MAX_FIELDS, bytes, charset, keys, passphrase, ssh, string, template, uuids,
};

/// The generators and charsets, serialized as JSON by the server.
#[derive(Debug, Clone, Serialize)]
pub struct Catalogue {
    pub generators: Vec<GeneratorInfo>,
    pub charsets: Vec<CharsetInfo>,
    /// What `exclude_ambiguous` removes.
    pub ambiguous_characters: &'static str,
    /// Most fields one policy may have.
    pub max_fields: usize,
    /// What a field name may be.
    pub field_name_pattern: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GeneratorInfo {
    /// The `generator` string of a field.
    pub name: &'static str,
    pub description: &'static str,
    /// The output entries a field named `name` produces (`{name}` stands for the field name).
    pub outputs: Vec<&'static str>,
    pub config: Vec<ConfigKeyInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigKeyInfo {
    pub name: &'static str,
    /// `integer`, `string` or `boolean`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The only values accepted, when the key is an enumeration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<u64>,
    /// Longest accepted string, in characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    pub description: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CharsetInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub characters: &'static str,
    pub size: usize,
}

/// A generator: the `generator` string, its description, outputs and keys.
pub(crate) struct GeneratorDef {
    pub name: &'static str,
    pub description: &'static str,
    pub outputs: &'static [&'static str],
    pub keys: &'static [KeySpec],
}

const ONE: &[&str] = &["{name}"];
const PAIR: &[&str] = &["{name}", "{name}_public"];

/// Every generator, in catalogue order.
pub(crate) const GENERATORS: &[GeneratorDef] = &[
    GeneratorDef {
        name: "random",
        description: "A random string over a charset, each character uniform and independent; \
            with minimum counts per character class, uniform over the strings that meet them.",
        outputs: ONE,
        keys: string::KEYS,
    },
    GeneratorDef {
        name: "uuid",
        description: "A random UUID (RFC 9562), lowercase with hyphens.",
        outputs: ONE,
        keys: uuids::KEYS,
    },
    GeneratorDef {
        name: "bytes",
        description: "Random bytes, hex or base64 encoded (API keys, HMAC and encryption keys).",
        outputs: ONE,
        keys: bytes::KEYS,
    },
    GeneratorDef {
        name: "passphrase",
        description: "Words drawn uniformly from the EFF large wordlist (7,776 words, 12.9 bits \
            each; by the Electronic Frontier Foundation, CC BY 3.0, https://www.eff.org/dice).",
        outputs: ONE,
        keys: passphrase::KEYS,
    },
    GeneratorDef {
        name: "rsa_key_pair",
        description: "An RSA key pair: {name} is the private key as PKCS#8 PEM (BEGIN PRIVATE \
            KEY), {name}_public the public key as SubjectPublicKeyInfo PEM (BEGIN PUBLIC KEY).",
        outputs: PAIR,
        keys: keys::RSA_KEYS,
    },
    GeneratorDef {
        name: "ec_key_pair",
        description: "An ECDSA key pair: {name} is the private key as PKCS#8 PEM, \
            {name}_public the public key as SubjectPublicKeyInfo PEM.",
        outputs: PAIR,
        keys: keys::EC_KEYS,
    },
    GeneratorDef {
        name: "ed25519_key_pair",
        description: "An Ed25519 key pair: {name} is the private key as PKCS#8 PEM, \
            {name}_public the public key as SubjectPublicKeyInfo PEM.",
        outputs: PAIR,
        keys: keys::ED25519_KEYS,
    },
    GeneratorDef {
        name: "ssh_key_pair",
        description: "An SSH key pair: {name} is the unencrypted private key in OpenSSH format \
            (BEGIN OPENSSH PRIVATE KEY), {name}_public the public key as an authorized_keys \
            line.",
        outputs: PAIR,
        keys: ssh::KEYS,
    },
    GeneratorDef {
        name: "static",
        description: "A fixed, non-secret value such as a username or host name.",
        outputs: ONE,
        keys: crate::STATIC_KEYS,
    },
    GeneratorDef {
        name: "template",
        description: "Text built from other fields' outputs, e.g. \
            postgres://{username}:{password}@db:5432/app; generated after the fields it uses.",
        outputs: ONE,
        keys: template::KEYS,
    },
];

pub(crate) fn generator(name: &str) -> Option<&'static GeneratorDef> {
    GENERATORS.iter().find(|g| g.name == name)
}

/// The catalogue of generators and charsets.
pub fn catalogue() -> Catalogue {
    Catalogue {
        generators: GENERATORS
            .iter()
            .map(|g| GeneratorInfo {
                name: g.name,
                description: g.description,
                outputs: g.outputs.to_vec(),
                config: g.keys.iter().map(key_info).collect(),
            })
            .collect(),
        charsets: charset::NAMED
            .iter()
            .map(|c| CharsetInfo {
                name: c.name,
                description: c.description,
                characters: c.characters,
                size: c.characters.chars().count(),
            })
            .collect(),
        ambiguous_characters: charset::AMBIGUOUS,
        max_fields: MAX_FIELDS,
        field_name_pattern: format!("^[A-Za-z0-9_.-]{{1,{MAX_FIELD_NAME_LEN}}}$"),
    }
}

fn key_info(spec: &KeySpec) -> ConfigKeyInfo {
    let mut info = ConfigKeyInfo {
        name: spec.name,
        kind: "integer",
        required: spec.required,
        default: None,
        allowed: None,
        minimum: None,
        maximum: None,
        max_length: None,
        description: spec.description,
    };
    match spec.kind {
        KeyKind::Integer { default, min, max } => {
            info.default = Some(default.into());
            info.minimum = Some(min);
            info.maximum = Some(max);
        }
        KeyKind::IntegerChoice { default, allowed } => {
            info.default = Some(default.into());
            info.allowed = Some(allowed.iter().map(|v| Value::from(*v)).collect());
        }
        KeyKind::Choice { default, allowed } => {
            info.kind = "string";
            info.default = Some(default.into());
            info.allowed = Some(allowed.iter().map(|v| Value::from(*v)).collect());
        }
        KeyKind::Boolean { default } => {
            info.kind = "boolean";
            info.default = Some(default.into());
        }
        KeyKind::Text { default, max_chars } => {
            info.kind = "string";
            info.default = default.map(Value::from);
            info.max_length = Some(max_chars);
        }
    }
    info
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_every_generator_and_charset() {
        let value = serde_json::to_value(catalogue()).unwrap();
        let names: Vec<&str> = value["generators"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "random",
                "uuid",
                "bytes",
                "passphrase",
                "rsa_key_pair",
                "ec_key_pair",
                "ed25519_key_pair",
                "ssh_key_pair",
                "static",
                "template"
            ]
        );
        let random = &value["generators"][0];
        assert_eq!(
            random["config"][0],
            json!({"name": "length", "type": "integer", "required": false, "default": 32,
                   "minimum": 8, "maximum": 4096, "description": "number of characters"})
        );
        assert_eq!(random["config"][1]["allowed"][8], "custom");
        assert_eq!(value["charsets"][0]["name"], "alphanumeric");
        assert_eq!(value["charsets"][0]["size"], 62);
        assert_eq!(value["charsets"].as_array().unwrap().len(), 8);
        assert_eq!(value["max_fields"], 32);
        assert_eq!(value["field_name_pattern"], "^[A-Za-z0-9_.-]{1,64}$");
        assert_eq!(
            value["generators"][4]["outputs"],
            json!(["{name}", "{name}_public"])
        );
    }

    /// Every catalogued generator compiles with its documented defaults (plus its required
    /// keys), every default passes its own validation, and every charset can be selected.
    #[test]
    fn the_catalogue_matches_what_compile_accepts() {
        for g in GENERATORS {
            let mut config = serde_json::Map::new();
            for spec in g.keys {
                let info = key_info(spec);
                if let Some(default) = info.default {
                    config.insert(spec.name.to_owned(), default);
                } else if spec.required {
                    config.insert(spec.name.to_owned(), json!("x"));
                }
            }
            if g.name == "ssh_key_pair" {
                // `bits` (given here at its default) is only allowed for RSA keys.
                config.insert("algorithm".into(), json!("rsa"));
            }
            let fields = [crate::FieldSpec {
                name: "f".into(),
                generator: g.name.into(),
                config: serde_json::Value::Object(config),
            }];
            // The template gets "x", plain text without references, which is valid.
            let compiled = crate::compile(&fields);
            assert!(compiled.is_ok(), "{}: {:?}", g.name, compiled.err());
        }
        for c in charset::NAMED {
            let fields = [crate::FieldSpec {
                name: "f".into(),
                generator: "random".into(),
                config: json!({"charset": c.name}),
            }];
            assert!(crate::compile(&fields).is_ok(), "{}", c.name);
        }
    }
}
