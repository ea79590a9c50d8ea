//! `SecretManager::from_env` and `OpenbaoSecretStore::from_env` with the real process
//! environment, against a REAL OpenBao. One test in this binary: it changes the environment.

mod common;

use harmony_secret::{OpenbaoSecretStore, SecretManager, SecretStore, SecretStoreError};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Creds {
    user: String,
    password: String,
}

#[allow(
    unsafe_code,
    reason = "from_env reads the real process environment; this test must set it"
)]
fn set(k: &str, v: &str) {
    // SAFETY: the only test of this binary; nothing else reads the environment concurrently.
    unsafe { std::env::set_var(k, v) }
}

#[allow(
    unsafe_code,
    reason = "from_env reads the real process environment; this test must clear it"
)]
fn unset(k: &str) {
    // SAFETY: as above.
    unsafe { std::env::remove_var(k) }
}

#[tokio::test]
async fn from_env_for_the_store_and_the_manager() {
    let (bao, init) = common::bao().await;
    bao.enable_userpass(
        &init.root_token,
        "team-users",
        "gina",
        "gina-pw",
        &["app-rw"],
    )
    .await;
    for k in [
        "OPENBAO_URL",
        "VAULT_ADDR",
        "BAO_ADDR",
        "OPENBAO_TOKEN",
        "VAULT_TOKEN",
        "BAO_TOKEN",
    ] {
        unset(k);
    }

    // Missing address: a Config error naming the variables, no panic.
    let e = OpenbaoSecretStore::from_env().await.unwrap_err();
    assert!(matches!(e, SecretStoreError::Config { .. }) && e.to_string().contains("OPENBAO_URL"));

    // userpass on a separate auth mount through the env (the seed's mount bug).
    set("BAO_ADDR", bao.addr());
    // userpass credentials of BAO_ADDR's family (OPENBAO_USERNAME would be ignored here).
    set("BAO_USERNAME", "gina");
    set("BAO_PASSWORD", "gina-pw");
    set("OPENBAO_AUTH_MOUNT", "team-users");
    set("OPENBAO_KV_MOUNT", "secret");
    let store = OpenbaoSecretStore::from_env().await.unwrap();
    store
        .set_json("app", "FromEnv", &serde_json::json!({"ok": true}))
        .await
        .unwrap();

    // SecretManager: openbao store, namespace from HARMONY_CONFIG_NAMESPACE (over the legacy one).
    set("HARMONY_SECRET_STORE", "openbao");
    set("HARMONY_SECRET_NAMESPACE", "legacy");
    set("HARMONY_CONFIG_NAMESPACE", "app");
    let manager = SecretManager::from_env().await.unwrap();
    assert_eq!(manager.namespace(), "app");
    let creds = Creds {
        user: "u".into(),
        password: "p".into(),
    };
    manager.set("Creds", &creds).await.unwrap();
    assert_eq!(manager.get::<Creds>("Creds").await.unwrap(), creds);
    assert_eq!(store.get_json("app", "Creds").await.unwrap()["user"], "u");

    unset("HARMONY_CONFIG_NAMESPACE");
    assert_eq!(SecretManager::namespace_from_env(), "legacy");
    unset("HARMONY_SECRET_NAMESPACE");
    assert_eq!(SecretManager::namespace_from_env(), "harmony");

    set("HARMONY_SECRET_STORE", "s3");
    let e = SecretManager::from_env().await.unwrap_err();
    assert!(e.to_string().contains("HARMONY_SECRET_STORE"), "{e}");
}
