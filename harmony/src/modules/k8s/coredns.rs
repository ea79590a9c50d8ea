//! In-cluster name rewrites for k3s/k3d CoreDNS, so pods resolve ingress hostnames
//! (e.g. `zitadel.harmony.local`) to the matching Service.
//!
//! k3s owns the `kube-system/coredns` ConfigMap and reverts edits to it, but imports every
//! `*.override` key of the optional `kube-system/coredns-custom` ConfigMap inside its `.:53`
//! block. Each [`CoreDNSRewriteScore`] owns ONE key there (named from its hostnames), written by
//! server-side apply with its own field manager, so several Scores compose without stepping on
//! each other. CoreDNS does not notice changes in imported files, so the Score restarts the
//! Deployment and waits for it to be available. The restart sets a pod-template annotation
//! (`harmony.io/coredns-custom-<key hash>: <content sha256>`); the Score restarts whenever
//! that annotation differs from the wanted content, so a restart that failed is retried on
//! the next run, and a run with both in place changes nothing.
//! Keys this kind of Score wrote earlier for a different host list (a `harmony-*.override`
//! key rewriting one of this Score's hosts) are removed, so a host dropped from the list stops
//! resolving and no two keys fight over one host. A key sharing no host with the current list
//! (every host renamed) looks like another Score's and is left alone.
//! On OpenShift the Score does nothing and says so.
//!
//! Answer names: glibc's resolver drops answers whose owner name differs from the question, so
//! the answer must carry the name that was asked, not the rewritten one. CoreDNS's
//! `plugin/rewrite/name.go` builds every `exact` name rule with `newNameRuleBase(nextAction,
//! true, ...)` (auto = true), and `responseRuleFor` then reverts the answer's name and values
//! to the question's. That holds from CoreDNS v1.8.4 on and in v1.12.3, the CoreDNS that k3s
//! v1.33.4+k3s1 (our pinned image) ships (k3s-io/k3s#12727), so
//! `rewrite name exact <host> <target>` needs no `answer name` clause (CoreDNS <= v1.8.3 did).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use sha2::{Digest, Sha256};

use crate::interpret::{Interpret, InterpretError, Outcome};
use crate::inventory::Inventory;
use crate::score::Score;
use crate::topology::{K8sDistribution, K8sDistributionProbe, K8sclient, Topology};

/// The ConfigMap k3s imports `*.override` / `*.server` keys from.
pub const COREDNS_CUSTOM_CONFIGMAP: &str = "coredns-custom";
/// Namespace of k3s's CoreDNS and of [`COREDNS_CUSTOM_CONFIGMAP`].
pub const COREDNS_NAMESPACE: &str = "kube-system";
/// CoreDNS's Deployment, restarted when this Score's key changes.
pub const COREDNS_DEPLOYMENT: &str = "coredns";
/// Server-side-apply field manager; one per key so Scores own only their key.
pub const FIELD_MANAGER_PREFIX: &str = "harmony-coredns";
/// Prefix of the pod-template annotation on `kube-system/coredns` holding the content hash
/// CoreDNS was restarted with, one per key.
pub const RESTART_ANNOTATION_PREFIX: &str = "harmony.io/coredns-custom-";
/// Pod-template annotation of `kube-system/coredns` naming the stale keys last removed and the
/// ConfigMap version that removal produced: each removal gives it a new value, so it restarts
/// CoreDNS (once) even when the same key is removed again.
pub const REMOVED_KEYS_ANNOTATION: &str = "harmony.io/coredns-custom-removed";
/// Annotation of `coredns-custom` set in the same patch that removes stale keys and cleared once
/// CoreDNS's restart is requested: a restart that failed after the removal is retried on the
/// next run (CoreDNS still serves the removed rewrites until it restarts).
pub const RESTART_PENDING_ANNOTATION: &str = "harmony.io/coredns-restart-pending";

/// Rewrites `host` to `target` (usually a Service FQDN) for every in-cluster lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreDNSRewriteScore {
    /// (hostname, service FQDN), e.g. ("zitadel.harmony.local", "zitadel.zitadel.svc.cluster.local").
    pub rewrites: Vec<(String, String)>,
}

impl CoreDNSRewriteScore {
    /// A Score for these (hostname, target FQDN) rewrites, checked by [`Self::validate`] when
    /// planned or run.
    pub fn new(rewrites: Vec<(String, String)>) -> Self {
        Self { rewrites }
    }

