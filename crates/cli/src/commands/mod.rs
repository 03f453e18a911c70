//! One module per command group. Each exposes a clap `Subcommand` (or `Args`), an `EXAMPLES`
//! string for its `--help`, and a `run` function.

pub mod acme;
pub mod audit;
pub mod auth;
pub mod completions;
pub mod config;
pub mod dynamic;
pub mod mcp;
pub mod operator;
pub mod pages;
pub mod pki;
pub mod policies;
pub mod rotation;
pub mod run;
pub mod scaikey;
pub mod secret_policies;
pub mod secrets;
pub mod service_accounts;
pub mod status;
pub mod subscriptions;

/// The cursor to fetch next, or `None` to stop: stops at the last page, and also on a page
/// that is empty or repeats the previous cursor, so a misbehaving server cannot loop us.
pub fn next_cursor(
    has_more: bool,
    cursor: Option<String>,
    previous: Option<&str>,
    items_on_page: usize,
) -> Option<String> {
    cursor.filter(|c| has_more && items_on_page > 0 && Some(c.as_str()) != previous)
}

#[cfg(test)]
mod tests {
    use super::next_cursor;

    #[test]
    fn pagination_stops_on_last_empty_or_repeated_pages() {
        let c = || Some("c2".to_string());
        assert_eq!(next_cursor(true, c(), Some("c1"), 5), c());
        assert_eq!(next_cursor(true, c(), None, 5), c());
        assert_eq!(next_cursor(false, c(), Some("c1"), 5), None);
        assert_eq!(next_cursor(true, None, Some("c1"), 5), None);
        assert_eq!(next_cursor(true, c(), Some("c2"), 5), None);
        assert_eq!(next_cursor(true, c(), Some("c1"), 0), None);
    }
}
