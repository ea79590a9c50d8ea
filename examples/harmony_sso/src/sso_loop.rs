//! [`SsoConfigLoopScore`]: the config loop as ONE Score, bounded on the [`SecretVault`] and
//! [`IdentityProvider`] capabilities, so the local k3d stack and an existing stack run the
//! same code: identity client → vault trusting it → `ConfigManager` [Env → OpenBao → SQLite]
//! → sign in → store and read back the demo values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use harmony::infra::existing_stack::ExistingStackConfig;
use harmony::interpret::{Interpret, InterpretError, Outcome};
use harmony::inventory::Inventory;
use harmony::modules::openbao::OpenbaoUserpassConfig;
use harmony::score::Score;
use harmony::topology::{
    DeviceClient, DeviceClientRequest, IdentityProvider, JwtTrust, SecretVault, SecretVaultAccess,
    SecretVaultRequest, Topology, VaultUserpass,
};
use harmony_config::{
    Config, ConfigError, ConfigManager, ConfigSource, EnvSource, PromptSource, Provenance,
    SqliteSource, StoreSource,
};
use harmony_secret::auth::oidc::print_device_code;
use harmony_secret::openbao_http::{ClientCert, TlsOptions};
use harmony_secret::{DeviceCodeInfo, DeviceCodePrompt, OpenbaoSecretStore};

use crate::app_config::{DemoDatabase, DemoService};
use crate::session::{StackFile, identity_of};
use crate::summary::{LoginMethod, RunReport, ValueReport};

/// Namespace of the values in the KV mount (`<kv>/data/harmony/<KEY>`; the harmony-dev policy).
pub const NAMESPACE: &str = "harmony";
/// Policy granted to signed-in people.
pub const POLICY: &str = "harmony-dev";

/// How the loop runs (from the flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopSettings {
    /// `local k3d stack` / `existing stack`, for the summary.
    pub mode_name: String,
    /// Sign in through the identity provider (false: userpass, `--skip-zitadel`).
    pub sso: bool,
    /// `--yes`: config values take their defaults, nothing is asked.
    pub yes: bool,
    /// `Some(false)`: never open a browser.
    pub open_browser: Option<bool>,
    /// Where `.localhost` hosts go (the k3d ingress), `None` for real DNS.
    pub resolve_to: Option<SocketAddr>,
    pub kv_mount: String,
    pub jwt_role: String,
    pub project: String,
    pub client_name: String,
    /// `HARMONY_SESSION_DIR`, else the store's default.
    pub session_dir: Option<PathBuf>,
    /// The local SQLite copy (`None`: `SqliteSource::default`).
    pub sqlite_path: Option<PathBuf>,
    /// Where the servers of this run are remembered for `login`/`logout`/`whoami`.
    pub stack_file: Option<PathBuf>,
    /// TLS files and namespace of the servers (`--openbao-ca-cert`, ...), given to the store.
    pub tls: ServerTls,
}

/// The TLS files and the namespace of an existing stack (from `--openbao-ca-cert`,
/// `--openbao-client-cert`/`--openbao-client-key`, `--openbao-namespace`, `--sso-ca-cert`), in
/// the form kept in [`Connection`] (paths only, no secret). Empty: the OS trust store, the root
/// namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ServerTls {
    /// PEM file of OpenBao's CA.
    pub openbao_ca_cert: Option<PathBuf>,
    /// PEM files of OpenBao's client certificate and its key (mutual TLS).
    pub openbao_client_cert: Option<(PathBuf, PathBuf)>,
    /// The OpenBao namespace.
    pub openbao_namespace: Option<String>,
    /// PEM file of the OpenID provider's CA.
    pub sso_ca_cert: Option<PathBuf>,
}

