//! The global manager without `init`: Env -> SQLite (default path) -> Prompt, under a temp HOME.
//! One test per binary: it owns the process-wide manager and HOME.

use harmony_config::{Config, ConfigError, ConfigManager, Provenance};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Config)]
#[config(key = "GlobalDefault")]
struct GlobalDefault {
    host: String,
}

#[tokio::test]
#[allow(
    unsafe_code,
    reason = "the global manager reads HOME and the real environment; this test must set them"
)]
async fn global_manager_builds_default_chain_lazily_and_refuses_late_init() {
    let home = tempfile::tempdir().unwrap();
    // SAFETY: this binary holds a single test; no other thread reads the environment yet.
    unsafe {
        std::env::set_var("HOME", home.path());
        std::env::remove_var("XDG_DATA_HOME");
        std::env::set_var("HARMONY_CONFIG_GlobalDefaultEnv", r#"{"host":"from-env"}"#);
    }

    // Nothing stored: NotFound lists the default chain, and get() does not prompt.
    let err = harmony_config::get::<GlobalDefault>().await.unwrap_err();
    let db = home.path().join(".local/share/harmony/config/config.db");
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains(&db.display().to_string()), "{err}");
    assert!(db.exists(), "the default database is created under HOME");

    // set() persists into the default SQLite database.
    let value = GlobalDefault {
        host: "stored".into(),
    };
    let location = harmony_config::set(&value).await.unwrap();
    assert_eq!(location, Provenance::Sqlite { path: db.clone() });
    assert_eq!(
        location.to_string(),
        format!("SQLite database {}", db.display())
    );
    let got = harmony_config::get_with_source::<GlobalDefault>()
        .await
        .unwrap();
    assert_eq!(got.value, value);
    assert_eq!(got.source, location);

    // Env comes first in the default chain.
    #[derive(Debug, Serialize, Deserialize, JsonSchema, Config)]
    #[config(key = "GlobalDefaultEnv")]
    struct EnvOnly {
        host: String,
    }
    let from_env = harmony_config::get_with_source::<EnvOnly>().await.unwrap();
    assert_eq!(from_env.value.host, "from-env");
    assert_eq!(
        from_env.source,
        Provenance::Env {
            var: "HARMONY_CONFIG_GlobalDefaultEnv".into()
        }
    );
    assert_eq!(
        from_env.source.to_string(),
        "environment variable HARMONY_CONFIG_GlobalDefaultEnv"
    );

    // reset() removes it again.
    assert_eq!(
        harmony_config::reset::<GlobalDefault>().await.unwrap(),
        vec![location]
    );
    assert!(
        harmony_config::get::<GlobalDefault>()
            .await
            .unwrap_err()
            .is_not_found()
    );

    // init after first use is an error, not a silent no-op.
    let late = harmony_config::init(ConfigManager::new(vec![]));
    assert!(
        matches!(late, Err(ConfigError::AlreadyInitialized)),
        "{late:?}"
    );
}
