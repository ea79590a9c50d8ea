//! Asking a person for a config value, field by field, driven by its JSON schema.
//!
//! [`prompt_for_schema`] walks a `schemars` schema and asks one [`Question`] per leaf through a
//! [`Prompter`]. The real prompter is [`InquirePrompter`]; tests use a scripted one.
//!
//! Field order: required fields in declaration order, then optional fields alphabetically
//! (schemars keeps `required` in declaration order, `properties` sorted).

mod inquire_prompter;

pub use inquire_prompter::InquirePrompter;

use serde_json::{Map, Number, Value};

/// The kind of answer a question expects.
#[derive(Debug, Clone, PartialEq)]
pub enum QuestionKind {
    /// Free text.
    Text,
    /// Free text typed without echo; never shown again.
    Secret,
    /// A whole number within optional bounds (inclusive).
    Integer {
        /// Smallest allowed value, if any.
        min: Option<i128>,
        /// Largest allowed value, if any.
        max: Option<i128>,
    },
    /// A finite floating-point number.
    Float,
    /// Yes or no.
    Bool,
    /// One of several options; the answer is [`Answer::Choice`] with the index.
    Choice(Vec<String>),
    /// A JSON value (arrays, maps and other shapes without a dedicated question).
    Json,
}

/// One question about one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// Dotted path of the field, e.g. `database.port`.
    pub path: String,
    /// What to show, e.g. `database.port (integer 0..=65535)`.
    pub label: String,
    /// The field's doc comment, if any.
    pub help: Option<String>,
    /// The kind of answer expected.
    pub kind: QuestionKind,
    /// An empty answer ([`Answer::Skip`] or empty text) leaves the field unset.
    pub optional: bool,
    /// Why the previous answer to this question was refused, when it is asked again.
    pub error: Option<String>,
}

/// An answer to a [`Question`].
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Typed text (also the answer to integer, float, secret and JSON questions).
    Text(String),
    /// A yes/no answer.
    Bool(bool),
    /// The index of the chosen option of a [`QuestionKind::Choice`].
    Choice(usize),
    /// Leave an optional field unset.
    Skip,
}

/// Why a [`Prompter`] gave no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromptError {
    /// The person pressed Esc or Ctrl-C.
    #[error("cancelled")]
    Cancelled,
    /// Nobody can answer: stdin is not a terminal.
    #[error("stdin is not a terminal")]
    NotATerminal,
    /// Anything else (terminal I/O), described.
    #[error("{0}")]
    Failed(String),
}

/// Asks questions. Implementations block; the [`crate::PromptSource`] runs them on a blocking
/// thread.
pub trait Prompter: Send + Sync {
    /// Whether a person can answer (the real prompter checks that stdin is a terminal).
    fn is_terminal(&self) -> bool {
        true
    }

    /// Asks one question and waits for the answer.
    fn ask(&self, question: &Question) -> Result<Answer, PromptError>;

    /// Shows a message to the person before or between questions (default: on stderr).
    fn notice(&self, text: &str) {
        eprintln!("{text}");
    }

    /// A yes/no question whose default (Enter) is `default`. The default implementation asks a
    /// [`QuestionKind::Bool`] question.
    fn confirm(&self, question: &str, default: bool) -> Result<bool, PromptError> {
        let label = format!("{question} ({})", if default { "Y/n" } else { "y/N" });
        match self.ask(&Question {
            path: String::new(),
            label,
            help: None,
            kind: QuestionKind::Bool,
            optional: true,
            error: None,
        })? {
            Answer::Bool(yes) => Ok(yes),
            _ => Ok(default),
        }
    }
}

/// Asks for every field of `schema` (the output of `schemars::schema_for!`) and returns the
/// JSON value built from the answers. Fields of the top-level struct named in `secret_fields`
/// (and fields marked `writeOnly` in the schema) are secret for their whole subtree: every leaf
/// under them, whatever its type, is asked as [`QuestionKind::Secret`] (typed without echo) and
/// the typed text is parsed as that leaf's type, asking again on bad input.
pub fn prompt_for_schema(
    prompter: &dyn Prompter,
    schema: &Value,
    secret_fields: &[&str],
) -> Result<Value, PromptError> {
    let walker = Walker {
        root: schema,
        prompter,
        secret_fields,
    };
    walker
        .ask_value(schema, "", None, false, false, 0)
        .map(|v| v.unwrap_or(Value::Null))
}

const MAX_DEPTH: usize = 32;
const NONE_CHOICE: &str = "(none)";

struct Walker<'a> {
    root: &'a Value,
    prompter: &'a dyn Prompter,
    secret_fields: &'a [&'a str],
}

