//! `--paths GLOB`: confines every tool and resource to parts of the secret tree, on top of the
//! token's own policies.
//!
//! The globs are the policy globs (docs/policies.md), matched by the policy engine itself:
//! the `--paths` list is compiled into a one-policy [`PolicySet`] that allows `read` on each
//! glob, so `app/*`, `app/**` and `?` mean exactly what they mean in a policy. Pure functions,
//! no I/O.

use scaivault_core::policy::{
    Effect, Permission, PolicyInput, PolicyRule, PolicySet, validate_glob,
};

/// The `--paths` globs, compiled. No globs means no confinement.
#[derive(Clone, Debug)]
pub struct Confinement {
    globs: Vec<String>,
    set: Option<PolicySet>,
}

/// What a list call should ask the server for once confined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListPrefix {
    /// Ask with this prefix (`None`: no prefix); results are still filtered.
    Ask(Option<String>),
    /// The requested prefix and the globs are disjoint: the answer is empty, nothing is sent.
    Nothing,
}

impl Confinement {
    /// No `--paths`: every path the token reaches.
    pub fn unconfined() -> Self {
        Self {
            globs: Vec::new(),
            set: None,
        }
    }

    /// Compiles `globs`; an invalid glob is refused with the policy engine's message.
    pub fn new(globs: &[String]) -> Result<Self, String> {
        if globs.is_empty() {
            return Ok(Self::unconfined());
        }
        for glob in globs {
            validate_glob(glob).map_err(|e| format!("--paths {glob:?}: {e}"))?;
        }
        let rules = globs
            .iter()
            .map(|glob| PolicyRule {
                path: glob.clone(),
                permissions: vec![Permission::Read],
                effect: Effect::Allow,
            })
            .collect();
        let set = PolicySet::compile([PolicyInput {
            id: "mcp_paths".into(),
            name: "scaivault mcp --paths".into(),
            rules,
        }])
        .map_err(|e| format!("--paths: {e}"))?;
        Ok(Self {
            globs: globs.to_vec(),
            set: Some(set),
        })
    }

    /// Whether `--paths` was given.
    pub fn is_confined(&self) -> bool {
        self.set.is_some()
    }

    /// The globs, as given.
    pub fn globs(&self) -> &[String] {
        &self.globs
    }

    /// Whether a tool may touch `path`.
    pub fn allows(&self, path: &str) -> bool {
        match &self.set {
            None => true,
            Some(set) => set.allows(path, Permission::Read),
        }
    }

    /// The prefix to list with: the requested one narrowed to the globs' common literal
    /// prefix (the part before the first wildcard), so the server is not asked for what would
    /// be filtered away anyway.
    pub fn list_prefix(&self, requested: Option<&str>) -> ListPrefix {
        let requested = requested.filter(|p| !p.is_empty());
        if self.set.is_none() {
            return ListPrefix::Ask(requested.map(str::to_owned));
        }
        let common = common_prefix(self.globs.iter().map(|g| literal_prefix(g)));
        match requested {
            None if common.is_empty() => ListPrefix::Ask(None),
            None => ListPrefix::Ask(Some(common)),
            Some(p) if p.starts_with(&common) => ListPrefix::Ask(Some(p.to_owned())),
            Some(p) if common.starts_with(p) => ListPrefix::Ask(Some(common)),
            Some(_) => ListPrefix::Nothing,
        }
    }

    /// Keeps the items of `list[key]` whose `path` is allowed; returns how many were dropped.
    pub fn filter_list(&self, body: &mut serde_json::Value, key: &str) -> usize {
        if self.set.is_none() {
            return 0;
        }
        let Some(items) = body.get_mut(key).and_then(|v| v.as_array_mut()) else {
            return 0;
        };
        let before = items.len();
        items.retain(|item| {
            item.get("path")
                .and_then(|p| p.as_str())
                .is_some_and(|p| self.allows(p))
        });
        before - items.len()
    }
}

