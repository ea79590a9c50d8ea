//! The cluster and transit parts of the OpenBao setup (`OpenbaoCluster`,
//! `TransitUnsealerSetup`, the same components `OpenbaoSetupScore` drives through port-forwards)
//! against REAL `bao` processes on loopback: a 3-node raft cluster and a transit pair. Writes are
//! counted by the servers' own file audit devices, not by the component.

use std::sync::Arc;
use std::time::{Duration, Instant};

use harmony::infra::openbao_admin::{
    FileKeyStore, OpenbaoDesiredState, OpenbaoKeyStore, OpenbaoSetup, OpenbaoUserpass,
};
use harmony::infra::openbao_cluster::OpenbaoCluster;
use harmony::infra::openbao_transit::{
    OpenbaoTransitSeal, TransitUnsealerSetup, refuse_seal_migration,
};
use harmony_secret::{ExposeSecret, OpenbaoSecretStore, SecretStore, SecretStoreError};
use harmony_test_support::{BaoOptions, OpenBao, TransitSeal};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

fn desired() -> OpenbaoDesiredState {
    OpenbaoDesiredState {
        userpass: Some(OpenbaoUserpass {
            username: "harmony".into(),
            password: "cluster-password".into(),
            policies: vec!["harmony-dev".into()],
        }),
        ..Default::default()
    }
}

fn audited_writes(nodes: &[OpenBao]) -> Vec<String> {
    nodes.iter().flat_map(OpenBao::audited_writes).collect()
}