/// A schema with `$ref`s and nullable wrappers peeled off.
struct Resolved<'a> {
    schema: &'a Value,
    description: Option<String>,
    nullable: bool,
}

impl<'a> Walker<'a> {
    fn resolve(&self, mut schema: &'a Value) -> Result<Resolved<'a>, PromptError> {
        let mut description = None;
        let mut nullable = false;
        for _ in 0..MAX_DEPTH {
            if description.is_none() {
                description = schema
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
                let pointer = reference.strip_prefix('#').ok_or_else(|| {
                    PromptError::Failed(format!("unsupported schema reference `{reference}`"))
                })?;
                schema = self.root.pointer(pointer).ok_or_else(|| {
                    PromptError::Failed(format!("schema reference `{reference}` not found"))
                })?;
                continue;
            }
            let variants = schema
                .get("anyOf")
                .or_else(|| schema.get("oneOf"))
                .and_then(Value::as_array);
            if let Some(variants) = variants {
                let non_null: Vec<&Value> = variants.iter().filter(|v| !is_null(v)).collect();
                if non_null.len() + 1 == variants.len() && non_null.len() == 1 {
                    nullable = true;
                    schema = non_null[0];
                    continue;
                }
            }
            return Ok(Resolved {
                schema,
                description,
                nullable,
            });
        }
        Err(PromptError::Failed(
            "schema references nest too deeply".to_string(),
        ))
    }

    /// Asks for one value; `Ok(None)` when an optional value was skipped.
    fn ask_value(
        &self,
        schema: &'a Value,
        path: &str,
        help: Option<String>,
        optional: bool,
        secret: bool,
        depth: usize,
    ) -> Result<Option<Value>, PromptError> {
        if depth > MAX_DEPTH {
            return Err(PromptError::Failed(format!(
                "`{path}` nests too deeply to prompt for"
            )));
        }
        let resolved = self.resolve(schema)?;
        let schema = resolved.schema;
        let help = help.or(resolved.description);
        let optional = optional || resolved.nullable;
        let types = schema_types(schema);
        let nullable_type = types.iter().any(|t| t == "null");
        let optional = optional || nullable_type;
        let main_type = types.iter().find(|t| *t != "null").cloned();

        if let Some(choices) = enum_choices(schema) {
            if secret {
                return self.ask_secret_choice(path, help, optional, choices);
            }
            return self.ask_choice(path, help, optional, choices);
        }

        match main_type.as_deref() {
            Some("object") if schema.get("properties").is_some() => {
                if optional && !path.is_empty() {
                    let q = self.question(
                        path,
                        format!("{path}: set this section?"),
                        help.clone(),
                        QuestionKind::Bool,
                        false,
                    );
                    if !matches!(self.prompter.ask(&q)?, Answer::Bool(true)) {
                        return Ok(None);
                    }
                }
                self.ask_object(schema, path, depth, secret).map(Some)
            }
            Some("boolean") if secret => self.ask_text(
                path,
                format!("{path} (secret, hidden; yes/no)"),
                help,
                QuestionKind::Secret,
                optional,
                |text| parse_bool(text.trim()),
            ),
            Some("boolean") => {
                if optional {
                    let choices = vec![
                        ("yes".to_string(), Value::Bool(true)),
                        ("no".to_string(), Value::Bool(false)),
                    ];
                    return self.ask_choice(path, help, true, choices);
                }
                let q = self.question(path, path.to_string(), help, QuestionKind::Bool, false);
                match self.prompter.ask(&q)? {
                    Answer::Bool(b) => Ok(Some(Value::Bool(b))),
                    other => Err(unexpected(path, &other)),
                }
            }
            Some("integer") => {
                let min = schema.get("minimum").and_then(as_i128);
                let max = schema.get("maximum").and_then(as_i128);
                let label = match (min, max) {
                    (Some(a), Some(b)) => format!("{path} (integer {a}..={b})"),
                    (Some(a), None) => format!("{path} (integer >= {a})"),
                    (None, Some(b)) => format!("{path} (integer <= {b})"),
                    (None, None) => format!("{path} (integer)"),
                };
                let (label, kind) = hidden_if(secret, label, QuestionKind::Integer { min, max });
                self.ask_text(path, label, help, kind, optional, |text| {
                    parse_integer(text.trim(), min, max)
                })
            }
            Some("number") => {
                let label = format!("{path} (number)");
                let (label, kind) = hidden_if(secret, label, QuestionKind::Float);
                self.ask_text(path, label, help, kind, optional, |text| {
                    parse_float(text.trim())
                })
            }
            Some("string") => {
                let (label, kind) = hidden_if(secret, path.to_string(), QuestionKind::Text);
                self.ask_text(path, label, help, kind, optional, |text| {
                    Ok(Value::String(text.to_string()))
                })
            }
            _ => {
                let label = format!("{path} (JSON)");
                let (label, kind) = hidden_if(secret, label, QuestionKind::Json);
                // serde_json syntax errors give a position, never the text itself.
                self.ask_text(path, label, help, kind, optional, |text| {
                    serde_json::from_str(text.trim()).map_err(|e| format!("not valid JSON: {e}"))
                })
            }
        }
    }

    /// Asks every property of an object; `secret` marks the whole subtree (a secret section).
    fn ask_object(
        &self,
        schema: &'a Value,
        path: &str,
        depth: usize,
        secret: bool,
    ) -> Result<Value, PromptError> {
        let empty = Map::new();
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut order: Vec<&str> = required
            .iter()
            .copied()
            .filter(|name| properties.contains_key(*name))
            .collect();
        order.extend(
            properties
                .keys()
                .map(String::as_str)
                .filter(|name| !required.contains(name)),
        );

        let mut out = Map::new();
        for name in order {
            let field_schema = &properties[name];
            let field_path = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{name}")
            };
            let secret = secret
                || depth == 0 && self.secret_fields.contains(&name)
                || field_schema.get("writeOnly") == Some(&Value::Bool(true));
            let optional = !required.contains(&name);
            let nullable = self.resolve(field_schema)?.nullable
                || schema_types(field_schema).iter().any(|t| t == "null");
            match self.ask_value(field_schema, &field_path, None, optional, secret, depth + 1)? {
                Some(value) => {
                    out.insert(name.to_string(), value);
                }
                None if nullable => {
                    out.insert(name.to_string(), Value::Null);
                }
                None => {}
            }
        }
        Ok(Value::Object(out))
    }

