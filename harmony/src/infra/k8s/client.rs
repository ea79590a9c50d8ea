//! [`K8sClient`]: the Kubernetes API as Harmony's Scores use it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{
    ApiResource, AttachParams, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{ApiCapabilities, Scope};
use kube::{Api, Client, Config, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncReadExt;
use tokio::sync::RwLock;

use super::distribution::{DistributionFacts, detect_distribution};
use super::portforward::{PortForward, PortForwardTarget};
use super::wait::{has_condition, with_timeout};
use crate::topology::K8sDistribution;

/// The field manager Harmony uses for server-side apply.
pub const FIELD_MANAGER: &str = "harmony";

/// Why a Kubernetes call failed. Each kind keeps its cause (`source`), so callers match kinds
/// (e.g. [`K8sError::WebhookNotReady`] is worth retrying) instead of searching messages; the
/// message names the verb and the object, and what to do when that is known.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// A bounded wait expired.
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout {
        /// What was waited for, e.g. `Deployment cnpg-system/cnpg-cloudnative-pg to be Available`.
        what: String,
        /// The bound that expired.
        seconds: u64,
    },
    /// The API server refused the call or could not be reached; `what` names the verb and
    /// the object (`applying Cluster zitadel/zitadel-pg`).
    #[error("{what}: {source}")]
    Api {
        /// The verb and object.
        what: String,
        /// kube's error (an API `Status` with code and reason, or a transport error).
        #[source]
        source: kube::Error,
    },
    /// An admission webhook the call needs did not answer (`failed calling webhook`): its
    /// operator has just started and its Service has no ready endpoint yet. Retrying helps.
    #[error("{what}: {source}")]
    WebhookNotReady {
        /// The verb and object.
        what: String,
        /// The API server's error naming the webhook.
        #[source]
        source: kube::Error,
    },
    /// The cluster does not serve this kind: its CRD or operator is not installed.
    #[error(
        "kind {kind} of {api_version} is unknown to the cluster (is its CRD or operator installed?): {source}"
    )]
    UnknownKind {
        /// The apiVersion asked for.
        api_version: String,
        /// The kind asked for.
        kind: String,
        /// kube's discovery error.
        #[source]
        source: kube::Error,
    },
    /// The object does not exist.
    #[error("{what} not found")]
    NotFound {
        /// The object, e.g. `Service openbao/openbao`.
        what: String,
    },
    /// The kubeconfig or client settings are unusable. No `source`: kube's error may name a
    /// proxy URL with its password, so only the redacted message is kept.
    #[error("{what}: {message}")]
    Config {
        /// What was being loaded, e.g. `loading Kubernetes context k3d-harmony`.
        what: String,
        /// The (redacted) cause, with the fix when known.
        message: String,
    },
    /// A manifest or object is not what the call needs (no `kind`, not the expected type, a
    /// Service without the port, no ready pod...).
    #[error("{0}")]
    Invalid(String),
    /// An object could not be converted between JSON and its Rust type.
    #[error("{what}: {source}")]
    Serde {
        /// What was being converted.
        what: String,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// An object the API returned does not have the shape of its Rust type.
    #[error("reading {what}: {source}")]
    Parse {
        /// The object.
        what: String,
        /// kube's conversion error.
        #[source]
        source: kube::core::dynamic::ParseDynamicObjectError,
    },
    /// Watching an object failed.
    #[error("watching {what}: {source}")]
    Watch {
        /// The object.
        what: String,
        /// kube's watcher error.
        #[source]
        source: kube::runtime::wait::Error,
    },
    /// The object was deleted while waiting for it.
    #[error("{what} was deleted while waiting")]
    Deleted {
        /// The object.
        what: String,
    },
    /// A command run in a pod exited with a failure.
    #[error("{what} failed: {message}")]
    ExecFailed {
        /// The command and pod.
        what: String,
        /// The API's status message and the command's stderr.
        message: String,
    },
    /// A local socket for a port-forward failed.
    #[error("{what}: {source}")]
    Io {
        /// What was done locally.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl K8sError {
    /// A failed kube call, classified once here: an admission webhook that does not answer
    /// becomes [`K8sError::WebhookNotReady`], anything else [`K8sError::Api`].
    pub fn from_kube(what: impl Into<String>, source: kube::Error) -> Self {
        let what = what.into();
        match &source {
            // `Internal error occurred: failed calling webhook "mcluster.cnpg.io": ... connect:
            // connection refused` / `no endpoints available for service`. A webhook that
            // answered and denied (`admission webhook ... denied the request`) is not this.
            kube::Error::Api(status) if status.message.contains("failed calling webhook") => {
                K8sError::WebhookNotReady { what, source }
            }
            _ => K8sError::Api { what, source },
        }
    }

    /// True when the API answered 404 for the object itself.
    pub fn is_not_found(&self) -> bool {
        match self {
            K8sError::NotFound { .. } => true,
            K8sError::Api {
                source: kube::Error::Api(status),
                ..
            } => status.is_not_found(),
            _ => false,
        }
    }
}

/// An object after a server-side apply, and whether the apply changed it (its
/// `metadata.resourceVersion` differs from before, or it did not exist).
#[derive(Debug, Clone)]
pub struct Applied<K> {
    /// The object as the server stored it.
    pub object: K,
    /// Whether the apply created or changed it.
    pub changed: bool,
}

/// A kube-rs client plus a cache of API discovery (kind → resource + scope).
///
/// The cache is filled one kind at a time and an unknown kind is looked up again on every
/// call, so a custom resource can be applied right after its CRD (e.g. a CloudNativePG
/// `Cluster` after the operator chart). [`K8sClient::refresh_discovery`] empties it.
pub struct K8sClient {
    client: Client,
    discovery: RwLock<HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)>>,
}

