//! The [`SecretStore`] trait and its implementations.

pub mod local_file;
#[cfg(feature = "openbao")]
pub mod openbao;
/// The OIDC device flow moved to [`crate::auth::oidc`]; this path stays for existing imports.
#[cfg(feature = "openbao")]
pub use crate::auth::oidc as zitadel;

use std::sync::Arc;

use async_trait::async_trait;

use crate::SecretStoreError;

/// A place that keeps JSON values under `namespace/key`.
///
/// Implementations must be cheap to call repeatedly (cache sessions, reuse HTTP clients) and
/// must map their failures onto [`SecretStoreError`] so callers can tell "absent" from "down".
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// A short human-readable description for logs and errors, e.g.
    /// `OpenBao at http://127.0.0.1:8200 (kv mount "secret")`. Never contains credentials.
    fn describe(&self) -> String;

    /// Reads the value stored under `namespace/key`; [`SecretStoreError::NotFound`] when absent.
    async fn get_json(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<serde_json::Value, SecretStoreError>;

    /// Creates or replaces the value stored under `namespace/key`.
    async fn set_json(
        &self,
        namespace: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), SecretStoreError>;

    /// Removes `namespace/key`. Removing an absent key is not an error.
    async fn delete(&self, namespace: &str, key: &str) -> Result<(), SecretStoreError>;
}

#[async_trait]
impl<S: SecretStore + ?Sized> SecretStore for Arc<S> {
    fn describe(&self) -> String {
        (**self).describe()
    }

    async fn get_json(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<serde_json::Value, SecretStoreError> {
        (**self).get_json(namespace, key).await
    }

    async fn set_json(
        &self,
        namespace: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), SecretStoreError> {
        (**self).set_json(namespace, key, value).await
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<(), SecretStoreError> {
        (**self).delete(namespace, key).await
    }
}
