//! [`LocalFileSecretStore`]: one JSON file per key, zero setup.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::private_file::{
    PLAIN_FILE_NAME_RULE, is_plain_file_name, read_if_exists, write_private_atomic,
};
use crate::{SecretStore, SecretStoreError};

/// Keeps each value in `{root}/{namespace}/{key}.json` (0600 files in 0700 folders).
///
/// The default root is the Harmony data folder (`~/.local/share/harmony/secrets` on Linux).
#[derive(Debug, Clone)]
pub struct LocalFileSecretStore {
    root: PathBuf,
}

impl LocalFileSecretStore {
    /// A store rooted at `root`; the folder is created on first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// A store rooted at the Harmony data folder: `~/.local/share/harmony/secrets` on Linux.
    pub fn default_location() -> Result<Self, SecretStoreError> {
        let dir = crate::data_dir::harmony_data_dir().ok_or_else(|| {
            SecretStoreError::Config {
                store: "local secret files".to_string(),
                source: None,
                message: "no home folder found: set HOME, or build the store with LocalFileSecretStore::new(path)"
                    .to_string(),
            }
        })?;
        Ok(Self::new(dir.join("secrets")))
    }

    /// The folder holding the namespaces (one sub-folder each).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_for(&self, namespace: &str, key: &str) -> Result<PathBuf, SecretStoreError> {
        for (what, part) in [("namespace", namespace), ("key", key)] {
            if !is_plain_file_name(part) {
                return Err(SecretStoreError::InvalidData {
                    store: self.describe(),
                    namespace: namespace.to_string(),
                    key: key.to_string(),
                    reason: format!(
                        "the {what} `{part}` cannot be used as a file name: {PLAIN_FILE_NAME_RULE}"
                    ),
                });
            }
        }
        Ok(self.root.join(namespace).join(format!("{key}.json")))
    }

    fn io_error(&self, path: &Path, source: std::io::Error) -> SecretStoreError {
        SecretStoreError::Io {
            store: self.describe(),
            path: path.to_path_buf(),
            source,
        }
    }
}

#[async_trait]
impl SecretStore for LocalFileSecretStore {
    fn describe(&self) -> String {
        format!("local secret files in {}", self.root.display())
    }

    async fn get_json(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<serde_json::Value, SecretStoreError> {
        let path = self.path_for(namespace, key)?;
        let bytes = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || read_if_exists(&path))
                .await
                .expect("file read task panicked")
        }
        .map_err(|e| self.io_error(&path, e))?;
        let Some(bytes) = bytes else {
            return Err(SecretStoreError::NotFound {
                store: self.describe(),
                namespace: namespace.to_string(),
                key: key.to_string(),
            });
        };
        serde_json::from_slice(&bytes).map_err(|e| SecretStoreError::InvalidData {
            store: self.describe(),
            namespace: namespace.to_string(),
            key: key.to_string(),
            reason: format!(
                "{} is not valid JSON ({e}); fix or delete the file",
                path.display()
            ),
        })
    }

    async fn set_json(
        &self,
        namespace: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<(), SecretStoreError> {
        let path = self.path_for(namespace, key)?;
        let bytes = serde_json::to_vec_pretty(value).expect("a JSON value always serializes");
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_private_atomic(&target, &bytes))
            .await
            .expect("file write task panicked")
            .map_err(|e| self.io_error(&path, e))
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<(), SecretStoreError> {
        let path = self.path_for(namespace, key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io_error(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn round_trip_and_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalFileSecretStore::new(tmp.path());
        store
            .set_json("team", "Db", &json!({"password": "one"}))
            .await
            .unwrap();
        store
            .set_json("team", "Db", &json!({"password": "two"}))
            .await
            .unwrap();
        assert_eq!(
            store.get_json("team", "Db").await.unwrap(),
            json!({"password": "two"})
        );
        let mode = std::fs::metadata(tmp.path().join("team/Db.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn missing_key_is_not_found_naming_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalFileSecretStore::new(tmp.path());
        let err = store.get_json("team", "Absent").await.unwrap_err();
        assert!(err.is_not_found());
        assert!(err.to_string().contains("team/Absent"), "{err}");
    }

    #[tokio::test]
    async fn delete_removes_and_tolerates_absent() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalFileSecretStore::new(tmp.path());
        store.set_json("ns", "K", &json!(1)).await.unwrap();
        store.delete("ns", "K").await.unwrap();
        assert!(store.get_json("ns", "K").await.unwrap_err().is_not_found());
        store.delete("ns", "K").await.unwrap();
    }

    #[tokio::test]
    async fn path_traversal_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalFileSecretStore::new(tmp.path().join("root"));
        let err = store.set_json("..", "passwd", &json!(1)).await.unwrap_err();
        assert!(matches!(err, SecretStoreError::InvalidData { .. }), "{err}");
        assert!(!tmp.path().join("passwd.json").exists());
        // Every form that could leave the folder, as the namespace or as the key.
        for bad in ["", ".", "..", "../x", "a/b", "/etc", "a\\b", "a\0b"] {
            for (ns, key) in [(bad, "k"), ("ns", bad)] {
                let err = store.set_json(ns, key, &json!(1)).await.unwrap_err();
                assert!(matches!(err, SecretStoreError::InvalidData { .. }), "{err}");
                assert!(store.get_json(ns, key).await.is_err(), "{ns:?}/{key:?}");
            }
        }
        assert!(!tmp.path().join("root").exists(), "nothing was written");
    }

    #[tokio::test]
    async fn corrupt_file_names_the_file_and_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalFileSecretStore::new(tmp.path());
        std::fs::create_dir_all(tmp.path().join("ns")).unwrap();
        std::fs::write(tmp.path().join("ns/K.json"), b"{not json").unwrap();
        let msg = store.get_json("ns", "K").await.unwrap_err().to_string();
        assert!(
            msg.contains("K.json") && msg.contains("delete the file"),
            "{msg}"
        );
    }
}
