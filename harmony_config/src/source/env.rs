//! [`EnvSource`]: `HARMONY_CONFIG_{KEY}` environment variables holding JSON.

use async_trait::async_trait;
use serde_json::Value;

use crate::config::env_var_name;
use crate::{ConfigError, ConfigSource, Provenance};

/// Reads `HARMONY_CONFIG_{KEY}`, which holds the whole value as JSON, e.g.
/// `HARMONY_CONFIG_AppConfig='{"host":"db.example.com","port":5432}'`.
///
/// Read-only: [`ConfigSource::should_persist`] is `false`, so prompted values are never "saved"
/// into the process environment (where they would be lost at exit).
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSource;

#[async_trait]
impl ConfigSource for EnvSource {
    fn name(&self) -> String {
        "environment variables HARMONY_CONFIG_*".to_string()
    }

    fn location(&self, key: &str) -> String {
        self.provenance(key).to_string()
    }

    fn provenance(&self, key: &str) -> Provenance {
        Provenance::Env {
            var: env_var_name(key),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Value>, ConfigError> {
        let var = env_var_name(key);
        let source_name = self.location(key);
        match std::env::var(&var) {
            Ok(text) => {
                let hint = format!("Fix or unset {var} (it must hold the whole value as JSON)");
                super::parse_json(key, source_name, &text, hint).map(Some)
            }
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::InvalidJson {
                key: key.to_string(),
                source_name,
                reason: "the variable is not valid UTF-8".to_string(),
                hint: format!("Fix or unset {var}"),
            }),
        }
    }

    async fn set(&self, key: &str, _value: &Value) -> Result<(), ConfigError> {
        Err(ConfigError::ReadOnly {
            key: key.to_string(),
            source_name: self.location(key),
            message: "environment variables are read-only here; export the variable in your \
                      shell, or store the value in a persisting source"
                .to_string(),
        })
    }

    fn should_persist(&self) -> bool {
        false
    }

    fn reset_hint(&self, key: &str) -> Option<String> {
        Some(format!("unset {}", env_var_name(key)))
    }
}
