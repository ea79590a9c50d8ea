//! Test fixtures that run REAL servers on 127.0.0.1 for integration tests and benches.
//!
//! - [`OpenBao`]: a non-dev `bao server` (OpenBao 2.7.2, raft storage in a temp dir,
//!   `performance_multiplier = 1`, free ports). [`OpenBao::start`] gives a fresh, uninitialized
//!   server (what an "OpenBao setup" component must cope with); [`OpenBao::start_ready`] also
//!   initializes it (1 key share), unseals it, waits for health 200 and mounts KV v2 at `secret/`.
//! - [`Idp`]: panva `oidc-provider` (`test-support/idp/server.js`) with the device flow, a public
//!   client `testbed-cli`, accounts `alice`/`alice-password` and `bob`/`bob-password`. Every request
//!   it serves is logged; [`Idp::requests`] returns them so a test can assert "no IdP request".
//! - [`Human`]: plays the person at the browser (`test-support/idp/complete-device-flow.mjs`).
//!
//! Servers are stopped by PID when the fixture is dropped (never by name). If the `bao` binary or
//! the IdP's `node_modules` are missing, the first fixture runs `test-support/install-test-deps.sh`
//! once (under a file lock); if that fails it panics telling you to run the script by hand.
//!
//! ```no_run
//! # async fn demo() {
//! use harmony_test_support::{Idp, IdpOptions, OpenBao};
//! let idp = Idp::start(IdpOptions::default()).await;          // idp.issuer(), idp.client_id()
//! let bao = OpenBao::start().await;                           // uninitialized: health 501
//! let init = bao.init_unseal().await;                         // root token + unseal key
//! bao.enable_kv_v2(&init.root_token, "secret").await;
//! let (status, body) = bao.api(Some(&init.root_token), "GET", "sys/mounts", None).await;
//! # }
//! ```

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod pki;
pub use pki::PrivatePki;
pub mod recording_server;
pub use recording_server::{RecordedRequest, RecordingServer, Reply};

/// The repository root (the folder holding `test-support/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lives inside the repository")
        .to_path_buf()
}

/// Paths of the installed test dependencies.
#[derive(Debug, Clone)]
pub struct TestDeps {
    /// The real `bao` binary.
    pub bao: PathBuf,
    /// `test-support/idp` (holds `server.js`, `complete-device-flow.mjs` and `node_modules`).
    pub idp_dir: PathBuf,
}

fn deps_present(deps: &TestDeps) -> bool {
    deps.bao.exists()
        && deps
            .idp_dir
            .join("node_modules/oidc-provider/package.json")
            .exists()
}

