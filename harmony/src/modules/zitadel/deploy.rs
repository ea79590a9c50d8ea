//! The [`ZitadelScore`] interpret: database, secrets (created once), chart, readiness.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};

use super::values::{DbEndpoint, ZitadelFlavor};
use super::{IAM_ADMIN_PAT_SECRET, ZITADEL_CHART_REPO, ZitadelScore};
use crate::infra::k8s::{K8sClient, PortForwardTarget};
use crate::infra::zitadel_api::ZitadelReadiness;
use crate::interpret::{Interpret, InterpretError, InterpretStatus, Outcome};
use crate::inventory::Inventory;
use crate::modules::helm::{HelmChartScore, HelmRepository};
use crate::score::Score;
use crate::topology::{
    HelmCommand, K8sDistribution, K8sDistributionProbe, K8sclient, PostgreSQL, PostgreSQLConfig,
    Topology,
};

const WAIT: Duration = Duration::from_secs(600);

impl ZitadelScore {
    /// The Helm release for these values: pinned chart, `--wait`.
    pub fn helm_chart_score(&self, flavor: &ZitadelFlavor, db: &DbEndpoint) -> HelmChartScore {
        HelmChartScore::new(
            self.release_name.clone(),
            self.namespace.clone(),
            HelmRepository::new("zitadel", ZITADEL_CHART_REPO),
            "zitadel",
            self.chart_version.clone(),
        )
        .with_values(self.helm_values(flavor, db))
        .with_wait(Duration::from_secs(900))
    }

    /// The values flavour for a distribution: [`ZitadelFlavor::OpenShift`] (with
    /// [`Self::cluster_issuer`]) on OpenShift, [`ZitadelFlavor::Plain`] elsewhere.
    pub fn flavor_for(&self, distribution: K8sDistribution) -> ZitadelFlavor {
        match distribution {
            K8sDistribution::OpenShift => ZitadelFlavor::OpenShift {
                cluster_issuer: self.cluster_issuer.clone(),
            },
            K8sDistribution::K3sFamily | K8sDistribution::Other => ZitadelFlavor::Plain,
        }
    }
}

impl<T> Score<T> for ZitadelScore
where
    T: Topology + K8sclient + HelmCommand + PostgreSQL + K8sDistributionProbe,
{
    fn name(&self) -> String {
        format!("ZitadelScore({}/{})", self.namespace, self.release_name)
    }

    fn create_interpret(&self) -> Box<dyn Interpret<T>> {
        Box::new(ZitadelInterpret {
            score: self.clone(),
        })
    }
}

#[derive(Debug)]
struct ZitadelInterpret {
    score: ZitadelScore,
}

/// 32 alphanumeric ASCII bytes, as Zitadel's masterkey requires.
fn generate_masterkey() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// 20 characters with at least one upper, lower, digit and symbol (Zitadel's default policy).
pub(crate) fn generate_password() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    const SYMBOL: &[u8] = b"!#%+-.:=?@_";
    let mut rng = rand::rng();
    let all: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL].concat();
    let mut chars: Vec<u8> = [UPPER, LOWER, DIGIT, SYMBOL]
        .iter()
        .map(|set| *set.choose(&mut rng).expect("non-empty set"))
        .collect();
    while chars.len() < 20 {
        chars.push(*all.choose(&mut rng).expect("non-empty set"));
    }
    chars.shuffle(&mut rng);
    String::from_utf8(chars).expect("ASCII")
}

fn opaque_secret(name: &str, namespace: &str, data: BTreeMap<String, String>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "harmony".to_string(),
            )])),
            ..Default::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k, ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Default::default()
    }
}

/// Creates the Secret only when it does not exist; an existing one is never regenerated, only
/// checked for the keys. Returns whether it was created.
async fn ensure_secret_once(
    client: &K8sClient,
    name: &str,
    namespace: &str,
    required_keys: &[&str],
    generate: impl FnOnce() -> BTreeMap<String, String>,
) -> Result<bool, InterpretError> {
    if let Some(existing) = client.get_opt::<Secret>(name, Some(namespace)).await? {
        let data = existing.data.unwrap_or_default();
        if let Some(missing) = required_keys.iter().find(|k| !data.contains_key(**k)) {
            return Err(InterpretError::Other(format!(
                "Secret {namespace}/{name} exists without key {missing}; it is never regenerated \
                 (that would lock Zitadel out of its data): fix or delete it by hand"
            )));
        }
        return Ok(false);
    }
    client
        .apply(&opaque_secret(name, namespace, generate()))
        .await?;
    Ok(true)
}

