//! `OpenbaoSetup::plan` against a REAL `bao`: it lists the writes a run would send, and the
//! server receives none of them (counted in bao's own file audit log).

use std::sync::Arc;
use std::time::Duration;

use harmony::infra::openbao_admin::{
    FileKeyStore, OpenbaoDesiredState, OpenbaoJwtAuth, OpenbaoKeyStore, OpenbaoSetup,
    OpenbaoUserpass,
};
use harmony_test_support::{Idp, IdpOptions, OpenBao};
use serde_json::{Value, json};

fn setup(bao: &OpenBao, dir: &std::path::Path) -> OpenbaoSetup {
    OpenbaoSetup::new(
        bao.addr(),
        Arc::new(FileKeyStore::new(dir.join("keys.json"))),
    )
    .unwrap()
    .with_ready_timeout(Duration::from_secs(30))
}

fn userpass() -> Option<OpenbaoUserpass> {
    Some(OpenbaoUserpass {
        username: "harmony".into(),
        password: "pw".into(),
        policies: vec!["harmony-dev".into()],
    })
}

/// (operation, path) of every request bao's audit device logged.
fn audited_requests(log: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "request")
        .map(|e| {
            (
                e["request"]["operation"].as_str().unwrap_or("").to_string(),
                e["request"]["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_plan_lists_the_writes_and_the_server_receives_none() {
    let idp = Idp::start(IdpOptions::fast()).await;
    let mut bao = OpenBao::start_with_file_audit().await;
    let dir = tempfile::tempdir().unwrap();

    // Uninitialised: every step would write; the server stays uninitialised.
    let first = OpenbaoDesiredState {
        userpass: userpass(),
        ..Default::default()
    };
    let plan = setup(&bao, dir.path()).plan(&first).await.unwrap();
    assert!(!plan.initialized);
    assert_eq!(plan.writes[0], "PUT sys/init");
    assert!(
        plan.writes
            .contains(&"POST auth/userpass/users/harmony".to_string())
    );
    assert_eq!(bao.health().await, Some(501), "the plan initialised bao");

    setup(&bao, dir.path()).run(&first).await.unwrap();
    let root = FileKeyStore::new(dir.path().join("keys.json"))
        .load()
        .await
        .unwrap()
        .unwrap()
        .root_token;
    let audit = bao.audit_log_path();

    // Now SSO is wanted and the policy drifted: the plan lists exactly those writes.
    bao.api_ok(
        &root,
        "PUT",
        "sys/policies/acl/harmony-dev",
        Some(json!({"policy": "path \"x/*\" { capabilities = [\"read\"] }"})),
    )
    .await;
    let before = audited_requests(&audit).len();
    let wanted = OpenbaoDesiredState {
        userpass: userpass(),
        jwt: Some(OpenbaoJwtAuth::for_issuer(
            idp.issuer(),
            idp.client_id(),
            "harmony-developer",
            vec!["harmony-dev".into()],
        )),
        ..Default::default()
    };
    let plan = setup(&bao, dir.path()).plan(&wanted).await.unwrap();
    assert_eq!(
        plan.writes,
        vec![
            "PUT sys/policies/acl/harmony-dev",
            "POST sys/auth/jwt",
            "POST auth/jwt/config",
            "POST auth/jwt/role/harmony-developer",
        ]
    );
    let during: Vec<_> = audited_requests(&audit).split_off(before);
    assert!(!during.is_empty(), "the audit device saw no request at all");
    let writes: Vec<_> = during
        .iter()
        .filter(|(op, _)| op != "read" && op != "list")
        .collect();
    assert!(writes.is_empty(), "bao received writes: {writes:?}");

    // Applying sends exactly the planned writes; then the plan is empty.
    let report = setup(&bao, dir.path()).run(&wanted).await.unwrap();
    assert_eq!(report.writes, plan.writes);
    let plan = setup(&bao, dir.path()).plan(&wanted).await.unwrap();
    assert!(plan.writes.is_empty(), "{:?}", plan.writes);

    // Restarted, bao is sealed: the plan says it would unseal, and does not.
    bao.restart().await;
    assert_eq!(bao.health().await, Some(503));
    let plan = setup(&bao, dir.path()).plan(&wanted).await.unwrap();
    assert!(plan.sealed && !plan.configuration_known, "{plan:?}");
    assert_eq!(plan.writes, vec!["PUT sys/unseal"]);
    assert_eq!(bao.health().await, Some(503), "the plan unsealed bao");
}
