//! `harmony_sso` in existing-stack mode, run as a real process in a pseudo-terminal against a
//! real OpenBao (`bao`) and a real OpenID provider with the device flow; a scripted person
//! approves in the "browser". What the servers saw is checked: the IdP's request log (device
//! authorizations) and OpenBao's KV (read with the root token).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use harmony_test_support::{BaoInit, Human, HumanAction, Idp, IdpOptions, JwtSetup, OpenBao};
use rexpect::reader::Options;
use rexpect::session::PtySession;

const POLICY: &str = r#"path "secret/data/harmony/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "secret/metadata/harmony/*" { capabilities = ["list", "read", "delete"] }"#;

fn command(home: &Path, bao: &OpenBao, idp: &Idp, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harmony_sso"));
    cmd.args(args)
        .args(["--openbao-url", bao.addr()])
        .args(["--issuer", idp.issuer()])
        .args(["--client-id", idp.client_id()])
        .arg("--no-browser")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("TERM", "xterm-256color")
        .env("RUST_LOG", "warn");
    for var in [
        "OPENBAO_URL",
        "OPENBAO_TOKEN",
        "VAULT_TOKEN",
        "BAO_TOKEN",
        "OPENBAO_ADMIN_TOKEN",
        "HARMONY_SESSION_DIR",
        "HARMONY_SSO_ISSUER",
        "HARMONY_SSO_CLIENT_ID",
        "OPENBAO_JWT_ROLE",
        "OPENBAO_JWT_MOUNT",
        "OPENBAO_KV_MOUNT",
        "OPENBAO_CACERT",
        "OPENBAO_CLIENT_CERT",
        "OPENBAO_CLIENT_KEY",
        "OPENBAO_NAMESPACE",
        "HARMONY_SSO_CACERT",
        "HARMONY_CONFIG_HarmonySsoDemoService",
        "HARMONY_CONFIG_HarmonySsoDemoDatabase",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn spawn(cmd: Command) -> PtySession {
    rexpect::spawn_with_options(
        cmd,
        Options::new()
            .timeout_ms(Some(60_000))
            .strip_ansi_escape_codes(true),
    )
    .expect("spawn harmony_sso in a pty")
}

/// Runs to the end; the person approves every device code shown. Returns all output.
fn run(cmd: Command, human: &Human) -> String {
    let (ok, status, seen) = run_to_end(cmd, human);
    assert!(ok, "harmony_sso failed ({status}):\n{seen}");
    seen
}

/// Runs to the end as [`run`] does: (exited 0, the exit status, all output).
fn run_to_end(cmd: Command, human: &Human) -> (bool, String, String) {
    let mut p = spawn(cmd);
    let mut seen = String::new();
    loop {
        match p.exp_regex(r"open this address in a browser:\s+(\S+)") {
            Ok((before, found)) => {
                seen.push_str(&before);
                seen.push_str(&found);
                let url = found.split_whitespace().last().unwrap().to_string();
                human.start(&url, HumanAction::Approve, Duration::ZERO);
            }
            Err(rexpect::error::Error::EOF { got, .. }) => {
                seen.push_str(&got);
                break;
            }
            Err(e) => panic!(
                "harmony_sso did not finish: {e}\nso far:\n{seen}\nthe person: {}",
                human.log()
            ),
        }
    }
    let status = format!("{:?}", p.process().wait().expect("wait"));
    // WaitStatus::Exited(pid, code); rexpect does not re-export the type.
    let ok = status.starts_with("Exited(") && status.ends_with(", 0)");
    (ok, status, seen)
}

fn device_authorizations(idp: &Idp) -> usize {
    idp.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/device/auth")
        .count()
}

async fn stored(bao: &OpenBao, init: &BaoInit, key: &str) -> serde_json::Value {
    bao.api_ok(
        &init.root_token,
        "GET",
        &format!("secret/data/harmony/{key}"),
        None,
    )
    .await["data"]["data"]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn first_run_signs_in_and_stores_second_run_asks_nothing_logout_needs_a_new_sign_in() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let (bao, init) = OpenBao::start_ready().await;
    bao.write_policy(&init.root_token, "harmony-dev", POLICY)
        .await;
    bao.enable_jwt(
        &init.root_token,
        &JwtSetup {
            mount: "jwt",
            issuer: idp.issuer(),
            client_id: idp.client_id(),
            role: "harmony-developer",
            policies: &["harmony-dev"],
            token_ttl: "15m",
        },
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let human = Human::new("alice");

    // 1st run: device flow, the defaults are stored in OpenBao and read back.
    let first = run(command(home.path(), &bao, &idp, &["--yes"]), &human);
    assert_eq!(human.outcomes(), vec!["approved"], "{first}");
    assert_eq!(device_authorizations(&idp), 1, "{first}");
    assert!(first.contains("via device flow"), "{first}");
    let db = stored(&bao, &init, "HarmonySsoDemoDatabase").await;
    let service = stored(&bao, &init, "HarmonySsoDemoService").await;
    assert_eq!(service["replicas"], 2);
    let password = db["password"]
        .as_str()
        .expect("password stored")
        .to_string();
    assert_eq!(password.len(), 24);
    assert!(!first.contains(&password), "the secret leaked:\n{first}");
    assert!(
        first.contains("HarmonySsoDemoDatabase <- OpenBao at"),
        "{first}"
    );
    assert!(first.contains("stored this run"), "{first}");
    assert!(first.contains("password = sha256:"), "{first}");
    // The last-stack file is the local stack's: `--cleanup` logs out of what it names, and it
    // must never touch an existing stack.
    let stack_file = home
        .path()
        .join(".local/share/harmony/harmony_sso/stack.json");
    assert!(!stack_file.exists(), "{} was written", stack_file.display());

    eprintln!("--- first run ---\n{first}");
    // 2nd run, without --yes: cached session, no device authorization, nothing asked (a
    // question would block until the timeout), values read back from OpenBao.
    let second = run(command(home.path(), &bao, &idp, &[]), &human);
    assert_eq!(device_authorizations(&idp), 1, "{second}");
    assert_eq!(human.times_called(), 1);
    assert!(second.contains("via cached session"), "{second}");
    assert!(!second.contains("stored this run"), "{second}");
    assert!(
        second.contains("HarmonySsoDemoService <- OpenBao at"),
        "{second}"
    );
    assert!(second.contains("wall time:"), "{second}");
    assert!(!second.contains(&password), "{second}");
    assert_eq!(stored(&bao, &init, "HarmonySsoDemoDatabase").await, db);

    eprintln!("--- second run ---\n{second}");
    assert!(second.contains("logged in: jwt-alice@"), "{second}");

    // whoami: who, policies, time left, auth method; no sign-in needed.
    let who = run(command(home.path(), &bao, &idp, &["whoami"]), &human);
    assert!(who.contains("jwt-alice@"), "{who}");
    assert!(who.contains("policies: default, harmony-dev"), "{who}");
    assert!(who.contains("time left: "), "{who}");
    assert!(who.contains("auth method: oidc device flow"), "{who}");
    assert_eq!(device_authorizations(&idp), 1, "{who}");

    // logout revokes both tokens (the IdP saw the revocation), then a run needs a new device
    // authorization.
    let out = run(command(home.path(), &bao, &idp, &["logout"]), &human);
    assert!(
        out.contains("OpenBao token revoked, refresh token revoked"),
        "{out}"
    );
    let revocations = idp
        .requests()
        .iter()
        .filter(|r| r.path == "/token/revocation" && r.status == 200)
        .count();
    assert_eq!(revocations, 1, "{out}");
    let third = run(command(home.path(), &bao, &idp, &["--yes"]), &human);
    assert_eq!(device_authorizations(&idp), 2, "{third}");
    assert!(third.contains("via device flow"), "{third}");
    assert_eq!(human.outcomes(), vec!["approved", "approved"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_admin_token_it_configures_jwt_auth_itself_then_changes_nothing() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let (bao, init) = OpenBao::start_ready().await;
    let home = tempfile::tempdir().unwrap();
    let human = Human::new("bob");
    let with_admin = |args: &[&str]| {
        let mut cmd = command(home.path(), &bao, &idp, args);
        cmd.env("OPENBAO_ADMIN_TOKEN", &init.root_token);
        cmd
    };

    let first = run(with_admin(&["--yes"]), &human);
    assert!(
        first.contains("[changed  ] OpenBao setup (admin token)"),
        "{first}"
    );
    assert!(
        !first.contains(&init.root_token),
        "the admin token leaked:\n{first}"
    );
    let role = bao
        .api_ok(
            &init.root_token,
            "GET",
            "auth/jwt/role/harmony-developer",
            None,
        )
        .await;
    assert_eq!(
        role["data"]["bound_audiences"],
        serde_json::json!([idp.client_id()])
    );
    let config = bao
        .api_ok(&init.root_token, "GET", "auth/jwt/config", None)
        .await;
    assert_eq!(config["data"]["bound_issuer"], idp.issuer());
    assert_eq!(
        stored(&bao, &init, "HarmonySsoDemoService").await["replicas"],
        2
    );

    let second = run(with_admin(&[]), &human);
    assert!(
        second.contains("[unchanged] OpenBao setup (admin token)"),
        "{second}"
    );
    assert!(second.contains("0 changed"), "{second}");
    assert_eq!(device_authorizations(&idp), 1, "{second}");
}

#[test]
fn missing_existing_stack_flags_are_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_harmony_sso"))
        .args(["--openbao-url", "http://127.0.0.1:1"])
        .env_remove("HARMONY_SSO_ISSUER")
        .env_remove("HARMONY_SSO_CLIENT_ID")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("--issuer (HARMONY_SSO_ISSUER)"), "{err}");
    assert!(err.contains("--client-id (HARMONY_SSO_CLIENT_ID)"), "{err}");
}

/// An OpenBao that does not answer stops the run before anything else, with the fix and the
/// OS's reason, each said once (the error keeps its causes as sources, which a plain chain
/// printer would repeat).
#[test]
fn an_unreachable_openbao_is_reported_once_with_its_cause() {
    let home = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = Command::new(env!("CARGO_BIN_EXE_harmony_sso"))
        .args(["--openbao-url", &url, "--issuer", &url, "--client-id", "x"])
        .args(["--no-browser", "--yes"])
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join(".local/share"))
        .env_remove("OPENBAO_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.matches("does not answer").count(), 1, "{err}");
    assert_eq!(
        err.matches("check --openbao-url / OPENBAO_URL").count(),
        1,
        "{err}"
    );
    assert_eq!(err.matches("Connection refused").count(), 1, "{err}");
}

#[test]
fn without_docker_it_stops_at_once_and_shows_the_existing_stack_command() {
    let home = tempfile::tempdir().unwrap();
    let empty_path = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harmony_sso"))
        .arg("--yes")
        .env("PATH", empty_path.path())
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join(".local/share"))
        .env_remove("OPENBAO_URL")
        .env_remove("HARMONY_SSO_ISSUER")
        .env_remove("HARMONY_SSO_CLIENT_ID")
        .env_remove("HARMONY_USE_LOCAL_K3D")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("Docker is not installed"), "{err}");
    assert!(err.contains("--openbao-url"), "{err}");
    // Stopped before downloading anything (no pinned k3d/helm fetched).
    assert!(!home.path().join(".local/share/harmony/k3d").exists());
}

/// Waits for `needle`, keeping everything printed in `seen`.
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

#[tokio::test(flavor = "multi_thread")]
async fn without_yes_the_first_run_asks_each_field_once_and_hides_the_password() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let (bao, init) = OpenBao::start_ready().await;
    let home = tempfile::tempdir().unwrap();
    let human = Human::new("alice");
    let mut cmd = command(home.path(), &bao, &idp, &[]);
    cmd.env("OPENBAO_ADMIN_TOKEN", &init.root_token);

    let mut p = spawn(cmd);
    let mut seen = String::new();
    let (before, found) = p
        .exp_regex(r"open this address in a browser:\s+(\S+)")
        .unwrap_or_else(|e| panic!("no device code: {e}"));
    seen.push_str(&before);
    human.start(
        found.split_whitespace().last().unwrap(),
        HumanAction::Approve,
        Duration::ZERO,
    );
    expect(&mut p, &mut seen, "The service's public URL");
    answer(&mut p, "https://svc.team\r");
    expect(&mut p, &mut seen, "How many replicas to run");
    answer(&mut p, "3\r");
    expect(&mut p, &mut seen, "Database host");
    answer(&mut p, "pg.team\r");
    expect(&mut p, &mut seen, "Database port");
    answer(&mut p, "6543\r");
    expect(&mut p, &mut seen, "Database user");
    answer(&mut p, "app\r");
    expect(&mut p, &mut seen, "Database password");
    answer(&mut p, "typed-Secret-42\r");
    expect(&mut p, &mut seen, "harmony_sso summary");
    seen.push_str(&p.exp_eof().unwrap());
    assert!(
        !seen.contains("typed-Secret-42"),
        "the password was shown:\n{seen}"
    );
    assert!(
        seen.contains("(stored this run; value from your answers)"),
        "{seen}"
    );

    let db = stored(&bao, &init, "HarmonySsoDemoDatabase").await;
    assert_eq!(db["password"], "typed-Secret-42");
    assert_eq!(db["port"], 6543);
    assert_eq!(
        stored(&bao, &init, "HarmonySsoDemoService").await["replicas"],
        3
    );
}

