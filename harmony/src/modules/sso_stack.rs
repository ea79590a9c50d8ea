//! [`SecretVault`] and [`IdentityProvider`] on a [`K8sAnywhereTopology`]: OpenBao and Zitadel
//! deployed and configured by their Scores (OpenbaoScore + OpenbaoSetupScore; ZitadelScore +
//! CoreDNSRewriteScore + ZitadelSetupScore). Each Score's outcome becomes one
//! [`CapabilityStep`], so a re-run shows every Score unchanged.
//!
//! Host names are under `.localhost` (`bao.harmony.localhost`, `zitadel.harmony.localhost`):
//! browsers resolve them to loopback, where k3d maps the ingress (port 8080), so nobody edits
//! `/etc/hosts`. Programs pass `resolve_to(127.0.0.1:8080)` to the OpenBao store; inside the
//! cluster the CoreDNS rewrite sends the Zitadel host to its Service.
//!
//! It lives in `modules/`, not `infra/`, because it composes Scores: adapters never call Scores.

use std::net::SocketAddr;

use async_trait::async_trait;
use harmony_secret::ExposeSecret;

use crate::infra::k8s_anywhere::K8sAnywhereTopology;
use crate::interpret::{InterpretError, InterpretStatus, Outcome};
use crate::inventory::Inventory;
use crate::modules::k8s::coredns::CoreDNSRewriteScore;
use crate::modules::openbao::{
    OpenbaoJwtAuth, OpenbaoScore, OpenbaoSetupScore, OpenbaoUserpassConfig,
};
use crate::modules::zitadel::{ZitadelScore, ZitadelSetupScore};
use crate::score::Score;
use crate::topology::{
    CapabilityError, CapabilityStep, DeviceClient, DeviceClientRequest, IdentityProvider,
    SecretVault, SecretVaultAccess, SecretVaultRequest,
};

/// The OpenBao and Zitadel deployments the k3d topology uses for its capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sSsoStack {
    /// The OpenBao deployment.
    pub openbao: OpenbaoScore,
    /// The Zitadel deployment.
    pub zitadel: ZitadelScore,
}

/// Host of OpenBao's ingress on the local k3d cluster.
pub const OPENBAO_LOCAL_HOST: &str = "bao.harmony.localhost";
/// Host of Zitadel's ingress (and issuer) on the local k3d cluster.
pub const ZITADEL_LOCAL_HOST: &str = "zitadel.harmony.localhost";

impl Default for K8sSsoStack {
    fn default() -> Self {
        Self {
            openbao: OpenbaoScore {
                host: OPENBAO_LOCAL_HOST.to_string(),
                ..Default::default()
            },
            zitadel: ZitadelScore {
                host: ZITADEL_LOCAL_HOST.to_string(),
                ..Default::default()
            },
        }
    }
}

impl K8sSsoStack {
    /// Where programs on this machine reach the ingress (k3d `-p 8080:80@loadbalancer`): what
    /// `resolve_to` points the `.localhost` hosts at.
    pub fn ingress_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.openbao.http_port))
    }

    /// Zitadel's issuer as seen by browsers, the CLI and (through CoreDNS) OpenBao.
    pub fn issuer(&self) -> String {
        format!(
            "http://{}:{}",
            self.zitadel.host, self.zitadel.k3d_http_port
        )
    }

    /// The setup of this stack's OpenBao, its key cache scoped to `cluster_name`.
    pub fn openbao_setup(&self, cluster_name: impl Into<String>) -> OpenbaoSetupScore {
        OpenbaoSetupScore::for_deployment(&self.openbao, cluster_name)
    }

    /// The project and device-code client for `request`. The project has `projectRoleCheck`,
    /// so the stack's first admin (the person signing in on a local stack) gets the role:
    /// without it Zitadel refuses the device-flow login.
    pub fn zitadel_setup(&self, request: &DeviceClientRequest) -> ZitadelSetupScore {
        ZitadelSetupScore {
            project_name: request.project.clone(),
            app_name: request.client_name.clone(),
            grant_to: vec![self.zitadel.admin_username.clone()],
            ..ZitadelSetupScore::for_deployment(&self.zitadel)
        }
    }

    /// The CoreDNS rewrite sending Zitadel's host to its Service inside the cluster.
    pub fn coredns_rewrite(&self) -> CoreDNSRewriteScore {
        CoreDNSRewriteScore::new(vec![(
            self.zitadel.host.clone(),
            self.zitadel.service_fqdn(),
        )])
    }
}

