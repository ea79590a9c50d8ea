//! [`LocalFileSource`]: one `{key}.json` file per value in a folder.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use harmony_secret::private_file::{
    PLAIN_FILE_NAME_RULE, is_plain_file_name, read_if_exists, write_private_atomic,
};
use serde_json::Value;

use crate::{ConfigError, ConfigSource, Provenance};

/// Keeps each value as pretty JSON in `{dir}/{key}.json`; files are written atomically, 0600.
/// A folder it creates is 0700; an existing folder keeps its mode (a warning names it when group
/// or others can enter it).
///
/// The same files and key rule as [`harmony_secret::LocalFileSecretStore`] (both go through
/// [`harmony_secret::private_file`]), without its namespace folder and with config errors and
/// provenance: a key's file is its [`Provenance::File`], a broken file an
/// [`ConfigError::InvalidJson`] naming it.
#[derive(Debug, Clone)]
pub struct LocalFileSource {
    dir: PathBuf,
}

impl LocalFileSource {
    /// A source rooted at `dir`; the folder is created on first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds `key`.
    pub fn path_for(&self, key: &str) -> Result<PathBuf, ConfigError> {
        if !is_plain_file_name(key) {
            return Err(ConfigError::Source {
                key: key.to_string(),
                source_name: self.name(),
                message: format!("this key cannot be used as a file name: {PLAIN_FILE_NAME_RULE}"),
                source: None,
            });
        }
        Ok(self.dir.join(format!("{key}.json")))
    }

    fn io_error(&self, key: &str, path: &Path, e: std::io::Error) -> ConfigError {
        ConfigError::Source {
            key: key.to_string(),
            source_name: self.name(),
            message: format!("cannot use {}: {e}", path.display()),
            source: Some(e.into()),
        }
    }
}

#[async_trait]
impl ConfigSource for LocalFileSource {
    fn name(&self) -> String {
        format!("local files in {}", self.dir.display())
    }

    fn location(&self, key: &str) -> String {
        self.provenance(key).to_string()
    }

    /// The key's file; a key that cannot be a file name gets the folder's description.
    fn provenance(&self, key: &str) -> Provenance {
        match self.path_for(key) {
            Ok(path) => Provenance::File { path },
            Err(_) => Provenance::Other(self.name()),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Value>, ConfigError> {
        let path = self.path_for(key)?;
        let Some(bytes) = read_if_exists(&path).map_err(|e| self.io_error(key, &path, e))? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        let hint = format!("Fix or delete {}", path.display());
        super::parse_json(key, self.location(key), &text, hint).map(Some)
    }

    async fn set(&self, key: &str, value: &Value) -> Result<(), ConfigError> {
        let path = self.path_for(key)?;
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| ConfigError::Serialization {
            key: key.to_string(),
            reason: crate::error::redact_serde_error(&e),
        })?;
        write_private_atomic(&path, &bytes).map_err(|e| self.io_error(key, &path, e))
    }

    async fn delete(&self, key: &str) -> Result<bool, ConfigError> {
        let path = self.path_for(key)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io_error(key, &path, e)),
        }
    }

    fn reset_hint(&self, key: &str) -> Option<String> {
        self.path_for(key)
            .ok()
            .map(|p| format!("rm '{}'", p.display()))
    }
}
