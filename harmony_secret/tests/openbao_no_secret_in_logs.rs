//! With every logger at TRACE, a full SSO session (device flow, jwt login, reads, cache reuse,
//! refresh), userpass and token logins never write a token, password, id_token or refresh token
//! to the logs; nor does `Debug` of the builders and stores.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Sso;
use harmony_secret::{
    DeviceCodeInfo, ExposeSecret, OpenbaoSecretStore, SecretStore, ZitadelOidcAuth,
};
use harmony_test_support::{HumanAction, IdpOptions};
use serde_json::json;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        LINES.lock().unwrap().push(format!(
            "{} {} {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

#[tokio::test]
async fn secrets_never_reach_trace_logs_or_debug_output() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let sso = Sso::start(IdpOptions::fast(), "15m").await;
    let root = sso.init.root_token.clone();
    let password = "correct-horse-battery-staple";
    sso.bao
        .enable_userpass(&root, "userpass", "erin", password, &["app-rw"])
        .await;
    let mut secrets: Vec<String> = vec![root.clone(), password.to_string()];
    let collect_cache = |secrets: &mut Vec<String>| {
        let c = sso.cache_json();
        for k in ["token", "refresh_token"] {
            if let Some(s) = c[k].as_str().filter(|s| !s.is_empty()) {
                secrets.push(s.to_string());
            }
        }
    };

    // SSO: device flow + jwt login + write/read; then a second run from the cache.
    let builder = sso.builder(HumanAction::Approve, Duration::ZERO);
    let first = builder.clone().build().await.unwrap();
    first
        .set_json("app", "Db", &json!({"password": "db-pw-value"}))
        .await
        .unwrap();
    first.get_json("app", "Db").await.unwrap();
    collect_cache(&mut secrets);
    sso.store().await.get_json("app", "Db").await.unwrap();
    // Expired session renewed with the refresh token.
    sso.edit_cache(|c| c["expires_at"] = json!(1));
    let renewed = sso.store().await;
    renewed.get_json("app", "Db").await.unwrap();
    collect_cache(&mut secrets);

    // The OIDC layer on its own, to see the id_tokens it handles.
    let human = sso.human.clone();
    let oidc = ZitadelOidcAuth::new(sso.idp.issuer(), sso.idp.client_id())
        .with_browser(Some(false))
        .with_prompt(Arc::new(move |i: &DeviceCodeInfo| {
            human.start(i.url(), HumanAction::Approve, Duration::ZERO)
        }));
    let tokens = oidc.device_login().await.unwrap();
    let refreshed = oidc
        .refresh(
            &tokens.token_endpoint,
            tokens.refresh_token.as_ref().unwrap(),
        )
        .await
        .unwrap();
    for t in [&tokens, &refreshed] {
        secrets.push(t.id_token.expose_secret().to_string());
        secrets.push(
            t.refresh_token
                .as_ref()
                .unwrap()
                .expose_secret()
                .to_string(),
        );
        assert!(!format!("{t:?}").contains(t.id_token.expose_secret()));
    }

    // userpass and token logins.
    let up = OpenbaoSecretStore::builder()
        .url(sso.bao.addr())
        .userpass("erin", password)
        .build()
        .await
        .unwrap();
    up.get_json("app", "Db").await.unwrap();
    let tok_builder = OpenbaoSecretStore::builder()
        .url(sso.bao.addr())
        .token(&root);
    let tok = tok_builder.clone().build().await.unwrap();
    tok.get_json("app", "Db").await.unwrap();
    // A failed login (wrong password) must not echo it either.
    let wrong = "wrong-password-42";
    secrets.push(wrong.to_string());
    let bad = OpenbaoSecretStore::builder()
        .url(sso.bao.addr())
        .userpass("erin", wrong)
        .build()
        .await
        .unwrap();
    let err = bad.get_json("app", "Db").await.unwrap_err().to_string();

    let debug = format!("{builder:?} {first:?} {up:?} {tok_builder:?} {tok:?} {oidc:?} {err}");
    let logs = LINES.lock().unwrap().join("\n");
    assert!(
        logs.contains("openbao auth:"),
        "nothing was captured at trace level"
    );
    assert!(logs.contains("device flow"), "{logs}");
    secrets.retain(|s| s.len() >= 8);
    assert!(
        secrets.len() >= 10,
        "too few secrets collected: {}",
        secrets.len()
    );
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a secret appeared in the TRACE logs"
        );
        assert!(
            !debug.contains(s.as_str()),
            "a secret appeared in Debug output or an error"
        );
    }
    assert!(
        !logs.contains("db-pw-value"),
        "a stored value appeared in the logs"
    );
}
