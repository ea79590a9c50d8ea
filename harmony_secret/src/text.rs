//! Small text helpers shared by the workspace's crates (environment variables, prompt answers).

/// Reads a yes/no word, case-insensitive and trimmed: `true`/`false`, `1`/`0`, `yes`/`no`,
/// `on`/`off`, `y`/`n`. Anything else (including an empty string) is `None`, so each caller
/// decides what a missing or unknown value means and words its own error.
///
/// ```
/// use harmony_secret::text::parse_bool;
/// assert_eq!(parse_bool(" Yes "), Some(true));
/// assert_eq!(parse_bool("off"), Some(false));
/// assert_eq!(parse_bool("maybe"), None);
/// ```
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "n" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bool;

    #[test]
    fn every_word_any_of_the_three_old_parsers_accepted_is_accepted() {
        for word in [
            "true", "TRUE", "1", "yes", "Yes", "on", "ON", "y", "Y", " true ",
        ] {
            assert_eq!(parse_bool(word), Some(true), "{word}");
        }
        for word in ["false", "False", "0", "no", "NO", "off", "n", "N", "\tno\n"] {
            assert_eq!(parse_bool(word), Some(false), "{word}");
        }
        for word in ["", "  ", "maybe", "2", "yess", "t"] {
            assert_eq!(parse_bool(word), None, "{word:?}");
        }
    }
}
