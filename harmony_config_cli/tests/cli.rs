//! The real `harmony-config` binary against a temporary HOME (SQLite) and a real `bao` server.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use harmony_config::{Config, ConfigManager, ConfigSource, SqliteSource, StoreSource};
use harmony_secret::OpenbaoSecretStore;
use harmony_test_support::OpenBao;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema, Config)]
#[config(key = "CliDatabase")]
struct Database {
    host: String,
    port: u16,
    /// Recorded as secret by the typed save, although its name does not look secret.
    #[config(secret)]
    pin: String,
}

/// Today's shape of a value an older branch saved without `port`.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema, Config)]
#[config(key = "CliBranch")]
struct Branch {
    host: String,
    port: u16,
}

fn db_path(home: &Path) -> std::path::PathBuf {
    home.join(".local/share/harmony/config/config.db")
}

fn cli(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harmony-config"));
    cmd.env("HOME", home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env_remove("RUST_LOG")
        .env_remove("HARMONY_STORE")
        .env_remove("HARMONY_STORE_NAMESPACE");
    for var in [
        "OPENBAO_URL",
        "OPENBAO_TOKEN",
        "BAO_ADDR",
        "BAO_TOKEN",
        "VAULT_ADDR",
        "VAULT_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HARMONY_CONFIG_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("run harmony-config");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

async fn local_manager(home: &Path) -> (ConfigManager, Arc<SqliteSource>) {
    let sqlite = Arc::new(SqliteSource::open(db_path(home)).await.unwrap());
    (ConfigManager::new(vec![sqlite.clone()]), sqlite)
}

#[tokio::test]
async fn list_get_where_reset_on_the_local_chain() {
    let home = tempfile::tempdir().unwrap();
    let (manager, sqlite) = local_manager(home.path()).await;
    manager
        .set(&Database {
            host: "db.internal".into(),
            port: 5432,
            pin: "pin-4711".into(),
        })
        .await
        .unwrap();
    // Untyped, no recorded secret fields: masked by its name.
    sqlite
        .set(
            "CliRaw",
            &json!({"url": "https://x", "api_token": "tok-123"}),
        )
        .await
        .unwrap();

    // list: both keys, from SQLite, with the time of the write; an env var shadows one.
    let (out, stdout, stderr) = run(cli(home.path())
        .env("HARMONY_CONFIG_CliRaw", r#"{"url":"from-env"}"#)
        .arg("list"));
    assert!(out.status.success(), "{stderr}");
    let line = |key: &str, source: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")) && l.contains(&format!(" {source} ")))
            .unwrap_or_else(|| panic!("no {key}/{source} row:\n{stdout}"))
            .to_string()
    };
    let updated = sqlite
        .entry("CliDatabase")
        .await
        .unwrap()
        .unwrap()
        .updated_at
        .unwrap();
    assert!(
        line("CliDatabase", "sqlite").contains(&format!("{updated} UTC")),
        "{stdout}"
    );
    line("CliRaw", "env");
    assert!(
        line("CliRaw", "sqlite").contains("shadowed by env"),
        "{stdout}"
    );
    assert!(stdout.contains(&sqlite.name()), "{stdout}");

    // get: JSON on stdout, the recorded secret field masked; --reveal shows it.
    let (out, stdout, stderr) = run(cli(home.path()).args(["get", "CliDatabase"]));
    assert!(out.status.success(), "{stderr}");
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        shown,
        json!({"host": "db.internal", "port": 5432, "pin": "********"})
    );
    assert!(!stdout.contains("pin-4711") && !stderr.contains("pin-4711"));
    assert!(stderr.contains("masked: pin"), "{stderr}");
    assert!(
        stderr.contains(&format!("from: {}", sqlite.name())),
        "{stderr}"
    );
    let (_, stdout, _) = run(cli(home.path()).args(["get", "CliDatabase", "--reveal"]));
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["pin"], "pin-4711");

    let (_, stdout, _) = run(cli(home.path()).args(["get", "CliRaw"]));
    let shown: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown, json!({"url": "https://x", "api_token": "********"}));

    // where: env first (used), SQLite shadowed with its update time.
    let (out, stdout, _) = run(cli(home.path())
        .env("HARMONY_CONFIG_CliRaw", r#"{"url":"from-env"}"#)
        .args(["where", "CliRaw"]));
    assert!(out.status.success());
    assert!(
        stdout.contains("1. environment variable HARMONY_CONFIG_CliRaw: set  <- used"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "2. {}: stored, updated {updated} UTC, shadowed",
            sqlite.name()
        )),
        "{stdout}"
    );

    // reset: the row is gone from the database; get and where now fail.
    let (out, stdout, stderr) = run(cli(home.path()).args(["reset", "CliDatabase"]));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("removed `CliDatabase` from {}", sqlite.name())),
        "{stdout}"
    );
    assert_eq!(sqlite.get("CliDatabase").await.unwrap(), None);
    assert_eq!(
        sqlite.get("CliRaw").await.unwrap().unwrap()["url"],
        "https://x",
        "reset removed another key"
    );
    let (out, _, stderr) = run(cli(home.path()).args(["get", "CliDatabase"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("no value for `CliDatabase`"), "{stderr}");
    let (out, _, _) = run(cli(home.path()).args(["where", "CliDatabase"]));
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn the_branch_switching_error_names_the_command_that_fixes_it() {
    let home = tempfile::tempdir().unwrap();
    let (manager, sqlite) = local_manager(home.path()).await;
    // Another branch saved the old shape, without `port`.
    sqlite
        .set("CliBranch", &json!({"host": "old"}))
        .await
        .unwrap();
    let e = manager.get::<Branch>().await.unwrap_err().to_string();
    let command = "harmony-config reset CliBranch";
    assert!(e.contains(&format!("run `{command}`")), "{e}");

    let (out, _, stderr) = run(cli(home.path()).args(command.split(' ').skip(1)));
    assert!(out.status.success(), "{stderr}");
    assert!(manager.get::<Branch>().await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_database_from_before_the_metadata_columns_is_listed_without_losing_rows() {
    let home = tempfile::tempdir().unwrap();
    let path = db_path(home.path());
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // The oldest shape of the table, written without SqliteSource (which would migrate it).
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
    sqlx::query(r#"INSERT INTO config VALUES ('Old1', '{"password":"p"}'), ('Old2', '3')"#)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (out, stdout, stderr) = run(cli(home.path()).arg("list"));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Old1"), "{stdout}");
    assert!(stdout.contains("Old2"), "{stdout}");
    assert!(stdout.contains("unknown"), "{stdout}");
    let (_, stdout, _) = run(cli(home.path()).args(["get", "Old1"]));
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        json!({"password": "********"})
    );
}

#[tokio::test]
async fn list_get_where_reset_against_a_real_openbao() {
    let (bao, init) = OpenBao::start_ready().await;
    let home = tempfile::tempdir().unwrap();
    let store = OpenbaoSecretStore::builder()
        .url(bao.addr())
        .token(init.root_token.clone())
        .build()
        .await
        .unwrap();
    let team = StoreSource::new("harmony", store);
    team.set(
        "CliTeam",
        &json!({"host": "team-db", "db_password": "pw-team"}),
    )
    .await
    .unwrap();
    let (_, sqlite) = local_manager(home.path()).await;
    sqlite
        .set("CliTeam", &json!({"host": "stale-local"}))
        .await
        .unwrap();

    let bao_cli = |args: &[&str]| {
        let mut cmd = cli(home.path());
        cmd.env("OPENBAO_URL", bao.addr())
            .env("OPENBAO_TOKEN", &init.root_token)
            .args(args);
        run(&mut cmd)
    };

    let (out, stdout, stderr) = bao_cli(&["list"]);
    assert!(out.status.success(), "{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("CliTeam ") && l.contains(" openbao "))
        .unwrap_or_else(|| panic!("{stdout}"));
    // KV v2 metadata's updated_time, as OpenBao reports it.
    let meta = bao
        .api_ok(
            &init.root_token,
            "GET",
            "secret/metadata/harmony/CliTeam",
            None,
        )
        .await;
    let updated = meta["data"]["updated_time"].as_str().unwrap();
    assert!(
        row.contains(&updated[..19].replace('T', " ")),
        "{row} vs {updated}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("CliTeam ") && l.contains("shadowed by openbao")),
        "{stdout}"
    );

    let (out, stdout, stderr) = bao_cli(&["get", "CliTeam"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        json!({"host": "team-db", "db_password": "********"})
    );
    assert!(
        stderr.contains(&format!("from: OpenBao at {}", bao.addr())),
        "{stderr}"
    );

    let (_, stdout, _) = bao_cli(&["where", "CliTeam"]);
    assert!(
        stdout.contains("2. OpenBao at") && stdout.contains("`harmony/CliTeam`: set  <- used"),
        "{stdout}"
    );
    assert!(stdout.contains("3. SQLite database"), "{stdout}");

    // reset removes it from OpenBao (every version: metadata is gone) and from SQLite.
    let (out, stdout, stderr) = bao_cli(&["reset", "CliTeam"]);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout.matches("removed `CliTeam` from").count(),
        2,
        "{stdout}"
    );
    let (status, _) = bao
        .api(
            Some(&init.root_token),
            "GET",
            "secret/metadata/harmony/CliTeam",
            None,
        )
        .await;
    assert_eq!(status, 404, "OpenBao still has the key");
    assert_eq!(sqlite.get("CliTeam").await.unwrap(), None);
}

#[tokio::test]
async fn where_says_a_stopped_openbao_is_unavailable_and_why() {
    let mut bao = OpenBao::start().await;
    bao.stop();
    let home = tempfile::tempdir().unwrap();
    let (_, sqlite) = local_manager(home.path()).await;
    sqlite
        .set("CliDown", &json!({"host": "local"}))
        .await
        .unwrap();
    let (out, stdout, stderr) = run(cli(home.path())
        .env("OPENBAO_URL", bao.addr())
        .env("OPENBAO_TOKEN", "s.unused")
        .args(["where", "CliDown"]));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("2. OpenBao at {}", bao.addr()))
            && stdout.contains("UNAVAILABLE")
            && stdout.contains("is unreachable"),
        "{stdout}"
    );
    assert!(stdout.contains("3. SQLite database"), "{stdout}");
    assert!(stdout.contains("<- used"), "{stdout}");
}

/// An OpenBao that cannot be used (its CA file is missing) stops the command with the file and
/// the OS's reason, each said once: the error keeps its causes as sources, which a plain chain
/// printer would repeat.
#[test]
fn an_unusable_openbao_setting_is_reported_once_with_its_cause() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("no-such-ca.pem");
    let (out, _, stderr) = run(cli(home.path())
        .env("OPENBAO_URL", "https://bao.example.com")
        .env("OPENBAO_TOKEN", "s.unused")
        .env("OPENBAO_CACERT", &missing)
        .args(["--store", "openbao", "list"]));
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot use OpenBao"), "{stderr}");
    assert_eq!(stderr.matches("no-such-ca.pem").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
}

/// A local config database that cannot be opened stops the command with its path, the cause and
/// the fix, the cause said once although the error also keeps it as its source.
#[test]
fn an_unusable_sqlite_database_is_reported_once_with_its_cause() {
    // The data folder is a regular file: the database folder cannot be created below it.
    let home = tempfile::tempdir().unwrap();
    let share = home.path().join(".local/share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("harmony"), b"").unwrap();
    let (out, _, stderr) = run(cli(home.path()).arg("list"));
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot open the SQLite config database at"),
        "{stderr}"
    );
    assert!(stderr.contains("config.db"), "{stderr}");
    assert!(
        stderr.contains("Check that the folder is writable"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");

    // The database file holds no database: SQLite's own reason, once.
    let home = tempfile::tempdir().unwrap();
    let db = db_path(home.path());
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::write(&db, vec![b'x'; 4096]).unwrap();
    let (out, _, stderr) = run(cli(home.path()).arg("list"));
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot open the SQLite config database at {}",
            db.display()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.matches("not a database").count(), 1, "{stderr}");
}
