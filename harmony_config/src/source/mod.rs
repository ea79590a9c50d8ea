//! [`ConfigSource`]: one link of the resolution chain, and its implementations.

pub mod env;
pub mod local_file;
pub mod prompt;
pub mod sqlite;
pub mod store;

use async_trait::async_trait;
use schemars::Schema;
use serde_json::Value;

use crate::{ConfigError, Provenance};

/// What a source needs to produce a value it does not have yet (used by [`prompt::PromptSource`]).
#[derive(Debug, Clone, Copy)]
pub struct ConfigRequest<'a> {
    /// [`crate::Config::KEY`].
    pub key: &'a str,
    /// `schemars::schema_for!(T)`.
    pub schema: &'a Schema,
    /// [`crate::Config::SECRET_FIELDS`].
    pub secret_fields: &'a [&'a str],
    /// Sources earlier in the chain that could not be asked (a team store that is down), so an
    /// interactive source can say so before its first question.
    pub unavailable: &'a [Outage],
}

/// What [`ConfigSource::lookup`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// The source has this value for the key.
    Found(Value),
    /// The source answered: it has no value for the key.
    Missing,
    /// The source could not be asked (unreachable, sealed); says why.
    Unavailable(String),
}

/// A source that could not be asked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// [`ConfigSource::provenance`] of the key in that source.
    pub source: Provenance,
    /// Why it could not be asked, e.g. the connection error.
    pub reason: String,
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.source, self.reason)
    }
}

/// A place configuration values come from and, for most sources, go to.
///
/// Values are JSON; the [`crate::ConfigManager`] turns them into typed structs.
#[async_trait]
pub trait ConfigSource: Send + Sync {
    /// Human-readable name for errors and provenance, e.g.
    /// `environment variable HARMONY_CONFIG_AppConfig` or `SQLite database /path/config.db`.
    fn name(&self) -> String;

    /// Where `key` lives in this source, as text for errors, e.g.
    /// `environment variable HARMONY_CONFIG_AppConfig`. Defaults to [`ConfigSource::name`];
    /// the built-in sources return their [`ConfigSource::provenance`] as text.
    fn location(&self, key: &str) -> String {
        let _ = key;
        self.name()
    }

    /// Where `key` lives in this source, typed ([`Provenance`]); what [`crate::Sourced::source`]
    /// holds for values found here. Defaults to [`Provenance::Other`] with
    /// [`ConfigSource::location`].
    fn provenance(&self, key: &str) -> Provenance {
        Provenance::Other(self.location(key))
    }

    /// The value stored under `key`, `Ok(None)` when this source does not have it.
    async fn get(&self, key: &str) -> Result<Option<Value>, ConfigError>;

    /// Like [`ConfigSource::get`], and tells "absent" from "could not ask" (a store that is down).
    /// The default calls `get`, which never reports an outage.
    async fn lookup(&self, key: &str) -> Result<Lookup, ConfigError> {
        Ok(match self.get(key).await? {
            Some(value) => Lookup::Found(value),
            None => Lookup::Missing,
        })
    }

    /// Like [`ConfigSource::get`], with the schema of the wanted type at hand. Interactive
    /// sources use it to ask for the value; the default just calls `get`.
    async fn get_with_schema(
        &self,
        request: &ConfigRequest<'_>,
    ) -> Result<Option<Value>, ConfigError> {
        self.get(request.key).await
    }

    /// Stores `value` under `key`.
    async fn set(&self, key: &str, value: &Value) -> Result<(), ConfigError>;

    /// Stores the value of a typed config and, where the source can, which of its top-level
    /// fields hold secrets ([`crate::Config::SECRET_FIELDS`]), so tools that show stored values
    /// (the `harmony-config` CLI) can mask them. The default just calls [`ConfigSource::set`].
    async fn set_with_secrets(
        &self,
        key: &str,
        value: &Value,
        secret_fields: &[&str],
    ) -> Result<(), ConfigError> {
        let _ = secret_fields;
        self.set(key, value).await
    }

    /// Removes `key`; `Ok(true)` when something was removed. Sources that cannot remove
    /// anything keep the default, which does nothing.
    async fn delete(&self, key: &str) -> Result<bool, ConfigError> {
        let _ = key;
        Ok(false)
    }

    /// Whether values prompted for, or passed to [`crate::ConfigManager::set`], may be written
    /// here. `false` for environment variables and prompts.
    fn should_persist(&self) -> bool {
        true
    }

    /// Whether this source asks a person; values it returns are saved to the first persisting
    /// source by [`crate::ConfigManager::get_or_prompt`].
    fn is_interactive(&self) -> bool {
        false
    }

    /// Interactive sources: asks the person a yes/no `question` whose default is no. Others
    /// cannot ask and answer `Ok(false)`.
    async fn confirm(&self, key: &str, question: &str) -> Result<bool, ConfigError> {
        let _ = (key, question);
        Ok(false)
    }

    /// A command that removes or replaces the value of `key` here, shown in errors.
    fn reset_hint(&self, key: &str) -> Option<String> {
        let _ = key;
        None
    }
}

/// Parses JSON text read from a source, naming the key and source when it is not JSON.
pub(crate) fn parse_json(
    key: &str,
    source_name: String,
    text: &str,
    hint: String,
) -> Result<Value, ConfigError> {
    serde_json::from_str(text).map_err(|e| ConfigError::InvalidJson {
        key: key.to_string(),
        source_name,
        reason: crate::error::redact_serde_error(&e),
        hint,
    })
}
