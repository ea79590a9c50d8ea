//! A team store that is down never silently turns into a plaintext secret file.
//!
//! The `prompting` example with `OPENBAO_URL` set (chain Env → OpenBao → SQLite → prompt), against
//! a real `bao` server that was started and then stopped, driven through a pseudo-terminal:
//! - the terminal says the store is unavailable before the first question;
//! - the answers hold a secret, so saving them to SQLite needs a "yes" (Enter means no);
//! - without a terminal the run fails naming the store and why it is unavailable;
//! - `get` (no prompt) says the store was down instead of listing it as "tried".

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use harmony_config::{ConfigManager, ConfigSource, EnvSource, SqliteSource, StoreSource};
use harmony_secret::OpenbaoSecretStore;
use harmony_test_support::OpenBao;
use rexpect::reader::Options;
use rexpect::session::PtySession;

mod common;

/// A real OpenBao that ran on its port and is now stopped: its address refuses connections.
fn stopped_bao() -> OpenBao {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut bao = rt.block_on(OpenBao::start());
    bao.stop();
    bao
}

fn command(exe: &Path, home: &Path, bao: &OpenBao) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env("HOME", home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("TERM", "xterm-256color")
        .env("OPENBAO_URL", bao.addr())
        .env("OPENBAO_TOKEN", "s.not-used-the-server-is-down")
        .env_remove("RUST_LOG")
        .env_remove("HARMONY_CONFIG_PromptingDemo");
    for family in ["BAO", "VAULT"] {
        cmd.env_remove(format!("{family}_ADDR"))
            .env_remove(format!("{family}_TOKEN"));
    }
    cmd
}

fn spawn(cmd: Command) -> PtySession {
    rexpect::spawn_with_options(
        cmd,
        Options::new()
            .timeout_ms(Some(30_000))
            .strip_ansi_escape_codes(true),
    )
    .expect("spawn in a pty")
}

fn expect(p: &mut PtySession, seen: &mut String, needle: &str) {
    let before = p
        .exp_string(needle)
        .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}\nso far:\n{seen}"));
    seen.push_str(&before);
    seen.push_str(needle);
}

fn answer(p: &mut PtySession, keys: &str) {
    p.send(keys).unwrap();
    p.flush().unwrap();
}

/// Answers every question of the example; returns what the terminal showed before the first
/// question.
fn answer_all(p: &mut PtySession, seen: &mut String) -> String {
    expect(p, seen, "Host name of the service.");
    let before_first_question = seen.clone();
    answer(p, "svc.internal\r");
    expect(p, seen, "TCP port (1-65535).");
    answer(p, "8443\r");
    expect(p, seen, "Deployment environment.");
    answer(p, "\r");
    expect(p, seen, "Connect with TLS?");
    answer(p, "n\r");
    expect(p, seen, "API token; typed hidden and never printed.");
    answer(p, "tok-s3cr3t-value\r");
    expect(p, seen, "A display name (optional).");
    answer(p, "\r");
    before_first_question
}

fn stored_value(home: &Path) -> Option<serde_json::Value> {
    let db = home.join(".local/share/harmony/config/config.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let sqlite = SqliteSource::open(&db).await.unwrap();
        sqlite.get("PromptingDemo").await.unwrap()
    })
}

#[test]
fn warns_before_asking_and_declining_saves_nothing() {
    let bao = stopped_bao();
    let exe = common::example_exe("prompting");
    let home = tempfile::tempdir().unwrap();

    let mut p = spawn(command(&exe, home.path(), &bao));
    let mut seen = String::new();
    let before = answer_all(&mut p, &mut seen);
    assert!(
        before.contains(&format!("WARNING: cannot reach OpenBao at {}", bao.addr())),
        "no warning on the terminal before the first question:\n{before}"
    );
    assert!(before.contains("is unreachable"), "{before}");

    expect(
        &mut p,
        &mut seen,
        "Save `PromptingDemo`, which holds secrets (api_token)",
    );
    answer(&mut p, "\r"); // Enter: the default is no
    expect(
        &mut p,
        &mut seen,
        "Values came from: interactive prompt, not saved",
    );
    seen.push_str(&p.exp_eof().unwrap());
    assert!(!seen.contains("tok-s3cr3t-value"), "secret shown:\n{seen}");
    assert_eq!(stored_value(home.path()), None, "declined, yet saved");
}

#[test]
fn agreeing_saves_to_sqlite() {
    let bao = stopped_bao();
    let exe = common::example_exe("prompting");
    let home = tempfile::tempdir().unwrap();

    let mut p = spawn(command(&exe, home.path(), &bao));
    let mut seen = String::new();
    answer_all(&mut p, &mut seen);
    expect(
        &mut p,
        &mut seen,
        "Save `PromptingDemo`, which holds secrets (api_token)",
    );
    answer(&mut p, "y\r");
    expect(&mut p, &mut seen, "saved to SQLite database");
    seen.push_str(&p.exp_eof().unwrap());
    let stored = stored_value(home.path()).expect("agreed, yet nothing saved");
    assert_eq!(stored["host"], "svc.internal");
    assert_eq!(stored["api_token"], "tok-s3cr3t-value");
}

#[test]
fn without_a_terminal_it_fails_naming_the_store_and_why() {
    let bao = stopped_bao();
    let exe = common::example_exe("prompting");
    let home = tempfile::tempdir().unwrap();
    let out = command(&exe, home.path(), &bao)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not a terminal"), "{stderr}");
    assert!(
        stderr.contains(&format!("OpenBao at {}", bao.addr())),
        "{stderr}"
    );
    assert!(stderr.contains("is unreachable"), "{stderr}");
    assert_eq!(stored_value(home.path()), None);
}

#[derive(Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct TeamValue {
    host: String,
}

impl harmony_config::Config for TeamValue {
    const KEY: &'static str = "StoreDownTeamValue";
}

#[tokio::test]
async fn not_found_says_which_store_was_down_and_why() {
    let mut bao = OpenBao::start().await;
    bao.stop();
    let dir = tempfile::tempdir().unwrap();
    let store = OpenbaoSecretStore::builder()
        .url(bao.addr())
        .token("s.not-used-the-server-is-down")
        .build()
        .await
        .unwrap();
    let sources: Vec<Arc<dyn ConfigSource>> = vec![
        Arc::new(EnvSource),
        Arc::new(StoreSource::new("harmony", store)),
        Arc::new(
            SqliteSource::open(dir.path().join("config.db"))
                .await
                .unwrap(),
        ),
    ];
    let e = ConfigManager::new(sources)
        .get::<TeamValue>()
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let text = e.to_string();
    let (tried, down) = text.split_once("could NOT ask").expect(&text);
    assert!(tried.contains("SQLite database"), "{text}");
    assert!(
        !tried.contains("OpenBao"),
        "the down store is listed as tried: {text}"
    );
    assert!(
        down.contains(&format!("OpenBao at {}", bao.addr())),
        "{text}"
    );
    assert!(down.contains("is unreachable"), "{text}");
}