/// Makes sure the `bao` binary and the IdP's node packages are installed, installing them once
/// (guarded by a file lock, so parallel test binaries do not race) when missing.
///
/// Panics with instructions when the installation fails: tests are never silently skipped.
pub fn ensure_test_deps() -> TestDeps {
    static DEPS: OnceLock<TestDeps> = OnceLock::new();
    DEPS.get_or_init(|| {
        let root = repo_root();
        let deps = TestDeps {
            bao: root.join(".test-deps/bin/bao"),
            idp_dir: root.join("test-support/idp"),
        };
        if deps_present(&deps) {
            return deps;
        }
        std::fs::create_dir_all(root.join(".test-deps")).expect("create .test-deps");
        let lock = File::create(root.join(".test-deps/install.lock")).expect("create lock file");
        lock.lock().expect("lock .test-deps/install.lock");
        if !deps_present(&deps) {
            let script = root.join("test-support/install-test-deps.sh");
            eprintln!("harmony_test_support: installing test dependencies with {}", script.display());
            let ok = Command::new(&script)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok || !deps_present(&deps) {
                panic!(
                    "the real-server tests need OpenBao and an OpenID provider, and installing them failed. \
                     Run `test-support/install-test-deps.sh` (needs python3 with venv, node >= 20, npm, and \
                     access to PyPI and npm) and look at its output"
                );
            }
        }
        let _ = lock.unlock();
        deps
    })
    .clone()
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

/// Sends SIGTERM to `pid`, waits up to `grace`, then SIGKILLs. By PID only.
fn stop_child(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for `child` to exit, at most `timeout`; true when it exited.
fn wait_at_most(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

// ------------------------------------------------------------------------------------- OpenBao --

/// What `sys/init` returned.
#[derive(Debug, Clone)]
pub struct BaoInit {
    pub root_token: String,
    pub unseal_key: String,
}

/// What [`OpenBao::enable_jwt`] sets up.
#[derive(Debug, Clone, Copy)]
pub struct JwtSetup<'a> {
    /// Auth mount, usually `jwt`.
    pub mount: &'a str,
    /// The IdP issuer, exactly ([`Idp::issuer`]).
    pub issuer: &'a str,
    /// Audience bound to the role ([`Idp::client_id`]).
    pub client_id: &'a str,
    pub role: &'a str,
    pub policies: &'a [&'a str],
    /// e.g. `15m`.
    pub token_ttl: &'a str,
}

/// Extra settings of an [`OpenBao`] server ([`OpenBao::start_with`]): raft cluster membership,
/// a transit seal, a file audit device. The default is the plain single server of
/// [`OpenBao::start`].
#[derive(Debug, Clone, Default)]
pub struct BaoOptions {
    /// Raft `node_id` (default `harmony-test`).
    pub node_id: Option<String>,
    /// API addresses of the servers to join: one `retry_join { leader_api_addr = .. }` each.
    pub retry_join: Vec<String>,
    /// A `seal "transit"` stanza; its token is passed as `BAO_TOKEN`, not written in the config.
    pub transit_seal: Option<TransitSeal>,
    /// A file audit device writing `audit.log` in the server's folder, declared in the config
    /// (same relative path on every node, as a raft cluster requires). See
    /// [`OpenBao::audited_writes`].
    pub audit: bool,
}

/// Where a transit-sealed server gets its key. `Debug` hides the token.
#[derive(Clone)]
pub struct TransitSeal {
    /// The unsealer's API address, e.g. `http://127.0.0.1:8200`.
    pub address: String,
    /// e.g. `transit/`.
    pub mount_path: String,
    pub key_name: String,
    pub token: String,
}

impl std::fmt::Debug for TransitSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransitSeal")
            .field("address", &self.address)
            .field("mount_path", &self.mount_path)
            .field("key_name", &self.key_name)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// A real, non-dev OpenBao server process with raft storage in a temp dir.
pub struct OpenBao {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    cluster_port: u16,
    child: Option<Child>,
    addr: String,
    options: BaoOptions,
    /// Set by [`OpenBao::start_tls`].
    tls: Option<BaoTls>,
}

/// PEM files for a TLS listener (see [`OpenBao::start_tls`]).
#[derive(Debug, Clone, Default)]
pub struct BaoTls {
    /// The server certificate (chain); must be valid for `127.0.0.1`.
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    /// The CA that signed it: the fixture's own client trusts it.
    pub ca_pem: PathBuf,
    /// Set: the listener requires a client certificate signed by this CA
    /// (`tls_require_and_verify_client_cert`); the fixture presents `fixture_client`.
    pub client_ca_pem: Option<PathBuf>,
    /// The fixture's own client certificate and key (PEM files), with `client_ca_pem`.
    pub fixture_client: Option<(PathBuf, PathBuf)>,
}

impl std::fmt::Debug for OpenBao {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenBao")
            .field("addr", &self.addr)
            .field("pid", &self.pid())
            .finish()
    }
}

impl OpenBao {
    /// Starts a fresh, UNINITIALIZED server (health answers 501) on free ports.
    ///
    /// A free port is only free when it is picked: another process may take it before `bao`
    /// binds it. When `bao` exits at startup with "address already in use", it is started again
    /// on new ports (at most [`OpenBao::START_ATTEMPTS`] times in all).
    pub async fn start() -> OpenBao {
        Self::start_trying_port_first(None).await
    }

    /// How many times [`OpenBao::start`] tries ports before giving up.
    pub const START_ATTEMPTS: usize = 3;

    /// [`OpenBao::start`], with `port` as the API port of the first attempt (to test the retry).
    #[doc(hidden)]
    pub async fn start_trying_port_first(port: Option<u16>) -> OpenBao {
        Self::start_on(port, BaoOptions::default(), None).await
    }

    /// Like [`OpenBao::start`], with a TLS listener: [`OpenBao::addr`] is
    /// `https://127.0.0.1:PORT` and the fixture's own calls trust `tls.ca_pem`.
    pub async fn start_tls(tls: BaoTls) -> OpenBao {
        Self::start_on(None, BaoOptions::default(), Some(tls)).await
    }

