//! `from_env`: the OpenBao store configured by environment variables.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `OPENBAO_URL` (or `VAULT_ADDR`, `BAO_ADDR`) | required | OpenBao address |
//! | `OPENBAO_TOKEN` (or `VAULT_TOKEN`, `BAO_TOKEN`) | | token auth |
//! | `OPENBAO_USERNAME` + `OPENBAO_PASSWORD` | | userpass auth (both or neither) |
//! | `OPENBAO_KV_MOUNT` | `secret` | KV v2 mount |
//! | `OPENBAO_AUTH_MOUNT` | `userpass` | userpass auth mount (NOT the KV mount) |
//! | `OPENBAO_SKIP_TLS` | `false` | `true`/`1`/`yes`: accept any certificate |
//! | `HARMONY_SSO_ISSUER` + `HARMONY_SSO_CLIENT_ID` | | OIDC device-flow SSO (both or neither) |
//! | `HARMONY_SSO_PROJECT_ID` | | Zitadel project-audience scope |
//! | `HARMONY_SSO_RESOLVE_TO` | | `IP:PORT`: DNS override for the issuer host |
//! | `OPENBAO_JWT_ROLE` | `harmony-developer` | OpenBao jwt role (with SSO) |
//! | `OPENBAO_JWT_MOUNT` | `jwt` | OpenBao jwt auth mount |
//! | `HARMONY_SESSION_DIR` | `~/.local/share/harmony/sessions` | SSO session cache folder |
//! | `OPENBAO_REQUEST_TIMEOUT_MS` | `2000` | timeout of one OpenBao request |
//!
//! `HARMONY_NO_BROWSER=1` (read at sign-in time) stops the device flow from opening a browser.

use std::time::Duration;

use super::STORE;
use super::builder::OpenbaoSecretStoreBuilder;
use crate::SecretStoreError;

fn first(get: &impl Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| get(n).filter(|v| !v.trim().is_empty()))
}

fn config(message: String) -> SecretStoreError {
    SecretStoreError::Config {
        store: STORE.to_string(),
        message,
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, SecretStoreError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(config(format!(
            "{name}=`{value}` is not a boolean: use true or false"
        ))),
    }
}

