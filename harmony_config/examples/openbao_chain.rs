//! Team configuration in OpenBao, with local fallbacks.
//!
//! Chain: Env → StoreSource(OpenBao, namespace `harmony`) → SQLite.
//! - Env first: `HARMONY_CONFIG_AppConfig='{"host":"h","port":1}'` always overrides.
//! - OpenBao before SQLite: team values are shared, so the team copy must win over a stale local
//!   one, and `set` writes to the first persisting source, i.e. to the team. When OpenBao is down
//!   or sealed, `StoreSource` logs one warning and steps aside (within the 2 s request timeout),
//!   and the local SQLite database answers.
//!
//! OpenBao is configured by environment variables (see `OpenbaoSecretStore::from_env`), e.g.
//!
//! ```text
//! OPENBAO_URL=http://127.0.0.1:8200 OPENBAO_TOKEN=... cargo run -p harmony_config --example openbao_chain
//! OPENBAO_URL=... HARMONY_SSO_ISSUER=https://sso.example.com HARMONY_SSO_CLIENT_ID=... \
//!   OPENBAO_JWT_ROLE=harmony-developer cargo run -p harmony_config --example openbao_chain
//! ```
//!
//! Building the store never contacts OpenBao: login happens on first use. With SSO that means the
//! first `get()` may start a sign-in (the OIDC device flow prints an address and a code, like
//! `kubectl` with an exec plugin); the session is cached, so later runs are silent. Without a
//! terminal the device flow refuses (no one would see the code); an IDE run panel can allow it
//! with `HARMONY_SSO_ALLOW_NO_TTY=1` or the builder's `.allow_device_flow_without_terminal(true)`.
//! The only reason to leave the store out of the chain is that it is not configured at all.

use std::sync::Arc;

use harmony_config::{ConfigManager, ConfigSource, EnvSource, SqliteSource, StoreSource};
use harmony_secret::OpenbaoSecretStore;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema, PartialEq)]
struct AppConfig {
    host: String,
    port: u16,
}

impl harmony_config::Config for AppConfig {
    const KEY: &'static str = "AppConfig";
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    env_logger::init();

    let sqlite: Arc<dyn ConfigSource> = Arc::new(SqliteSource::default().await?);
    let mut sources: Vec<Arc<dyn ConfigSource>> = vec![Arc::new(EnvSource)];
    match OpenbaoSecretStore::from_env().await {
        Ok(store) => {
            println!("Team store: {store:?}");
            sources.push(Arc::new(StoreSource::new("harmony", store)));
        }
        // Not configured (e.g. no OPENBAO_URL): a Config error naming the variable, never a panic.
        Err(e) => println!("OpenBao not used: {e}"),
    }
    sources.push(sqlite);
    let manager = ConfigManager::new(sources);

    match manager.get_with_source::<AppConfig>().await {
        Ok(found) => println!("Get (before set): {:?} from {}", found.value, found.source),
        Err(e) => println!("Get (before set): {e}"),
    }

    let config = AppConfig {
        host: "production.example.com".to_string(),
        port: 443,
    };
    let location = match manager.set(&config).await {
        Ok(location) => location,
        Err(e) => {
            // Reads fall back to SQLite, but writes of team values do not: a value saved only
            // locally would silently diverge from the team's.
            eprintln!("Not saved: {e}");
            std::process::exit(1);
        }
    };
    println!("Set: {config:?} in {location}");

    let retrieved = manager.get_with_source::<AppConfig>().await?;
    println!(
        "Get (after set): {:?} from {}",
        retrieved.value, retrieved.source
    );
    assert_eq!(config, retrieved.value);
    println!("End-to-end chain validated!");
    Ok(())
}
