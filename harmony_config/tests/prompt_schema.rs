//! Schema-driven prompting through the injectable Prompter (scripted answers).

mod common;

use std::sync::Arc;

use harmony_config::prompt::{
    Answer, PromptError, Prompter, Question, QuestionKind, ScriptedPrompter, prompt_for_schema,
};
use harmony_config::{Config, ConfigError, ConfigManager, ConfigSource, EnvSource, PromptSource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use common::{arc, temp_sqlite};

/// How the cluster runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
enum Mode {
    /// Single node, no redundancy.
    Dev,
    /// Three nodes.
    Prod,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Database {
    /// Database host name.
    host: String,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Backup {
    bucket: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Config)]
#[config(key = "PromptDeploy")]
struct Deploy {
    /// Name of the cluster.
    name: String,
    replicas: u16,
    ratio: f64,
    enabled: bool,
    mode: Mode,
    database: Database,
    #[config(secret)]
    token: String,
    tags: Vec<String>,
    backup: Option<Backup>,
    nickname: Option<String>,
}

fn text(s: &str) -> Answer {
    Answer::Text(s.to_string())
}

fn schema_of<T: JsonSchema>() -> serde_json::Value {
    schemars::schema_for!(T).to_value()
}

fn find<'a>(asked: &'a [Question], path: &str) -> Vec<&'a Question> {
    asked.iter().filter(|q| q.path == path).collect()
}

#[test]
fn every_field_kind_is_asked_validated_and_assembled() {
    let prompter = ScriptedPrompter::new([
        text("prod-eu"),
        text("abc"),   // replicas: not a number, asked again
        text("70000"), // replicas: above u16::MAX, asked again
        text("3"),
        text("0.5"),
        Answer::Bool(true),
        Answer::Choice(1),
        text("db.internal"),
        text("5432"),
        text("s3cret-token"),
        text(r#"["a", "b"]"#),
        Answer::Bool(false), // backup: leave the optional section unset
        text(""),            // nickname: skipped
    ]);
    let schema = schema_of::<Deploy>();
    let value = prompt_for_schema(&prompter, &schema, Deploy::SECRET_FIELDS).unwrap();
    let deploy: Deploy = serde_json::from_value(value).unwrap();
    assert_eq!(
        deploy,
        Deploy {
            name: "prod-eu".into(),
            replicas: 3,
            ratio: 0.5,
            enabled: true,
            mode: Mode::Prod,
            database: Database {
                host: "db.internal".into(),
                port: 5432
            },
            token: "s3cret-token".into(),
            tags: vec!["a".into(), "b".into()],
            backup: None,
            nickname: None,
        },
        "schema: {schema:#}"
    );
    assert_eq!(prompter.remaining(), 0);

    let asked = prompter.asked();
    let paths: Vec<&str> = asked.iter().map(|q| q.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "name",
            "replicas",
            "replicas",
            "replicas",
            "ratio",
            "enabled",
            "mode",
            "database.host",
            "database.port",
            "token",
            "tags",
            "backup",
            "nickname"
        ]
    );

    let name = find(&asked, "name")[0];
    assert_eq!(name.help.as_deref(), Some("Name of the cluster."));
    assert_eq!(name.kind, QuestionKind::Text);
    assert!(!name.optional);

    let replicas = find(&asked, "replicas");
    assert_eq!(
        replicas[0].kind,
        QuestionKind::Integer {
            min: Some(0),
            max: Some(65535)
        }
    );
    assert_eq!(replicas[0].error, None);
    assert!(
        replicas[1]
            .error
            .as_deref()
            .unwrap()
            .contains("whole number")
    );
    assert!(
        replicas[2]
            .error
            .as_deref()
            .unwrap()
            .contains("at most 65535")
    );

    assert_eq!(find(&asked, "ratio")[0].kind, QuestionKind::Float);
    assert_eq!(find(&asked, "enabled")[0].kind, QuestionKind::Bool);
    match &find(&asked, "mode")[0].kind {
        QuestionKind::Choice(options) => {
            assert_eq!(options.len(), 2);
            assert!(options[0].starts_with("Dev"), "{options:?}");
            assert!(options[1].contains("Three nodes."), "{options:?}");
        }
        other => panic!("mode should be a choice, got {other:?}"),
    }
    assert_eq!(
        find(&asked, "database.host")[0].help.as_deref(),
        Some("Database host name.")
    );
    assert_eq!(find(&asked, "token")[0].kind, QuestionKind::Secret);
    assert_eq!(find(&asked, "tags")[0].kind, QuestionKind::Json);
    assert!(find(&asked, "nickname")[0].optional);
}