/// Waits until Zitadel answers `/debug/ready` with its `Host`, through a port-forward to the
/// Service (so it works before /etc/hosts or DNS are set up).
async fn wait_zitadel_answers(
    client: &K8sClient,
    score: &ZitadelScore,
    timeout: Duration,
) -> Result<(), InterpretError> {
    let forward = client
        .port_forward(
            &score.namespace,
            PortForwardTarget::Service(score.fullname()),
            score.service_port(),
        )
        .await?;
    let readiness = ZitadelReadiness::new(&forward.local_url, &score.host)
        .map_err(|e| InterpretError::Other(e.to_string()))?;
    use backon::{ConstantBuilder, Retryable};
    let deadline = Instant::now() + timeout;
    (|| async {
        let answered = readiness.answers().await;
        if answered { Ok(()) } else { Err(()) }
    })
    .retry(
        ConstantBuilder::new()
            .with_delay(Duration::from_secs(2))
            .without_max_times(),
    )
    .when(|_| Instant::now() < deadline)
    .await
    .map_err(|()| InterpretError::Timeout {
        what: format!("Zitadel {} to answer /debug/ready", score.host),
        seconds: timeout.as_secs(),
    })
}

#[async_trait]
impl<T> Interpret<T> for ZitadelInterpret
where
    T: Topology + K8sclient + HelmCommand + PostgreSQL + K8sDistributionProbe,
{
    /// The namespace (dry run), the database (the capability's plan), the generated Secrets
    /// (created once, never changed) and the Helm release (values diff), with reads only.
    async fn plan(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<crate::plan::Plan, InterpretError> {
        use crate::plan::{Plan, PlannedChange};
        let score = &self.score;
        let ns = score.namespace.as_str();
        let client = topology.k8s_client().await?;
        let flavor = score.flavor_for(topology.k8s_distribution().await?);
        let mut plan = Plan::default();
        let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": ns}});
        plan.push(client.plan_apply(&namespace, "harmony").await?);

        let mut pg_config = PostgreSQLConfig::new(score.pg_cluster_name.clone(), ns);
        pg_config.instances = score.pg_instances;
        pg_config.storage_size = score.pg_storage.clone();
        pg_config.database = score.database_name.clone();
        pg_config.owner = score.database_owner.clone();
        let pg = match topology.plan_postgres(&pg_config).await {
            Ok((changes, pg)) => {
                changes.into_iter().for_each(|c| plan.push(c));
                Some(pg)
            }
            Err(e) => {
                plan.push(PlannedChange::unknown(
                    format!("PostgreSQL {ns}/{}", score.pg_cluster_name),
                    e.to_string(),
                ));
                None
            }
        };
        for name in [score.masterkey_secret_name(), score.admin_secret_name()] {
            let exists = client.get_opt::<Secret>(&name, Some(ns)).await?.is_some();
            plan.push(if exists {
                PlannedChange::unchanged(format!("Secret {ns}/{name}"))
            } else {
                PlannedChange::create(format!("Secret {ns}/{name}"))
                    .with_detail("generated once, kept afterwards")
            });
        }
        match pg {
            Some(pg) => {
                let superuser = client
                    .get_opt::<Secret>(&pg.superuser_secret, Some(ns))
                    .await?
                    .is_some();
                let db = DbEndpoint {
                    host: pg.host.clone(),
                    port: pg.port,
                    app_secret: pg.app_secret.clone(),
                    admin_secret: if superuser {
                        pg.superuser_secret.clone()
                    } else {
                        pg.app_secret.clone()
                    },
                };
                plan.push(
                    score
                        .helm_chart_score(&flavor, &db)
                        .plan_release(topology)
                        .await?,
                );
            }
            None => plan.push(PlannedChange::unknown(
                format!("helm release {ns}/{}", score.release_name),
                "its values depend on the database endpoint",
            )),
        }
        Ok(plan)
    }

    async fn execute(
        &self,
        inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        let score = &self.score;
        let ns = score.namespace.as_str();
        let client = topology.k8s_client().await?;
        let flavor = score.flavor_for(topology.k8s_distribution().await?);
        let mut changed = Vec::new();

        if client.ensure_namespace(ns).await? {
            changed.push(format!("namespace {ns}"));
        }

        // Database: the capability deploys and waits; the -rw Service and the owner's Secret
        // are then awaited here too, so no caller ever needs a retry loop.
        let mut pg_config = PostgreSQLConfig::new(score.pg_cluster_name.clone(), ns);
        pg_config.instances = score.pg_instances;
        pg_config.storage_size = score.pg_storage.clone();
        pg_config.database = score.database_name.clone();
        pg_config.owner = score.database_owner.clone();
        let pg = topology.deploy_postgres(&pg_config).await?;
        if pg.changed {
            changed.push(format!("database {}", score.pg_cluster_name));
        }
        let rw_service = pg.host.split('.').next().unwrap_or_default().to_string();
        client
            .wait_for::<Service, _>(&rw_service, Some(ns), |s| s.is_some(), WAIT)
            .await?;
        client
            .wait_for::<Secret, _>(&pg.app_secret, Some(ns), |s| s.is_some(), WAIT)
            .await?;
        let admin_secret = if client
            .get_opt::<Secret>(&pg.superuser_secret, Some(ns))
            .await?
            .is_some()
        {
            pg.superuser_secret.clone()
        } else {
            pg.app_secret.clone()
        };
        let db = DbEndpoint {
            host: pg.host.clone(),
            port: pg.port,
            app_secret: pg.app_secret.clone(),
            admin_secret,
        };

        if ensure_secret_once(
            &client,
            &score.masterkey_secret_name(),
            ns,
            &["masterkey"],
            || BTreeMap::from([("masterkey".to_string(), generate_masterkey())]),
        )
        .await?
        {
            changed.push(format!("secret {}", score.masterkey_secret_name()));
        }
        let admin_username = score.admin_username.clone();
        if ensure_secret_once(
            &client,
            &score.admin_secret_name(),
            ns,
            &["username", "password"],
            || {
                BTreeMap::from([
                    ("username".to_string(), admin_username),
                    ("password".to_string(), generate_password()),
                ])
            },
        )
        .await?
        {
            changed.push(format!("secret {}", score.admin_secret_name()));
        }

        let helm = score.helm_chart_score(&flavor, &db);
        let helm_outcome = Score::<T>::create_interpret(&helm)
            .execute(inventory, topology)
            .await?;
        if helm_outcome.status != InterpretStatus::Noop {
            changed.push(format!("helm release {}", score.release_name));
        }

        client
            .wait_deployment_available(&score.fullname(), ns, WAIT)
            .await?;
        client
            .wait_for::<Secret, _>(IAM_ADMIN_PAT_SECRET, Some(ns), |s| s.is_some(), WAIT)
            .await?;
        wait_zitadel_answers(&client, score, Duration::from_secs(300)).await?;

        let url = score.issuer_url(&flavor);
        let login = score.admin_login_name();
        let mut message = format!(
            "Zitadel at {url}: log in as {login}, password in Secret {ns}/{} (key password)",
            score.admin_secret_name()
        );
        // `*.localhost` names resolve to loopback in browsers (RFC 6761): nothing to add.
        if flavor == ZitadelFlavor::Plain && !score.host.ends_with(".localhost") {
            message.push_str(&format!("; add \"127.0.0.1 {}\" to /etc/hosts", score.host));
        }
        let outcome = if changed.is_empty() {
            Outcome::noop(message)
        } else {
            Outcome::success(format!("{message} (changed: {})", changed.join(", ")))
        };
        Ok(outcome
            .with_detail("url", url.clone())
            .with_detail("issuer", url)
            .with_detail("login_name", login)
            .with_detail(
                "admin_secret",
                format!("{ns}/{}", score.admin_secret_name()),
            )
            .with_detail("pat_secret", format!("{ns}/{IAM_ADMIN_PAT_SECRET}"))
            .with_detail("service", score.service_fqdn()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_password_meets_the_policy() {
        for _ in 0..50 {
            let p = generate_password();
            assert_eq!(p.len(), 20);
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| !c.is_ascii_alphanumeric()));
        }
        assert_ne!(generate_password(), generate_password());
    }

    #[test]
    fn masterkey_is_32_ascii_bytes() {
        let k = generate_masterkey();
        assert_eq!(k.len(), 32);
        assert!(k.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn flavor_follows_distribution() {
        let s = ZitadelScore::default();
        assert_eq!(
            s.flavor_for(K8sDistribution::K3sFamily),
            ZitadelFlavor::Plain
        );
        assert!(matches!(
            s.flavor_for(K8sDistribution::OpenShift),
            ZitadelFlavor::OpenShift { .. }
        ));
        let db = DbEndpoint {
            host: "h".into(),
            port: 5432,
            app_secret: "a".into(),
            admin_secret: "b".into(),
        };
        let helm = s.helm_chart_score(&ZitadelFlavor::Plain, &db);
        assert_eq!(helm.chart_version, "9.34.0");
        assert!(helm.wait.is_some());
    }
}
