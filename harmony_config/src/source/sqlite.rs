//! [`SqliteSource`]: the zero-setup local store, one SQLite database per user.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{ConfigError, ConfigSource, Provenance};

/// How long a writer waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps values in the table
/// `config(key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT, secret_fields TEXT)`:
/// `updated_at` is the UTC time of the last write (`YYYY-MM-DD HH:MM:SS`), `secret_fields` the
/// JSON array of the top-level fields that hold secrets, when the value was saved from a typed
/// [`crate::Config`] (tools such as `harmony-config get` mask them). Databases created before a
/// column existed get it on open (`ALTER TABLE ADD COLUMN`, rows kept, NULL meaning unknown).
///
/// Safe for several processes at once: WAL journal, `synchronous=NORMAL`, a 5 s busy timeout.
/// The database file is created 0600, its folder 0700.
#[derive(Debug, Clone)]
pub struct SqliteSource {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteSource {
    /// Opens (creating when missing) the database at `path`. Missing parent folders are created
    /// with mode 0700.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref().to_path_buf();
        let open_error =
            |context: &str, cause: Box<dyn std::error::Error + Send + Sync>| ConfigError::Open {
                what: "SQLite config database".to_string(),
                path: path.clone(),
                reason: format!("{context}{cause}"),
                source: Some(cause),
            };

        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| open_error("cannot create its folder: ", e.into()))?;
        }
        // Create the file ourselves so it is 0600 from the first byte; SQLite gives its -wal and
        // -shm files the same mode.
        std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| open_error("", e.into()))?;
        restrict_mode(&path).map_err(|e| open_error("", e.into()))?;

        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| open_error("", e.into()))?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS config (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at TEXT NOT NULL DEFAULT (datetime('now')),
                secret_fields TEXT
            )",
        )
        .execute(&pool)
        .await
        .map_err(|e| open_error("", e.into()))?;
        migrate(&pool).await.map_err(|e| open_error("", e.into()))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.clone().into_os_string();
            side.push(suffix);
            let _ = restrict_mode(Path::new(&side));
        }
        Ok(Self { pool, path })
    }

    /// Opens the per-user database, `~/.local/share/harmony/config/config.db` on Linux.
    #[allow(clippy::should_implement_trait)]
    pub async fn default() -> Result<Self, ConfigError> {
        let path = Self::default_path()?;
        if let Some(parent) = path.parent() {
            harmony_secret::private_file::ensure_private_dir(parent).map_err(|e| {
                ConfigError::Open {
                    what: "SQLite config database".to_string(),
                    path: path.clone(),
                    reason: format!("cannot create its folder: {e}"),
                    source: Some(e.into()),
                }
            })?;
        }
        Self::open(path).await
    }

    /// `{data dir}/config/config.db`, where the data dir is
    /// [`harmony_secret::data_dir::harmony_data_dir`] (`$XDG_DATA_HOME/harmony` or
    /// `~/.local/share/harmony` on Linux).
    pub fn default_path() -> Result<PathBuf, ConfigError> {
        let dir =
            harmony_secret::data_dir::harmony_data_dir().ok_or_else(|| ConfigError::Open {
                what: "SQLite config database".to_string(),
                path: PathBuf::from("~/.local/share/harmony/config/config.db"),
                reason:
                    "no home folder found (set HOME), or open one with SqliteSource::open(path)"
                        .to_string(),
                source: None,
            })?;
        Ok(dir.join("config").join("config.db"))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection pool, for callers that need a raw query (benchmarks, tooling).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Every stored key with its last update and secret fields, sorted by key.
    pub async fn entries(&self) -> Result<Vec<StoredEntry>, ConfigError> {
        let rows: Vec<EntryRow> =
            sqlx::query_as("SELECT key, updated_at, secret_fields FROM config ORDER BY key")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.query_error("*", e))?;
        Ok(rows.into_iter().map(entry_of).collect())
    }

    /// The row of `key` without its value, if stored.
    pub async fn entry(&self, key: &str) -> Result<Option<StoredEntry>, ConfigError> {
        let row: Option<EntryRow> =
            sqlx::query_as("SELECT key, updated_at, secret_fields FROM config WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| self.query_error(key, e))?;
        Ok(row.map(entry_of))
    }

    async fn write(
        &self,
        key: &str,
        value: &Value,
        secret_fields: Option<&[&str]>,
    ) -> Result<(), ConfigError> {
        let text = serde_json::to_string(value).map_err(|e| ConfigError::Serialization {
            key: key.to_string(),
            reason: crate::error::redact_serde_error(&e),
        })?;
        let secret_fields = secret_fields.map(|f| serde_json::json!(f).to_string());
        sqlx::query(
            "INSERT INTO config (key, value, updated_at, secret_fields)
             VALUES (?, ?, datetime('now'), ?)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value,
                 updated_at = excluded.updated_at, secret_fields = excluded.secret_fields",
        )
        .bind(key)
        .bind(text)
        .bind(secret_fields)
        .execute(&self.pool)
        .await
        .map_err(|e| self.query_error(key, e))?;
        Ok(())
    }

    fn query_error(&self, key: &str, e: sqlx::Error) -> ConfigError {
        ConfigError::Source {
            key: key.to_string(),
            source_name: self.name(),
            message: e.to_string(),
            source: Some(e.into()),
        }
    }
}