/// Polls (bounded) until one of `nodes` answers `sys/health` 200; its index.
async fn wait_for_active(nodes: &[OpenBao], skip: Option<usize>) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for (i, node) in nodes.iter().enumerate() {
            if Some(i) != skip && node.health().await == Some(200) {
                return i;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no active OpenBao node within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes through `node`. A fresh KV v2 mount upgrades itself for a moment, and a standby only
/// serves it once it has seen the upgrade: retried while the answer says so (bounded).
async fn put(node: &OpenBao, token: &str, key: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = node
            .api(
                Some(token),
                "POST",
                &format!("secret/data/harmony/{key}"),
                Some(json!({ "data": { "value": value } })),
            )
            .await;
        if (200..300).contains(&status) {
            return;
        }
        assert!(
            status == 400 && body.to_string().contains("upgrade") && Instant::now() < deadline,
            "write {key} through {}: HTTP {status}: {body}",
            node.addr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads through `node` until the value is there (bounded): a standby serves reads from its own
/// copy of the raft log, which trails the leader by a moment.
async fn get(node: &OpenBao, token: &str, key: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, v) = node
            .api(
                Some(token),
                "GET",
                &format!("secret/data/harmony/{key}"),
                None,
            )
            .await;
        if status == 200 {
            return v["data"]["data"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string();
        }
        assert!(
            (status == 404 || status == 400) && Instant::now() < deadline,
            "read {key} through {}: HTTP {status}: {v}",
            node.addr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_three_node_raft_cluster_is_set_up_survives_its_leader_and_rejoins_a_replaced_node() {
    let mut nodes = OpenBao::start_raft_cluster(3).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileKeyStore::new(dir.path().join("cluster.json")));
    let cluster = OpenbaoCluster::new(
        nodes.iter().map(|n| n.addr().to_string()).collect(),
        store.clone(),
    )
    .unwrap()
    .with_ready_timeout(TIMEOUT);

    let first = cluster.run(&desired()).await.unwrap();
    assert_eq!(first.initialized.as_deref(), Some(nodes[0].addr()));
    assert_eq!(first.unsealed.len(), 3, "{first:?}");
    let mut ids: Vec<_> = first.members.iter().map(|m| m.node_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["node-0", "node-1", "node-2"]);
    assert!(first.members.iter().all(|m| m.voter), "{:?}", first.members);
    for node in &nodes {
        let health = node.health().await;
        assert!(matches!(health, Some(200) | Some(429)), "{health:?}");
    }
    // The configuration reached the cluster once, through the active node.
    let configured = audited_writes(&nodes);
    for expected in [
        "update sys/mounts/secret",
        "update sys/policies/acl/harmony-dev",
        "update sys/auth/userpass",
        "create auth/userpass/users/harmony",
    ] {
        assert_eq!(
            configured.iter().filter(|w| *w == expected).count(),
            1,
            "{expected} in {configured:?}"
        );
    }

    let root = store.load().await.unwrap().unwrap().root_token;
    // A write through one node is read through another.
    put(&nodes[1], &root, "shared", "written-through-node-1").await;
    assert_eq!(
        get(&nodes[2], &root, "shared").await,
        "written-through-node-1"
    );

    // Rerun: the servers see no write.
    let before = audited_writes(&nodes).len();
    let again = cluster.run(&desired()).await.unwrap();
    assert!(again.writes.is_empty(), "{:?}", again.writes);
    assert!(again.unsealed.is_empty() && again.initialized.is_none());
    assert_eq!(
        audited_writes(&nodes).len(),
        before,
        "{:?}",
        audited_writes(&nodes)
    );

    // Stop the leader: another node becomes active, reads and writes still work.
    let leader = wait_for_active(&nodes, None).await;
    nodes[leader].stop();
    let new_leader = wait_for_active(&nodes, Some(leader)).await;
    let other = (0..3).find(|i| *i != leader && *i != new_leader).unwrap();
    assert_eq!(
        get(&nodes[other], &root, "shared").await,
        "written-through-node-1"
    );
    put(&nodes[other], &root, "after-failover", "still-writable").await;
    assert_eq!(
        get(&nodes[new_leader], &root, "after-failover").await,
        "still-writable"
    );

    // The old leader comes back with empty storage: the next run unseals it, it rejoins.
    nodes[leader].replace_with_empty_storage().await;
    let rejoined = cluster.run(&desired()).await.unwrap();
    assert_eq!(rejoined.unsealed, vec![nodes[leader].addr().to_string()]);
    assert!(rejoined.initialized.is_none());
    assert!(
        rejoined.writes.iter().all(|w| w == "PUT sys/unseal"),
        "{:?}",
        rejoined.writes
    );
    assert!(rejoined.members.iter().all(|m| m.voter) && rejoined.members.len() == 3);
    assert_eq!(
        get(&nodes[leader], &root, "after-failover").await,
        "still-writable"
    );
}

/// A server sealed by `seal` on the unsealer, with `token`, and an audit device.
fn transit_sealed(seal: &OpenbaoTransitSeal, token: String) -> BaoOptions {
    BaoOptions {
        transit_seal: Some(TransitSeal {
            address: seal.address.clone(),
            mount_path: format!("{}/", seal.mount_path),
            key_name: seal.key_name.clone(),
            token,
        }),
        audit: true,
        ..Default::default()
    }
}

/// A store reading `secret/` with `token`; the error of the first read.
async fn store_error(addr: &str, token: &str) -> SecretStoreError {
    match OpenbaoSecretStore::builder()
        .url(addr)
        .token(token)
        .build()
        .await
    {
        Err(e) => e,
        Ok(store) => store.get_json("harmony", "anything").await.unwrap_err(),
    }
}

#[tokio::test]
async fn a_transit_sealed_server_unseals_itself_on_restart_and_stays_sealed_without_its_unsealer() {
    let mut unsealer = OpenBao::start_with(BaoOptions {
        audit: true,
        ..Default::default()
    })
    .await;
    let unsealer_root = unsealer.init_unseal().await.root_token;
    let seal = OpenbaoTransitSeal::new(unsealer.addr());
    let transit = TransitUnsealerSetup::new(unsealer.addr(), seal.clone()).unwrap();
    let made = transit.ensure(&unsealer_root, None).await.unwrap();
    let token = made
        .new_token
        .as_ref()
        .map(|t| t.expose_secret().to_string())
        .expect("a seal token was created");
    let audited = unsealer.audited_writes();
    for expected in [
        "update sys/mounts/transit",
        "update transit/keys/harmony-autounseal",
        "update sys/policies/acl/transit-harmony-autounseal-unseal",
        "update auth/token/create-orphan",
    ] {
        assert!(
            audited.iter().any(|w| w == expected),
            "{expected} in {audited:?}"
        );
    }
    // Rerun with the stored token: nothing new on the unsealer.
    let again = transit.ensure(&unsealer_root, Some(&token)).await.unwrap();
    assert!(
        again.new_token.is_none() && again.writes.is_empty(),
        "{again:?}"
    );
    assert_eq!(unsealer.audited_writes(), audited);
    // The token can only encrypt/decrypt with that key.
    let (status, _) = unsealer.api(Some(&token), "GET", "sys/mounts", None).await;
    assert_eq!(status, 403);
    let (status, _) = unsealer
        .api(
            Some(&token),
            "POST",
            "transit/encrypt/other",
            Some(json!({"plaintext": "aGk="})),
        )
        .await;
    assert_eq!(status, 403);

    let mut server = OpenBao::start_with(transit_sealed(&seal, token)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileKeyStore::new(dir.path().join("transit.json")));
    let setup = OpenbaoSetup::new(server.addr(), store.clone())
        .unwrap()
        .with_ready_timeout(TIMEOUT);
    let first = setup.run(&desired()).await.unwrap();
    assert!(first.initialized && !first.unsealed, "{first:?}");
    let record = store.load().await.unwrap().unwrap();
    assert!(record.unseal_keys.is_empty());
    assert_eq!(
        record.recovery_keys.len(),
        1,
        "recovery keys are kept like unseal keys"
    );

    // Restart: it comes back unsealed with no call from Harmony.
    server.restart().await;
    server.wait_active().await;
    let (_, status) = server.api(None, "GET", "sys/seal-status", None).await;
    assert_eq!(status["type"], "transit");
    assert_eq!(status["sealed"], false);
    let before = server.audited_writes().len();
    let rerun = setup.run(&desired()).await.unwrap();
    assert!(rerun.writes.is_empty(), "{:?}", rerun.writes);
    assert_eq!(server.audited_writes().len(), before);

    // The unsealer goes away while the server is sealed: it stays sealed and the store says so.
    server
        .api_ok(&record.root_token, "PUT", "sys/seal", None)
        .await;
    unsealer.stop();
    assert_eq!(server.health().await, Some(503));
    let err = store_error(server.addr(), &record.root_token).await;
    assert!(
        matches!(&err, SecretStoreError::Sealed { auto_unseal: Some(t), .. } if t == "transit"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("transit seal") && message.contains("unsealer"),
        "{message}"
    );
    assert!(message.contains("does not unseal it"), "{message}");
    // harmony_sso on it as an existing stack: the same advice, not `bao operator unseal`.
    let existing = harmony::infra::existing_stack::ExistingStackTopology::new(
        harmony::infra::existing_stack::ExistingStackConfig::new(
            server.addr(),
            "http://127.0.0.1:1",
            "cli",
        ),
    )
    .unwrap();
    let err = harmony::topology::Topology::ensure_ready(&existing)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("transit seal")
            && err.contains("unsealer")
            && !err.contains("operator unseal"),
        "{err}"
    );
    let err = OpenbaoSetup::new(server.addr(), store.clone())
        .unwrap()
        .with_ready_timeout(Duration::from_secs(2))
        .run(&desired())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("transit seal") && err.contains("unsealer"),
        "{err}"
    );
    // And a restart without the unsealer does not bring it back: bao names the unsealer.
    let log = server.try_start_again().await.unwrap_err();
    assert!(
        log.contains("Error configuring seal") && log.contains(&seal.address),
        "{log}"
    );
}

#[tokio::test]
async fn a_shamir_server_restarted_with_a_transit_seal_is_refused_not_migrated() {
    let unsealer = OpenBao::start().await;
    let unsealer_root = unsealer.init_unseal().await.root_token;
    let seal = OpenbaoTransitSeal::new(unsealer.addr());
    let token = TransitUnsealerSetup::new(unsealer.addr(), seal.clone())
        .unwrap()
        .ensure(&unsealer_root, None)
        .await
        .unwrap()
        .new_token
        .map(|t| t.expose_secret().to_string())
        .unwrap();

    let mut server = OpenBao::start_with(BaoOptions {
        audit: true,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileKeyStore::new(dir.path().join("shamir.json")));
    let setup = OpenbaoSetup::new(server.addr(), store.clone())
        .unwrap()
        .with_ready_timeout(TIMEOUT);
    setup.run(&desired()).await.unwrap();
    let shamir = setup.seal_status().await.unwrap();
    let err = refuse_seal_migration(server.addr(), &shamir, &seal).unwrap_err();
    assert!(err.to_string().contains("does not migrate"), "{err}");

    // Restarted with a transit stanza, the server reports type "transit" (and migration): it
    // must still be refused, at once, and nothing is sent to it.
    server.restart_with(transit_sealed(&seal, token)).await;
    let migrating = setup.seal_status().await.unwrap();
    assert!(migrating.sealed && migrating.migration, "{migrating:?}");
    let err = refuse_seal_migration(server.addr(), &migrating, &seal).unwrap_err();
    assert!(err.to_string().contains("does not migrate"), "{err}");
    let before = server.audited_writes();
    let err = setup.run(&desired()).await.unwrap_err().to_string();
    assert!(err.contains("does not migrate"), "{err}");
    assert!(!err.contains("still sealed after"), "{err}");
    assert_eq!(server.audited_writes(), before);
    let (_, status) = server.api(None, "GET", "sys/seal-status", None).await;
    assert_eq!(
        status["sealed"], true,
        "the setup did not unseal or migrate it"
    );
}

#[tokio::test]
async fn a_seal_token_with_more_rights_or_a_parent_is_replaced_by_a_narrow_one() {
    let unsealer = OpenBao::start_with(BaoOptions {
        audit: true,
        ..Default::default()
    })
    .await;
    let root = unsealer.init_unseal().await.root_token;
    let seal = OpenbaoTransitSeal::new(unsealer.addr());
    let transit = TransitUnsealerSetup::new(unsealer.addr(), seal.clone()).unwrap();
    let narrow = transit
        .ensure(&root, None)
        .await
        .unwrap()
        .new_token
        .map(|t| t.expose_secret().to_string())
        .unwrap();
    let policy = seal.policy().name;
    // Tokens someone put in the Secret by hand: each carries the seal policy, but also the
    // default policy, or dies with the admin token, or expires.
    let by_hand = [
        json!({ "policies": [policy], "period": "768h" }),
        json!({ "policies": [policy], "no_default_policy": true, "period": "768h" }),
        json!({ "policies": [policy], "no_default_policy": true, "ttl": "1h" }),
    ];
    for (i, body) in by_hand.into_iter().enumerate() {
        let path = if i == 1 {
            "auth/token/create"
        } else {
            "auth/token/create-orphan"
        };
        let made = unsealer.api_ok(&root, "POST", path, Some(body)).await;
        let loose = made["auth"]["client_token"].as_str().unwrap().to_string();
        let before = unsealer.audited_writes().len();
        let report = transit.ensure(&root, Some(&loose)).await.unwrap();
        let replacement = report
            .new_token
            .map(|t| t.expose_secret().to_string())
            .expect("the loose token is replaced");
        let audited = unsealer.audited_writes();
        assert_eq!(
            &audited[before..],
            ["update auth/token/create-orphan"],
            "token {i}"
        );
        let (_, me) = unsealer
            .api(Some(&replacement), "GET", "auth/token/lookup-self", None)
            .await;
        assert_eq!(me["data"]["policies"], json!([policy]), "{me}");
        assert_eq!(me["data"]["orphan"], true);
    }
    // The narrow token made by the setup is kept: nothing written.
    let before = unsealer.audited_writes().len();
    assert!(
        transit
            .ensure(&root, Some(&narrow))
            .await
            .unwrap()
            .new_token
            .is_none()
    );
    assert_eq!(unsealer.audited_writes().len(), before);
}
