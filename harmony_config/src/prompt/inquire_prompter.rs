//! [`InquirePrompter`]: the real terminal prompter, built on `inquire`.

use std::io::IsTerminal;

use inquire::error::InquireError;
use inquire::validator::Validation;
use inquire::{Confirm, Password, PasswordDisplayMode, Select, Text};

use super::{Answer, PromptError, Prompter, Question, QuestionKind, parse_float, parse_integer};

/// Asks questions on the terminal: text, masked passwords, yes/no confirmations and selections.
/// Numbers and JSON are validated as they are typed, and asked again when invalid.
/// Esc or Ctrl-C cancels the whole prompt.
#[derive(Debug, Clone, Copy, Default)]
pub struct InquirePrompter;

impl Prompter for InquirePrompter {
    fn is_terminal(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    fn confirm(&self, question: &str, default: bool) -> Result<bool, PromptError> {
        Confirm::new(question)
            .with_default(default)
            .prompt()
            .map_err(map_error)
    }

    fn ask(&self, q: &Question) -> Result<Answer, PromptError> {
        if let Some(error) = &q.error {
            eprintln!("  {error}");
        }
        let help = q.help.as_deref();
        let result = match &q.kind {
            QuestionKind::Bool => {
                let mut p = Confirm::new(&q.label);
                if let Some(h) = help {
                    p = p.with_help_message(h);
                }
                p.prompt().map(Answer::Bool)
            }
            QuestionKind::Choice(options) => {
                let mut p = Select::new(&q.label, options.clone());
                if let Some(h) = help {
                    p = p.with_help_message(h);
                }
                p.raw_prompt().map(|chosen| Answer::Choice(chosen.index))
            }
            QuestionKind::Secret => {
                let mut p = Password::new(&q.label)
                    .without_confirmation()
                    .with_display_mode(PasswordDisplayMode::Masked);
                if let Some(h) = help {
                    p = p.with_help_message(h);
                }
                p.prompt().map(Answer::Text)
            }
            kind => {
                let kind = kind.clone();
                let optional = q.optional;
                let validator = move |input: &str| {
                    let input = input.trim();
                    if input.is_empty() {
                        return Ok(if optional {
                            Validation::Valid
                        } else {
                            Validation::Invalid("a value is required".into())
                        });
                    }
                    let checked = match &kind {
                        QuestionKind::Integer { min, max } => {
                            parse_integer(input, *min, *max).map(|_| ())
                        }
                        QuestionKind::Float => parse_float(input).map(|_| ()),
                        QuestionKind::Json => serde_json::from_str::<serde_json::Value>(input)
                            .map(|_| ())
                            .map_err(|e| format!("not valid JSON: {e}")),
                        _ => Ok(()),
                    };
                    Ok(match checked {
                        Ok(()) => Validation::Valid,
                        Err(reason) => Validation::Invalid(reason.into()),
                    })
                };
                let mut p = Text::new(&q.label).with_validator(validator);
                if let Some(h) = help {
                    p = p.with_help_message(h);
                }
                p.prompt().map(Answer::Text)
            }
        };
        result.map_err(map_error)
    }
}

fn map_error(e: InquireError) -> PromptError {
    match e {
        InquireError::OperationCanceled | InquireError::OperationInterrupted => {
            PromptError::Cancelled
        }
        InquireError::NotTTY => PromptError::NotATerminal,
        other => PromptError::Failed(other.to_string()),
    }
}