impl Debug for K8sClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K8sClient")
            .field("default_namespace", &self.client.default_namespace())
            .finish()
    }
}

fn api_err(action: impl std::fmt::Display, e: kube::Error) -> K8sError {
    K8sError::from_kube(action.to_string(), e)
}

fn config_err_message(action: impl std::fmt::Display, message: impl std::fmt::Display) -> K8sError {
    K8sError::Config {
        what: action.to_string(),
        message: message.to_string(),
    }
}

/// A kubeconfig loading error. With a proxy set, kube parses `NO_PROXY` and refuses the whole
/// configuration for one entry it cannot read (an empty one from `NO_PROXY=$NO_PROXY,host`):
/// say which problem, and what to change.
fn config_err(action: impl std::fmt::Display, e: &(dyn std::error::Error + 'static)) -> K8sError {
    let mut message = e.to_string();
    if message.contains("NO_PROXY") {
        let mut source = e.source();
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        message.push_str(
            " (fix NO_PROXY/no_proxy: comma-separated hosts, IPs or CIDRs, no empty entries as in `,a` or `a,,b`)",
        );
    }
    config_err_message(action, message)
}

/// Names an object in messages: `Kind namespace/name`, or `Kind name` when cluster-scoped.
pub(crate) fn describe(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

fn serde_err(what: &str) -> impl FnOnce(serde_json::Error) -> K8sError + '_ {
    move |source| K8sError::Serde {
        what: what.to_string(),
        source,
    }
}

fn to_typed<K: Resource + DeserializeOwned>(obj: DynamicObject) -> Result<K, K8sError> {
    let what = describe(
        obj.types.as_ref().map_or("object", |t| t.kind.as_str()),
        obj.metadata.namespace.as_deref(),
        obj.metadata.name.as_deref().unwrap_or("(unnamed)"),
    );
    obj.try_parse()
        .map_err(|source| K8sError::Parse { what, source })
}

/// Names a manifest in error messages by apiVersion, kind and name only: the rest (a
/// Secret's `data`, a ConfigMap holding a password) must never reach logs or summaries.
fn describe_manifest(manifest: &serde_json::Value) -> String {
    let field = |f: &str| manifest.pointer(f).and_then(|v| v.as_str());
    let mut out = format!(
        "{} {}",
        field("/apiVersion").unwrap_or("(no apiVersion)"),
        field("/kind").unwrap_or("(no kind)")
    );
    match (field("/metadata/namespace"), field("/metadata/name")) {
        (Some(ns), Some(name)) => out.push_str(&format!(" {ns}/{name}")),
        (None, Some(name)) => out.push_str(&format!(" {name}")),
        _ => {}
    }
    out
}

/// Splits `apiVersion` into (group, version): `apps/v1` → (`apps`, `v1`), `v1` → (``, `v1`).
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

impl K8sClient {
    /// Wraps an existing kube client.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            discovery: RwLock::new(HashMap::new()),
        }
    }

    /// A client for `context` (or the current context) of the kubeconfig at `path` (or the
    /// default kubeconfig: `KUBECONFIG`, then `~/.kube/config`).
    pub async fn from_kubeconfig(
        path: Option<&Path>,
        context: Option<&str>,
    ) -> Result<Self, K8sError> {
        let options = KubeConfigOptions {
            context: context.map(str::to_string),
            ..Default::default()
        };
        let config = match path {
            Some(p) => {
                let kubeconfig = Kubeconfig::read_from(p).map_err(|e| {
                    config_err_message(format!("reading kubeconfig {}", p.display()), e)
                })?;
                Config::from_custom_kubeconfig(kubeconfig, &options).await
            }
            None => Config::from_kubeconfig(&options).await,
        }
        .map_err(|e| {
            config_err(
                format!(
                    "loading Kubernetes context {}",
                    context.unwrap_or("(current)")
                ),
                &e,
            )
        })?;
        Self::from_config(config)
    }

    /// A client for an explicit configuration (e.g. `Config::new(url)` in tests). A proxy
    /// kube took from `HTTPS_PROXY` is dropped for a loopback or `NO_PROXY` API server
    /// ([`crate::infra::proxy::bypass_env_proxy`]).
    pub fn from_config(mut config: Config) -> Result<Self, K8sError> {
        crate::infra::proxy::bypass_env_proxy(&mut config, crate::infra::proxy::process_env);
        let proxy = config.proxy_url.clone();
        let client = Client::try_from(config).map_err(|e| {
            // kube names the proxy URL in some errors: never show its password.
            let message = match &proxy {
                Some(p) => crate::infra::proxy::redact_proxy_credentials(&e.to_string(), p),
                None => e.to_string(),
            };
            config_err_message("creating the Kubernetes client", message)
        })?;
        Ok(Self::new(client))
    }

    /// A client for the API server at `url` without credentials (a local proxy, or a fake
    /// API server in tests).
    pub fn from_url(url: &str) -> Result<Self, K8sError> {
        let uri = url
            .parse()
            .map_err(|e| config_err_message(format!("parsing the API server URL {url}"), e))?;
        Self::from_config(Config::new(uri))
    }

    /// The underlying kube client, for calls this adapter does not wrap.
    pub fn kube_client(&self) -> Client {
        self.client.clone()
    }

    // ----- discovery -----------------------------------------------------------------------

    /// Forgets all discovered kinds; the next call looks them up again. Call it after
    /// installing or upgrading CRDs.
    pub async fn refresh_discovery(&self) {
        self.discovery.write().await.clear();
    }

    /// Resolves a kind to its API resource and scope, asking the server when not cached.
    pub async fn resolve_kind(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, ApiCapabilities), K8sError> {
        let (group, version) = split_api_version(api_version);
        let gvk = GroupVersionKind::gvk(group, version, kind);
        if let Some(found) = self.discovery.read().await.get(&gvk) {
            return Ok(found.clone());
        }
        let found = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|source| K8sError::UnknownKind {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
                source,
            })?;
        self.discovery.write().await.insert(gvk, found.clone());
        Ok(found)
    }

    /// Names of the API groups the cluster serves.
    pub async fn api_groups(&self) -> Result<Vec<String>, K8sError> {
        let groups = self
            .client
            .list_api_groups()
            .await
            .map_err(|e| api_err("listing API groups", e))?;
        Ok(groups.groups.into_iter().map(|g| g.name).collect())
    }

    fn dyn_api(
        &self,
        ar: &ApiResource,
        caps: &ApiCapabilities,
        namespace: Option<&str>,
    ) -> Api<DynamicObject> {
        let api = Api::<DynamicObject>::dynamic(self.client.clone(), ar, &caps.scope);
        match (&caps.scope, namespace) {
            (Scope::Namespaced, Some(ns)) => api.constrain(ns),
            (Scope::Namespaced, None) => api.constrain_default(),
            (Scope::Cluster, _) => api,
        }
    }

    // ----- apply -----------------------------------------------------------------------------

    /// Server-side applies a typed object (field manager `harmony`, forced). Its namespace is
    /// taken from `metadata.namespace` (the client's default namespace when missing).
    pub async fn apply<K>(&self, object: &K) -> Result<Applied<K>, K8sError>
    where
        K: Resource + Serialize + DeserializeOwned,
    {
        let manifest = serde_json::to_value(object).map_err(serde_err("serializing an object"))?;
        let applied = self.apply_dynamic(&manifest).await?;
        Ok(Applied {
            object: to_typed(applied.object)?,
            changed: applied.changed,
        })
    }

    /// Server-side applies any manifest (`apiVersion`, `kind`, `metadata.name` required),
    /// discovering its kind. Retries discovery once when the kind vanished (404), so a CRD
    /// re-installed meanwhile is picked up.
    pub async fn apply_dynamic(
        &self,
        manifest: &serde_json::Value,
    ) -> Result<Applied<DynamicObject>, K8sError> {
        self.apply_dynamic_with_manager(manifest, FIELD_MANAGER)
            .await
    }

    /// [`Self::apply_dynamic`] with its own server-side-apply field manager (forced), so
    /// several writers can each own a part of one object (e.g. one key each of a shared
    /// ConfigMap) without removing each other's fields.
    pub async fn apply_dynamic_with_manager(
        &self,
        manifest: &serde_json::Value,
        field_manager: &str,
    ) -> Result<Applied<DynamicObject>, K8sError> {
        let field = |f: &str| {
            manifest
                .pointer(f)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| {
                    K8sError::Invalid(format!(
                        "manifest has no {f}: {}",
                        describe_manifest(manifest)
                    ))
                })
        };
        let api_version = field("/apiVersion")?;
        let kind = field("/kind")?;
        let name = field("/metadata/name")?;
        let namespace = manifest
            .pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let what = describe(&kind, namespace.as_deref(), &name);

        // One immediate retry after refreshing discovery (an async step), not a polling loop:
        // no backoff to configure, so no backon here.
        let mut retried = false;
        loop {
            let (ar, caps) = self.resolve_kind(&api_version, &kind).await?;
            let api = self.dyn_api(&ar, &caps, namespace.as_deref());
            let before = api
                .get_opt(&name)
                .await
                .map_err(|e| api_err(format!("reading {what}"), e));
            let before = match before {
                Ok(b) => b,
                Err(_) if !retried => {
                    retried = true;
                    self.refresh_discovery().await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let params = PatchParams::apply(field_manager).force();
            match api.patch(&name, &params, &Patch::Apply(manifest)).await {
                Ok(object) => {
                    let old_rv = before.and_then(|b| b.metadata.resource_version);
                    let changed = old_rv.is_none() || old_rv != object.metadata.resource_version;
                    return Ok(Applied { object, changed });
                }
                Err(kube::Error::Api(status)) if status.is_not_found() && !retried => {
                    retried = true;
                    self.refresh_discovery().await;
                }
                Err(e) => return Err(api_err(format!("applying {what}"), e)),
            }
        }
    }

    /// Sets annotations on a Deployment's pod template (a JSON merge patch, as
    /// `field_manager`). Changing a template annotation rolls the Deployment out, like
    /// `kubectl rollout restart`, and the annotation stays readable afterwards, so a caller
    /// can record *why* it restarted (e.g. the hash of the configuration it loaded).
    /// Returns the patched Deployment.
    pub async fn patch_deployment_template_annotations(
        &self,
        namespace: &str,
        name: &str,
        annotations: &BTreeMap<String, String>,
        field_manager: &str,
    ) -> Result<Deployment, K8sError> {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let patch = serde_json::json!({
            "spec": { "template": { "metadata": { "annotations": annotations } } }
        });
        let params = PatchParams {
            field_manager: Some(field_manager.to_string()),
            ..PatchParams::default()
        };
        deployments
            .patch(name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| {
                api_err(
                    format!(
                        "patching the pod template of {}",
                        describe("Deployment", Some(namespace), name)
                    ),
                    e,
                )
            })
    }

    /// A JSON merge patch of a ConfigMap as `field_manager` (e.g. `null` values remove `data`
    /// keys or annotations, whoever wrote them); `action` names it in errors. Returns the
    /// ConfigMap as updated.
    pub async fn merge_patch_configmap(
        &self,
        namespace: &str,
        name: &str,
        patch: &serde_json::Value,
        field_manager: &str,
        action: &str,
    ) -> Result<k8s_openapi::api::core::v1::ConfigMap, K8sError> {
        let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(self.client.clone(), namespace);
        let params = PatchParams {
            field_manager: Some(field_manager.to_string()),
            ..PatchParams::default()
        };
        configmaps
            .patch(name, &params, &Patch::Merge(patch))
            .await
            .map_err(|e| {
                api_err(
                    format!(
                        "{action} in {}",
                        describe("ConfigMap", Some(namespace), name)
                    ),
                    e,
                )
            })
    }

    // ----- read / delete ---------------------------------------------------------------------

    /// Reads a typed object; an absent object is an error naming it.
    pub async fn get<K>(&self, name: &str, namespace: Option<&str>) -> Result<K, K8sError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        self.get_opt(name, namespace)
            .await?
            .ok_or_else(|| K8sError::NotFound {
                what: describe(&K::kind(&()), namespace, name),
            })
    }

    /// Reads a typed object, `None` when absent.
    pub async fn get_opt<K>(
        &self,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<Option<K>, K8sError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let ar = ApiResource::erase::<K>(&());
        match self
            .get_dynamic_opt(&ar.api_version, &ar.kind, name, namespace)
            .await?
        {
            Some(obj) => Ok(Some(to_typed(obj)?)),
            None => Ok(None),
        }
    }

    /// Creates namespace `ns` when it does not exist; `true` when it was created.
    pub async fn ensure_namespace(&self, ns: &str) -> Result<bool, K8sError> {
        use k8s_openapi::api::core::v1::Namespace;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
        if self.get_opt::<Namespace>(ns, None).await?.is_some() {
            return Ok(false);
        }
        self.apply(&Namespace {
            metadata: ObjectMeta {
                name: Some(ns.to_string()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await?;
        Ok(true)
    }

    /// Reads any object by apiVersion/kind, `None` when absent.
    pub async fn get_dynamic_opt(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<Option<DynamicObject>, K8sError> {
        let (ar, caps) = self.resolve_kind(api_version, kind).await?;
        self.dyn_api(&ar, &caps, namespace)
            .get_opt(name)
            .await
            .map_err(|e| api_err(format!("reading {}", describe(kind, namespace, name)), e))
    }

    /// Lists typed objects (in `namespace`, or cluster-wide), optionally by label selector.
    pub async fn list<K>(
        &self,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<K>, K8sError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let ar = ApiResource::erase::<K>(&());
        let (ar, caps) = self.resolve_kind(&ar.api_version, &ar.kind).await?;
        let api = match namespace {
            Some(_) => self.dyn_api(&ar, &caps, namespace),
            None => Api::<DynamicObject>::dynamic(self.client.clone(), &ar, &caps.scope),
        };
        let mut lp = ListParams::default();
        if let Some(selector) = label_selector {
            lp = lp.labels(selector);
        }
        let list = api
            .list(&lp)
            .await
            .map_err(|e| api_err(format!("listing {}", ar.kind), e))?;
        list.items.into_iter().map(to_typed).collect()
    }

    /// Deletes a typed object. Returns false when it was already absent.
    pub async fn delete<K>(&self, name: &str, namespace: Option<&str>) -> Result<bool, K8sError>
    where
        K: Resource<DynamicType = ()>,
    {
        let ar = ApiResource::erase::<K>(&());
        self.delete_dynamic(&ar.api_version, &ar.kind, name, namespace)
            .await
    }

    /// Deletes any object by apiVersion/kind. Returns false when it was already absent.
    pub async fn delete_dynamic(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<bool, K8sError> {
        let (ar, caps) = self.resolve_kind(api_version, kind).await?;
        match self
            .dyn_api(&ar, &caps, namespace)
            .delete(name, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.is_not_found() => Ok(false),
            Err(e) => Err(api_err(
                format!("deleting {}", describe(kind, namespace, name)),
                e,
            )),
        }
    }

    // ----- waiting ---------------------------------------------------------------------------

    /// Waits until `condition` holds for a typed object (it receives `None` while the object
    /// does not exist), for at most `timeout`. The timeout error names the object.
    pub async fn wait_for<K, C>(
        &self,
        name: &str,
        namespace: Option<&str>,
        condition: C,
        timeout: Duration,
    ) -> Result<K, K8sError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned + Send + Sync,
        C: Fn(Option<&K>) -> bool + Send + Sync + 'static,
    {
        let ar = ApiResource::erase::<K>(&());
        let typed = move |obj: Option<&DynamicObject>| -> bool {
            let typed: Option<K> = obj.and_then(|o| o.clone().try_parse().ok());
            condition(typed.as_ref())
        };
        let obj = self
            .wait_for_dynamic(&ar.api_version, &ar.kind, name, namespace, typed, timeout)
            .await?;
        to_typed(obj)
    }

    /// Waits until `condition` holds for any object by apiVersion/kind.
    pub async fn wait_for_dynamic<C>(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
        condition: C,
        timeout: Duration,
    ) -> Result<DynamicObject, K8sError>
    where
        C: Fn(Option<&DynamicObject>) -> bool + Send + Sync + 'static,
    {
        let what = describe(kind, namespace, name);
        let (ar, caps) = self.resolve_kind(api_version, kind).await?;
        let api = self.dyn_api(&ar, &caps, namespace);
        let waited = what.clone();
        with_timeout(&what, timeout, async move {
            match kube::runtime::wait::await_condition(api, name, condition).await {
                Ok(Some(obj)) => Ok(obj),
                Ok(None) => Err(K8sError::Deleted { what: waited }),
                Err(source) => Err(K8sError::Watch {
                    what: waited,
                    source,
                }),
            }
        })
        .await
    }

    /// Waits until a `status.conditions` entry of `condition_type` is `True` (e.g. `Ready` on
    /// a CloudNativePG Cluster, `Available` on a Deployment).
    ///
    /// The wait itself is kube's `await_condition`; the condition is ours because
    /// `kube::runtime::conditions` has none that reads a condition type on any (dynamic) kind
    /// (its `is_deployment_completed` checks the rollout, not `Available`).
    pub async fn wait_for_condition(
        &self,
        api_version: &str,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
        condition_type: &str,
        timeout: Duration,
    ) -> Result<DynamicObject, K8sError> {
        let wanted = condition_type.to_string();
        let what = format!("{} to be {condition_type}", describe(kind, namespace, name));
        self.wait_for_dynamic(
            api_version,
            kind,
            name,
            namespace,
            move |obj| {
                obj.and_then(|o| serde_json::to_value(o).ok())
                    .is_some_and(|v| has_condition(&v, &wanted))
            },
            timeout,
        )
        .await
        .map_err(|e| match e {
            K8sError::Timeout { seconds, .. } => K8sError::Timeout { what, seconds },
            other => other,
        })
    }

    /// Waits until a Deployment reports `Available=True`.
    pub async fn wait_deployment_available(
        &self,
        name: &str,
        namespace: &str,
        timeout: Duration,
    ) -> Result<Deployment, K8sError> {
        let obj = self
            .wait_for_condition(
                "apps/v1",
                "Deployment",
                name,
                Some(namespace),
                "Available",
                timeout,
            )
            .await?;
        to_typed(obj)
    }

    // ----- pods ------------------------------------------------------------------------------

    /// Forwards a local port (127.0.0.1, chosen by the OS) to `port` of a pod or of a ready
    /// pod behind a Service. Each accepted connection gets its own port-forward stream, so
    /// HTTP clients work normally against [`PortForward::local_url`]. The forward stops when
    /// the returned value is dropped.
    pub async fn port_forward(
        &self,
        namespace: &str,
        target: PortForwardTarget,
        port: u16,
    ) -> Result<PortForward, K8sError> {
        super::portforward::start(self, namespace, target, port).await
    }

    /// Runs `command` in a container of a pod and returns its stdout. A non-zero exit is an
    /// error carrying stderr.
    pub async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[&str],
    ) -> Result<String, K8sError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let mut params = AttachParams::default()
            .stdout(true)
            .stderr(true)
            .stdin(false);
        if let Some(c) = container {
            params = params.container(c);
        }
        let what = format!("`{}` in pod {namespace}/{pod}", command.join(" "));
        let mut process = pods
            .exec(
                pod,
                command.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                &params,
            )
            .await
            .map_err(|e| api_err(format!("running {what}"), e))?;
        let mut stdout = String::new();
        let mut stderr = String::new();
        let status = process.take_status();
        let out = process.stdout();
        let err = process.stderr();
        let read_out = async {
            if let Some(mut o) = out {
                let _ = o.read_to_string(&mut stdout).await;
            }
        };
        let read_err = async {
            if let Some(mut e) = err {
                let _ = e.read_to_string(&mut stderr).await;
            }
        };
        tokio::join!(read_out, read_err);
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        if let Err(e) = process.join().await {
            return Err(K8sError::ExecFailed {
                what,
                message: e.to_string(),
            });
        }
        match status {
            Some(s) if s.status.as_deref() == Some("Failure") => Err(K8sError::ExecFailed {
                what,
                message: format!("{} {}", s.message.unwrap_or_default(), stderr.trim()),
            }),
            _ => Ok(stdout),
        }
    }

    // ----- distribution ----------------------------------------------------------------------

    /// Detects the distribution from the server version, API groups and node labels.
    pub async fn distribution(&self) -> Result<K8sDistribution, K8sError> {
        let version = self
            .client
            .apiserver_version()
            .await
            .map_err(|e| api_err("reading the server version", e))?;
        let api_groups = self.api_groups().await?;
        let node_labels: Vec<BTreeMap<String, String>> = match Api::<Node>::all(self.client.clone())
            .list(&ListParams::default().limit(5))
            .await
        {
            Ok(nodes) => nodes
                .items
                .into_iter()
                .map(|n| n.metadata.labels.unwrap_or_default())
                .collect(),
            // Listing nodes needs cluster-wide rights; the other facts usually suffice.
            Err(_) => Vec::new(),
        };
        Ok(detect_distribution(&DistributionFacts {
            git_version: version.git_version,
            api_groups,
            node_labels,
        }))
    }
}