    fn ask_choice(
        &self,
        path: &str,
        help: Option<String>,
        optional: bool,
        mut choices: Vec<(String, Value)>,
    ) -> Result<Option<Value>, PromptError> {
        if optional {
            choices.push((NONE_CHOICE.to_string(), Value::Null));
        }
        let labels: Vec<String> = choices.iter().map(|(l, _)| l.clone()).collect();
        let q = self.question(
            path,
            path.to_string(),
            help,
            QuestionKind::Choice(labels),
            optional,
        );
        match self.prompter.ask(&q)? {
            Answer::Choice(i) if i < choices.len() => {
                let (label, value) = choices.swap_remove(i);
                if optional && label == NONE_CHOICE && value.is_null() {
                    Ok(None)
                } else {
                    Ok(Some(value))
                }
            }
            Answer::Skip if optional => Ok(None),
            other => Err(unexpected(path, &other)),
        }
    }

    /// An enum under a secret field: the option is typed without echo instead of picked from a
    /// visible list.
    fn ask_secret_choice(
        &self,
        path: &str,
        help: Option<String>,
        optional: bool,
        choices: Vec<(String, Value)>,
    ) -> Result<Option<Value>, PromptError> {
        let names: Vec<String> = choices
            .iter()
            .map(|(_, v)| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let label = format!("{path} (secret, hidden; one of {})", names.join(", "));
        self.ask_text(path, label, help, QuestionKind::Secret, optional, |text| {
            let text = text.trim();
            names
                .iter()
                .position(|n| n == text)
                .map(|i| choices[i].1.clone())
                .ok_or_else(|| format!("expected one of {}", names.join(", ")))
        })
    }

    fn ask_text(
        &self,
        path: &str,
        label: String,
        help: Option<String>,
        kind: QuestionKind,
        optional: bool,
        parse: impl Fn(&str) -> Result<Value, String>,
    ) -> Result<Option<Value>, PromptError> {
        let secret = kind == QuestionKind::Secret;
        let label = if optional {
            format!("{label} (optional, Enter to skip)")
        } else {
            label
        };
        let mut q = self.question(path, label, help, kind, optional);
        loop {
            let text = match self.prompter.ask(&q)? {
                Answer::Skip if optional => return Ok(None),
                Answer::Text(t) if t.is_empty() && optional => return Ok(None),
                Answer::Text(t) => t,
                other => return Err(unexpected(path, &other)),
            };
            if text.is_empty() {
                q.error = Some(format!("`{path}` is required"));
                continue;
            }
            let text = if secret {
                text
            } else {
                text.trim().to_string()
            };
            match parse(&text) {
                Ok(value) => return Ok(Some(value)),
                // The message never quotes the answer: it may be a secret.
                Err(reason) => q.error = Some(reason),
            }
        }
    }

    fn question(
        &self,
        path: &str,
        label: String,
        help: Option<String>,
        kind: QuestionKind,
        optional: bool,
    ) -> Question {
        Question {
            path: path.to_string(),
            label,
            help,
            kind,
            optional,
            error: None,
        }
    }
}

fn unexpected(path: &str, answer: &Answer) -> PromptError {
    let kind = match answer {
        Answer::Text(_) => "text",
        Answer::Bool(_) => "yes/no",
        Answer::Choice(_) => "an option index",
        Answer::Skip => "skip",
    };
    PromptError::Failed(format!("unexpected answer ({kind}) for `{path}`"))
}

fn is_null(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
        || schema.get("const") == Some(&Value::Null)
}

fn schema_types(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Options of an enum: `{"enum": [...]}` or a `oneOf` of `const`s (unit variants with docs).
fn enum_choices(schema: &Value) -> Option<Vec<(String, Value)>> {
    let label = |v: &Value, description: Option<&str>| {
        let name = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match description {
            Some(d) => format!("{name} — {d}"),
            None => name,
        }
    };
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let choices: Vec<_> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| (label(v, None), v.clone()))
            .collect();
        return (!choices.is_empty()).then_some(choices);
    }
    let variants = schema.get("oneOf").and_then(Value::as_array)?;
    let mut choices = Vec::new();
    for variant in variants {
        let value = variant.get("const").cloned().or_else(|| {
            variant
                .get("enum")
                .and_then(Value::as_array)
                .filter(|e| e.len() == 1)
                .map(|e| e[0].clone())
        })?;
        if value.is_null() {
            continue;
        }
        let description = variant.get("description").and_then(Value::as_str);
        choices.push((label(&value, description), value));
    }
    (!choices.is_empty()).then_some(choices)
}

