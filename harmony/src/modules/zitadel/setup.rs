//! Find-or-create of Harmony's Zitadel project, roles and device-code CLI app.

use serde::Serialize;

use super::api::{
    AddOidcAppRequest, AddProjectRequest, AddProjectRoleRequest, OidcGrantType, ZitadelApiError,
    ZitadelClient,
};

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