/// Adds the columns that older databases lack; rows are kept. Safe when several processes open
/// the same old database at once (a column another process just added is fine).
async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info('config')")
        .fetch_all(pool)
        .await?;
    for (column, statement) in [
        (
            "updated_at",
            "ALTER TABLE config ADD COLUMN updated_at TEXT",
        ),
        (
            "secret_fields",
            "ALTER TABLE config ADD COLUMN secret_fields TEXT",
        ),
    ] {
        if columns.iter().any(|(name,)| name == column) {
            continue;
        }
        let added = sqlx::query(statement).execute(pool).await;
        match added {
            Ok(_) => log::info!("config database: added the column `{column}`"),
            Err(e) if e.to_string().contains("duplicate column") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One row of the config table, without the value (see [`SqliteSource::entries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// The key.
    pub key: String,
    /// UTC time of the last write, `YYYY-MM-DD HH:MM:SS`; `None` for rows written before the
    /// column existed.
    pub updated_at: Option<String>,
    /// Top-level fields holding secrets, when the value was saved from a typed config; `None`
    /// when unknown.
    pub secret_fields: Option<Vec<String>>,
}

type EntryRow = (String, Option<String>, Option<String>);

fn entry_of((key, updated_at, secret_fields): EntryRow) -> StoredEntry {
    StoredEntry {
        key,
        updated_at,
        secret_fields: secret_fields.and_then(|s| serde_json::from_str(&s).ok()),
    }
}

fn restrict_mode(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[async_trait]
impl ConfigSource for SqliteSource {
    fn name(&self) -> String {
        self.provenance("").to_string()
    }

    /// The database file: one place for every key.
    fn provenance(&self, _key: &str) -> Provenance {
        Provenance::Sqlite {
            path: self.path.clone(),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Value>, ConfigError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM config WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.query_error(key, e))?;
        match row {
            None => Ok(None),
            Some((text,)) => {
                let hint = format!(
                    "Reset it with: {}",
                    self.reset_hint(key).unwrap_or_default()
                );
                super::parse_json(key, self.name(), &text, hint).map(Some)
            }
        }
    }

    /// Stores `value`; its secret fields are recorded as unknown.
    async fn set(&self, key: &str, value: &Value) -> Result<(), ConfigError> {
        self.write(key, value, None).await
    }

    async fn set_with_secrets(
        &self,
        key: &str,
        value: &Value,
        secret_fields: &[&str],
    ) -> Result<(), ConfigError> {
        self.write(key, value, Some(secret_fields)).await
    }

    async fn delete(&self, key: &str) -> Result<bool, ConfigError> {
        let done = sqlx::query("DELETE FROM config WHERE key = ?")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(|e| self.query_error(key, e))?;
        Ok(done.rows_affected() > 0)
    }

    fn reset_hint(&self, key: &str) -> Option<String> {
        Some(format!(
            "sqlite3 '{}' \"DELETE FROM config WHERE key='{}'\"",
            self.path.display(),
            key.replace('\'', "''")
        ))
    }
}
