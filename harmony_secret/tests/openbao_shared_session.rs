//! One cached SSO session shared by eight OS processes that start at the same moment with an
//! expired OpenBao token, against a REAL OpenBao and a REAL OpenID provider that rotates refresh
//! tokens and revokes the grant when a used one comes back (oidc-provider, public client).
//!
//! The test re-runs this test binary as the reader processes, filtered to
//! `shared_session_reader_process`, which does nothing unless `HS_SHARED_SESSION_BAO` is set.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ROLE, Sso};
use harmony_secret::{OpenbaoSecretStore, SecretStore};
use harmony_test_support::IdpOptions;
use serde_json::json;

const PROCESSES: usize = 8;

/// Polls `done` every 10 ms for at most `limit`.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_processes_share_one_expired_session_without_a_new_sign_in() {
    // A short token TTL, so the cached session really expires at OpenBao.
    let sso = Sso::start(IdpOptions::fast(), "3s").await;
    let store = sso.store().await;
    store
        .set_json("app", "Shared", &json!({"v": "team value"}))
        .await
        .unwrap();
    assert_eq!(sso.device_grants(), 1);
    let expired = sso.cache_json()["token"].as_str().unwrap().to_string();

    // Renewed tokens get a long TTL, so "exactly one refresh" does not depend on speed.
    sso.bao
        .api_ok(
            &sso.init.root_token,
            "POST",
            &format!("auth/jwt/role/{ROLE}"),
            Some(json!({
                "role_type": "jwt",
                "bound_audiences": [sso.idp.client_id()],
                "user_claim": "email",
                "token_policies": ["app-rw"],
                "token_ttl": "10m",
            })),
        )
        .await;
    // Wait until OpenBao itself refuses the cached token.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = sso
            .bao
            .api(Some(&expired), "GET", "auth/token/lookup-self", None)
            .await;
        if status == 403 {
            break;
        }
        assert!(Instant::now() < deadline, "the 3 s token never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let sync = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|worker| {
            Command::new(&exe)
                .args([
                    "shared_session_reader_process",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("HS_SHARED_SESSION_BAO", sso.bao.addr())
                .env("HS_SHARED_SESSION_ISSUER", sso.idp.issuer())
                .env("HS_SHARED_SESSION_CLIENT", sso.idp.client_id())
                .env("HS_SHARED_SESSION_CACHE", sso.cache_dir.path())
                .env("HS_SHARED_SESSION_SYNC", sync.path())
                .env("HS_SHARED_SESSION_WORKER", worker.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Start them all at the same moment: each says it is ready, then waits for `go`.
    wait_for("all readers ready", Duration::from_secs(60), || {
        (0..PROCESSES).all(|w| sync.path().join(format!("ready-{w}")).exists())
    });
    std::fs::write(sync.path().join("go"), b"").unwrap();

    for (worker, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "reader {worker} failed:\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("1 passed") && stdout.contains("READ team value"),
            "reader {worker} did not read the value:\n{stdout}\n{stderr}"
        );
    }

    // What the identity provider saw: no new sign-in, one renewal, no reused refresh token.
    assert_eq!(sso.device_grants(), 1, "a device flow was started");
    let refreshes = sso.refresh_grants();
    assert_eq!(
        refreshes,
        1,
        "{:?}",
        sso.idp.token_requests("refresh_token")
    );
    let invalid: Vec<_> = sso
        .idp
        .requests()
        .into_iter()
        .filter(|r| r.error.as_deref() == Some("invalid_grant"))
        .collect();
    assert!(
        invalid.is_empty(),
        "a refresh token was reused: {invalid:?}"
    );
    assert_eq!(sso.human.times_called(), 1);

    // The grant is intact: the renewed session still renews.
    let mut cached = sso.cache_json();
    assert_ne!(cached["token"].as_str().unwrap(), expired);
    cached["expires_at"] = json!(1);
    std::fs::write(sso.cache_file(), serde_json::to_vec(&cached).unwrap()).unwrap();
    let again = sso.store().await;
    assert_eq!(
        again.get_json("app", "Shared").await.unwrap(),
        json!({"v": "team value"})
    );
    assert_eq!(sso.refresh_grants(), 2);
    assert_eq!(sso.device_grants(), 1);
}

/// One reader process (see the module docs). A no-op when run as part of the normal suite.
#[test]
fn shared_session_reader_process() {
    let Ok(bao) = std::env::var("HS_SHARED_SESSION_BAO") else {
        return;
    };
    let var = |k: &str| std::env::var(k).unwrap();
    let sync = std::path::PathBuf::from(var("HS_SHARED_SESSION_SYNC"));
    let worker = var("HS_SHARED_SESSION_WORKER");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = OpenbaoSecretStore::builder()
            .url(bao)
            .zitadel_sso(
                var("HS_SHARED_SESSION_ISSUER"),
                var("HS_SHARED_SESSION_CLIENT"),
            )
            .jwt_auth(ROLE, "jwt")
            .session_cache_dir(var("HS_SHARED_SESSION_CACHE"))
            .open_browser(Some(false))
            // Were a device flow needed, fail at once instead of waiting for a person.
            .terminal_probe(|| false)
            .build()
            .await
            .unwrap();
        std::fs::write(sync.join(format!("ready-{worker}")), b"").unwrap();
        let go: &Path = &sync.join("go");
        wait_for("the go signal", Duration::from_secs(60), || go.exists());
        let value = store
            .get_json("app", "Shared")
            .await
            .unwrap_or_else(|e| panic!("reader {worker}: {e}"));
        println!("READ {}", value["v"].as_str().unwrap());
    });
}