impl ServerTls {
    /// The settings `config` carries (only the CA file, client certificate and namespace are
    /// kept: the flags set nothing else).
    pub fn of(config: &ExistingStackConfig) -> Self {
        Self {
            openbao_ca_cert: config.tls.ca_cert.clone(),
            openbao_client_cert: config
                .tls
                .client_cert
                .as_ref()
                .map(|c| (c.cert.clone(), c.key.clone())),
            openbao_namespace: config.namespace.clone(),
            sso_ca_cert: config.sso_tls.ca_cert.clone(),
        }
    }

    /// OpenBao's TLS options.
    pub fn openbao(&self) -> TlsOptions {
        TlsOptions {
            ca_cert: self.openbao_ca_cert.clone(),
            client_cert: self
                .openbao_client_cert
                .as_ref()
                .map(|(cert, key)| ClientCert {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
            ..TlsOptions::default()
        }
    }

    /// The OpenID provider's TLS options.
    pub fn sso(&self) -> TlsOptions {
        TlsOptions {
            ca_cert: self.sso_ca_cert.clone(),
            ..TlsOptions::default()
        }
    }
}

/// The loop. Its report lands in [`SsoConfigLoopScore::report`] for the summary.
#[derive(Clone)]
pub struct SsoConfigLoopScore {
    pub settings: LoopSettings,
    /// Shows the device code (default: printed on stderr, browser opened unless disabled).
    pub device_prompt: Option<DeviceCodePrompt>,
    pub report: Arc<Mutex<Option<RunReport>>>,
}

impl SsoConfigLoopScore {
    pub fn new(settings: LoopSettings) -> Self {
        Self {
            settings,
            device_prompt: None,
            report: Arc::default(),
        }
    }

    pub fn take_report(&self) -> Option<RunReport> {
        self.report.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl<T: Topology + SecretVault + IdentityProvider + 'static> Score<T> for SsoConfigLoopScore {
    fn name(&self) -> String {
        format!("SsoConfigLoopScore({})", self.settings.mode_name)
    }

    fn create_interpret(&self) -> Box<dyn Interpret<T>> {
        Box::new(self.clone())
    }
}

fn step(what: &str) {
    harmony::progress::suspend(|| eprintln!("==> {what}"));
}

fn failed<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> InterpretError + '_ {
    move |e| InterpretError::Other(format!("{what}: {e}"))
}

/// What the store needs from the two capabilities.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Connection {
    pub openbao_url: String,
    pub kv_mount: String,
    /// `None` with userpass.
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub jwt_role: String,
    pub jwt_mount: String,
    pub resolve_to: Option<SocketAddr>,
    /// TLS files and namespace (absent in files written before they existed: the defaults).
    #[serde(default)]
    pub tls: ServerTls,
}

impl Connection {
    pub fn new(
        vault: &SecretVaultAccess,
        idp: Option<&DeviceClient>,
        resolve_to: Option<SocketAddr>,
        tls: ServerTls,
    ) -> Self {
        Self {
            openbao_url: vault.address.clone(),
            kv_mount: vault.kv_mount.clone(),
            issuer: idp.map(|c| c.issuer.clone()),
            client_id: idp.map(|c| c.client_id.clone()),
            jwt_role: vault
                .jwt_role
                .clone()
                .unwrap_or_else(|| "harmony-developer".into()),
            jwt_mount: vault.jwt_mount.clone().unwrap_or_else(|| "jwt".into()),
            resolve_to,
            tls,
        }
    }
}

/// The OpenBao store for `conn` (`.zitadel_sso` + `.jwt_auth`, or userpass), recording in
/// `device_flow` whether the person was shown a device code.
pub async fn build_store(
    conn: &Connection,
    settings: &LoopSettings,
    device_flow: Arc<AtomicBool>,
    prompt: Option<DeviceCodePrompt>,
) -> Result<OpenbaoSecretStore, String> {
    let mut builder = OpenbaoSecretStore::builder()
        .url(conn.openbao_url.clone())
        .kv_mount(conn.kv_mount.clone())
        .resolve_to(conn.resolve_to)
        .tls(conn.tls.openbao())
        .sso_tls(conn.tls.sso())
        .open_browser(settings.open_browser)
        .device_code_prompt(Arc::new(move |info: &DeviceCodeInfo| {
            device_flow.store(true, Ordering::SeqCst);
            match &prompt {
                Some(p) => p(info),
                None => harmony::progress::suspend(|| print_device_code(info)),
            }
        }));
    if let Some(ns) = &conn.tls.openbao_namespace {
        builder = builder.namespace(ns.clone());
    }
    if let Some(dir) = &settings.session_dir {
        builder = builder.session_cache_dir(dir.clone());
    }
    match (&conn.issuer, &conn.client_id) {
        (Some(issuer), Some(client_id)) => {
            builder = builder
                .zitadel_sso(issuer.clone(), client_id.clone())
                .jwt_auth(conn.jwt_role.clone(), conn.jwt_mount.clone());
        }
        _ => {
            let user = userpass_user().await?;
            builder = builder.userpass(user.username, user.password);
        }
    }
    builder.build().await.map_err(|e| e.to_string())
}

/// The OpenBao userpass user kept by harmony_config (asked once, then remembered).
async fn userpass_user() -> Result<OpenbaoUserpassConfig, String> {
    let _hidden = harmony::progress::hide_spinners();
    harmony_config::get_or_prompt::<OpenbaoUserpassConfig>()
        .await
        .map_err(|e| format!("the OpenBao userpass user (harmony_config): {e}"))
}

/// Reads `T`; when no source has it, takes `default` (`--yes`) or asks, stores it in OpenBao,
/// then reads it back and reports where it came from.
async fn round_trip<T: Config>(
    manager: &ConfigManager,
    team_store: &dyn ConfigSource,
    yes: bool,
    default: impl FnOnce() -> T,
) -> Result<ValueReport, ConfigError> {
    let stored_from = match manager.get_with_source::<T>().await {
        Ok(found) if found.source == team_store.provenance(T::KEY) => None,
        // An environment override wins for this run and is not copied to the team store.
        Ok(found) if matches!(found.source, Provenance::Env { .. }) => None,
        // Only the local SQLite copy has it (OpenBao was down when it was saved): share it.
        Ok(found) => {
            manager.set(&found.value).await?;
            Some(found.source.to_string())
        }
        Err(ConfigError::NotFound { .. }) if yes => {
            let value = default();
            manager.set(&value).await?;
            Some("the --yes default".to_string())
        }
        Err(ConfigError::NotFound { .. }) => {
            let _hidden = harmony::progress::hide_spinners();
            manager.get_or_prompt_with_source::<T>().await?;
            Some("your answers".to_string())
        }
        Err(e) => return Err(e),
    };
    let back = manager.get_with_source::<T>().await?;
    let json = serde_json::to_value(&back.value).map_err(|e| ConfigError::Serialization {
        key: T::KEY.to_string(),
        reason: e.to_string(),
    })?;
    Ok(ValueReport::new(
        T::KEY,
        &json,
        T::SECRET_FIELDS,
        back.source.to_string(),
        stored_from,
    ))
}

#[async_trait]
impl<T: Topology + SecretVault + IdentityProvider + 'static> Interpret<T> for SsoConfigLoopScore {
    async fn execute(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        let s = &self.settings;
        let mut report = RunReport {
            mode: s.mode_name.clone(),
            ..Default::default()
        };

        let idp = if s.sso {
            step("identity provider: public device-code client");
            let client = topology
                .ensure_device_client(&DeviceClientRequest {
                    project: s.project.clone(),
                    client_name: s.client_name.clone(),
                })
                .await
                .map_err(failed("identity provider"))?;
            report.steps.extend(client.steps.clone());
            report.issuer = Some(client.issuer.clone());
            report.client_id = Some(client.client_id.clone());
            Some(client)
        } else {
            None
        };

        step("secret vault: KV store, policy, JWT role trusting the issuer");
        // Without single sign-on the vault gets a userpass user: its credentials are the one
        // kept by harmony_config (prompted once, then remembered), read here, not by the Score.
        let userpass = if s.sso {
            None
        } else {
            let user = userpass_user().await.map_err(failed("secret vault"))?;
            Some(VaultUserpass {
                username: user.username,
                password: user.password.into(),
            })
        };
        let vault = topology
            .ensure_secret_vault(&SecretVaultRequest {
                kv_mount: s.kv_mount.clone(),
                policy: POLICY.to_string(),
                jwt: idp.as_ref().map(|c| JwtTrust {
                    issuer: c.issuer.clone(),
                    audience: c.audience.clone(),
                    role: s.jwt_role.clone(),
                }),
                userpass,
            })
            .await
            .map_err(failed("secret vault"))?;
        report.steps.extend(vault.steps.clone());
        report.openbao_url = vault.address.clone();
        report.kv_mount = vault.kv_mount.clone();
        report.policy = vault.policy.clone();
        report.jwt = match (&vault.jwt_role, &vault.jwt_mount) {
            (Some(role), Some(mount)) => Some(format!("{role} at auth/{mount}")),
            _ => None,
        };

        let conn = Connection::new(&vault, idp.as_ref(), s.resolve_to, s.tls.clone());
        if let Some(path) = &s.stack_file
            && let Err(e) = StackFile::save(path, &conn)
        {
            log::warn!("cannot remember the stack in {}: {e}", path.display());
        }

        step("sign in (cached session, else device flow)");
        let device_flow = Arc::new(AtomicBool::new(false));
        let store = build_store(&conn, s, device_flow.clone(), self.device_prompt.clone())
            .await
            .map_err(failed("OpenBao store"))?;
        {
            let _hidden = harmony::progress::hide_spinners();
            store
                .login()
                .await
                .map_err(|e| failed("sign in")(e.to_string()))?;
        }
        report.login = Some(if !s.sso {
            LoginMethod::Userpass
        } else if device_flow.load(Ordering::SeqCst) {
            LoginMethod::DeviceFlow
        } else {
            LoginMethod::CachedSession
        });
        report.identity = identity_of(&store).await;

        step("config: Env -> OpenBao -> SQLite; store and read back two values");
        let sqlite = match &s.sqlite_path {
            Some(path) => SqliteSource::open(path).await,
            None => SqliteSource::default().await,
        }
        .map_err(|e| failed("SQLite")(e.to_string()))?;
        let team_store: Arc<dyn ConfigSource> =
            Arc::new(StoreSource::new(NAMESPACE, store.clone()));
        let mut sources: Vec<Arc<dyn ConfigSource>> =
            vec![Arc::new(EnvSource), team_store.clone(), Arc::new(sqlite)];
        if !s.yes {
            sources.push(Arc::new(PromptSource::new()));
        }
        let manager = ConfigManager::new(sources);
        for value in [
            round_trip(&manager, team_store.as_ref(), s.yes, DemoService::default).await,
            round_trip(
                &manager,
                team_store.as_ref(),
                s.yes,
                DemoDatabase::generated,
            )
            .await,
        ] {
            report
                .values
                .push(value.map_err(|e| failed("config round trip")(e.to_string()))?);
        }

        let changed =
            report.changed_steps() > 0 || report.values.iter().any(|v| v.stored_from.is_some());
        let message = format!(
            "{} infrastructure step(s) ({} changed), login via {}, {} value(s) read back",
            report.steps.len(),
            report.changed_steps(),
            report.login.map(|l| l.to_string()).unwrap_or_default(),
            report.values.len()
        );
        *self.report.lock().unwrap_or_else(|e| e.into_inner()) = Some(report);
        Ok(if changed {
            Outcome::success(message)
        } else {
            Outcome::noop(message)
        })
    }
}
