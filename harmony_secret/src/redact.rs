//! Serde error messages without the values that caused them.
//!
//! serde quotes the offending value (`invalid type: string "s3cret", expected u32`); when the value
//! is a secret that text must not reach an error or a log. Every crate of the workspace that turns a
//! serde error into a message goes through [`serde_error_message`].

/// Describes a serde_json error without the value that caused it.
///
/// serde reports `invalid type: string "hunter2", expected u16`; this returns
/// `invalid type: string, expected u16`.
pub fn serde_error_message(err: &serde_json::Error) -> String {
    message(&err.to_string())
}

/// Rewrites a serde error message (as text) so the offending value is replaced by its kind.
pub(crate) fn message(msg: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            return match rest.rfind(", expected ") {
                Some(idx) => {
                    let unexpected = &rest[..idx];
                    let kind = unexpected.split(['`', '"']).next().unwrap_or("").trim();
                    format!("{prefix}{kind}{}", &rest[idx..])
                }
                None => format!("{prefix}(value hidden)"),
            };
        }
    }
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        return match rest.rfind("`, expected ") {
            Some(idx) => format!("unknown variant (value hidden){}", &rest[idx + 1..]),
            None => "unknown variant (value hidden)".to_string(),
        };
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_type_message_drops_the_string_value() {
        let out = message(r#"invalid type: string "hunter2, expected x", expected u16"#);
        assert_eq!(out, "invalid type: string, expected u16");
    }

    #[test]
    fn invalid_value_message_drops_the_number() {
        let out = message("invalid value: integer `70000`, expected u16 at line 1 column 9");
        assert_eq!(
            out,
            "invalid value: integer, expected u16 at line 1 column 9"
        );
    }

    #[test]
    fn unknown_variant_message_drops_the_variant() {
        let out = message("unknown variant `s3cr3t`, expected one of `A`, `B`");
        assert_eq!(
            out,
            "unknown variant (value hidden), expected one of `A`, `B`"
        );
    }

    #[test]
    fn missing_field_message_is_kept() {
        assert_eq!(message("missing field `port`"), "missing field `port`");
    }
}
