//! ConfigManager with `StoreSource<OpenbaoSecretStore>` against REAL servers: OpenBao 2.7.2 and an
//! OIDC provider with the device flow (harmony_test_support starts both).
//!
//! Chain used here (as in examples/openbao_chain.rs): Env → StoreSource(OpenBao) → SQLite. The
//! team store comes before the local SQLite copy so shared values win and `set` writes to the
//! team; when OpenBao is down or sealed, StoreSource steps aside and SQLite answers.

use std::sync::Arc;
use std::time::Duration;

use harmony_config::{
    Config, ConfigManager, ConfigSource, EnvSource, Provenance, SqliteSource, StoreSource,
};
use harmony_secret::{DeviceCodeInfo, OpenbaoSecretStore};
use harmony_test_support::{Human, HumanAction, Idp, IdpOptions, JwtSetup, OpenBao};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
struct TeamDb {
    host: String,
    port: u16,
}

impl Config for TeamDb {
    const KEY: &'static str = "OpenbaoChainTeamDb";
}

const POLICY: &str = r#"path "secret/data/harmony/*" { capabilities = ["create", "read", "update", "delete"] }
path "secret/metadata/harmony/*" { capabilities = ["read", "delete", "list"] }"#;

async fn chain(store: OpenbaoSecretStore, sqlite: Arc<SqliteSource>) -> ConfigManager {
    let sources: Vec<Arc<dyn ConfigSource>> = vec![
        Arc::new(EnvSource),
        Arc::new(StoreSource::new("harmony", store)),
        sqlite,
    ];
    ConfigManager::new(sources)
}

#[tokio::test]
async fn device_flow_sso_then_config_round_trip_through_openbao() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let (bao, init) = OpenBao::start_ready().await;
    bao.write_policy(&init.root_token, "harmony-dev", POLICY)
        .await;
    let setup = JwtSetup {
        mount: "jwt",
        issuer: idp.issuer(),
        client_id: idp.client_id(),
        role: "harmony-developer",
        policies: &["harmony-dev"],
        token_ttl: "15m",
    };
    bao.enable_jwt(&init.root_token, &setup).await;

    let human = Human::new("alice");
    let h = human.clone();
    let cache = tempfile::tempdir().unwrap();
    let store = OpenbaoSecretStore::builder()
        .url(bao.addr())
        .kv_mount("secret")
        .zitadel_sso(idp.issuer(), idp.client_id())
        .jwt_auth("harmony-developer", "jwt")
        .session_cache_dir(cache.path())
        .open_browser(Some(false))
        .device_code_prompt(Arc::new(move |i: &DeviceCodeInfo| {
            h.start(i.url(), HumanAction::Approve, Duration::ZERO)
        }))
        .build()
        .await
        .unwrap();
    let db = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(
        SqliteSource::open(db.path().join("config.db"))
            .await
            .unwrap(),
    );
    let manager = chain(store, sqlite).await;

    let value = TeamDb {
        host: "db.team".into(),
        port: 5432,
    };
    let location = manager.set(&value).await.unwrap();
    assert!(location.to_string().contains("OpenBao"), "{location}");
    let got = manager.get_with_source::<TeamDb>().await.unwrap();
    assert_eq!(got.value, value);
    assert_eq!(got.source, location);
    match &got.source {
        Provenance::Store {
            store,
            namespace,
            key,
        } => {
            assert!(
                store.contains("OpenBao") && store.contains(bao.addr()),
                "{store}"
            );
            assert_eq!((namespace.as_str(), key.as_str()), ("harmony", TeamDb::KEY));
        }
        other => panic!("expected the OpenBao store, got {other:?}"),
    }
    assert_eq!(human.outcomes(), vec!["approved"]);

    // Really in OpenBao, at secret/data/harmony/<KEY>.
    let raw = bao
        .api_ok(
            &init.root_token,
            "GET",
            "secret/data/harmony/OpenbaoChainTeamDb",
            None,
        )
        .await;
    assert_eq!(
        raw["data"]["data"],
        json!({"host": "db.team", "port": 5432})
    );
}

#[tokio::test]
async fn openbao_down_or_sealed_sqlite_answers() {
    let (mut bao, init) = OpenBao::start_ready().await;
    let store = OpenbaoSecretStore::builder()
        .url(bao.addr())
        .token(&init.root_token)
        .build()
        .await
        .unwrap();
    let db = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(
        SqliteSource::open(db.path().join("config.db"))
            .await
            .unwrap(),
    );
    sqlite
        .set(TeamDb::KEY, &json!({"host": "local.copy", "port": 1}))
        .await
        .unwrap();
    let in_sqlite = Provenance::Sqlite {
        path: sqlite.path().to_path_buf(),
    };
    let manager = chain(store.clone(), sqlite).await;

    // Up: the team value wins over the local copy.
    store
        .clone()
        .set_json_for_test(TeamDb::KEY, json!({"host": "team", "port": 2}))
        .await;
    assert_eq!(manager.get::<TeamDb>().await.unwrap().host, "team");

    // Sealed: SQLite answers.
    bao.restart().await;
    let got = manager.get_with_source::<TeamDb>().await.unwrap();
    assert_eq!(got.value.host, "local.copy");
    assert_eq!(got.source, in_sqlite, "{}", got.source);

    // Down: SQLite answers; the store failed with "connection refused", not a timeout.
    bao.stop();
    let got = manager.get_with_source::<TeamDb>().await.unwrap();
    assert_eq!(got.value.host, "local.copy");
    assert_eq!(got.source, in_sqlite, "{}", got.source);
    use harmony_secret::{SecretStore, SecretStoreError};
    match store.get_json("harmony", TeamDb::KEY).await.unwrap_err() {
        SecretStoreError::Unreachable { reason, .. } => {
            assert!(reason.starts_with("cannot connect"), "{reason}")
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

/// Small helper so the test reads like the chain: write straight into the team store.
trait SetForTest {
    async fn set_json_for_test(self, key: &str, value: serde_json::Value);
}

impl SetForTest for OpenbaoSecretStore {
    async fn set_json_for_test(self, key: &str, value: serde_json::Value) {
        use harmony_secret::SecretStore;
        self.set_json("harmony", key, &value).await.unwrap();
    }
}
