//! `cargo run -p harmony_sso`: deploy OpenBao + Zitadel on k3d (or use an existing stack), sign
//! in with the device flow, store and read back config. See `docs/sso-stack.md`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow};
use clap::Parser;
use harmony::infra::existing_stack::ExistingStackTopology;
use harmony::infra::k3d::check_docker;
use harmony::infra::k8s_anywhere::K8sAnywhereTopology;
use harmony::inventory::Inventory;
use harmony::maestro::{Args, Maestro, MaestroError};
use harmony::score::Score;
use harmony::topology::{IdentityProvider, SecretVault, Topology};
use harmony_sso::cli::{Cli, EXISTING_STACK_HINT, Mode};
use harmony_sso::session::{self, StackFile};
use harmony_sso::sso_loop::{Connection, LoopSettings, ServerTls, SsoConfigLoopScore};

#[tokio::main]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Each cause once: Harmony's messages already name the cause they keep as source.
            eprintln!("error: {}", harmony::maestro::error_report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: &Cli, mode: &Mode) -> LoopSettings {
    let (mode_name, sso, resolve_to) = match mode {
        Mode::LocalK3d { skip_zitadel } => (
            if *skip_zitadel {
                "local k3d stack, OpenBao only"
            } else {
                "local k3d stack"
            },
            !skip_zitadel,
            Some(K8sAnywhereTopology::from_env().sso_stack().ingress_addr()),
        ),
        Mode::Existing(_) => ("existing stack", true, None),
    };
    LoopSettings {
        mode_name: mode_name.to_string(),
        sso,
        yes: cli.yes,
        open_browser: cli.no_browser.then_some(false),
        resolve_to,
        kv_mount: cli.stack.kv_mount.clone(),
        jwt_role: cli.stack.jwt_role.clone(),
        project: "harmony".to_string(),
        client_name: "harmony-cli".to_string(),
        session_dir: std::env::var_os("HARMONY_SESSION_DIR")
            .filter(|d| !d.is_empty())
            .map(Into::into),
        sqlite_path: None,
        // Only the local stack is remembered: `--cleanup` logs out of the stack this file
        // names, and an existing stack is never touched by it.
        stack_file: matches!(mode, Mode::LocalK3d { .. }).then(StackFile::default_path),
        tls: match mode {
            Mode::Existing(c) => ServerTls::of(c),
            Mode::LocalK3d { .. } => ServerTls::default(),
        },
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let started = Instant::now();
    let mode = cli.mode().map_err(anyhow::Error::msg)?;
    let settings = settings(&cli, &mode);

    if let Some(command) = &cli.command {
        let conn = match &mode {
            Mode::Existing(c) => Connection {
                openbao_url: c.openbao_url.clone(),
                kv_mount: c.kv_mount.clone(),
                issuer: Some(c.issuer.clone()),
                client_id: Some(c.client_id.clone()),
                jwt_role: c.jwt_role.clone(),
                jwt_mount: c.jwt_mount.clone(),
                resolve_to: None,
                tls: ServerTls::of(c),
            },
            Mode::LocalK3d { .. } => {
                StackFile::load(&StackFile::default_path()).map_err(anyhow::Error::msg)?
            }
        };
        let text = session::run_command(command, &conn, &settings)
            .await
            .map_err(anyhow::Error::msg)?;
        println!("{text}");
        return Ok(());
    }

    match mode {
        Mode::LocalK3d { .. } => {
            let topology = K8sAnywhereTopology::from_env();
            if topology.config().use_local_k3d {
                check_docker().await.map_err(|e| {
                    anyhow!(
                        "{e}\n\nThe local stack needs a running Docker engine. To use an existing OpenBao + OpenID provider instead:\n  {EXISTING_STACK_HINT}"
                    )
                })?;
            }
            if cli.cleanup {
                return cleanup(&topology, &settings, cli.cluster, cli.yes).await;
            }
            if !settings.sso && cli.yes {
                userpass_default().await?;
            }
            let urls = local_urls(&topology, settings.sso);
            run_loop(topology, settings, cli.yes, started, urls).await
        }
        Mode::Existing(config) => {
            let topology = ExistingStackTopology::new(*config)?;
            // Nothing is deployed: no confirmation to ask.
            run_loop(topology, settings, true, started, Vec::new()).await
        }
    }
}

/// What a person opens in the browser on the local stack (no secret: where to find them).
fn local_urls(topology: &K8sAnywhereTopology, sso: bool) -> Vec<(String, String)> {
    let stack = topology.sso_stack();
    let mut urls = vec![(
        "OpenBao UI".to_string(),
        format!("{}/ui", stack.openbao.external_url()),
    )];
    if sso {
        let z = &stack.zitadel;
        urls.push((
            "Zitadel console".to_string(),
            format!("{}/ui/console", stack.issuer()),
        ));
        urls.push((
            "Zitadel admin".to_string(),
            format!(
                "{} (password: kubectl -n {} get secret {} -o jsonpath='{{.data.password}}' | base64 -d)",
                z.admin_login_name(),
                z.namespace,
                z.admin_secret_name()
            ),
        ));
    }
    urls
}

/// `--skip-zitadel --yes`: no question, so the OpenBao userpass user takes a default (user
/// `harmony`, a random password) unless harmony_config already has one.
async fn userpass_default() -> anyhow::Result<()> {
    use harmony::modules::openbao::OpenbaoUserpassConfig;
    match harmony_config::get::<OpenbaoUserpassConfig>().await {
        Ok(_) => Ok(()),
        Err(harmony_config::ConfigError::NotFound { .. }) => {
            let generated = harmony_sso::app_config::DemoDatabase::generated().password;
            let location = harmony_config::set(&OpenbaoUserpassConfig {
                username: "harmony".to_string(),
                password: generated,
            })
            .await?;
            eprintln!(
                "==> OpenBao userpass user `harmony` with a generated password, kept in {location}"
            );
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn run_loop<T: Topology + SecretVault + IdentityProvider + 'static>(
    topology: T,
    settings: LoopSettings,
    yes: bool,
    started: Instant,
    urls: Vec<(String, String)>,
) -> anyhow::Result<()> {
    let score = SsoConfigLoopScore::new(settings);
    let scores: Vec<Box<dyn Score<T>>> = vec![Box::new(score.clone())];
    let maestro = Maestro::new(Inventory::empty(), topology);
    let args = Args {
        yes,
        ..Default::default()
    };
    let mut out = std::io::stdout();
    let result = maestro.run(&scores, &args, &mut out).await;
    match result {
        Ok(_) => {}
        Err(MaestroError::ScoresFailed { summary, .. }) => {
            let reason = summary
                .reports
                .iter()
                .find(|r| r.result == harmony::maestro::ScoreResult::Failed)
                .map(|r| r.message.clone())
                .unwrap_or_default();
            return Err(anyhow!("{reason}"));
        }
        Err(e) => return Err(e.into()),
    }
    let mut report = score
        .take_report()
        .context("the loop finished without a report")?;
    report.urls = urls;
    report.wall_time = started.elapsed();
    print!("{}", report.render());
    Ok(())
}

async fn cleanup(
    topology: &K8sAnywhereTopology,
    settings: &LoopSettings,
    cluster: bool,
    yes: bool,
) -> anyhow::Result<()> {
    use harmony::maestro::{Confirm, TerminalConfirm};
    let what = if cluster {
        "delete the k3d cluster and harmony_sso's local caches"
    } else {
        "remove OpenBao, Zitadel (with its database) and harmony_sso's local caches"
    };
    if !yes && !TerminalConfirm::detect().confirm(&format!("This will {what}. Go on?"))? {
        return Err(MaestroError::Declined.into());
    }
    for line in harmony_sso::cleanup::run(topology, settings, cluster)
        .await
        .map_err(anyhow::Error::msg)?
    {
        println!("  {line}");
    }
    println!("cleanup done");
    Ok(())
}
