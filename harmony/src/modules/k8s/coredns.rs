//! In-cluster name rewrites for k3s/k3d CoreDNS, so pods resolve ingress hostnames
//! (e.g. `zitadel.harmony.local`) to the matching Service.
//!
//! k3s owns the `kube-system/coredns` ConfigMap and reverts edits to it, but imports every
//! `*.override` key of the optional `kube-system/coredns-custom` ConfigMap inside its `.:53`
//! block. Each [`CoreDNSRewriteScore`] owns ONE key there (named from its hostnames), written by
//! server-side apply with its own field manager, so several Scores compose without stepping on
//! each other. CoreDNS does not notice changes in imported files, so the Score restarts the
//! Deployment, only when the content changed, and waits for it to be available.
//! On OpenShift the Score does nothing and says so.

use sha2::{Digest, Sha256};

/// The ConfigMap k3s imports `*.override` / `*.server` keys from.
pub const COREDNS_CUSTOM_CONFIGMAP: &str = "coredns-custom";
pub const COREDNS_NAMESPACE: &str = "kube-system";
pub const COREDNS_DEPLOYMENT: &str = "coredns";
/// Server-side-apply field manager; one per key so Scores own only their key.
pub const FIELD_MANAGER_PREFIX: &str = "harmony-coredns";

/// Rewrites `host` to `target` (usually a Service FQDN) for every in-cluster lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreDNSRewriteScore {
    /// (hostname, service FQDN), e.g. ("zitadel.harmony.local", "zitadel.zitadel.svc.cluster.local").
    pub rewrites: Vec<(String, String)>,
}

impl CoreDNSRewriteScore {
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
