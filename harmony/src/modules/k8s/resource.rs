//! [`K8sResourceScore`]: apply any list of Kubernetes objects with server-side apply.

use async_trait::async_trait;
use serde::Serialize;

use crate::interpret::{Interpret, InterpretError, Outcome};
use crate::inventory::Inventory;
use crate::plan::Plan;
use crate::score::Score;
use crate::topology::{K8sclient, Topology};

/// Objects to exist exactly as given (server-side apply, field manager `harmony`).
///
/// Idempotent: when no object's `resourceVersion` moved, the outcome is `Noop`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct K8sResourceScore {
    /// Shown in listings and the summary.
    pub name: String,
    /// Full manifests (`apiVersion`, `kind`, `metadata.name`, optional `metadata.namespace`).
    pub resources: Vec<serde_json::Value>,
}

impl K8sResourceScore {
    /// A Score named `name` (for listings) applying these manifests in order.
    pub fn new(name: impl Into<String>, resources: Vec<serde_json::Value>) -> Self {
        Self {
            name: name.into(),
            resources,
        }
    }

    /// From typed objects (e.g. `k8s_openapi` types), which serialize with apiVersion/kind.
    /// Fails with the first object's serialization error (its kind kept, e.g.
    /// [`serde_json::Error::is_data`]).
    pub fn from_objects<K: Serialize>(
        name: impl Into<String>,
        objects: &[K],
    ) -> Result<Self, serde_json::Error> {
        let resources = objects
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?;
        Ok(Self::new(name, resources))
    }

    fn describe(resource: &serde_json::Value) -> String {
        let s = |p: &str| resource.pointer(p).and_then(|v| v.as_str());
        crate::infra::k8s::describe(
            s("/kind").unwrap_or("?"),
            s("/metadata/namespace"),
            s("/metadata/name").unwrap_or("?"),
        )
    }
}

impl<T: Topology + K8sclient> Score<T> for K8sResourceScore {
    fn name(&self) -> String {
        format!("K8sResourceScore[{}]", self.name)
    }

    fn create_interpret(&self) -> Box<dyn Interpret<T>> {
        Box::new(self.clone())
    }
}

#[async_trait]
impl<T: Topology + K8sclient> Interpret<T> for K8sResourceScore {
    /// A dry-run server-side apply of each object, compared with what is there.
    async fn plan(&self, _inventory: &Inventory, topology: &T) -> Result<Plan, InterpretError> {
        let client = topology.k8s_client().await?;
        let mut plan = Plan::default();
        for resource in &self.resources {
            plan.push(client.plan_apply(resource, "harmony").await?);
        }
        Ok(plan)
    }

    async fn execute(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        let client = topology.k8s_client().await?;
        let mut changed = Vec::new();
        for resource in &self.resources {
            let applied = client.apply_dynamic(resource).await?;
            if applied.changed {
                changed.push(Self::describe(resource));
            }
        }
        let total = self.resources.len();
        Ok(if changed.is_empty() {
            Outcome::noop(format!("{total} resource(s) already as wanted"))
        } else {
            Outcome::success(format!(
                "applied {total} resource(s), {} changed",
                changed.len()
            ))
            .with_detail("changed", changed.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Namespace;

    #[test]
    fn typed_objects_become_full_manifests() {
        let ns = Namespace {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("zitadel".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let score = K8sResourceScore::from_objects("zitadel-namespace", &[ns]).unwrap();
        assert_eq!(
            score.resources[0],
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "zitadel"}})
        );
        assert_eq!(
            K8sResourceScore::describe(&score.resources[0]),
            "Namespace zitadel"
        );
    }

    /// An object that cannot be serialized is a serde_json error the caller can inspect, not a
    /// sentence.
    #[test]
    fn an_object_that_cannot_be_serialized_keeps_its_serde_error() {
        struct Broken;
        impl Serialize for Broken {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no manifest for Broken"))
            }
        }
        let err = K8sResourceScore::from_objects("broken", &[Broken]).unwrap_err();
        assert!(err.is_data(), "{err:?}");
        assert_eq!(err.to_string(), "no manifest for Broken");
    }
}
