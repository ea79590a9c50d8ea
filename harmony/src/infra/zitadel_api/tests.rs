//! The client against an in-process fake Zitadel that follows the documented wire contract:
//! bearer + Host checks, int64 as strings, omitted empty fields, 409/code 6 on duplicates,
//! 401/code 16 on a bad PAT, 404/code 5, unknown extra fields.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::*;

pub(crate) const HOST: &str = "zitadel.test.local";
pub(crate) const GOOD_PAT: &str = "pat-good-0123456789";

/// (id, name, client_id, grant types as sent, app type)
type AppRow = (String, String, String, Vec<String>, String);

#[derive(Default)]
struct FakeState {
    next_id: u64,
    projects: Vec<(String, String)>,
    /// project id -> apps (id, name, client_id, grant types as sent, app type)
    apps: BTreeMap<String, Vec<AppRow>>,
    roles: BTreeMap<String, Vec<(String, String)>>,
    /// Every authorised request, as "METHOD path".
    requests: Vec<String>,
    /// The next N project searches pretend nothing exists (a projection lagging the writes).
    hidden_project_searches: u32,
    /// The next N app searches pretend nothing exists.
    hidden_app_searches: u32,
    /// Send totals as JSON numbers instead of strings.
    numeric_totals: bool,
    /// project id -> (projectRoleAssertion, projectRoleCheck), as last written.
    project_flags: BTreeMap<String, (bool, bool)>,
    /// (id, user name, email) of existing users.
    users: Vec<(String, String, String)>,
    /// (grant id, user id, project id, role keys).
    grants: Vec<(String, String, String, Vec<String>)>,
}

type Shared = Arc<Mutex<FakeState>>;

fn rpc_error(status: StatusCode, code: Value, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "code": code,
            "message": message,
            "details": [{"@type": "type.googleapis.com/zitadel.v1.ErrorDetail", "id": "FAKE-1", "message": message}],
        })),
    )
        .into_response()
}

/// Every route first checks the Host and the bearer, like Zitadel.
async fn authorize(request: Request, next: Next) -> Response {
    match check(request.headers()) {
        Some(rejection) => rejection,
        None => next.run(request).await,
    }
}

/// `Some(rejection)` when the Host or the bearer is wrong.
fn check(headers: &HeaderMap) -> Option<Response> {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if host != HOST {
        return Some(rpc_error(
            StatusCode::NOT_FOUND,
            json!(5),
            "Instance not found (QUERY-n0wng)",
        ));
    }
    let auth = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {GOOD_PAT}") {
        return Some(rpc_error(
            StatusCode::UNAUTHORIZED,
            json!(16),
            "Token is invalid (AUTH-7fs1e)",
        ));
    }
    None
}

fn details(seq: u64) -> Value {
    json!({"sequence": seq.to_string(), "creationDate": "2026-01-01T00:00:00Z", "changeDate": "2026-01-01T00:00:00Z", "resourceOwner": "100"})
}

fn list(state: &FakeState, items: Vec<Value>) -> Value {
    let total = items.len() as u64;
    let total = if state.numeric_totals {
        json!(total)
    } else {
        json!(total.to_string())
    };
    let mut body =
        json!({"details": {"totalResult": total, "viewTimestamp": "2026-01-01T00:00:00Z"}});
    if !items.is_empty() {
        body["result"] = Value::Array(items);
    }
    body
}