use harmony_test_support::PrivatePki;

fn private_pki() -> PrivatePki {
    PrivatePki::new()
}

/// OpenBao behind a private CA (the IdP stays http): without `--openbao-ca-cert` the run stops
/// at the first check, naming the certificate problem and the flag, and nothing reaches the
/// IdP; with the CA (from OPENBAO_CACERT) the run signs in and stores the values in that
/// OpenBao; `whoami --openbao-ca-cert` uses the same session.
#[tokio::test(flavor = "multi_thread")]
async fn an_openbao_behind_a_private_ca_needs_its_ca_then_the_loop_runs() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let pki = private_pki();
    let bao = OpenBao::start_tls(harmony_test_support::BaoTls {
        cert_pem: pki.cert.clone(),
        key_pem: pki.key.clone(),
        ca_pem: pki.ca.clone(),
        ..Default::default()
    })
    .await;
    let init = bao.init_unseal().await;
    let home = tempfile::tempdir().unwrap();
    let human = Human::new("alice");
    let with_admin = |args: &[&str]| {
        let mut cmd = command(home.path(), &bao, &idp, args);
        cmd.env("OPENBAO_ADMIN_TOKEN", &init.root_token);
        cmd
    };

    let (ok, status, out) = run_to_end(with_admin(&["--yes"]), &human);
    eprintln!("--- without the CA ---\n{out}");
    assert!(!ok, "ran without the CA ({status}):\n{out}");
    assert!(
        out.contains("not signed by a CA this machine trusts"),
        "{out}"
    );
    assert!(out.contains("--openbao-ca-cert (OPENBAO_CACERT)"), "{out}");
    assert!(out.contains("UnknownIssuer"), "{out}");
    assert!(!out.contains(&init.root_token), "{out}");
    assert!(idp.requests().is_empty(), "the IdP was asked: {out}");
    let auths = bao.api_ok(&init.root_token, "GET", "sys/auth", None).await;
    assert!(auths["data"]["jwt/"].is_null(), "{auths}");

    let mut cmd = with_admin(&["--yes"]);
    cmd.env("OPENBAO_CACERT", &pki.ca);
    let first = run(cmd, &human);
    assert!(first.contains("via device flow"), "{first}");
    assert!(
        first.contains("[changed  ] OpenBao setup (admin token)"),
        "{first}"
    );
    assert_eq!(device_authorizations(&idp), 1, "{first}");
    assert_eq!(
        stored(&bao, &init, "HarmonySsoDemoService").await["replicas"],
        2
    );

    let ca = pki.ca.to_str().unwrap();
    let who = run(
        command(
            home.path(),
            &bao,
            &idp,
            &["whoami", "--openbao-ca-cert", ca],
        ),
        &human,
    );
    assert!(who.contains("jwt-alice@"), "{who}");
    assert_eq!(device_authorizations(&idp), 1, "{who}");
}

