//! OpenbaoSecretStore against a REAL OpenBao 2.7.2 (non-dev, raft): token and userpass auth,
//! KV v2 layout, error classification and timeouts.

mod common;

use std::time::Duration;

use harmony_secret::{OpenbaoSecretStore, SecretStore, SecretStoreError};
use harmony_test_support::{OpenBao, free_port};
use serde_json::json;

#[tokio::test]
async fn token_auth_round_trip_and_kv_v2_layout() {
    let (bao, init) = common::bao().await;
    let store = common::token_store(bao.addr(), &init.root_token).await;

    let db = json!({"user": "app", "password": "s3cret", "port": 5432});
    store.set_json("app", "Db", &db).await.unwrap();
    assert_eq!(store.get_json("app", "Db").await.unwrap(), db);

    // Objects are stored as they are at {kv_mount}/data/{namespace}/{key}.
    let raw = bao
        .api_ok(&init.root_token, "GET", "secret/data/app/Db", None)
        .await;
    assert_eq!(raw["data"]["data"], db);

    // Non-objects go into the documented envelope and come back unwrapped.
    store
        .set_json("app", "Greeting", &json!("hello"))
        .await
        .unwrap();
    assert_eq!(
        store.get_json("app", "Greeting").await.unwrap(),
        json!("hello")
    );
    let raw = bao
        .api_ok(&init.root_token, "GET", "secret/data/app/Greeting", None)
        .await;
    assert_eq!(raw["data"]["data"], json!({"__harmony_value__": "hello"}));
    store.set_json("app", "List", &json!([1, 2])).await.unwrap();
    assert_eq!(store.get_json("app", "List").await.unwrap(), json!([1, 2]));

    let e = store.get_json("app", "Missing").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");

    store.delete("app", "Db").await.unwrap();
    assert!(
        store
            .get_json("app", "Db")
            .await
            .unwrap_err()
            .is_not_found()
    );
    store.delete("app", "Db").await.unwrap(); // absent: not an error
}

/// The seed's bug: the KV mount was used as the userpass auth mount. Here userpass lives at
/// `team-users` and KV at `secret`.
#[tokio::test]
async fn userpass_on_a_non_default_auth_mount_with_kv_on_secret() {
    let (bao, init) = common::bao().await;
    bao.enable_userpass(
        &init.root_token,
        "team-users",
        "carol",
        "carol-pw",
        &["app-rw"],
    )
    .await;
    let store = OpenbaoSecretStore::builder()
        .url(bao.addr())
        .kv_mount("secret")
        .auth_mount("team-users")
        .userpass("carol", "carol-pw")
        .build()
        .await
        .unwrap();
    store
        .set_json("app", "Team", &json!({"v": 1}))
        .await
        .unwrap();
    assert_eq!(
        store.get_json("app", "Team").await.unwrap(),
        json!({"v": 1})
    );

    // Wrong password: BadCredentials naming the method and mount.
    let bad = OpenbaoSecretStore::builder()
        .url(bao.addr())
        .auth_mount("team-users")
        .userpass("carol", "wrong")
        .build()
        .await
        .unwrap();
    let e = bad.get_json("app", "Team").await.unwrap_err();
    assert!(matches!(e, SecretStoreError::BadCredentials { .. }), "{e}");
    assert!(e.to_string().contains("team-users"), "{e}");
    assert!(!e.to_string().contains("wrong"), "the password leaked: {e}");

    // Default auth mount `userpass` does not exist here: the error names the login path.
    let default_mount = OpenbaoSecretStore::builder()
        .url(bao.addr())
        .userpass("carol", "carol-pw")
        .build()
        .await
        .unwrap();
    let e = default_mount.get_json("app", "Team").await.unwrap_err();
    assert!(e.to_string().contains("auth/userpass/login"), "{e}");
}

#[tokio::test]
async fn permission_denied_names_the_path() {
    let (bao, init) = common::bao().await;
    bao.enable_userpass(&init.root_token, "userpass", "dave", "dave-pw", &["app-rw"])
        .await;
    let store = OpenbaoSecretStore::builder()
        .url(bao.addr())
        .userpass("dave", "dave-pw")
        .build()
        .await
        .unwrap();
    let e = store.get_json("ops", "Root").await.unwrap_err();
    match &e {
        SecretStoreError::PermissionDenied { path, .. } => assert_eq!(path, "secret/data/ops/Root"),
        other => panic!("expected PermissionDenied, got {other:?}"),
    }
    assert!(e.to_string().contains("secret/data/ops/Root"));
}

#[tokio::test]
async fn revoked_explicit_token_is_bad_credentials() {
    let (bao, init) = common::bao().await;
    let token = common::create_token(&bao, &init.root_token, json!({"policies": ["app-rw"]})).await;
    let store = common::token_store(bao.addr(), &token).await;
    store.set_json("app", "K", &json!({"a": 1})).await.unwrap();
    bao.api_ok(
        &init.root_token,
        "POST",
        "auth/token/revoke",
        Some(json!({"token": token})),
    )
    .await;
    let e = store.get_json("app", "K").await.unwrap_err();
    assert!(
        matches!(e, SecretStoreError::BadCredentials { .. }),
        "{e:?}"
    );
    assert!(!e.to_string().contains(&token));
}

