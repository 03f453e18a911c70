//! Path globs: validation, translation to `globset`, and the exact check behind `?`.
//!
//! `globset` compiles globs to byte regexes, so its `?` matches one *byte*: `caf?` would miss
//! `café` and `??` would match `é`. Globs are therefore given to the `GlobSet` with every `?`
//! widened to `*` (a superset, so nothing is missed), and the few globs that contain `?` are
//! confirmed per character by [`Pattern::matches`] after the set has matched them.

/// Longest accepted glob, in bytes.
pub const MAX_GLOB_BYTES: usize = 1024;

/// Why a glob was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("glob is empty")]
    Empty,
    #[error("glob is longer than {MAX_GLOB_BYTES} bytes")]
    TooLong,
    #[error("glob must not start with '/' (paths are relative, e.g. 'app/*')")]
    LeadingSlash,
    #[error("glob must not end with '/' (use 'prefix/**' for everything under a prefix)")]
    TrailingSlash,
    #[error("glob has an empty segment ('//')")]
    EmptySegment,
    #[error("glob segments '.' and '..' are not allowed (no path contains them)")]
    DotSegment,
    #[error("'**' must be a whole segment, as in 'a/**/b'; use '*' within a segment")]
    PartialDoubleStar,
    #[error("'{0}' is not supported: a glob is made of '*', '**', '?' and literal characters")]
    Unsupported(char),
    #[error("glob contains {0}, which no secret path can contain")]
    ForbiddenChar(&'static str),
}

/// Checks a glob against the language described in the module docs of `policy`.
pub fn validate_glob(glob: &str) -> Result<(), GlobError> {
    if glob.is_empty() {
        return Err(GlobError::Empty);
    }
    if glob.len() > MAX_GLOB_BYTES {
        return Err(GlobError::TooLong);
    }
    for c in glob.chars() {
        let what = match c {
            '[' | ']' | '{' | '}' => return Err(GlobError::Unsupported(c)),
            // The characters SecretPath refuses: a glob holding one could never match.
            c if c.is_control() => "a control character",
            c if c.is_whitespace() => "whitespace",
            '\\' => "'\\'",
            '%' => "'%'",
            '#' => "'#'",
            _ => continue,
        };
        return Err(GlobError::ForbiddenChar(what));
    }
    if glob.starts_with('/') {
        return Err(GlobError::LeadingSlash);
    }
    if glob.ends_with('/') {
        return Err(GlobError::TrailingSlash);
    }
    for segment in glob.split('/') {
        match segment {
            "" => return Err(GlobError::EmptySegment),
            "." | ".." => return Err(GlobError::DotSegment),
            "**" => {}
            s if s.contains("**") => return Err(GlobError::PartialDoubleStar),
            _ => {}
        }
    }
    Ok(())
}

/// Whether a path is well formed enough to be matched at all: non-empty, no empty or dot
/// segment. Anything else matches no glob, so malformed input falls to the default deny.
pub(crate) fn is_matchable_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// Segments of a validated glob with runs of `**` segments collapsed (`a/**/**/b` means the
/// same as `a/**/b`, and globset would read the doubled form differently).
fn segments(glob: &str) -> impl Iterator<Item = &str> {
    let mut previous_was_any = false;
    glob.split('/').filter(move |s| {
        let any = *s == "**";
        let keep = !(any && previous_was_any);
        previous_was_any = any;
        keep
    })
}

/// The pattern given to the `GlobSet`: `?` widened to `*`, and any run of wildcards within a
/// segment collapsed to one `*` (so `*?` cannot turn into a segment-crossing `**`).
pub(crate) fn globset_pattern(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len());
    for (i, segment) in segments(glob).enumerate() {
        if i > 0 {
            out.push('/');
        }
        if segment == "**" {
            out.push_str("**");
            continue;
        }
        let mut in_wildcards = false;
        for c in segment.chars() {
            if c == '*' || c == '?' {
                if !in_wildcards {
                    out.push('*');
                }
                in_wildcards = true;
            } else {
                out.push(c);
                in_wildcards = false;
            }
        }
    }
    out
}

