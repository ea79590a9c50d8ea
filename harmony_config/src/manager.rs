//! [`ConfigManager`]: resolves typed values through an ordered chain of sources.

use std::sync::Arc;

use serde_json::Value;

use crate::config::env_var_name;
use crate::error::redact_serde_error;
use crate::source::ConfigRequest;
use crate::{Config, ConfigError, ConfigSource};

/// A value together with where it came from.
#[derive(Clone, PartialEq)]
pub struct Sourced<T> {
    pub value: T,
    /// [`ConfigSource::location`] of the source that provided the value, e.g.
    /// `SQLite database /home/me/.local/share/harmony/config/config.db`.
    pub source: String,
}

impl<T> std::fmt::Debug for Sourced<T> {
    /// Shows only the provenance: the value may hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sourced")
            .field("value", &format_args!("<{}>", std::any::type_name::<T>()))
            .field("source", &self.source)
            .finish()
    }
}

/// An ordered chain of [`ConfigSource`]s. The first source that has a value wins.
///
/// - [`ConfigManager::get`] reads the chain and never prompts;
/// - [`ConfigManager::get_or_prompt`] also lets interactive sources ask, and saves the answer to
///   the first source whose [`ConfigSource::should_persist`] is true; when that source is
///   unavailable (a store that is down or sealed) it warns and saves to the next persisting
///   source instead, so answers are never silently lost;
/// - [`ConfigManager::set`] writes to the first persisting source;
/// - [`ConfigManager::reset`] removes the value from every persisting source.
#[derive(Clone)]
pub struct ConfigManager {
    sources: Vec<Arc<dyn ConfigSource>>,
}

