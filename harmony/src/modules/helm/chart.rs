//! [`HelmChartScore`]: a pinned chart release, installed or upgraded with `helm upgrade --install`.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::infra::helm::{HelmError, run_helm};
use crate::interpret::{Interpret, InterpretError, Outcome};
use crate::inventory::Inventory;
use crate::maestro::{Confirm, MaestroError, confirm_during_run};
use crate::score::Score;
use crate::topology::{HelmCommand, Topology};

/// A chart repository, added with `helm repo add <name> <url>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelmRepository {
    /// Local alias of the repository, the `<repo>` in `<repo>/<chart>`.
    pub name: String,
    /// Repository URL, e.g. `https://charts.zitadel.com`.
    pub url: String,
}

impl HelmRepository {
    /// A repository named `name` (the local alias) served at `url`.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
        }
    }
}

/// A Helm release of a pinned chart version with typed values.
///
/// Idempotent: when the deployed release already runs `chart_version` with exactly these
/// values (`helm list` + `helm get values`), nothing is run and the outcome is `Noop`.
/// Values are passed to helm as a JSON file (JSON is YAML), so no YAML crate is needed and the
/// values compare exactly with `helm get values -o json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HelmChartScore {
    /// Name of the Helm release.
    pub release_name: String,
    /// Namespace the release is installed in.
    pub namespace: String,
    /// Where the chart comes from.
    pub repository: HelmRepository,
    /// Chart name inside the repository, e.g. `cloudnative-pg`.
    pub chart: String,
    /// The exact chart version (never "latest").
    pub chart_version: String,
    /// `--create-namespace`: create [`Self::namespace`] when missing (on by default).
    pub create_namespace: bool,
    /// The release's values (an object; `{}` for none).
    pub values: serde_json::Value,
    /// `--wait --timeout <t>`: return only once the release's resources are ready.
    pub wait: Option<Duration>,
}

/// What `helm list` + `helm get values` say about a deployed release.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeployedRelease {
    /// `<chart>-<version>`, as `helm list` prints it.
    pub chart: String,
    pub status: String,
    pub values: serde_json::Value,
}

/// Release statuses left by an interrupted helm run (killed, timed out, lost connection).
/// `helm list` hides them without `--all`, and they block the next `upgrade --install` with
/// "another operation (install/upgrade/rollback) is in progress".
pub(crate) const STUCK_STATUSES: &[&str] =
    &["pending-install", "pending-upgrade", "pending-rollback"];

/// How a stuck release is repaired before it is upgraded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StuckRepair {
    /// `helm rollback <release> <revision>`: back to the last revision that was deployed.
    Rollback { status: String, revision: u64 },
    /// `helm uninstall <release>`: it never deployed, so there is nothing to go back to.
    Uninstall { status: String },
}

impl StuckRepair {
    fn status(&self) -> &str {
        match self {
            StuckRepair::Rollback { status, .. } | StuckRepair::Uninstall { status } => status,
        }
    }

    fn action(&self) -> String {
        match self {
            StuckRepair::Rollback { revision, .. } => {
                format!("roll it back to revision {revision} (the last one deployed)")
            }
            StuckRepair::Uninstall { .. } => {
                "uninstall it (no revision was ever deployed) and install it again".to_string()
            }
        }
    }

    /// What was done, for the outcome.
    fn done(&self) -> String {
        match self {
            StuckRepair::Rollback { status, revision } => {
                format!("was stuck in {status}: rolled back to revision {revision}")
            }
            StuckRepair::Uninstall { status } => {
                format!("was stuck in {status} and never deployed: uninstalled, then installed")
            }
        }
    }
}

fn normalize_values(v: serde_json::Value) -> serde_json::Value {
    if v.is_null() {
        serde_json::json!({})
    } else {
        v
    }
}

impl HelmChartScore {
    /// A release with no values, no wait, namespace created if missing.
    pub fn new(
        release_name: impl Into<String>,
        namespace: impl Into<String>,
        repository: HelmRepository,
        chart: impl Into<String>,
        chart_version: impl Into<String>,
    ) -> Self {
        Self {
            release_name: release_name.into(),
            namespace: namespace.into(),
            repository,
            chart: chart.into(),
            chart_version: chart_version.into(),
            create_namespace: true,
            values: serde_json::json!({}),
            wait: None,
        }
    }

