//! The zero-setup path: derive a config, store it in the per-user SQLite database, read it back,
//! override it with an environment variable, and check that it persists.
//!
//! ```sh
//! cargo run -p harmony_config --example basic
//! HOME=$(mktemp -d) cargo run -p harmony_config --example basic   # on a fresh machine
//! ```

use std::process::Command;

use harmony_config::{Config, ConfigManager, ConfigSource, EnvSource, SqliteSource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where the example service lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Config)]
struct TestConfig {
    /// Host name or IP address.
    host: String,
    /// TCP port.
    port: u16,
}

const CHILD_FLAG: &str = "--show-resolved";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();

    if std::env::args().any(|a| a == CHILD_FLAG) {
        // Run by step 3 below with HARMONY_CONFIG_TestConfig set.
        let got = harmony_config::get_with_source::<TestConfig>().await?;
        println!("   child process resolved {:?}", got.value);
        println!("   from {}", got.source);
        return Ok(());
    }

    let db = SqliteSource::default_path()?;
    println!("harmony_config basic example");
    println!(
        "Key: {}  (env override: {})",
        TestConfig::KEY,
        harmony_config::env_var_name(TestConfig::KEY)
    );
    println!("SQLite database: {}", db.display());
    println!();

    // 1. Store a value. The global functions use the default chain (env, SQLite, prompt); the
    //    database and its folder are created on first use.
    let value = TestConfig {
        host: "db.example.com".to_string(),
        port: 5432,
    };
    let saved_to = harmony_config::set(&value).await?;
    println!("1. set {value:?}");
    println!("   stored in {saved_to}");

    // 2. Read it back, with provenance.
    let got = harmony_config::get_with_source::<TestConfig>().await?;
    println!("2. get -> {:?}", got.value);
    println!("   from {}", got.source);
    assert_eq!(got.value, value);

    // 3. An environment variable wins over SQLite. Shown in a child process so this one never
    //    has to modify its own environment.
    let override_json = r#"{"host":"override.example.com","port":9090}"#;
    println!(
        "3. with {}='{override_json}':",
        harmony_config::env_var_name(TestConfig::KEY)
    );
    let status = Command::new(std::env::current_exe()?)
        .arg(CHILD_FLAG)
        .env(harmony_config::env_var_name(TestConfig::KEY), override_json)
        .status()?;
    if !status.success() {
        return Err("the env override child process failed".into());
    }

    // 4. Persistence: a brand-new chain on the same database (what the next run of a program
    //    sees) still has the value; the env override was not written anywhere.
    let sources: Vec<Arc<dyn ConfigSource>> = vec![
        Arc::new(EnvSource),
        Arc::new(SqliteSource::open(&db).await?),
    ];
    let fresh = ConfigManager::new(sources)
        .get_with_source::<TestConfig>()
        .await?;
    println!("4. fresh manager -> {:?}", fresh.value);
    println!("   from {}", fresh.source);
    assert_eq!(
        fresh.value, value,
        "the value persisted, unchanged by the override"
    );

    println!();
    println!("OK: stored, read back, overridden by env, persisted.");
    println!(
        "Inspect or reset with: cargo run -q -p harmony_config_cli -- where {key} | reset {key}  (database: {})",
        db.display(),
        key = TestConfig::KEY
    );
    Ok(())
}