    /// [`OpenBao::start`] with `options` (node id, `retry_join`, transit seal, audit device).
    pub async fn start_with(options: BaoOptions) -> OpenBao {
        Self::start_on(None, options, None).await
    }

    /// `n` servers forming one raft cluster on loopback: node ids `node-0`.., distinct API and
    /// cluster ports, each with a `retry_join` to every node and the file audit device. All are
    /// uninitialised; initialise one and unseal all (keys are shared) to form the cluster. When
    /// a port is taken before bao binds it, the whole cluster starts again on new ports (every
    /// node's `retry_join` names them all).
    pub async fn start_raft_cluster(n: usize) -> Vec<OpenBao> {
        Self::start_raft_cluster_trying_port_first(n, None).await
    }

    /// [`OpenBao::start_raft_cluster`], with `port` as the first node's API port of the first
    /// attempt (to test the retry).
    #[doc(hidden)]
    pub async fn start_raft_cluster_trying_port_first(
        n: usize,
        mut port: Option<u16>,
    ) -> Vec<OpenBao> {
        for attempt in 1..=Self::START_ATTEMPTS {
            let mut ports: Vec<u16> = port.take().into_iter().collect();
            while ports.len() < 2 * n {
                let p = free_port();
                if !ports.contains(&p) {
                    ports.push(p);
                }
            }
            let addrs: Vec<String> = (0..n)
                .map(|i| format!("http://127.0.0.1:{}", ports[2 * i]))
                .collect();
            let mut nodes = Vec::new();
            for i in 0..n {
                let mut bao = Self::unstarted(
                    BaoOptions {
                        node_id: Some(format!("node-{i}")),
                        retry_join: addrs.clone(),
                        transit_seal: None,
                        audit: true,
                    },
                    None,
                );
                bao.port = ports[2 * i];
                bao.cluster_port = ports[2 * i + 1];
                bao.addr = addrs[i].clone();
                bao.write_config();
                match bao.try_spawn().await {
                    Ok(()) => nodes.push(bao),
                    Err(log) if log.contains("address already in use") => {
                        eprintln!(
                            "bao cluster: node-{i}'s port {} or {} was taken before bao bound it \
                             (attempt {attempt} of {}), starting the cluster on new ports",
                            bao.port,
                            bao.cluster_port,
                            Self::START_ATTEMPTS
                        );
                        break;
                    }
                    Err(log) => panic!("bao exited during startup; log:\n{log}"),
                }
            }
            if nodes.len() == n {
                return nodes;
            }
            // Dropping the started nodes stops them.
        }
        panic!(
            "a {n}-node bao cluster could not bind free ports in {} attempts",
            Self::START_ATTEMPTS
        )
    }

    /// [`OpenBao::start`] with a file audit device declared in `config.hcl`: bao logs every
    /// request it handles (after it is initialised and unsealed) to [`OpenBao::audit_log_path`],
    /// so a test can count what reached the server. (OpenBao refuses enabling audit devices
    /// through the API.)
    pub async fn start_with_file_audit() -> OpenBao {
        Self::start_with(BaoOptions {
            audit: true,
            ..BaoOptions::default()
        })
        .await
    }

