//! `HelmChartScore` against a fake `helm` executable (a shell script recording its arguments):
//! a release already at the pinned version with the same values is a Noop and runs no
//! upgrade; otherwise `repo add`, `repo update` and `upgrade --install` run with the values file.
//! A release stuck in `pending-*` (only listed with `--all`) is rolled back or uninstalled
//! after confirmation before the upgrade.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use harmony::interpret::InterpretStatus;
use harmony::modules::helm::{HelmChartScore, HelmRepository};
use harmony::topology::HelmCommand;
use serde_json::json;

struct FakeHelm {
    dir: tempfile::TempDir,
}

impl FakeHelm {
    /// `list_json`/`values_json`: what `helm list`/`helm get values` print.
    fn new(list_json: &str, values_json: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("list.json"), list_json).unwrap();
        std::fs::write(dir.path().join("values.json"), values_json).unwrap();
        let script = format!(
            r#"#!/bin/sh
d="{dir}"
echo "$*" >> "$d/calls"
for a in "$@"; do
  case "$prev" in --values)
    cp "$a" "$d/passed-values.json"
    echo "$a" > "$d/values-path"
    stat -c '%a' "$a" > "$d/values-mode"
    stat -c '%a' "$(dirname "$a")" > "$d/values-dir-mode";;
  esac
  prev="$a"
done
case "$*" in
  *" list "*) cat "$d/list.json";;
  *" history "*) cat "$d/history.json";;
  *" rollback "*|*" uninstall "*) cp "$d/list-after-repair.json" "$d/list.json";;
  *" get values "*) cat "$d/values.json";;