fn name_query(body: &Value) -> Option<String> {
    body["queries"]
        .as_array()?
        .iter()
        .find_map(|q| q["nameQuery"]["name"].as_str().map(str::to_string))
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

async fn my_org(State(s): State<Shared>) -> Response {
    s.lock().unwrap().requests.push("GET orgs/me".into());
    axum::Json(json!({
        "org": {"id": "100", "details": details(1), "state": "ORG_STATE_ACTIVE", "name": "ZITADEL",
                "primaryDomain": format!("zitadel.{HOST}"), "someFutureField": {"x": 1}},
        "unexpected": true
    }))
    .into_response()
}

async fn search_projects(State(s): State<Shared>, body: Bytes) -> Response {
    let mut st = s.lock().unwrap();
    st.requests.push("POST projects/_search".into());
    let wanted = name_query(&parse(&body));
    let hide = st.hidden_project_searches > 0;
    st.hidden_project_searches = st.hidden_project_searches.saturating_sub(1);
    let items: Vec<Value> = if hide {
        Vec::new()
    } else {
        st.projects
            .iter()
            .filter(|(_, n)| wanted.as_ref().is_none_or(|w| w == n))
            .map(|(id, name)| json!({"id": id, "details": details(2), "name": name, "state": "PROJECT_STATE_ACTIVE", "privateLabelingSetting": "PRIVATE_LABELING_SETTING_UNSPECIFIED"}))
            .collect()
    };
    axum::Json(list(&st, items)).into_response()
}

async fn add_project(State(s): State<Shared>, body: Bytes) -> Response {
    let body = parse(&body);
    let mut st = s.lock().unwrap();
    st.requests.push("POST projects".into());
    let Some(name) = body["name"].as_str().filter(|n| !n.is_empty()) else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            json!(3),
            "invalid AddProjectRequest.Name",
        );
    };
    if st.projects.iter().any(|(_, n)| n == name) {
        return rpc_error(
            StatusCode::CONFLICT,
            json!(6),
            "Project already exists (PROJECT-3M9sd)",
        );
    }
    st.next_id += 1;
    let id = format!("2{:017}", st.next_id);
    st.projects.push((id.clone(), name.to_string()));
    let flags = (
        body["projectRoleAssertion"].as_bool().unwrap_or(false),
        body["projectRoleCheck"].as_bool().unwrap_or(false),
    );
    st.project_flags.insert(id.clone(), flags);
    axum::Json(json!({"id": id, "details": details(3)})).into_response()
}

async fn search_apps(
    State(s): State<Shared>,
    Path(project): Path<String>,
    body: Bytes,
) -> Response {
    let mut st = s.lock().unwrap();
    st.requests.push("POST apps/_search".into());
    if !st.projects.iter().any(|(id, _)| *id == project) {
        return rpc_error(StatusCode::NOT_FOUND, json!(5), "Not Found");
    }
    let mut apps = st.apps.get(&project).cloned().unwrap_or_default();
    if st.hidden_app_searches > 0 {
        st.hidden_app_searches -= 1;
        apps.clear();
    }
    let wanted = name_query(&parse(&body));
    let items = apps
        .iter()
        .filter(|a| wanted.as_ref().is_none_or(|w| *w == a.1))
        .map(|(id, name, client_id, grants, app_type)| {
            json!({"id": id, "details": details(4), "state": "APP_STATE_ACTIVE", "name": name,
                   "oidcConfig": {"clientId": client_id, "grantTypes": grants, "appType": app_type,
                                  "authMethodType": "OIDC_AUTH_METHOD_TYPE_NONE", "devMode": true,
                                  "clockSkew": "0s", "newerField": ["a"]}})
        })
        .collect();
    axum::Json(list(&st, items)).into_response()
}

