//! Find-or-create of Harmony's Zitadel project, roles and device-code CLI app.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;

use super::IAM_ADMIN_PAT_SECRET;
use super::api::{
    AddOidcAppRequest, AddProjectRequest, AddProjectRoleRequest, OidcGrantType, Pat,
    ZitadelApiError, ZitadelClient,
};
use crate::infra::k8s::PortForwardTarget;
use crate::interpret::{Interpret, InterpretError, Outcome};
use crate::inventory::Inventory;
use crate::score::Score;
use crate::topology::{K8sclient, Topology};

/// Provisions the project and the CLI app in Zitadel (reached through the Management API with
/// the `iam-admin` PAT). Running it twice creates nothing the second time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZitadelSetupScore {
    /// Namespace and release of the Zitadel deployment (to read the PAT Secret and port-forward).
    pub namespace: String,
    pub release_name: String,
    /// Zitadel's `ExternalDomain` (sent as `Host`).
    pub host: String,
    pub project_name: String,
    pub app_name: String,
    /// (role key, display name) pairs added to the project.
    pub roles: Vec<(String, String)>,
    /// The Zitadel Service's port ([`super::ZitadelScore::service_port`]).
    pub service_port: u16,
}

impl Default for ZitadelSetupScore {
    fn default() -> Self {
        Self {
            namespace: "zitadel".to_string(),
            release_name: "zitadel".to_string(),
            host: "zitadel.harmony.local".to_string(),
            project_name: "harmony".to_string(),
            app_name: "harmony-cli".to_string(),
            roles: vec![("harmony-dev".to_string(), "Harmony developer".to_string())],
            service_port: crate::infra::k3d::DEFAULT_HTTP_PORT,
        }
    }
}

/// What Harmony's CLI needs to log in, and what this run created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZitadelApp {
    pub org_id: String,
    pub project_id: String,
    pub app_id: String,
    /// The OAuth client id; also the id_token audience (`bound_audiences` for OpenBao).
    pub client_id: String,
    /// What this run created ("project harmony", "role harmony-dev", "app harmony-cli").
    pub created: Vec<String>,
}

impl ZitadelSetupScore {
    /// Makes the project, its roles and the app exist; returns their ids.
    pub async fn provision(&self, client: &ZitadelClient) -> Result<ZitadelApp, ZitadelApiError> {
        // Confirms the PAT works (projections may lag right after Zitadel became ready).
        let org = client.my_org().await?;
        let mut created = Vec::new();

        let project = client
            .ensure_project(&AddProjectRequest {
                name: self.project_name.clone(),
                project_role_assertion: true,
                ..Default::default()
            })
            .await?;
        if project.created {
            created.push(format!("project {}", self.project_name));
        }
        let project_id = project.value;

        for (key, display_name) in &self.roles {
            let added = client
                .ensure_project_role(
                    &project_id,
                    &AddProjectRoleRequest {
                        role_key: key.clone(),
                        display_name: display_name.clone(),
                        group: String::new(),
                    },
                )
                .await?;
            if added {
                created.push(format!("role {key}"));
            }
        }

        // An app created earlier without the device-code grant (e.g. by the old code that sent
        // a bare `DEVICE_CODE`) would make the device flow fail much later: say so now.
        let existing = client
            .search_apps_by_name(&project_id, &self.app_name)
            .await?;
        if let Some(app) = existing.first() {
            let grants = app
                .oidc_config
                .as_ref()
                .map(|c| c.grant_types.clone())
                .unwrap_or_default();
            if !grants.contains(&OidcGrantType::DeviceCode) {
                return Err(ZitadelApiError::Decode {
                    endpoint: format!("POST /management/v1/projects/{project_id}/apps/_search"),
                    message: format!(
                        "app {:?} exists without the device-code grant ({grants:?}); delete it in the Zitadel console and run again",
                        self.app_name
                    ),
                });
            }
        }
        let app = client
            .ensure_oidc_app(
                &project_id,
                &AddOidcAppRequest::native_device_code(&self.app_name),
            )
            .await?;
        if app.created {
            created.push(format!("app {}", self.app_name));
        }
        Ok(ZitadelApp {
            org_id: org.id,
            project_id,
            app_id: app.value.app_id,
            client_id: app.value.client_id,
            created,
        })
    }
}

impl ZitadelSetupScore {
    /// The setup of the Zitadel deployed by `zitadel` (same namespace, release and host).
    pub fn for_deployment(zitadel: &super::ZitadelScore) -> Self {
        Self {
            namespace: zitadel.namespace.clone(),
            release_name: zitadel.release_name.clone(),
            host: zitadel.host.clone(),
            service_port: zitadel.service_port(),
            ..Default::default()
        }
    }