/// A valid token created without the `default` policy cannot look itself up (403 too); that must
/// not be mistaken for an invalid token.
#[tokio::test]
async fn valid_token_without_the_default_policy_gets_permission_denied() {
    let (bao, init) = common::bao().await;
    let token = common::create_token(
        &bao,
        &init.root_token,
        json!({"policies": ["app-rw"], "no_default_policy": true}),
    )
    .await;
    let store = common::token_store(bao.addr(), &token).await;
    store.set_json("app", "K", &json!({"a": 1})).await.unwrap();
    let e = store.get_json("other", "K").await.unwrap_err();
    assert!(
        matches!(e, SecretStoreError::PermissionDenied { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("secret/data/other/K"), "{e}");
    // The token was not dropped: allowed paths still work.
    assert_eq!(store.get_json("app", "K").await.unwrap(), json!({"a": 1}));
}

#[tokio::test]
async fn sealed_openbao_is_reported_as_sealed() {
    let (mut bao, init) = common::bao().await;
    let store = common::token_store(bao.addr(), &init.root_token).await;
    store.set_json("app", "K", &json!({"a": 1})).await.unwrap();
    bao.restart().await; // same data, comes back sealed
    let e = store.get_json("app", "K").await.unwrap_err();
    assert!(
        matches!(
            e,
            SecretStoreError::Sealed {
                auto_unseal: None,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("run OpenbaoSetupScore again"), "{e}");
    assert!(e.is_unavailable());
    // Unsealed again, the same store works.
    bao.unseal(&init.unseal_key).await;
    assert_eq!(store.get_json("app", "K").await.unwrap(), json!({"a": 1}));
}

#[tokio::test]
async fn build_does_not_need_openbao_and_a_stopped_one_is_unreachable() {
    let (mut bao, init) = common::bao().await;
    let store = common::token_store(bao.addr(), &init.root_token).await;
    bao.stop();
    let e = store.get_json("app", "K").await.unwrap_err();
    match &e {
        // Refused at once: not a timeout.
        SecretStoreError::Unreachable { reason, .. } => {
            assert!(reason.starts_with("cannot connect"), "{e}")
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }

    // Nothing listens at all: build still succeeds (login is lazy), use fails fast.
    let store = OpenbaoSecretStore::builder()
        .url(format!("http://127.0.0.1:{}", free_port()))
        .userpass("u", "p")
        .build()
        .await
        .unwrap();
    let e = store.get_json("app", "K").await.unwrap_err();
    assert!(e.is_unavailable(), "{e:?}");
}

/// A port that accepts TCP connections and never answers: Unreachable within the timeout.
#[tokio::test]
async fn a_port_that_never_answers_is_unreachable_within_the_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap(); // never accept()ed
    let addr = listener.local_addr().unwrap();
    let store = OpenbaoSecretStore::builder()
        .url(format!("http://{addr}"))
        .token("t")
        .build()
        .await
        .unwrap();
    let e = store.get_json("app", "K").await.unwrap_err();
    match &e {
        // The default request timeout, 2 s, named in the reason.
        SecretStoreError::Unreachable { reason, .. } => {
            assert_eq!(reason, "no answer within 2s (timeout)", "{e}")
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }

    // A shorter configured timeout is honoured.
    let store = OpenbaoSecretStore::builder()
        .url(format!("http://{addr}"))
        .token("t")
        .request_timeout(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let e = store.get_json("app", "K").await.unwrap_err();
    match &e {
        SecretStoreError::Unreachable { reason, .. } => {
            assert_eq!(reason, "no answer within 300ms (timeout)", "{e}")
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    drop(listener);
}

#[tokio::test]
async fn uninitialized_openbao_is_a_clear_error() {
    let bao = OpenBao::start().await;
    assert_eq!(bao.health().await, Some(501));
    let store = OpenbaoSecretStore::builder()
        .url(bao.addr())
        .token("t")
        .build()
        .await
        .unwrap();
    let e = store.get_json("app", "K").await.unwrap_err();
    assert!(
        matches!(e, SecretStoreError::NotInitialized { .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("not initialized"), "{msg}");
    assert!(
        msg.contains("OpenbaoSetupScore") && msg.contains("bao operator init"),
        "the message says how to fix it: {msg}"
    );
    // The same through a login (userpass answers 503 "sealed" too).
    let store = OpenbaoSecretStore::builder()
        .url(bao.addr())
        .userpass("u", "p")
        .build()
        .await
        .unwrap();
    let e = store.set_json("app", "K", &json!({})).await.unwrap_err();
    assert!(
        matches!(e, SecretStoreError::NotInitialized { .. }),
        "{e:?}"
    );
}
