//! Planning against the Kubernetes API: a server-side apply with `dryRun=All` shows what the
//! object would become (defaults, admission, field ownership included) without storing it.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::Scope;
use serde_json::Value;

use super::{K8sClient, K8sError};
use crate::plan::{KeyChange, PlannedChange, SENSITIVE, diff_values};

/// Fields the server sets on every write; they say nothing about what changes.
const VOLATILE_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "uid",
    "selfLink",
];

fn comparable(object: &DynamicObject) -> Value {
    let mut v = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in VOLATILE_METADATA {
            meta.remove(field);
        }
    }
    if let Some(obj) = v.as_object_mut() {
        // Status is not ours to apply.
        obj.remove("status");
    }
    v
}

/// A Secret's `data`/`stringData` values are secret whatever their key is called
/// (`config.yaml`, `admin`, ...): only which key changes is shown.
fn mask_secret_value(change: &mut KeyChange) {
    let top = change.key.split('.').next().unwrap_or_default();
    if top == "data" || top == "stringData" {
        for value in [&mut change.from, &mut change.to].into_iter().flatten() {
            *value = SENSITIVE.to_string();
        }
    }
}

impl K8sClient {
    /// What applying `manifest` (as `field_manager`) would do: a `GET` of the current object
    /// and a server-side apply with `dryRun=All`, compared. Nothing is stored.
    pub async fn plan_apply(
        &self,
        manifest: &Value,
        field_manager: &str,
    ) -> Result<PlannedChange, K8sError> {
        let field = |f: &str| {
            manifest
                .pointer(f)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| K8sError::Invalid(format!("manifest has no {f}")))
        };
        let api_version = field("/apiVersion")?;
        let kind = field("/kind")?;
        let name = field("/metadata/name")?;
        let namespace = manifest
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string);
        let what = match &namespace {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        };
        let (ar, caps) = match self.resolve_kind(&api_version, &kind).await {
            Ok(found) => found,
            // The CRD is not installed yet (an earlier Score installs it).
            Err(e) => {
                return Ok(PlannedChange::create(what)
                    .with_detail(format!("kind not served yet, not dry-run: {e}")));
            }
        };
        let api: Api<DynamicObject> = match (&caps.scope, namespace.as_deref()) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(self.kube_client(), ns, &ar),
            (Scope::Namespaced, None) => Api::default_namespaced_with(self.kube_client(), &ar),
            (Scope::Cluster, _) => Api::all_with(self.kube_client(), &ar),
        };
        let before = api
            .get_opt(&name)
            .await
            .map_err(|e| K8sError::from_kube(format!("reading {what}"), e))?;
        let params = PatchParams {
            dry_run: true,
            ..PatchParams::apply(field_manager).force()
        };
        let after = match api.patch(&name, &params, &Patch::Apply(manifest)).await {
            Ok(after) => after,
            // Its namespace does not exist yet (created by the same run): nothing to compare.
            Err(kube::Error::Api(status)) if status.is_not_found() && before.is_none() => {
                return Ok(PlannedChange::create(what)
                    .with_detail("its namespace does not exist yet, not dry-run"));
            }
            Err(e) => return Err(K8sError::from_kube(format!("dry-run applying {what}"), e)),
        };
        Ok(match before {
            None => PlannedChange::create(what),
            Some(before) => {
                let mut keys = diff_values(&comparable(&before), &comparable(&after));
                if kind == "Secret" {
                    keys.iter_mut().for_each(mask_secret_value);
                }
                PlannedChange::change(what, keys)
            }
        })
    }
}
