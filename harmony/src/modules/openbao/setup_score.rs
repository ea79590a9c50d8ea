//! [`OpenbaoSetupScore`]: init/unseal/configure a deployed OpenBao through a port-forward per pod
//! (one pod, or every pod of an HA raft cluster), with Shamir keys or a transit seal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use crate::infra::k8s::{K8sClient, PortForwardTarget};
use crate::infra::openbao_admin::{
    FileKeyStore, KeyStoreError, OpenbaoDesiredState, OpenbaoInitRecord, OpenbaoJwtAuth,
    OpenbaoKeyStore, OpenbaoSetup, OpenbaoUserpass, harmony_dev_policy,
};
use crate::infra::openbao_cluster::OpenbaoCluster;
use crate::infra::openbao_transit::{
    OpenbaoTransitSeal, TransitUnsealerSetup, refuse_seal_migration,
};
use crate::interpret::{Interpret, InterpretError, Outcome};
use crate::inventory::Inventory;
use crate::plan::{ChangeKind, Plan, PlannedChange};
use crate::score::Score;
use crate::topology::{CapabilityError, K8sclient, Topology};

/// Key of the init record inside the admin-only Secret.
pub const INIT_SECRET_KEY: &str = "init.json";

/// Key of the seal token inside the transit seal Secret.
pub const TRANSIT_TOKEN_SECRET_KEY: &str = "token";

/// How the OpenBao being set up is unsealed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub enum OpenbaoUnsealMode {
    /// Unseal keys kept in the `-init` Secret and a 0600 cache; every run unseals.
    #[default]
    Shamir,
    /// A `seal "transit"` on another OpenBao/Vault: the server unseals itself.
    Transit(OpenbaoTransitUnseal),
}

/// Transit auto-unseal settings of the setup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenbaoTransitUnseal {
    /// Same value as [`super::OpenbaoScore::transit_seal`].
    pub seal: OpenbaoTransitSeal,
    /// Admin access to the unsealer: a Harmony OpenBao in this cluster (namespace, release),
    /// whose root token is in its `-init` Secret. With it the setup creates the transit mount,
    /// key, policy and seal token, and writes the token Secret. Without it, the Secret
    /// `<fullname>-transit-seal` (key `token`) must already hold a valid token.
    pub unsealer: Option<(String, String)>,
}

/// Initialises, unseals and configures the OpenBao deployed by
/// [`super::OpenbaoScore`] (same namespace and release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenbaoSetupScore {
    /// Namespace of the OpenBao release.
    pub namespace: String,
    /// Its Helm release name.
    pub release_name: String,
    /// Shamir key shares created at init.
    pub secret_shares: u8,
    /// Shares needed to unseal.
    pub secret_threshold: u8,
    /// KV v2 mount path (default `secret`).
    pub kv_mount: String,
    /// Create the userpass user given in [`Self::userpass_credentials`].
    pub userpass: bool,
    /// The userpass user's name and password, chosen by the caller (e.g.
    /// `harmony_config::get_or_prompt::<OpenbaoUserpassConfig>()`, prompted once, then
    /// remembered): the Score never prompts. Required to run with `userpass`; without it a
    /// plan reports the user as unknown. Never serialized.
    #[serde(skip)]
    pub userpass_credentials: Option<OpenbaoUserpassConfig>,
    /// Policies of the userpass user.
    pub userpass_policies: Vec<String>,
    /// JWT auth trusting an OIDC issuer (e.g. Zitadel, see `ZitadelSetupScore::provision`).
    pub jwt: Option<OpenbaoJwtAuth>,
    /// Scopes the local key cache (`~/.local/share/harmony/openbao/<cluster>/...`); usually the
    /// kube context, e.g. `k3d-harmony`.
    pub cluster_name: String,
    /// Same as [`super::OpenbaoScore::ha`]: the number of raft pods (`None`: one pod).
    pub ha: Option<u8>,
    /// Shamir (default) or transit auto-unseal.
    pub unseal: OpenbaoUnsealMode,
}

impl Default for OpenbaoSetupScore {
    fn default() -> Self {
        Self {
            namespace: "openbao".to_string(),
            release_name: "openbao".to_string(),
            secret_shares: 1,
            secret_threshold: 1,
            kv_mount: "secret".to_string(),
            userpass: true,
            userpass_credentials: None,
            userpass_policies: vec!["harmony-dev".to_string()],
            jwt: None,
            cluster_name: "k3d-harmony".to_string(),
            ha: None,
            unseal: OpenbaoUnsealMode::Shamir,
        }
    }
}