    fn fullname(&self) -> String {
        if self.release_name.contains("zitadel") {
            self.release_name.clone()
        } else {
            format!("{}-zitadel", self.release_name)
        }
    }
}

impl<T: Topology + K8sclient> Score<T> for ZitadelSetupScore {
    fn name(&self) -> String {
        format!("ZitadelSetupScore({}/{})", self.project_name, self.app_name)
    }

    fn create_interpret(&self) -> Box<dyn Interpret<T>> {
        Box::new(ZitadelSetupInterpret {
            score: self.clone(),
        })
    }
}

#[derive(Debug)]
struct ZitadelSetupInterpret {
    score: ZitadelSetupScore,
}

/// Right after Zitadel turns ready its projections may lag: the PAT can be refused for a few
/// seconds. Retries `orgs/me` on 401/404/transport errors.
async fn wait_api_ready(client: &ZitadelClient, timeout: Duration) -> Result<(), ZitadelApiError> {
    let deadline = Instant::now() + timeout;
    loop {
        match client.my_org().await {
            Ok(_) => return Ok(()),
            Err(e)
                if Instant::now() < deadline
                    && (e.is_unauthenticated()
                        || e.is_not_found()
                        || matches!(e, ZitadelApiError::Transport { .. })) =>
            {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[async_trait]
impl<T: Topology + K8sclient> Interpret<T> for ZitadelSetupInterpret {
    async fn execute(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        let score = &self.score;
        let ns = score.namespace.as_str();
        let client = topology.k8s_client().await?;
        let secret: Option<Secret> = client.get_opt(IAM_ADMIN_PAT_SECRET, Some(ns)).await?;
        let pat = secret
            .and_then(|s| s.data)
            .and_then(|mut d| d.remove("pat"))
            .map(|b| Pat::new(String::from_utf8_lossy(&b.0).into_owned()))
            .ok_or_else(|| {
                InterpretError::Other(format!(
                    "Secret {ns}/{IAM_ADMIN_PAT_SECRET} (key pat) not found: run ZitadelScore first"
                ))
            })?;
        let forward = client
            .port_forward(
                ns,
                PortForwardTarget::Service(score.fullname()),
                score.service_port,
            )
            .await?;
        let api = ZitadelClient::new(forward.local_url.clone(), score.host.clone(), pat)
            .map_err(|e| InterpretError::Other(e.to_string()))?;
        wait_api_ready(&api, Duration::from_secs(120))
            .await
            .map_err(|e| InterpretError::Other(e.to_string()))?;
        let app = score
            .provision(&api)
            .await
            .map_err(|e| InterpretError::Other(e.to_string()))?;
        drop(forward);

        let outcome = if app.created.is_empty() {
            Outcome::noop(format!(
                "Zitadel project {} and app {} already exist",
                score.project_name, score.app_name
            ))
        } else {
            Outcome::success(format!("Zitadel: created {}", app.created.join(", ")))
        };
        Ok(outcome
            .with_detail("project_id", app.project_id)
            .with_detail("client_id", app.client_id)
            .with_detail("app_id", app.app_id)
            .with_detail("org_id", app.org_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::zitadel::api::Pat;
    use crate::modules::zitadel::api::tests::{GOOD_PAT, HOST, start_fake};

    #[tokio::test]
    async fn second_provision_creates_nothing_and_returns_same_ids() {
        let fake = start_fake().await;
        let client = ZitadelClient::new(&fake.base_url, HOST, Pat::new(GOOD_PAT)).unwrap();
        let score = ZitadelSetupScore {
            host: HOST.into(),
            ..Default::default()
        };
        let first = score.provision(&client).await.unwrap();
        assert_eq!(
            first.created,
            vec!["project harmony", "role harmony-dev", "app harmony-cli"]
        );
        assert_eq!(first.org_id, "100");
        let writes_before = fake.writes();
        let second = score.provision(&client).await.unwrap();
        assert!(second.created.is_empty(), "{:?}", second.created);
        assert_eq!(first.project_id, second.project_id);
        assert_eq!(first.client_id, second.client_id);
        assert_eq!(fake.writes(), writes_before, "second run sent a create");
    }

    #[tokio::test]
    async fn bad_pat_fails_before_any_create() {
        let fake = start_fake().await;
        let client = ZitadelClient::new(&fake.base_url, HOST, Pat::new("nope")).unwrap();
        let err = ZitadelSetupScore::default()
            .provision(&client)
            .await
            .unwrap_err();
        assert!(err.is_unauthenticated());
        assert_eq!(fake.writes(), 0);
    }
}
