//! The process-wide [`ConfigManager`] behind [`crate::get`], [`crate::set`] and friends.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::{
    Config, ConfigError, ConfigManager, ConfigSource, EnvSource, PromptSource, Provenance, Sourced,
    SqliteSource,
};

static GLOBAL: OnceCell<ConfigManager> = OnceCell::const_new();

/// Installs `manager` as the global one. Call it once, before the first [`get`]/[`set`];
/// afterwards it fails with [`ConfigError::AlreadyInitialized`] rather than being ignored.
pub fn init(manager: ConfigManager) -> Result<(), ConfigError> {
    GLOBAL
        .set(manager)
        .map_err(|_| ConfigError::AlreadyInitialized)
}

/// The chain used when [`init`] was not called: environment variables, then the per-user SQLite
/// database ([`SqliteSource::default`]), then an interactive prompt.
pub async fn default_manager() -> Result<ConfigManager, ConfigError> {
    let sqlite = SqliteSource::default().await?;
    let sources: Vec<Arc<dyn ConfigSource>> = vec![
        Arc::new(EnvSource),
        Arc::new(sqlite),
        Arc::new(PromptSource::new()),
    ];
    Ok(ConfigManager::new(sources))
}

/// The global manager, building the default chain on first use.
pub async fn manager() -> Result<&'static ConfigManager, ConfigError> {
    GLOBAL.get_or_try_init(default_manager).await
}

/// [`ConfigManager::get`] on the global manager.
pub async fn get<T: Config>() -> Result<T, ConfigError> {
    manager().await?.get::<T>().await
}

/// [`ConfigManager::get_with_source`] on the global manager.
pub async fn get_with_source<T: Config>() -> Result<Sourced<T>, ConfigError> {
    manager().await?.get_with_source::<T>().await
}

/// [`ConfigManager::get_or_prompt`] on the global manager.
pub async fn get_or_prompt<T: Config>() -> Result<T, ConfigError> {
    manager().await?.get_or_prompt::<T>().await
}

/// [`ConfigManager::get_or_prompt_with_source`] on the global manager.
pub async fn get_or_prompt_with_source<T: Config>() -> Result<Sourced<T>, ConfigError> {
    manager().await?.get_or_prompt_with_source::<T>().await
}

/// [`ConfigManager::set`] on the global manager.
pub async fn set<T: Config>(value: &T) -> Result<Provenance, ConfigError> {
    manager().await?.set(value).await
}

/// [`ConfigManager::reset`] on the global manager.
pub async fn reset<T: Config>() -> Result<Vec<Provenance>, ConfigError> {
    manager().await?.reset::<T>().await
}