/// The characters of `glob` before its first wildcard.
fn literal_prefix(glob: &str) -> &str {
    match glob.find(['*', '?']) {
        Some(i) => &glob[..i],
        None => glob,
    }
}

/// The longest common prefix of `parts`, on character boundaries.
fn common_prefix<'a>(mut parts: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = parts.next() else {
        return String::new();
    };
    let mut len = first.len();
    for part in parts {
        len = first
            .char_indices()
            .zip(part.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map(|((i, c), _)| i + c.len_utf8())
            .unwrap_or(0)
            .min(len);
    }
    first[..len].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confine(globs: &[&str]) -> Confinement {
        Confinement::new(&globs.iter().map(|g| g.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn policy_glob_semantics() {
        let c = confine(&["app/*", "shared/**"]);
        assert!(c.allows("app/db"));
        assert!(!c.allows("app/db/password"), "* stays in one segment");
        assert!(!c.allows("app"));
        assert!(!c.allows("xapp/db"), "anchored");
        assert!(c.allows("shared/a/b/c"));
        assert!(!c.allows("shared"), "a trailing /** needs a segment");
        assert!(!c.allows("other/x"));
        assert!(!c.allows("app/../other"));
        let q = confine(&["caf?/x"]);
        assert!(q.allows("café/x"), "? is one character, not one byte");
        assert!(!q.allows("cafés/x"));
    }

    #[test]
    fn unconfined_allows_everything() {
        let c = Confinement::new(&[]).unwrap();
        assert!(!c.is_confined());
        assert!(c.allows("anything/at/all"));
        assert_eq!(
            c.list_prefix(Some("a/")),
            ListPrefix::Ask(Some("a/".into()))
        );
        assert_eq!(c.list_prefix(Some("")), ListPrefix::Ask(None));
    }

    #[test]
    fn invalid_globs_are_refused_with_the_policy_message() {
        let err = Confinement::new(&["app/".into()]).unwrap_err();
        assert!(err.contains("must not end with '/'"), "{err}");
        assert!(Confinement::new(&["a/{b,c}".into()]).is_err());
        assert!(Confinement::new(&["".into()]).is_err());
    }

    #[test]
    fn list_prefixes_are_narrowed() {
        let c = confine(&["app/prod/**"]);
        assert_eq!(
            c.list_prefix(None),
            ListPrefix::Ask(Some("app/prod/".into()))
        );
        assert_eq!(
            c.list_prefix(Some("app/")),
            ListPrefix::Ask(Some("app/prod/".into()))
        );
        assert_eq!(
            c.list_prefix(Some("app/prod/db")),
            ListPrefix::Ask(Some("app/prod/db".into()))
        );
        assert_eq!(c.list_prefix(Some("other/")), ListPrefix::Nothing);

        let two = confine(&["app/one/*", "app/two/*"]);
        assert_eq!(two.list_prefix(None), ListPrefix::Ask(Some("app/".into())));
        let anywhere = confine(&["**/password"]);
        assert_eq!(anywhere.list_prefix(None), ListPrefix::Ask(None));
        assert_eq!(
            anywhere.list_prefix(Some("x/")),
            ListPrefix::Ask(Some("x/".into()))
        );
        let unicode = confine(&["café/a", "cafè/b"]);
        assert_eq!(
            unicode.list_prefix(None),
            ListPrefix::Ask(Some("caf".into()))
        );
    }

    #[test]
    fn lists_are_filtered() {
        let c = confine(&["app/*"]);
        let mut body = serde_json::json!({
            "secrets": [{"path": "app/a"}, {"path": "app/a/b"}, {"path": "other"}, {"nopath": 1}],
            "has_more": false
        });
        assert_eq!(c.filter_list(&mut body, "secrets"), 3);
        assert_eq!(body["secrets"], serde_json::json!([{"path": "app/a"}]));
    }
}
