//! `harmony-config`: list, show, trace and reset the values `harmony_config` stores, the way
//! `vault kv` does for Vault.
//!
//! ```text
//! harmony-config list                 # keys, where each one lives, last update
//! harmony-config get Database         # the value as JSON, secret fields masked
//! harmony-config get Database --reveal
//! harmony-config where Database       # every source of the chain: set, shadowed, down
//! harmony-config reset Database       # remove it from every persisting source
//! ```
//!
//! Chain: Env → SQLite, or Env → OpenBao → SQLite with `--store openbao`, or by default when
//! `OPENBAO_URL` or `BAO_ADDR` is set (OpenBao configured as `OpenbaoSecretStore::from_env`).

mod mask;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use harmony_config::{
    ConfigManager, ConfigSource, EnvSource, Lookup, SqliteSource, StoreSource, env_var_name,
};
use harmony_secret::{OpenbaoSecretStore, SecretStoreError};

#[derive(Debug, Parser)]
#[command(name = "harmony-config", version, about, long_about = None)]
struct Cli {
    /// Which chain to use: `local` is env → SQLite, `openbao` is env → OpenBao → SQLite, `auto`
    /// picks `openbao` when OPENBAO_URL or BAO_ADDR is set.
    #[arg(long, env = "HARMONY_STORE", value_enum, default_value_t = StoreChoice::Auto, global = true)]
    store: StoreChoice,

    /// Namespace of the values in OpenBao (`{kv mount}/{namespace}/{key}`).
    #[arg(
        long,
        env = "HARMONY_STORE_NAMESPACE",
        default_value = "harmony",
        global = true
    )]
    namespace: String,

    /// The SQLite database [default: ~/.local/share/harmony/config/config.db].
    #[arg(long, value_name = "PATH", global = true)]
    db: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreChoice {
    Auto,
    Local,
    Openbao,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the stored keys with their source and last update.
    List,
    /// Print the value of KEY as JSON; secret fields are masked unless --reveal.
    Get {
        key: String,
        /// Print secret fields too.
        #[arg(long)]
        reveal: bool,
    },
    /// Say where the value of KEY comes from: each source of the chain, in order.
    Where { key: String },
    /// Remove KEY from every persisting source (SQLite, OpenBao), so the next run asks again.
    Reset { key: String },
}

/// The chain, with the concrete sources kept for what only they can do (listing, metadata).
struct Chain {
    sqlite: Arc<SqliteSource>,
    team: Option<Arc<StoreSource<OpenbaoSecretStore>>>,
    manager: ConfigManager,
}

