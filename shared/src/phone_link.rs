//! A phone link's page address, `/p/<code>`: the agent serves the phone bundle for it and
//! the dashboard bundle mounts the phone app for it, so both decide by this one rule.

/// Where a phone link's page lives: this prefix, then the link's code.
pub const PHONE_PAGE_PREFIX: &str = "/p/";

/// The code in a phone link's page path (`/p/<code>`): one non-empty segment with nothing
/// after it. `None` for any other path.
pub fn phone_page_code(path: &str) -> Option<&str> {
    path.strip_prefix(PHONE_PAGE_PREFIX)
        .filter(|code| !code.is_empty() && !code.contains('/'))
}

/// Whether a path is a phone link's page (`/p/<code>`).
pub fn is_phone_path(path: &str) -> bool {
    phone_page_code(path).is_some()
}

/// The address of a phone link's page under `base` (`https://vantage.example:8787`).
pub fn phone_page_url(base: &str, code: &str) -> String {
    format!("{}{PHONE_PAGE_PREFIX}{code}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_paths() {
        assert!(is_phone_path("/p/AbC123"));
        assert!(!is_phone_path("/p/"));
        assert!(!is_phone_path("/p/a/b"));
        assert!(!is_phone_path("/reach"));
        assert!(!is_phone_path("/"));
        assert_eq!(phone_page_code("/p/abc"), Some("abc"));
        assert_eq!(
            phone_page_url("https://v.example:8787/", "abc"),
            "https://v.example:8787/p/abc"
        );
    }
}
