//! The `prompting` example driven through a real pseudo-terminal (rexpect): the first run asks
//! every question and saves the answers; the second run reads them back without asking. Also:
//! without a terminal it fails at once instead of hanging.
//!
//! Every run uses a temporary HOME / XDG_DATA_HOME, so the user's real database is never touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rexpect::reader::Options;
use rexpect::session::PtySession;

mod common;

fn prompting_example() -> PathBuf {
    common::example_exe("prompting")
}

fn command(exe: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env("HOME", home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("TERM", "xterm-256color")
        .env_remove("RUST_LOG")
        .env_remove("HARMONY_CONFIG_PromptingDemo");
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

/// Waits for `needle`, keeping everything the program printed in `seen`.
fn expect(p: &mut PtySession, seen: &mut String, needle: &str) {
    let before = p
        .exp_string(needle)
        .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}\nso far:\n{seen}"));
    seen.push_str(&before);
    seen.push_str(needle);
}

fn answer(p: &mut PtySession, keys: &str) {
    // In raw mode Enter is a carriage return, not "\n".
    p.send(keys).unwrap();
    p.flush().unwrap();
}

#[test]
fn prompting_example_asks_once_then_reads_back() {
    let exe = prompting_example();
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join(".local/share/harmony/config/config.db");

    // First run: everything is asked.
    let mut p = spawn(command(&exe, home.path()));
    let mut seen = String::new();
    expect(&mut p, &mut seen, "nothing stored yet, asking.");
    expect(&mut p, &mut seen, "Host name of the service.");
    answer(&mut p, "svc.internal\r");
    expect(&mut p, &mut seen, "TCP port (1-65535).");
    answer(&mut p, "80x\r");
    expect(&mut p, &mut seen, "expected a whole number");
    // Clear the invalid input (Ctrl-U is not universal in inquire: use backspaces).
    answer(&mut p, "\x7f\x7f\x7f8443\r");
    expect(&mut p, &mut seen, "Deployment environment.");
    answer(&mut p, "\x1b[B\r"); // arrow down: Staging
    expect(&mut p, &mut seen, "Connect with TLS?");
    answer(&mut p, "y\r");
    expect(
        &mut p,
        &mut seen,
        "API token; typed hidden and never printed.",
    );
    answer(&mut p, "tok-s3cr3t-value\r");
    expect(&mut p, &mut seen, "A display name (optional).");
    answer(&mut p, "\r");
    expect(&mut p, &mut seen, "Values came from: interactive prompt");
    let rest = p.exp_eof().unwrap();
    seen.push_str(&rest);
    assert!(seen.contains("host:        svc.internal"), "{seen}");
    assert!(seen.contains("port:        8443"), "{seen}");
    assert!(seen.contains("environment: Staging"), "{seen}");
    assert!(seen.contains("tls:         true"), "{seen}");
    assert!(
        seen.contains("api_token:   (set, 16 characters, hidden)"),
        "{seen}"
    );
    assert!(seen.contains("nickname:    (none)"), "{seen}");
    assert!(
        !seen.contains("tok-s3cr3t-value"),
        "the secret was shown on screen:\n{seen}"
    );
    assert!(db.exists(), "answers saved under the temp HOME");

    // Second run: read back from SQLite, no questions.
    let mut p = spawn(command(&exe, home.path()));
    let mut seen = String::new();
    expect(
        &mut p,
        &mut seen,
        "a value is already stored; no questions needed.",
    );
    expect(&mut p, &mut seen, "Values came from: SQLite database");
    seen.push_str(&p.exp_eof().unwrap());
    assert!(seen.contains(&db.display().to_string()), "{seen}");
    assert!(seen.contains("host:        svc.internal"), "{seen}");
    assert!(seen.contains("environment: Staging"), "{seen}");
    assert!(
        !seen.contains("Host name of the service."),
        "asked again:\n{seen}"
    );
}

#[test]
fn escape_cancels_and_saves_nothing() {
    let exe = prompting_example();
    let home = tempfile::tempdir().unwrap();
    let mut p = spawn(command(&exe, home.path()));
    let mut seen = String::new();
    expect(&mut p, &mut seen, "Host name of the service.");
    answer(&mut p, "half-done\r");
    expect(&mut p, &mut seen, "TCP port (1-65535).");
    answer(&mut p, "\x1b"); // Esc
    expect(&mut p, &mut seen, "was cancelled; nothing was saved");
    p.exp_eof().unwrap();
    assert_eq!(stored_value(home.path()), None, "Esc saved something");

    // The next run starts from scratch; Ctrl-C at the first question also saves nothing.
    let mut p = spawn(command(&exe, home.path()));
    let mut seen = String::new();
    expect(&mut p, &mut seen, "nothing stored yet, asking.");
    expect(&mut p, &mut seen, "Host name of the service.");
    p.send_control('c').unwrap();
    expect(&mut p, &mut seen, "was cancelled; nothing was saved");
    p.exp_eof().unwrap();
    assert_eq!(stored_value(home.path()), None, "Ctrl-C saved something");
}

/// The example's row in the database under `home`, if any.
fn stored_value(home: &Path) -> Option<serde_json::Value> {
    use harmony_config::ConfigSource;
    let db = home.join(".local/share/harmony/config/config.db");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let sqlite = harmony_config::SqliteSource::open(&db).await.unwrap();
        sqlite.get("PromptingDemo").await.unwrap()
    })
}

#[test]
fn without_a_terminal_it_fails_at_once_naming_the_env_var() {
    let exe = prompting_example();
    let home = tempfile::tempdir().unwrap();
    let out = command(&exe, home.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`PromptingDemo`"), "{stderr}");
    assert!(stderr.contains("HARMONY_CONFIG_PromptingDemo"), "{stderr}");
    assert!(stderr.contains("not a terminal"), "{stderr}");
}