esac
"#,
            dir = dir.path().display()
        );
        let helm = dir.path().join("helm");
        std::fs::write(&helm, script).unwrap();
        std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    /// A release stuck in a `pending-*` status: `history` prints `history_json`, and after a
    /// rollback/uninstall `list` prints `list_after_repair`.
    fn stuck(list_json: &str, history_json: &str, list_after_repair: &str, values: &str) -> Self {
        let helm = Self::new(list_json, values);
        std::fs::write(helm.path("history.json"), history_json).unwrap();
        std::fs::write(helm.path("list-after-repair.json"), list_after_repair).unwrap();
        helm
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl HelmCommand for FakeHelm {
    fn helm_command(&self) -> std::process::Command {
        harmony::infra::helm::bound_helm_command(
            &self.path("helm"),
            Some(Path::new("/kc.yaml")),
            Some("k3d-harmony"),
        )
    }
}

fn score() -> HelmChartScore {
    HelmChartScore::new(
        "openbao",
        "openbao",
        HelmRepository::new("openbao", "https://openbao.github.io/openbao-helm"),
        "openbao",
        "0.19.0",
    )
    .with_values(
        json!({"server": {"standalone": {"enabled": true}}, "injector": {"enabled": false}}),
    )
    .with_wait(Duration::from_secs(120))
}

const LIST: &str = r#"[{"name":"openbao","namespace":"openbao","revision":"1","updated":"2026-11-20 10:12:01 +0000 UTC","status":"deployed","chart":"openbao-0.19.0","app_version":"v2.4.1"}]"#;

#[tokio::test]
async fn same_version_and_values_is_a_noop_without_upgrade() {
    let helm = FakeHelm::new(
        LIST,
        r#"{"injector":{"enabled":false},"server":{"standalone":{"enabled":true}}}"#,
    );
    let outcome = score().deploy(&helm).await.unwrap();
    assert_eq!(outcome.status, InterpretStatus::Noop, "{outcome:?}");
    assert_eq!(
        helm.calls(),
        [
            "--kubeconfig /kc.yaml --kube-context k3d-harmony list --namespace openbao --filter ^openbao$ --all --output json",
            "--kubeconfig /kc.yaml --kube-context k3d-harmony get values openbao --namespace openbao --output json",
        ]
    );
}

#[tokio::test]
async fn changed_values_upgrade_with_a_json_values_file() {
    let helm = FakeHelm::new(LIST, r#"{"injector":{"enabled":true}}"#);
    let outcome = score().deploy(&helm).await.unwrap();
    assert_eq!(outcome.status, InterpretStatus::Success);
    let calls = helm.calls();
    assert_eq!(calls.len(), 5, "{calls:?}");
    assert!(
        calls[2]
            .ends_with("repo add openbao https://openbao.github.io/openbao-helm --force-update")
    );
    assert!(calls[3].ends_with("repo update openbao"));
    assert!(calls[4].contains(
        "upgrade --install openbao openbao/openbao --version 0.19.0 --namespace openbao --create-namespace --values "
    ));
    assert!(calls[4].ends_with("--wait --timeout 120s"));
    let passed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(helm.path("passed-values.json")).unwrap())
            .unwrap();
    assert_eq!(passed, score().values);
}

#[tokio::test]
async fn the_values_file_is_private_while_helm_runs_and_removed_after() {
    let helm = FakeHelm::new("[]", "");
    score().deploy(&helm).await.unwrap();
    let read = |name: &str| {
        std::fs::read_to_string(helm.path(name))
            .unwrap()
            .trim()
            .to_string()
    };
    // Values can hold passwords (e.g. a chart's admin password).
    assert_eq!(read("values-mode"), "600");
    assert_eq!(read("values-dir-mode"), "700");
    let values_path = PathBuf::from(read("values-path"));
    assert!(!values_path.exists(), "values file left behind");
    assert!(
        !values_path.parent().unwrap().exists(),
        "values folder left behind"
    );
}

#[tokio::test]
async fn the_values_file_is_removed_when_helm_fails() {
    let helm = FakeHelm::new("[]", "");
    // Fails on `upgrade` only, after having seen the values file.
    let script = std::fs::read_to_string(helm.path("helm")).unwrap().replace(
        "case \"$*\" in",
        "case \"$*\" in\n  *\" upgrade \"*) exit 1;;",
    );
    std::fs::write(helm.path("helm"), script).unwrap();
    assert!(score().deploy(&helm).await.is_err());
    let values_path = PathBuf::from(
        std::fs::read_to_string(helm.path("values-path"))
            .unwrap()
            .trim(),
    );
    assert!(!values_path.exists(), "values file left behind");
}

#[tokio::test]
async fn a_new_release_is_installed() {
    let helm = FakeHelm::new("[]", "");
    let outcome = score().deploy(&helm).await.unwrap();
    assert_eq!(outcome.status, InterpretStatus::Success);
    let calls = helm.calls();
    assert!(!calls.iter().any(|c| c.contains("get values")), "{calls:?}");
    assert!(calls.last().unwrap().contains("upgrade --install"));
}

#[tokio::test]
async fn a_helm_failure_names_the_command() {
    let helm = FakeHelm::new("not json", "");
    let err = score().deploy(&helm).await.unwrap_err();
    assert!(err.to_string().contains("helm list"), "{err}");
}

/// A failing helm reaches the caller as a kind it can match, with helm's exit status and
/// stderr (not only a message to search).
#[tokio::test]
async fn a_helm_failure_is_a_helm_kind_with_its_stderr() {
    use harmony::infra::helm::HelmError;
    use harmony::interpret::InterpretError;
    use harmony::topology::CapabilityError;
    let helm = FakeHelm::new("[]", "");
    let script = std::fs::read_to_string(helm.path("helm")).unwrap().replace(
        "case \"$*\" in",
        "case \"$*\" in\n  *\" upgrade \"*) echo 'Error: UPGRADE FAILED: boom' >&2; exit 1;;",
    );
    std::fs::write(helm.path("helm"), script).unwrap();
    let err = score().deploy(&helm).await.unwrap_err();
    match &err {
        InterpretError::CapabilityFailed(CapabilityError::Helm(HelmError::Failed {
            command,
            status,
            stderr,
        })) => {
            assert!(command.contains("upgrade --install"), "{command}");
            assert_eq!(status.code(), Some(1));
            assert_eq!(stderr, "Error: UPGRADE FAILED: boom");
        }
        other => panic!("expected a helm failure, got {other:?}"),
    }
    assert!(err.to_string().contains("UPGRADE FAILED: boom"), "{err}");
}

struct Answer(bool, std::sync::Mutex<Vec<String>>);

impl Answer {
    fn new(yes: bool) -> Self {
        Self(yes, Default::default())
    }
    fn questions(&self) -> Vec<String> {
        self.1.lock().unwrap().clone()
    }
}

impl harmony::maestro::Confirm for Answer {
    fn confirm(&self, question: &str) -> Result<bool, harmony::maestro::MaestroError> {
        self.1.lock().unwrap().push(question.to_string());
        Ok(self.0)
    }
}

/// `helm history -o json` after an upgrade to revision 3 was interrupted long ago (helm 3.19
/// shape; dates well in the past, whatever the clock says, so the release counts as stuck).
const HISTORY_PENDING_UPGRADE: &str = r#"[
 {"revision":1,"updated":"2020-11-20T10:12:01Z","status":"superseded","chart":"openbao-0.18.0","app_version":"v2.4.0","description":"Install complete"},
 {"revision":2,"updated":"2020-11-21T10:12:01Z","status":"deployed","chart":"openbao-0.19.0","app_version":"v2.4.1","description":"Upgrade complete"},
 {"revision":3,"updated":"2020-11-22T10:12:01Z","status":"pending-upgrade","chart":"openbao-0.19.0","app_version":"v2.4.1","description":"Preparing upgrade"}]"#;