    /// Checks every name is a plain DNS name, so nothing can be injected into the Corefile.
    pub fn validate(&self) -> Result<(), String> {
        if self.rewrites.is_empty() {
            return Err("CoreDNSRewriteScore needs at least one (host, target) rewrite".into());
        }
        for (host, target) in &self.rewrites {
            for name in [host, target] {
                if !is_dns_name(name) {
                    return Err(format!("{name:?} is not a DNS name"));
                }
            }
        }
        let mut hosts: Vec<&str> = self.rewrites.iter().map(|(h, _)| h.as_str()).collect();
        hosts.sort();
        if let Some(w) = hosts.windows(2).find(|w| w[0].eq_ignore_ascii_case(w[1])) {
            return Err(format!("host {:?} is rewritten twice", w[0]));
        }
        Ok(())
    }

    /// This Score's key in `coredns-custom`: stable for a given set of hostnames, whatever
    /// their targets, so changing a target updates the same key.
    pub fn override_key(&self) -> String {
        let mut hosts: Vec<String> = self
            .rewrites
            .iter()
            .map(|(h, _)| h.to_ascii_lowercase())
            .collect();
        hosts.sort();
        hosts.dedup();
        let digest = Sha256::digest(hosts.join(",").as_bytes());
        format!("harmony-{}.override", &hex::encode(digest)[..12])
    }

    /// The field manager for this key.
    pub fn field_manager(&self) -> String {
        let key = self.override_key();
        format!(
            "{FIELD_MANAGER_PREFIX}-{}",
            key.trim_end_matches(".override")
                .trim_start_matches("harmony-")
        )
    }

    /// The content of the key: one `rewrite name exact <host> <target>` line per rewrite,
    /// sorted by host so the text (and the restart decision) does not depend on order.
    pub fn override_content(&self) -> String {
        let mut lines: Vec<String> = self
            .rewrites
            .iter()
            .map(|(host, target)| {
                format!(
                    "rewrite name exact {} {}",
                    host.to_ascii_lowercase(),
                    target.to_ascii_lowercase()
                )
            })
            .collect();
        lines.sort();
        lines.dedup();
        let mut content = lines.join("\n");
        content.push('\n');
        content
    }

    /// SHA-256 (hex) of [`Self::override_content`].
    pub fn content_hash(&self) -> String {
        hex::encode(Sha256::digest(self.override_content().as_bytes()))
    }

    /// The pod-template annotation of `kube-system/coredns` recording which content of this
    /// Score's key CoreDNS was last restarted with, e.g. `harmony.io/coredns-custom-0123abcd4567`.
    pub fn restart_annotation(&self) -> String {
        let key = self.override_key();
        format!(
            "{RESTART_ANNOTATION_PREFIX}{}",
            key.trim_end_matches(".override")
                .trim_start_matches("harmony-")
        )
    }

    /// Keys of `data` (the `coredns-custom` ConfigMap) that an earlier run of such a Score wrote
    /// for another host list: Harmony's `harmony-*.override` keys, other than this Score's, that
    /// rewrite one of this Score's hosts. Keys of other Scores (other hosts) and keys Harmony
    /// did not write are left alone.
    pub fn stale_keys(&self, data: &BTreeMap<String, String>) -> Vec<String> {
        let own = self.override_key();
        let hosts: Vec<String> = self
            .rewrites
            .iter()
            .map(|(h, _)| h.to_ascii_lowercase())
            .collect();
        data.iter()
            .filter(|(k, _)| **k != own && k.starts_with("harmony-") && k.ends_with(".override"))
            .filter(|(_, content)| {
                content.lines().any(|line| {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    matches!(words.as_slice(), ["rewrite", "name", "exact", host, ..]
                        if hosts.iter().any(|h| h.eq_ignore_ascii_case(host)))
                })
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The ConfigMap body for server-side apply: only this Score's key.
    pub fn apply_body(&self) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": COREDNS_CUSTOM_CONFIGMAP,
                "namespace": COREDNS_NAMESPACE,
            },
            "data": { self.override_key(): self.override_content() },
        })
    }
}

impl<T: Topology + K8sclient + K8sDistributionProbe> Score<T> for CoreDNSRewriteScore {
    fn name(&self) -> String {
        format!("CoreDNSRewriteScore({})", self.override_key())
    }

