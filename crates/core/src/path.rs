//! Secret paths and the rules that make them safe to use as identifiers, storage keys and
//! policy targets.
//!
//! A path is `/`-separated segments, e.g. `environments/production/salesforce/api-credentials`.
//! Rules (also in docs/api.md):
//! - 1 to 512 bytes, at most 32 segments; no leading, trailing or doubled `/`;
//! - no `.` or `..` segment (nothing can look like a traversal, before or after decoding);
//! - no control characters, no whitespace, and none of `\ % * ? [ ] { } #`: `%` so that no
//!   second round of percent-decoding can ever change a path, the glob characters so that a
//!   policy glob and a literal path can never be confused, `#` because URLs cannot carry it;
//! - reserved names, so a secret is never confused with a route: the first segment may not be
//!   `expiring`, `metadata` or `batch`; the last segment may not be `versions`, `restore` or
//!   `rotate`.
//!
//! Paths are compared byte for byte (no case folding or Unicode normalisation).

use std::fmt;

pub const MAX_PATH_BYTES: usize = 512;
pub const MAX_SEGMENTS: usize = 32;
/// First segments that name routes under `/v1/secrets/`.
pub const RESERVED_FIRST: [&str; 3] = ["expiring", "metadata", "batch"];
/// Last segments that name routes under `/v1/secrets/{path}/`.
pub const RESERVED_LAST: [&str; 3] = ["versions", "restore", "rotate"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("path has more than {MAX_SEGMENTS} segments")]
    TooManySegments,
    #[error("path has an empty segment (leading, trailing or doubled '/')")]
    EmptySegment,
    #[error("path segments '.' and '..' are not allowed")]
    DotSegment,
    #[error("path contains a character that is not allowed ({0})")]
    ForbiddenChar(&'static str),
    #[error("'{0}' is reserved and cannot be used as a secret name here")]
    Reserved(&'static str),
}

/// A validated secret path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretPath(String);

impl SecretPath {
    pub fn parse(input: &str) -> Result<Self, PathError> {
        if input.is_empty() {
            return Err(PathError::Empty);
        }
        if input.len() > MAX_PATH_BYTES {
            return Err(PathError::TooLong);
        }
        check_chars(input)?;
        let segments: Vec<&str> = input.split('/').collect();
        if segments.len() > MAX_SEGMENTS {
            return Err(PathError::TooManySegments);
        }
        for segment in &segments {
            check_segment(segment)?;
        }
        if let Some(first) = segments.first()
            && let Some(reserved) = RESERVED_FIRST.iter().find(|r| *r == first)
        {
            return Err(PathError::Reserved(reserved));
        }
        if let Some(last) = segments.last()
            && let Some(reserved) = RESERVED_LAST.iter().find(|r| *r == last)
        {
            return Err(PathError::Reserved(reserved));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates a listing prefix: the same characters as a path, any number of whole segments,
/// optionally ending in `/` or in a partial segment. The empty prefix matches everything.
pub fn validate_prefix(prefix: &str) -> Result<(), PathError> {
    if prefix.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong);
    }
    check_chars(prefix)?;
    let segments: Vec<&str> = prefix.split('/').collect();
    if segments.len() > MAX_SEGMENTS + 1 {
        return Err(PathError::TooManySegments);
    }
    let (last, whole) = segments.split_last().ok_or(PathError::Empty)?;
    for segment in whole {
        check_segment(segment)?;
    }
    // A trailing partial segment may be empty ("app/") but never a dot segment.
    if *last == "." || *last == ".." {
        return Err(PathError::DotSegment);
    }
    Ok(())
}

fn check_segment(segment: &str) -> Result<(), PathError> {
    match segment {
        "" => Err(PathError::EmptySegment),
        "." | ".." => Err(PathError::DotSegment),
        _ => Ok(()),
    }
}

fn check_chars(s: &str) -> Result<(), PathError> {
    for c in s.chars() {
        let what = match c {
            c if c.is_control() => "control character",
            c if c.is_whitespace() => "whitespace",
            '\\' => "'\\'",
            '%' => "'%'",
            '*' | '?' | '[' | ']' | '{' | '}' => "glob character",
            '#' => "'#'",
            _ => continue,
        };
        return Err(PathError::ForbiddenChar(what));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documented_paths_are_valid() {
        for ok in [
            "environments/production/salesforce/api-credentials",
            "app/db/password",
            "test/oauth-token",
            "app/api-key",
            "tenants/acme/config.json",
            "ünïcode/ключ/秘密",
            "a",
            "app/metadata/x",
            "versions/app",
        ] {
            assert_eq!(
                SecretPath::parse(ok).map(|p| p.into_string()),
                Ok(ok.to_owned())
            );
        }
    }

    #[test]
    fn traversal_and_malformed_are_rejected() {
        let cases: &[(&str, PathError)] = &[
            ("", PathError::Empty),
            ("/app", PathError::EmptySegment),
            ("app/", PathError::EmptySegment),
            ("app//db", PathError::EmptySegment),
            ("app/../db", PathError::DotSegment),
            ("..", PathError::DotSegment),
            ("./app", PathError::DotSegment),
            ("app/%2e%2e/db", PathError::ForbiddenChar("'%'")),
            ("app/d\u{0}b", PathError::ForbiddenChar("control character")),
            ("app/d\nb", PathError::ForbiddenChar("control character")),
            ("app/d b", PathError::ForbiddenChar("whitespace")),
            ("app\\..\\db", PathError::ForbiddenChar("'\\'")),
            ("app/*", PathError::ForbiddenChar("glob character")),
            ("app/x#y", PathError::ForbiddenChar("'#'")),
            ("expiring", PathError::Reserved("expiring")),
            ("metadata/app/db", PathError::Reserved("metadata")),
            ("app/db/versions", PathError::Reserved("versions")),
            ("app/db/rotate", PathError::Reserved("rotate")),
            ("app/db/restore", PathError::Reserved("restore")),
            ("batch", PathError::Reserved("batch")),
        ];
        for (input, expected) in cases {
            assert_eq!(
                SecretPath::parse(input).as_ref(),
                Err(expected),
                "{input:?}"
            );
        }
        assert_eq!(SecretPath::parse(&"a".repeat(513)), Err(PathError::TooLong));
        assert_eq!(
            SecretPath::parse(&["a"; 33].join("/")),
            Err(PathError::TooManySegments)
        );
    }

    #[test]
    fn prefixes() {
        for ok in ["", "environments/production/", "environments/prod", "app"] {
            assert_eq!(validate_prefix(ok), Ok(()), "{ok:?}");
        }
        for bad in ["app//", "../", "app/..", "a*", "/app"] {
            assert!(validate_prefix(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = SecretPath::parse(&s);
            let _ = validate_prefix(&s);
        }

        /// Whatever is accepted contains no traversal segment and no character that a second
        /// decoding or a glob could reinterpret.
        #[test]
        fn accepted_paths_are_inert(s in "[a-z./%*\\\\ -]{1,40}") {
            if let Ok(p) = SecretPath::parse(&s) {
                prop_assert!(p.as_str().split('/').all(|seg| !seg.is_empty() && seg != "." && seg != ".."));
                prop_assert!(!p.as_str().contains(['%', '*', '\\', ' ']));
            }
        }

        #[test]
        fn well_formed_paths_are_accepted(segs in prop::collection::vec("[a-zA-Z0-9_-][a-zA-Z0-9._@-]{0,20}", 1..8)) {
            let joined = segs.join("/");
            prop_assume!(!RESERVED_FIRST.contains(&segs[0].as_str()));
            prop_assume!(!RESERVED_LAST.contains(&segs[segs.len() - 1].as_str()));
            prop_assert_eq!(SecretPath::parse(&joined).map(|p| p.into_string()), Ok(joined.clone()));
        }
    }
}
