//! [`PromptSource`]: asks a person for values nothing else has.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::config::env_var_name;
use crate::prompt::{InquirePrompter, PromptError, Prompter, prompt_for_schema};
use crate::source::{ConfigRequest, Outage};
use crate::{ConfigError, ConfigSource, Provenance};

/// Asks for a value field by field (see [`crate::prompt`]), only through
/// [`crate::ConfigManager::get_or_prompt`]: a plain `get` never prompts.
///
/// Without a terminal on stdin it fails at once with [`ConfigError::NoTerminal`], naming the env
/// var that would provide the value and any team store that was unavailable. When a store earlier
/// in the chain was unavailable ([`ConfigRequest::unavailable`]), a warning naming it is shown
/// before the first question. Esc or Ctrl-C gives [`ConfigError::PromptCancelled`].
/// It stores nothing itself; the manager saves answers to the first persisting source.
#[derive(Clone)]
pub struct PromptSource {
    prompter: Arc<dyn Prompter>,
}

impl PromptSource {
    /// Prompts on the terminal with `inquire`.
    pub fn new() -> Self {
        Self::with_prompter(Arc::new(InquirePrompter))
    }

    /// Prompts through `prompter` (scripted answers in tests, another UI).
    pub fn with_prompter(prompter: Arc<dyn Prompter>) -> Self {
        Self { prompter }
    }
}

impl Default for PromptSource {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PromptSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PromptSource")
    }
}

#[async_trait]
impl ConfigSource for PromptSource {
    fn name(&self) -> String {
        Provenance::Prompt.to_string()
    }

    fn provenance(&self, _key: &str) -> Provenance {
        Provenance::Prompt
    }

    /// Never prompts: without a schema there is nothing to ask.
    async fn get(&self, _key: &str) -> Result<Option<Value>, ConfigError> {
        Ok(None)
    }

    async fn get_with_schema(
        &self,
        request: &ConfigRequest<'_>,
    ) -> Result<Option<Value>, ConfigError> {
        let key = request.key.to_string();
        let unavailable: Vec<String> = request.unavailable.iter().map(Outage::to_string).collect();
        let no_terminal = || ConfigError::NoTerminal {
            key: key.clone(),
            env_var: env_var_name(&key),
            unavailable: unavailable.clone(),
        };
        if !self.prompter.is_terminal() {
            return Err(no_terminal());
        }
        let notice = (!unavailable.is_empty()).then(|| {
            format!(
                "WARNING: cannot reach {}, so `{key}` is asked here instead. What you type is not \
                 sent there; values holding secrets are saved on this machine only if you agree.",
                unavailable.join(", ")
            )
        });
        let prompter = Arc::clone(&self.prompter);
        let schema = request.schema.as_value().clone();
        let secret_fields: Vec<String> = request
            .secret_fields
            .iter()
            .map(|s| s.to_string())
            .collect();
        let answered = tokio::task::spawn_blocking(move || {
            if let Some(notice) = notice {
                prompter.notice(&notice);
            }
            let secret_fields: Vec<&str> = secret_fields.iter().map(String::as_str).collect();
            prompt_for_schema(prompter.as_ref(), &schema, &secret_fields)
        })
        .await
        .map_err(|e| ConfigError::Prompt {
            key: key.clone(),
            message: format!("the prompt thread failed: {e}"),
            source: Some(e.into()),
        })?;
        match answered {
            Ok(value) => Ok(Some(value)),
            Err(e) => Err(prompt_error(&key, e, no_terminal)),
        }
    }

    async fn confirm(&self, key: &str, question: &str) -> Result<bool, ConfigError> {
        let prompter = Arc::clone(&self.prompter);
        let question = question.to_string();
        let answered = tokio::task::spawn_blocking(move || prompter.confirm(&question, false))
            .await
            .map_err(|e| ConfigError::Prompt {
                key: key.to_string(),
                message: format!("the prompt thread failed: {e}"),
                source: Some(e.into()),
            })?;
        answered.map_err(|e| {
            prompt_error(key, e, || ConfigError::NoTerminal {
                key: key.to_string(),
                env_var: env_var_name(key),
                unavailable: Vec::new(),
            })
        })
    }

    /// Does nothing: answers are saved by the manager to a persisting source.
    async fn set(&self, _key: &str, _value: &Value) -> Result<(), ConfigError> {
        Ok(())
    }

    fn should_persist(&self) -> bool {
        false
    }

    fn is_interactive(&self) -> bool {
        true
    }
}

fn prompt_error(
    key: &str,
    e: PromptError,
    no_terminal: impl FnOnce() -> ConfigError,
) -> ConfigError {
    let key = key.to_string();
    match e {
        PromptError::Cancelled => ConfigError::PromptCancelled { key },
        PromptError::NotATerminal => no_terminal(),
        PromptError::Failed(message) => ConfigError::Prompt {
            key,
            message,
            source: None,
        },
    }
}
