//! [`SecretManager`]: the older facade, typed values in one namespace of one store chosen by env.
//!
//! New code should prefer `harmony_config::ConfigManager` (which layers env, SQLite and a store).

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{LocalFileSecretStore, SecretStore, SecretStoreError};

/// The namespace used when neither `HARMONY_CONFIG_NAMESPACE` nor `HARMONY_SECRET_NAMESPACE` is set.
pub const DEFAULT_NAMESPACE: &str = "harmony";

/// [`SecretManager::namespace_from_env`] over any variable lookup: the first non-blank of
/// `HARMONY_CONFIG_NAMESPACE`, `HARMONY_SECRET_NAMESPACE`, else [`DEFAULT_NAMESPACE`].
fn namespace_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> String {
    ["HARMONY_CONFIG_NAMESPACE", "HARMONY_SECRET_NAMESPACE"]
        .iter()
        .find_map(|k| lookup(k).filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// Typed get/set of secrets in one namespace.
///
/// [`SecretManager::from_env`] picks the store with `HARMONY_SECRET_STORE` (`file`, the default,
/// or `openbao`, configured by `OpenbaoSecretStore::from_env`; that needs the `openbao` feature)
/// and the namespace with `HARMONY_CONFIG_NAMESPACE`, falling back to the legacy
/// `HARMONY_SECRET_NAMESPACE`, then [`DEFAULT_NAMESPACE`]. It never panics on a missing variable.
#[derive(Clone)]
pub struct SecretManager {
    store: Arc<dyn SecretStore>,
    namespace: String,
}

impl std::fmt::Debug for SecretManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretManager")
            .field("store", &self.store.describe())
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl SecretManager {
    /// Typed values in `namespace` of `store`.
    pub fn new(store: Arc<dyn SecretStore>, namespace: impl Into<String>) -> Self {
        SecretManager {
            store,
            namespace: namespace.into(),
        }
    }

    /// The namespace from the environment (see the type's docs).
    pub fn namespace_from_env() -> String {
        namespace_from_lookup(|k| std::env::var(k).ok())
    }

    /// Store and namespace from the environment.
    pub async fn from_env() -> Result<Self, SecretStoreError> {
        let kind = std::env::var("HARMONY_SECRET_STORE").unwrap_or_default();
        let store: Arc<dyn SecretStore> = match kind.trim().to_ascii_lowercase().as_str() {
            "" | "file" => Arc::new(LocalFileSecretStore::default_location()?),
            #[cfg(feature = "openbao")]
            "openbao" | "vault" => Arc::new(crate::OpenbaoSecretStore::from_env().await?),
            #[cfg(not(feature = "openbao"))]
            "openbao" | "vault" => {
                return Err(SecretStoreError::Config {
                    store: "SecretManager".to_string(),
                    source: None,
                    message: format!(
                        "HARMONY_SECRET_STORE=`{kind}` needs harmony_secret built with its \
                         `openbao` feature (on by default): enable it, or use `file`"
                    ),
                });
            }
            other => {
                return Err(SecretStoreError::Config {
                    store: "SecretManager".to_string(),
                    source: None,
                    message: format!(
                        "HARMONY_SECRET_STORE=`{other}` is not a store: use `file` or `openbao`"
                    ),
                });
            }
        };
        Ok(Self::new(store, Self::namespace_from_env()))
    }

    /// The namespace values are read from and written to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn SecretStore> {
        &self.store
    }

    /// Reads and deserializes `key`.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, SecretStoreError> {
        let value = self.store.get_json(&self.namespace, key).await?;
        serde_json::from_value(value).map_err(|e| SecretStoreError::InvalidData {
            store: self.store.describe(),
            namespace: self.namespace.clone(),
            key: key.to_string(),
            reason: format!(
                "does not match the expected type: {}",
                crate::redact::serde_error_message(&e)
            ),
        })
    }

    /// Serializes and stores `value` under `key`.
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), SecretStoreError> {
        let json = serde_json::to_value(value).map_err(|e| SecretStoreError::InvalidData {
            store: self.store.describe(),
            namespace: self.namespace.clone(),
            key: key.to_string(),
            reason: format!(
                "cannot be serialized to JSON: {}",
                crate::redact::serde_error_message(&e)
            ),
        })?;
        self.store.set_json(&self.namespace, key, &json).await
    }

    /// Deletes `key` from the namespace.
    pub async fn delete(&self, key: &str) -> Result<(), SecretStoreError> {
        self.store.delete(&self.namespace, key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Creds {
        user: String,
        password: String,
    }

    #[tokio::test]
    async fn typed_round_trip_on_files() {
        let tmp = tempfile::tempdir().unwrap();
        let m = SecretManager::new(Arc::new(LocalFileSecretStore::new(tmp.path())), "team");
        let c = Creds {
            user: "u".into(),
            password: "p".into(),
        };
        m.set("Creds", &c).await.unwrap();
        assert_eq!(m.get::<Creds>("Creds").await.unwrap(), c);
        let e = m.get::<u32>("Creds").await.unwrap_err();
        assert!(matches!(e, SecretStoreError::InvalidData { .. }));
        assert!(m.get::<Creds>("Missing").await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn wrong_typed_secret_value_is_not_in_the_error() {
        let tmp = tempfile::tempdir().unwrap();
        let m = SecretManager::new(Arc::new(LocalFileSecretStore::new(tmp.path())), "team");
        m.set("Pin", "s3cret-value").await.unwrap();
        let e = m.get::<u32>("Pin").await.unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(matches!(e, SecretStoreError::InvalidData { .. }), "{text}");
        assert!(!text.contains("s3cret-value"), "secret leaked: {text}");
        assert!(text.contains("team/Pin"), "the error names the key: {text}");
        assert!(
            text.contains("expected u32"),
            "the error says what was expected: {text}"
        );
    }

    #[test]
    fn namespace_prefers_config_then_legacy_then_default() {
        let cases: [(Option<&str>, Option<&str>, &str); 7] = [
            (Some("cfg"), Some("legacy"), "cfg"),
            (Some("cfg"), None, "cfg"),
            (None, Some("legacy"), "legacy"),
            (None, None, DEFAULT_NAMESPACE),
            (Some("  "), Some("legacy"), "legacy"),
            (Some(""), None, DEFAULT_NAMESPACE),
            (None, Some(" "), DEFAULT_NAMESPACE),
        ];
        for (config, legacy, want) in cases {
            let got = namespace_from_lookup(|k| match k {
                "HARMONY_CONFIG_NAMESPACE" => config.map(str::to_string),
                "HARMONY_SECRET_NAMESPACE" => legacy.map(str::to_string),
                other => panic!("unexpected variable {other}"),
            });
            assert_eq!(got, want, "config={config:?} legacy={legacy:?}");
        }
        assert_eq!(DEFAULT_NAMESPACE, "harmony");
    }
}
