//! Path policies: which permissions a caller holds on which secret paths. Pure and I/O-free;
//! the server stores policies (`pol_...`, per tenant), binds them to identities and caches a
//! compiled [`PolicySet`] per identity. User documentation: docs/policies.md.
//!
//! # Rules
//!
//! A rule is a path glob, a non-empty set of [`Permission`]s and an [`Effect`] (`allow`, the
//! default, or `deny`). [`validate_rules`] turns submitted [`RawRule`]s into [`PolicyRule`]s
//! and names the offending field on error (`rules[2].path: ...`). A policy holds 1 to
//! [`MAX_RULES_PER_POLICY`] rules.
//!
//! # Globs
//!
//! A glob matches the *whole* path (`prod/*` matches neither `xprod/a` nor `prod/a/b`):
//! - `*` matches any run of characters within one segment, never a `/`;
//! - `?` matches exactly one character (not byte) within a segment;
//! - `**`, only as a whole segment, matches any number of whole segments. A trailing `/**`
//!   needs at least one: `prod/**` matches `prod/a` and `prod/a/b` but **not** `prod` itself
//!   (add a rule for `prod` to cover it). A leading `**/` or inner `/**/` may match none:
//!   `**/password` matches `password`, `a/**/b` matches `a/b`. `**` alone matches every path;
//! - every other character is literal and compared byte for byte (`.` is just a dot, no case
//!   folding, Unicode is fine).
//!
//! Refused, so that what is written is what is matched: the empty glob, more than
//! [`MAX_GLOB_BYTES`] bytes, a leading or trailing `/`, `//`, `.` or `..` segments, `**` sharing
//! a segment with anything (`a**b`), `[ ] { }` (no classes, no alternation), and characters no
//! secret path may contain (`\ % #`, whitespace, control characters).
//!
//! # Evaluation
//!
//! A rule *applies* to a request (path, permission) when its glob matches the path and its
//! permissions include the permission; `admin` in a rule counts as every permission, in allow
//! and deny rules alike. Then:
//! 1. if any applying rule is `deny`, the request is denied (deny always wins);
//! 2. otherwise, if any applying rule is `allow`, it is allowed;
//! 3. otherwise it is denied by default ([`DecisionReason::NoMatch`]).
//!
//! Policy and rule order never change the outcome; they only pick which rule the
//! [`Decision`] reports: the first applying deny, else the first applying allow, in policy
//! order then rule order. A malformed path (empty, or with an empty, `.` or `..` segment)
//! matches no rule.

mod glob;
mod permission;
mod rule;
mod set;

pub use glob::{GlobError, MAX_GLOB_BYTES, validate_glob};
pub use permission::{Effect, Permission};
pub use rule::{
    MAX_RULES_PER_POLICY, PolicyError, PolicyErrorKind, PolicyRule, RawRule, validate_rules,
};
pub use set::{Decision, DecisionReason, PolicyInput, PolicySet};

#[cfg(test)]
mod tests;
