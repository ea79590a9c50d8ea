//! Only people granted the Zitadel project role get OpenBao's policy: the JWT role set up by
//! `OpenbaoSetup` binds the project-roles claim and a verified email. Against a REAL `bao` and a
//! REAL OpenID provider whose accounts carry (or lack) Zitadel's roles claim.

use std::sync::Arc;
use std::time::Duration;

use harmony::infra::openbao_admin::{
    FileKeyStore, OpenbaoDesiredState, OpenbaoJwtAuth, OpenbaoKeyStore, OpenbaoSetup,
    ZITADEL_PROJECT_ROLES_CLAIM,
};
use harmony_secret::{DeviceCodeInfo, OpenbaoSecretStore, SecretStore};
use harmony_test_support::{Human, HumanAction, Idp, IdpOptions, OpenBao};
use serde_json::json;

const OIDC_ROLE: &str = "harmony-developer";
const PROJECT_ROLE: &str = "harmony-developer";
const ORG_ID: &str = "100";
const ORG_DOMAIN: &str = "zitadel.harmony.local";

/// alice holds the project role (granted by org 100); bob holds only another role.
fn idp_claims(bob_email_verified: bool) -> IdpOptions {
    let claims = json!({
        "alice": { ZITADEL_PROJECT_ROLES_CLAIM: { PROJECT_ROLE: { ORG_ID: ORG_DOMAIN } } },
        "bob": {
            ZITADEL_PROJECT_ROLES_CLAIM: { "viewer": { ORG_ID: ORG_DOMAIN } },
            "email_verified": bob_email_verified,
        },
    });
    IdpOptions {
        extra_env: vec![("IDP_EXTRA_CLAIMS".into(), claims.to_string())],
        ..IdpOptions::fast()
    }
}

async fn configured(idp: &Idp) -> (OpenBao, tempfile::TempDir, String) {
    let bao = OpenBao::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileKeyStore::new(dir.path().join("keys.json")));
    let desired = OpenbaoDesiredState {
        jwt: Some(
            OpenbaoJwtAuth::for_issuer(
                idp.issuer(),
                idp.client_id(),
                OIDC_ROLE,
                vec!["harmony-dev".into()],
            )
            .require_zitadel_project_role(PROJECT_ROLE, ORG_ID, ORG_DOMAIN),
        ),
        ..Default::default()
    };
    let setup = OpenbaoSetup::new(bao.addr(), store.clone())
        .unwrap()
        .with_ready_timeout(Duration::from_secs(30));
    setup.run(&desired).await.unwrap();
    // A second run sees the bound claims as already set.
    let again = setup.run(&desired).await.unwrap();
    assert!(again.writes.is_empty(), "{:?}", again.writes);
    let root = store.load().await.unwrap().unwrap().root_token;
    (bao, dir, root)
}

async fn sso_store(
    bao: &OpenBao,
    idp: &Idp,
    user: &str,
    cache: &std::path::Path,
) -> Result<OpenbaoSecretStore, harmony_secret::SecretStoreError> {
    let human = Human::new(user);
    OpenbaoSecretStore::builder()
        .url(bao.addr())
        .zitadel_sso(idp.issuer(), idp.client_id())
        .jwt_auth(OIDC_ROLE, "jwt")
        .session_cache_dir(cache)
        .open_browser(Some(false))
        .device_code_prompt(Arc::new(move |info: &DeviceCodeInfo| {
            human.start(info.url(), HumanAction::Approve, Duration::ZERO)
        }))
        .build()
        .await
}

#[tokio::test]
async fn a_user_with_the_project_role_gets_the_policy_one_without_is_told_which_role_is_missing() {
    let idp = Idp::start(idp_claims(true)).await;
    let (bao, _dir, root) = configured(&idp).await;

    // The role as OpenBao stores it: the pointer into the roles map and the verified email.
    let (status, role) = bao
        .api(
            Some(&root),
            "GET",
            &format!("auth/jwt/role/{OIDC_ROLE}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        role["data"]["bound_claims"],
        json!({
            format!("/{ZITADEL_PROJECT_ROLES_CLAIM}/{PROJECT_ROLE}/{ORG_ID}"): ORG_DOMAIN,
            "email_verified": true,
        })
    );

    // alice has the role: she logs in and can use secret/data/harmony/*.
    let cache = tempfile::tempdir().unwrap();
    let alice = sso_store(&bao, &idp, "alice", cache.path()).await.unwrap();
    alice
        .set_json("harmony", "RoleProbe", &json!({"ok": true}))
        .await
        .unwrap();
    assert_eq!(
        alice.get_json("harmony", "RoleProbe").await.unwrap(),
        json!({"ok": true})
    );

    // bob only has another role: OpenBao refuses him and the error names the missing role.
    let cache = tempfile::tempdir().unwrap();
    let err = match sso_store(&bao, &idp, "bob", cache.path()).await {
        Ok(store) => store
            .get_json("harmony", "RoleProbe")
            .await
            .expect_err("bob must be refused"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        text.contains(&format!("project role `{PROJECT_ROLE}`")),
        "{text}"
    );
    assert!(text.contains("is missing"), "OpenBao's own words: {text}");
    assert!(!text.contains("eyJ"), "an id_token leaked into: {text}");
}

#[tokio::test]
async fn an_unverified_email_is_refused_even_with_the_role() {
    let claims = json!({
        "alice": {
            ZITADEL_PROJECT_ROLES_CLAIM: { PROJECT_ROLE: { ORG_ID: ORG_DOMAIN } },
            "email_verified": false,
        },
    });
    let idp = Idp::start(IdpOptions {
        extra_env: vec![("IDP_EXTRA_CLAIMS".into(), claims.to_string())],
        ..IdpOptions::fast()
    })
    .await;
    let (bao, _dir, _root) = configured(&idp).await;
    let cache = tempfile::tempdir().unwrap();
    let err = match sso_store(&bao, &idp, "alice", cache.path()).await {
        Ok(store) => store
            .get_json("harmony", "RoleProbe")
            .await
            .expect_err("an unverified email must be refused"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("not verified"), "{err}");
}
