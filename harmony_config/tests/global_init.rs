//! `harmony_config::init` installs the manager the global functions use.

use std::sync::Arc;

use harmony_config::{Config, ConfigManager, ConfigSource, LocalFileSource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Config)]
struct InitCfg {
    port: u16,
}

#[tokio::test]
async fn init_before_use_replaces_the_default_chain() {
    let dir = tempfile::tempdir().unwrap();
    let files: Arc<dyn ConfigSource> = Arc::new(LocalFileSource::new(dir.path()));
    harmony_config::init(ConfigManager::new(vec![files])).unwrap();

    harmony_config::set(&InitCfg { port: 8443 }).await.unwrap();
    assert!(dir.path().join("InitCfg.json").exists());
    assert_eq!(harmony_config::get::<InitCfg>().await.unwrap().port, 8443);

    let again = harmony_config::init(ConfigManager::new(vec![]));
    assert!(again.is_err(), "a second init must fail");
}
