//! [`ConfigError`]: every failure names the key, the source and what to do next.
//!
//! Messages never contain configuration values: serde errors are rewritten so that the offending
//! value (which may be a password) is replaced by its kind ("string", "integer", ...).

use std::path::PathBuf;

use harmony_secret::SecretStoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no value for `{key}`: tried {tried}{down}. Store one with harmony_config::set, run with \
         {env_var}='<json>' set, or call get_or_prompt to be asked for it",
        tried = list(tried),
        down = unavailable_clause(unavailable)
    )]
    NotFound {
        key: String,
        /// Names of the sources that answered "no value", in chain order.
        tried: Vec<String>,
        /// `"<location> (<why>)"` for each source that could not be asked (a store that is down).
        unavailable: Vec<String>,
        env_var: String,
    },

    #[error("the value for `{key}` in {source_name} is not valid JSON ({reason}). {hint}")]
    InvalidJson {
        key: String,
        source_name: String,
        reason: String,
        hint: String,
    },

    #[error(
        "the value for `{key}` in {source_name} does not match the current shape of `{key}`: \
         {reason}. {hint}"
    )]
    Deserialization {
        key: String,
        source_name: String,
        reason: String,
        hint: String,
    },

    #[error("cannot turn `{key}` into JSON: {reason}")]
    Serialization { key: String, reason: String },

    #[error(
        "cannot open the {what} at {path}: {reason}. Check that the folder is writable, or choose another path"
    )]
    Open {
        what: String,
        path: PathBuf,
        reason: String,
    },

    #[error("{source_name} failed for `{key}`: {message}")]
    Source {
        key: String,
        source_name: String,
        message: String,
    },

    #[error("{source_name} cannot store `{key}`: {message}")]
    ReadOnly {
        key: String,
        source_name: String,
        message: String,
    },

    #[error("{store} failed for `{key}`: {source}")]
    Store {
        key: String,
        store: String,
        #[source]
        source: Box<SecretStoreError>,
    },

    #[error(
        "cannot ask for `{key}`: stdin is not a terminal{down}. Set {env_var}='<json>' or store \
         the value with harmony_config::set before running non-interactively",
        down = unavailable_clause(unavailable)
    )]
    NoTerminal {
        key: String,
        env_var: String,
        /// `"<location> (<why>)"` for each source that could not be asked (a store that is down).
        unavailable: Vec<String>,
    },

    #[error("the prompt for `{key}` was cancelled; nothing was saved")]
    PromptCancelled { key: String },

    #[error("prompting for `{key}` failed: {message}")]
    Prompt { key: String, message: String },

    #[error(
        "no source in the chain can store `{key}`: add a persisting source (SqliteSource, \
         LocalFileSource, StoreSource) to the ConfigManager"
    )]
    NoPersistentSource { key: String },

    #[error(
        "the answers for `{key}` were NOT saved ({attempts}). Fix the cause and run again to be \
         asked again, or store the value with harmony_config::set / {env_var}='<json>'",
        attempts = attempts.join("; ")
    )]
    AnswersNotSaved {
        key: String,
        /// `"<location>: <why it failed>"` for every persisting source that was tried.
        attempts: Vec<String>,
        env_var: String,
    },

    #[error(
        "the global config manager is already in use: call harmony_config::init once, at the \
         start of main, before any harmony_config::get/set"
    )]
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