impl Chain {
    async fn open(cli: &Cli) -> anyhow::Result<Chain> {
        let use_openbao = match cli.store {
            StoreChoice::Local => false,
            StoreChoice::Openbao => true,
            StoreChoice::Auto => ["OPENBAO_URL", "BAO_ADDR"]
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty())),
        };
        let team = if use_openbao {
            let store = OpenbaoSecretStore::from_env()
                .await
                .context("cannot use OpenBao (or run with --store local)")?;
            Some(Arc::new(StoreSource::new(cli.namespace.clone(), store)))
        } else {
            None
        };
        let sqlite = Arc::new(match &cli.db {
            Some(path) => SqliteSource::open(path).await?,
            None => SqliteSource::default().await?,
        });
        let mut sources: Vec<Arc<dyn ConfigSource>> = vec![Arc::new(EnvSource)];
        if let Some(team) = &team {
            sources.push(team.clone());
        }
        sources.push(sqlite.clone());
        Ok(Chain {
            sqlite,
            team,
            manager: ConfigManager::new(sources),
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("error")).init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            // Each cause once: the messages already name the cause they keep as source, which
            // anyhow's `{:#}` would print again.
            eprintln!(
                "error: {}",
                harmony_secret::error_report::error_report(e.as_ref())
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let chain = Chain::open(&cli).await?;
    match &cli.command {
        Command::List => list(&chain).await,
        Command::Get { key, reveal } => get(&chain, key, *reveal).await,
        Command::Where { key } => where_is(&chain, key).await,
        Command::Reset { key } => reset(&chain, key).await,
    }
}

struct Row {
    key: String,
    source: &'static str,
    updated: String,
}

async fn list(chain: &Chain) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    let mut failed = false;
    let mut legend = vec![(
        "env",
        "environment variables HARMONY_CONFIG_{KEY}".to_string(),
    )];

    let mut env_keys: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter_map(|name| name.strip_prefix("HARMONY_CONFIG_").map(str::to_string))
        .filter(|key| !key.is_empty())
        .collect();
    env_keys.sort();
    rows.extend(env_keys.into_iter().map(|key| Row {
        key,
        source: "env",
        updated: "-".to_string(),
    }));

    if let Some(team) = &chain.team {
        legend.push(("openbao", team.name()));
        match team.store().list(team.namespace()).await {
            Ok(keys) => rows.extend(keys.into_iter().map(|k| Row {
                key: k.key,
                source: "openbao",
                updated: k.updated_time.map_or("-".to_string(), |t| short_time(&t)),
            })),
            Err(e) => {
                failed = true;
                eprintln!("warning: cannot list {}: {e}", team.name());
            }
        }
    }

    legend.push(("sqlite", chain.sqlite.name()));
    rows.extend(chain.sqlite.entries().await?.into_iter().map(|e| {
        Row {
            key: e.key,
            source: "sqlite",
            updated: e
                .updated_at
                .map_or("unknown".to_string(), |t| format!("{t} UTC")),
        }
    }));

    let mut out = std::io::stdout().lock();
    for (label, name) in &legend {
        writeln!(out, "# {label:<7} = {name}")?;
    }
    if rows.is_empty() {
        writeln!(out, "(no values stored)")?;
        return Ok(code(failed));
    }
    let width = rows.iter().map(|r| r.key.len()).max().unwrap_or(3).max(3);
    writeln!(
        out,
        "{:<width$}  {:<7}  {:<23}  NOTE",
        "KEY", "SOURCE", "UPDATED"
    )?;
    // Chain order within a key: the first row of a key is the one `get` returns.
    let order = |s: &str| ["env", "openbao", "sqlite"].iter().position(|x| *x == s);
    rows.sort_by(|a, b| {
        a.key
            .cmp(&b.key)
            .then(order(a.source).cmp(&order(b.source)))
    });
    let mut previous: Option<(&str, &str)> = None;
    for row in &rows {
        let note = match previous {
            Some((key, winner)) if key == row.key => format!("shadowed by {winner}"),
            _ => String::new(),
        };
        if previous.is_none_or(|(key, _)| key != row.key) {
            previous = Some((&row.key, row.source));
        }
        let line = format!(
            "{:<width$}  {:<7}  {:<23}  {note}",
            row.key, row.source, row.updated
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(code(failed))
}

/// `2026-12-01T21:03:04.123456789Z` → `2026-12-01 21:03:04 UTC`.
fn short_time(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(t) if rfc3339.ends_with('Z') => format!("{} UTC", t.replace('T', " ")),
        _ => rfc3339.to_string(),
    }
}

fn code(failed: bool) -> ExitCode {
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn get(chain: &Chain, key: &str, reveal: bool) -> anyhow::Result<ExitCode> {
    let found = chain.manager.get_json_with_source(key).await?;
    let mut value = found.value;
    if !reveal {
        let recorded = if found.source == chain.sqlite.provenance(key) {
            chain
                .sqlite
                .entry(key)
                .await?
                .and_then(|e| e.secret_fields)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let masked = mask::mask(key, &mut value, &recorded);
        if !masked.is_empty() {
            eprintln!("masked: {} (--reveal shows them)", masked.join(", "));
        }
    }
    eprintln!("from: {}", found.source);
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(ExitCode::SUCCESS)
}

async fn where_is(chain: &Chain, key: &str) -> anyhow::Result<ExitCode> {
    println!("`{key}`, source by source in chain order:");
    let mut used: Option<String> = None;
    for (i, source) in chain.manager.sources().iter().enumerate() {
        let location = source.location(key);
        let state = match source.lookup(key).await {
            Ok(Lookup::Found(_)) => {
                let mut state = "set".to_string();
                if source.provenance(key) == chain.sqlite.provenance(key)
                    && let Some(entry) = chain.sqlite.entry(key).await?
                {
                    state = match entry.updated_at {
                        Some(t) => format!("stored, updated {t} UTC"),
                        None => "stored (update time unknown)".to_string(),
                    };
                }
                match &used {
                    None => {
                        used = Some(location.clone());
                        format!("{state}  <- used")
                    }
                    Some(_) => format!("{state}, shadowed by an earlier source"),
                }
            }
            Ok(Lookup::Missing) => "not set".to_string(),
            Ok(Lookup::Unavailable(reason)) => format!("UNAVAILABLE: {reason}"),
            Err(e) => format!("ERROR: {e}"),
        };
        println!("  {}. {location}: {state}", i + 1);
    }
    match used {
        Some(_) => Ok(ExitCode::SUCCESS),
        None => {
            eprintln!(
                "no value for `{key}` in any source: set {}='<json>', or run the program that \
                 asks for it",
                env_var_name(key)
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn reset(chain: &Chain, key: &str) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut removed = 0;
    for source in chain
        .manager
        .sources()
        .iter()
        .filter(|s| s.should_persist())
    {
        let location = source.location(key);
        match source.delete(key).await {
            Ok(true) => {
                removed += 1;
                println!("removed `{key}` from {location}");
            }
            Ok(false) => println!("`{key}` was not in {location}"),
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
                if let harmony_config::ConfigError::Store { source, .. } = &e
                    && matches!(**source, SecretStoreError::PermissionDenied { .. })
                {
                    eprintln!("  (your OpenBao policy must allow `delete` on the metadata path)");
                }
            }
        }
    }
    let var = env_var_name(key);
    if std::env::var_os(&var).is_some() {
        println!("note: {var} is set in this environment and still overrides; unset it too");
    }
    if removed == 0 && !failed {
        println!("nothing to remove: `{key}` is not stored");
    }
    Ok(code(failed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_after_the_subcommand_too() {
        let cli = Cli::try_parse_from([
            "harmony-config",
            "get",
            "Database",
            "--reveal",
            "--store",
            "local",
            "--db",
            "/tmp/x.db",
        ])
        .unwrap();
        assert_eq!(cli.store, StoreChoice::Local);
        assert_eq!(cli.db, Some(PathBuf::from("/tmp/x.db")));
        assert!(matches!(
            cli.command,
            Command::Get { ref key, reveal: true } if key == "Database"
        ));
        assert!(
            Cli::try_parse_from(["harmony-config", "get"]).is_err(),
            "KEY is required"
        );
    }
}
