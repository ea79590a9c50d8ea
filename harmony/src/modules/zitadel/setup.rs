//! Find-or-create of Harmony's Zitadel project, roles and device-code CLI app.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;

use super::IAM_ADMIN_PAT_SECRET;
use crate::infra::k8s::PortForwardTarget;
use crate::infra::zitadel_api::{
    AddOidcAppRequest, AddProjectRequest, AddProjectRoleRequest, GrantChange, OidcGrantType, Pat,
    UpdateProjectRequest, User, ZitadelApiError, ZitadelClient,
};
use crate::interpret::{Interpret, InterpretError, Outcome};
use crate::inventory::Inventory;
use crate::plan::{KeyChange, Plan, PlannedChange};
use crate::score::Score;
use crate::topology::{K8sclient, Topology};

/// Provisions the project, its roles, the CLI app and who holds the roles in Zitadel (reached
/// through the Management API with the `iam-admin` PAT). The project has `projectRoleCheck`, so
/// only users granted a role of the project can log in to its apps; OpenBao additionally binds
/// the role (`OpenbaoJwtAuth::require_zitadel_project_role`). Running it twice creates nothing
/// the second time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZitadelSetupScore {
    /// Namespace of the Zitadel deployment (to read the PAT Secret and port-forward).
    pub namespace: String,
    /// Helm release name of the Zitadel deployment (its Service and Secrets derive from it).
    pub release_name: String,
    /// Zitadel's `ExternalDomain` (sent as `Host`).
    pub host: String,
    /// The Zitadel project holding the roles and the app, found or created by this name.
    pub project_name: String,
    /// The OIDC app (native, device-code grant) Harmony's CLI logs in with.
    pub app_name: String,
    /// (role key, display name) pairs added to the project.
    pub roles: Vec<(String, String)>,
    /// The Zitadel Service's port ([`super::ZitadelScore::service_port`]).
    pub service_port: u16,
    /// Users (user name, or email) granted every role of `roles`. They must exist in Zitadel.
    pub grant_to: Vec<String>,
}

/// The project role that gives access to Harmony's secrets.
pub const HARMONY_DEVELOPER_ROLE: &str = "harmony-developer";

impl Default for ZitadelSetupScore {
    fn default() -> Self {
        Self {
            namespace: "zitadel".to_string(),
            release_name: "zitadel".to_string(),
            host: "zitadel.harmony.local".to_string(),
            project_name: "harmony".to_string(),
            app_name: "harmony-cli".to_string(),
            roles: vec![(
                HARMONY_DEVELOPER_ROLE.to_string(),
                "Harmony developer".to_string(),
            )],
            grant_to: Vec::new(),
            service_port: crate::infra::k3d::DEFAULT_HTTP_PORT,
        }
    }
}

/// What Harmony's CLI needs to log in, and what this run created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZitadelApp {
    /// Id of the org owning the project (the PAT user's org).
    pub org_id: String,
    /// The org's primary domain: the value of its entry in the project-roles claim.
    pub org_domain: String,
    /// Id of the project holding the roles and the app.
    pub project_id: String,
    /// Zitadel's id of the app (not the OAuth client id).
    pub app_id: String,
    /// The OAuth client id; also the id_token audience (`bound_audiences` for OpenBao).
    pub client_id: String,
    /// What this run created or changed ("project harmony", "role harmony-developer",
    /// "app harmony-cli", "grant alice: harmony-developer", "project harmony: projectRoleCheck on").
    pub created: Vec<String>,
}

impl ZitadelSetupScore {
    /// Makes the project (with role check), its roles, the app and the grants exist; returns
    /// their ids.
    pub async fn provision(&self, client: &ZitadelClient) -> Result<ZitadelApp, ZitadelApiError> {
        let mut plan = Plan::default();
        self.reconcile(client, true, &mut plan).await
    }

    /// What [`ZitadelSetupScore::provision`] would create or change, sending only reads.
    pub async fn plan(&self, client: &ZitadelClient) -> Result<Plan, ZitadelApiError> {
        let mut plan = Plan::default();
        self.reconcile(client, false, &mut plan).await?;
        Ok(plan)
    }

    fn project_request(&self) -> AddProjectRequest {
        AddProjectRequest {
            name: self.project_name.clone(),
            project_role_assertion: true,
            project_role_check: true,
            ..Default::default()
        }
    }

    fn role_keys(&self) -> Vec<String> {
        self.roles.iter().map(|(k, _)| k.clone()).collect()
    }