impl std::fmt::Debug for ConfigManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigManager")
            .field(
                "sources",
                &self.sources.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ConfigManager {
    pub fn new(sources: Vec<Arc<dyn ConfigSource>>) -> Self {
        Self { sources }
    }

    pub fn sources(&self) -> &[Arc<dyn ConfigSource>] {
        &self.sources
    }

    /// The value of `T` from the first source that has it. Never prompts.
    pub async fn get<T: Config>(&self) -> Result<T, ConfigError> {
        Ok(self.resolve::<T>(false).await?.value)
    }

    /// Like [`ConfigManager::get`], and says which source the value came from.
    pub async fn get_with_source<T: Config>(&self) -> Result<Sourced<T>, ConfigError> {
        self.resolve::<T>(false).await
    }

    /// The value of `T`; when no source has it, interactive sources ask for it and the answer is
    /// saved to the first persisting source that is available (see the type's docs). The
    /// provenance of a prompted value names where it was saved.
    pub async fn get_or_prompt<T: Config>(&self) -> Result<T, ConfigError> {
        Ok(self.resolve::<T>(true).await?.value)
    }

    /// Like [`ConfigManager::get_or_prompt`], and says where the value came from.
    pub async fn get_or_prompt_with_source<T: Config>(&self) -> Result<Sourced<T>, ConfigError> {
        self.resolve::<T>(true).await
    }

    /// Writes `value` to the first persisting source and returns that source's location.
    pub async fn set<T: Config>(&self, value: &T) -> Result<String, ConfigError> {
        let json = serde_json::to_value(value).map_err(|e| ConfigError::Serialization {
            key: T::KEY.to_string(),
            reason: redact_serde_error(&e),
        })?;
        self.persist(T::KEY, &json).await
    }

    /// Removes the value of `T` from every persisting source, so the next `get_or_prompt` asks
    /// again. Returns the locations it was removed from. Environment variables are untouched.
    pub async fn reset<T: Config>(&self) -> Result<Vec<String>, ConfigError> {
        self.reset_key(T::KEY).await
    }

    /// [`ConfigManager::reset`] by key.
    pub async fn reset_key(&self, key: &str) -> Result<Vec<String>, ConfigError> {
        let mut removed = Vec::new();
        for source in self.sources.iter().filter(|s| s.should_persist()) {
            if source.delete(key).await? {
                removed.push(source.location(key));
            }
        }
        Ok(removed)
    }

    async fn persist(&self, key: &str, value: &Value) -> Result<String, ConfigError> {
        let source = self
            .sources
            .iter()
            .find(|s| s.should_persist())
            .ok_or_else(|| ConfigError::NoPersistentSource {
                key: key.to_string(),
            })?;
        source.set(key, value).await?;
        log::debug!("stored `{key}` in {}", source.location(key));
        Ok(source.location(key))
    }

    /// Saves prompted answers: to the first persisting source, or, while it is unavailable, to
    /// the next one. Any other failure stops here with an error saying nothing was saved.
    async fn persist_answers(&self, key: &str, value: &Value) -> Result<String, ConfigError> {
        let mut attempts = Vec::new();
        for source in self.sources.iter().filter(|s| s.should_persist()) {
            let location = source.location(key);
            match source.set(key, value).await {
                Ok(()) => {
                    if !attempts.is_empty() {
                        log::warn!(
                            "saved the answers for `{key}` to {location} instead ({})",
                            attempts.join("; ")
                        );
                    }
                    return Ok(location);
                }
                Err(e) if e.is_unavailable() => {
                    log::warn!(
                        "cannot save the answers for `{key}` to {location}: {e}. Trying the next \
                         persisting source"
                    );
                    attempts.push(format!("{location}: {e}"));
                }
                Err(e) => {
                    attempts.push(format!("{location}: {e}"));
                    return Err(ConfigError::AnswersNotSaved {
                        key: key.to_string(),
                        attempts,
                        env_var: env_var_name(key),
                    });
                }
            }
        }
        if attempts.is_empty() {
            return Err(ConfigError::NoPersistentSource {
                key: key.to_string(),
            });
        }
        Err(ConfigError::AnswersNotSaved {
            key: key.to_string(),
            attempts,
            env_var: env_var_name(key),
        })
    }

    async fn resolve<T: Config>(&self, prompt: bool) -> Result<Sourced<T>, ConfigError> {
        let key = T::KEY;
        let schema = prompt.then(|| schemars::schema_for!(T));
        let mut tried = Vec::new();
        for source in &self.sources {
            let found = match &schema {
                Some(schema) => {
                    let request = ConfigRequest {
                        key,
                        schema,
                        secret_fields: T::SECRET_FIELDS,
                    };
                    source.get_with_schema(&request).await?
                }
                None if source.is_interactive() => continue,
                None => source.get(key).await?,
            };
            let location = source.location(key);
            let Some(json) = found else {
                tried.push(location);
                continue;
            };
            let value: T = serde_json::from_value(json.clone())
                .map_err(|e| self.shape_error::<T>(source.as_ref(), &e))?;
            let location = if prompt && source.is_interactive() {
                let saved_to = self.persist_answers(key, &json).await?;
                log::info!("saved the answers for `{key}` to {saved_to}");
                format!("{location}, saved to {saved_to}")
            } else {
                location
            };
            log::debug!("`{key}` comes from {location}");
            return Ok(Sourced {
                value,
                source: location,
            });
        }
        Err(ConfigError::NotFound {
            key: key.to_string(),
            tried,
            env_var: env_var_name(key),
        })
    }

    fn shape_error<T: Config>(
        &self,
        source: &dyn ConfigSource,
        e: &serde_json::Error,
    ) -> ConfigError {
        let key = T::KEY;
        let mut ways = Vec::new();
        if let Some(cmd) = source.reset_hint(key) {
            ways.push(format!("run `{cmd}`"));
        }
        if source.should_persist() {
            ways.push(format!("call harmony_config::reset::<{key}>()"));
        }
        ways.push(format!("set {}='<json>' to override it", env_var_name(key)));
        ConfigError::Deserialization {
            key: key.to_string(),
            source_name: source.location(key),
            reason: redact_serde_error(e),
            hint: format!(
                "It was probably saved by another version of the code. To replace it: {}",
                ways.join(", or ")
            ),
        }
    }
}
