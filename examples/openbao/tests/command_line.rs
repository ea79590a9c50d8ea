//! The binary's command line, as a user meets it: `--help`, a mistyped flag, an incomplete
//! SSO setting. None of these reaches the cluster.

use std::process::{Command, Output};

fn example_openbao(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_example-openbao"));
    for var in [
        "HARMONY_OPENBAO_JWT_CLIENT_ID",
        "HARMONY_OPENBAO_JWT_ORG_ID",
        "HARMONY_OPENBAO_JWT_ORG_DOMAIN",
        "HARMONY_OPENBAO_JWT_ISSUER",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(args).output().expect("run example-openbao")
}

#[test]
fn help_lists_the_runner_flags_and_the_sso_settings_with_their_variables() {
    let out = example_openbao(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "-p, --plan",
        "-y, --yes",
        "-f, --filter <TEXT>",
        "--jwt-client-id <ID>",
        "[env: HARMONY_OPENBAO_JWT_CLIENT_ID=]",
        "[env: HARMONY_OPENBAO_JWT_ORG_ID=]",
        "[env: HARMONY_OPENBAO_JWT_ORG_DOMAIN=]",
        "[env: HARMONY_OPENBAO_JWT_ISSUER=]",
    ] {
        assert!(help.contains(expected), "{expected} missing from:\n{help}");
    }
}

#[test]
fn an_unknown_flag_is_named_and_exits_2() {
    let out = example_openbao(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unexpected argument '--frobnicate'"), "{err}");
}

#[test]
fn a_client_id_without_the_organisation_says_what_to_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_example-openbao"))
        .env("HARMONY_OPENBAO_JWT_CLIENT_ID", "1234@harmony")
        .env_remove("HARMONY_OPENBAO_JWT_ORG_ID")
        .env_remove("HARMONY_OPENBAO_JWT_ORG_DOMAIN")
        .arg("--plan")
        .output()
        .expect("run example-openbao");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HARMONY_OPENBAO_JWT_ORG_ID") && err.contains("--jwt-org-domain"),
        "{err}"
    );
    assert!(err.contains("cargo run -p example-zitadel"), "{err}");
}
