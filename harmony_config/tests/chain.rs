//! ConfigManager over real sources: resolution order, persistence of prompted values,
//! provenance, error messages, secret-store fallback.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use harmony_config::prompt::{Answer, ScriptedPrompter};
use harmony_config::{
    Config, ConfigError, ConfigManager, ConfigSource, EnvSource, LocalFileSource, PromptSource,
    Provenance, SqliteSource, StoreSource,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use common::{FailingStore, arc, not_found, permission_denied, set_env, temp_sqlite, unreachable};

/// Each test uses its own key so env vars set by one test never leak into another.
macro_rules! keyed_config {
    ($name:ident, $key:literal) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Config)]
        #[config(key = $key)]
        struct $name {
            host: String,
            port: u16,
        }
    };
}

/// The provenance of values read from `sqlite`.
fn in_sqlite(sqlite: &SqliteSource) -> Provenance {
    Provenance::Sqlite {
        path: sqlite.path().to_path_buf(),
    }
}

fn prompt_answering(host: &str, port: &str) -> (Arc<ScriptedPrompter>, Arc<dyn ConfigSource>) {
    let prompter = Arc::new(ScriptedPrompter::new([
        Answer::Text(host.to_string()),
        Answer::Text(port.to_string()),
    ]));
    let source = arc(PromptSource::with_prompter(prompter.clone()));
    (prompter, source)
}

#[tokio::test]
async fn test_full_resolution_chain_sqlite_fallback() {
    keyed_config!(Cfg, "ChainSqliteFallback");
    let (_d, sqlite) = temp_sqlite().await;
    sqlite
        .set(
            "ChainSqliteFallback",
            &json!({"host": "from-sqlite", "port": 1}),
        )
        .await
        .unwrap();
    let manager = ConfigManager::new(vec![arc(EnvSource), sqlite.clone()]);
    let got = manager.get_with_source::<Cfg>().await.unwrap();
    assert_eq!(
        got.value,
        Cfg {
            host: "from-sqlite".into(),
            port: 1
        }
    );
    assert_eq!(got.source, in_sqlite(&sqlite));
    assert_eq!(got.source.to_string(), sqlite.name());
}

#[tokio::test]
async fn test_full_resolution_chain_env_overrides_sqlite() {
    keyed_config!(Cfg, "ChainEnvOverrides");
    let (_d, sqlite) = temp_sqlite().await;
    sqlite
        .set(
            "ChainEnvOverrides",
            &json!({"host": "from-sqlite", "port": 1}),
        )
        .await
        .unwrap();
    set_env(
        "HARMONY_CONFIG_ChainEnvOverrides",
        r#"{"host":"from-env","port":2}"#,
    );
    let manager = ConfigManager::new(vec![arc(EnvSource), sqlite.clone()]);
    let got = manager.get_with_source::<Cfg>().await.unwrap();
    assert_eq!(
        got.value,
        Cfg {
            host: "from-env".into(),
            port: 2
        }
    );
    assert_eq!(
        got.source,
        Provenance::Env {
            var: "HARMONY_CONFIG_ChainEnvOverrides".into()
        }
    );
    assert_eq!(
        got.source.to_string(),
        "environment variable HARMONY_CONFIG_ChainEnvOverrides"
    );
    // The override is not copied into SQLite.
    assert_eq!(
        sqlite.get("ChainEnvOverrides").await.unwrap(),
        Some(json!({"host": "from-sqlite", "port": 1}))
    );
}

