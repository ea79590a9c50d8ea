//! [`Plan`]: what a Score would change, computed without changing anything (like `terraform
//! plan`). Each line is one object: `+ create`, `~ change` (with the changed keys), `= unchanged`,
//! `- delete`, or `? unknown` when it cannot be known before applying (e.g. a sealed server).
//!
//! Values are shown only for plain settings; a value whose key looks secret (password, token,
//! key, ...) is shown as `(sensitive)`, and values that are objects are summarised by their keys.

use std::fmt::{self, Write as _};

use serde_json::Value;

/// What would happen to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The object does not exist yet and would be created (`+`).
    Create,
    /// The object exists and some of its keys would change (`~`).
    Change,
    /// The object exists as wanted; nothing would be sent (`=`).
    Unchanged,
    /// The object would be removed (`-`).
    Delete,
    /// Cannot be known without applying (the reason is in the detail).
    Unknown,
}

impl ChangeKind {
    /// The one-character marker of a plan line: `+`, `~`, `=`, `-` or `?`.
    fn symbol(self) -> char {
        match self {
            ChangeKind::Create => '+',
            ChangeKind::Change => '~',
            ChangeKind::Unchanged => '=',
            ChangeKind::Delete => '-',
            ChangeKind::Unknown => '?',
        }
    }

    fn word(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Change => "change",
            ChangeKind::Unchanged => "unchanged",
            ChangeKind::Delete => "delete",
            ChangeKind::Unknown => "unknown",
        }
    }
}

/// One changed key: its dotted path and the values, already masked when sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// Dotted path of the key, e.g. `server.ha.replicas`.
    pub key: String,
    /// `None`: the key is added.
    pub from: Option<String>,
    /// `None`: the key is removed.
    pub to: Option<String>,
}

impl fmt::Display for KeyChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.from, &self.to) {
            (None, Some(to)) => write!(f, "+ {}: {to}", self.key),
            (Some(from), None) => write!(f, "- {}: {from}", self.key),
            (Some(from), Some(to)) => write!(f, "~ {}: {from} -> {to}", self.key),
            (None, None) => write!(f, "~ {}", self.key),
        }
    }
}

/// One object the Score manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    /// What would happen to the object.
    pub kind: ChangeKind,
    /// e.g. "helm release openbao/openbao", "OpenBao PUT sys/policies/acl/harmony-dev".
    pub object: String,
    /// For `Change`: what changes.
    pub keys: Vec<KeyChange>,
    /// A short note (why unknown, what else happens).
    pub detail: Option<String>,
}

impl PlannedChange {
    /// A change of `kind` to `object`, with no keys and no detail.
    pub fn new(kind: ChangeKind, object: impl Into<String>) -> Self {
        Self {
            kind,
            object: object.into(),
            keys: Vec::new(),
            detail: None,
        }
    }

    /// `object` would be created.
    pub fn create(object: impl Into<String>) -> Self {
        Self::new(ChangeKind::Create, object)
    }

    /// `object` is already as wanted.
    pub fn unchanged(object: impl Into<String>) -> Self {
        Self::new(ChangeKind::Unchanged, object)
    }

    /// `Change` with these keys, or `Unchanged` when `keys` is empty.
    pub fn change(object: impl Into<String>, keys: Vec<KeyChange>) -> Self {
        let kind = if keys.is_empty() {
            ChangeKind::Unchanged
        } else {
            ChangeKind::Change
        };
        Self {
            keys,
            ..Self::new(kind, object)
        }
    }

    /// What happens to `object` cannot be known before applying, because of `why`.
    pub fn unknown(object: impl Into<String>, why: impl Into<String>) -> Self {
        Self::new(ChangeKind::Unknown, object).with_detail(why)
    }

    /// Adds a short note shown after the object (replaces an earlier one).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// What one Score would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// One entry per object the Score manages.
    pub changes: Vec<PlannedChange>,
    /// Set when the Score cannot plan at all (the reason); the run would still work.
    pub unsupported: Option<String>,
}

impl Plan {
    /// A plan made of these changes.
    pub fn new(changes: Vec<PlannedChange>) -> Self {
        Self {
            changes,
            unsupported: None,
        }
    }

    /// The Score cannot tell in advance what it would change.
    pub fn unsupported(reason: impl Into<String>) -> Self {
        Self {
            changes: Vec::new(),
            unsupported: Some(reason.into()),
        }
    }

    /// Appends one change.
    pub fn push(&mut self, change: PlannedChange) {
        self.changes.push(change);
    }

    /// True when applying would (or might) change something.
    pub fn has_changes(&self) -> bool {
        self.unsupported.is_some() || self.changes.iter().any(|c| c.kind != ChangeKind::Unchanged)
    }

    /// How many changes are of `kind`.
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes.iter().filter(|c| c.kind == kind).count()
    }

    /// The plan's lines, each indented by `indent`.
    pub fn render(&self, indent: &str) -> String {
        let mut out = String::new();
        if let Some(reason) = &self.unsupported {
            let _ = writeln!(out, "{indent}? plan not available: {reason}");
        }
        for c in &self.changes {
            let _ = write!(
                out,
                "{indent}{} {:<9} {}",
                c.kind.symbol(),
                c.kind.word(),
                c.object
            );
            if let Some(detail) = &c.detail {
                let _ = write!(out, " ({detail})");
            }
            out.push('\n');
            for k in &c.keys {
                let _ = writeln!(out, "{indent}      {k}");
            }
        }
        out
    }
}

