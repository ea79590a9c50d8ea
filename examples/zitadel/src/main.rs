//! Deploys Zitadel alone onto the local k3d cluster (CloudNativePG database, pinned chart),
//! creates Harmony's project and device-code CLI app, and makes `zitadel.harmony.local`
//! resolve inside the cluster (CoreDNS rewrite) so OpenBao can later trust it as issuer.
//!
//! ```bash
//! cargo run -p example-zitadel            # shows the plan, asks before running; --yes to skip
//! cargo run -p example-zitadel -- --plan  # only shows what it would change
//! ```
//! Only users granted the project role `harmony-developer` can log in; list them (user names
//! or emails, comma separated) with `--grant-to` (or `HARMONY_ZITADEL_GRANT_TO`), or grant the
//! role in the console. `--help` lists every flag.

use clap::Parser;
use harmony::infra::k8s_anywhere::K8sAnywhereTopology;
use harmony::inventory::Inventory;
use harmony::maestro::{Args, Maestro};
use harmony::modules::k8s::coredns::CoreDNSRewriteScore;
use harmony::modules::zitadel::{ZitadelScore, ZitadelSetupScore};
use harmony::score::Score;

/// Deploys Zitadel onto the local k3d cluster with Harmony's project and device-code CLI app.
/// The HTTP port is HARMONY_HTTP_PORT (default 8080).
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    run: Args,
    /// Users (user names or emails, comma separated) to grant the project role
    /// `harmony-developer`; others can not log in until granted in the console.
    #[arg(
        long,
        env = "HARMONY_ZITADEL_GRANT_TO",
        value_name = "USERS",
        value_delimiter = ','
    )]
    grant_to: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    env_logger::init();
    let cli = Cli::parse();
    let topology = K8sAnywhereTopology::from_env();

    // One port (HARMONY_HTTP_PORT, default 8080): k3d's ingress mapping, Zitadel's
    // ExternalPort and its Service port, so the issuer URL works from the host and from pods.
    let zitadel = ZitadelScore {
        k3d_http_port: topology.config().k3d.http_port,
        ..Default::default()
    };
    let setup = ZitadelSetupScore {
        grant_to: cli
            .grant_to
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .collect(),
        ..ZitadelSetupScore::for_deployment(&zitadel)
    };
    let dns = CoreDNSRewriteScore::new(vec![(zitadel.host.clone(), zitadel.service_fqdn())]);
    let scores: Vec<Box<dyn Score<K8sAnywhereTopology>>> = vec![
        Box::new(zitadel.clone()),
        Box::new(dns),
        Box::new(setup.clone()),
    ];

    let maestro = Maestro::new(Inventory::empty(), topology);
    let mut out = std::io::stdout();
    let summary = maestro
        .run(&scores, &cli.run, &mut out)
        .await
        // Each cause once (anyhow's `Caused by:` would repeat what the message already says).
        .map_err(|e| anyhow::anyhow!(harmony::maestro::error_report(&e)))?;
    let Some(setup_report) = summary
        .reports
        .iter()
        .find(|r| r.score.starts_with("ZitadelSetupScore"))
    else {
        return Ok(());
    };

    println!("\nZitadel:");
    println!(
        "  URL:        http://{}:{}",
        zitadel.host, zitadel.k3d_http_port
    );
    println!("  /etc/hosts: 127.0.0.1 {}", zitadel.host);
    println!("  login name: {}", zitadel.admin_login_name());
    println!(
        "  password:   kubectl -n {} get secret {} -o jsonpath='{{.data.password}}' | base64 -d",
        zitadel.namespace,
        zitadel.admin_secret_name()
    );
    println!(
        "  machine PAT: Secret {}/iam-admin-pat (key pat)",
        zitadel.namespace
    );
    for key in ["project_id", "client_id", "org_id", "org_domain", "access"] {
        if let Some(value) = setup_report.details.get(key) {
            println!("  {key}: {value}");
        }
    }
    println!(
        "  OpenBao SSO: HARMONY_OPENBAO_JWT_CLIENT_ID=<client_id> HARMONY_OPENBAO_JWT_ORG_ID=<org_id> \
         HARMONY_OPENBAO_JWT_ORG_DOMAIN=<org_domain> cargo run -p example-openbao"
    );
    Ok(())
}