/// The exact, per-character form of a glob, kept only for globs that contain `?`.
#[derive(Clone, Debug)]
pub(crate) struct Pattern(Box<[Segment]>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// `**`: zero or more whole segments.
    AnySegments,
    /// One segment, matched per character against `*`, `?` and literals.
    One(Box<str>),
}

impl Pattern {
    /// `Some` for a validated glob containing `?`, `None` when the `GlobSet` alone is exact.
    pub(crate) fn for_glob(glob: &str) -> Option<Pattern> {
        if !glob.contains('?') {
            return None;
        }
        Some(Self::new(glob))
    }

    fn new(glob: &str) -> Pattern {
        let mut out: Vec<Segment> = Vec::new();
        for segment in segments(glob) {
            if segment == "**" {
                out.push(Segment::AnySegments);
            } else {
                out.push(Segment::One(segment.into()));
            }
        }
        // A trailing `/**` needs at least one segment after the prefix (`a/**` does not match
        // `a`), exactly as globset reads it: the same as `a/*/**`.
        if out.len() > 1 && out.last() == Some(&Segment::AnySegments) {
            out.insert(out.len() - 1, Segment::One("*".into()));
        }
        Pattern(out.into_boxed_slice())
    }

    /// Matches a path (already checked by [`is_matchable_path`]) segment by segment.
    ///
    /// `**` is a star over segments, so the classic wildcard algorithm applies: on a mismatch,
    /// backtrack only to the most recent `**` and let it swallow one more segment. This is
    /// linear in the path for each `**` and never recurses.
    pub(crate) fn matches(&self, path: &str) -> bool {
        let pattern = &self.0;
        let mut p = 0;
        let mut rest = path.split('/');
        let mut backtrack = None;
        loop {
            let mut after = rest.clone();
            let Some(segment) = after.next() else { break };
            match pattern.get(p) {
                Some(Segment::AnySegments) => {
                    p += 1;
                    backtrack = Some((p, rest.clone()));
                }
                Some(Segment::One(glob)) if segment_matches(glob, segment) => {
                    p += 1;
                    rest = after;
                }
                _ => match &mut backtrack {
                    Some((star_p, star_rest)) => {
                        star_rest.next();
                        p = *star_p;
                        rest = star_rest.clone();
                    }
                    None => return false,
                },
            }
        }
        pattern
            .get(p..)
            .is_some_and(|tail| tail.iter().all(|s| *s == Segment::AnySegments))
    }
}

