//! Who may use a project: the project's role check, users, and user grants (the roles a user
//! holds in a project). Management API v1, same wire conventions as the rest of [`super`].

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{
    Ensured, ListQuery, ListResponse, ObjectDetails, Project, TEXT_EQUALS, ZitadelApiError,
    ZitadelClient, seg,
};

/// Body of `PUT /management/v1/projects/{id}` (all settings are sent: it replaces them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateProjectRequest {
    pub name: String,
    pub project_role_assertion: bool,
    /// Login to the project's apps requires a granted role.
    pub project_role_check: bool,
    pub has_project_check: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GetProjectResponse {
    project: Project,
}

/// A user, as `users/_search` lists it (human or machine).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct User {
    pub id: String,
    pub details: ObjectDetails,
    pub state: String,
    pub user_name: String,
    pub login_names: Vec<String>,
    pub preferred_login_name: String,
}

/// The roles one user holds in one project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct UserGrant {
    pub id: String,
    pub details: ObjectDetails,
    pub role_keys: Vec<String>,
    pub state: String,
    pub user_id: String,
    pub user_name: String,
    pub project_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct AddUserGrantResponse {
    user_grant_id: String,
}

/// What [`ZitadelClient::ensure_user_grant`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GrantChange {
    Unchanged,
    /// A new grant with these roles.
    Created(Vec<String>),
    /// Roles added to an existing grant.
    Added(Vec<String>),
}

impl ZitadelClient {
    /// `GET /management/v1/projects/{id}`.
    pub(crate) async fn get_project(&self, project_id: &str) -> Result<Project, ZitadelApiError> {
        let path = format!("/management/v1/projects/{}", seg(project_id));
        let response: GetProjectResponse = self.call::<(), _>(Method::GET, &path, None).await?;
        Ok(response.project)
    }

    /// `PUT /management/v1/projects/{id}`.
    pub(crate) async fn update_project(
        &self,
        project_id: &str,
        request: &UpdateProjectRequest,
    ) -> Result<(), ZitadelApiError> {
        let path = format!("/management/v1/projects/{}", seg(project_id));
        let _: serde_json::Value = self.call(Method::PUT, &path, Some(request)).await?;
        Ok(())
    }

    /// `POST /management/v1/users/_search`: the user whose user name is `name`, else the one
    /// whose email is `name` (people usually know their email, Zitadel often uses it as user
    /// name too). Anybody may type any email into a profile, so an email names a user only when
    /// exactly one user has it: several matches are an error (name the user name instead).
    pub(crate) async fn find_user(&self, name: &str) -> Result<Option<User>, ZitadelApiError> {
        for query in [
            serde_json::json!({"userNameQuery": {"userName": name, "method": TEXT_EQUALS}}),
            serde_json::json!({"emailQuery": {"emailAddress": name, "method": TEXT_EQUALS}}),
        ] {
            let body = serde_json::json!({"query": ListQuery::default(), "queries": [query]});
            let endpoint = "POST /management/v1/users/_search";
            let response: ListResponse<User> = self
                .call(Method::POST, "/management/v1/users/_search", Some(&body))
                .await?;
            if response.result.len() > 1 {
                let names: Vec<&str> = response
                    .result
                    .iter()
                    .map(|u| u.user_name.as_str())
                    .collect();
                return Err(ZitadelApiError::Decode {
                    endpoint: endpoint.into(),
                    message: format!(
                        "{} users match {name:?} (user names: {}): name the user by its user name",
                        names.len(),
                        names.join(", ")
                    ),
                });
            }
            if let Some(user) = response.result.into_iter().next() {
                return Ok(Some(user));
            }
        }
        Ok(None)
    }

    /// `POST /management/v1/users/grants/_search` for one user in one project.
    pub(crate) async fn user_grants(
        &self,
        user_id: &str,
        project_id: &str,
    ) -> Result<Vec<UserGrant>, ZitadelApiError> {
        let body = serde_json::json!({
            "query": ListQuery::default(),
            "queries": [
                {"userIdQuery": {"userId": user_id}},
                {"projectIdQuery": {"projectId": project_id}},
            ],
        });
        let response: ListResponse<UserGrant> = self
            .call(
                Method::POST,
                "/management/v1/users/grants/_search",
                Some(&body),
            )
            .await?;
        Ok(response
            .result
            .into_iter()
            .filter(|g| g.user_id == user_id && g.project_id == project_id)
            .collect())
    }

    /// `POST /management/v1/users/{userId}/grants`: returns the grant id.
    pub(crate) async fn add_user_grant(
        &self,
        user_id: &str,
        project_id: &str,
        role_keys: &[String],
    ) -> Result<String, ZitadelApiError> {
        let path = format!("/management/v1/users/{}/grants", seg(user_id));
        let body = serde_json::json!({"projectId": project_id, "roleKeys": role_keys});
        let response: AddUserGrantResponse = self.call(Method::POST, &path, Some(&body)).await?;
        Ok(response.user_grant_id)
    }

    /// `PUT /management/v1/users/{userId}/grants/{grantId}`: replaces the grant's roles.
    pub(crate) async fn update_user_grant(
        &self,
        user_id: &str,
        grant_id: &str,
        role_keys: &[String],
    ) -> Result<(), ZitadelApiError> {
        let path = format!(
            "/management/v1/users/{}/grants/{}",
            seg(user_id),
            seg(grant_id)
        );
        let body = serde_json::json!({"roleKeys": role_keys});
        let _: serde_json::Value = self.call(Method::PUT, &path, Some(&body)).await?;
        Ok(())
    }

    /// Makes the user hold at least `role_keys` in the project (roles granted by someone else
    /// are kept).
    pub(crate) async fn ensure_user_grant(
        &self,
        user_id: &str,
        project_id: &str,
        role_keys: &[String],
    ) -> Result<Ensured<GrantChange>, ZitadelApiError> {
        let grants = self.user_grants(user_id, project_id).await?;
        let Some(grant) = grants.into_iter().next() else {
            self.add_user_grant(user_id, project_id, role_keys).await?;
            return Ok(Ensured {
                value: GrantChange::Created(role_keys.to_vec()),
                created: true,
            });
        };
        let missing: Vec<String> = role_keys
            .iter()
            .filter(|k| !grant.role_keys.contains(k))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(Ensured {
                value: GrantChange::Unchanged,
                created: false,
            });
        }
        let mut all = grant.role_keys.clone();
        all.extend(missing.iter().cloned());
        self.update_user_grant(user_id, &grant.id, &all).await?;
        Ok(Ensured {
            value: GrantChange::Added(missing),
            created: false,
        })
    }
}
