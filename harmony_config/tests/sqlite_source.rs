//! SqliteSource: round trips, overwrite, concurrency within a process, file modes, errors.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use harmony_config::{ConfigError, ConfigSource, SqliteSource};
use serde_json::json;

use common::temp_sqlite;

#[tokio::test]
async fn test_sqlite_set_and_get() {
    let (_dir, sqlite) = temp_sqlite().await;
    let value = json!({"host": "db.example.com", "port": 5432});
    sqlite.set("TestConfig", &value).await.unwrap();
    assert_eq!(sqlite.get("TestConfig").await.unwrap(), Some(value));
}

#[tokio::test]
async fn test_sqlite_get_returns_none_when_missing() {
    let (_dir, sqlite) = temp_sqlite().await;
    assert_eq!(sqlite.get("NothingHere").await.unwrap(), None);
}

#[tokio::test]
async fn test_sqlite_overwrites_on_set() {
    let (_dir, sqlite) = temp_sqlite().await;
    sqlite.set("K", &json!({"v": 1})).await.unwrap();
    sqlite.set("K", &json!({"v": 2})).await.unwrap();
    assert_eq!(sqlite.get("K").await.unwrap(), Some(json!({"v": 2})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_sqlite_concurrent_access() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.db");
    // Two separately opened sources (two pools) on the same file, writing at the same time.
    let a = Arc::new(SqliteSource::open(&path).await.unwrap());
    let b = Arc::new(SqliteSource::open(&path).await.unwrap());
    let write = |s: Arc<SqliteSource>, prefix: &'static str| {
        tokio::spawn(async move {
            for i in 0..50 {
                s.set(&format!("{prefix}{i}"), &json!({ "i": i }))
                    .await
                    .unwrap();
            }
        })
    };
    let (ra, rb) = tokio::join!(write(Arc::clone(&a), "a"), write(Arc::clone(&b), "b"));
    ra.unwrap();
    rb.unwrap();
    for i in 0..50 {
        assert_eq!(
            b.get(&format!("a{i}")).await.unwrap(),
            Some(json!({ "i": i }))
        );
        assert_eq!(
            a.get(&format!("b{i}")).await.unwrap(),
            Some(json!({ "i": i }))
        );
    }
}

#[tokio::test]
async fn sqlite_delete_removes_only_that_key() {
    let (_dir, sqlite) = temp_sqlite().await;
    sqlite.set("Gone", &json!(1)).await.unwrap();
    sqlite.set("Kept", &json!(2)).await.unwrap();
    assert!(sqlite.delete("Gone").await.unwrap());
    assert!(
        !sqlite.delete("Gone").await.unwrap(),
        "second delete finds nothing"
    );
    assert_eq!(sqlite.get("Gone").await.unwrap(), None);
    assert_eq!(sqlite.get("Kept").await.unwrap(), Some(json!(2)));
}

#[tokio::test]
async fn sqlite_files_are_private_and_missing_folders_are_created_0700() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/config.db");
    let sqlite = SqliteSource::open(&path).await.unwrap();
    sqlite.set("K", &json!({"password": "x"})).await.unwrap();
    // `sqlite` stays open after the write, so the WAL and shared-memory files exist now.
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600, "database file");
    for suffix in ["-wal", "-shm"] {
        let side = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        assert!(
            side.exists(),
            "{} missing while the database is open",
            side.display()
        );
        assert_eq!(mode(&side), 0o600, "{suffix} file");
    }
    assert_eq!(
        sqlite.get("K").await.unwrap(),
        Some(json!({"password": "x"}))
    );
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&dir.path().join("nested")), 0o700);
}

#[tokio::test]
async fn sqlite_uses_wal_journal() {
    let (_dir, sqlite) = temp_sqlite().await;
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(sqlite.pool())
        .await
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
}

