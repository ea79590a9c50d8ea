//! Deploys OpenBao alone onto the local k3d cluster, then initialises, unseals and configures
//! it (KV v2, policy `harmony-dev`, userpass user from harmony_config).
//!
//! ```bash
//! cargo run -p example-openbao            # shows the plan, asks before running; --yes to skip
//! cargo run -p example-openbao -- --plan  # only shows what it would change
//! ```
//! Re-run it after a cluster restart: OpenBao comes back sealed and the setup unseals it.
//!
//! To also trust Zitadel for single sign-on (after `cargo run -p example-zitadel`, which prints
//! the client id, org id and org domain), pass `--jwt-client-id <client_id> --jwt-org-id <org_id>
//! --jwt-org-domain <org_domain>` (or set `HARMONY_OPENBAO_JWT_CLIENT_ID`, `..._ORG_ID`,
//! `..._ORG_DOMAIN`; optionally `--jwt-issuer`, default `http://zitadel.harmony.local:8080`).
//! Only users granted the Zitadel project role `harmony-developer`, with a verified email, get
//! in. `--help` lists every flag.

use clap::{CommandFactory, Parser};
use harmony::infra::k8s_anywhere::K8sAnywhereTopology;
use harmony::inventory::Inventory;
use harmony::maestro::{Args, Maestro};
use harmony::modules::openbao::{
    OpenbaoJwtAuth, OpenbaoScore, OpenbaoSetupScore, OpenbaoUserpassConfig,
};
use harmony::modules::zitadel::setup::HARMONY_DEVELOPER_ROLE;
use harmony::score::Score;

/// Deploys OpenBao onto the local k3d cluster, then initialises, unseals and configures it.
/// The HTTP port is HARMONY_HTTP_PORT (default 8080).
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    run: Args,
    /// Trust Zitadel for single sign-on: the client id printed by `cargo run -p example-zitadel`.
    #[arg(long, env = "HARMONY_OPENBAO_JWT_CLIENT_ID", value_name = "ID")]
    jwt_client_id: Option<String>,
    /// Zitadel organisation id (printed by example-zitadel); needed with --jwt-client-id.
    #[arg(long, env = "HARMONY_OPENBAO_JWT_ORG_ID", value_name = "ID")]
    jwt_org_id: Option<String>,
    /// Zitadel organisation domain (printed by example-zitadel); needed with --jwt-client-id.
    #[arg(long, env = "HARMONY_OPENBAO_JWT_ORG_DOMAIN", value_name = "DOMAIN")]
    jwt_org_domain: Option<String>,
    /// Issuer OpenBao trusts [default: http://zitadel.harmony.local:<HARMONY_HTTP_PORT>].
    #[arg(long, env = "HARMONY_OPENBAO_JWT_ISSUER", value_name = "URL")]
    jwt_issuer: Option<String>,
}

/// An empty value (`HARMONY_OPENBAO_JWT_CLIENT_ID=`) counts as not set.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    env_logger::init();
    let cli = Cli::parse();
    let topology = K8sAnywhereTopology::from_env();
    let cluster_name = topology
        .config()
        .effective_context()
        .unwrap_or_else(|| "default".to_string());
    // One port (HARMONY_HTTP_PORT, default 8080) for the k3d ingress and every URL.
    let http_port = topology.config().k3d.http_port;

    let jwt = match given(cli.jwt_client_id) {
        None => None,
        Some(client_id) => {
            let issuer = given(cli.jwt_issuer)
                .unwrap_or_else(|| format!("http://zitadel.harmony.local:{http_port}"));
            let (Some(org_id), Some(org_domain)) =
                (given(cli.jwt_org_id), given(cli.jwt_org_domain))
            else {
                Cli::command()
                    .error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "with --jwt-client-id (HARMONY_OPENBAO_JWT_CLIENT_ID), also set \
                         --jwt-org-id and --jwt-org-domain (HARMONY_OPENBAO_JWT_ORG_ID and \
                         HARMONY_OPENBAO_JWT_ORG_DOMAIN, printed by `cargo run -p example-zitadel`), \
                         so only users granted the harmony-developer role get in",
                    )
                    .exit()
            };
            Some(
                OpenbaoJwtAuth::for_issuer(
                    issuer,
                    client_id,
                    "harmony-developer",
                    vec!["harmony-dev".to_string()],
                )
                .require_zitadel_project_role(
                    HARMONY_DEVELOPER_ROLE,
                    &org_id,
                    &org_domain,
                ),
            )
        }
    };

    let openbao = OpenbaoScore {
        http_port,
        ..Default::default()
    };
    // The userpass user is kept by harmony_config: asked once (before anything runs), then
    // remembered. A plan or a listing only reads it, never asks.
    let userpass_credentials = if cli.run.plan || cli.run.list {
        harmony_config::get::<OpenbaoUserpassConfig>().await.ok()
    } else {
        Some(harmony_config::get_or_prompt::<OpenbaoUserpassConfig>().await?)
    };
    let setup = OpenbaoSetupScore {
        jwt: jwt.clone(),
        userpass_credentials,
        ..OpenbaoSetupScore::for_deployment(&openbao, cluster_name)
    };
    let scores: Vec<Box<dyn Score<K8sAnywhereTopology>>> =
        vec![Box::new(openbao.clone()), Box::new(setup.clone())];

    let maestro = Maestro::new(Inventory::empty(), topology);
    let mut out = std::io::stdout();
    let summary = maestro
        .run(&scores, &cli.run, &mut out)
        .await
        // Each cause once (anyhow's `Caused by:` would repeat what the message already says).
        .map_err(|e| anyhow::anyhow!(harmony::maestro::error_report(&e)))?;
    if summary.reports.is_empty() {
        return Ok(());
    }

    println!("\nOpenBao:");
    println!("  URL:          {}", openbao.external_url());
    println!("  /etc/hosts:   127.0.0.1 {}", openbao.host);
    println!(
        "  in cluster:   http://{}.{}.svc.cluster.local:8200",
        openbao.fullname(),
        openbao.namespace
    );
    println!(
        "  unseal keys + root token: Secret {}/{} (key init.json) and {}",
        setup.namespace,
        setup.init_secret_name(),
        setup.local_cache_path().display()
    );
    println!(
        "  userpass login: the user/password kept by harmony_config (OpenbaoUserpassConfig), policy harmony-dev"
    );
    println!(
        "  try: BAO_ADDR={} bao login -method=userpass username=<user>",
        openbao.external_url()
    );
    match &jwt {
        Some(jwt) => println!(
            "  SSO: jwt role {} trusts {} (audience {})",
            jwt.role,
            jwt.bound_issuer,
            jwt.bound_audiences.join(",")
        ),
        None => println!(
            "  SSO: off (pass --jwt-client-id or set HARMONY_OPENBAO_JWT_CLIENT_ID to trust Zitadel)"
        ),
    }
    Ok(())
}