#[test]
fn optional_section_is_recursed_into_when_wanted() {
    #[derive(Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    struct WithBackup {
        backup: Option<Backup>,
        level: Option<Mode>,
    }
    let prompter =
        ScriptedPrompter::new([Answer::Bool(true), text("my-bucket"), Answer::Choice(2)]);
    let value = prompt_for_schema(&prompter, &schema_of::<WithBackup>(), &[]).unwrap();
    let got: WithBackup = serde_json::from_value(value).unwrap();
    assert_eq!(
        got,
        WithBackup {
            backup: Some(Backup {
                bucket: "my-bucket".into()
            }),
            level: None
        }
    );
    let asked = prompter.asked();
    match &asked[2].kind {
        QuestionKind::Choice(options) => assert_eq!(options.last().unwrap(), "(none)"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn required_text_cannot_be_left_empty() {
    #[derive(Debug, Serialize, Deserialize, JsonSchema)]
    struct Named {
        name: String,
    }
    let prompter = ScriptedPrompter::new([text(""), text("ok")]);
    let value = prompt_for_schema(&prompter, &schema_of::<Named>(), &[]).unwrap();
    assert_eq!(value, serde_json::json!({"name": "ok"}));
    assert!(
        prompter.asked()[1]
            .error
            .as_deref()
            .unwrap()
            .contains("required")
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Config)]
#[config(key = "PromptCancelled")]
struct CancelMe {
    host: String,
    port: u16,
}

/// Answers `n` questions, then behaves like Esc / Ctrl-C.
struct CancelAfter {
    answers: std::sync::Mutex<Vec<Answer>>,
}

impl Prompter for CancelAfter {
    fn ask(&self, _question: &Question) -> Result<Answer, PromptError> {
        self.answers
            .lock()
            .unwrap()
            .pop()
            .ok_or(PromptError::Cancelled)
    }
}

#[tokio::test]
async fn cancelling_a_prompt_persists_nothing() {
    let (_d, sqlite) = temp_sqlite().await;
    let prompter = Arc::new(CancelAfter {
        answers: std::sync::Mutex::new(vec![text("half")]),
    });
    let manager = ConfigManager::new(vec![
        arc(EnvSource),
        sqlite.clone(),
        arc(PromptSource::with_prompter(prompter)),
    ]);
    let err = manager.get_or_prompt::<CancelMe>().await.unwrap_err();
    assert!(
        matches!(err, ConfigError::PromptCancelled { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("PromptCancelled"), "{err}");
    assert_eq!(
        sqlite.get("PromptCancelled").await.unwrap(),
        None,
        "nothing saved"
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Config)]
#[config(key = "PromptNoTty")]
struct NoTty {
    host: String,
}

#[tokio::test]
async fn without_a_terminal_the_prompt_fails_at_once_naming_key_and_env_var() {
    let (_d, sqlite) = temp_sqlite().await;
    let prompter = Arc::new(ScriptedPrompter::without_terminal());
    let manager = ConfigManager::new(vec![
        arc(EnvSource),
        sqlite.clone(),
        arc(PromptSource::with_prompter(prompter.clone())),
    ]);
    let err = manager.get_or_prompt::<NoTty>().await.unwrap_err();
    assert!(matches!(err, ConfigError::NoTerminal { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("`PromptNoTty`"), "{text}");
    assert!(text.contains("HARMONY_CONFIG_PromptNoTty"), "{text}");
    assert!(prompter.asked().is_empty());
    assert_eq!(sqlite.get("PromptNoTty").await.unwrap(), None);
}

#[tokio::test]
async fn prompt_source_receives_the_schema_and_secret_fields() {
    let (_d, sqlite) = temp_sqlite().await;
    let prompter = Arc::new(ScriptedPrompter::new([
        text("n"),
        text("1"),
        text("1.5"),
        Answer::Bool(false),
        Answer::Choice(0),
        text("h"),
        text("2"),
        text("tok"),
        text("[]"),
        Answer::Bool(false),
        text(""),
    ]));
    let manager = ConfigManager::new(vec![
        arc(EnvSource),
        sqlite.clone(),
        arc(PromptSource::with_prompter(prompter.clone())),
    ]);
    let got = manager.get_or_prompt::<Deploy>().await.unwrap();
    assert_eq!(got.mode, Mode::Dev);
    assert_eq!(got.token, "tok");
    let token_q = prompter
        .asked()
        .into_iter()
        .find(|q| q.path == "token")
        .unwrap();
    assert_eq!(token_q.kind, QuestionKind::Secret);
    let stored = sqlite.get("PromptDeploy").await.unwrap().unwrap();
    assert_eq!(stored["database"]["port"], 2);
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, Config)]
#[serde(rename_all = "camelCase")]
struct CamelCreds {
    user_name: String,
    #[config(secret)]
    api_token: String,
}

#[test]
fn camel_case_secret_field_is_asked_hidden() {
    let prompter = ScriptedPrompter::new([text("alice"), text("tok")]);
    let value = prompt_for_schema(
        &prompter,
        &schema_of::<CamelCreds>(),
        CamelCreds::SECRET_FIELDS,
    )
    .unwrap();
    let creds: CamelCreds = serde_json::from_value(value).unwrap();
    assert_eq!(creds.api_token, "tok");
    let asked = prompter.asked();
    assert_eq!(find(&asked, "apiToken")[0].kind, QuestionKind::Secret);
    assert_eq!(find(&asked, "userName")[0].kind, QuestionKind::Text);
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct Tls {
    cert_pass: String,
    port: u16,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, Config)]
struct Vault {
    host: String,
    #[config(secret)]
    pin: u32,
    #[config(secret)]
    tls: Tls,
    #[config(secret)]
    recovery_codes: Vec<String>,
    #[config(secret)]
    strict: bool,
}

#[test]
fn every_leaf_under_a_secret_field_is_asked_hidden_and_parsed() {
    let prompter = ScriptedPrompter::new([
        text("h"),
        text("not a number"),
        text("1234"),
        text("pw"),
        text("8443"),
        text(r#"["a","b"]"#),
        text("yes"),
    ]);
    let value = prompt_for_schema(&prompter, &schema_of::<Vault>(), Vault::SECRET_FIELDS).unwrap();
    let vault: Vault = serde_json::from_value(value).unwrap();
    assert_eq!(vault.pin, 1234);
    assert_eq!(vault.tls.cert_pass, "pw");
    assert_eq!(vault.tls.port, 8443);
    assert_eq!(vault.recovery_codes, ["a", "b"]);
    assert!(vault.strict);

    let asked = prompter.asked();
    assert_eq!(find(&asked, "host")[0].kind, QuestionKind::Text);
    let pin = find(&asked, "pin");
    assert_eq!(pin.len(), 2, "bad input is asked again");
    assert!(pin.iter().all(|q| q.kind == QuestionKind::Secret));
    let retry_error = pin[1].error.clone().unwrap();
    assert!(!retry_error.contains("not a number"), "{retry_error}");
    for path in ["tls.cert_pass", "tls.port", "recovery_codes", "strict"] {
        assert_eq!(find(&asked, path)[0].kind, QuestionKind::Secret, "{path}");
    }
}