    /// Replaces the release's values (a JSON object).
    pub fn with_values(mut self, values: serde_json::Value) -> Self {
        self.values = values;
        self
    }

    /// Waits up to `timeout` for the release's resources to be ready (`--wait --timeout`).
    pub fn with_wait(mut self, timeout: Duration) -> Self {
        self.wait = Some(timeout);
        self
    }

    /// `<repo>/<chart>`.
    pub fn chart_ref(&self) -> String {
        format!("{}/{}", self.repository.name, self.chart)
    }

    fn validate(&self) -> Result<(), InterpretError> {
        let v = self.chart_version.trim();
        if v.is_empty() || v == "latest" || v.contains(['*', '^', '~', '>', '<']) {
            return Err(InterpretError::InvalidScore(format!(
                "chart {} needs an exact version, got {:?}",
                self.chart_ref(),
                self.chart_version
            )));
        }
        if !self.values.is_object() {
            return Err(InterpretError::InvalidScore(format!(
                "values of release {} must be an object",
                self.release_name
            )));
        }
        Ok(())
    }

    /// Arguments of `helm repo add <name> <url> --force-update`.
    pub fn repo_add_args(&self) -> Vec<String> {
        vec![
            "repo".into(),
            "add".into(),
            self.repository.name.clone(),
            self.repository.url.clone(),
            "--force-update".into(),
        ]
    }

    pub(crate) fn repo_update_args(&self) -> Vec<String> {
        vec!["repo".into(), "update".into(), self.repository.name.clone()]
    }

    /// Arguments of `helm list` for this release only, stuck ones included, as JSON.
    pub fn list_args(&self) -> Vec<String> {
        vec![
            "list".into(),
            "--namespace".into(),
            self.namespace.clone(),
            "--filter".into(),
            format!("^{}$", self.release_name),
            // Without --all, releases stuck in pending-* are not listed.
            "--all".into(),
            "--output".into(),
            "json".into(),
        ]
    }

    pub(crate) fn history_args(&self) -> Vec<String> {
        vec![
            "history".into(),
            self.release_name.clone(),
            "--namespace".into(),
            self.namespace.clone(),
            "--output".into(),
            "json".into(),
        ]
    }

    /// The helm command that repairs a stuck release.
    pub(crate) fn repair_args(&self, repair: &StuckRepair) -> Vec<String> {
        let mut args: Vec<String> = match repair {
            StuckRepair::Rollback { revision, .. } => vec![
                "rollback".into(),
                self.release_name.clone(),
                revision.to_string(),
            ],
            StuckRepair::Uninstall { .. } => vec!["uninstall".into(), self.release_name.clone()],
        };
        args.extend([
            "--namespace".into(),
            self.namespace.clone(),
            "--wait".into(),
        ]);
        if let Some(timeout) = self.wait {
            args.push("--timeout".into());
            args.push(format!("{}s", timeout.as_secs()));
        }
        args
    }