#[tokio::test]
async fn unwritable_database_path_error_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where a folder should be: no one, not even root, can create the database.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"").unwrap();
    let path = blocker.join("config/config.db");
    let err = SqliteSource::open(&path)
        .await
        .expect_err("the folder cannot be created");
    assert!(matches!(err, ConfigError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    // The cause is kept as a value a caller can match, not only as text.
    let io = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .unwrap_or_else(|| panic!("the io::Error is the source: {err:?}"));
    assert_eq!(io.kind(), std::io::ErrorKind::NotADirectory, "{io:?}");
}

#[tokio::test]
async fn file_that_is_not_a_database_keeps_the_sqlite_error_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = SqliteSource::open(&path)
        .await
        .expect_err("a file of garbage is not a SQLite database");
    assert!(matches!(err, ConfigError::Open { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("Check that the folder is writable"), "{text}");
    let sqlx_error = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<sqlx::Error>())
        .unwrap_or_else(|| panic!("the sqlx::Error is the source: {err:?}"));
    assert!(
        matches!(sqlx_error, sqlx::Error::Database(_)),
        "{sqlx_error:?}"
    );
    // The message shows the cause once, as before.
    assert!(text.contains(&sqlx_error.to_string()), "{text}");
}

#[tokio::test]
async fn failed_query_keeps_the_sqlite_error_as_source() {
    let (_dir, sqlite) = temp_sqlite().await;
    sqlx::query("DROP TABLE config")
        .execute(sqlite.pool())
        .await
        .unwrap();
    let err = sqlite.get("Gone").await.unwrap_err();
    assert!(matches!(err, ConfigError::Source { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("`Gone`"), "{text}");
    assert!(text.contains("no such table"), "{text}");
    let sqlx_error = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<sqlx::Error>())
        .unwrap_or_else(|| panic!("the sqlx::Error is the source: {err:?}"));
    assert!(
        matches!(sqlx_error, sqlx::Error::Database(_)),
        "{sqlx_error:?}"
    );
}

#[tokio::test]
async fn corrupt_row_is_reported_with_reset_command() {
    let (_dir, sqlite) = temp_sqlite().await;
    sqlx::query("INSERT INTO config (key, value) VALUES ('Broken', 'not json')")
        .execute(sqlite.pool())
        .await
        .unwrap();
    let err = sqlite.get("Broken").await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Broken"), "{text}");
    assert!(
        text.contains(&sqlite.path().display().to_string()),
        "{text}"
    );
    assert!(
        text.contains("DELETE FROM config WHERE key='Broken'"),
        "{text}"
    );
}

#[tokio::test]
async fn a_database_without_the_new_columns_is_migrated_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.db");
    {
        // The oldest shape of the table, written by hand with two rows.
        let pool = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true),
        )
        .await
        .unwrap();
        sqlx::query("CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(r#"INSERT INTO config VALUES ('A', '{"v":1}'), ('B', '"two"')"#)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    let sqlite = SqliteSource::open(&path).await.unwrap();
    assert_eq!(sqlite.get("A").await.unwrap(), Some(json!({"v": 1})));
    assert_eq!(sqlite.get("B").await.unwrap(), Some(json!("two")));
    let entries = sqlite.entries().await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].updated_at, None, "unknown for old rows");
    assert_eq!(entries[0].secret_fields, None);

    // New writes fill both columns; a second open does not migrate again.
    sqlite
        .set_with_secrets("A", &json!({"v": 3, "pw": "x"}), &["pw"])
        .await
        .unwrap();
    drop(sqlite);
    let sqlite = SqliteSource::open(&path).await.unwrap();
    let a = sqlite.entry("A").await.unwrap().unwrap();
    assert!(
        a.updated_at.as_ref().is_some_and(|t| t.len() == 19),
        "{a:?}"
    );
    assert_eq!(a.secret_fields, Some(vec!["pw".to_string()]));
    assert_eq!(sqlite.get("B").await.unwrap(), Some(json!("two")));
}

#[tokio::test]
async fn a_typed_set_records_the_secret_fields() {
    #[derive(
        serde::Serialize, serde::Deserialize, schemars::JsonSchema, harmony_config::Config,
    )]
    #[config(key = "SecretFieldsRecorded")]
    struct WithSecret {
        user: String,
        #[config(secret)]
        password: String,
    }
    let (_dir, sqlite) = temp_sqlite().await;
    let manager = harmony_config::ConfigManager::new(vec![sqlite.clone()]);
    manager
        .set(&WithSecret {
            user: "u".into(),
            password: "p".into(),
        })
        .await
        .unwrap();
    let entry = sqlite.entry("SecretFieldsRecorded").await.unwrap().unwrap();
    assert_eq!(entry.secret_fields, Some(vec!["password".to_string()]));
}
