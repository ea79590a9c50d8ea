//! Shared test fixtures.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use harmony_config::{ConfigSource, SqliteSource};
use harmony_secret::{SecretStore, SecretStoreError};

pub async fn temp_sqlite() -> (tempfile::TempDir, Arc<SqliteSource>) {
    let dir = tempfile::tempdir().unwrap();
    let source = SqliteSource::open(dir.path().join("config.db"))
        .await
        .unwrap();
    (dir, Arc::new(source))
}

pub fn arc<S: ConfigSource + 'static>(s: S) -> Arc<dyn ConfigSource> {
    Arc::new(s)
}

/// Sets an env var for this test. Every test uses its own variable name (its own KEY), so tests
/// running on other threads never read or write it.
#[allow(
    unsafe_code,
    reason = "EnvSource reads the real process environment; this test must set it"
)]
pub fn set_env(name: &str, value: &str) {
    // SAFETY: the variable name is unique to the calling test, and no other thread of this test
    // binary reads or writes it.
    unsafe { std::env::set_var(name, value) }
}

/// A secret store whose `get_json` fails with a chosen error, counting calls.
pub struct FailingStore {
    pub make_error: fn() -> SecretStoreError,
    pub calls: AtomicUsize,
}

impl FailingStore {
    pub fn new(make_error: fn() -> SecretStoreError) -> Self {
        Self {
            make_error,
            calls: AtomicUsize::new(0),
        }
    }
}

pub fn unreachable() -> SecretStoreError {
    SecretStoreError::Unreachable {
        store: "OpenBao at http://127.0.0.1:1".into(),
        reason: "connection refused".into(),
    }
}

pub fn not_found() -> SecretStoreError {
    SecretStoreError::NotFound {
        store: "OpenBao at http://127.0.0.1:1".into(),
        namespace: "harmony".into(),
        key: "k".into(),
    }
}

pub fn permission_denied() -> SecretStoreError {
    SecretStoreError::PermissionDenied {
        store: "OpenBao at http://127.0.0.1:1".into(),
        path: "secret/data/harmony/k".into(),
    }
}

#[async_trait]
impl SecretStore for FailingStore {
    fn describe(&self) -> String {
        "OpenBao at http://127.0.0.1:1 (kv mount \"secret\")".to_string()
    }

    async fn get_json(&self, _ns: &str, _key: &str) -> Result<serde_json::Value, SecretStoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err((self.make_error)())
    }

    async fn set_json(
        &self,
        _ns: &str,
        _key: &str,
        _value: &serde_json::Value,
    ) -> Result<(), SecretStoreError> {
        Err((self.make_error)())
    }

    async fn delete(&self, _ns: &str, _key: &str) -> Result<(), SecretStoreError> {
        Err((self.make_error)())
    }
}

/// Builds `harmony_config`'s example `name` with the cargo that runs the tests and returns the
/// executable path cargo reports (no guessing about the target/ layout).
pub fn example_exe(name: &str) -> std::path::PathBuf {
    use std::process::{Command, Stdio};
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "-p",
            "harmony_config",
            "--example",
            name,
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(out.status.success(), "cargo build --example {name} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == name)
        .find_map(|msg| msg["executable"].as_str().map(std::path::PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no executable for the example {name}"))
}