/// What is shown instead of a value that must not be printed.
pub const SENSITIVE: &str = "(sensitive)";

/// Key names whose values are never shown.
pub fn is_sensitive_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "masterkey",
        "pat",
        "key",
        "credential",
        "jwt",
        "private",
        "dsn",
        "unseal",
    ]
    .iter()
    .any(|s| k.contains(s))
}

fn show(path: &str, v: &Value) -> String {
    if path.split('.').any(is_sensitive_key) {
        return SENSITIVE.to_string();
    }
    match v {
        Value::Object(map) => format!("{{{}}}", map.keys().cloned().collect::<Vec<_>>().join(", ")),
        Value::String(s) if s.contains('\n') => format!("<{} lines>", s.lines().count()),
        Value::String(s) if s.chars().count() > 60 => {
            format!("{:?}...", s.chars().take(57).collect::<String>())
        }
        Value::Array(_) => redacted(v).to_string(),
        other => other.to_string(),
    }
}

/// `v` with the values under sensitive keys masked, also inside arrays (compared whole) and in
/// `{name, value}` entries such as container `env` whose name looks secret.
fn redacted(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        Value::Object(map) => {
            let named_secret = map
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(is_sensitive_key);
            Value::Object(
                map.iter()
                    .map(|(k, item)| {
                        let masked = is_sensitive_key(k) || (named_secret && k.as_str() == "value");
                        let shown = if masked {
                            Value::String(SENSITIVE.to_string())
                        } else {
                            redacted(item)
                        };
                        (k.clone(), shown)
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// The keys that differ between `current` and `wanted`, as dotted paths (objects are walked,
/// arrays and scalars are compared whole). Sensitive values are masked.
pub fn diff_values(current: &Value, wanted: &Value) -> Vec<KeyChange> {
    let mut out = Vec::new();
    diff_at("", current, wanted, &mut out);
    out
}

fn diff_at(path: &str, current: &Value, wanted: &Value, out: &mut Vec<KeyChange>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (current, wanted) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, wv) in b {
                match a.get(k) {
                    Some(cv) => diff_at(&join(k), cv, wv, out),
                    None => out.push(KeyChange {
                        key: join(k),
                        from: None,
                        to: Some(show(&join(k), wv)),
                    }),
                }
            }
            for (k, cv) in a {
                if !b.contains_key(k) {
                    out.push(KeyChange {
                        key: join(k),
                        from: Some(show(&join(k), cv)),
                        to: None,
                    });
                }
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(KeyChange {
            key: if path.is_empty() {
                "(value)".into()
            } else {
                path.to_string()
            },
            from: Some(show(path, a)),
            to: Some(show(path, b)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_changed_added_removed_keys_and_masks_secrets() {
        let current = json!({"server": {"replicas": 1, "image": "a"}, "old": true,
                             "db": {"password": "OLD-SECRET"}});
        let wanted = json!({"server": {"replicas": 3, "image": "a"}, "new": "x",
                            "db": {"password": "NEW-SECRET"}});
        let keys = diff_values(&current, &wanted);
        let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
        assert!(
            shown.contains(&"~ server.replicas: 1 -> 3".to_string()),
            "{shown:?}"
        );
        assert!(shown.contains(&"+ new: \"x\"".to_string()), "{shown:?}");
        assert!(shown.contains(&"- old: true".to_string()), "{shown:?}");
        assert!(
            shown.contains(&"~ db.password: (sensitive) -> (sensitive)".to_string()),
            "{shown:?}"
        );
        assert!(!shown.join(" ").contains("SECRET"));
        assert!(diff_values(&wanted, &wanted).is_empty());
    }

    #[test]
    fn secrets_inside_changed_arrays_are_masked() {
        let current = json!({"env": [{"name": "DB_PASSWORD", "value": "OLD-SECRET"}],
                             "users": [{"name": "alice", "password": "ALICE-SECRET"}],
                             "hosts": ["a"]});
        let wanted = json!({"env": [{"name": "DB_PASSWORD", "value": "NEW-SECRET"},
                                    {"name": "LOG_LEVEL", "value": "debug"}],
                            "users": [{"name": "alice", "password": "ALICE-SECRET2"}],
                            "hosts": ["a", "b"]});
        let shown: Vec<String> = diff_values(&current, &wanted)
            .iter()
            .map(ToString::to_string)
            .collect();
        let text = shown.join("\n");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("\"LOG_LEVEL\""), "{text}");
        assert!(text.contains("\"debug\""), "{text}");
        assert!(text.contains("~ hosts: [\"a\"] -> [\"a\",\"b\"]"), "{text}");
    }

    #[test]
    fn render_uses_terraform_like_symbols() {
        let plan = Plan::new(vec![
            PlannedChange::create("project harmony"),
            PlannedChange::change(
                "helm release openbao/openbao",
                diff_values(&json!({"a": 1}), &json!({"a": 2})),
            ),
            PlannedChange::change("role x", vec![]),
        ]);
        let text = plan.render("  ");
        assert!(text.contains("  + create    project harmony"), "{text}");
        assert!(
            text.contains("  ~ change    helm release openbao/openbao"),
            "{text}"
        );
        assert!(text.contains("~ a: 1 -> 2"), "{text}");
        assert!(text.contains("  = unchanged role x"), "{text}");
        assert!(plan.has_changes());
        assert!(!Plan::new(vec![PlannedChange::unchanged("x")]).has_changes());
    }
}
