//! Shared setup for the real-server tests: OpenBao (+ IdP) configured like a Harmony deployment.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use harmony_secret::{DeviceCodeInfo, OpenbaoSecretStore, OpenbaoSecretStoreBuilder};
use harmony_test_support::{BaoInit, Human, HumanAction, Idp, IdpOptions, JwtSetup, OpenBao};

pub const APP_POLICY: &str = r#"
path "secret/data/app/*" { capabilities = ["create", "read", "update", "delete"] }
path "secret/metadata/app/*" { capabilities = ["read", "delete", "list"] }
"#;

pub const ROLE: &str = "harmony-developer";

/// OpenBao initialized, unsealed, KV v2 at `secret/`, policy `app-rw` on `secret/*/app/*`.
pub async fn bao() -> (OpenBao, BaoInit) {
    let (bao, init) = OpenBao::start_ready().await;
    bao.write_policy(&init.root_token, "app-rw", APP_POLICY)
        .await;
    (bao, init)
}

/// A store that authenticates with `token` only.
pub async fn token_store(addr: &str, token: &str) -> OpenbaoSecretStore {
    OpenbaoSecretStore::builder()
        .url(addr)
        .token(token)
        .build()
        .await
        .unwrap()
}

/// Creates a token through `auth/token/create` with `body` (policies, flags) and returns it.
pub async fn create_token(bao: &OpenBao, root_token: &str, body: serde_json::Value) -> String {
    let created = bao
        .api_ok(root_token, "POST", "auth/token/create", Some(body))
        .await;
    created["auth"]["client_token"]
        .as_str()
        .expect("auth/token/create returned a client_token")
        .to_string()
}

/// An IdP and an OpenBao whose jwt auth (mount `jwt`, role `harmony-developer`) trusts it.
pub struct Sso {
    pub idp: Idp,
    pub bao: OpenBao,
    pub init: BaoInit,
    pub human: Human,
    pub cache_dir: tempfile::TempDir,
}

impl Sso {
    pub async fn start(opts: IdpOptions, token_ttl: &str) -> Sso {
        let idp = Idp::start(opts).await;
        let (bao, init) = bao().await;
        let setup = JwtSetup {
            mount: "jwt",
            issuer: idp.issuer(),
            client_id: idp.client_id(),
            role: ROLE,
            policies: &["app-rw"],
            token_ttl,
        };
        bao.enable_jwt(&init.root_token, &setup).await;
        Sso {
            idp,
            bao,
            init,
            human: Human::new("alice"),
            cache_dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A builder for SSO whose device-code prompt hands the URL to the simulated human.
    pub fn builder(&self, action: HumanAction, delay: Duration) -> OpenbaoSecretStoreBuilder {
        let human = self.human.clone();
        OpenbaoSecretStore::builder()
            .url(self.bao.addr())
            .zitadel_sso(self.idp.issuer(), self.idp.client_id())
            .jwt_auth(ROLE, "jwt")
            .session_cache_dir(self.cache_dir.path())
            .open_browser(Some(false))
            .device_code_prompt(Arc::new(move |info: &DeviceCodeInfo| {
                human.start(info.url(), action, delay)
            }))
    }

    pub async fn store(&self) -> OpenbaoSecretStore {
        self.builder(HumanAction::Approve, Duration::ZERO)
            .build()
            .await
            .unwrap()
    }

    /// The single cached session file.
    pub fn cache_file(&self) -> std::path::PathBuf {
        let files: Vec<_> = std::fs::read_dir(self.cache_dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        assert_eq!(files.len(), 1, "expected one session file: {files:?}");
        files[0].clone()
    }

    pub fn cache_json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.cache_file()).unwrap()).unwrap()
    }

    /// Changes the cached session file in place (it keeps its 0600 mode), e.g. to expire it.
    pub fn edit_cache(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut cached = self.cache_json();
        edit(&mut cached);
        std::fs::write(self.cache_file(), serde_json::to_vec(&cached).unwrap()).unwrap();
    }

    pub fn device_grants(&self) -> usize {
        self.idp
            .requests()
            .iter()
            .filter(|r| r.path == "/device/auth")
            .count()
    }

    pub fn refresh_grants(&self) -> usize {
        self.idp.token_requests("refresh_token").len()
    }
}
