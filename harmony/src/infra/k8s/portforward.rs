//! Port-forwarding a local TCP port to a pod, kubectl-style, for HTTP clients.

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{K8sClient, K8sError};

/// What to forward to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortForwardTarget {
    /// A pod by name.
    Pod(String),
    /// A Service: a running, ready pod matching its selector is used, and the Service port is
    /// translated to the pod's target port.
    Service(String),
}

impl PortForwardTarget {
    /// Parses `pod/NAME`, `svc/NAME`, `service/NAME`, or a bare pod name.
    pub fn parse(target: &str) -> Self {
        match target.split_once('/') {
            Some(("svc" | "service" | "services", name)) => Self::Service(name.to_string()),
            Some(("pod" | "pods", name)) => Self::Pod(name.to_string()),
            _ => Self::Pod(target.to_string()),
        }
    }
}

/// A running port-forward. Dropping it stops forwarding.
#[derive(Debug)]
pub struct PortForward {
    /// `http://127.0.0.1:<local_port>`.
    pub local_url: String,
    /// The local port (on 127.0.0.1) chosen by the OS.
    pub local_port: u16,
    /// The pod actually forwarded to.
    pub pod: String,
    task: JoinHandle<()>,
}

impl Drop for PortForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn is_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Translates a Service port to a container port of `pod` (numeric or named targetPort).
fn target_port(service: &Service, pod: &Pod, port: u16) -> Option<u16> {
    let sp = service
        .spec
        .as_ref()?
        .ports
        .as_ref()?
        .iter()
        .find(|p| p.port == i32::from(port))?;
    match &sp.target_port {
        None => Some(port),
        Some(IntOrString::Int(p)) => u16::try_from(*p).ok(),
        Some(IntOrString::String(name)) => pod
            .spec
            .as_ref()?
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok()),
    }
}

/// A Service's pod selector as a label selector string (`a=b,c=d`, sorted), written by kube's
/// [`kube::core::Selector`].
pub(crate) fn selector_string(selector: &std::collections::BTreeMap<String, String>) -> String {
    kube::core::Selector::from_iter(selector.clone()).to_string()
}

pub(super) async fn start(
    client: &K8sClient,
    namespace: &str,
    target: PortForwardTarget,
    port: u16,
) -> Result<PortForward, K8sError> {
    let (pod_name, pod_port) = match target {
        PortForwardTarget::Pod(name) => (name, port),
        PortForwardTarget::Service(svc_name) => {
            let svc: Service = client.get(&svc_name, Some(namespace)).await?;
            let selector = svc
                .spec
                .as_ref()
                .and_then(|s| s.selector.clone())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    K8sError::Invalid(format!(
                        "Service {namespace}/{svc_name} has no pod selector"
                    ))
                })?;
            let pods: Vec<Pod> = client
                .list(Some(namespace), Some(&selector_string(&selector)))
                .await?;
            let pod = pods.into_iter().find(is_ready).ok_or_else(|| {
                K8sError::Invalid(format!(
                    "no ready pod behind Service {namespace}/{svc_name} to forward to"
                ))
            })?;
            let pod_port = target_port(&svc, &pod, port).ok_or_else(|| {
                K8sError::Invalid(format!("Service {namespace}/{svc_name} has no port {port}"))
            })?;
            (pod.metadata.name.unwrap_or_default(), pod_port)
        }
    };

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|source| K8sError::Io {
            what: "binding a local port".to_string(),
            source,
        })?;
    let local_port = listener
        .local_addr()
        .map_err(|source| K8sError::Io {
            what: "reading the local port".to_string(),
            source,
        })?
        .port();
    let pods: Api<Pod> = Api::namespaced(client.kube_client(), namespace);
    let pod = pod_name.clone();
    // Hand-written: kube gives one port-forward stream per call; no kept crate serves a local
    // listener over it (kubectl's port-forward is Go), so accept and forward each connection here.
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let pods = pods.clone();
            let pod = pod.clone();
            tokio::spawn(async move {
                let mut forwarder = match pods.portforward(&pod, &[pod_port]).await {
                    Ok(f) => f,
                    Err(e) => {
                        log::warn!("port-forward to pod {pod}:{pod_port} failed: {e}");
                        return;
                    }
                };
                if let Some(mut upstream) = forwarder.take_stream(pod_port) {
                    let _ = tokio::io::copy_bidirectional(&mut socket, &mut upstream).await;
                }
                drop(socket);
                let _ = forwarder.join().await;
            });
        }
    });
    Ok(PortForward {
        local_url: format!("http://127.0.0.1:{local_port}"),
        local_port,
        pod: pod_name,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_like_kubectl() {
        assert_eq!(
            PortForwardTarget::parse("svc/openbao"),
            PortForwardTarget::Service("openbao".into())
        );
        assert_eq!(
            PortForwardTarget::parse("pod/openbao-0"),
            PortForwardTarget::Pod("openbao-0".into())
        );
        assert_eq!(
            PortForwardTarget::parse("openbao-0"),
            PortForwardTarget::Pod("openbao-0".into())
        );
    }

    #[test]
    fn named_target_ports_resolve_through_the_pod() {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "zitadel"},
            "spec": {"selector": {"app.kubernetes.io/name": "zitadel"},
                     "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}
        }))
        .unwrap();
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "zitadel-0"},
            "spec": {"containers": [{"name": "zitadel", "ports": [{"name": "http", "containerPort": 8081}]}]}
        }))
        .unwrap();
        assert_eq!(target_port(&svc, &pod, 8080), Some(8081));
        assert_eq!(target_port(&svc, &pod, 9999), None);
        assert_eq!(
            selector_string(svc.spec.as_ref().unwrap().selector.as_ref().unwrap()),
            "app.kubernetes.io/name=zitadel"
        );
        let two = [("b", "2"), ("a", "1")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into_iter()
            .collect();
        assert_eq!(selector_string(&two), "a=1,b=2");
    }
}