#[tokio::test]
async fn test_branch_switching_scenario_deserialization_error() {
    keyed_config!(Cfg, "BranchSwitch");
    let (_d, sqlite) = temp_sqlite().await;
    // Another branch stored the old shape, without `port`.
    sqlite
        .set("BranchSwitch", &json!({"host": "old"}))
        .await
        .unwrap();
    let manager = ConfigManager::new(vec![arc(EnvSource), sqlite.clone()]);
    let err = manager.get::<Cfg>().await.unwrap_err();
    assert!(
        matches!(err, ConfigError::Deserialization { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("`BranchSwitch`"), "{text}");
    assert!(text.contains("missing field `port`"), "{text}");
    assert!(
        text.contains(&sqlite.path().display().to_string()),
        "{text}"
    );
    let command = format!(
        "sqlite3 '{}' \"DELETE FROM config WHERE key='BranchSwitch'\"",
        sqlite.path().display()
    );
    assert!(text.contains(&command), "{text}");
    assert!(text.contains("HARMONY_CONFIG_BranchSwitch"), "{text}");
    assert!(
        text.contains("run `harmony-config reset BranchSwitch`"),
        "{text}"
    );

    // The reset API named in the message does fix it.
    let removed = manager.reset::<Cfg>().await.unwrap();
    assert_eq!(removed, vec![in_sqlite(&sqlite)]);
    assert!(manager.get::<Cfg>().await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn malformed_env_json_error_names_the_variable() {
    keyed_config!(Cfg, "MalformedEnv");
    set_env("HARMONY_CONFIG_MalformedEnv", "{host: nope");
    let manager = ConfigManager::new(vec![arc(EnvSource)]);
    let err = manager.get::<Cfg>().await.unwrap_err();
    assert!(matches!(err, ConfigError::InvalidJson { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("environment variable HARMONY_CONFIG_MalformedEnv"),
        "{text}"
    );
    assert!(
        !text.contains("nope"),
        "the value must not be echoed: {text}"
    );
}

#[tokio::test]
async fn not_found_names_key_sources_and_env_var() {
    keyed_config!(Cfg, "NowhereToBeFound");
    let (_d, sqlite) = temp_sqlite().await;
    let (prompter, prompt) = prompt_answering("x", "1");
    let manager = ConfigManager::new(vec![arc(EnvSource), sqlite.clone(), prompt]);
    let err = manager.get::<Cfg>().await.unwrap_err();
    let text = err.to_string();
    assert!(err.is_not_found());
    assert!(text.contains("`NowhereToBeFound`"), "{text}");
    assert!(
        text.contains("environment variable HARMONY_CONFIG_NowhereToBeFound"),
        "{text}"
    );
    assert!(text.contains(&sqlite.name()), "{text}");
    assert!(
        text.contains("HARMONY_CONFIG_NowhereToBeFound='<json>'"),
        "{text}"
    );
    assert!(prompter.asked().is_empty(), "get() must never prompt");
}

#[tokio::test]
async fn test_full_chain_with_prompt_source_falls_through_to_prompt() {
    keyed_config!(Cfg, "FallsToPrompt");
    let (_d, sqlite) = temp_sqlite().await;
    let (prompter, prompt) = prompt_answering("prompted-host", "8080");
    let manager = ConfigManager::new(vec![arc(EnvSource), sqlite.clone(), prompt]);

    let got = manager.get_or_prompt_with_source::<Cfg>().await.unwrap();
    assert_eq!(
        got.value,
        Cfg {
            host: "prompted-host".into(),
            port: 8080
        }
    );
    assert_eq!(
        got.source,
        Provenance::Prompted {
            asked_by: Box::new(Provenance::Prompt),
            saved_to: Some(Box::new(in_sqlite(&sqlite))),
        }
    );
    assert_eq!(
        got.source.to_string(),
        format!("interactive prompt, saved to {}", sqlite.name())
    );
    assert_eq!(prompter.asked().len(), 2);

    // Persisted: the next call reads SQLite and asks nothing.
    let again = manager.get_or_prompt_with_source::<Cfg>().await.unwrap();
    assert_eq!(again.value, got.value);
    assert_eq!(again.source, in_sqlite(&sqlite));
    assert_eq!(prompter.asked().len(), 2, "no new question");
}

#[tokio::test]
async fn prompted_value_skips_env_and_persists_to_first_persisting_source() {
    // The seed's bug: EnvSource::set "succeeded" and swallowed the prompted value.
    keyed_config!(Cfg, "PersistTarget");
    let files_dir = tempfile::tempdir().unwrap();
    let files = Arc::new(LocalFileSource::new(files_dir.path()));
    let (_d, sqlite) = temp_sqlite().await;
    let (_prompter, prompt) = prompt_answering("h", "1");
    let manager = ConfigManager::new(vec![arc(EnvSource), sqlite.clone(), files.clone(), prompt]);

    manager.get_or_prompt::<Cfg>().await.unwrap();
    assert_eq!(
        sqlite.get("PersistTarget").await.unwrap(),
        Some(json!({"host": "h", "port": 1})),
        "saved to the first persisting source"
    );
    assert_eq!(
        files.get("PersistTarget").await.unwrap(),
        None,
        "and only there"
    );
    assert!(
        std::env::var("HARMONY_CONFIG_PersistTarget").is_err(),
        "never into the env"
    );

    // A new manager (a later run) finds it without prompting.
    let later = ConfigManager::new(vec![arc(EnvSource), sqlite.clone()]);
    assert_eq!(later.get::<Cfg>().await.unwrap().host, "h");
}

#[tokio::test]
async fn prompt_without_persisting_source_fails_clearly() {
    keyed_config!(Cfg, "NoPersist");
    let (_p, prompt) = prompt_answering("h", "1");
    let manager = ConfigManager::new(vec![arc(EnvSource), prompt]);
    let err = manager.get_or_prompt::<Cfg>().await.unwrap_err();
    assert!(
        matches!(err, ConfigError::NoPersistentSource { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn set_writes_to_first_persisting_source_and_reports_it() {
    keyed_config!(Cfg, "SetTarget");
    let (_d, sqlite) = temp_sqlite().await;
    let manager = ConfigManager::new(vec![arc(EnvSource), sqlite.clone()]);
    let value = Cfg {
        host: "a".into(),
        port: 9,
    };
    let location = manager.set(&value).await.unwrap();
    assert_eq!(location, in_sqlite(&sqlite));
    assert_eq!(manager.get::<Cfg>().await.unwrap(), value);
}

#[tokio::test]
async fn env_source_is_read_only() {
    let err = EnvSource.set("ReadOnlyKey", &json!({})).await.unwrap_err();
    assert!(
        err.to_string().contains("HARMONY_CONFIG_ReadOnlyKey"),
        "{err}"
    );
    assert!(!EnvSource.should_persist());
}

#[tokio::test]
async fn test_prompt_source_always_returns_none() {
    // Without a schema (plain `get`) the prompt source has nothing to ask and never blocks.
    let prompter = Arc::new(ScriptedPrompter::new([]));
    let source = PromptSource::with_prompter(prompter.clone());
    assert_eq!(source.get("Anything").await.unwrap(), None);
    assert!(prompter.asked().is_empty());
}

#[tokio::test]
async fn test_prompt_source_set_is_noop() {
    let prompter = Arc::new(ScriptedPrompter::new([]));
    let source = PromptSource::with_prompter(prompter);
    source.set("Anything", &json!({"a": 1})).await.unwrap();
    assert_eq!(source.get("Anything").await.unwrap(), None);
}

#[tokio::test]
async fn test_prompt_source_does_not_persist() {
    let source = PromptSource::new();
    assert!(!source.should_persist());
    assert!(source.is_interactive());
}

#[tokio::test]
async fn test_store_source_error_falls_through_to_sqlite() {
    keyed_config!(Cfg, "StoreDown");
    let (_d, sqlite) = temp_sqlite().await;
    sqlite
        .set("StoreDown", &json!({"host": "local", "port": 3}))
        .await
        .unwrap();
    let store = Arc::new(FailingStore::new(unreachable));
    let store_source = arc(StoreSource::new("harmony", store.clone()));
    let manager = ConfigManager::new(vec![arc(EnvSource), store_source, sqlite.clone()]);
    let got = manager.get_with_source::<Cfg>().await.unwrap();
    assert_eq!(got.value.host, "local");
    assert_eq!(got.source, in_sqlite(&sqlite));
    assert_eq!(
        store.calls.load(Ordering::SeqCst),
        1,
        "the store was asked first"
    );
}

#[tokio::test]
async fn test_store_source_not_found_falls_through_to_sqlite() {
    keyed_config!(Cfg, "StoreMissing");
    let (_d, sqlite) = temp_sqlite().await;
    sqlite
        .set("StoreMissing", &json!({"host": "local", "port": 3}))
        .await
        .unwrap();
    let store_source = arc(StoreSource::new("harmony", FailingStore::new(not_found)));
    let manager = ConfigManager::new(vec![store_source, sqlite.clone()]);
    assert_eq!(manager.get::<Cfg>().await.unwrap().host, "local");
}

#[tokio::test]
async fn store_permission_denied_is_an_error_naming_key_and_store() {
    keyed_config!(Cfg, "StoreDenied");
    let (_d, sqlite) = temp_sqlite().await;
    sqlite
        .set("StoreDenied", &json!({"host": "local", "port": 3}))
        .await
        .unwrap();
    let store_source = arc(StoreSource::new(
        "harmony",
        FailingStore::new(permission_denied),
    ));
    let manager = ConfigManager::new(vec![store_source, sqlite]);
    let err = manager.get::<Cfg>().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConfigError::Store { .. }), "{err:?}");
    assert!(text.contains("harmony/StoreDenied"), "{text}");
    assert!(text.contains("OpenBao at http://127.0.0.1:1"), "{text}");
    assert!(text.contains("denied"), "{text}");
}

#[tokio::test]
async fn store_source_round_trips_through_local_secret_store() {
    keyed_config!(Cfg, "StoreRoundTrip");
    let dir = tempfile::tempdir().unwrap();
    let store = harmony_secret::LocalFileSecretStore::new(dir.path());
    let source = Arc::new(StoreSource::new("team", store));
    let manager = ConfigManager::new(vec![source.clone()]);
    let value = Cfg {
        host: "shared".into(),
        port: 7,
    };
    manager.set(&value).await.unwrap();
    let got = manager.get_with_source::<Cfg>().await.unwrap();
    assert_eq!(got.value, value);
    match &got.source {
        Provenance::Store {
            store,
            namespace,
            key,
        } => {
            assert!(store.contains(&dir.path().display().to_string()), "{store}");
            assert_eq!(
                (namespace.as_str(), key.as_str()),
                ("team", "StoreRoundTrip")
            );
        }
        other => panic!("expected the store, got {other:?}"),
    }
    assert!(
        got.source.to_string().contains("team/StoreRoundTrip"),
        "{}",
        got.source
    );
    assert_eq!(manager.reset::<Cfg>().await.unwrap().len(), 1);
    assert!(manager.get::<Cfg>().await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn local_file_source_round_trip_with_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let files = LocalFileSource::new(dir.path().join("cfg"));
    files.set("FileKey", &json!({"a": 1})).await.unwrap();
    assert_eq!(files.get("FileKey").await.unwrap(), Some(json!({"a": 1})));
    let path = files.path_for("FileKey").unwrap();
    assert_eq!(path, dir.path().join("cfg/FileKey.json"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(files.delete("FileKey").await.unwrap());
    assert_eq!(files.get("FileKey").await.unwrap(), None);
    // Every key that could leave the folder is refused, for reading and writing.
    for bad in [
        "",
        ".",
        "..",
        "../escape",
        "a/b",
        "/etc/passwd",
        "a\\b",
        "a\0b",
    ] {
        assert!(files.path_for(bad).is_err(), "{bad:?}");
        assert!(files.get(bad).await.is_err(), "{bad:?}");
        assert!(files.set(bad, &json!(1)).await.is_err(), "{bad:?}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("cfg")],
        "nothing written beside the folder"
    );
}

#[tokio::test]
async fn local_file_source_keeps_the_io_error_as_source() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the folder should be: writing cannot create `{key}.json` below it.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"").unwrap();
    let files = LocalFileSource::new(&blocker);
    let err = files.set("FileKey", &json!({"a": 1})).await.unwrap_err();
    assert!(matches!(err, ConfigError::Source { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("`FileKey`"), "{text}");
    assert!(text.contains(&blocker.display().to_string()), "{text}");
    let io = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .unwrap_or_else(|| panic!("the io::Error is the source: {err:?}"));
    assert!(
        text.contains(&io.to_string()),
        "the cause is in the message: {text}"
    );

    // A key that cannot be a file name has no cause below it.
    let err = files.get("../escape").await.unwrap_err();
    assert!(matches!(err, ConfigError::Source { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_none(), "{err:?}");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Config)]
#[config(key = "SecretShape")]
struct SecretShape {
    user: String,
    #[config(secret)]
    password: u32,
}

#[tokio::test]
async fn secret_value_never_appears_in_errors_or_debug() {
    let (_d, sqlite) = temp_sqlite().await;
    // A stored value of the wrong type: serde would normally quote it in its message.
    sqlite
        .set(
            "SecretShape",
            &json!({"user": "u", "password": "hunter2-topsecret"}),
        )
        .await
        .unwrap();
    let manager = ConfigManager::new(vec![sqlite.clone() as Arc<dyn ConfigSource>]);
    let err = manager.get::<SecretShape>().await.unwrap_err();
    let display = err.to_string();
    let debug = format!("{err:?}");
    assert!(display.contains("SecretShape"), "{display}");
    assert!(
        display.contains("invalid type: string, expected u32"),
        "{display}"
    );
    for text in [&display, &debug] {
        assert!(!text.contains("hunter2"), "secret leaked: {text}");
    }

    // Sourced<T> Debug shows where a value came from, not the value.
    sqlite
        .set("SecretShape", &json!({"user": "u", "password": 424242}))
        .await
        .unwrap();
    let sourced = manager.get_with_source::<SecretShape>().await.unwrap();
    assert_eq!(sourced.value.password, 424242);
    let debug = format!("{sourced:?}");
    assert!(!debug.contains("424242"), "{debug}");
    assert!(debug.contains(&sqlite.name()), "{debug}");
}

#[tokio::test]
async fn sqlite_source_name_is_human_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.db");
    let sqlite = SqliteSource::open(&path).await.unwrap();
    assert_eq!(sqlite.name(), format!("SQLite database {}", path.display()));
    assert_eq!(
        EnvSource.location("AppConfig"),
        "environment variable HARMONY_CONFIG_AppConfig"
    );
}

/// Each built-in source reports a typed provenance, and `Sourced::source` carries it for values
/// read from a local file (env, SQLite, store and prompt are checked in the tests above).
#[tokio::test]
async fn sources_report_typed_provenance() {
    keyed_config!(Cfg, "TypedProvenance");
    let dir = tempfile::tempdir().unwrap();
    let files = LocalFileSource::new(dir.path().join("files"));
    let file = dir.path().join("files").join("TypedProvenance.json");
    assert_eq!(
        files.provenance("TypedProvenance"),
        Provenance::File { path: file.clone() }
    );
    assert_eq!(
        files.location("TypedProvenance"),
        format!("local file {}", file.display())
    );
    assert_eq!(
        EnvSource.provenance("TypedProvenance"),
        Provenance::Env {
            var: "HARMONY_CONFIG_TypedProvenance".into()
        }
    );
    assert_eq!(
        PromptSource::new().provenance("TypedProvenance"),
        Provenance::Prompt
    );

    let manager = ConfigManager::new(vec![arc(EnvSource), arc(files)]);
    let value = Cfg {
        host: "on-disk".into(),
        port: 4,
    };
    assert_eq!(
        manager.set(&value).await.unwrap(),
        Provenance::File { path: file.clone() }
    );
    assert!(file.exists());
    let got = manager.get_with_source::<Cfg>().await.unwrap();
    assert_eq!(got.value, value);
    assert!(
        matches!(&got.source, Provenance::File { path } if *path == file),
        "{:?}",
        got.source
    );
}

#[tokio::test]
async fn prompted_answers_go_to_the_next_persisting_source_while_the_store_is_down() {
    keyed_config!(Cfg, "StoreDownAnswers");
    let (_d, sqlite) = temp_sqlite().await;
    let (_prompter, prompt) = prompt_answering("h-down", "9001");
    let manager = ConfigManager::new(vec![
        arc(EnvSource),
        arc(StoreSource::new("harmony", FailingStore::new(unreachable))),
        sqlite.clone(),
        prompt,
    ]);

    let got = manager.get_or_prompt_with_source::<Cfg>().await.unwrap();
    assert_eq!(got.value.host, "h-down");
    assert_eq!(
        got.source,
        Provenance::Prompted {
            asked_by: Box::new(Provenance::Prompt),
            saved_to: Some(Box::new(in_sqlite(&sqlite))),
        }
    );
    assert!(
        got.source.to_string().ends_with(&sqlite.name()),
        "{}",
        got.source
    );
    let stored = sqlite.get("StoreDownAnswers").await.unwrap().unwrap();
    assert_eq!(stored["port"], 9001);
}

/// Secret answers typed while the store is down: the provenance says whether the person let
/// them be saved locally (`saved_to: Some(SQLite)`) or not (`saved_to: None`, nothing stored).
#[tokio::test]
async fn prompted_provenance_says_whether_secret_answers_were_saved() {
    for agree in [false, true] {
        let (_d, sqlite) = temp_sqlite().await;
        let prompter = Arc::new(ScriptedPrompter::new([
            Answer::Text("u".into()),
            Answer::Text("1234".into()),
            Answer::Bool(agree),
        ]));
        let manager = ConfigManager::new(vec![
            arc(StoreSource::new("harmony", FailingStore::new(unreachable))),
            sqlite.clone(),
            arc(PromptSource::with_prompter(prompter.clone())),
        ]);
        let got = manager
            .get_or_prompt_with_source::<SecretShape>()
            .await
            .unwrap();
        assert_eq!(got.value.password, 1234);
        assert_eq!(prompter.remaining(), 0, "the save question was asked");
        let saved_to = agree.then(|| Box::new(in_sqlite(&sqlite)));
        assert_eq!(
            got.source,
            Provenance::Prompted {
                asked_by: Box::new(Provenance::Prompt),
                saved_to,
            }
        );
        assert_eq!(
            sqlite.get("SecretShape").await.unwrap().is_some(),
            agree,
            "{}",
            got.source
        );
    }
}

#[tokio::test]
async fn prompted_answers_refused_by_the_store_fail_saying_they_were_not_saved() {
    keyed_config!(Cfg, "StoreDeniedAnswers");
    let (_d, sqlite) = temp_sqlite().await;
    let (_prompter, prompt) = prompt_answering("h-denied", "9002");
    let store = StoreSource::new("harmony", ReadOnlyStore);
    let store_location = store.location("StoreDeniedAnswers");
    let manager = ConfigManager::new(vec![arc(store), sqlite.clone(), prompt]);

    let err = manager.get_or_prompt::<Cfg>().await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConfigError::AnswersNotSaved { .. }), "{text}");
    assert!(text.contains("NOT saved"), "{text}");
    assert!(text.contains(&store_location), "{text}");
    assert!(text.contains("denied"), "{text}");
    assert!(!text.contains("h-denied"), "no answer in the error: {text}");
    assert_eq!(sqlite.get("StoreDeniedAnswers").await.unwrap(), None);
}

/// A store that has no keys and refuses every write.
struct ReadOnlyStore;

#[async_trait::async_trait]
impl harmony_secret::SecretStore for ReadOnlyStore {
    fn describe(&self) -> String {
        "OpenBao at http://127.0.0.1:1 (kv mount \"secret\")".to_string()
    }
    async fn get_json(
        &self,
        ns: &str,
        key: &str,
    ) -> Result<serde_json::Value, harmony_secret::SecretStoreError> {
        Err(harmony_secret::SecretStoreError::NotFound {
            store: self.describe(),
            namespace: ns.into(),
            key: key.into(),
        })
    }
    async fn set_json(
        &self,
        ns: &str,
        key: &str,
        _: &serde_json::Value,
    ) -> Result<(), harmony_secret::SecretStoreError> {
        Err(harmony_secret::SecretStoreError::PermissionDenied {
            store: self.describe(),
            path: format!("secret/data/{ns}/{key}"),
        })
    }
    async fn delete(&self, _: &str, _: &str) -> Result<(), harmony_secret::SecretStoreError> {
        Ok(())
    }
}