/// The builder from a variable lookup (the real environment in `from_env`, a map in tests).
pub(crate) fn builder_from_lookup(
    get: impl Fn(&str) -> Option<String>,
) -> Result<OpenbaoSecretStoreBuilder, SecretStoreError> {
    let mut b = OpenbaoSecretStoreBuilder::new();
    let url = first(&get, &["OPENBAO_URL", "VAULT_ADDR", "BAO_ADDR"]).ok_or_else(|| {
        config("OPENBAO_URL is not set (nor VAULT_ADDR or BAO_ADDR): set it to the OpenBao address, e.g. http://127.0.0.1:8200".to_string())
    })?;
    b = b.url(url);
    if let Some(token) = first(&get, &["OPENBAO_TOKEN", "VAULT_TOKEN", "BAO_TOKEN"]) {
        b = b.token(token);
    }
    match (
        first(&get, &["OPENBAO_USERNAME"]),
        first(&get, &["OPENBAO_PASSWORD"]),
    ) {
        (Some(u), Some(p)) => b = b.userpass(u, p),
        (Some(_), None) => {
            return Err(config(
                "OPENBAO_USERNAME is set but OPENBAO_PASSWORD is not".to_string(),
            ));
        }
        (None, Some(_)) => {
            return Err(config(
                "OPENBAO_PASSWORD is set but OPENBAO_USERNAME is not".to_string(),
            ));
        }
        (None, None) => {}
    }
    if let Some(m) = first(&get, &["OPENBAO_KV_MOUNT"]) {
        b = b.kv_mount(m);
    }
    if let Some(m) = first(&get, &["OPENBAO_AUTH_MOUNT"]) {
        b = b.auth_mount(m);
    }
    if let Some(v) = get("OPENBAO_SKIP_TLS") {
        b = b.skip_tls(parse_bool("OPENBAO_SKIP_TLS", &v)?);
    }
    match (
        first(&get, &["HARMONY_SSO_ISSUER"]),
        first(&get, &["HARMONY_SSO_CLIENT_ID"]),
    ) {
        (Some(issuer), Some(client_id)) => {
            let role = first(&get, &["OPENBAO_JWT_ROLE"])
                .unwrap_or_else(|| "harmony-developer".to_string());
            let mount = first(&get, &["OPENBAO_JWT_MOUNT"]).unwrap_or_else(|| "jwt".to_string());
            b = b.zitadel_sso(issuer, client_id).jwt_auth(role, mount);
            if let Some(id) = first(&get, &["HARMONY_SSO_PROJECT_ID"]) {
                b = b.zitadel_project_id(id);
            }
            if let Some(addr) = first(&get, &["HARMONY_SSO_RESOLVE_TO"]) {
                let addr = addr.parse().map_err(|e| {
                    config(format!(
                        "HARMONY_SSO_RESOLVE_TO=`{addr}` is not IP:PORT ({e})"
                    ))
                })?;
                b = b.resolve_to(Some(addr));
            }
        }
        (Some(_), None) => {
            return Err(config(
                "HARMONY_SSO_ISSUER is set but HARMONY_SSO_CLIENT_ID is not".to_string(),
            ));
        }
        (None, Some(_)) => {
            return Err(config(
                "HARMONY_SSO_CLIENT_ID is set but HARMONY_SSO_ISSUER is not".to_string(),
            ));
        }
        (None, None) => {}
    }
    if let Some(dir) = first(&get, &["HARMONY_SESSION_DIR"]) {
        b = b.session_cache_dir(dir);
    }
    if let Some(ms) = first(&get, &["OPENBAO_REQUEST_TIMEOUT_MS"]) {
        let ms: u64 = ms.trim().parse().map_err(|_| {
            config(format!(
                "OPENBAO_REQUEST_TIMEOUT_MS=`{ms}` is not a number of milliseconds"
            ))
        })?;
        b = b.request_timeout(Duration::from_millis(ms));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<OpenbaoSecretStoreBuilder, SecretStoreError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        builder_from_lookup(move |k| map.get(k).cloned())
    }

    #[test]
    fn missing_url_names_the_variables() {
        let e = from(&[("OPENBAO_TOKEN", "t")]).unwrap_err().to_string();
        assert!(
            e.contains("OPENBAO_URL") && e.contains("VAULT_ADDR") && e.contains("BAO_ADDR"),
            "{e}"
        );
    }

    #[test]
    fn fallbacks_for_address_and_token() {
        let b = from(&[("BAO_ADDR", "http://a:1"), ("VAULT_TOKEN", "t")]).unwrap();
        assert_eq!(b.url.as_deref(), Some("http://a:1"));
        assert_eq!(b.token.as_ref().map(|t| t.expose()), Some("t"));
        let b = from(&[("OPENBAO_URL", "http://o:1"), ("VAULT_ADDR", "http://v:1")]).unwrap();
        assert_eq!(b.url.as_deref(), Some("http://o:1"));
    }

    /// The seed's bug: the KV mount was used as the userpass auth mount.
    #[test]
    fn auth_mount_and_kv_mount_are_separate() {
        let b = from(&[
            ("OPENBAO_URL", "http://a:1"),
            ("OPENBAO_USERNAME", "u"),
            ("OPENBAO_PASSWORD", "p"),
        ])
        .unwrap();
        assert_eq!(
            (b.kv_mount.as_str(), b.auth_mount.as_str()),
            ("secret", "userpass")
        );
        let b = from(&[
            ("OPENBAO_URL", "http://a:1"),
            ("OPENBAO_USERNAME", "u"),
            ("OPENBAO_PASSWORD", "p"),
            ("OPENBAO_KV_MOUNT", "kv"),
            ("OPENBAO_AUTH_MOUNT", "team-users"),
        ])
        .unwrap();
        assert_eq!(
            (b.kv_mount.as_str(), b.auth_mount.as_str()),
            ("kv", "team-users")
        );
    }

    #[test]
    fn half_configured_pairs_are_config_errors() {
        let e = from(&[("OPENBAO_URL", "http://a:1"), ("OPENBAO_USERNAME", "u")]).unwrap_err();
        assert!(
            matches!(e, SecretStoreError::Config { .. })
                && e.to_string().contains("OPENBAO_PASSWORD")
        );
        let e = from(&[
            ("OPENBAO_URL", "http://a:1"),
            ("HARMONY_SSO_ISSUER", "http://i"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("HARMONY_SSO_CLIENT_ID"));
        let e = from(&[("OPENBAO_URL", "http://a:1"), ("OPENBAO_SKIP_TLS", "maybe")]).unwrap_err();
        assert!(e.to_string().contains("OPENBAO_SKIP_TLS"));
    }

    #[test]
    fn sso_defaults() {
        let b = from(&[
            ("OPENBAO_URL", "http://a:1"),
            ("HARMONY_SSO_ISSUER", "http://i"),
            ("HARMONY_SSO_CLIENT_ID", "c"),
            ("OPENBAO_SKIP_TLS", "true"),
        ])
        .unwrap();
        assert_eq!(b.jwt_role.as_deref(), Some("harmony-developer"));
        assert_eq!(b.jwt_mount, "jwt");
        assert!(b.skip_tls);
    }

    #[tokio::test]
    async fn build_without_any_auth_is_a_config_error() {
        let e = from(&[("OPENBAO_URL", "http://a:1")])
            .unwrap()
            .build()
            .await
            .unwrap_err();
        assert!(matches!(e, SecretStoreError::Config { .. }));
        assert!(e.to_string().contains("OPENBAO_TOKEN"), "{e}");
    }
}