    fn create_interpret(&self) -> Box<dyn Interpret<T>> {
        Box::new(CoreDNSRewriteInterpret {
            score: self.clone(),
        })
    }
}

#[derive(Debug)]
struct CoreDNSRewriteInterpret {
    score: CoreDNSRewriteScore,
}

/// How long CoreDNS may take to come back after the restart.
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(180);

#[async_trait]
impl<T: Topology + K8sclient + K8sDistributionProbe> Interpret<T> for CoreDNSRewriteInterpret {
    /// The key diff (rewrite lines added or removed) and whether CoreDNS would be restarted;
    /// reads only.
    async fn plan(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<crate::plan::Plan, InterpretError> {
        use crate::plan::{KeyChange, Plan as ChangePlan, PlannedChange};
        let score = &self.score;
        score.validate().map_err(InterpretError::InvalidScore)?;
        let key = score.override_key();
        let object = format!("ConfigMap {COREDNS_NAMESPACE}/{COREDNS_CUSTOM_CONFIGMAP} key {key}");
        let distribution = topology.k8s_distribution().await?;
        if distribution != K8sDistribution::K3sFamily {
            return Ok(ChangePlan::new(vec![
                PlannedChange::unchanged(object)
                    .with_detail(format!("skipped on {distribution} clusters")),
            ]));
        }
        let client = topology.k8s_client().await?;
        let current: Option<ConfigMap> = client
            .get_opt(COREDNS_CUSTOM_CONFIGMAP, Some(COREDNS_NAMESPACE))
            .await?;
        let applied = current
            .and_then(|cm| cm.data)
            .and_then(|mut d| d.remove(&key));
        let wanted = score.override_content();
        let deployment: Deployment = client
            .get(COREDNS_DEPLOYMENT, Some(COREDNS_NAMESPACE))
            .await?;
        let loaded = template_annotation(&deployment, &score.restart_annotation());
        let mut plan = ChangePlan::default();
        plan.push(match &applied {
            None => PlannedChange::create(object),
            Some(old) => {
                let lines = |s: &str| s.lines().map(str::to_string).collect::<Vec<_>>();
                let (old, new) = (lines(old), lines(&wanted));
                let mut keys: Vec<KeyChange> = old
                    .iter()
                    .filter(|l| !new.contains(l))
                    .map(|l| KeyChange {
                        key: l.clone(),
                        from: Some("present".into()),
                        to: None,
                    })
                    .collect();
                keys.extend(new.iter().filter(|l| !old.contains(l)).map(|l| KeyChange {
                    key: l.clone(),
                    from: None,
                    to: Some("added".into()),
                }));
                PlannedChange::change(object, keys)
            }
        });
        let restart = format!("Deployment {COREDNS_NAMESPACE}/{COREDNS_DEPLOYMENT}");
        plan.push(
            match self::plan(
                applied.as_deref(),
                &wanted,
                loaded.as_deref(),
                &score.content_hash(),
            ) {
                Plan::Nothing => PlannedChange::unchanged(restart),
                _ => PlannedChange::new(crate::plan::ChangeKind::Change, restart)
                    .with_detail("restarted to load the rewrites"),
            },
        );
        Ok(plan)
    }

    async fn execute(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        let score = &self.score;
        score.validate().map_err(InterpretError::InvalidScore)?;
        match topology.k8s_distribution().await? {
            K8sDistribution::K3sFamily => {}
            K8sDistribution::OpenShift => {
                return Ok(Outcome::skipped(
                    "CoreDNS rewrites are not applied on OpenShift: its DNS operator owns CoreDNS; \
                     use routable hostnames (Routes) instead",
                ));
            }
            K8sDistribution::Other => {
                return Ok(Outcome::skipped(
                    "CoreDNS rewrites need k3s's coredns-custom import; this cluster is not k3s/k3d",
                ));
            }
        }

        let client = topology.k8s_client().await?;
        let key = score.override_key();
        let content = score.override_content();
        let annotation = score.restart_annotation();
        let wanted_hash = score.content_hash();
        let current: Option<ConfigMap> = client
            .get_opt(COREDNS_CUSTOM_CONFIGMAP, Some(COREDNS_NAMESPACE))
            .await?;
        let pending = current
            .as_ref()
            .and_then(|cm| cm.metadata.annotations.as_ref())
            .and_then(|a| a.get(RESTART_PENDING_ANNOTATION))
            .cloned();
        let current_version = current
            .as_ref()
            .and_then(|cm| cm.metadata.resource_version.clone())
            .unwrap_or_default();
        let mut data = current.and_then(|cm| cm.data).unwrap_or_default();
        let stale = score.stale_keys(&data);
        let applied_content = data.remove(&key);
        let deployment: Deployment = client
            .get(COREDNS_DEPLOYMENT, Some(COREDNS_NAMESPACE))
            .await?;
        let loaded_hash = template_annotation(&deployment, &annotation);
        let mut plan = plan(
            applied_content.as_deref(),
            &content,
            loaded_hash.as_deref(),
            &wanted_hash,
        );
        // Keys removed now, or by an earlier run whose restart failed.
        let mut removal = pending.map(|keys| format!("{keys}@{current_version}"));
        if !stale.is_empty() {
            let version = remove_keys(&client, &stale, &score.field_manager()).await?;
            removal = Some(format!("{}@{version}", stale.join(",")));
        }
        if removal.is_some() && plan == Plan::Nothing {
            plan = Plan::Restart;
        }

        if plan == Plan::Nothing {
            // A restart from an earlier run may still be rolling out.
            if !rolled_out(&deployment) {
                wait_rollout(&client, ROLLOUT_TIMEOUT).await?;
            }
            return Ok(Outcome::noop(format!(
                "{COREDNS_NAMESPACE}/{COREDNS_CUSTOM_CONFIGMAP} key {key} already has the {} rewrite(s) and CoreDNS runs with them",
                score.rewrites.len()
            ))
            .with_detail("configmap_key", key));
        }

        if plan == Plan::ApplyAndRestart {
            // Own field manager: other Scores' keys in the same ConfigMap stay theirs.
            client
                .apply_dynamic_with_manager(&score.apply_body(), &score.field_manager())
                .await?;
        }

        // CoreDNS's reload plugin only watches the main Corefile: restart it by changing a pod
        // template annotation that records the content loaded, so a restart that failed (or
        // never happened) is retried on the next run, and a second run changes nothing.
        let mut annotations: BTreeMap<String, String> = [(annotation, wanted_hash)].into();
        if let Some(removal) = &removal {
            annotations.insert(REMOVED_KEYS_ANNOTATION.to_string(), removal.clone());
        }
        client
            .patch_deployment_template_annotations(
                COREDNS_NAMESPACE,
                COREDNS_DEPLOYMENT,
                &annotations,
                &score.field_manager(),
            )
            .await?;
        if removal.is_some() {
            // The new template is in: Kubernetes finishes the rollout even if this run stops.
            client
                .merge_patch_configmap(
                    COREDNS_NAMESPACE,
                    COREDNS_CUSTOM_CONFIGMAP,
                    &serde_json::json!({
                        "metadata": { "annotations": { RESTART_PENDING_ANNOTATION: null } }
                    }),
                    &score.field_manager(),
                    &format!("clearing {RESTART_PENDING_ANNOTATION}"),
                )
                .await?;
        }
        wait_rollout(&client, ROLLOUT_TIMEOUT).await?;

        let what = if plan == Plan::ApplyAndRestart {
            "now rewrites"
        } else {
            "restarted to load the already written rewrites"
        };
        let removed = match (&removal, stale.is_empty()) {
            (_, false) => format!("; removed stale key(s) {}", stale.join(", ")),
            (Some(earlier), true) => format!(
                "; key(s) {} removed by an earlier run",
                earlier.split('@').next().unwrap_or_default()
            ),
            (None, true) => String::new(),
        };
        Ok(Outcome::success(format!(
            "CoreDNS {what} {} (key {key} in {COREDNS_NAMESPACE}/{COREDNS_CUSTOM_CONFIGMAP}){removed}; CoreDNS restarted",
            score
                .rewrites
                .iter()
                .map(|(h, t)| format!("{h} -> {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_detail("configmap_key", key))
    }
}

/// Removes `keys` from `coredns-custom` and marks the restart that must follow
/// ([`RESTART_PENDING_ANNOTATION`]) in one merge patch; returns the ConfigMap's new
/// resourceVersion.
async fn remove_keys(
    client: &crate::infra::k8s::K8sClient,
    keys: &[String],
    field_manager: &str,
) -> Result<String, InterpretError> {
    let nulls: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| (k.clone(), serde_json::Value::Null))
        .collect();
    let patch = serde_json::json!({
        "metadata": { "annotations": { RESTART_PENDING_ANNOTATION: keys.join(",") } },
        "data": nulls,
    });
    let updated = client
        .merge_patch_configmap(
            COREDNS_NAMESPACE,
            COREDNS_CUSTOM_CONFIGMAP,
            &patch,
            field_manager,
            &format!("removing key(s) {}", keys.join(", ")),
        )
        .await?;
    log::info!(
        "removed stale CoreDNS rewrite key(s) {} from {COREDNS_NAMESPACE}/{COREDNS_CUSTOM_CONFIGMAP}",
        keys.join(", ")
    );
    Ok(updated.metadata.resource_version.unwrap_or_default())
}

/// What a run has to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// The key has the content and CoreDNS was restarted with it.
    Nothing,
    /// The key has the content but CoreDNS was not restarted with it (an earlier restart
    /// failed, or somebody else wrote the key).
    Restart,
    /// Write the key, then restart.
    ApplyAndRestart,
}

/// Decides from the key's current content and the hash CoreDNS was last restarted with.
fn plan(
    applied_content: Option<&str>,
    wanted_content: &str,
    loaded_hash: Option<&str>,
    wanted_hash: &str,
) -> Plan {
    if applied_content != Some(wanted_content) {
        Plan::ApplyAndRestart
    } else if loaded_hash != Some(wanted_hash) {
        Plan::Restart
    } else {
        Plan::Nothing
    }
}

fn template_annotation(d: &Deployment, annotation: &str) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(annotation)
        .cloned()
}

/// Waits until the restarted CoreDNS Deployment has rolled out: the new generation observed,
/// all replicas updated and available.
async fn wait_rollout(
    client: &crate::infra::k8s::K8sClient,
    timeout: Duration,
) -> Result<(), InterpretError> {
    client
        .wait_for::<Deployment, _>(
            COREDNS_DEPLOYMENT,
            Some(COREDNS_NAMESPACE),
            |d: Option<&Deployment>| d.is_some_and(rolled_out),
            timeout,
        )
        .await?;
    Ok(())
}

fn rolled_out(d: &Deployment) -> bool {
    let generation = d.metadata.generation.unwrap_or(0);
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(status) = d.status.as_ref() else {
        return false;
    };
    status.observed_generation.unwrap_or(0) >= generation
        && status.updated_replicas.unwrap_or(0) >= wanted
        && status.available_replicas.unwrap_or(0) >= wanted
        && status.replicas.unwrap_or(0) == wanted
}

fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score() -> CoreDNSRewriteScore {
        CoreDNSRewriteScore::new(vec![
            (
                "zitadel.harmony.local".into(),
                "zitadel.zitadel.svc.cluster.local".into(),
            ),
            (
                "bao.harmony.local".into(),
                "openbao.openbao.svc.cluster.local".into(),
            ),
        ])
    }

    #[test]
    fn content_is_sorted_rewrite_lines() {
        assert_eq!(
            score().override_content(),
            "rewrite name exact bao.harmony.local openbao.openbao.svc.cluster.local\n\
             rewrite name exact zitadel.harmony.local zitadel.zitadel.svc.cluster.local\n"
        );
    }

    #[test]
    fn key_is_stable_across_order_and_targets_and_ends_in_override() {
        let a = score();
        let mut b = score();
        b.rewrites.reverse();
        b.rewrites[0].1 = "other.svc.cluster.local".into();
        assert_eq!(a.override_key(), b.override_key());
        assert!(a.override_key().starts_with("harmony-"));
        assert!(a.override_key().ends_with(".override"));
        let c = CoreDNSRewriteScore::new(vec![("x.local".into(), "y.local".into())]);
        assert_ne!(a.override_key(), c.override_key());
        assert_ne!(a.field_manager(), c.field_manager());
    }

    #[test]
    fn apply_body_touches_only_coredns_custom_and_own_key() {
        let body = score().apply_body();
        assert_eq!(body["metadata"]["name"], "coredns-custom");
        assert_eq!(body["metadata"]["namespace"], "kube-system");
        let data = body["data"].as_object().unwrap();
        assert_eq!(data.len(), 1);
        assert!(data.contains_key(&score().override_key()));
    }

    struct FakeTopology(K8sDistribution);

    #[async_trait]
    impl Topology for FakeTopology {
        fn name(&self) -> &str {
            "fake"
        }
        async fn ensure_ready(
            &self,
        ) -> Result<crate::topology::PreparationOutcome, crate::topology::PreparationError>
        {
            Ok(crate::topology::PreparationOutcome::Noop)
        }
    }

    #[async_trait]
    impl K8sclient for FakeTopology {
        async fn k8s_client(
            &self,
        ) -> Result<std::sync::Arc<crate::infra::k8s::K8sClient>, crate::topology::CapabilityError>
        {
            Err(crate::topology::CapabilityError::Unsupported(
                "no cluster in unit tests".into(),
            ))
        }
    }

    #[async_trait]
    impl K8sDistributionProbe for FakeTopology {
        async fn k8s_distribution(
            &self,
        ) -> Result<K8sDistribution, crate::topology::CapabilityError> {
            Ok(self.0)
        }
    }

    #[tokio::test]
    async fn openshift_and_other_clusters_are_skipped_without_touching_the_api() {
        for dist in [K8sDistribution::OpenShift, K8sDistribution::Other] {
            let topology = FakeTopology(dist);
            let outcome = Score::<FakeTopology>::create_interpret(&score())
                .execute(&Inventory::empty(), &topology)
                .await
                .unwrap();
            assert_eq!(outcome.status, crate::interpret::InterpretStatus::Skipped);
            assert!(!outcome.message.is_empty());
        }
        // On k3s it goes to the API (which this fake refuses).
        let err = Score::<FakeTopology>::create_interpret(&score())
            .execute(
                &Inventory::empty(),
                &FakeTopology(K8sDistribution::K3sFamily),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no cluster"));
    }

    #[test]
    fn restart_is_decided_by_the_recorded_hash_not_only_by_the_configmap() {
        let s = score();
        let (content, hash) = (s.override_content(), s.content_hash());
        // First run.
        assert_eq!(plan(None, &content, None, &hash), Plan::ApplyAndRestart);
        // Run 1 wrote the key but its restart failed: run 2 must restart.
        assert_eq!(plan(Some(&content), &content, None, &hash), Plan::Restart);
        assert_eq!(
            plan(Some(&content), &content, Some("old-hash"), &hash),
            Plan::Restart
        );
        // Both in place: nothing to do.
        assert_eq!(
            plan(Some(&content), &content, Some(&hash), &hash),
            Plan::Nothing
        );
        // Changed targets: write and restart, whatever the annotation says.
        assert_eq!(
            plan(
                Some("rewrite name exact a b\n"),
                &content,
                Some(&hash),
                &hash
            ),
            Plan::ApplyAndRestart
        );
        assert!(
            s.restart_annotation()
                .starts_with("harmony.io/coredns-custom-")
        );
        assert!(s.restart_annotation().len() <= 253);
        assert_eq!(
            s.restart_annotation().split('/').nth(1).unwrap().len(),
            "coredns-custom-".len() + 12,
            "annotation name part within 63 characters"
        );
    }

    #[test]
    fn rollout_needs_new_generation_and_available_replicas() {
        use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};
        let mut d = Deployment {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                generation: Some(3),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(1),
                ..Default::default()
            }),
            status: Some(DeploymentStatus {
                observed_generation: Some(2),
                replicas: Some(1),
                updated_replicas: Some(1),
                available_replicas: Some(1),
                ..Default::default()
            }),
        };
        assert!(!rolled_out(&d), "old generation");
        d.status.as_mut().unwrap().observed_generation = Some(3);
        assert!(rolled_out(&d));
        d.status.as_mut().unwrap().replicas = Some(2);
        assert!(!rolled_out(&d), "old pod still there");
    }

    #[test]
    fn validation_refuses_injection_and_duplicates() {
        assert!(score().validate().is_ok());
        let bad = CoreDNSRewriteScore::new(vec![(
            "a.local\n}\nforward . 1.1.1.1".into(),
            "b.local".into(),
        )]);
        assert!(bad.validate().is_err());
        let dup = CoreDNSRewriteScore::new(vec![
            ("a.local".into(), "b.local".into()),
            ("A.local".into(), "c.local".into()),
        ]);
        assert!(dup.validate().is_err());
        assert!(CoreDNSRewriteScore::new(vec![]).validate().is_err());
    }
}
