//! `from_env`: the OpenBao store configured by environment variables.
//!
//! The address picks the family, and a token, userpass credentials, TLS option or namespace are
//! only read from the same family, so a token or password is never sent to another family's
//! server (a leftover corporate `VAULT_TOKEN` does not go to `OPENBAO_URL`). Families, first set
//! address wins:
//!
//! | family | address | token | userpass (both or neither) | TLS / namespace variables |
//! | --- | --- | --- | --- | --- |
//! | `OPENBAO_` | `OPENBAO_URL` | `OPENBAO_TOKEN` | `OPENBAO_USERNAME` + `OPENBAO_PASSWORD` | `OPENBAO_CACERT`, `OPENBAO_CAPATH`, `OPENBAO_SKIP_TLS`, `OPENBAO_TLS_SERVER_NAME`, `OPENBAO_CLIENT_CERT` + `OPENBAO_CLIENT_KEY`, `OPENBAO_NAMESPACE` |
//! | `BAO_` (bao CLI) | `BAO_ADDR` | `BAO_TOKEN` | `BAO_USERNAME` + `BAO_PASSWORD` | `BAO_CACERT`, `BAO_CAPATH`, `BAO_SKIP_VERIFY`, `BAO_TLS_SERVER_NAME`, `BAO_CLIENT_CERT` + `BAO_CLIENT_KEY`, `BAO_NAMESPACE` |
//! | `VAULT_` (vault CLI) | `VAULT_ADDR` | `VAULT_TOKEN` | `VAULT_USERNAME` + `VAULT_PASSWORD` | `VAULT_CACERT`, `VAULT_CAPATH`, `VAULT_SKIP_VERIFY`, `VAULT_TLS_SERVER_NAME`, `VAULT_CLIENT_CERT` + `VAULT_CLIENT_KEY`, `VAULT_NAMESPACE` |
//!
//! Other variables:
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `OPENBAO_KV_MOUNT` | `secret` | KV v2 mount |
//! | `OPENBAO_AUTH_MOUNT` | `userpass` | userpass auth mount (NOT the KV mount) |
//! | `HARMONY_SSO_ISSUER` + `HARMONY_SSO_CLIENT_ID` | | OIDC device-flow SSO (both or neither) |
//! | `HARMONY_SSO_PROJECT_ID` | | Zitadel project-audience scope |
//! | `HARMONY_SSO_RESOLVE_TO` | | `IP:PORT`: DNS override for the issuer host |
//! | `HARMONY_SSO_CACERT` | | CA file for the identity provider (not OpenBao) |
//! | `HARMONY_SSO_SKIP_TLS` | `false` | accept any certificate from the identity provider (not OpenBao) |
//! | `OPENBAO_JWT_ROLE` | `harmony-developer` | OpenBao jwt role (with SSO) |
//! | `OPENBAO_JWT_MOUNT` | `jwt` | OpenBao jwt auth mount |
//! | `HARMONY_SESSION_DIR` | `~/.local/share/harmony/sessions` | SSO session cache folder |
//! | `OPENBAO_REQUEST_TIMEOUT_MS` | `2000` | timeout of one OpenBao request |
//!
//! `HARMONY_NO_BROWSER=1` (read at sign-in time) stops the device flow from opening a browser.

use std::time::Duration;

use log::debug;

use super::STORE;
use super::builder::OpenbaoSecretStoreBuilder;
use crate::SecretStoreError;
use crate::openbao_http::TlsOptions;

/// An address variable, the token variable that goes with it, and the prefix of its TLS and
/// namespace variables. In this order: `OPENBAO_*` first, then OpenBao's own order (`BAO_`
/// before `VAULT_`).
struct Family {
    addr: &'static str,
    token: &'static str,
    username: &'static str,
    password: &'static str,
    prefix: &'static str,
    skip_verify: &'static str,
}

const FAMILIES: [Family; 3] = [
    Family {
        addr: "OPENBAO_URL",
        token: "OPENBAO_TOKEN",
        username: "OPENBAO_USERNAME",
        password: "OPENBAO_PASSWORD",
        prefix: "OPENBAO",
        skip_verify: "OPENBAO_SKIP_TLS",
    },
    Family {
        addr: "BAO_ADDR",
        token: "BAO_TOKEN",
        username: "BAO_USERNAME",
        password: "BAO_PASSWORD",
        prefix: "BAO",
        skip_verify: "BAO_SKIP_VERIFY",
    },
    Family {
        addr: "VAULT_ADDR",
        token: "VAULT_TOKEN",
        username: "VAULT_USERNAME",
        password: "VAULT_PASSWORD",
        prefix: "VAULT",
        skip_verify: "VAULT_SKIP_VERIFY",
    },
];

