//! [`ConfigManager`]: resolves typed values through an ordered chain of sources.

use std::sync::Arc;

use serde_json::Value;

use crate::config::env_var_name;
use crate::error::redact_serde_error;
use crate::source::{ConfigRequest, Lookup, Outage};
use crate::{Config, ConfigError, ConfigSource, Provenance};

/// A value together with where it came from.
#[derive(Clone, PartialEq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where the value came from ([`ConfigSource::provenance`] of the source that had it; for a
    /// prompted value, [`Provenance::Prompted`] with where it was saved). Displays as e.g.
    /// `SQLite database /home/me/.local/share/harmony/config/config.db`.
    pub source: Provenance,
}

impl<T> std::fmt::Debug for Sourced<T> {
    /// Shows only the provenance, as text: the value may hold secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sourced")
            .field("value", &format_args!("<{}>", std::any::type_name::<T>()))
            .field("source", &self.source.to_string())
            .finish()
    }
}

/// An ordered chain of [`ConfigSource`]s. The first source that has a value wins.
///
/// - [`ConfigManager::get`] reads the chain and never asks for a value (an SSO-backed store may
///   start a sign-in on first use);
/// - [`ConfigManager::get_or_prompt`] also lets interactive sources ask, and saves the answer to
///   the first source whose [`ConfigSource::should_persist`] is true. When a store in the chain
///   is unavailable (down or sealed), the prompt first says so on the terminal; answers are then
///   saved to the next persisting source, but answers holding secret fields only after the
///   person agrees (default no: the value is used for this run and saved nowhere). Without a
///   terminal it is an error naming the store and why it is unavailable;
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
    /// A manager that asks `sources` in this order.
    pub fn new(sources: Vec<Arc<dyn ConfigSource>>) -> Self {
        Self { sources }
    }

    /// The chain, in order.
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

    /// The raw JSON stored under `key` and where it came from, for tools that do not know the
    /// Rust type (the `harmony-config` CLI). Never prompts; errors like [`ConfigManager::get`].
    pub async fn get_json_with_source(&self, key: &str) -> Result<Sourced<Value>, ConfigError> {
        let mut tried = Vec::new();
        let mut down = Vec::new();
        for source in self.sources.iter().filter(|s| !s.is_interactive()) {
            let location = source.provenance(key);
            match source.lookup(key).await? {
                Lookup::Found(value) => {
                    return Ok(Sourced {
                        value,
                        source: location,
                    });
                }
                Lookup::Missing => tried.push(location.to_string()),
                Lookup::Unavailable(reason) => down.push(
                    Outage {
                        source: location,
                        reason,
                    }
                    .to_string(),
                ),
            }
        }
        Err(ConfigError::NotFound {
            key: key.to_string(),
            tried,
            unavailable: down,
            env_var: env_var_name(key),
        })
    }

    /// Writes `value` to the first persisting source and returns where it went.
    pub async fn set<T: Config>(&self, value: &T) -> Result<Provenance, ConfigError> {
        let json = serde_json::to_value(value).map_err(|e| ConfigError::Serialization {
            key: T::KEY.to_string(),
            reason: redact_serde_error(&e),
        })?;
        self.persist(T::KEY, &json, T::SECRET_FIELDS).await
    }

    /// Removes the value of `T` from every persisting source, so the next `get_or_prompt` asks
    /// again. Returns where it was removed from. Environment variables are untouched.
    pub async fn reset<T: Config>(&self) -> Result<Vec<Provenance>, ConfigError> {
        self.reset_key(T::KEY).await
    }

    /// [`ConfigManager::reset`] by key.
    pub async fn reset_key(&self, key: &str) -> Result<Vec<Provenance>, ConfigError> {
        let mut removed = Vec::new();
        for source in self.sources.iter().filter(|s| s.should_persist()) {
            if source.delete(key).await? {
                removed.push(source.provenance(key));
            }
        }
        Ok(removed)
    }

    async fn persist(
        &self,
        key: &str,
        value: &Value,
        secret_fields: &[&str],
    ) -> Result<Provenance, ConfigError> {
        let source = self
            .sources
            .iter()
            .find(|s| s.should_persist())
            .ok_or_else(|| ConfigError::NoPersistentSource {
                key: key.to_string(),
            })?;
        source.set_with_secrets(key, value, secret_fields).await?;
        let location = source.provenance(key);
        log::debug!("stored `{key}` in {location}");
        Ok(location)
    }

    /// Saves prompted answers: to the first persisting source, or, while it is unavailable, to
    /// the next one. Answers holding secrets go past an unavailable source only when the person
    /// agrees (asked through `asker`, default no); `Ok(None)` when they did not. Any other failure
    /// stops here with an error saying nothing was saved.
    async fn persist_answers(
        &self,
        asker: &dyn ConfigSource,
        key: &str,
        value: &Value,
        secret_fields: &[&str],
    ) -> Result<Option<Provenance>, ConfigError> {
        let secrets: Vec<&str> = secret_fields
            .iter()
            .copied()
            .filter(|f| value.get(f).is_some_and(|v| !v.is_null()))
            .collect();
        let mut attempts = Vec::new();
        let mut agreed = false;
        for source in self.sources.iter().filter(|s| s.should_persist()) {
            let location = source.provenance(key);
            if !attempts.is_empty() && !secrets.is_empty() && !agreed {
                let question = format!(
                    "{} Save `{key}`, which holds secrets ({}), to {location} on this machine \
                     instead?",
                    attempts.join("; "),
                    secrets.join(", ")
                );
                if !asker.confirm(key, &question).await? {
                    log::warn!(
                        "the answers for `{key}` were not saved: {}, and saving its secrets \
                         locally was declined",
                        attempts.join("; ")
                    );
                    return Ok(None);
                }
                agreed = true;
            }
            match source.set_with_secrets(key, value, secret_fields).await {
                Ok(()) => {
                    if !attempts.is_empty() {
                        log::warn!(
                            "saved the answers for `{key}` to {location} instead ({})",
                            attempts.join("; ")
                        );
                    }
                    return Ok(Some(location));
                }
                Err(e) if e.is_unavailable() => {
                    log::warn!(
                        "cannot save the answers for `{key}` to {location}: {e}. Trying the next \
                         persisting source"
                    );
                    attempts.push(format!("{location} is unavailable: {e}."));
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
        let mut down: Vec<Outage> = Vec::new();
        for source in &self.sources {
            let location = source.provenance(key);
            let found = if source.is_interactive() {
                let Some(schema) = &schema else { continue };
                let request = ConfigRequest {
                    key,
                    schema,
                    secret_fields: T::SECRET_FIELDS,
                    unavailable: &down,
                };
                source.get_with_schema(&request).await?
            } else {
                match source.lookup(key).await? {
                    Lookup::Found(value) => Some(value),
                    Lookup::Missing => None,
                    Lookup::Unavailable(reason) => {
                        down.push(Outage {
                            source: location,
                            reason,
                        });
                        continue;
                    }
                }
            };
            let Some(json) = found else {
                tried.push(location.to_string());
                continue;
            };
            let value: T = serde_json::from_value(json.clone())
                .map_err(|e| self.shape_error::<T>(source.as_ref(), &e))?;
            let location = if prompt && source.is_interactive() {
                let saved_to = self
                    .persist_answers(source.as_ref(), key, &json, T::SECRET_FIELDS)
                    .await?;
                if let Some(saved_to) = &saved_to {
                    log::info!("saved the answers for `{key}` to {saved_to}");
                }
                Provenance::Prompted {
                    asked_by: Box::new(location),
                    saved_to: saved_to.map(Box::new),
                }
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
            unavailable: down.iter().map(Outage::to_string).collect(),
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
        if source.should_persist() {
            ways.push(format!("run `harmony-config reset {key}`"));
        }
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
