//! StoreSource warns once per outage, naming the store and the reason.
//! Own binary: it installs a process-wide logger.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use harmony_config::{ConfigSource, StoreSource};
use harmony_secret::{SecretStore, SecretStoreError};

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if record.level() == log::Level::Warn {
            WARNINGS.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

/// A store that is down while `down` is true, and has no keys otherwise.
struct FlakyStore {
    down: AtomicBool,
}

#[async_trait]
impl SecretStore for FlakyStore {
    fn describe(&self) -> String {
        "OpenBao at http://10.0.0.9:8200".to_string()
    }
    async fn get_json(&self, ns: &str, key: &str) -> Result<serde_json::Value, SecretStoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(SecretStoreError::Sealed {
                store: self.describe(),
                auto_unseal: None,
            })
        } else {
            Err(SecretStoreError::NotFound {
                store: self.describe(),
                namespace: ns.into(),
                key: key.into(),
            })
        }
    }
    async fn set_json(
        &self,
        _: &str,
        _: &str,
        _: &serde_json::Value,
    ) -> Result<(), SecretStoreError> {
        Ok(())
    }
    async fn delete(&self, _: &str, _: &str) -> Result<(), SecretStoreError> {
        Ok(())
    }
}

#[tokio::test]
async fn outage_is_warned_once_and_again_after_recovery() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let source = StoreSource::new(
        "harmony",
        FlakyStore {
            down: AtomicBool::new(true),
        },
    );

    for _ in 0..3 {
        assert_eq!(
            source.get("App").await.unwrap(),
            None,
            "down reads as absent"
        );
    }
    {
        let warnings = WARNINGS.lock().unwrap();
        assert_eq!(warnings.len(), 1, "one warning per outage: {warnings:?}");
        assert!(
            warnings[0].contains("OpenBao at http://10.0.0.9:8200"),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("sealed"), "{}", warnings[0]);
        assert!(warnings[0].contains("harmony/App"), "{}", warnings[0]);
    }

    // Back up: a missing key is silent.
    source.store().down.store(false, Ordering::SeqCst);
    assert_eq!(source.get("App").await.unwrap(), None);
    assert_eq!(WARNINGS.lock().unwrap().len(), 1);

    // A new outage is reported again.
    source.store().down.store(true, Ordering::SeqCst);
    assert_eq!(source.get("App").await.unwrap(), None);
    assert_eq!(WARNINGS.lock().unwrap().len(), 2);
}
