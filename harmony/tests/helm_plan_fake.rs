//! The plan of a Helm release against a fake `helm` executable recording its arguments: the
//! generated values are compared with `helm get values -o json`, and no command that changes
//! anything runs.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use harmony::modules::helm::{HelmChartScore, HelmRepository};
use harmony::plan::ChangeKind;
use harmony::topology::HelmCommand;
use serde_json::json;

struct FakeHelm {
    dir: tempfile::TempDir,
}

impl FakeHelm {
    fn new(list_json: &str, values_json: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("list.json"), list_json).unwrap();
        std::fs::write(dir.path().join("values.json"), values_json).unwrap();
        let script = format!(
            "#!/bin/sh\nd=\"{dir}\"\necho \"$*\" >> \"$d/calls\"\ncase \"$*\" in\n  *\" list \"*) cat \"$d/list.json\";;\n  *\" get values \"*) cat \"$d/values.json\";;\nesac\n",
            dir = dir.path().display()
        );
        let helm = dir.path().join("helm");
        std::fs::write(&helm, script).unwrap();
        std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl HelmCommand for FakeHelm {
    fn helm_command(&self) -> std::process::Command {
        harmony::infra::helm::bound_helm_command(
            &self.dir.path().join("helm"),
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
        "0.29.2",
    )
    .with_values(json!({"server": {"replicas": 3, "image": {"tag": "2.6.2"}},
                        "db": {"password": "NEW-SECRET"}}))
}

const LIST: &str = r#"[{"name":"openbao","namespace":"openbao","revision":"2","status":"deployed","chart":"openbao-0.29.1","app_version":"v2.6.1"}]"#;

#[tokio::test]
async fn a_release_plan_names_the_changed_values_and_chart_masks_secrets_and_only_reads() {
    let helm = FakeHelm::new(
        LIST,
        r#"{"server":{"replicas":1,"image":{"tag":"2.6.2"}},"db":{"password":"OLD-SECRET"},"extra":true}"#,
    );
    let change = score().plan_release(&helm).await.unwrap();
    assert_eq!(change.kind, ChangeKind::Change);
    let shown: Vec<String> = change.keys.iter().map(ToString::to_string).collect();
    assert!(
        shown.contains(&"~ chart: openbao-0.29.1 -> openbao-0.29.2".to_string()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"~ values.server.replicas: 1 -> 3".to_string()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"- values.extra: true".to_string()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"~ values.db.password: (sensitive) -> (sensitive)".to_string()),
        "{shown:?}"
    );
    assert!(!shown.join(" ").contains("SECRET"));
    let calls = helm.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].contains(" list "), "{calls:?}");
    assert!(calls[1].contains(" get values openbao "), "{calls:?}");
}

#[tokio::test]
async fn an_absent_release_is_created_and_an_identical_one_unchanged() {
    let helm = FakeHelm::new("[]", "");
    let change = score().plan_release(&helm).await.unwrap();
    assert_eq!(change.kind, ChangeKind::Create);
    assert_eq!(helm.calls().len(), 1);

    let list = LIST.replace("openbao-0.29.1", "openbao-0.29.2");
    let helm = FakeHelm::new(
        &list,
        r#"{"server":{"replicas":3,"image":{"tag":"2.6.2"}},"db":{"password":"NEW-SECRET"}}"#,
    );
    let change = score().plan_release(&helm).await.unwrap();
    assert_eq!(change.kind, ChangeKind::Unchanged, "{:?}", change.keys);
}