impl OpenbaoSetupScore {
    /// The setup of the OpenBao deployed by `openbao`, with the key cache scoped to
    /// `cluster_name` (the kube context, e.g. `k3d-harmony`).
    pub fn for_deployment(openbao: &super::OpenbaoScore, cluster_name: impl Into<String>) -> Self {
        Self {
            namespace: openbao.namespace.clone(),
            release_name: openbao.release_name.clone(),
            cluster_name: cluster_name.into(),
            ha: openbao.ha,
            unseal: match &openbao.transit_seal {
                Some(seal) => OpenbaoUnsealMode::Transit(OpenbaoTransitUnseal {
                    seal: seal.clone(),
                    unsealer: None,
                }),
                None => OpenbaoUnsealMode::Shamir,
            },
            ..Default::default()
        }
    }

    /// The chart's fullname (base of the pod, Service and Secret names).
    pub fn fullname(&self) -> String {
        fullname_of(&self.release_name)
    }

    /// The admin-only Secret holding the unseal keys and root token.
    pub fn init_secret_name(&self) -> String {
        format!("{}-init", self.fullname())
    }

    /// `~/.local/share/harmony/openbao/<cluster>/<namespace>-<release>.json`.
    pub fn local_cache_path(&self) -> PathBuf {
        cache_path(&self.cluster_name, &self.namespace, &self.release_name)
    }

    /// The pods to unseal: `<fullname>-0` .. `<fullname>-(n-1)`.
    pub fn pod_names(&self) -> Vec<String> {
        super::pod_names(&self.fullname(), self.ha)
    }

    /// The wanted state, given the userpass credentials.
    pub fn desired_state(&self, userpass: Option<OpenbaoUserpass>) -> OpenbaoDesiredState {
        OpenbaoDesiredState {
            secret_shares: self.secret_shares,
            secret_threshold: self.secret_threshold,
            kv_mount: self.kv_mount.clone(),
            policies: vec![harmony_dev_policy(&self.kv_mount)],
            userpass,
            jwt: self.jwt.clone(),
        }
    }
}

fn cache_path(cluster: &str, namespace: &str, release: &str) -> PathBuf {
    crate::infra::k8s_anywhere::harmony_data_dir()
        .join("openbao")
        .join(sanitize(cluster))
        .join(format!(
            "{}-{}.json",
            sanitize(namespace),
            sanitize(release)
        ))
}

fn fullname_of(release: &str) -> String {
    crate::modules::helm::chart_fullname(release, "openbao")
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .replace("..", "__")
}

/// The userpass user of OpenBao, kept by `harmony_config` (prompted once, then remembered;
/// env override `HARMONY_CONFIG_OpenbaoUserpassConfig`).
#[derive(
    Clone,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
    harmony_config::Config,
)]
#[config(key = "OpenbaoUserpassConfig")]
pub struct OpenbaoUserpassConfig {
    /// OpenBao userpass user name (e.g. your login).
    pub username: String,
    /// Its password (hidden input; remembered locally).
    #[config(secret)]
    pub password: String,
}

// Hand-written, not a `SecretString` field: a `Config` must be `Serialize` and `JsonSchema`.
impl std::fmt::Debug for OpenbaoUserpassConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenbaoUserpassConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Unseal keys + root token in an admin-only Secret, mirrored in a 0600 local cache. The
/// Secret wins; when it is gone but the cache has the keys, the Secret is restored.
pub struct K8sSecretKeyStore {
    client: Arc<K8sClient>,
    namespace: String,
    secret_name: String,
    cache: FileKeyStore,
}

impl K8sSecretKeyStore {
    /// Keys in Secret `namespace/secret_name`, mirrored in the file at `cache_path`.
    pub fn new(
        client: Arc<K8sClient>,
        namespace: impl Into<String>,
        secret_name: impl Into<String>,
        cache_path: PathBuf,
    ) -> Self {
        Self {
            client,
            namespace: namespace.into(),
            secret_name: secret_name.into(),
            cache: FileKeyStore::new(cache_path),
        }
    }