fn as_i128(v: &Value) -> Option<i128> {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i128))
}

pub(crate) fn parse_integer(
    text: &str,
    min: Option<i128>,
    max: Option<i128>,
) -> Result<Value, String> {
    let n: i128 = text
        .parse()
        .map_err(|_| "expected a whole number, e.g. 42".to_string())?;
    if let Some(min) = min
        && n < min
    {
        return Err(format!("must be at least {min}"));
    }
    if let Some(max) = max
        && n > max
    {
        return Err(format!("must be at most {max}"));
    }
    if let Ok(i) = i64::try_from(n) {
        Ok(Value::Number(Number::from(i)))
    } else if let Ok(u) = u64::try_from(n) {
        Ok(Value::Number(Number::from(u)))
    } else {
        Err("number out of range".to_string())
    }
}

/// The question as shown: a secret one is typed hidden and says so in its label.
fn hidden_if(secret: bool, label: String, kind: QuestionKind) -> (String, QuestionKind) {
    if secret {
        (format!("{label} (secret, hidden)"), QuestionKind::Secret)
    } else {
        (label, kind)
    }
}

fn parse_bool(text: &str) -> Result<Value, String> {
    harmony_secret::text::parse_bool(text)
        .map(Value::Bool)
        .ok_or_else(|| "expected yes or no".to_string())
}

pub(crate) fn parse_float(text: &str) -> Result<Value, String> {
    let f: f64 = text
        .parse()
        .map_err(|_| "expected a number, e.g. 0.5".to_string())?;
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| "expected a finite number".to_string())
}

/// Scripted answers, for tests of code that prompts.
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    answers: std::sync::Mutex<std::collections::VecDeque<Answer>>,
    asked: std::sync::Mutex<Vec<Question>>,
    not_a_terminal: bool,
}

impl ScriptedPrompter {
    /// A prompter that gives `answers` in order, then fails.
    pub fn new(answers: impl IntoIterator<Item = Answer>) -> Self {
        Self {
            answers: std::sync::Mutex::new(answers.into_iter().collect()),
            ..Self::default()
        }
    }

    /// A prompter that behaves like a process without a terminal on stdin.
    pub fn without_terminal() -> Self {
        Self {
            not_a_terminal: true,
            ..Self::default()
        }
    }

    /// The questions asked so far.
    pub fn asked(&self) -> Vec<Question> {
        self.asked.lock().expect("lock").clone()
    }

    /// Answers not used yet.
    pub fn remaining(&self) -> usize {
        self.answers.lock().expect("lock").len()
    }
}

impl Prompter for ScriptedPrompter {
    fn is_terminal(&self) -> bool {
        !self.not_a_terminal
    }

    fn ask(&self, question: &Question) -> Result<Answer, PromptError> {
        self.asked.lock().expect("lock").push(question.clone());
        self.answers
            .lock()
            .expect("lock")
            .pop_front()
            .ok_or_else(|| {
                PromptError::Failed(format!("no scripted answer for `{}`", question.path))
            })
    }
}
