//! Which parts of a stored value are secret, without the Rust type at hand.
//!
//! Two signals, and a field is masked when either says so (showing too little is the safe error):
//! 1. the secret fields recorded with the value when a typed config was saved
//!    (`#[config(secret)]`, kept by `SqliteSource` in its `secret_fields` column);
//! 2. the name: any field, at any depth, whose name has a word like `password`, `token`, `secret`
//!    or `key` (`api_key`, `dbPassword`, `private-key`), and the whole value when the config key
//!    itself is named so. This covers values from env vars, OpenBao and rows saved before the
//!    column existed.

use heck::ToSnakeCase;
use serde_json::Value;

/// What a masked value is replaced with.
pub const MASK: &str = "********";

/// Words that make a field name secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "key",
    "keys",
    "apikey",
    "credential",
    "credentials",
    "pat",
    "private",
    "cookie",
    "session",
    "signature",
];

/// True when `name` (snake_case, kebab-case, dotted or camelCase) has a secret-sounding word.
pub fn looks_secret(name: &str) -> bool {
    let words: Vec<String> = words(name).collect();
    let secret = |w: &str| SECRET_WORDS.contains(&w);
    // heck splits an acronym's last capital onto the next word (`mailgunAPIkey` → `ap`, `ikey`):
    // two neighbours joined are also checked, so `apikey` is still seen.
    words.iter().any(|w| secret(w)) || words.windows(2).any(|p| secret(&(p[0].clone() + &p[1])))
}

/// The lowercase words of `name`, split on separators and case changes (`dbPassword`,
/// `db-password`, `db.password` → `db`, `password`), as clap's renames split them (heck).
fn words(name: &str) -> impl Iterator<Item = String> {
    name.to_snake_case()
        .split('_')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect::<Vec<_>>()
        .into_iter()
}

/// Replaces the secret parts of `value` (stored under `key`, with the `recorded` top-level
/// secret fields when known) by [`MASK`]; returns the dotted paths it masked.
pub fn mask(key: &str, value: &mut Value, recorded: &[String]) -> Vec<String> {
    let mut masked = Vec::new();
    if looks_secret(key) && !value.is_null() {
        *value = Value::String(MASK.to_string());
        masked.push("(the whole value)".to_string());
        return masked;
    }
    if let Value::Object(map) = value {
        for field in recorded {
            if let Some(v) = map.get_mut(field.as_str())
                && !v.is_null()
            {
                *v = Value::String(MASK.to_string());
                masked.push(field.clone());
            }
        }
    }
    mask_by_name(value, "", &mut masked);
    masked
}

fn mask_by_name(value: &mut Value, path: &str, masked: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (name, v) in map.iter_mut() {
                let here = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                if v.as_str() == Some(MASK) {
                    continue; // already masked as a recorded field
                }
                if looks_secret(name) && !v.is_null() {
                    *v = Value::String(MASK.to_string());
                    masked.push(here);
                } else {
                    mask_by_name(v, &here, masked);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                mask_by_name(v, &format!("{path}[{i}]"), masked);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_split_into_words() {
        for secret in [
            "password",
            "db_password",
            "dbPassword",
            "api-key",
            "apiKey",
            "API_TOKEN",
            "private_key",
            "client.secret",
        ] {
            assert!(looks_secret(secret), "{secret}");
        }
        for plain in [
            "host",
            "port",
            "keyboard",
            "monkey",
            "passport",
            "tokenizer",
        ] {
            assert!(!looks_secret(plain), "{plain}");
        }
    }

    /// heck splits an acronym's last capital onto the next word (`mailgunAPIkey` → `mailgun`,
    /// `ap`, `ikey`); the hand-written splitter it replaced kept `apikey`, so these were masked.
    #[test]
    fn an_acronym_run_into_a_lowercase_word_is_still_one_word() {
        for secret in ["mailgunAPIkey", "APIkey", "SendGridAPIkey"] {
            assert!(looks_secret(secret), "{secret}");
            let mut v = json!({ secret: "s3cr3t", "host": "h" });
            assert_eq!(mask("Mail", &mut v, &[]), vec![secret.to_string()]);
            assert_eq!(v, json!({ secret: MASK, "host": "h" }));
        }
    }

    #[test]
    fn recorded_fields_and_secret_names_are_masked_at_any_depth() {
        let mut v = json!({
            "host": "db",
            "pin_code": "1234",
            "nested": {"apiToken": "t", "port": 5},
            "list": [{"password": "p"}],
            "absent_secret": null
        });
        let masked = mask("Service", &mut v, &["pin_code".to_string()]);
        assert_eq!(
            v,
            json!({
                "host": "db",
                "pin_code": MASK,
                "nested": {"apiToken": MASK, "port": 5},
                "list": [{"password": MASK}],
                "absent_secret": null
            })
        );
        assert_eq!(
            masked,
            vec!["pin_code", "list[0].password", "nested.apiToken"]
        );
    }

    #[test]
    fn a_key_named_like_a_secret_masks_the_whole_value() {
        let mut v = json!("s3cr3t");
        assert_eq!(mask("GithubToken", &mut v, &[]), vec!["(the whole value)"]);
        assert_eq!(v, json!(MASK));
    }
}