    async fn read_secret(&self) -> Result<Option<OpenbaoInitRecord>, KeyStoreError> {
        let secret: Option<Secret> = self
            .client
            .get_opt(&self.secret_name, Some(&self.namespace))
            .await?;
        let Some(bytes) = secret
            .and_then(|s| s.data)
            .and_then(|mut d| d.remove(INIT_SECRET_KEY))
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes.0)
            .map(Some)
            .map_err(|e| KeyStoreError::Malformed {
                location: format!(
                    "Secret {}/{} key {INIT_SECRET_KEY}",
                    self.namespace, self.secret_name
                ),
                expected: "init record",
                detail: crate::infra::openbao_admin::redacted_json_error(&e),
            })
    }

    async fn write_secret(&self, record: &OpenbaoInitRecord) -> Result<(), KeyStoreError> {
        let bytes = serde_json::to_vec(record).map_err(KeyStoreError::Encode)?;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(self.secret_name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(
                    [(
                        "app.kubernetes.io/managed-by".to_string(),
                        "harmony".to_string(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            type_: Some("Opaque".to_string()),
            data: Some([(INIT_SECRET_KEY.to_string(), ByteString(bytes))].into()),
            ..Default::default()
        };
        self.client.apply(&secret).await?;
        Ok(())
    }
}

#[async_trait]
impl OpenbaoKeyStore for K8sSecretKeyStore {
    async fn load(&self) -> Result<Option<OpenbaoInitRecord>, KeyStoreError> {
        let from_secret = self.read_secret().await?;
        let from_cache = self.cache.load().await.unwrap_or_else(|e| {
            log::warn!("ignoring the local OpenBao key cache: {e}");
            None
        });
        match (from_secret, from_cache) {
            (Some(secret), cache) => {
                if cache.as_ref() != Some(&secret) {
                    self.cache.save(&secret).await?;
                }
                Ok(Some(secret))
            }
            (None, Some(cache)) => {
                log::warn!(
                    "Secret {}/{} is missing; restoring it from {}",
                    self.namespace,
                    self.secret_name,
                    self.cache.describe()
                );
                self.write_secret(&cache).await?;
                Ok(Some(cache))
            }
            (None, None) => Ok(None),
        }
    }

    async fn save(&self, record: &OpenbaoInitRecord) -> Result<(), KeyStoreError> {
        // Local first: it cannot fail for cluster reasons, so the keys are never lost.
        let local = self.cache.save(record).await;
        let remote = self.write_secret(record).await;
        match (local, remote) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(l), Ok(())) => {
                log::warn!("OpenBao keys saved in the Secret but not locally: {l}");
                Ok(())
            }
            (Ok(()), Err(r)) => Err(KeyStoreError::SavedOnlyLocally {
                saved_in: self.cache.describe(),
                source: Box::new(r),
            }),
            (Err(l), Err(r)) => Err(KeyStoreError::NotSaved {
                local: Box::new(l),
                source: Box::new(r),
            }),
        }
    }

    fn describe(&self) -> String {
        format!(
            "Secret {}/{} and {}",
            self.namespace,
            self.secret_name,
            self.cache.describe()
        )
    }
}

/// The key store as a plan sees it: reads the Secret, else the local cache, and never writes
/// (no restore of a lost Secret, no cache refresh).
struct ReadOnlyKeyStore(K8sSecretKeyStore);

#[async_trait]
impl OpenbaoKeyStore for ReadOnlyKeyStore {
    async fn load(&self) -> Result<Option<OpenbaoInitRecord>, KeyStoreError> {
        match self.0.read_secret().await? {
            Some(record) => Ok(Some(record)),
            None => self.0.cache.load().await,
        }
    }

    async fn save(&self, _record: &OpenbaoInitRecord) -> Result<(), KeyStoreError> {
        Err(KeyStoreError::Refused {
            why: "a plan never saves keys",
        })
    }

    fn describe(&self) -> String {
        self.0.describe()
    }
}

/// The userpass user to create: the Score's own credentials, with its policies.
fn userpass_of(score: &OpenbaoSetupScore) -> Option<OpenbaoUserpass> {
    score
        .userpass_credentials
        .as_ref()
        .map(|c| OpenbaoUserpass {
            username: c.username.clone(),
            password: c.password.clone().into(),
            policies: score.userpass_policies.clone(),
        })
}

/// Makes sure the transit seal token Secret holds a valid token: with admin access to the
/// unsealer, sets up its transit mount/key/policy and creates the token when needed.
pub(crate) async fn ensure_transit_token(
    client: &Arc<K8sClient>,
    score: &OpenbaoSetupScore,
    transit: &OpenbaoTransitUnseal,
) -> Result<Vec<String>, InterpretError> {
    let ns = score.namespace.as_str();
    let secret_name = super::transit_token_secret_name(&score.fullname());
    let current: Option<String> = client
        .get_opt::<Secret>(&secret_name, Some(ns))
        .await?
        .and_then(|s| s.data)
        .and_then(|mut d| d.remove(TRANSIT_TOKEN_SECRET_KEY))
        .and_then(|b| String::from_utf8(b.0).ok());
    let Some((unsealer_ns, unsealer_release)) = &transit.unsealer else {
        return match current {
            Some(_) => Ok(Vec::new()),
            None => Err(InterpretError::Other(format!(
                "transit seal: Secret {ns}/{secret_name} (key {TRANSIT_TOKEN_SECRET_KEY}) is missing. \
                 Create it with a token of the unsealer {} allowed to update {}/encrypt/{} and \
                 {}/decrypt/{}, or give the setup admin access to the unsealer",
                transit.seal.address,
                transit.seal.mount_path,
                transit.seal.key_name,
                transit.seal.mount_path,
                transit.seal.key_name
            ))),
        };
    };
    let unsealer_fullname = fullname_of(unsealer_release);
    let unsealer_keys = K8sSecretKeyStore::new(
        client.clone(),
        unsealer_ns.clone(),
        format!("{unsealer_fullname}-init"),
        cache_path(&score.cluster_name, unsealer_ns, unsealer_release),
    );
    let admin = unsealer_keys.load().await?.ok_or_else(|| {
        InterpretError::Other(format!(
            "transit seal: the unsealer's root token is not in {}; run its OpenbaoSetupScore first",
            unsealer_keys.describe()
        ))
    })?;
    let forward = client
        .port_forward(
            unsealer_ns,
            PortForwardTarget::Pod(format!("{unsealer_fullname}-0")),
            8200,
        )
        .await?;
    let report = TransitUnsealerSetup::new(forward.local_url.clone(), transit.seal.clone())?
        .ensure(&admin.root_token, current.as_deref())
        .await
        .map_err(|e| CapabilityError::adapter("transit seal on the unsealer", e))?;
    drop(forward);
    let mut writes: Vec<String> = report
        .writes
        .iter()
        .map(|w| format!("unsealer: {w}"))
        .collect();
    if let Some(token) = &report.new_token {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(secret_name.clone()),
                namespace: Some(ns.to_string()),
                labels: Some(
                    [(
                        "app.kubernetes.io/managed-by".to_string(),
                        "harmony".to_string(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            type_: Some("Opaque".to_string()),
            data: Some(
                [(
                    TRANSIT_TOKEN_SECRET_KEY.to_string(),
                    ByteString(
                        harmony_secret::ExposeSecret::expose_secret(token)
                            .as_bytes()
                            .to_vec(),
                    ),
                )]
                .into(),
            ),
            ..Default::default()
        };
        client.apply(&secret).await?;
        writes.push(format!("Secret {ns}/{secret_name}"));
    }
    Ok(writes)
}

#[derive(Debug)]
struct OpenbaoSetupInterpret {
    score: OpenbaoSetupScore,
}

impl<T: Topology + K8sclient> Score<T> for OpenbaoSetupScore {
    fn name(&self) -> String {
        format!(
            "OpenbaoSetupScore({}/{})",
            self.namespace, self.release_name
        )
    }

    fn create_interpret(&self) -> Box<dyn Interpret<T>> {
        Box::new(OpenbaoSetupInterpret {
            score: self.clone(),
        })
    }
}

#[async_trait]
impl<T: Topology + K8sclient> Interpret<T> for OpenbaoSetupInterpret {
    /// The writes a run would send to OpenBao (reads only, through a port-forward). The
    /// userpass user is compared only when the Score was given its credentials.
    async fn plan(&self, _inventory: &Inventory, topology: &T) -> Result<Plan, InterpretError> {
        let score = &self.score;
        let ns = score.namespace.as_str();
        let pod = format!("{}-0", score.fullname());
        let client = topology.k8s_client().await?;
        let running = client
            .get_opt::<Pod>(&pod, Some(ns))
            .await?
            .and_then(|p| p.status)
            .and_then(|s| s.phase)
            .is_some_and(|phase| phase == "Running");
        if !running {
            return Ok(Plan::new(vec![
                PlannedChange::create(format!(
                    "OpenBao {ns}/{pod}: init, unseal, KV mount {}, policy harmony-dev{}{}",
                    score.kv_mount,
                    if score.userpass {
                        ", userpass user"
                    } else {
                        ""
                    },
                    if score.jwt.is_some() {
                        ", JWT auth"
                    } else {
                        ""
                    },
                ))
                .with_detail("the pod is not running yet (OpenbaoScore deploys it)"),
            ]));
        }
        let userpass = score.userpass.then(|| userpass_of(score)).flatten();
        let unknown_password = score.userpass && userpass.is_none();
        let forward = client
            .port_forward(ns, PortForwardTarget::Pod(pod.clone()), 8200)
            .await?;
        let store = Arc::new(ReadOnlyKeyStore(K8sSecretKeyStore::new(
            client.clone(),
            ns,
            score.init_secret_name(),
            score.local_cache_path(),
        )));
        let setup = OpenbaoSetup::new(forward.local_url.clone(), store)?;
        let found = setup.plan(&score.desired_state(userpass)).await?;
        drop(forward);
        let mut plan = Plan::default();
        if found.writes.is_empty() {
            plan.push(PlannedChange::unchanged(format!(
                "OpenBao {ns}/{pod} (initialised, unsealed, configured)"
            )));
        }
        for write in &found.writes {
            let object = format!("OpenBao {write}");
            plan.push(
                if write.starts_with("POST sys/") || write == "PUT sys/init" {
                    PlannedChange::create(object)
                } else {
                    PlannedChange::new(ChangeKind::Change, object)
                },
            );
        }
        if !found.configuration_known {
            plan.push(PlannedChange::unknown(
                format!("OpenBao {ns}/{pod} configuration"),
                "sealed: read after unsealing",
            ));
        }
        if unknown_password {
            plan.push(PlannedChange::unknown(
                "OpenBao userpass user",
                "its credentials are asked when running",
            ));
        }
        Ok(plan)
    }

    async fn execute(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        let score = &self.score;
        let userpass = if score.userpass {
            Some(userpass_of(score).ok_or_else(|| {
                InterpretError::InvalidScore(format!(
                    "{} creates a userpass user but was given no credentials: set \
                     `userpass_credentials` (e.g. read with harmony_config's get_or_prompt, or env {}) \
                     or `userpass: false`",
                    Score::<T>::name(score),
                    harmony_config::env_var_name(
                        <OpenbaoUserpassConfig as harmony_config::Config>::KEY
                    )
                ))
            })?)
        } else {
            None
        };
        let client = topology.k8s_client().await?;
        let ns = score.namespace.as_str();
        if client.get_opt::<Namespace>(ns, None).await?.is_none() {
            return Err(InterpretError::Other(format!(
                "namespace {ns} does not exist: run OpenbaoScore first"
            )));
        }
        let mut writes = Vec::new();
        if let OpenbaoUnsealMode::Transit(transit) = &score.unseal {
            writes.extend(ensure_transit_token(&client, score, transit).await?);
        }
        // A sealed or uninitialised server is Running but not Ready (its probe is `bao status`).
        let pods = score.pod_names();
        let mut forwards = Vec::new();
        for pod in &pods {
            client
                .wait_for::<Pod, _>(
                    pod,
                    Some(ns),
                    |p: Option<&Pod>| {
                        p.and_then(|p| p.status.as_ref())
                            .and_then(|s| s.phase.as_deref())
                            == Some("Running")
                    },
                    Duration::from_secs(300),
                )
                .await?;
            forwards.push(
                client
                    .port_forward(ns, PortForwardTarget::Pod(pod.clone()), 8200)
                    .await?,
            );
        }
        let urls: Vec<String> = forwards.iter().map(|f| f.local_url.clone()).collect();

        let store = Arc::new(K8sSecretKeyStore::new(
            client.clone(),
            ns,
            score.init_secret_name(),
            score.local_cache_path(),
        ));
        if let OpenbaoUnsealMode::Transit(transit) = &score.unseal {
            for (pod, url) in pods.iter().zip(&urls) {
                let status = OpenbaoSetup::new(url.clone(), store.clone())?
                    .seal_status()
                    .await?;
                refuse_seal_migration(&format!("{ns}/{pod}"), &status, &transit.seal)?;
            }
        }
        let desired = score.desired_state(userpass);
        let (initialized, unsealed) = if score.ha.is_some() {
            let report = OpenbaoCluster::new(urls, store.clone())?
                .run(&desired)
                .await?;
            writes.extend(report.writes);
            (report.initialized.is_some(), !report.unsealed.is_empty())
        } else {
            let report = OpenbaoSetup::new(urls[0].clone(), store.clone())?
                .run(&desired)
                .await?;
            writes.extend(report.writes);
            (report.initialized, report.unsealed)
        };
        drop(forwards);

        let pod = pods.join(",");
        let outcome = if !writes.is_empty() {
            let mut did = Vec::new();
            if initialized {
                did.push("initialised");
            }
            if unsealed {
                did.push(unsealed_text(initialized));
            }
            did.push("configured");
            Outcome::success(format!(
                "OpenBao {ns}/{pod} {} ({} write requests)",
                did.join(", "),
                writes.len()
            ))
        } else {
            Outcome::noop(format!(
                "OpenBao {ns}/{pod} already initialised, unsealed and configured"
            ))
        };
        Ok(outcome
            .with_detail("writes", writes.join(", "))
            .with_detail("keys", store.describe())
            .with_detail("kv_mount", score.kv_mount.clone())
            .with_detail("policy", "harmony-dev"))
    }
}

/// An initialised server found sealed had restarted (an upgrade rolled its pod, a node
/// restart): the summary says so.
fn unsealed_text(initialized: bool) -> &'static str {
    if initialized {
        "unsealed"
    } else {
        "restarted (found sealed) and unsealed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_initialised_server_is_reported_as_restarted() {
        let after_restart = crate::infra::openbao_admin::SetupReport {
            writes: vec!["PUT sys/unseal".into()],
            initialized: false,
            unsealed: true,
        };
        assert!(unsealed_text(after_restart.initialized).contains("restarted"));
        let fresh = crate::infra::openbao_admin::SetupReport {
            initialized: true,
            ..after_restart
        };
        assert_eq!(unsealed_text(fresh.initialized), "unsealed");
    }

    #[test]
    fn cache_path_is_scoped_per_cluster_and_instance() {
        let score = OpenbaoSetupScore {
            cluster_name: "k3d-harmony".into(),
            ..Default::default()
        };
        let p = score.local_cache_path();
        assert!(
            p.ends_with("harmony/openbao/k3d-harmony/openbao-openbao.json"),
            "{}",
            p.display()
        );
        let other = OpenbaoSetupScore {
            cluster_name: "../../etc".into(),
            ..Default::default()
        };
        assert!(!other.local_cache_path().to_string_lossy().contains(".."));
    }

    #[test]
    fn setup_follows_the_deployment_ha_and_transit_settings() {
        let openbao = super::super::OpenbaoScore {
            ha: Some(3),
            transit_seal: Some(OpenbaoTransitSeal::new("http://unsealer:8200")),
            ..Default::default()
        };
        let setup = OpenbaoSetupScore::for_deployment(&openbao, "k3d-harmony");
        assert_eq!(setup.pod_names(), ["openbao-0", "openbao-1", "openbao-2"]);
        assert!(matches!(setup.unseal, OpenbaoUnsealMode::Transit(ref t)
            if t.seal.address == "http://unsealer:8200" && t.unsealer.is_none()));
        let single = OpenbaoSetupScore::for_deployment(&Default::default(), "k3d-harmony");
        assert_eq!(single.pod_names(), ["openbao-0"]);
        assert_eq!(single.unseal, OpenbaoUnsealMode::Shamir);
    }

    #[test]
    fn desired_state_uses_harmony_dev_policy_on_the_kv_mount() {
        let d = OpenbaoSetupScore::default().desired_state(None);
        assert_eq!(d.policies[0].name, "harmony-dev");
        assert!(d.validate().is_ok());
    }

    /// A tiny Kubernetes API: discovery of core/v1 secrets, GET and server-side-apply PATCH of
    /// Secrets, kept in memory; counts writes.
    mod fake_k8s {
        use std::collections::BTreeMap;
        use std::sync::{Arc, Mutex};

        use axum::Router;
        use axum::body::Bytes;
        use axum::extract::{Path, State};
        use axum::http::StatusCode;
        use axum::response::{IntoResponse, Response};
        use axum::routing::get;
        use serde_json::{Value, json};

        #[derive(Default)]
        pub struct Api {
            pub secrets: BTreeMap<(String, String), Value>,
            pub writes: usize,
        }
        pub type Shared = Arc<Mutex<Api>>;

        async fn discovery() -> Response {
            axum::Json(json!({
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
                "resources": [{"name": "secrets", "singularName": "secret", "namespaced": true,
                               "kind": "Secret", "verbs": ["get", "list", "patch", "create"]}]
            }))
            .into_response()
        }

        async fn get_secret(
            State(s): State<Shared>,
            Path((ns, name)): Path<(String, String)>,
        ) -> Response {
            match s.lock().unwrap().secrets.get(&(ns, name.clone())) {
                Some(v) => axum::Json(v.clone()).into_response(),
                None => (
                    StatusCode::NOT_FOUND,
                    axum::Json(
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                      "reason": "NotFound", "code": 404,
                                      "message": format!("secrets \"{name}\" not found")}),
                    ),
                )
                    .into_response(),
            }
        }

        async fn apply_secret(
            State(s): State<Shared>,
            Path((ns, name)): Path<(String, String)>,
            body: Bytes,
        ) -> Response {
            let mut obj: Value = serde_json::from_slice(&body).unwrap();
            let mut api = s.lock().unwrap();
            api.writes += 1;
            let rv = api.writes.to_string();
            obj["metadata"]["resourceVersion"] = json!(rv);
            obj["metadata"]["uid"] = json!("uid-1");
            api.secrets.insert((ns, name), obj.clone());
            axum::Json(obj).into_response()
        }

        pub async fn start() -> (Shared, String) {
            let state: Shared = Arc::default();
            let app = Router::new()
                .route("/api/v1", get(discovery))
                .route(
                    "/api/v1/namespaces/{ns}/secrets/{name}",
                    get(get_secret).patch(apply_secret),
                )
                .with_state(state.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            (state, format!("http://{addr}"))
        }
    }

    fn record(token: &str) -> OpenbaoInitRecord {
        OpenbaoInitRecord {
            unseal_keys: vec!["k1".into()],
            recovery_keys: vec![],
            root_token: token.into(),
            userpass_password_sha256: Default::default(),
        }
    }

    async fn key_store(url: &str, dir: &std::path::Path) -> K8sSecretKeyStore {
        let client = Arc::new(K8sClient::from_url(url).unwrap());
        K8sSecretKeyStore::new(
            client,
            "openbao",
            "openbao-init",
            dir.join("cache/openbao.json"),
        )
    }

    #[tokio::test]
    async fn key_store_saves_to_secret_and_cache_and_restores_a_lost_secret() {
        let (api, url) = fake_k8s::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = key_store(&url, dir.path()).await;
        assert_eq!(store.load().await.unwrap(), None);

        store.save(&record("root-1")).await.unwrap();
        assert_eq!(api.lock().unwrap().writes, 1);
        let cache = FileKeyStore::new(dir.path().join("cache/openbao.json"));
        assert_eq!(cache.load().await.unwrap(), Some(record("root-1")));
        assert_eq!(store.load().await.unwrap(), Some(record("root-1")));
        assert_eq!(api.lock().unwrap().writes, 1, "a load must not write");

        // The Secret is deleted: the cache restores it.
        api.lock().unwrap().secrets.clear();
        assert_eq!(store.load().await.unwrap(), Some(record("root-1")));
        assert_eq!(api.lock().unwrap().writes, 2);
        assert!(
            api.lock()
                .unwrap()
                .secrets
                .contains_key(&("openbao".to_string(), "openbao-init".to_string()))
        );
        assert!(!store.describe().contains("root-1"));
    }

    #[tokio::test]
    async fn key_store_prefers_the_secret_and_refreshes_a_stale_cache() {
        let (_api, url) = fake_k8s::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = key_store(&url, dir.path()).await;
        store.save(&record("from-secret")).await.unwrap();
        let cache = FileKeyStore::new(dir.path().join("cache/openbao.json"));
        cache.save(&record("stale")).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(record("from-secret")));
        assert_eq!(cache.load().await.unwrap(), Some(record("from-secret")));
    }

    #[tokio::test]
    async fn a_malformed_init_record_in_the_secret_is_reported_without_its_keys() {
        let (api, url) = fake_k8s::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = key_store(&url, dir.path()).await;
        let malformed = br#"{"unseal_keys": "UNSEAL-SECRET-1", "root_token": 7}"#.to_vec();
        let data = serde_json::to_value(ByteString(malformed)).unwrap();
        api.lock().unwrap().secrets.insert(
            ("openbao".into(), "openbao-init".into()),
            serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "openbao-init", "namespace": "openbao"},
                "data": {INIT_SECRET_KEY: data}}),
        );
        let err = store.load().await.unwrap_err();
        assert!(
            matches!(
                &err,
                KeyStoreError::Malformed {
                    expected: "init record",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!format!("{err:?}").contains("UNSEAL-SECRET-1"), "{err:?}");
        let err = err.to_string();
        assert!(err.contains("openbao/openbao-init"), "{err}");
        assert!(err.contains("not a valid init record"), "{err}");
        assert!(!err.contains("UNSEAL-SECRET-1"), "{err}");
    }

    #[tokio::test]
    async fn transit_without_unsealer_access_needs_the_token_secret_and_never_rewrites_it() {
        let (api, url) = fake_k8s::start().await;
        let client = Arc::new(K8sClient::from_url(&url).unwrap());
        let transit = OpenbaoTransitUnseal {
            seal: OpenbaoTransitSeal::new("http://unsealer:8200"),
            unsealer: None,
        };
        let score = OpenbaoSetupScore {
            unseal: OpenbaoUnsealMode::Transit(transit.clone()),
            ..Default::default()
        };
        let err = ensure_transit_token(&client, &score, &transit)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("openbao/openbao-transit-seal"), "{err}");
        assert!(err.contains("transit/encrypt/harmony-autounseal"), "{err}");
        assert!(err.contains("http://unsealer:8200"), "{err}");

        let token = serde_json::to_value(ByteString(b"s.SEALTOKEN".to_vec())).unwrap();
        api.lock().unwrap().secrets.insert(
            ("openbao".into(), "openbao-transit-seal".into()),
            serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "openbao-transit-seal", "namespace": "openbao"},
                "data": {TRANSIT_TOKEN_SECRET_KEY: token}}),
        );
        let writes = ensure_transit_token(&client, &score, &transit)
            .await
            .unwrap();
        assert!(writes.is_empty(), "{writes:?}");
        assert_eq!(api.lock().unwrap().writes, 0);
    }

    /// A topology that counts how often a Score asked it for the cluster.
    struct CountingTopology(std::sync::atomic::AtomicUsize);

    #[async_trait]
    impl Topology for CountingTopology {
        fn name(&self) -> &str {
            "CountingTopology"
        }
        async fn ensure_ready(
            &self,
        ) -> Result<crate::topology::PreparationOutcome, crate::topology::PreparationError>
        {
            Ok(crate::topology::PreparationOutcome::Noop)
        }
    }

    #[async_trait]
    impl K8sclient for CountingTopology {
        async fn k8s_client(&self) -> Result<Arc<K8sClient>, crate::topology::CapabilityError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(crate::topology::CapabilityError::Unsupported(
                "no cluster in this test".into(),
            ))
        }
    }

    /// The Score never prompts: without the credentials it was given, it says how to give them
    /// (and the environment variable harmony_config reads), before touching the cluster.
    #[tokio::test]
    async fn userpass_without_credentials_says_how_to_give_them_and_touches_nothing() {
        let topology = CountingTopology(Default::default());
        let score = OpenbaoSetupScore::default();
        assert!(score.userpass && score.userpass_credentials.is_none());
        let interpret = Score::<CountingTopology>::create_interpret(&score);
        let err = interpret
            .execute(&Inventory::empty(), &topology)
            .await
            .unwrap_err();
        assert!(matches!(err, InterpretError::InvalidScore(_)), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("userpass_credentials"), "{message}");
        assert!(
            message.contains("HARMONY_CONFIG_OpenbaoUserpassConfig"),
            "{message}"
        );
        assert_eq!(topology.0.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    /// The credentials given are the user created, with the Score's policies; `Serialize`
    /// (plans, logs) never carries them.
    #[test]
    fn given_credentials_become_the_userpass_user_and_are_never_serialized() {
        let score = OpenbaoSetupScore {
            userpass_credentials: Some(OpenbaoUserpassConfig {
                username: "alice".into(),
                password: "TOPSECRET".into(),
            }),
            ..Default::default()
        };
        let user = userpass_of(&score).expect("a user");
        assert_eq!(user.username, "alice");
        assert_eq!(
            harmony_secret::ExposeSecret::expose_secret(&user.password),
            "TOPSECRET"
        );
        assert_eq!(user.policies, vec!["harmony-dev".to_string()]);
        let json = serde_json::to_string(&score).unwrap();
        assert!(
            !json.contains("TOPSECRET") && !json.contains("alice"),
            "{json}"
        );
        assert!(!format!("{score:?}").contains("TOPSECRET"));
    }

    #[test]
    fn userpass_config_hides_password() {
        let c = OpenbaoUserpassConfig {
            username: "harmony".into(),
            password: "TOPSECRET".into(),
        };
        assert!(!format!("{c:?}").contains("TOPSECRET"));
    }
}
