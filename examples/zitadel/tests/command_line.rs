//! The binary's command line, as a user meets it: `--help` and a mistyped flag. Neither
//! reaches the cluster.

use std::process::Command;

#[test]
fn help_lists_the_runner_flags_and_grant_to_with_its_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_example-zitadel"))
        .env_remove("HARMONY_ZITADEL_GRANT_TO")
        .arg("--help")
        .output()
        .expect("run example-zitadel");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "-l, --list",
        "-p, --plan",
        "-y, --yes",
        "--grant-to <USERS>",
        "[env: HARMONY_ZITADEL_GRANT_TO=]",
    ] {
        assert!(help.contains(expected), "{expected} missing from:\n{help}");
    }
}

#[test]
fn a_flag_without_its_value_is_named_and_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_example-zitadel"))
        .arg("--filter")
        .output()
        .expect("run example-zitadel");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--filter <TEXT>"), "{err}");
}