/// One segment against one glob segment: `*` any run of characters, `?` exactly one
/// character, anything else itself. Same backtracking scheme as [`Pattern::matches`].
fn segment_matches(glob: &str, text: &str) -> bool {
    let mut g = glob.chars();
    let mut t = text.chars();
    let mut backtrack = None;
    loop {
        let mut t_after = t.clone();
        let Some(tc) = t_after.next() else { break };
        let mut g_after = g.clone();
        match g_after.next() {
            Some('*') => {
                g = g_after;
                backtrack = Some((g.clone(), t.clone()));
            }
            Some(gc) if gc == '?' || gc == tc => {
                g = g_after;
                t = t_after;
            }
            _ => match &mut backtrack {
                Some((star_g, star_t)) => {
                    star_t.next();
                    g = star_g.clone();
                    t = star_t.clone();
                }
                None => return false,
            },
        }
    }
    g.all(|c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn globset_matches(glob: &str, path: &str) -> bool {
        globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .unwrap()
            .compile_matcher()
            .is_match(path)
    }

    #[test]
    fn validation() {
        for ok in [
            "a",
            "**",
            "*",
            "?",
            "app/*/db",
            "app/**",
            "**/password",
            "a/**/b",
            "a/*x*/b",
            "tenants/acme/config.json",
            "café/ключ/*",
            "a.b/c-d_e@f",
        ] {
            assert_eq!(validate_glob(ok), Ok(()), "{ok}");
        }
        let cases: [(&str, GlobError); 15] = [
            ("", GlobError::Empty),
            ("/a", GlobError::LeadingSlash),
            ("a/", GlobError::TrailingSlash),
            ("a//b", GlobError::EmptySegment),
            ("a/./b", GlobError::DotSegment),
            ("..", GlobError::DotSegment),
            ("a**b", GlobError::PartialDoubleStar),
            ("a/**b", GlobError::PartialDoubleStar),
            ("***", GlobError::PartialDoubleStar),
            ("a/[ab]", GlobError::Unsupported('[')),
            ("a/{b,c}", GlobError::Unsupported('{')),
            ("a/b]", GlobError::Unsupported(']')),
            ("a\\*", GlobError::ForbiddenChar("'\\'")),
            ("a b", GlobError::ForbiddenChar("whitespace")),
            ("a\n", GlobError::ForbiddenChar("a control character")),
        ];
        for (glob, err) in cases {
            assert_eq!(validate_glob(glob), Err(err), "{glob:?}");
        }
        assert_eq!(validate_glob(&"a".repeat(MAX_GLOB_BYTES)), Ok(()));
        assert_eq!(
            validate_glob(&"a".repeat(MAX_GLOB_BYTES + 1)),
            Err(GlobError::TooLong)
        );
    }

    #[test]
    fn globset_patterns() {
        assert_eq!(globset_pattern("a/**/**/b"), "a/**/b");
        assert_eq!(globset_pattern("**/**"), "**");
        assert_eq!(globset_pattern("a/*?/b"), "a/*/b");
        assert_eq!(globset_pattern("a/x??y*z"), "a/x*y*z");
        assert_eq!(globset_pattern("café/*.json"), "café/*.json");
    }

    #[test]
    fn question_mark_is_one_character() {
        let p = Pattern::new("caf?/?");
        assert!(p.matches("café/é"));
        assert!(p.matches("cafe/x"));
        assert!(!p.matches("caf/x"));
        assert!(!p.matches("café/éé"));
        let two = Pattern::new("x/??");
        assert!(!two.matches("x/é"));
        assert!(two.matches("x/éa"));
        // The reason the exact check exists: globset's `?` is one byte.
        assert!(!globset_matches("caf?", "café"));
        assert!(globset_matches("x/??", "x/é"));
    }

    #[test]
    fn pattern_double_star() {
        let p = Pattern::new("a/**");
        assert!(!p.matches("a"));
        assert!(p.matches("a/b"));
        assert!(p.matches("a/b/c"));
        let p = Pattern::new("**/?");
        assert!(p.matches("x"));
        assert!(p.matches("a/b/x"));
        assert!(!p.matches("a/b/xy"));
        let p = Pattern::new("a/**/?/**/b");
        assert!(p.matches("a/x/b"));
        assert!(p.matches("a/1/2/x/3/b"));
        assert!(!p.matches("a/b"));
        let p = Pattern::new("**");
        assert!(p.matches("a"));
        assert!(p.matches("a/b/c"));
    }

    fn glob_segment() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => Just("**".to_owned()),
            6 => "[ab*?]{1,4}".prop_filter("no ** inside a segment", |s| !s.contains("**")),
        ]
    }

    fn path_segment() -> impl Strategy<Value = String> {
        "[ab]{1,3}"
    }

    proptest! {
        // On ASCII paths globset's byte-wise `?` is exact, so both matchers must agree.
        #[test]
        fn pattern_agrees_with_globset_on_ascii(
            glob in prop::collection::vec(glob_segment(), 1..5),
            path in prop::collection::vec(path_segment(), 1..6),
        ) {
            let glob = glob.join("/");
            let path = path.join("/");
            prop_assert_eq!(validate_glob(&glob), Ok(()));
            let expected = globset_matches(&segments(&glob).collect::<Vec<_>>().join("/"), &path);
            prop_assert_eq!(Pattern::new(&glob).matches(&path), expected, "{} vs {}", glob, path);
            // The widened pattern is a superset, so the prefilter never hides a match.
            if expected {
                prop_assert!(globset_matches(&globset_pattern(&glob), &path));
            }
        }

        #[test]
        fn validate_never_panics(s in "\\PC{0,40}") {
            let _ = validate_glob(&s);
        }

        #[test]
        fn accepted_globs_compile(s in "[a-z*?/.]{1,20}") {
            if validate_glob(&s).is_ok() {
                let pattern = globset_pattern(&s);
                let built = globset::GlobBuilder::new(&pattern).literal_separator(true).build();
                prop_assert!(built.is_ok());
            }
        }
    }
}
