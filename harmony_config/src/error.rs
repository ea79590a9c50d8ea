//! [`ConfigError`]: every failure names the key, the source and what to do next.
//!
//! Messages never contain configuration values: serde errors are rewritten so that the offending
//! value (which may be a password) is replaced by its kind ("string", "integer", ...).

use std::path::PathBuf;

use harmony_secret::SecretStoreError;

/// Why reading, storing or asking for a configuration value failed.
///
/// Variants that wrap a lower error keep it as [`std::error::Error::source`] (an
/// [`std::io::Error`], a [`sqlx::Error`], a [`SecretStoreError`]; reach the concrete type with
/// `downcast_ref`). Serde errors are never kept: their text can quote a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no value for `{key}`: tried {tried}{down}. Store one with harmony_config::set, run with \
         {env_var}='<json>' set, or call get_or_prompt to be asked for it",
        tried = list(tried),
        down = unavailable_clause(unavailable)
    )]
    /// No source in the chain has a value for the key.
    NotFound {
        /// The key asked for ([`crate::Config::KEY`]).
        key: String,
        /// Names of the sources that answered "no value", in chain order.
        tried: Vec<String>,
        /// `"<location> (<why>)"` for each source that could not be asked (a store that is down).
        unavailable: Vec<String>,
        /// The environment variable that would provide the value.
        env_var: String,
    },

    #[error("the value for `{key}` in {source_name} is not valid JSON ({reason}). {hint}")]
    /// A source holds text that is not JSON.
    InvalidJson {
        /// The key whose value is broken.
        key: String,
        /// Where the text was read ([`crate::ConfigSource::location`]).
        source_name: String,
        /// The parse error, without the value.
        reason: String,
        /// How to fix or remove the value.
        hint: String,
    },

    #[error(
        "the value for `{key}` in {source_name} does not match the current shape of `{key}`: \
         {reason}. {hint}"
    )]
    /// A stored value is JSON but not of the shape the type expects now.
    Deserialization {
        /// The key whose value does not fit.
        key: String,
        /// Where the value was read ([`crate::ConfigSource::location`]).
        source_name: String,
        /// What does not match, without the value.
        reason: String,
        /// How to replace the value.
        hint: String,
    },

    #[error("cannot turn `{key}` into JSON: {reason}")]
    /// A value could not be turned into JSON.
    Serialization {
        /// The key being stored.
        key: String,
        /// The serde error, without the value.
        reason: String,
    },

    #[error(
        "cannot open the {what} at {path}: {reason}. Check that the folder is writable, or choose another path"
    )]
    /// A local store (the SQLite database) could not be opened or created.
    Open {
        /// What was opened, e.g. `SQLite config database`.
        what: String,
        /// Its path.
        path: PathBuf,
        /// Why it failed, including the text of `source` when there is one.
        reason: String,
        /// The I/O or SQLite error behind `reason` ([`std::io::Error`], [`sqlx::Error`]), for
        /// callers that match kinds; `None` when nothing failed below (no home folder).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    #[error("{source_name} failed for `{key}`: {message}")]
    /// A source failed to read, write or remove a value.
    Source {
        /// The key involved (`*` when listing).
        key: String,
        /// The source ([`crate::ConfigSource::name`] or its location).
        source_name: String,
        /// What went wrong, including the text of `source` when there is one.
        message: String,
        /// The error behind `message` ([`std::io::Error`], [`sqlx::Error`], ...), for callers
        /// that match kinds; `None` when nothing failed below (a key that cannot be a file name).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    #[error("{source_name} cannot store `{key}`: {message}")]
    /// The source cannot store values (environment variables).
    ReadOnly {
        /// The key that was to be stored.
        key: String,
        /// Where it would have gone ([`crate::ConfigSource::location`]).
        source_name: String,
        /// What to do instead.
        message: String,
    },

    #[error("{store} failed for `{key}`: {source}")]
    /// A secret store ([`crate::StoreSource`]) refused or failed.
    Store {
        /// `namespace/key` in the store.
        key: String,
        /// The store ([`harmony_secret::SecretStore::describe`]).
        store: String,
        /// The store's error.
        #[source]
        source: Box<SecretStoreError>,
    },

    #[error(
        "cannot ask for `{key}`: stdin is not a terminal{down}. Set {env_var}='<json>' or store \
         the value with harmony_config::set before running non-interactively",
        down = unavailable_clause(unavailable)
    )]
    /// A value had to be asked for, but stdin is not a terminal.
    NoTerminal {
        /// The key that would have been asked for.
        key: String,
        /// The environment variable that would provide the value.
        env_var: String,
        /// `"<location> (<why>)"` for each source that could not be asked (a store that is down).
        unavailable: Vec<String>,
    },

    #[error("the prompt for `{key}` was cancelled; nothing was saved")]
    /// The person cancelled the prompt (Esc or Ctrl-C).
    PromptCancelled {
        /// The key that was being asked for.
        key: String,
    },

    #[error("prompting for `{key}` failed: {message}")]
    /// The prompt itself failed (terminal I/O, a schema it cannot ask for).
    Prompt {
        /// The key that was being asked for.
        key: String,
        /// What went wrong, including the text of `source` when there is one.
        message: String,
        /// The error behind `message` (the prompt thread's [`tokio::task::JoinError`]); `None`
        /// when the prompter reported only a message.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    #[error(
        "no source in the chain can store `{key}`: add a persisting source (SqliteSource, \
         LocalFileSource, StoreSource) to the ConfigManager"
    )]
    /// No source in the chain can store values.
    NoPersistentSource {
        /// The key that was to be stored.
        key: String,
    },

    #[error(
        "the answers for `{key}` were NOT saved ({attempts}). Fix the cause and run again to be \
         asked again, or store the value with harmony_config::set / {env_var}='<json>'",
        attempts = attempts.join("; ")
    )]
    /// Prompted answers could not be saved anywhere.
    AnswersNotSaved {
        /// The key that was asked for.
        key: String,
        /// `"<location>: <why it failed>"` for every persisting source that was tried.
        attempts: Vec<String>,
        /// The environment variable that would provide the value.
        env_var: String,
    },

    #[error(
        "the global config manager is already in use: call harmony_config::init once, at the \
         start of main, before any harmony_config::get/set"
    )]
    /// [`crate::init`] was called after the global manager was set up.
    AlreadyInitialized,
}

impl ConfigError {
    /// True for [`ConfigError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, ConfigError::NotFound { .. })
    }

    /// The source cannot serve anyone right now (its store is unreachable or sealed), as opposed
    /// to refusing this operation.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ConfigError::Store { source, .. } if source.is_unavailable())
    }
}

fn unavailable_clause(down: &[String]) -> String {
    if down.is_empty() {
        String::new()
    } else {
        format!(
            "; could NOT ask {} (unavailable): the value may be stored there, so make it \
             reachable and run again",
            down.join(", ")
        )
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "no sources (the chain is empty)".to_string()
    } else {
        items.join(", ")
    }
}

/// Describes a serde_json error without the value that caused it; see
/// [`harmony_secret::redact::serde_error_message`].
pub(crate) fn redact_serde_error(err: &serde_json::Error) -> String {
    harmony_secret::redact::serde_error_message(err)
}