/// TLS and namespace variables, after the family prefix.
const TLS_SUFFIXES: [&str; 6] = [
    "CACERT",
    "CAPATH",
    "TLS_SERVER_NAME",
    "CLIENT_CERT",
    "CLIENT_KEY",
    "NAMESPACE",
];

fn first(get: &impl Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| get(n).filter(|v| !v.trim().is_empty()))
}

fn config(message: String) -> SecretStoreError {
    SecretStoreError::Config {
        store: STORE.to_string(),
        source: None,
        message,
    }
}

/// A boolean variable; set but empty means `false`.
fn parse_bool(name: &str, value: &str) -> Result<bool, SecretStoreError> {
    if value.trim().is_empty() {
        return Ok(false);
    }
    crate::text::parse_bool(value).ok_or_else(|| {
        config(format!(
            "{name}=`{value}` is not a boolean: use true or false"
        ))
    })
}

/// The builder from a variable lookup (the real environment in `from_env`, a map in tests).
pub(crate) fn builder_from_lookup(
    get: impl Fn(&str) -> Option<String>,
) -> Result<OpenbaoSecretStoreBuilder, SecretStoreError> {
    let mut b = OpenbaoSecretStoreBuilder::new();
    let family = FAMILIES
        .iter()
        .find(|f| first(&get, &[f.addr]).is_some())
        .ok_or_else(|| {
            config("no OpenBao address: set OPENBAO_URL (or BAO_ADDR, or VAULT_ADDR), e.g. http://127.0.0.1:8200".to_string())
        })?;
    b = b.url(first(&get, &[family.addr]).unwrap_or_default());
    // Only this family's credentials are read: name them, not OPENBAO_*, when none is set.
    b.login_vars = Some(format!(
        "{}, or {} and {}",
        family.token, family.username, family.password
    ));
    let var = |suffix: &str| format!("{}_{suffix}", family.prefix);
    match first(&get, &[family.token]) {
        Some(token) => {
            debug!(
                "openbao env: address from {}, token from {}",
                family.addr, family.token
            );
            b = b.token(token);
        }
        None => {
            debug!(
                "openbao env: address from {}, no {}",
                family.addr, family.token
            );
            // A token of another family is never sent to this address: it may belong to
            // another server (a leftover corporate VAULT_TOKEN, say).
            let ignored: Vec<&str> = FAMILIES
                .iter()
                .filter(|f| f.token != family.token && first(&get, &[f.token]).is_some())
                .map(|f| f.token)
                .collect();
            if !ignored.is_empty() {
                let hint = format!(
                    "{} is set but was not used: it only goes with its own address variable, and the address came from {}; to use a token with this address, set {}",
                    ignored.join(" and "),
                    family.addr,
                    family.token
                );
                debug!("openbao env: {hint}");
                b.login_hint = Some(hint);
            }
        }
    }
    for other in FAMILIES.iter().filter(|f| f.prefix != family.prefix) {
        for suffix in TLS_SUFFIXES {
            let name = format!("{}_{suffix}", other.prefix);
            if first(&get, &[&name]).is_some() {
                debug!(
                    "openbao env: {name} ignored: the address came from {}, use {}",
                    family.addr,
                    var(suffix)
                );
            }
        }
    }
    if let Some(path) = first(&get, &[&var("CACERT")]) {
        b = b.ca_cert(path);
    }
    if let Some(dir) = first(&get, &[&var("CAPATH")]) {
        b = b.ca_path(dir);
    }
    if let Some(name) = first(&get, &[&var("TLS_SERVER_NAME")]) {
        b = b.tls_server_name(name);
    }
    match (
        first(&get, &[&var("CLIENT_CERT")]),
        first(&get, &[&var("CLIENT_KEY")]),
    ) {
        (Some(cert), Some(key)) => b = b.client_cert(cert, key),
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            return Err(config(format!(
                "set both {} and {} (a client certificate and its key), or neither",
                var("CLIENT_CERT"),
                var("CLIENT_KEY")
            )));
        }
    }
    if let Some(ns) = first(&get, &[&var("NAMESPACE")]) {
        b = b.namespace(ns);
    }
    let skip = family.skip_verify;
    if let Some(v) = get(skip) {
        b = b.skip_tls(parse_bool(skip, &v)?);
    }
    let mut sso_tls = TlsOptions::default();
    if let Some(path) = first(&get, &["HARMONY_SSO_CACERT"]) {
        sso_tls.ca_cert = Some(path.into());
    }
    if let Some(v) = get("HARMONY_SSO_SKIP_TLS") {
        sso_tls.skip_verify = parse_bool("HARMONY_SSO_SKIP_TLS", &v)?;
    }
    b = b.sso_tls(sso_tls);
    match (
        first(&get, &[family.username]),
        first(&get, &[family.password]),
    ) {
        (Some(u), Some(p)) => b = b.userpass(u, p),
        (Some(_), None) => {
            return Err(config(format!(
                "{} is set but {} is not",
                family.username, family.password
            )));
        }
        (None, Some(_)) => {
            return Err(config(format!(
                "{} is set but {} is not",
                family.password, family.username
            )));
        }
        (None, None) => {
            // Like a token, a password of another family is never sent to this address.
            let ignored: Vec<&str> = FAMILIES
                .iter()
                .filter(|f| f.prefix != family.prefix)
                .flat_map(|f| [f.username, f.password])
                .filter(|name| first(&get, &[name]).is_some())
                .collect();
            if !ignored.is_empty() {
                let hint = format!(
                    "{} {} set but not used: userpass credentials only go with their own address variable, and the address came from {}; to log in with a password at this address, set {} and {}",
                    ignored.join(" and "),
                    if ignored.len() == 1 { "is" } else { "are" },
                    family.addr,
                    family.username,
                    family.password
                );
                debug!("openbao env: {hint}");
                b.login_hint = Some(match b.login_hint.take() {
                    Some(token_hint) => format!("{token_hint}; {hint}"),
                    None => hint,
                });
            }
        }
    }
    if let Some(m) = first(&get, &["OPENBAO_KV_MOUNT"]) {
        b = b.kv_mount(m);
    }
    if let Some(m) = first(&get, &["OPENBAO_AUTH_MOUNT"]) {
        b = b.auth_mount(m);
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
    use crate::redacted::ExposeSecret;
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
    fn address_and_token_come_from_one_family_in_order() {
        let token =
            |b: &OpenbaoSecretStoreBuilder| b.token.as_ref().map(|t| t.expose_secret().to_string());
        // OPENBAO_ first, then BAO_, then VAULT_.
        let all = [
            ("OPENBAO_URL", "http://o:1"),
            ("OPENBAO_TOKEN", "o"),
            ("BAO_ADDR", "http://b:1"),
            ("BAO_TOKEN", "b"),
            ("VAULT_ADDR", "http://v:1"),
            ("VAULT_TOKEN", "v"),
        ];
        let b = from(&all).unwrap();
        assert_eq!(
            (b.url.as_deref(), token(&b).as_deref()),
            (Some("http://o:1"), Some("o"))
        );
        let b = from(&all[2..]).unwrap();
        assert_eq!(
            (b.url.as_deref(), token(&b).as_deref()),
            (Some("http://b:1"), Some("b"))
        );
        let b = from(&all[4..]).unwrap();
        assert_eq!(
            (b.url.as_deref(), token(&b).as_deref()),
            (Some("http://v:1"), Some("v"))
        );
        // A token never crosses families; the hint says what to set.
        let b = from(&[
            ("BAO_ADDR", "http://b:1"),
            ("VAULT_TOKEN", "v"),
            ("OPENBAO_TOKEN", "o"),
        ])
        .unwrap();
        assert_eq!(token(&b), None);
        let hint = b.login_hint.unwrap();
        assert!(
            hint.contains("OPENBAO_TOKEN and VAULT_TOKEN") && hint.contains("set BAO_TOKEN"),
            "{hint}"
        );
    }

    #[test]
    fn userpass_comes_from_the_address_family_only() {
        let userpass = |b: &OpenbaoSecretStoreBuilder| {
            b.userpass
                .as_ref()
                .map(|(u, p)| (u.clone(), p.expose_secret().to_string()))
        };
        let b = from(&[
            ("BAO_ADDR", "http://b:1"),
            ("BAO_USERNAME", "bob"),
            ("BAO_PASSWORD", "bob-pw"),
            ("OPENBAO_USERNAME", "olga"),
            ("OPENBAO_PASSWORD", "olga-pw"),
        ])
        .unwrap();
        assert_eq!(userpass(&b), Some(("bob".into(), "bob-pw".into())));
        assert_eq!(b.login_hint, None);

        // A password of another family is ignored, and the hint names what to set instead.
        let b = from(&[
            ("VAULT_ADDR", "http://v:1"),
            ("OPENBAO_USERNAME", "olga"),
            ("OPENBAO_PASSWORD", "olga-pw"),
        ])
        .unwrap();
        assert_eq!(userpass(&b), None);
        let hint = b.login_hint.clone().unwrap();
        assert!(
            hint.contains("OPENBAO_USERNAME and OPENBAO_PASSWORD are set but not used")
                && hint.contains("came from VAULT_ADDR")
                && hint.contains("set VAULT_USERNAME and VAULT_PASSWORD"),
            "{hint}"
        );
        assert!(!hint.contains("olga-pw"), "{hint}");

        // Both hints (token and password) reach the build error.
        let b = from(&[
            ("VAULT_ADDR", "http://v:1"),
            ("OPENBAO_TOKEN", "t"),
            ("BAO_PASSWORD", "pw"),
        ])
        .unwrap();
        let hint = b.login_hint.unwrap();
        assert!(
            hint.contains("set VAULT_TOKEN") && hint.contains("BAO_PASSWORD is set but not used"),
            "{hint}"
        );

        let e = from(&[("VAULT_ADDR", "http://v:1"), ("VAULT_USERNAME", "u")]).unwrap_err();
        assert!(
            matches!(e, SecretStoreError::Config { .. })
                && e.to_string()
                    .contains("VAULT_USERNAME is set but VAULT_PASSWORD is not"),
            "{e}"
        );
    }

    /// With no login at all, the error names the variables of the address's own family: set as
    /// it says, they are read (OPENBAO_* would be ignored with BAO_ADDR).
    #[tokio::test]
    async fn no_login_names_the_variables_of_the_address_family() {
        for (addr, vars) in [
            (
                "OPENBAO_URL",
                "OPENBAO_TOKEN, or OPENBAO_USERNAME and OPENBAO_PASSWORD",
            ),
            ("BAO_ADDR", "BAO_TOKEN, or BAO_USERNAME and BAO_PASSWORD"),
            (
                "VAULT_ADDR",
                "VAULT_TOKEN, or VAULT_USERNAME and VAULT_PASSWORD",
            ),
        ] {
            let e = from(&[(addr, "http://b:1")])
                .unwrap()
                .build()
                .await
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!(
                    "no way to log in: set {vars}, or HARMONY_SSO_ISSUER"
                )),
                "{e}"
            );
            if addr != "OPENBAO_URL" {
                assert!(!e.contains("OPENBAO_"), "{e}");
            }
        }
    }

    #[tokio::test]
    async fn a_password_of_another_family_is_named_in_the_build_error() {
        let e = from(&[
            ("BAO_ADDR", "http://b:1"),
            ("OPENBAO_USERNAME", "u"),
            ("OPENBAO_PASSWORD", "p"),
        ])
        .unwrap()
        .build()
        .await
        .unwrap_err();
        assert!(matches!(e, SecretStoreError::Config { .. }));
        let e = e.to_string();
        assert!(e.contains("set BAO_USERNAME and BAO_PASSWORD"), "{e}");
    }

    #[test]
    fn tls_and_namespace_come_from_the_address_family() {
        let b = from(&[
            ("VAULT_ADDR", "https://v:1"),
            ("VAULT_CACERT", "/v/ca.pem"),
            ("VAULT_CAPATH", "/v/cas"),
            ("VAULT_TLS_SERVER_NAME", "vault.internal"),
            ("VAULT_CLIENT_CERT", "/v/c.pem"),
            ("VAULT_CLIENT_KEY", "/v/k.pem"),
            ("VAULT_NAMESPACE", "team/"),
            ("BAO_CACERT", "/b/ca.pem"),
            ("BAO_SKIP_VERIFY", "true"),
        ])
        .unwrap();
        assert_eq!(
            b.tls.ca_cert.as_deref(),
            Some(std::path::Path::new("/v/ca.pem"))
        );
        assert_eq!(
            b.tls.ca_path.as_deref(),
            Some(std::path::Path::new("/v/cas"))
        );
        assert_eq!(b.tls.server_name.as_deref(), Some("vault.internal"));
        assert_eq!(
            b.tls
                .client_cert
                .as_ref()
                .map(|c| (c.cert.clone(), c.key.clone())),
            Some(("/v/c.pem".into(), "/v/k.pem".into()))
        );
        assert_eq!(b.namespace.as_deref(), Some("team"));
        assert!(
            !b.tls.skip_verify,
            "BAO_SKIP_VERIFY is not VAULT_ADDR's family"
        );
        let e = from(&[("BAO_ADDR", "https://b:1"), ("BAO_CLIENT_CERT", "/c.pem")]).unwrap_err();
        assert!(e.to_string().contains("BAO_CLIENT_KEY"), "{e}");
    }

    #[test]
    fn openbao_and_identity_provider_tls_are_separate() {
        let b = from(&[("OPENBAO_URL", "https://o:1"), ("OPENBAO_SKIP_TLS", "true")]).unwrap();
        assert!(b.tls.skip_verify && !b.sso_tls.skip_verify);
        let b = from(&[
            ("OPENBAO_URL", "https://o:1"),
            ("HARMONY_SSO_SKIP_TLS", "true"),
            ("HARMONY_SSO_CACERT", "/idp-ca.pem"),
        ])
        .unwrap();
        assert!(!b.tls.skip_verify && b.sso_tls.skip_verify);
        assert_eq!(b.tls.ca_cert, None);
        assert_eq!(
            b.sso_tls.ca_cert.as_deref(),
            Some(std::path::Path::new("/idp-ca.pem"))
        );
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
        assert!(b.tls.skip_verify);
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
