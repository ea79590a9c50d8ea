//! Listing the keys of a namespace, with their last update (for tools such as `harmony-config
//! list`). KV v2: `LIST {mount}/metadata/{namespace}`, then `{mount}/metadata/{namespace}/{key}`
//! for each key's `updated_time`.

use reqwest::Method;
use serde_json::Value;

use super::OpenbaoSecretStore;
use crate::SecretStoreError;

/// A key stored in a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key, within its namespace.
    pub key: String,
    /// When the current version was written (RFC 3339, from KV v2 metadata).
    pub updated_time: Option<String>,
}

impl OpenbaoSecretStore {
    /// The keys directly under `namespace` (sub-folders are skipped), sorted, with their last
    /// update. An empty or missing namespace gives an empty list.
    pub async fn list(&self, namespace: &str) -> Result<Vec<StoredKey>, SecretStoreError> {
        let result = self.list_raw(namespace).await;
        self.inner.refine_sealed(result).await
    }

    async fn list_raw(&self, namespace: &str) -> Result<Vec<StoredKey>, SecretStoreError> {
        let inner = &self.inner;
        inner.check_part(namespace, "list")?;
        let path = format!("{}/metadata/{namespace}", inner.kv_mount);
        let list = Method::from_bytes(b"LIST").expect("LIST is a valid method");
        let (status, v) = inner.call(list, &path, None).await?;
        let keys: Vec<String> = match status {
            200 => v["data"]["keys"]
                .as_array()
                .map(|keys| {
                    keys.iter()
                        .filter_map(Value::as_str)
                        .filter(|k| !k.ends_with('/'))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            404 => Vec::new(),
            other => return Err(inner.status_error(other, &v, &path)),
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let path = format!("{}/metadata/{namespace}/{key}", inner.kv_mount);
            let (status, v) = inner.call(Method::GET, &path, None).await?;
            let updated_time = match status {
                200 => v["data"]["updated_time"].as_str().map(str::to_string),
                404 => continue, // deleted meanwhile
                other => return Err(inner.status_error(other, &v, &path)),
            };
            out.push(StoredKey { key, updated_time });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}
