//! `HelmChartScore` against a fake `helm` executable (a shell script recording its arguments):
//! a release already at the pinned version with the same values is a Noop and runs no
//! upgrade; otherwise `repo add`, `repo update` and `upgrade --install` run with the values file.
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
            "--kubeconfig /kc.yaml --kube-context k3d-harmony list --namespace openbao --filter ^openbao$ --output json",
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