/// OpenBao requiring a client certificate (mutual TLS): without one the run names
/// `--openbao-client-cert`; with `--openbao-client-cert/--openbao-client-key` (and the CA) it
/// runs, and `whoami` with the same flags reuses the session.
#[tokio::test(flavor = "multi_thread")]
async fn an_openbao_requiring_a_client_certificate_gets_it_from_the_flags() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let pki = private_pki();
    let bao = OpenBao::start_tls(harmony_test_support::BaoTls {
        cert_pem: pki.cert.clone(),
        key_pem: pki.key.clone(),
        ca_pem: pki.ca.clone(),
        client_ca_pem: Some(pki.ca.clone()),
        fixture_client: Some((pki.client_cert.clone(), pki.client_key.clone())),
    })
    .await;
    let init = bao.init_unseal().await;
    let home = tempfile::tempdir().unwrap();
    let human = Human::new("bob");
    let ca = pki.ca.to_str().unwrap();
    let with_admin = |args: &[&str]| {
        let mut cmd = command(home.path(), &bao, &idp, args);
        cmd.env("OPENBAO_ADMIN_TOKEN", &init.root_token)
            .args(["--openbao-ca-cert", ca]);
        cmd
    };

    let (ok, status, out) = run_to_end(with_admin(&["--yes"]), &human);
    eprintln!("--- without a client certificate ---\n{out}");
    assert!(!ok, "ran without a client certificate ({status}):\n{out}");
    assert!(
        out.contains("--openbao-client-cert and --openbao-client-key"),
        "{out}"
    );
    // The server's `certificate_required` alert (TLS 1.3) may arrive after our side of the
    // handshake is done: then the error is a closed connection instead, and the message says
    // the flags as a possibility. Either way it names them (asserted above) and no more.
    assert!(
        out.contains("CertificateRequired")
            || out.contains("if the server requires a TLS client certificate"),
        "{out}"
    );
    assert!(idp.requests().is_empty(), "the IdP was asked: {out}");

    let tls_args = [
        "--openbao-client-cert",
        pki.client_cert.to_str().unwrap(),
        "--openbao-client-key",
        pki.client_key.to_str().unwrap(),
    ];
    let mut args = vec!["--yes"];
    args.extend(tls_args);
    let first = run(with_admin(&args), &human);
    assert!(first.contains("via device flow"), "{first}");
    assert_eq!(
        stored(&bao, &init, "HarmonySsoDemoDatabase").await["password"]
            .as_str()
            .map(str::len),
        Some(24)
    );
    let mut args = vec!["whoami"];
    args.extend(tls_args);
    let who = run(with_admin(&args), &human);
    assert!(who.contains("jwt-bob@"), "{who}");
    assert_eq!(device_authorizations(&idp), 1, "{who}");
}