fn list_with_status(status: &str) -> String {
    LIST.replace("\"deployed\"", &format!("\"{status}\""))
}

#[tokio::test]
async fn a_release_stuck_in_pending_upgrade_is_rolled_back_then_upgraded() {
    let helm = FakeHelm::stuck(
        &list_with_status("pending-upgrade"),
        HISTORY_PENDING_UPGRADE,
        LIST,
        r#"{"injector":{"enabled":true}}"#,
    );
    let answer = Answer::new(true);
    let outcome = score().deploy_confirming(&helm, &answer).await.unwrap();
    assert_eq!(outcome.status, InterpretStatus::Success);
    let calls = helm.calls();
    let rollback = calls
        .iter()
        .position(|c| c.contains(" rollback "))
        .expect("no rollback");
    assert!(
        calls[rollback].ends_with("rollback openbao 2 --namespace openbao --wait --timeout 120s"),
        "{calls:?}"
    );
    let upgrade = calls
        .iter()
        .position(|c| c.contains("upgrade --install"))
        .expect("no upgrade");
    assert!(rollback < upgrade, "{calls:?}");
    let questions = answer.questions();
    assert_eq!(questions.len(), 1);
    assert!(questions[0].contains("pending-upgrade"), "{questions:?}");
    assert!(questions[0].contains("revision 2"), "{questions:?}");
    assert!(
        outcome.message.contains("rolled back to revision 2"),
        "{}",
        outcome.message
    );
}

#[tokio::test]
async fn a_release_stuck_before_ever_deploying_is_uninstalled_then_installed() {
    let history = r#"[{"revision":1,"updated":"2020-11-20T10:12:01Z","status":"pending-install","chart":"openbao-0.19.0","app_version":"v2.4.1","description":"Initial install underway"}]"#;
    let helm = FakeHelm::stuck(&list_with_status("pending-install"), history, "[]", "");
    let outcome = score()
        .deploy_confirming(&helm, &Answer::new(true))
        .await
        .unwrap();
    let calls = helm.calls();
    let uninstall = calls
        .iter()
        .position(|c| c.contains(" uninstall "))
        .expect("no uninstall");
    assert!(calls[uninstall].contains("uninstall openbao --namespace openbao --wait"));
    assert!(
        calls.last().unwrap().contains("upgrade --install"),
        "{calls:?}"
    );
    assert!(
        outcome.message.contains("uninstalled"),
        "{}",
        outcome.message
    );
}

