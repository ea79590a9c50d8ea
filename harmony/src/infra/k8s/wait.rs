//! Bounded waiting: every wait in Harmony has a timeout and names what it waited for.

use std::future::Future;
use std::time::Duration;

use super::K8sError;

/// Runs `fut` for at most `timeout`; on expiry returns [`K8sError::Timeout`] naming `what`
/// (e.g. `Cluster postgresql.cnpg.io/v1 zitadel/zitadel-pg to be Ready`).
pub async fn with_timeout<T, F>(what: &str, timeout: Duration, fut: F) -> Result<T, K8sError>
where
    F: Future<Output = Result<T, K8sError>>,
{
    match tokio::time::timeout(timeout, fut).await {
        Ok(result) => result,
        Err(_) => Err(K8sError::Timeout {
            what: what.to_string(),
            seconds: timeout.as_secs(),
        }),
    }
}

/// True when `status.conditions` of a JSON object holds `type == condition_type` with
/// `status == "True"` (works for Deployments, CNPG Clusters, CRDs, Pods...).
pub fn has_condition(object: &serde_json::Value, condition_type: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type").and_then(|t| t.as_str()) == Some(condition_type)
                    && c.get("status").and_then(|s| s.as_str()) == Some("True")
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_condition_never_met_times_out_naming_the_object() {
        let never = std::future::pending::<Result<(), K8sError>>();
        let err = with_timeout(
            "Cluster postgresql.cnpg.io/v1 db/pg to be Ready",
            Duration::from_secs(300),
            never,
        )
        .await
        .unwrap_err();
        match &err {
            K8sError::Timeout { what, seconds } => {
                assert_eq!(*seconds, 300);
                assert!(what.contains("db/pg"));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "timed out after 300s waiting for Cluster postgresql.cnpg.io/v1 db/pg to be Ready"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_condition_met_in_time_returns_its_value() {
        let soon = async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<_, K8sError>(7)
        };
        assert_eq!(
            with_timeout("x", Duration::from_secs(60), soon)
                .await
                .unwrap(),
            7
        );
    }

    #[test]
    fn ready_condition_is_read_from_a_cnpg_cluster_status() {
        let cluster = serde_json::json!({
            "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": "pg", "namespace": "db"},
            "status": {
                "phase": "Cluster in healthy state",
                "readyInstances": 1,
                "conditions": [
                    {"type": "ContinuousArchiving", "status": "False", "reason": "ContinuousArchivingFailing"},
                    {"type": "Ready", "status": "True", "reason": "ClusterIsReady", "message": "Cluster is Ready"}
                ]
            }
        });
        assert!(has_condition(&cluster, "Ready"));
        assert!(!has_condition(&cluster, "ContinuousArchiving"));
        assert!(!has_condition(&serde_json::json!({"status": {}}), "Ready"));
    }
}
