//! Interactive configuration: the first run asks for every field (validated, with the doc
//! comments as help; the token is typed hidden) and saves the answers to SQLite; the next run
//! reads them back without asking.
//!
//! ```sh
//! cargo run -p harmony_config --example prompting            # asks, then saves
//! cargo run -p harmony_config --example prompting            # reads back, no questions
//! cargo run -p harmony_config --example prompting -- --reset # forget the saved answers
//! HARMONY_CONFIG_PromptingDemo='{"host":"h","port":1,"environment":"Dev","tls":false,"api_token":"t"}' \
//!   cargo run -p harmony_config --example prompting           # env wins, no questions
//! OPENBAO_URL=http://127.0.0.1:8200 OPENBAO_TOKEN=... \
//!   cargo run -p harmony_config --example prompting           # team store first (see below)
//! ```
//!
//! With `OPENBAO_URL` set, OpenBao comes between the environment and SQLite. When it is down,
//! the prompt says so before the first question, and the answers (which hold a secret) are saved
//! to SQLite only if you agree.

use std::sync::Arc;

use harmony_config::{
    Config, ConfigManager, ConfigSource, EnvSource, PromptSource, SqliteSource, StoreSource,
};
use harmony_secret::OpenbaoSecretStore;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the service runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
enum Environment {
    /// A developer laptop.
    Dev,
    /// Shared staging cluster.
    Staging,
    /// Production.
    Prod,
}

/// Connection settings of the demo service. No defaults: everything is asked.
#[derive(Clone, Serialize, Deserialize, JsonSchema, Config)]
#[config(key = "PromptingDemo")]
struct ServiceConfig {
    /// Host name of the service.
    host: String,
    /// TCP port (1-65535).
    port: u16,
    /// Deployment environment.
    environment: Environment,
    /// Connect with TLS?
    tls: bool,
    /// API token; typed hidden and never printed.
    #[config(secret)]
    api_token: String,
    /// A display name (optional).
    nickname: Option<String>,
}

#[tokio::main]
async fn main() {
    env_logger::init();
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), harmony_config::ConfigError> {
    let key = ServiceConfig::KEY;
    let db = SqliteSource::default_path()?;
    let team = if std::env::var_os("OPENBAO_URL").is_some() {
        let store = OpenbaoSecretStore::from_env().await.map_err(|e| {
            harmony_config::ConfigError::Source {
                key: key.to_string(),
                source_name: "OpenBao".to_string(),
                message: e.to_string(),
                source: Some(Box::new(e)),
            }
        })?;
        let team = StoreSource::new("harmony", store);
        let sources: Vec<Arc<dyn ConfigSource>> = vec![
            Arc::new(EnvSource),
            Arc::new(team),
            Arc::new(SqliteSource::default().await?),
            Arc::new(PromptSource::new()),
        ];
        let manager = ConfigManager::new(sources);
        let name = manager.sources()[1].name();
        harmony_config::init(manager)?;
        Some(name)
    } else {
        None
    };
    println!("Resolution chain for `{key}`:");
    println!(
        "  1. environment variable {}",
        harmony_config::env_var_name(key)
    );
    let mut n = 2;
    if let Some(team) = &team {
        println!("  2. {team}");
        n = 3;
    }
    println!("  {n}. SQLite database {}", db.display());
    println!("  {}. interactive prompt (saves to 2)", n + 1);

    if std::env::args().any(|a| a == "--reset") {
        let removed = harmony_config::reset::<ServiceConfig>().await?;
        let removed: Vec<String> = removed.iter().map(ToString::to_string).collect();
        println!("Removed `{key}` from: {removed:?}");
        return Ok(());
    }

    // get() never prompts: it tells whether a value is already known.
    match harmony_config::get::<ServiceConfig>().await {
        Ok(_) => println!("get(): a value is already stored; no questions needed."),
        Err(e) if e.is_not_found() => println!("get(): nothing stored yet, asking."),
        Err(e) => return Err(e),
    }

    let got = harmony_config::get_or_prompt_with_source::<ServiceConfig>().await?;
    let c = &got.value;
    println!();
    println!("host:        {}", c.host);
    println!("port:        {}", c.port);
    println!("environment: {:?}", c.environment);
    println!("tls:         {}", c.tls);
    println!(
        "api_token:   (set, {} characters, hidden)",
        c.api_token.chars().count()
    );
    println!("nickname:    {}", c.nickname.as_deref().unwrap_or("(none)"));
    println!("Values came from: {}", got.source);
    if matches!(got.source, harmony_config::Provenance::Prompted { .. }) {
        println!("Run again: nothing will be asked.");
    }
    Ok(())
}