    /// The audit log of a server started with [`BaoOptions::audit`] (JSON lines; strings are
    /// HMAC'd, operations and paths are not).
    pub fn audit_log_path(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    fn unstarted(options: BaoOptions, tls: Option<BaoTls>) -> OpenBao {
        let deps = ensure_test_deps();
        let dir = tempfile::Builder::new()
            .prefix("harmony-bao-")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        OpenBao {
            addr: String::new(),
            dir,
            bin: deps.bao,
            port: 0,
            cluster_port: 0,
            child: None,
            options,
            tls,
        }
    }

    async fn start_on(mut port: Option<u16>, options: BaoOptions, tls: Option<BaoTls>) -> OpenBao {
        let mut bao = Self::unstarted(options, tls);
        for attempt in 1..=Self::START_ATTEMPTS {
            bao.port = port.take().unwrap_or_else(free_port);
            bao.cluster_port = free_port();
            while bao.cluster_port == bao.port {
                bao.cluster_port = free_port();
            }
            let scheme = if bao.tls.is_some() { "https" } else { "http" };
            bao.addr = format!("{scheme}://127.0.0.1:{}", bao.port);
            bao.write_config();
            match bao.try_spawn().await {
                Ok(()) => return bao,
                Err(log) if log.contains("address already in use") => {
                    eprintln!(
                        "bao: port {} or {} was taken before bao bound it (attempt {attempt} of {}), \
                         trying new ports",
                        bao.port,
                        bao.cluster_port,
                        Self::START_ATTEMPTS
                    );
                    // A fresh log for the next attempt.
                    let _ = std::fs::remove_file(bao.dir.path().join("bao.log"));
                }
                Err(log) => panic!("bao exited during startup; log:\n{log}"),
            }
        }
        panic!(
            "bao could not bind free ports in {} attempts; log:\n{}",
            Self::START_ATTEMPTS,
            bao.log()
        )
    }

    /// Starts, initializes (1 share), unseals, waits for health 200 and enables KV v2 at `secret/`.
    /// Returns the server and the root token.
    pub async fn start_ready() -> (OpenBao, BaoInit) {
        let bao = OpenBao::start().await;
        let init = bao.init_unseal().await;
        bao.enable_kv_v2(&init.root_token, "secret").await;
        (bao, init)
    }

    fn write_config(&self) {
        let d = self.dir.path().display();
        let node_id = self.options.node_id.as_deref().unwrap_or("harmony-test");
        let mut extra_storage = String::new();
        for leader in &self.options.retry_join {
            extra_storage.push_str(&format!(
                "  retry_join {{\n    leader_api_addr = \"{leader}\"\n  }}\n"
            ));
        }
        let mut extra = String::new();
        if let Some(seal) = &self.options.transit_seal {
            extra.push_str(&format!(
                "seal \"transit\" {{\n  address = \"{}\"\n  mount_path = \"{}\"\n  key_name = \"{}\"\n}}\n",
                seal.address, seal.mount_path, seal.key_name
            ));
        }
        if self.options.audit {
            extra.push_str(
                "audit \"file\" \"harmony-test\" {\n  options {\n    file_path = \"audit.log\"\n  }\n}\n",
            );
        }
        let (tls, scheme) = match &self.tls {
            None => ("tls_disable     = true".to_string(), "http"),
            Some(t) => (
                format!(
                    "tls_cert_file   = \"{}\"\n  tls_key_file    = \"{}\"{}",
                    t.cert_pem.display(),
                    t.key_pem.display(),
                    t.client_ca_pem
                        .as_ref()
                        .map(|ca| format!(
                            "\n  tls_require_and_verify_client_cert = true\n  tls_client_ca_file = \"{}\"",
                            ca.display()
                        ))
                        .unwrap_or_default()
                ),
                "https",
            ),
        };
        let config = format!(
            r#"storage "raft" {{
  path    = "{d}/data"
  node_id = "{node_id}"
  performance_multiplier = 1
{extra_storage}}}
{extra}
cluster_addr = "https://127.0.0.1:{cp}"
listener "tcp" {{
  address         = "127.0.0.1:{p}"
  cluster_address = "127.0.0.1:{cp}"
  {tls}
}}
api_addr  = "{scheme}://127.0.0.1:{p}"
ui        = false
log_level = "warn"
disable_mlock = true
"#,
            p = self.port,
            cp = self.cluster_port
        );
        std::fs::write(self.dir.path().join("config.hcl"), config).expect("write config.hcl");
    }

    async fn spawn(&mut self) {
        if let Err(log) = self.try_spawn().await {
            panic!("bao exited during startup; log:\n{log}");
        }
    }

    /// What `bao server` prints once its listeners are bound (after the configuration banner).
    const STARTED: &'static str = "==> OpenBao server started!";

    /// Starts the process and waits until it answers; `Err(log)` when it exits first.
    ///
    /// "Answers" means this process logged that it bound its listener AND health answers: a
    /// health answer alone may come from another server (another test's bao or IdP) that took
    /// the port before this bao bound it; this bao then exits with "address already in use"
    /// while the caller already talks to the other server (seen as a one-time
    /// `PUT sys/init: error sending request` once that server stopped).
    async fn try_spawn(&mut self) -> Result<(), String> {
        // The log is appended to across restarts: only what this process writes counts.
        let log_start = self.log().len();
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("bao.log"))
            .expect("bao.log");
        let mut command = Command::new(&self.bin);
        if let Some(seal) = &self.options.transit_seal {
            command.env("BAO_TOKEN", &seal.token);
        }
        let child = command
            // The audit device's relative `audit.log` lands in the server's own folder.
            .current_dir(self.dir.path())
            .arg("server")
            .arg(format!(
                "-config={}",
                self.dir.path().join("config.hcl").display()
            ))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!("(exit: {status})\n{}", self.log()));
            }
            let bound = self
                .log()
                .get(log_start..)
                .is_some_and(|l| l.contains(Self::STARTED));
            if bound && self.health().await.is_some() {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "bao did not answer within 30 s; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The fixture's client: trusts the CA of a TLS listener.
    fn http(&self) -> reqwest::Client {
        let Some(tls) = &self.tls else {
            return http();
        };
        let pem = std::fs::read(&tls.ca_pem).expect("read the CA PEM");
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA PEM"));
        if let Some((cert, key)) = &tls.fixture_client {
            let mut pem = std::fs::read(cert).expect("read the fixture's client cert");
            pem.extend(std::fs::read(key).expect("read the fixture's client key"));
            builder = builder.identity(reqwest::Identity::from_pem(&pem).expect("client identity"));
        }
        builder.build().expect("reqwest client")
    }

    /// `http://127.0.0.1:PORT` (`https://` with [`OpenBao::start_tls`])
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("bao.log")).unwrap_or_default()
    }

    /// HTTP status of `GET /v1/sys/health` (501 uninitialized, 503 sealed, 429 standby, 200
    /// active), `None` when nothing answers.
    pub async fn health(&self) -> Option<u16> {
        self.http()
            .get(format!("{}/v1/sys/health", self.addr))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    }

    /// One API call: `path` is relative to `/v1/`. Returns the status and the JSON body (`Null`
    /// when empty).
    pub async fn api(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut req = self
            .http()
            .request(method, format!("{}/v1/{}", self.addr, path));
        if let Some(t) = token {
            req = req.header("X-Vault-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("OpenBao API {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Like [`OpenBao::api`] but panics unless the status is 2xx.
    pub async fn api_ok(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, value) = self.api(Some(token), method, path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: HTTP {status}: {value}"
        );
        value
    }

    /// `sys/init` with 1 share, then unseal and wait until active (health 200).
    pub async fn init_unseal(&self) -> BaoInit {
        let (status, v) = self
            .api(
                None,
                "PUT",
                "sys/init",
                Some(json!({"secret_shares": 1, "secret_threshold": 1})),
            )
            .await;
        assert_eq!(status, 200, "sys/init: {v}");
        let init = BaoInit {
            root_token: v["root_token"].as_str().expect("root_token").to_string(),
            unseal_key: v["keys_base64"][0]
                .as_str()
                .expect("keys_base64")
                .to_string(),
        };
        self.unseal(&init.unseal_key).await;
        init
    }

    /// Unseals with `key` and waits for health 200 (right after unseal it is briefly 429/503).
    pub async fn unseal(&self, key: &str) {
        let (status, v) = self
            .api(None, "PUT", "sys/unseal", Some(json!({"key": key})))
            .await;
        assert_eq!(status, 200, "sys/unseal: {v}");
        self.wait_active().await;
    }

    /// Waits (up to 30 s) until `sys/health` answers 200.
    pub async fn wait_active(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.health().await != Some(200) {
            assert!(
                Instant::now() < deadline,
                "OpenBao not active after 30 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Mounts a KV v2 engine at `path`.
    pub async fn enable_kv_v2(&self, token: &str, path: &str) {
        self.api_ok(
            token,
            "POST",
            &format!("sys/mounts/{path}"),
            Some(json!({"type": "kv", "options": {"version": "2"}})),
        )
        .await;
        // A fresh kv-v2 mount upgrades itself for a moment: wait until a read answers 404, not 4xx/5xx.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, _) = self
                .api(Some(token), "GET", &format!("{path}/data/__probe"), None)
                .await;
            if status == 404 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kv mount {path} not ready (HTTP {status})"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Writes an ACL policy.
    pub async fn write_policy(&self, token: &str, name: &str, hcl: &str) {
        self.api_ok(
            token,
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(json!({"policy": hcl})),
        )
        .await;
    }

    /// Enables userpass at `mount` and creates `user` with `password` and `policies`.
    pub async fn enable_userpass(
        &self,
        token: &str,
        mount: &str,
        user: &str,
        password: &str,
        policies: &[&str],
    ) {
        self.api_ok(
            token,
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({"type": "userpass"})),
        )
        .await;
        self.api_ok(
            token,
            "POST",
            &format!("auth/{mount}/users/{user}"),
            Some(json!({"password": password, "token_policies": policies.join(",")})),
        )
        .await;
    }

    /// Enables JWT auth at `setup.mount`, trusting `setup.issuer` (discovery + `bound_issuer`),
    /// and creates a `role_type=jwt` role bound to `setup.client_id` with `user_claim=email`.
    pub async fn enable_jwt(&self, token: &str, setup: &JwtSetup<'_>) {
        let mount = setup.mount;
        self.api_ok(
            token,
            "POST",
            &format!("sys/auth/{mount}"),
            Some(json!({"type": "jwt"})),
        )
        .await;
        self.api_ok(
            token,
            "POST",
            &format!("auth/{mount}/config"),
            Some(json!({"oidc_discovery_url": setup.issuer, "bound_issuer": setup.issuer})),
        )
        .await;
        self.api_ok(
            token,
            "POST",
            &format!("auth/{mount}/role/{}", setup.role),
            Some(json!({
                "role_type": "jwt",
                "bound_audiences": [setup.client_id],
                "user_claim": "email",
                "token_policies": setup.policies,
                "token_ttl": setup.token_ttl,
            })),
        )
        .await;
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and starts it again on the same data
    /// and ports. It comes back SEALED (health 503).
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// Stops the server by PID. The data stays until the fixture is dropped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::from_secs(10));
        }
    }

    /// Stops the server and starts it again on the same data and ports with other `options`
    /// (e.g. a transit seal added to a Shamir-sealed server's configuration).
    pub async fn restart_with(&mut self, options: BaoOptions) {
        self.stop();
        self.options = options;
        self.write_config();
        self.spawn().await;
    }

    /// Starts the stopped server again (same data and ports); `Err(log)` when it exits at
    /// startup (e.g. a transit seal whose unsealer does not answer).
    pub async fn try_start_again(&mut self) -> Result<(), String> {
        self.stop();
        self.try_spawn().await
    }

    /// Stops the server, deletes its raft data and starts it again: a node replaced with empty
    /// storage (same node id, address and `retry_join`).
    pub async fn replace_with_empty_storage(&mut self) {
        self.stop();
        let data = self.dir.path().join("data");
        std::fs::remove_dir_all(&data).expect("remove raft data");
        std::fs::create_dir_all(&data).expect("data dir");
        self.spawn().await;
    }

    /// The requests that could change something, as the server's file audit device saw them
    /// ([`BaoOptions::audit`]): authenticated requests whose operation is not `read` or `list`,
    /// as "operation path". `sys/init`, `sys/unseal` and raft's own join handshake are not
    /// audited by OpenBao (no token), so they are not in this list.
    pub fn audited_writes(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| entry["type"] == "request")
            .filter(|entry| {
                entry["auth"]["client_token"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty())
            })
            .filter_map(|entry| {
                let op = entry["request"]["operation"].as_str()?.to_string();
                let path = entry["request"]["path"].as_str()?.to_string();
                (op != "read" && op != "list").then(|| format!("{op} {path}"))
            })
            .collect()
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ------------------------------------------------------------------------------------------ IdP --

/// Knobs of the test OpenID provider (see the top of `test-support/idp/server.js`).
#[derive(Debug, Clone, Default)]
pub struct IdpOptions {
    /// `interval` in the device authorization response (seconds). `None`: omitted, so clients use
    /// RFC 8628's 5 s default.
    pub device_interval: Option<u64>,
    /// Answer `slow_down` to the first still-pending poll of each device code.
    pub slow_down_first: bool,
    /// Answer `slow_down` whenever a device code is polled faster than its interval.
    pub slow_down: bool,
    pub device_code_ttl: Option<u64>,
    pub id_token_ttl: Option<u64>,
    pub refresh_token_ttl: Option<u64>,
    /// Extra environment variables passed to `server.js`.
    pub extra_env: Vec<(String, String)>,
}

impl IdpOptions {
    /// Device interval 1 s: the fast setting for tests.
    pub fn fast() -> Self {
        IdpOptions {
            device_interval: Some(1),
            ..Default::default()
        }
    }
}

/// One request the IdP served (from its `IDP_LOG=1` lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpRequest {
    /// Unix time in milliseconds when the response finished.
    pub at_ms: u64,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// `grant_type` of a `/token` request.
    pub grant: Option<String>,
    /// OAuth error code in the response (`authorization_pending`, `slow_down`, …).
    pub error: Option<String>,
}

/// A real OpenID provider (panva oidc-provider) with the device flow, on a free port.
pub struct Idp {
    dir: tempfile::TempDir,
    child: Option<Child>,
    issuer: String,
    client_id: String,
}

impl std::fmt::Debug for Idp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idp").field("issuer", &self.issuer).finish()
    }
}

impl Idp {
    /// Starts `node test-support/idp/server.js` and waits until it is ready.
    pub async fn start(opts: IdpOptions) -> Idp {
        let deps = ensure_test_deps();
        let dir = tempfile::Builder::new()
            .prefix("harmony-idp-")
            .tempdir()
            .expect("tempdir");
        let ready = dir.path().join("ready.json");
        let log = File::create(dir.path().join("idp.log")).expect("idp.log");
        let mut cmd = Command::new("node");
        cmd.arg(deps.idp_dir.join("server.js"))
            .current_dir(&deps.idp_dir)
            .env("IDP_PORT", "0")
            .env("IDP_READY_FILE", &ready)
            .env("IDP_JWKS_FILE", dir.path().join("jwks.json"))
            .env("IDP_LOG", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        let mut set = |k: &str, v: Option<u64>| {
            if let Some(v) = v {
                cmd.env(k, v.to_string());
            }
        };
        set("IDP_DEVICE_INTERVAL", opts.device_interval);
        set("IDP_DEVICE_CODE_TTL", opts.device_code_ttl);
        set("IDP_ID_TOKEN_TTL", opts.id_token_ttl);
        set("IDP_REFRESH_TOKEN_TTL", opts.refresh_token_ttl);
        if opts.slow_down_first {
            cmd.env("IDP_SLOW_DOWN_FIRST", "1");
        }
        if opts.slow_down {
            cmd.env("IDP_SLOW_DOWN", "1");
        }
        for (k, v) in &opts.extra_env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node (is node >= 20 installed?): {e}"));
        let mut idp = Idp {
            dir,
            child: Some(child),
            issuer: String::new(),
            client_id: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(Ok(Some(status))) = idp.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "the IdP exited during startup ({status}); log:\n{}",
                    idp.log()
                );
            }
            if let Ok(text) = std::fs::read_to_string(&ready)
                && let Ok(v) = serde_json::from_str::<Value>(&text)
            {
                idp.issuer = v["issuer"].as_str().expect("issuer").to_string();
                idp.client_id = v["client_id"].as_str().expect("client_id").to_string();
                return idp;
            }
            assert!(
                Instant::now() < deadline,
                "the IdP was not ready within 20 s; log:\n{}",
                idp.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The issuer, `http://127.0.0.1:PORT` (use exactly this string in OpenBao's jwt config).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public device-flow client, `testbed-cli`.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Everything the IdP wrote so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("idp.log")).unwrap_or_default()
    }

    /// Every request served so far, in order.
    pub fn requests(&self) -> Vec<IdpRequest> {
        self.log()
            .lines()
            .filter_map(|line| {
                let mut it = line.strip_prefix("REQ ")?.split(' ');
                let at_ms = it.next()?.parse().ok()?;
                let method = it.next()?.to_string();
                let path = it.next()?.to_string();
                let status = it.next()?.parse().ok()?;
                let field = |s: Option<&str>, name: &str| {
                    s.and_then(|s| s.strip_prefix(name))
                        .filter(|v| *v != "-")
                        .map(str::to_string)
                };
                let grant = field(it.next(), "grant=");
                let error = field(it.next(), "error=");
                Some(IdpRequest {
                    at_ms,
                    method,
                    path,
                    status,
                    grant,
                    error,
                })
            })
            .collect()
    }

    /// `/token` requests with the given `grant_type` (e.g. `refresh_token`, or
    /// `urn:ietf:params:oauth:grant-type:device_code`).
    pub fn token_requests(&self, grant: &str) -> Vec<IdpRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == "/token" && r.grant.as_deref() == Some(grant))
            .collect()
    }

    /// Stops the IdP by PID.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::from_secs(5));
        }
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------- Human --

/// What the simulated person does on the verification pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HumanAction {
    /// Logs in and approves.
    Approve,
    /// Logs in and presses "Deny" on the consent page.
    Deny,
    /// Presses "Abort" on the confirm page.
    Abort,
}

/// The person who completes a device flow in the "browser": runs
/// `node test-support/idp/complete-device-flow.mjs --url URL` in the background.
#[derive(Clone)]
pub struct Human {
    runs: Arc<Mutex<Vec<Child>>>,
    dir: Arc<tempfile::TempDir>,
    user: String,
}

impl Default for Human {
    fn default() -> Self {
        Human::new("alice")
    }
}

impl std::fmt::Debug for Human {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Human").field("user", &self.user).finish()
    }
}