    /// Decides how to repair a release stuck in `status`, from `helm history -o json`: roll
    /// back to the newest revision that was deployed, or uninstall when none ever was.
    pub(crate) fn plan_repair(
        &self,
        status: &str,
        history_json: &str,
    ) -> Result<StuckRepair, HelmError> {
        let history: serde_json::Value =
            serde_json::from_str(history_json.trim()).map_err(|source| {
                HelmError::UnexpectedOutput {
                    subcommand: "history",
                    source,
                }
            })?;
        let revision = history
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                matches!(
                    r.get("status").and_then(|s| s.as_str()),
                    Some("deployed" | "superseded")
                )
            })
            .filter_map(|r| r.get("revision").and_then(|v| v.as_u64()))
            .max();
        Ok(match revision {
            Some(revision) => StuckRepair::Rollback {
                status: status.to_string(),
                revision,
            },
            None => StuckRepair::Uninstall {
                status: status.to_string(),
            },
        })
    }

    /// How long a `pending-*` revision may belong to a helm that is still running: helm gives
    /// up (and marks the release failed) after its `--timeout` (5 minutes by default), plus a
    /// margin for clock skew. Only an older pending revision is stuck.
    pub(crate) fn busy_window(&self) -> Duration {
        self.wait.unwrap_or(Duration::from_secs(300)) + Duration::from_secs(60)
    }

    /// How long ago the newest revision in `helm history -o json` was last updated, at `now`
    /// (`None` when helm did not say, or said something unreadable).
    pub(crate) fn pending_age(
        history_json: &str,
        now: k8s_openapi::jiff::Timestamp,
    ) -> Option<Duration> {
        let history: serde_json::Value = serde_json::from_str(history_json.trim()).ok()?;
        let newest = history
            .as_array()?
            .iter()
            .max_by_key(|r| r.get("revision").and_then(|v| v.as_u64()))?;
        let updated: k8s_openapi::jiff::Timestamp =
            newest.get("updated")?.as_str()?.parse().ok()?;
        let age = now.duration_since(updated);
        Some(Duration::try_from(age).unwrap_or(Duration::ZERO))
    }

    pub(crate) fn get_values_args(&self) -> Vec<String> {
        vec![
            "get".into(),
            "values".into(),
            self.release_name.clone(),
            "--namespace".into(),
            self.namespace.clone(),
            "--output".into(),
            "json".into(),
        ]
    }

    /// `helm upgrade --install` with the values file at `values_file`.
    pub fn upgrade_args(&self, values_file: &str) -> Vec<String> {
        let mut args = vec![
            "upgrade".into(),
            "--install".into(),
            self.release_name.clone(),
            self.chart_ref(),
            "--version".into(),
            self.chart_version.clone(),
            "--namespace".into(),
            self.namespace.clone(),
        ];
        if self.create_namespace {
            args.push("--create-namespace".into());
        }
        args.push("--values".into());
        args.push(values_file.into());
        if let Some(timeout) = self.wait {
            args.push("--wait".into());
            args.push("--timeout".into());
            args.push(format!("{}s", timeout.as_secs()));
        }
        args
    }

    /// Reads the release from `helm list -o json` output and `helm get values -o json` output.
    pub(crate) fn parse_deployed(
        &self,
        list_json: &str,
        values_json: &str,
    ) -> Result<Option<DeployedRelease>, HelmError> {
        let list: serde_json::Value = serde_json::from_str(list_json.trim()).map_err(|source| {
            HelmError::UnexpectedOutput {
                subcommand: "list",
                source,
            }
        })?;
        let Some(release) = list.as_array().and_then(|l| {
            l.iter().find(|r| {
                r.get("name").and_then(|n| n.as_str()) == Some(self.release_name.as_str())
            })
        }) else {
            return Ok(None);
        };
        let s = |k: &str| {
            release
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let values = if values_json.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(values_json.trim()).map_err(|source| {
                HelmError::UnexpectedOutput {
                    subcommand: "get values",
                    source,
                }
            })?
        };
        Ok(Some(DeployedRelease {
            chart: s("chart"),
            status: s("status"),
            values: normalize_values(values),
        }))
    }

    /// Whether the deployed release is exactly this Score.
    pub(crate) fn is_up_to_date(&self, deployed: &DeployedRelease) -> bool {
        deployed.status == "deployed"
            && deployed.chart == format!("{}-{}", self.chart, self.chart_version)
            && deployed.values == normalize_values(self.values.clone())
    }

    async fn helm(
        &self,
        topology: &impl HelmCommand,
        args: &[String],
    ) -> Result<String, HelmError> {
        let mut cmd = topology.helm_command();
        cmd.args(args);
        run_helm(cmd).await
    }

    /// Installs or upgrades the release unless it is already up to date. A release stuck in
    /// a `pending-*` status is repaired first, after asking (see
    /// [`crate::maestro::confirm_during_run`]; `--yes` answers yes).
    pub async fn deploy(&self, topology: &impl HelmCommand) -> Result<Outcome, InterpretError> {
        self.deploy_confirming(topology, &RunConfirm).await
    }

    /// [`Self::deploy`], asking `confirm` before repairing a stuck release.
    pub async fn deploy_confirming(
        &self,
        topology: &impl HelmCommand,
        confirm: &dyn Confirm,
    ) -> Result<Outcome, InterpretError> {
        self.validate()?;
        let release_text = format!(
            "release {}/{} ({} {})",
            self.namespace,
            self.release_name,
            self.chart_ref(),
            self.chart_version
        );
        let mut list = self.helm(topology, &self.list_args()).await?;
        let mut repaired = None;
        if let Some(stuck) = self.parse_deployed(&list, "null")?
            && STUCK_STATUSES.contains(&stuck.status.as_str())
        {
            let history = self.helm(topology, &self.history_args()).await?;
            let repair = self.plan_repair(&stuck.status, &history)?;
            let manual = format!("helm {}", self.repair_args(&repair).join(" "));
            // A recent pending revision may be another helm (a colleague, a CI job) still at
            // work: rolling it back would break that run. Helm itself gives up after its
            // timeout, so an older one is stuck. A person may know better; `--yes` does not.
            let recent = Self::pending_age(&history, k8s_openapi::jiff::Timestamp::now())
                .filter(|age| *age < self.busy_window());
            if let Some(age) = recent
                && confirm.answers_automatically()
            {
                return Err(InterpretError::Other(format!(
                    "{release_text} has been {} for only {}s: another helm operation may still be running, so it is not repaired without asking. Nothing was changed; re-run in {}s, or without --yes, or if no helm is running, run `{manual}`",
                    repair.status(),
                    age.as_secs(),
                    (self.busy_window() - age).as_secs()
                )));
            }
            let cause = match recent {
                Some(age) => format!(
                    "last updated {}s ago: another helm (a colleague, a CI job) may still be running it, and this would break that run",
                    age.as_secs()
                ),
                None => "an earlier helm run was interrupted".to_string(),
            };
            let question = format!(
                "Helm {release_text} is stuck in {} ({cause}) and blocks every upgrade. {}?",
                repair.status(),
                capitalize(&repair.action())
            );
            let refused = |why: String| {
                InterpretError::Other(format!(
                    "{release_text} is stuck in {}: {why}; nothing was changed. Re-run and accept, or run `{manual}` yourself",
                    repair.status()
                ))
            };
            match confirm.confirm(&question) {
                Ok(true) => {}
                Ok(false) => return Err(refused("repair declined".to_string())),
                Err(e) => return Err(refused(e.to_string())),
            }
            self.helm(topology, &self.repair_args(&repair)).await?;
            log::info!("{release_text} {}", repair.done());
            repaired = Some(repair.done());
            list = self.helm(topology, &self.list_args()).await?;
        }
        let deployed = match self.parse_deployed(&list, "null")? {
            Some(_) => {
                let values = self.helm(topology, &self.get_values_args()).await?;
                self.parse_deployed(&list, &values)?
            }
            None => None,
        };
        if let Some(deployed) = deployed
            && self.is_up_to_date(&deployed)
        {
            return Ok(match repaired {
                Some(done) => {
                    Outcome::success(format!("{release_text} {done}")).with_detail("repaired", done)
                }
                None => Outcome::noop(format!("{release_text} already deployed")),
            }
            .with_detail("chart", deployed.chart));
        }

        self.helm(topology, &self.repo_add_args()).await?;
        self.helm(topology, &self.repo_update_args()).await?;
        let body = serde_json::to_vec_pretty(&self.values)
            .map_err(|e| InterpretError::Other(format!("serializing values: {e}")))?;
        // Values may hold passwords: 0600 in a 0700 folder, removed when dropped.
        let values_file = PrivateTempFile::write(
            &format!("values-{}-{}.json", self.namespace, self.release_name),
            &body,
        )
        .map_err(InterpretError::Other)?;
        let spinner = crate::progress::spinner(format!("helm upgrade --install {release_text}"));
        let result = self
            .helm(
                topology,
                &self.upgrade_args(&values_file.path().to_string_lossy()),
            )
            .await;
        spinner.finish_and_clear();
        drop(values_file);
        result?;
        let mut outcome = match &repaired {
            Some(done) => Outcome::success(format!("{release_text} {done}; installed or upgraded"))
                .with_detail("repaired", done.clone()),
            None => Outcome::success(format!("{release_text} installed or upgraded")),
        };
        outcome = outcome.with_detail("chart", format!("{}-{}", self.chart, self.chart_version));
        Ok(outcome)
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Asks through the runner ([`confirm_during_run`]).
struct RunConfirm;

impl Confirm for RunConfirm {
    fn confirm(&self, question: &str) -> Result<bool, MaestroError> {
        confirm_during_run(question)
    }

    fn answers_automatically(&self) -> bool {
        crate::maestro::run_answers_automatically()
    }
}

/// A file readable only by the current user (0600) in its own 0700 folder under the temp
/// dir (a fresh `tempfile` folder); the folder is removed when the value is dropped.
struct PrivateTempFile {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl PrivateTempFile {
    fn write(file_name: &str, bytes: &[u8]) -> Result<Self, String> {
        use std::io::Write as _;
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let dir = tempfile::Builder::new()
            .prefix("harmony-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| {
                format!(
                    "creating a private folder under {}: {e}",
                    std::env::temp_dir().display()
                )
            })?;
        let path = dir.path().join(file_name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(Self { path, _dir: dir })
    }

    fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl<T: Topology + HelmCommand> Score<T> for HelmChartScore {
    fn name(&self) -> String {
        format!("HelmChartScore[{}/{}]", self.namespace, self.release_name)
    }

    fn create_interpret(&self) -> Box<dyn Interpret<T>> {
        Box::new(self.clone())
    }
}

#[async_trait]
impl<T: Topology + HelmCommand> Interpret<T> for HelmChartScore {
    async fn plan(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<crate::plan::Plan, InterpretError> {
        Ok(crate::plan::Plan::new(vec![
            self.plan_release(topology).await?,
        ]))
    }

    async fn execute(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        self.deploy(topology).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_values_file_is_0600_in_a_0700_folder_and_gone_after_drop() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let file = PrivateTempFile::write("values-ns-rel.json", b"{\"password\":\"x\"}").unwrap();
        let dir = file.path().parent().unwrap().to_path_buf();
        assert_eq!(std::fs::read(file.path()).unwrap(), b"{\"password\":\"x\"}");
        assert_eq!(mode(file.path()), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert!(dir.starts_with(std::env::temp_dir()));
        drop(file);
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    #[test]
    fn pending_age_reads_helm_history_timestamps_with_offsets() {
        // Go's time.Time JSON (RFC 3339 with nanoseconds and the local offset), newest revision.
        let history = r#"[{"revision":1,"updated":"2026-12-01T10:00:00.5+01:00","status":"deployed"},
            {"revision":2,"updated":"2026-12-01T10:10:00.123456789+01:00","status":"pending-upgrade"}]"#;
        let now: k8s_openapi::jiff::Timestamp = "2026-12-01T09:12:00.123456789Z".parse().unwrap();
        assert_eq!(
            HelmChartScore::pending_age(history, now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(HelmChartScore::pending_age("[]", now), None);
        assert_eq!(
            HelmChartScore::pending_age(r#"[{"revision":1,"updated":""}]"#, now),
            None
        );
    }
    use serde_json::json;

    fn cnpg() -> HelmChartScore {
        HelmChartScore::new(
            "cnpg",
            "cnpg-system",
            HelmRepository::new("cnpg", "https://cloudnative-pg.github.io/charts"),
            "cloudnative-pg",
            "0.27.1",
        )
        .with_values(json!({"config": {"clusterWide": true}}))
        .with_wait(Duration::from_secs(300))
    }

    #[test]
    fn upgrade_install_arguments() {
        assert_eq!(
            cnpg().upgrade_args("/tmp/v.json"),
            [
                "upgrade",
                "--install",
                "cnpg",
                "cnpg/cloudnative-pg",
                "--version",
                "0.27.1",
                "--namespace",
                "cnpg-system",
                "--create-namespace",
                "--values",
                "/tmp/v.json",
                "--wait",
                "--timeout",
                "300s"
            ]
        );
        let mut no_wait = cnpg();
        no_wait.wait = None;
        no_wait.create_namespace = false;
        assert!(
            !no_wait
                .upgrade_args("v")
                .iter()
                .any(|a| a == "--wait" || a == "--create-namespace")
        );
    }

    #[test]
    fn repo_and_query_arguments() {
        let s = cnpg();
        assert_eq!(
            s.repo_add_args(),
            [
                "repo",
                "add",
                "cnpg",
                "https://cloudnative-pg.github.io/charts",
                "--force-update"
            ]
        );
        assert_eq!(s.repo_update_args(), ["repo", "update", "cnpg"]);
        assert_eq!(
            s.list_args(),
            [
                "list",
                "--namespace",
                "cnpg-system",
                "--filter",
                "^cnpg$",
                "--all",
                "--output",
                "json"
            ]
        );
        assert_eq!(
            s.get_values_args(),
            [
                "get",
                "values",
                "cnpg",
                "--namespace",
                "cnpg-system",
                "--output",
                "json"
            ]
        );
    }

    /// Real shape of `helm list -n cnpg-system -o json` (helm 3.19).
    const LIST: &str = r#"[{"name":"cnpg","namespace":"cnpg-system","revision":"1","updated":"2026-11-20 10:12:01.123456789 +0000 UTC","status":"deployed","chart":"cloudnative-pg-0.27.1","app_version":"1.28.1"}]"#;

    #[test]
    fn identical_release_is_up_to_date() {
        let s = cnpg();
        let deployed = s
            .parse_deployed(LIST, r#"{"config":{"clusterWide":true}}"#)
            .unwrap()
            .unwrap();
        assert!(s.is_up_to_date(&deployed));
    }

    #[test]
    fn changed_values_version_or_failed_status_need_an_upgrade() {
        let s = cnpg();
        let other_values = s
            .parse_deployed(LIST, r#"{"config":{"clusterWide":false}}"#)
            .unwrap()
            .unwrap();
        assert!(!s.is_up_to_date(&other_values));
        let old = s
            .parse_deployed(
                &LIST.replace("0.27.1", "0.26.0"),
                r#"{"config":{"clusterWide":true}}"#,
            )
            .unwrap()
            .unwrap();
        assert!(!s.is_up_to_date(&old));
        let failed = s
            .parse_deployed(
                &LIST.replace("\"deployed\"", "\"failed\""),
                r#"{"config":{"clusterWide":true}}"#,
            )
            .unwrap()
            .unwrap();
        assert!(!s.is_up_to_date(&failed));
        assert_eq!(s.parse_deployed("[]", "").unwrap(), None);
    }

    #[test]
    fn unreadable_helm_output_is_a_kind_naming_the_subcommand() {
        let s = cnpg();
        let err = s.parse_deployed("not json", "null").unwrap_err();
        assert!(
            matches!(
                err,
                HelmError::UnexpectedOutput {
                    subcommand: "list",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = s.parse_deployed(LIST, "{").unwrap_err();
        assert!(
            matches!(
                err,
                HelmError::UnexpectedOutput {
                    subcommand: "get values",
                    ..
                }
            ),
            "{err}"
        );
        let err = s.plan_repair("pending-upgrade", "<html>").unwrap_err();
        assert_eq!(
            err.to_string().split(':').next(),
            Some("unexpected `helm history` output")
        );
    }

    #[test]
    fn no_values_deployed_matches_empty_values() {
        let s = HelmChartScore::new(
            "r",
            "ns",
            HelmRepository::new("x", "https://x"),
            "c",
            "1.0.0",
        );
        let list = r#"[{"name":"r","status":"deployed","chart":"c-1.0.0"}]"#;
        let deployed = s.parse_deployed(list, "null").unwrap().unwrap();
        assert!(s.is_up_to_date(&deployed));
    }

    #[test]
    fn unpinned_versions_are_rejected() {
        for bad in ["", "latest", "^1.2", "~0.27", ">=1"] {
            let mut s = cnpg();
            s.chart_version = bad.into();
            assert!(
                matches!(s.validate(), Err(InterpretError::InvalidScore(_))),
                "{bad}"
            );
        }
        cnpg().validate().unwrap();
    }
}