/// `--openbao-namespace`: the admin setup, the sign-in and the values all live in that OpenBao
/// namespace (read back by path from the root namespace), none in the root; `whoami` with the
/// same flag reuses the session.
#[tokio::test(flavor = "multi_thread")]
async fn an_openbao_namespace_holds_the_jwt_auth_and_the_values() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let bao = OpenBao::start().await;
    let init = bao.init_unseal().await;
    bao.api_ok(&init.root_token, "POST", "sys/namespaces/team-a", None)
        .await;
    let home = tempfile::tempdir().unwrap();
    let human = Human::new("alice");
    let with_admin = |args: &[&str]| {
        let mut cmd = command(home.path(), &bao, &idp, args);
        cmd.env("OPENBAO_ADMIN_TOKEN", &init.root_token)
            .env("OPENBAO_NAMESPACE", "team-a");
        cmd
    };

    let first = run(with_admin(&["--yes"]), &human);
    assert!(first.contains("via device flow"), "{first}");
    let in_ns = bao
        .api_ok(
            &init.root_token,
            "GET",
            "team-a/secret/data/harmony/HarmonySsoDemoService",
            None,
        )
        .await;
    assert_eq!(in_ns["data"]["data"]["replicas"], 2, "{in_ns}");
    let (status, root_auth) = bao
        .api(Some(&init.root_token), "GET", "sys/auth", None)
        .await;
    assert_eq!(status, 200);
    assert!(root_auth["data"]["jwt/"].is_null(), "{root_auth}");
    let ns_role = bao
        .api_ok(
            &init.root_token,
            "GET",
            "team-a/auth/jwt/role/harmony-developer",
            None,
        )
        .await;
    assert_eq!(
        ns_role["data"]["bound_audiences"],
        serde_json::json!([idp.client_id()])
    );

    let who = run(with_admin(&["whoami"]), &human);
    assert!(who.contains("jwt-alice@"), "{who}");
    assert_eq!(device_authorizations(&idp), 1, "{who}");
}