#[tokio::test]
async fn a_declined_repair_changes_nothing_and_says_how_to_repair() {
    let helm = FakeHelm::stuck(
        &list_with_status("pending-upgrade"),
        HISTORY_PENDING_UPGRADE,
        LIST,
        "",
    );
    let err = score()
        .deploy_confirming(&helm, &Answer::new(false))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("pending-upgrade"), "{err}");
    assert!(
        err.contains("helm rollback openbao 2 --namespace openbao"),
        "{err}"
    );
    let calls = helm.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.contains(" rollback ") || c.contains(" upgrade ")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn with_yes_the_runner_repairs_without_asking() {
    use harmony::maestro::{Args, Maestro};
    use harmony::score::Score;
    // The runner's own confirmation would refuse: --yes must answer every question.
    struct Refuse;
    impl harmony::maestro::Confirm for Refuse {
        fn confirm(&self, q: &str) -> Result<bool, harmony::maestro::MaestroError> {
            panic!("asked {q:?} despite --yes")
        }
    }
    let helm = FakeHelm::stuck(
        &list_with_status("pending-upgrade"),
        HISTORY_PENDING_UPGRADE,
        LIST,
        r#"{"injector":{"enabled":true}}"#,
    );
    let topology = FakeTopology(helm);
    let maestro =
        Maestro::new(harmony::inventory::Inventory::empty(), topology).with_confirm(Refuse);
    let scores: Vec<Box<dyn Score<FakeTopology>>> = vec![Box::new(score())];
    let args = Args {
        yes: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    let summary = maestro.run(&scores, &args, &mut out).await.unwrap();
    assert!(
        summary.reports[0].message.contains("rolled back"),
        "{summary:?}"
    );
    assert!(
        maestro
            .topology()
            .0
            .calls()
            .iter()
            .any(|c| c.contains(" rollback openbao 2 "))
    );
}

struct FakeTopology(FakeHelm);

#[async_trait::async_trait]
impl harmony::topology::Topology for FakeTopology {
    fn name(&self) -> &str {
        "fake-helm"
    }
    async fn ensure_ready(
        &self,
    ) -> Result<harmony::topology::PreparationOutcome, harmony::topology::PreparationError> {
        Ok(harmony::topology::PreparationOutcome::Noop)
    }
}

impl HelmCommand for FakeTopology {
    fn helm_command(&self) -> std::process::Command {
        self.0.helm_command()
    }
}

fn pending_just_now() -> FakeHelm {
    // Another helm (a colleague, a CI job) started this upgrade a moment ago.
    let just_now = k8s_openapi::jiff::Timestamp::now().to_string();
    let history = HISTORY_PENDING_UPGRADE.replace("2020-11-22T10:12:01Z", &just_now);
    FakeHelm::stuck(&list_with_status("pending-upgrade"), &history, LIST, "")
}

#[tokio::test]
async fn with_yes_a_release_pending_for_less_than_the_helm_timeout_is_left_alone() {
    let helm = pending_just_now();
    let err = score()
        .deploy_confirming(&helm, &harmony::maestro::AssumeYes)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("may still be running"), "{err}");
    assert!(err.contains("helm rollback openbao 2"), "{err}");
    let calls = helm.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.contains(" rollback ") || c.contains(" upgrade ")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_person_is_warned_that_a_recent_pending_release_may_still_be_running() {
    let helm = pending_just_now();
    let answer = Answer::new(true);
    score().deploy_confirming(&helm, &answer).await.unwrap();
    let questions = answer.questions();
    assert_eq!(questions.len(), 1);
    assert!(
        questions[0].contains("may still be running"),
        "{questions:?}"
    );
    assert!(
        helm.calls()
            .iter()
            .any(|c| c.contains(" rollback openbao 2 "))
    );
}

#[tokio::test]
async fn the_runner_with_yes_leaves_a_recent_pending_release_alone() {
    use harmony::maestro::{Args, Maestro};
    use harmony::score::Score;
    let topology = FakeTopology(pending_just_now());
    let maestro = Maestro::new(harmony::inventory::Inventory::empty(), topology)
        .with_confirm(Answer::new(true));
    let scores: Vec<Box<dyn Score<FakeTopology>>> = vec![Box::new(score())];
    let args = Args {
        yes: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    let result = maestro.run(&scores, &args, &mut out).await;
    assert!(result.is_err(), "{result:?}");
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("may still be running"), "{out}");
    assert!(
        !maestro
            .topology()
            .0
            .calls()
            .iter()
            .any(|c| c.contains(" rollback ")),
        "rolled back another helm's upgrade"
    );
}
