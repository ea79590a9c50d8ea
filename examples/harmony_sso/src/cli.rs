//! Command-line flags and subcommands (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use harmony::infra::existing_stack::ExistingStackConfig;
use harmony_secret::openbao_http::{ClientCert, TlsOptions};
use harmony_secret::{ExposeSecret, SecretString};

/// The whole SSO config loop in one run.
///
/// Without the existing-stack flags it deploys OpenBao and Zitadel on a local k3d cluster
/// (needs Docker). With `--openbao-url`, `--issuer` and `--client-id` it deploys nothing and
/// uses the given servers.
#[derive(Debug, Clone, Parser)]
#[command(name = "harmony_sso", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// OpenBao only, logging in with the userpass user kept by harmony_config (local stack).
    #[arg(long)]
    pub skip_zitadel: bool,

    /// Remove what harmony_sso deployed (OpenBao, Zitadel releases and namespaces) and its local
    /// caches (session, key cache, last-stack file).
    #[arg(long)]
    pub cleanup: bool,

    /// With --cleanup: also delete the k3d cluster.
    #[arg(long, requires = "cleanup")]
    pub cluster: bool,

    /// No questions: skip the confirmation; config values take their defaults.
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,

    /// Do not open a browser for the device flow (print the address only).
    #[arg(long, global = true, env = "HARMONY_SSO_NO_BROWSER")]
    pub no_browser: bool,

    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Sign in now (device flow unless a session is cached).
    Login,
    /// Revoke the OpenBao token and the refresh token, and forget the session.
    Logout,
    /// Who is signed in: name, policies, time left, auth method.
    Whoami,
}

/// An existing OpenBao + OpenID provider (all three of url, issuer, client id, or none).
/// `Debug` hides the admin token.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// OpenBao address of an existing stack.
    #[arg(long, env = "OPENBAO_URL", global = true)]
    pub openbao_url: Option<String>,
    /// OpenID issuer of an existing stack (exactly the tokens' `iss`).
    #[arg(long, env = "HARMONY_SSO_ISSUER", global = true)]
    pub issuer: Option<String>,
    /// Public device-code client id registered at the issuer.
    #[arg(long, env = "HARMONY_SSO_CLIENT_ID", global = true)]
    pub client_id: Option<String>,
    /// OpenBao JWT role to log in with.
    #[arg(
        long,
        env = "OPENBAO_JWT_ROLE",
        default_value = "harmony-developer",
        global = true
    )]
    pub jwt_role: String,
    /// OpenBao JWT auth mount.
    #[arg(long, env = "OPENBAO_JWT_MOUNT", default_value = "jwt", global = true)]
    pub jwt_mount: String,
    /// OpenBao KV v2 mount holding the config.
    #[arg(
        long,
        env = "OPENBAO_KV_MOUNT",
        default_value = "secret",
        global = true
    )]
    pub kv_mount: String,
    /// A token allowed to configure OpenBao: then harmony_sso sets up the KV mount, the
    /// policy and the JWT auth trusting the issuer itself. Prefer the environment variable.
    #[arg(
        long,
        env = "OPENBAO_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<SecretString>,
    /// PEM file of the CA that signed OpenBao's certificate (a private CA not installed on this
    /// machine). Then only this CA is trusted for OpenBao.
    #[arg(long, env = "OPENBAO_CACERT", value_name = "PEM", global = true)]
    pub openbao_ca_cert: Option<PathBuf>,
    /// PEM file of a client certificate for OpenBao (mutual TLS); needs --openbao-client-key.
    #[arg(long, env = "OPENBAO_CLIENT_CERT", value_name = "PEM", global = true)]
    pub openbao_client_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    #[arg(long, env = "OPENBAO_CLIENT_KEY", value_name = "PEM", global = true)]
    pub openbao_client_key: Option<PathBuf>,
    /// OpenBao namespace holding the JWT auth and KV mounts (sent as X-Vault-Namespace).
    #[arg(long, env = "OPENBAO_NAMESPACE", global = true)]
    pub openbao_namespace: Option<String>,
    /// PEM file of the CA that signed the OpenID provider's certificate. Then only this CA is
    /// trusted for the provider.
    #[arg(long, env = "HARMONY_SSO_CACERT", value_name = "PEM", global = true)]
    pub sso_ca_cert: Option<PathBuf>,
}