    /// One pass over the wanted objects. `apply = false`: reads only, and every write it would
    /// send is recorded in `plan` instead.
    async fn reconcile(
        &self,
        client: &ZitadelClient,
        apply: bool,
        plan: &mut Plan,
    ) -> Result<ZitadelApp, ZitadelApiError> {
        // Confirms the PAT works (projections may lag right after Zitadel became ready).
        let org = client.my_org().await?;
        let mut created = Vec::new();
        let project_label = format!("Zitadel project {}", self.project_name);

        let existing = client
            .search_projects_by_name(&self.project_name)
            .await?
            .into_iter()
            .next();
        let project_id = match existing {
            None if !apply => {
                plan.push(
                    PlannedChange::create(project_label.clone())
                        .with_detail("projectRoleAssertion, projectRoleCheck"),
                );
                for (key, _) in &self.roles {
                    plan.push(PlannedChange::create(format!("Zitadel role {key}")));
                }
                plan.push(PlannedChange::create(format!(
                    "Zitadel app {} (device code)",
                    self.app_name
                )));
                self.plan_grants_without_project(client, plan).await?;
                return Ok(ZitadelApp {
                    org_id: org.id,
                    org_domain: org.primary_domain,
                    project_id: String::new(),
                    app_id: String::new(),
                    client_id: String::new(),
                    created: Vec::new(),
                });
            }
            None => {
                let project = client.ensure_project(&self.project_request()).await?;
                if project.created {
                    created.push(format!("project {}", self.project_name));
                }
                project.value
            }
            Some(p) => p.id,
        };
        if !created.iter().any(|c| c.starts_with("project ")) {
            // Found (or raced): make sure only granted users may log in.
            let project = client.get_project(&project_id).await?;
            let mut keys = Vec::new();
            if !project.project_role_assertion {
                keys.push(flag_change("projectRoleAssertion"));
            }
            if !project.project_role_check {
                keys.push(flag_change("projectRoleCheck"));
            }
            if !keys.is_empty() && apply {
                client
                    .update_project(
                        &project_id,
                        &UpdateProjectRequest {
                            name: self.project_name.clone(),
                            project_role_assertion: true,
                            project_role_check: true,
                            has_project_check: project.has_project_check,
                        },
                    )
                    .await?;
                created.push(format!(
                    "project {}: {} on",
                    self.project_name,
                    keys.iter()
                        .map(|k| k.key.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            plan.push(PlannedChange::change(project_label, keys));
        }

        let roles = client.search_project_roles(&project_id).await?;
        for (key, display_name) in &self.roles {
            let label = format!("Zitadel role {key}");
            if roles.iter().any(|r| r.key == *key) {
                plan.push(PlannedChange::unchanged(label));
                continue;
            }
            plan.push(PlannedChange::create(label));
            if apply
                && client
                    .ensure_project_role(
                        &project_id,
                        &AddProjectRoleRequest {
                            role_key: key.clone(),
                            display_name: display_name.clone(),
                            group: String::new(),
                        },
                    )
                    .await?
            {
                created.push(format!("role {key}"));
            }
        }

        // An app created earlier without the device-code grant (e.g. by the old code that sent
        // a bare `DEVICE_CODE`) would make the device flow fail much later: say so now.
        let existing = client
            .search_apps_by_name(&project_id, &self.app_name)
            .await?;
        let app_label = format!("Zitadel app {} (device code)", self.app_name);
        let (app_id, client_id) = match existing.first() {
            Some(app) => {
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
                plan.push(PlannedChange::unchanged(app_label));
                (
                    app.id.clone(),
                    app.client_id().unwrap_or_default().to_string(),
                )
            }
            None if !apply => {
                plan.push(PlannedChange::create(app_label));
                (String::new(), String::new())
            }
            None => {
                let app = client
                    .ensure_oidc_app(
                        &project_id,
                        &AddOidcAppRequest::native_device_code(&self.app_name),
                    )
                    .await?;
                if app.created {
                    created.push(format!("app {}", self.app_name));
                }
                (app.value.app_id, app.value.client_id)
            }
        };

        let role_keys = self.role_keys();
        for name in &self.grant_to {
            let user = self.find_user(client, name).await?;
            let label = format!("Zitadel grant {name}: {}", role_keys.join(", "));
            let grants = client.user_grants(&user.id, &project_id).await?;
            let held: Vec<String> = grants
                .iter()
                .flat_map(|g| g.role_keys.iter().cloned())
                .collect();
            let missing: Vec<String> = role_keys
                .iter()
                .filter(|k| !held.contains(k))
                .cloned()
                .collect();
            if missing.is_empty() {
                plan.push(PlannedChange::unchanged(label));
                continue;
            }
            plan.push(if grants.is_empty() {
                PlannedChange::create(label)
            } else {
                PlannedChange::change(
                    label,
                    missing
                        .iter()
                        .map(|k| KeyChange {
                            key: "roleKeys".into(),
                            from: None,
                            to: Some(k.clone()),
                        })
                        .collect(),
                )
            });
            if apply {
                let change = client
                    .ensure_user_grant(&user.id, &project_id, &role_keys)
                    .await?;
                match change.value {
                    GrantChange::Created(keys) | GrantChange::Added(keys) => {
                        created.push(format!("grant {name}: {}", keys.join(", ")))
                    }
                    GrantChange::Unchanged => {}
                }
            }
        }

        Ok(ZitadelApp {
            org_id: org.id,
            org_domain: org.primary_domain,
            project_id,
            app_id,
            client_id,
            created,
        })
    }

    async fn find_user(&self, client: &ZitadelClient, name: &str) -> Result<User, ZitadelApiError> {
        client
            .find_user(name)
            .await?
            .ok_or_else(|| ZitadelApiError::Decode {
                endpoint: "POST /management/v1/users/_search".into(),
                message: format!(
                    "user {name:?} (listed in grant_to) does not exist in Zitadel: create it in the console (or fix the name), then run again"
                ),
            })
    }

    /// The grants a plan lists when the project does not exist yet (users still looked up).
    async fn plan_grants_without_project(
        &self,
        client: &ZitadelClient,
        plan: &mut Plan,
    ) -> Result<(), ZitadelApiError> {
        let role_keys = self.role_keys();
        for name in &self.grant_to {
            self.find_user(client, name).await?;
            plan.push(PlannedChange::create(format!(
                "Zitadel grant {name}: {}",
                role_keys.join(", ")
            )));
        }
        Ok(())
    }
}

fn flag_change(flag: &str) -> KeyChange {
    KeyChange {
        key: flag.to_string(),
        from: Some("false".into()),
        to: Some("true".into()),
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
        crate::modules::helm::chart_fullname(&self.release_name, "zitadel")
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
    use backon::{ConstantBuilder, Retryable};
    let deadline = Instant::now() + timeout;
    (|| async { client.my_org().await.map(|_| ()) })
        .retry(
            ConstantBuilder::new()
                .with_delay(Duration::from_secs(2))
                .without_max_times(),
        )
        .when(|e| {
            Instant::now() < deadline
                && (e.is_unauthenticated()
                    || e.is_not_found()
                    || matches!(e, ZitadelApiError::Transport { .. }))
        })
        .await
}

impl ZitadelSetupInterpret {
    /// The PAT from the chart's Secret, `None` when Zitadel is not deployed (yet).
    async fn pat(
        &self,
        client: &crate::infra::k8s::K8sClient,
    ) -> Result<Option<Pat>, InterpretError> {
        let ns = self.score.namespace.as_str();
        let secret: Option<Secret> = client.get_opt(IAM_ADMIN_PAT_SECRET, Some(ns)).await?;
        Ok(secret
            .and_then(|s| s.data)
            .and_then(|mut d| d.remove("pat"))
            .map(|b| Pat::from(String::from_utf8_lossy(&b.0).into_owned())))
    }

    /// A port-forward to Zitadel's Service and an API client over it (keep the forward alive
    /// while the client is used).
    async fn connect(
        &self,
        client: &crate::infra::k8s::K8sClient,
        pat: Pat,
    ) -> Result<(crate::infra::k8s::PortForward, ZitadelClient), InterpretError> {
        let score = &self.score;
        let forward = client
            .port_forward(
                &score.namespace,
                PortForwardTarget::Service(score.fullname()),
                score.service_port,
            )
            .await?;
        let api = ZitadelClient::new(forward.local_url.clone(), score.host.clone(), pat)
            .map_err(|e| InterpretError::Other(e.to_string()))?;
        Ok((forward, api))
    }
}

#[async_trait]
impl<T: Topology + K8sclient> Interpret<T> for ZitadelSetupInterpret {
    async fn plan(&self, _inventory: &Inventory, topology: &T) -> Result<Plan, InterpretError> {
        let score = &self.score;
        let client = topology.k8s_client().await?;
        let Some(pat) = self.pat(&client).await? else {
            let mut plan = Plan::default();
            plan.push(
                PlannedChange::create(format!("Zitadel project {}", score.project_name))
                    .with_detail("Zitadel is not deployed yet: its project, roles, app and grants would all be created"),
            );
            return Ok(plan);
        };
        let (forward, api) = self.connect(&client, pat).await?;
        let plan = score
            .plan(&api)
            .await
            .map_err(|e| InterpretError::Other(e.to_string()))?;
        drop(forward);
        Ok(plan)
    }

    async fn execute(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        let score = &self.score;
        let ns = score.namespace.as_str();
        let client = topology.k8s_client().await?;
        let pat = self.pat(&client).await?.ok_or_else(|| {
            InterpretError::Other(format!(
                "Secret {ns}/{IAM_ADMIN_PAT_SECRET} (key pat) not found: run ZitadelScore first"
            ))
        })?;
        let (forward, api) = self.connect(&client, pat).await?;
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
            .with_detail("org_id", app.org_id)
            .with_detail("org_domain", app.org_domain)
            .with_detail(
                "access",
                format!(
                    "only users granted {} (granted here: {})",
                    score.role_keys().join(", "),
                    if score.grant_to.is_empty() {
                        "nobody; grant roles in the console or list users in grant_to".to_string()
                    } else {
                        score.grant_to.join(", ")
                    }
                ),
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::zitadel_api::Pat;
    use crate::infra::zitadel_api::tests::{GOOD_PAT, HOST, start_fake};

    #[tokio::test]
    async fn second_provision_creates_nothing_and_returns_same_ids() {
        let fake = start_fake().await;
        let client = ZitadelClient::new(&fake.base_url, HOST, Pat::from(GOOD_PAT)).unwrap();
        let score = ZitadelSetupScore {
            host: HOST.into(),
            ..Default::default()
        };
        let first = score.provision(&client).await.unwrap();
        assert_eq!(
            first.created,
            vec![
                "project harmony",
                "role harmony-developer",
                "app harmony-cli"
            ]
        );
        assert_eq!(first.org_id, "100");
        let writes_before = fake.writes();
        let second = score.provision(&client).await.unwrap();
        assert!(second.created.is_empty(), "{:?}", second.created);
        assert_eq!(first.project_id, second.project_id);
        assert_eq!(first.client_id, second.client_id);
        assert_eq!(fake.writes(), writes_before, "second run sent a create");
    }

    fn granting(users: &[&str]) -> ZitadelSetupScore {
        ZitadelSetupScore {
            host: HOST.into(),
            grant_to: users.iter().map(|u| u.to_string()).collect(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn access_is_limited_to_granted_users_and_a_rerun_changes_nothing() {
        let fake = start_fake().await;
        let alice = fake.add_user("alice", "alice@example.test");
        let bob = fake.add_user("bob", "bob@example.test");
        let carol = fake.add_user("carol", "carol@example.test");
        let client = ZitadelClient::new(&fake.base_url, HOST, Pat::from(GOOD_PAT)).unwrap();
        // bob is named by his email.
        let score = granting(&["alice", "bob@example.test"]);

        let first = score.provision(&client).await.unwrap();
        assert_eq!(
            first.created,
            vec![
                "project harmony",
                "role harmony-developer",
                "app harmony-cli",
                "grant alice: harmony-developer",
                "grant bob@example.test: harmony-developer",
            ]
        );
        assert_eq!(
            fake.project_flags("harmony"),
            Some((true, true)),
            "role assertion and role check must be on"
        );
        assert_eq!(fake.granted_roles(&alice), vec!["harmony-developer"]);
        assert_eq!(fake.granted_roles(&bob), vec!["harmony-developer"]);
        assert!(fake.granted_roles(&carol).is_empty());
        assert_eq!(first.org_domain, format!("zitadel.{HOST}"));

        let writes = fake.writes();
        let second = score.provision(&client).await.unwrap();
        assert!(second.created.is_empty(), "{:?}", second.created);
        assert_eq!(fake.writes(), writes, "the rerun wrote something");
    }

    #[tokio::test]
    async fn an_old_project_gets_the_role_check_and_an_existing_grant_gets_the_role_added() {
        let fake = start_fake().await;
        let alice = fake.add_user("alice", "alice@example.test");
        let client = ZitadelClient::new(&fake.base_url, HOST, Pat::from(GOOD_PAT)).unwrap();
        // Before: a project with only a `viewer` role, granted to alice, and no role check.
        ZitadelSetupScore {
            roles: vec![("viewer".into(), "Viewer".into())],
            ..granting(&["alice"])
        }
        .provision(&client)
        .await
        .unwrap();
        fake.clear_project_flags("harmony");

        let score = granting(&["alice"]);
        let plan = score.plan(&client).await.unwrap();
        let text = plan.render("");
        assert!(
            text.contains("~ change    Zitadel project harmony"),
            "{text}"
        );
        assert!(text.contains("~ projectRoleCheck: false -> true"), "{text}");
        assert!(
            text.contains("+ create    Zitadel role harmony-developer"),
            "{text}"
        );
        assert!(
            text.contains("~ change    Zitadel grant alice: harmony-developer"),
            "{text}"
        );

        let app = score.provision(&client).await.unwrap();
        assert_eq!(
            app.created,
            vec![
                "project harmony: projectRoleAssertion, projectRoleCheck on",
                "role harmony-developer",
                "grant alice: harmony-developer",
            ]
        );
        assert_eq!(fake.project_flags("harmony"), Some((true, true)));
        assert_eq!(
            fake.granted_roles(&alice),
            vec!["viewer", "harmony-developer"],
            "the role granted by someone else is kept"
        );
        assert!(!score.plan(&client).await.unwrap().has_changes());
    }

    #[tokio::test]
    async fn a_listed_user_who_does_not_exist_is_named() {
        let fake = start_fake().await;
        let client = ZitadelClient::new(&fake.base_url, HOST, Pat::from(GOOD_PAT)).unwrap();
        let err = granting(&["nobody@example.test"])
            .provision(&client)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"nobody@example.test\""), "{text}");
        assert!(text.contains("grant_to"), "{text}");
    }

    /// Anybody can put someone else's email in a profile: an email two users have names
    /// nobody, and no grant is written.
    #[tokio::test]
    async fn an_email_several_users_have_grants_nothing() {
        let fake = start_fake().await;
        fake.add_user("bob", "bob@example.test");
        let mallory = fake.add_user("mallory", "bob@example.test");
        let client = ZitadelClient::new(&fake.base_url, HOST, Pat::from(GOOD_PAT)).unwrap();
        let err = granting(&["bob@example.test"])
            .provision(&client)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("2 users match \"bob@example.test\""),
            "{text}"
        );
        assert!(text.contains("bob, mallory"), "{text}");
        assert!(fake.granted_roles(&mallory).is_empty());
        assert!(
            !fake.requests().iter().any(|r| r == "POST grants"),
            "{:?}",
            fake.requests()
        );
        // Named by user name, the grant goes to that user only.
        granting(&["bob"]).provision(&client).await.unwrap();
        assert!(fake.granted_roles(&mallory).is_empty());
    }

    #[tokio::test]
    async fn plan_lists_what_would_be_created_and_sends_only_reads() {
        let fake = start_fake().await;
        fake.add_user("alice", "alice@example.test");
        let client = ZitadelClient::new(&fake.base_url, HOST, Pat::from(GOOD_PAT)).unwrap();
        let score = granting(&["alice"]);
        let plan = score.plan(&client).await.unwrap();
        let text = plan.render("");
        for line in [
            "+ create    Zitadel project harmony",
            "+ create    Zitadel role harmony-developer",
            "+ create    Zitadel app harmony-cli (device code)",
            "+ create    Zitadel grant alice: harmony-developer",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert_eq!(fake.writes(), 0, "a plan wrote: {:?}", fake.requests());
        assert!(
            fake.requests()
                .iter()
                .all(|r| r.starts_with("GET") || r.ends_with("_search")),
            "{:?}",
            fake.requests()
        );

        score.provision(&client).await.unwrap();
        let plan = score.plan(&client).await.unwrap();
        assert!(!plan.has_changes(), "{}", plan.render(""));
        assert_eq!(plan.count(crate::plan::ChangeKind::Unchanged), 4);
    }

    #[tokio::test]
    async fn bad_pat_fails_before_any_create() {
        let fake = start_fake().await;
        let client = ZitadelClient::new(&fake.base_url, HOST, Pat::from("nope")).unwrap();
        let err = ZitadelSetupScore::default()
            .provision(&client)
            .await
            .unwrap_err();
        assert!(err.is_unauthenticated());
        assert_eq!(fake.writes(), 0);
    }

    #[tokio::test]
    async fn wait_api_ready_returns_once_zitadel_answers_and_gives_up_with_the_refusal() {
        let fake = start_fake().await;
        let client = ZitadelClient::new(&fake.base_url, HOST, Pat::from(GOOD_PAT)).unwrap();
        wait_api_ready(&client, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(fake.requests(), ["GET orgs/me"], "one answer is enough");

        // Past the deadline a refused PAT is not retried: the refusal itself is returned.
        let refused = ZitadelClient::new(&fake.base_url, HOST, Pat::from("pat-wrong")).unwrap();
        let err = wait_api_ready(&refused, Duration::ZERO).await.unwrap_err();
        assert!(err.is_unauthenticated(), "{err:?}");
    }
}