async fn add_oidc_app(
    State(s): State<Shared>,
    Path(project): Path<String>,
    body: Bytes,
) -> Response {
    let body = parse(&body);
    let mut st = s.lock().unwrap();
    st.requests.push("POST apps/oidc".into());
    if !st.projects.iter().any(|(id, _)| *id == project) {
        return rpc_error(StatusCode::NOT_FOUND, json!(5), "Project not found");
    }
    let name = body["name"].as_str().unwrap_or_default().to_string();
    if st
        .apps
        .get(&project)
        .into_iter()
        .flatten()
        .any(|a| a.1 == name)
    {
        return rpc_error(StatusCode::CONFLICT, json!(6), "Application already exists");
    }
    // Like Zitadel: values without the full prefix are silently dropped.
    let grants: Vec<String> = body["grantTypes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str())
        .filter(|g| g.starts_with("OIDC_GRANT_TYPE_"))
        .map(str::to_string)
        .collect();
    let app_type = body["appType"]
        .as_str()
        .unwrap_or("OIDC_APP_TYPE_WEB")
        .to_string();
    st.next_id += 1;
    let app_id = format!("3{:017}", st.next_id);
    let client_id = format!("{app_id}@harmony");
    st.apps.entry(project).or_default().push((
        app_id.clone(),
        name,
        client_id.clone(),
        grants,
        app_type,
    ));
    // No clientSecret for a public client: omitted, like the real server.
    axum::Json(json!({"appId": app_id, "details": details(5), "clientId": client_id}))
        .into_response()
}

async fn search_roles(State(s): State<Shared>, Path(project): Path<String>) -> Response {
    let mut st = s.lock().unwrap();
    st.requests.push("POST roles/_search".into());
    let items = st
        .roles
        .get(&project)
        .into_iter()
        .flatten()
        .map(|(key, display)| json!({"key": key, "displayName": display, "details": details(6)}))
        .collect();
    axum::Json(list(&st, items)).into_response()
}

async fn add_role(State(s): State<Shared>, Path(project): Path<String>, body: Bytes) -> Response {
    let body = parse(&body);
    let mut st = s.lock().unwrap();
    st.requests.push("POST roles".into());
    let key = body["roleKey"].as_str().unwrap_or_default().to_string();
    let display = body["displayName"].as_str().unwrap_or_default().to_string();
    let roles = st.roles.entry(project).or_default();
    if roles.iter().any(|(k, _)| *k == key) {
        // Connect-style string code, which the client must also understand.
        return rpc_error(
            StatusCode::CONFLICT,
            json!("already_exists"),
            "Role already exists",
        );
    }
    roles.push((key, display));
    axum::Json(json!({"details": details(7)})).into_response()
}

async fn get_project(State(s): State<Shared>, Path(project): Path<String>) -> Response {
    let mut st = s.lock().unwrap();
    st.requests.push("GET project".into());
    let Some((id, name)) = st.projects.iter().find(|(id, _)| *id == project).cloned() else {
        return rpc_error(StatusCode::NOT_FOUND, json!(5), "Project not found");
    };
    let (assertion, check) = st.project_flags.get(&id).copied().unwrap_or_default();
    let mut body =
        json!({"id": id, "details": details(2), "name": name, "state": "PROJECT_STATE_ACTIVE"});
    // false booleans are omitted, like the real server.
    if assertion {
        body["projectRoleAssertion"] = json!(true);
    }
    if check {
        body["projectRoleCheck"] = json!(true);
    }
    axum::Json(json!({ "project": body })).into_response()
}

async fn update_project(
    State(s): State<Shared>,
    Path(project): Path<String>,
    body: Bytes,
) -> Response {
    let body = parse(&body);
    let mut st = s.lock().unwrap();
    st.requests.push("PUT project".into());
    if !st.projects.iter().any(|(id, _)| *id == project) {
        return rpc_error(StatusCode::NOT_FOUND, json!(5), "Project not found");
    }
    let flags = (
        body["projectRoleAssertion"].as_bool().unwrap_or(false),
        body["projectRoleCheck"].as_bool().unwrap_or(false),
    );
    if st.project_flags.get(&project) == Some(&flags) {
        // Zitadel refuses an update that changes nothing.
        return rpc_error(
            StatusCode::BAD_REQUEST,
            json!(9),
            "Project has not been changed (PROJECT-LJ0wz)",
        );
    }
    st.project_flags.insert(project, flags);
    axum::Json(json!({"details": details(8)})).into_response()
}

async fn search_users(State(s): State<Shared>, body: Bytes) -> Response {
    let body = parse(&body);
    let mut st = s.lock().unwrap();
    st.requests.push("POST users/_search".into());
    let queries = body["queries"].as_array().cloned().unwrap_or_default();
    let items = st
        .users
        .iter()
        .filter(|(_, user_name, email)| {
            queries.iter().all(|q| {
                q["userNameQuery"]["userName"]
                    .as_str()
                    .is_none_or(|n| n == user_name)
                    && q["emailQuery"]["emailAddress"]
                        .as_str()
                        .is_none_or(|e| e == email)
            })
        })
        .map(|(id, user_name, email)| {
            json!({"id": id, "details": details(9), "state": "USER_STATE_ACTIVE", "userName": user_name,
                   "loginNames": [format!("{user_name}@zitadel.{HOST}")],
                   "human": {"email": {"email": email, "isEmailVerified": true}}})
        })
        .collect();
    axum::Json(list(&st, items)).into_response()
}

async fn search_grants(State(s): State<Shared>, body: Bytes) -> Response {
    let body = parse(&body);
    let mut st = s.lock().unwrap();
    st.requests.push("POST grants/_search".into());
    let queries = body["queries"].as_array().cloned().unwrap_or_default();
    let items = st
        .grants
        .iter()
        .filter(|(_, user, project, _)| {
            queries.iter().all(|q| {
                q["userIdQuery"]["userId"].as_str().is_none_or(|u| u == user)
                    && q["projectIdQuery"]["projectId"]
                        .as_str()
                        .is_none_or(|p| p == project)
            })
        })
        .map(|(id, user, project, roles)| {
            json!({"id": id, "details": details(10), "roleKeys": roles, "state": "USER_GRANT_STATE_ACTIVE",
                   "userId": user, "projectId": project, "projectName": "harmony"})
        })
        .collect();
    axum::Json(list(&st, items)).into_response()
}

async fn add_grant(State(s): State<Shared>, Path(user): Path<String>, body: Bytes) -> Response {
    let body = parse(&body);
    let mut st = s.lock().unwrap();
    st.requests.push("POST grants".into());
    let project = body["projectId"].as_str().unwrap_or_default().to_string();
    let roles: Vec<String> = body["roleKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect();
    if !st.users.iter().any(|u| u.0 == user) {
        return rpc_error(StatusCode::NOT_FOUND, json!(5), "User not found");
    }
    let known = st.roles.get(&project).cloned().unwrap_or_default();
    if roles.iter().any(|r| !known.iter().any(|(k, _)| k == r)) {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            json!(9),
            "Role not found on project",
        );
    }
    if st.grants.iter().any(|g| g.1 == user && g.2 == project) {
        return rpc_error(StatusCode::CONFLICT, json!(6), "User grant already exists");
    }
    st.next_id += 1;
    let id = format!("4{:017}", st.next_id);
    st.grants.push((id.clone(), user, project, roles));
    axum::Json(json!({"userGrantId": id, "details": details(11)})).into_response()
}

async fn update_grant(
    State(s): State<Shared>,
    Path((user, grant)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = parse(&body);
    let mut st = s.lock().unwrap();
    st.requests.push("PUT grants".into());
    let roles: Vec<String> = body["roleKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect();
    match st.grants.iter_mut().find(|g| g.0 == grant && g.1 == user) {
        Some(g) => {
            g.3 = roles;
            axum::Json(json!({"details": details(12)})).into_response()
        }
        None => rpc_error(StatusCode::NOT_FOUND, json!(5), "User grant not found"),
    }
}

/// `GET /debug/ready`: `ok` for the instance's Host, Zitadel's 404 for any other.
async fn ready(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let host = headers.get("host").and_then(|h| h.to_str().ok());
    if host != Some(HOST) {
        return rpc_error(StatusCode::NOT_FOUND, json!(5), "Instance not found");
    }
    s.lock().unwrap().requests.push("GET /debug/ready".into());
    "ok".into_response()
}

pub(crate) struct Fake {
    state: Shared,
    pub(crate) base_url: String,
    _server: tokio::task::JoinHandle<()>,
}

pub(crate) async fn start_fake() -> Fake {
    let state: Shared = Arc::default();
    let app = Router::new()
        .route("/management/v1/orgs/me", get(my_org))
        .route("/management/v1/projects/_search", post(search_projects))
        .route("/management/v1/projects", post(add_project))
        .route(
            "/management/v1/projects/{project}/apps/_search",
            post(search_apps),
        )
        .route(
            "/management/v1/projects/{project}/apps/oidc",
            post(add_oidc_app),
        )
        .route(
            "/management/v1/projects/{project}/roles/_search",
            post(search_roles),
        )
        .route("/management/v1/projects/{project}/roles", post(add_role))
        .route(
            "/management/v1/projects/{project}",
            get(get_project).put(update_project),
        )
        .route("/management/v1/users/_search", post(search_users))
        .route("/management/v1/users/grants/_search", post(search_grants))
        .route("/management/v1/users/{user}/grants", post(add_grant))
        .route(
            "/management/v1/users/{user}/grants/{grant}",
            axum::routing::put(update_grant),
        )
        .layer(axum::middleware::from_fn(authorize))
        // No token on the readiness probe, only the instance's Host.
        .route("/debug/ready", get(ready))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Fake {
        state,
        base_url: format!("http://{addr}"),
        _server: server,
    }
}

impl Fake {
    /// Number of create and update requests received so far.
    pub(crate) fn writes(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| (r.starts_with("POST") && !r.ends_with("_search")) || r.starts_with("PUT"))
            .count()
    }

    /// Every request received so far, as "METHOD what".
    pub(crate) fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Adds an existing human user; returns its id.
    pub(crate) fn add_user(&self, user_name: &str, email: &str) -> String {
        let mut st = self.state.lock().unwrap();
        st.next_id += 1;
        let id = format!("5{:017}", st.next_id);
        st.users
            .push((id.clone(), user_name.to_string(), email.to_string()));
        id
    }

    /// (projectRoleAssertion, projectRoleCheck) of the project named `name`.
    pub(crate) fn project_flags(&self, name: &str) -> Option<(bool, bool)> {
        let st = self.state.lock().unwrap();
        let (id, _) = st.projects.iter().find(|(_, n)| n == name)?;
        st.project_flags.get(id).copied()
    }

    /// The role keys granted to user `user_id`, over all its grants.
    pub(crate) fn granted_roles(&self, user_id: &str) -> Vec<String> {
        let st = self.state.lock().unwrap();
        st.grants
            .iter()
            .filter(|g| g.1 == user_id)
            .flat_map(|g| g.3.clone())
            .collect()
    }

    /// Makes an existing project look like one created before the role check existed.
    pub(crate) fn clear_project_flags(&self, name: &str) {
        let mut st = self.state.lock().unwrap();
        let Some((id, _)) = st.projects.iter().find(|(_, n)| n == name).cloned() else {
            return;
        };
        st.project_flags.insert(id, (false, false));
    }
}

fn client(fake: &Fake) -> ZitadelClient {
    ZitadelClient::new(&fake.base_url, HOST, Pat::from(GOOD_PAT)).unwrap()
}

/// A project request with only a name.
fn project_named(name: &str) -> AddProjectRequest {
    AddProjectRequest {
        name: name.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn my_org_tolerates_unknown_fields_and_string_int64() {
    let fake = start_fake().await;
    let org = client(&fake).my_org().await.unwrap();
    assert_eq!(org.name, "ZITADEL");
    assert_eq!(org.id, "100");
    assert_eq!(org.details.sequence, 1);
    assert_eq!(org.primary_domain, format!("zitadel.{HOST}"));
}

#[tokio::test]
async fn empty_search_has_no_result_field_and_yields_empty_vec() {
    let fake = start_fake().await;
    let found = client(&fake)
        .search_projects_by_name("nothing")
        .await
        .unwrap();
    assert!(found.is_empty());
}

#[tokio::test]
async fn numeric_total_result_is_accepted() {
    let fake = start_fake().await;
    fake.state.lock().unwrap().numeric_totals = true;
    let c = client(&fake);
    c.create_project(&project_named("harmony")).await.unwrap();
    let found = c.search_projects_by_name("harmony").await.unwrap();
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn ensure_project_creates_once_then_finds() {
    let fake = start_fake().await;
    let c = client(&fake);
    let request = AddProjectRequest {
        name: "harmony".into(),
        project_role_assertion: true,
        ..Default::default()
    };
    let first = c.ensure_project(&request).await.unwrap();
    assert!(first.created);
    assert!(!first.value.is_empty());
    let second = c.ensure_project(&request).await.unwrap();
    assert!(!second.created);
    assert_eq!(first.value, second.value);
    let creates = fake
        .state
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| *r == "POST projects")
        .count();
    assert_eq!(creates, 1);
}

#[tokio::test]
async fn duplicate_create_is_already_exists_with_endpoint_in_error() {
    let fake = start_fake().await;
    let c = client(&fake);
    let request = project_named("dup");
    c.create_project(&request).await.unwrap();
    let err = c.create_project(&request).await.unwrap_err();
    assert!(err.is_already_exists(), "{err:?}");
    match &err {
        ZitadelApiError::Api {
            status,
            code,
            endpoint,
            ..
        } => {
            assert_eq!(*status, 409);
            assert_eq!(*code, RpcCode::AlreadyExists);
            assert_eq!(endpoint, "POST /management/v1/projects");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("POST /management/v1/projects"));
}

#[tokio::test]
async fn concurrent_creation_409_is_resolved_by_searching_again() {
    let fake = start_fake().await;
    let c = client(&fake);
    let request = project_named("raced");
    let created = c.create_project(&request).await.unwrap();
    fake.state.lock().unwrap().hidden_project_searches = 1;
    let ensured = c.ensure_project(&request).await.unwrap();
    assert!(!ensured.created);
    assert_eq!(ensured.value, created.id);
}

impl Fake {
    fn searches(&self, kind: &str) -> usize {
        let wanted = format!("POST {kind}/_search");
        let st = self.state.lock().unwrap();
        st.requests.iter().filter(|r| **r == wanted).count()
    }
}

#[tokio::test]
async fn a_lagging_project_search_after_409_is_retried_until_it_finds_the_project() {
    let fake = start_fake().await;
    let c = client(&fake);
    let request = project_named("lagging");
    let created = c.create_project(&request).await.unwrap();
    // The search before the create and the next two after its 409 miss the project.
    fake.state.lock().unwrap().hidden_project_searches = 3;
    let ensured = c.ensure_project(&request).await.unwrap();
    assert!(!ensured.created);
    assert_eq!(ensured.value, created.id);
    assert_eq!(fake.searches("projects"), 4);
    assert_eq!(fake.writes(), 2, "one create, one refused create");
}

#[tokio::test]
async fn a_lagging_app_search_after_409_is_retried_until_it_finds_the_app() {
    let fake = start_fake().await;
    let c = client(&fake);
    let project = c.create_project(&project_named("p")).await.unwrap().id;
    let request = AddOidcAppRequest::native_device_code("cli");
    let first = c.ensure_oidc_app(&project, &request).await.unwrap();
    fake.state.lock().unwrap().hidden_app_searches = 3;
    let again = c.ensure_oidc_app(&project, &request).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.value.client_id, first.value.client_id);
    assert_eq!(fake.searches("apps"), 5);
}

#[tokio::test]
async fn a_search_that_never_catches_up_fails_after_the_window_naming_the_project() {
    let fake = start_fake().await;
    let c = client(&fake).with_search_lag_window(Duration::from_millis(700));
    let request = project_named("ghost");
    c.create_project(&request).await.unwrap();
    fake.state.lock().unwrap().hidden_project_searches = u32::MAX;
    let err = c.ensure_project(&request).await.unwrap_err();
    assert!(matches!(err, ZitadelApiError::Lagging { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("\"ghost\""), "{text}");
    assert!(text.contains("409"), "{text}");
    assert!(text.contains("re-run"), "{text}");
    // Retried, but bounded: a handful of searches, not a busy loop.
    let searches = fake.searches("projects");
    assert!((3..=10).contains(&searches), "{searches} searches");
}

#[tokio::test]
async fn bad_pat_is_unauthenticated_and_never_printed() {
    let fake = start_fake().await;
    let secret = "pat-wrong-SECRETVALUE";
    let c = ZitadelClient::new(&fake.base_url, HOST, Pat::from(secret)).unwrap();
    let err = c.my_org().await.unwrap_err();
    assert!(err.is_unauthenticated(), "{err:?}");
    assert!(matches!(
        &err,
        ZitadelApiError::Api {
            status: 401,
            code: RpcCode::Unauthenticated,
            ..
        }
    ));
    assert!(!format!("{err:?} {err}").contains(secret));
    assert!(!format!("{c:?}").contains(secret));
    assert!(format!("{c:?}").contains("REDACTED"), "{c:?}");
}

#[tokio::test]
async fn wrong_host_is_not_found() {
    let fake = start_fake().await;
    let c = ZitadelClient::new(&fake.base_url, "other.local", Pat::from(GOOD_PAT)).unwrap();
    let err = c.my_org().await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("GET /management/v1/orgs/me"));
}

#[tokio::test]
async fn unknown_project_apps_search_is_not_found() {
    let fake = start_fake().await;
    let err = client(&fake)
        .search_apps_by_name("999", "cli")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(matches!(
        &err,
        ZitadelApiError::Api {
            code: RpcCode::NotFound,
            ..
        }
    ));
}

#[tokio::test]
async fn device_code_app_keeps_full_grant_prefixes_and_is_created_once() {
    let fake = start_fake().await;
    let c = client(&fake);
    let project = c
        .ensure_project(&project_named("harmony"))
        .await
        .unwrap()
        .value;
    let request = AddOidcAppRequest::native_device_code("harmony-cli");
    let first = c.ensure_oidc_app(&project, &request).await.unwrap();
    assert!(first.created);
    assert!(first.value.client_id.ends_with("@harmony"));
    let second = c.ensure_oidc_app(&project, &request).await.unwrap();
    assert!(!second.created);
    assert_eq!(first.value, second.value);

    {
        let st = fake.state.lock().unwrap();
        let app = &st.apps[&project][0];
        assert!(
            app.3.contains(&"OIDC_GRANT_TYPE_DEVICE_CODE".to_string()),
            "{:?}",
            app.3
        );
        assert_eq!(app.4, "OIDC_APP_TYPE_NATIVE");
    }

    let apps = c
        .search_apps_by_name(&project, "harmony-cli")
        .await
        .unwrap();
    let oidc = apps[0].oidc_config.as_ref().unwrap();
    assert!(oidc.grant_types.contains(&OidcGrantType::DeviceCode));
    assert_eq!(oidc.app_type, OidcAppType::Native);
    assert_eq!(oidc.auth_method_type, OidcAuthMethodType::None);
}

#[test]
fn device_code_request_serializes_full_enum_names() {
    let body = serde_json::to_value(AddOidcAppRequest::native_device_code("cli")).unwrap();
    assert_eq!(body["appType"], "OIDC_APP_TYPE_NATIVE");
    assert_eq!(body["authMethodType"], "OIDC_AUTH_METHOD_TYPE_NONE");
    let grants: Vec<&str> = body["grantTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert!(grants.contains(&"OIDC_GRANT_TYPE_DEVICE_CODE"));
    assert!(grants.iter().all(|g| g.starts_with("OIDC_GRANT_TYPE_")));
}

#[tokio::test]
async fn roles_are_added_once_and_string_code_conflict_is_understood() {
    let fake = start_fake().await;
    let c = client(&fake);
    let project = c
        .ensure_project(&project_named("harmony"))
        .await
        .unwrap()
        .value;
    let role = AddProjectRoleRequest {
        role_key: "harmony-dev".into(),
        display_name: "Harmony developer".into(),
        group: String::new(),
    };
    assert!(c.ensure_project_role(&project, &role).await.unwrap());
    assert!(!c.ensure_project_role(&project, &role).await.unwrap());
    let err = c.add_project_role(&project, &role).await.unwrap_err();
    assert!(err.is_already_exists());
    assert!(matches!(
        &err,
        ZitadelApiError::Api {
            code: RpcCode::AlreadyExists,
            ..
        }
    ));
    let roles = c.search_project_roles(&project).await.unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].key, "harmony-dev");
}

#[test]
fn error_body_variants_decode() {
    let e = decode_error(
        "X".into(),
        StatusCode::BAD_REQUEST,
        br#"{"code":"9","message":"precondition"}"#,
    );
    assert!(matches!(
        e,
        ZitadelApiError::Api {
            code: RpcCode::FailedPrecondition,
            ..
        }
    ));
    let e = decode_error(
        "X".into(),
        StatusCode::BAD_GATEWAY,
        b"<html>bad gateway</html>",
    );
    match e {
        ZitadelApiError::Api {
            code,
            status,
            message,
            ..
        } => {
            assert_eq!(code, RpcCode::Missing);
            assert_eq!(status, 502);
            assert!(message.contains("bad gateway"));
        }
        other => panic!("{other:?}"),
    }
    let e = decode_error("X".into(), StatusCode::CONFLICT, b"");
    assert!(e.is_already_exists());
}

#[test]
fn settings_are_validated() {
    assert!(ZitadelClient::new("not a url", HOST, Pat::from("x")).is_err());
    assert!(ZitadelClient::new("http://127.0.0.1:1", "", Pat::from("x")).is_err());
    assert!(ZitadelClient::new("http://127.0.0.1:1", HOST, Pat::from("  ")).is_err());
}

/// A confidential client's secret, as Zitadel returns it on creation, is read but never shown
/// by `Debug` (the response may be logged when a create fails further on).
#[test]
fn an_app_response_never_shows_its_client_secret() {
    let answer: AddOidcAppResponse = serde_json::from_str(
        r#"{"appId": "42", "clientId": "harmony-cli", "clientSecret": "S3CR3T-CLIENT"}"#,
    )
    .unwrap();
    assert_eq!(answer.client_secret.expose_secret(), "S3CR3T-CLIENT");
    let shown = format!("{answer:?}");
    assert!(
        shown.contains("harmony-cli") && !shown.contains("S3CR3T") && shown.contains("REDACTED"),
        "{shown}"
    );
}

/// The readiness probe asks `/debug/ready` with the instance's Host (a port-forward URL has
/// another), and says not ready for another Host's 404 or when nothing listens.
#[tokio::test]
async fn readiness_asks_with_the_instance_host() {
    let fake = start_fake().await;
    let ready = ZitadelReadiness::new(&format!("{}/", fake.base_url), HOST).unwrap();
    assert!(ready.answers().await);
    assert_eq!(fake.requests(), vec!["GET /debug/ready".to_string()]);

    let other = ZitadelReadiness::new(&fake.base_url, "other.local").unwrap();
    assert!(!other.answers().await);
    assert_eq!(fake.requests().len(), 1);

    let url = format!("http://127.0.0.1:{}", harmony_test_support::free_port());
    assert!(!ZitadelReadiness::new(&url, HOST).unwrap().answers().await);
}