async fn run_step<S: Score<K8sAnywhereTopology>>(
    score: &S,
    topology: &K8sAnywhereTopology,
    steps: &mut Vec<CapabilityStep>,
) -> Result<Outcome, CapabilityError> {
    let name = score.name();
    let spinner = crate::progress::spinner(format!("running {name}"));
    let result = score
        .create_interpret()
        .execute(&Inventory::empty(), topology)
        .await;
    spinner.finish_and_clear();
    let outcome = result.map_err(|e: InterpretError| CapabilityError::Score {
        score: name.clone(),
        source: Box::new(e),
    })?;
    crate::progress::suspend(|| eprintln!("  [{}] {name}: {}", outcome.status, outcome.message));
    steps.push(CapabilityStep::new(
        name,
        outcome.status == InterpretStatus::Success,
        outcome.message.clone(),
    ));
    Ok(outcome)
}

#[async_trait]
impl IdentityProvider for K8sAnywhereTopology {
    async fn ensure_device_client(
        &self,
        request: &DeviceClientRequest,
    ) -> Result<DeviceClient, CapabilityError> {
        let stack = self.sso_stack();
        let mut steps = Vec::new();
        run_step(&stack.zitadel, self, &mut steps).await?;
        run_step(&stack.coredns_rewrite(), self, &mut steps).await?;
        let setup = stack.zitadel_setup(request);
        let outcome = run_step(&setup, self, &mut steps).await?;
        let client_id = outcome.details.get("client_id").cloned().ok_or_else(|| {
            CapabilityError::Server(format!(
                "{} did not report a client_id",
                Score::<Self>::name(&setup)
            ))
        })?;
        Ok(DeviceClient {
            issuer: stack.issuer(),
            audience: client_id.clone(),
            client_id,
            device_authorization_endpoint: Some(format!(
                "{}/oauth/v2/device_authorization",
                stack.issuer()
            )),
            steps,
        })
    }
}

#[async_trait]
impl SecretVault for K8sAnywhereTopology {
    async fn ensure_secret_vault(
        &self,
        request: &SecretVaultRequest,
    ) -> Result<SecretVaultAccess, CapabilityError> {
        let stack = self.sso_stack();
        let cluster = self
            .config()
            .effective_context()
            .unwrap_or_else(|| "default".to_string());
        let mut setup = stack.openbao_setup(cluster);
        if request.policy != "harmony-dev" {
            return Err(CapabilityError::Unsupported(format!(
                "OpenbaoSetupScore grants the policy harmony-dev, not {:?}",
                request.policy
            )));
        }
        setup.kv_mount = request.kv_mount.clone();
        setup.userpass = request.userpass.is_some();
        setup.userpass_credentials = request.userpass.as_ref().map(|u| OpenbaoUserpassConfig {
            username: u.username.clone(),
            password: u.password.expose_secret().to_string(),
        });
        setup.jwt = request.jwt.as_ref().map(|jwt| {
            OpenbaoJwtAuth::for_issuer(
                jwt.issuer.clone(),
                jwt.audience.clone(),
                jwt.role.clone(),
                vec![request.policy.clone()],
            )
        });
        let mut steps = Vec::new();
        run_step(&stack.openbao, self, &mut steps).await?;
        run_step(&setup, self, &mut steps).await?;
        Ok(SecretVaultAccess {
            address: stack.openbao.external_url(),
            kv_mount: request.kv_mount.clone(),
            policy: request.policy.clone(),
            jwt_mount: request.jwt.as_ref().map(|_| "jwt".to_string()),
            jwt_role: request.jwt.as_ref().map(|j| j.role.clone()),
            steps,
        })
    }
}

impl K8sAnywhereTopology {
    /// The OpenBao and Zitadel deployments behind this topology's [`SecretVault`] and
    /// [`IdentityProvider`].
    pub fn sso_stack(&self) -> K8sSsoStack {
        K8sSsoStack::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_stack_uses_localhost_hosts_behind_the_k3d_ingress() {
        let stack = K8sSsoStack::default();
        assert_eq!(
            stack.openbao.external_url(),
            "http://bao.harmony.localhost:8080"
        );
        assert_eq!(stack.issuer(), "http://zitadel.harmony.localhost:8080");
        assert_eq!(stack.ingress_addr().to_string(), "127.0.0.1:8080");
        assert!(stack.coredns_rewrite().validate().is_ok());
    }

    /// The project checks roles: the admin the Zitadel outcome tells to log in must hold one.
    #[test]
    fn local_stack_grants_the_project_role_to_its_admin() {
        let stack = K8sSsoStack::default();
        let setup = stack.zitadel_setup(&DeviceClientRequest {
            project: "harmony".into(),
            client_name: "harmony-cli".into(),
        });
        assert_eq!(setup.grant_to, vec![stack.zitadel.admin_username.clone()]);
        assert!(
            setup
                .roles
                .iter()
                .any(|(k, _)| k == crate::modules::zitadel::setup::HARMONY_DEVELOPER_ROLE)
        );
    }
}