/// Where the loop runs.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Deploy OpenBao (+ Zitadel unless `skip_zitadel`) on the local k3d cluster.
    LocalK3d { skip_zitadel: bool },
    /// Use the given servers; deploy nothing.
    Existing(Box<ExistingStackConfig>),
}

impl Cli {
    /// The mode the flags ask for, or what is missing / contradictory.
    pub fn mode(&self) -> Result<Mode, String> {
        let s = &self.stack;
        let given = [
            ("--openbao-url (OPENBAO_URL)", s.openbao_url.as_deref()),
            ("--issuer (HARMONY_SSO_ISSUER)", s.issuer.as_deref()),
            (
                "--client-id (HARMONY_SSO_CLIENT_ID)",
                s.client_id.as_deref(),
            ),
        ];
        let missing: Vec<&str> = given
            .iter()
            .filter(|(_, v)| v.is_none_or(str::is_empty))
            .map(|(name, _)| *name)
            .collect();
        let tls_flags = [
            ("--openbao-ca-cert", s.openbao_ca_cert.is_some()),
            ("--openbao-client-cert", s.openbao_client_cert.is_some()),
            ("--openbao-client-key", s.openbao_client_key.is_some()),
            ("--openbao-namespace", s.openbao_namespace.is_some()),
            ("--sso-ca-cert", s.sso_ca_cert.is_some()),
        ];
        if missing.len() == given.len() {
            if let Some((flag, _)) = tls_flags.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "{flag} is for an existing stack: also give --openbao-url, --issuer and --client-id"
                ));
            }
            if s.admin_token.is_some() {
                return Err(
                    "--admin-token is for an existing stack: also give --openbao-url, --issuer and --client-id"
                        .into(),
                );
            }
            return Ok(Mode::LocalK3d {
                skip_zitadel: self.skip_zitadel,
            });
        }
        if !missing.is_empty() {
            return Err(format!(
                "an existing stack needs --openbao-url, --issuer and --client-id; missing: {}",
                missing.join(", ")
            ));
        }
        if self.skip_zitadel {
            return Err("--skip-zitadel is for the local stack; an existing stack signs in with its OpenID provider".into());
        }
        if self.cleanup {
            return Err("--cleanup removes what harmony_sso deployed on k3d; it never touches an existing stack (use `logout` to forget the session)".into());
        }
        let mut config = ExistingStackConfig::new(
            s.openbao_url.clone().unwrap_or_default(),
            s.issuer.clone().unwrap_or_default(),
            s.client_id.clone().unwrap_or_default(),
        );
        config.jwt_role = s.jwt_role.clone();
        config.jwt_mount = s.jwt_mount.trim_matches('/').to_string();
        config.kv_mount = s.kv_mount.trim_matches('/').to_string();
        config.admin_token = s
            .admin_token
            .clone()
            .filter(|t| !t.expose_secret().is_empty());
        let nonempty = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        config.tls =
            TlsOptions {
                ca_cert: nonempty(&s.openbao_ca_cert),
                client_cert: match (
                    nonempty(&s.openbao_client_cert),
                    nonempty(&s.openbao_client_key),
                ) {
                    (Some(cert), Some(key)) => Some(ClientCert { cert, key }),
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(
                            "--openbao-client-cert needs --openbao-client-key (OPENBAO_CLIENT_KEY)"
                                .into(),
                        );
                    }
                    (None, Some(_)) => return Err(
                        "--openbao-client-key needs --openbao-client-cert (OPENBAO_CLIENT_CERT)"
                            .into(),
                    ),
                },
                ..TlsOptions::default()
            };
        config.namespace = s
            .openbao_namespace
            .as_deref()
            .map(|n| n.trim_matches('/'))
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        config.sso_tls = TlsOptions {
            ca_cert: nonempty(&s.sso_ca_cert),
            ..TlsOptions::default()
        };
        Ok(Mode::Existing(Box::new(config)))
    }
}