impl Human {
    /// A human who signs in as `user` (`alice` or `bob`) with the account's password.
    pub fn new(user: &str) -> Human {
        Human {
            runs: Arc::default(),
            dir: Arc::new(
                tempfile::Builder::new()
                    .prefix("harmony-human-")
                    .tempdir()
                    .expect("tempdir"),
            ),
            user: user.to_string(),
        }
    }

    /// Starts completing the flow at `url` (the `verification_uri_complete`) in the background,
    /// after `delay`. Returns at once; [`Human::outcomes`] tells how it ended.
    pub fn start(&self, url: &str, action: HumanAction, delay: Duration) {
        let deps = ensure_test_deps();
        let mut runs = self.runs.lock().unwrap();
        let out = File::create(self.dir.path().join(format!("run-{}.out", runs.len())))
            .expect("human out");
        let err = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("human.log"))
            .expect("human log");
        let mut cmd = Command::new("node");
        cmd.arg(deps.idp_dir.join("complete-device-flow.mjs"))
            .args(["--url", url, "--user", &self.user])
            .args(["--delay", &format!("{:.3}", delay.as_secs_f64())])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        match action {
            HumanAction::Approve => {}
            HumanAction::Deny => {
                cmd.arg("--deny");
            }
            HumanAction::Abort => {
                cmd.arg("--abort");
            }
        }
        runs.push(cmd.spawn().expect("start complete-device-flow.mjs"));
    }

    /// How many times the human was asked to act.
    pub fn times_called(&self) -> usize {
        self.runs.lock().unwrap().len()
    }

    /// How long [`Human::outcomes`] waits for each run.
    pub const OUTCOME_TIMEOUT: Duration = Duration::from_secs(60);

    /// Waits for every run (at most [`Human::OUTCOME_TIMEOUT`] each) and returns each last
    /// stdout line (`approved`, `denied`, `aborted`, `failed`). A run still going after that is
    /// killed and reported as `timed out after …` with the human's log.
    pub fn outcomes(&self) -> Vec<String> {
        self.outcomes_within(Self::OUTCOME_TIMEOUT)
    }

    /// [`Human::outcomes`] with another bound per run.
    pub fn outcomes_within(&self, timeout: Duration) -> Vec<String> {
        let mut runs = self.runs.lock().unwrap();
        let mut out = Vec::new();
        for (i, child) in runs.iter_mut().enumerate() {
            if !wait_at_most(child, timeout) {
                let _ = child.kill();
                let _ = child.wait();
                out.push(format!(
                    "timed out after {timeout:?} (killed); log:\n{}",
                    self.log()
                ));
                continue;
            }
            let text = std::fs::read_to_string(self.dir.path().join(format!("run-{i}.out")))
                .unwrap_or_default();
            out.push(text.lines().last().unwrap_or("").trim().to_string());
        }
        out
    }

    /// The human's progress log (stderr of every run).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("human.log")).unwrap_or_default()
    }
}

impl Drop for Human {
    fn drop(&mut self) {
        if Arc::strong_count(&self.runs) == 1
            && let Ok(mut runs) = self.runs.lock()
        {
            for child in runs.iter_mut() {
                if let Ok(None) = child.try_wait() {
                    let _ = child.kill();
                }
                let _ = child.wait();
            }
        }
    }
}
