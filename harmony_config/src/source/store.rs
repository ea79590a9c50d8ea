//! [`StoreSource`]: a [`SecretStore`] (OpenBao, local secret files, ...) as a link of the chain.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use harmony_secret::{SecretStore, SecretStoreError};
use serde_json::Value;

use crate::source::Lookup;
use crate::{ConfigError, ConfigSource, Provenance};

/// Reads and writes `namespace/key` in a secret store.
///
/// - a missing key is `Ok(None)`: the chain goes on;
/// - an unreachable or sealed store is also `Ok(None)` from `get` (one `log::warn!` per outage
///   naming the store and the reason); [`ConfigSource::lookup`] reports it as
///   [`Lookup::Unavailable`], so the manager can tell the person (see [`crate::ConfigManager`]);
/// - any other failure (permission denied, bad credentials, bad data) is an error naming the key
///   and the store.
pub struct StoreSource<S: SecretStore> {
    namespace: String,
    store: S,
    outage_reported: AtomicBool,
}

impl<S: SecretStore> StoreSource<S> {
    /// Keeps values under `namespace/` in `store`.
    pub fn new(namespace: impl Into<String>, store: S) -> Self {
        Self {
            namespace: namespace.into(),
            store,
            outage_reported: AtomicBool::new(false),
        }
    }

    /// The namespace (path prefix) values are kept under.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The secret store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn store_error(&self, key: &str, source: SecretStoreError) -> ConfigError {
        ConfigError::Store {
            key: format!("{}/{key}", self.namespace),
            store: self.store.describe(),
            source: Box::new(source),
        }
    }

    fn reachable(&self) {
        if self.outage_reported.swap(false, Ordering::Relaxed) {
            log::info!("{} is reachable again", self.store.describe());
        }
    }
}

impl<S: SecretStore> std::fmt::Debug for StoreSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSource")
            .field("namespace", &self.namespace)
            .field("store", &self.store.describe())
            .finish()
    }
}

#[async_trait]
impl<S: SecretStore> ConfigSource for StoreSource<S> {
    fn name(&self) -> String {
        format!("{} (namespace `{}`)", self.store.describe(), self.namespace)
    }

    fn location(&self, key: &str) -> String {
        self.provenance(key).to_string()
    }

    fn provenance(&self, key: &str) -> Provenance {
        Provenance::Store {
            store: self.store.describe(),
            namespace: self.namespace.clone(),
            key: key.to_string(),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Value>, ConfigError> {
        Ok(match self.lookup(key).await? {
            Lookup::Found(value) => Some(value),
            Lookup::Missing | Lookup::Unavailable(_) => None,
        })
    }

    async fn lookup(&self, key: &str) -> Result<Lookup, ConfigError> {
        match self.store.get_json(&self.namespace, key).await {
            Ok(value) => {
                self.reachable();
                Ok(Lookup::Found(value))
            }
            Err(e) if e.is_not_found() => {
                self.reachable();
                Ok(Lookup::Missing)
            }
            Err(e) if e.is_unavailable() => {
                if !self.outage_reported.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "skipping {} while reading `{}/{key}`: {e}. Falling back to the next \
                         configuration source",
                        self.store.describe(),
                        self.namespace
                    );
                }
                Ok(Lookup::Unavailable(e.to_string()))
            }
            Err(e) => Err(self.store_error(key, e)),
        }
    }

    async fn set(&self, key: &str, value: &Value) -> Result<(), ConfigError> {
        self.store
            .set_json(&self.namespace, key, value)
            .await
            .map_err(|e| self.store_error(key, e))?;
        self.reachable();
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, ConfigError> {
        let existed = match self.store.get_json(&self.namespace, key).await {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(self.store_error(key, e)),
        };
        self.store
            .delete(&self.namespace, key)
            .await
            .map_err(|e| self.store_error(key, e))?;
        Ok(existed)
    }
}
