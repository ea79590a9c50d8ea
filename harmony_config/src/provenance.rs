//! [`Provenance`]: where a value came from, typed (like figment's `Metadata`).

use std::fmt;
use std::path::PathBuf;

/// Where a value lives in a [`crate::ConfigSource`], or where a value came from
/// ([`crate::Sourced::source`]).
///
/// Match on it to act on the kind of source; its `Display` is the human-readable text shown in
/// messages and by `harmony-config where`, e.g. `SQLite database /home/me/.local/share/harmony/config/config.db`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provenance {
    /// An environment variable, `HARMONY_CONFIG_{KEY}` ([`crate::EnvSource`]).
    Env {
        /// The variable's name.
        var: String,
    },
    /// A JSON file ([`crate::LocalFileSource`]).
    File {
        /// The file.
        path: PathBuf,
    },
    /// A SQLite database ([`crate::SqliteSource`]).
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A secret store ([`crate::StoreSource`]), e.g. OpenBao.
    Store {
        /// The store, as it describes itself (kind and address), e.g. `OpenBao at https://…`.
        store: String,
        /// The namespace (path prefix) in the store.
        namespace: String,
        /// The key under the namespace.
        key: String,
    },
    /// The interactive prompt ([`crate::PromptSource`]) itself.
    Prompt,
    /// A value a person typed: asked by `asked_by`, then saved to `saved_to` (`None` when it was
    /// used for this run only; see [`crate::ConfigManager::get_or_prompt`]).
    Prompted {
        /// The interactive source that asked, usually [`Provenance::Prompt`].
        asked_by: Box<Provenance>,
        /// Where the answers were saved.
        saved_to: Option<Box<Provenance>>,
    },
    /// A source of another kind, by its own description ([`crate::ConfigSource::location`]).
    Other(String),
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provenance::Env { var } => write!(f, "environment variable {var}"),
            Provenance::File { path } => write!(f, "local file {}", path.display()),
            Provenance::Sqlite { path } => write!(f, "SQLite database {}", path.display()),
            Provenance::Store {
                store,
                namespace,
                key,
            } => write!(f, "{store} at `{namespace}/{key}`"),
            Provenance::Prompt => f.write_str("interactive prompt"),
            Provenance::Prompted {
                asked_by,
                saved_to: Some(saved_to),
            } => write!(f, "{asked_by}, saved to {saved_to}"),
            Provenance::Prompted {
                asked_by,
                saved_to: None,
            } => write!(f, "{asked_by}, not saved"),
            Provenance::Other(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_the_locations_it_replaces() {
        let sqlite = Provenance::Sqlite {
            path: "/h/config.db".into(),
        };
        assert_eq!(sqlite.to_string(), "SQLite database /h/config.db");
        let prompted = Provenance::Prompted {
            asked_by: Box::new(Provenance::Prompt),
            saved_to: Some(Box::new(sqlite)),
        };
        assert_eq!(
            prompted.to_string(),
            "interactive prompt, saved to SQLite database /h/config.db"
        );
        let kept = Provenance::Prompted {
            asked_by: Box::new(Provenance::Prompt),
            saved_to: None,
        };
        assert_eq!(kept.to_string(), "interactive prompt, not saved");
        let store = Provenance::Store {
            store: "OpenBao at http://127.0.0.1:8200 (kv mount \"secret\")".into(),
            namespace: "team".into(),
            key: "Db".into(),
        };
        assert_eq!(
            store.to_string(),
            "OpenBao at http://127.0.0.1:8200 (kv mount \"secret\") at `team/Db`"
        );
    }
}