/// The command to show when the local stack cannot run (no Docker engine).
pub const EXISTING_STACK_HINT: &str = "cargo run -p harmony_sso -- --openbao-url https://bao.example.com --issuer https://idp.example.com --client-id <client-id>";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("harmony_sso").chain(args.iter().copied()))
    }

    const STACK: [&str; 6] = [
        "--openbao-url",
        "https://bao.example.com/",
        "--issuer",
        "https://idp.example.com",
        "--client-id",
        "cli-1",
    ];

    #[test]
    fn no_flags_is_the_local_stack_with_zitadel() {
        let cli = parse(&[]).unwrap();
        assert!(matches!(
            cli.mode().unwrap(),
            Mode::LocalK3d {
                skip_zitadel: false
            }
        ));
        assert!(!cli.yes && !cli.cleanup && cli.command.is_none());
        let cli = parse(&["--skip-zitadel", "-y"]).unwrap();
        assert!(matches!(
            cli.mode().unwrap(),
            Mode::LocalK3d { skip_zitadel: true }
        ));
        assert!(cli.yes);
    }

    #[test]
    fn cluster_needs_cleanup() {
        assert!(parse(&["--cluster"]).is_err());
        let cli = parse(&["--cleanup", "--cluster"]).unwrap();
        assert!(cli.cleanup && cli.cluster);
    }

    #[test]
    fn existing_stack_flags_give_the_existing_mode_with_defaults_and_overrides() {
        let cli = parse(&STACK).unwrap();
        let Mode::Existing(c) = cli.mode().unwrap() else {
            panic!("expected the existing stack")
        };
        assert_eq!(c.openbao_url, "https://bao.example.com");
        assert_eq!(c.issuer, "https://idp.example.com");
        assert_eq!(c.client_id, "cli-1");
        assert_eq!(
            (
                c.jwt_role.as_str(),
                c.jwt_mount.as_str(),
                c.kv_mount.as_str()
            ),
            ("harmony-developer", "jwt", "secret")
        );
        assert!(c.admin_token.is_none());

        let mut args = STACK.to_vec();
        args.extend([
            "--jwt-role",
            "dev",
            "--jwt-mount",
            "/oidc/",
            "--kv-mount",
            "kv",
            "--admin-token",
            "s.ADMIN",
        ]);
        let Mode::Existing(c) = parse(&args).unwrap().mode().unwrap() else {
            panic!()
        };
        assert_eq!(
            (
                c.jwt_role.as_str(),
                c.jwt_mount.as_str(),
                c.kv_mount.as_str()
            ),
            ("dev", "oidc", "kv")
        );
        assert_eq!(
            c.admin_token.as_ref().map(|t| t.expose_secret()),
            Some("s.ADMIN")
        );
        assert!(!format!("{c:?}").contains("s.ADMIN"));
        let cli = parse(&args).unwrap();
        assert!(!format!("{cli:?}").contains("s.ADMIN"), "{cli:?}");
        assert!(format!("{cli:?}").contains("[REDACTED]"), "{cli:?}");
    }

    #[test]
    fn tls_and_namespace_flags_reach_the_existing_stack_config() {
        let Mode::Existing(c) = parse(&STACK).unwrap().mode().unwrap() else {
            panic!()
        };
        assert_eq!(c.tls, TlsOptions::default());
        assert_eq!(c.sso_tls, TlsOptions::default());
        assert_eq!(c.namespace, None);

        let mut args = vec!["whoami"];
        args.extend(STACK);
        args.extend([
            "--openbao-ca-cert",
            "/etc/team/bao-ca.pem",
            "--openbao-client-cert",
            "/etc/team/me.pem",
            "--openbao-client-key",
            "/etc/team/me.key",
            "--openbao-namespace",
            "/team-a/",
            "--sso-ca-cert",
            "/etc/team/idp-ca.pem",
        ]);
        let Mode::Existing(c) = parse(&args).unwrap().mode().unwrap() else {
            panic!()
        };
        assert_eq!(c.tls.ca_cert, Some(PathBuf::from("/etc/team/bao-ca.pem")));
        assert_eq!(
            c.tls.client_cert,
            Some(ClientCert {
                cert: "/etc/team/me.pem".into(),
                key: "/etc/team/me.key".into()
            })
        );
        assert!(!c.tls.skip_verify && c.tls.server_name.is_none());
        assert_eq!(c.namespace.as_deref(), Some("team-a"));
        // The IdP's trust is its own: OpenBao's CA and client certificate are not sent there.
        assert_eq!(
            c.sso_tls,
            TlsOptions {
                ca_cert: Some("/etc/team/idp-ca.pem".into()),
                ..TlsOptions::default()
            }
        );
    }

    #[test]
    fn a_client_certificate_needs_its_key_and_tls_flags_need_a_stack() {
        let mut args = STACK.to_vec();
        args.extend(["--openbao-client-cert", "/me.pem"]);
        let err = parse(&args).unwrap().mode().unwrap_err();
        assert!(
            err.contains("needs --openbao-client-key (OPENBAO_CLIENT_KEY)"),
            "{err}"
        );
        let mut args = STACK.to_vec();
        args.extend(["--openbao-client-key", "/me.key"]);
        let err = parse(&args).unwrap().mode().unwrap_err();
        assert!(err.contains("needs --openbao-client-cert"), "{err}");
        let err = parse(&["--openbao-ca-cert", "/ca.pem"])
            .unwrap()
            .mode()
            .unwrap_err();
        assert!(
            err.contains("--openbao-ca-cert is for an existing stack"),
            "{err}"
        );
    }

    #[test]
    fn subcommands_take_the_stack_flags_after_them() {
        let mut args = vec!["whoami"];
        args.extend(STACK);
        let cli = parse(&args).unwrap();
        assert_eq!(cli.command, Some(Command::Whoami));
        assert!(matches!(cli.mode().unwrap(), Mode::Existing(_)));
        assert_eq!(parse(&["login"]).unwrap().command, Some(Command::Login));
        assert_eq!(parse(&["logout"]).unwrap().command, Some(Command::Logout));
    }

    #[test]
    fn partial_or_contradictory_stack_flags_say_what_is_wrong() {
        let err = parse(&STACK[..2]).unwrap().mode().unwrap_err();
        assert!(
            err.contains(
                "missing: --issuer (HARMONY_SSO_ISSUER), --client-id (HARMONY_SSO_CLIENT_ID)"
            ),
            "{err}"
        );
        let mut args = STACK.to_vec();
        args.push("--skip-zitadel");
        assert!(
            parse(&args)
                .unwrap()
                .mode()
                .unwrap_err()
                .contains("--skip-zitadel")
        );
        let mut args = STACK.to_vec();
        args.push("--cleanup");
        assert!(
            parse(&args)
                .unwrap()
                .mode()
                .unwrap_err()
                .contains("never touches an existing stack")
        );
        let err = parse(&["--admin-token", "t"]).unwrap().mode().unwrap_err();
        assert!(err.contains("--openbao-url"), "{err}");
    }

    #[test]
    fn help_lists_flags_subcommands_and_env_vars() {
        let help = parse(&["--help"]).unwrap_err().to_string();
        for needle in [
            "--skip-zitadel",
            "--cleanup",
            "--cluster",
            "--yes",
            "login",
            "logout",
            "whoami",
            "OPENBAO_URL",
            "HARMONY_SSO_CLIENT_ID",
            "OPENBAO_JWT_ROLE",
            "--openbao-ca-cert <PEM>",
            "OPENBAO_CACERT",
            "OPENBAO_CLIENT_CERT",
            "OPENBAO_CLIENT_KEY",
            "OPENBAO_NAMESPACE",
            "--sso-ca-cert <PEM>",
            "HARMONY_SSO_CACERT",
        ] {
            assert!(help.contains(needle), "{needle} missing in:\n{help}");
        }
    }
}
