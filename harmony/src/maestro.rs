//! The runner: selects Scores, asks for confirmation, prepares the topology once, runs the
//! Scores in order and prints a summary.
//!
//! ```no_run
//! # use harmony::{infra::k8s_anywhere::K8sAnywhereTopology, inventory::Inventory};
//! # use harmony::modules::postgresql::PostgreSQLScore;
//! # use harmony::topology::PostgreSQLConfig;
//! # async fn demo() -> Result<(), harmony::maestro::MaestroError> {
//! let scores: Vec<Box<dyn harmony::score::Score<K8sAnywhereTopology>>> =
//!     vec![Box::new(PostgreSQLScore::new(PostgreSQLConfig::new("app-pg", "app")))];
//! harmony::run(Inventory::empty(), K8sAnywhereTopology::from_env(), scores, None).await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use crate::interpret::InterpretStatus;
use crate::inventory::Inventory;
use crate::plan::ChangeKind;
use crate::score::Score;
use crate::topology::{PreparationError, PreparationOutcome, Topology};

/// The runner's command-line flags (`--list`, `--plan`, `--yes`, `--filter`).
///
/// A binary with only these flags parses them with [`clap::Parser::parse`] (`--help` prints the
/// usage and exits 0; an unknown or incomplete flag prints clap's error and exits 2), or lets
/// [`run`] do it. A binary with flags of its own puts them next to these with
/// `#[command(flatten)] run: harmony::maestro::Args` in its own `clap::Parser`. A flag may be
/// given twice (e.g. by a wrapper script and by the user); the last `--filter` wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Parser)]
#[command(about = "Runs Harmony Scores: shows the plan, asks, then applies it")]
pub struct Args {
    /// Run without asking for confirmation.
    #[arg(short, long, overrides_with = "yes")]
    pub yes: bool,
    /// List the Scores that would run, then exit; changes nothing.
    #[arg(short, long, overrides_with = "list")]
    pub list: bool,
    /// Only Scores whose name contains TEXT.
    #[arg(short, long, value_name = "TEXT", overrides_with = "filter")]
    pub filter: Option<String>,
    /// Show what each Score would change (+ create, ~ change, = unchanged), then exit; changes
    /// nothing and does not prepare the topology.
    #[arg(short, long, overrides_with = "plan")]
    pub plan: bool,
}

/// How a Score ended, as shown in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreResult {
    /// The Score changed something (it created or updated what it manages).
    Changed,
    /// Everything was already as the Score wants it; nothing was written.
    Unchanged,
    /// The Score does not apply here (e.g. not for this Kubernetes distribution).
    Skipped,
    /// The Score failed; the message says why.
    Failed,
    /// Not run because an earlier Score failed (later Scores may depend on it).
    NotRun,
}

impl std::fmt::Display for ScoreResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ScoreResult::Changed => "changed",
            ScoreResult::Unchanged => "unchanged",
            ScoreResult::Skipped => "skipped",
            ScoreResult::Failed => "failed",
            ScoreResult::NotRun => "not run",
        })
    }
}

/// One line of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreReport {
    /// The Score's name ([`Score::name`]).
    pub score: String,
    /// How it ended.
    pub result: ScoreResult,
    /// What it did, or why it failed or did not run.
    pub message: String,
    /// Facts worth printing (URLs, ids), shown indented under the line.
    pub details: BTreeMap<String, String>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// The topology's name ([`Topology::name`]).
    pub topology: String,
    /// `None` when the topology was not prepared (`--list`, nothing selected).
    pub preparation: Option<PreparationOutcome>,
    /// One report per selected Score, in run order (empty for `--list` and `--plan`).
    pub reports: Vec<ScoreReport>,
}

impl RunSummary {
    /// How many Scores ended with `result`.
    pub fn count(&self, result: ScoreResult) -> usize {
        self.reports.iter().filter(|r| r.result == result).count()
    }

    /// The human summary printed at the end of a run.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\nSummary ({}):", self.topology);
        match &self.preparation {
            Some(PreparationOutcome::Success { details }) => {
                let _ = writeln!(out, "  topology prepared: {details}");
            }
            Some(PreparationOutcome::Noop) => {
                let _ = writeln!(out, "  topology already ready");
            }
            None => {}
        }
        for r in &self.reports {
            let _ = writeln!(
                out,
                "  [{:<9}] {}: {}",
                r.result.to_string(),
                r.score,
                r.message
            );
            for (k, v) in &r.details {
                let _ = writeln!(out, "               {k}: {v}");
            }
        }
        let _ = write!(
            out,
            "{} score(s): {} changed, {} unchanged, {} skipped, {} failed",
            self.reports.len(),
            self.count(ScoreResult::Changed),
            self.count(ScoreResult::Unchanged),
            self.count(ScoreResult::Skipped),
            self.count(ScoreResult::Failed)
        );
        let not_run = self.count(ScoreResult::NotRun);
        if not_run > 0 {
            let _ = write!(out, ", {not_run} not run");
        }
        out.push('\n');
        out
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum MaestroError {
    /// Confirmation is needed but standard input is not a terminal (re-run with `--yes`).
    #[error(
        "refusing to make changes without confirmation: standard input is not a terminal, so nobody can answer; re-run with --yes"
    )]
    NoTerminal,
    /// The person answered no; nothing was changed.
    #[error("cancelled: nothing was changed")]
    Declined,
    /// The topology could not be prepared (e.g. Docker missing); no Score ran.
    #[error(transparent)]
    Preparation(#[from] PreparationError),
    /// A Score failed (or could not ask its questions); the run stopped there.
    #[error("{failed} of {total} score(s) failed (see the summary above)")]
    ScoresFailed {
        /// How many Scores failed.
        failed: usize,
        /// How many Scores were selected.
        total: usize,
        /// The whole run, as printed.
        summary: Box<RunSummary>,
    },
    /// Writing progress or the summary failed (e.g. a closed pipe), or reading the answer.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

/// Asks whether to go ahead.
pub trait Confirm: Send + Sync {
    /// Asks `question` (a yes/no question) and returns the answer.
    fn confirm(&self, question: &str) -> Result<bool, MaestroError>;

    /// Whether every question is answered without anybody reading it (`--yes`): a Score then
    /// refuses what only a person who knows the situation should accept.
    fn answers_automatically(&self) -> bool {
        false
    }

    /// Whether anybody can answer; when not, the runner refuses before planning. Default: yes.
    fn can_ask(&self) -> bool {
        true
    }
}

/// Asks on the terminal (`[y/N]`); refuses when stdin is not a terminal instead of hanging.
#[derive(Debug, Clone, Copy)]
pub struct TerminalConfirm {
    /// Whether standard input is a terminal somebody can answer on.
    pub interactive: bool,
}

impl TerminalConfirm {
    /// Asks on the terminal when standard input is one.
    pub fn detect() -> Self {
        Self {
            interactive: std::io::stdin().is_terminal(),
        }
    }
}

impl Confirm for TerminalConfirm {
    fn can_ask(&self) -> bool {
        self.interactive
    }

    fn confirm(&self, question: &str) -> Result<bool, MaestroError> {
        if !self.interactive {
            return Err(MaestroError::NoTerminal);
        }
        eprint!("{question} [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(matches!(
            answer.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }
}

/// Answers yes to every question (`--yes`).
#[derive(Debug, Clone, Copy)]
pub struct AssumeYes;

impl Confirm for AssumeYes {
    fn confirm(&self, _question: &str) -> Result<bool, MaestroError> {
        Ok(true)
    }

    fn answers_automatically(&self) -> bool {
        true
    }
}

tokio::task_local! {
    /// Who answers the questions a Score asks while it runs (set by [`Maestro::run`]).
    static RUN_CONFIRM: Arc<dyn Confirm>;
}

/// Asks the person running the Scores, from inside a Score (e.g. before repairing a stuck
/// Helm release). Under [`Maestro::run`] the runner's confirmation answers, and `--yes` answers
/// yes; elsewhere the terminal is asked (refused without one). Spinners are hidden meanwhile.
pub fn confirm_during_run(question: &str) -> Result<bool, MaestroError> {
    crate::progress::suspend(|| {
        RUN_CONFIRM
            .try_with(|c| c.confirm(question))
            .unwrap_or_else(|_| TerminalConfirm::detect().confirm(question))
    })
}

/// Whether [`confirm_during_run`] answers without asking anybody (`--yes`).
pub fn run_answers_automatically() -> bool {
    RUN_CONFIRM
        .try_with(|c| c.answers_automatically())
        .unwrap_or(false)
}

/// Runs Scores on one topology.
pub struct Maestro<T: Topology> {
    inventory: Inventory,
    topology: T,
    confirm: Arc<dyn Confirm>,
}

impl<T: Topology> Maestro<T> {
    /// A runner for `topology` that asks on the terminal (see [`Maestro::with_confirm`]).
    pub fn new(inventory: Inventory, topology: T) -> Self {
        Self {
            inventory,
            topology,
            confirm: Arc::new(TerminalConfirm::detect()),
        }
    }

    /// Replaces the terminal prompt (tests, GUIs).
    pub fn with_confirm(mut self, confirm: impl Confirm + 'static) -> Self {
        self.confirm = Arc::new(confirm);
        self
    }

    /// The topology the Scores run on.
    pub fn topology(&self) -> &T {
        &self.topology
    }

    /// Lists, or confirms, asks every selected Score's questions ([`crate::interpret::Interpret::prepare`]),
    /// then prepares the topology and runs the selected Scores in order,
    /// writing progress and the summary to `out`. The first failing Score stops the run: later
    /// Scores often build on earlier ones (a DNS rewrite for a service that failed to deploy),
    /// so they are reported as "not run" and the run ends with [`MaestroError::ScoresFailed`].
    pub async fn run(
        &self,
        scores: &[Box<dyn Score<T>>],
        args: &Args,
        out: &mut (dyn Write + Send),
    ) -> Result<RunSummary, MaestroError> {
        let topology = self.topology.name().to_string();
        let selected: Vec<&Box<dyn Score<T>>> = scores
            .iter()
            .filter(|s| {
                args.filter
                    .as_ref()
                    .is_none_or(|f| s.name().contains(f.as_str()))
            })
            .collect();

        if args.list {
            writeln!(out, "Scores for topology {topology}:")?;
            for s in &selected {
                writeln!(out, "  {}", s.name())?;
            }
            return Ok(RunSummary {
                topology,
                preparation: None,
                reports: vec![],
            });
        }
        if selected.is_empty() {
            writeln!(out, "No score to run (filter {:?}).", args.filter)?;
            return Ok(RunSummary {
                topology,
                preparation: None,
                reports: vec![],
            });
        }

        let interprets: Vec<_> = selected
            .iter()
            .map(|s| (s.name(), s.create_interpret()))
            .collect();

        if args.plan {
            writeln!(
                out,
                "Plan for topology {topology} (nothing is changed; the topology is not prepared):"
            )?;
            self.write_plans(&interprets, out).await?;
            return Ok(RunSummary {
                topology,
                preparation: None,
                reports: vec![],
            });
        }

        if !args.yes {
            if !self.confirm.can_ask() {
                return Err(MaestroError::NoTerminal);
            }
            writeln!(out, "About to run on topology {topology}:")?;
            self.write_plans(&interprets, out).await?;
            out.flush()?;
            let question = format!("Run {} score(s)?", selected.len());
            if !self.confirm.confirm(&question)? {
                return Err(MaestroError::Declined);
            }
        }

        // Questions first (credentials...), before any long wait.
        for (i, (name, interpret)) in interprets.iter().enumerate() {
            if let Err(e) = interpret.prepare(&self.inventory).await {
                let reports = interprets
                    .iter()
                    .enumerate()
                    .map(|(j, (other, _))| ScoreReport {
                        score: other.clone(),
                        result: if i == j {
                            ScoreResult::Failed
                        } else {
                            ScoreResult::NotRun
                        },
                        message: if i == j {
                            format!("before running: {e}")
                        } else {
                            format!("not run: preparing {name} failed")
                        },
                        details: BTreeMap::new(),
                    })
                    .collect();
                let summary = RunSummary {
                    topology,
                    preparation: None,
                    reports,
                };
                write!(out, "{}", summary.render())?;
                return Err(MaestroError::ScoresFailed {
                    failed: 1,
                    total: summary.reports.len(),
                    summary: Box::new(summary),
                });
            }
        }

        let spinner = crate::progress::spinner(format!("preparing topology {topology}"));
        let preparation = self.topology.ensure_ready().await;
        spinner.finish_and_clear();
        let preparation = preparation?;
        if let PreparationOutcome::Success { details } = &preparation {
            writeln!(out, "Topology {topology} prepared: {details}")?;
        }

        let mut reports = Vec::with_capacity(selected.len());
        let mut failed_score: Option<String> = None;
        for (name, interpret) in interprets {
            if let Some(failed) = &failed_score {
                let report = ScoreReport {
                    score: name,
                    result: ScoreResult::NotRun,
                    message: format!("not run: an earlier Score failed ({failed})"),
                    details: BTreeMap::new(),
                };
                writeln!(
                    out,
                    "{} {}: {}",
                    report.result, report.score, report.message
                )?;
                reports.push(report);
                continue;
            }
            let spinner = crate::progress::spinner(format!("running {name}"));
            let answers: Arc<dyn Confirm> = if args.yes {
                Arc::new(AssumeYes)
            } else {
                self.confirm.clone()
            };
            let result = RUN_CONFIRM
                .scope(answers, interpret.execute(&self.inventory, &self.topology))
                .await;
            spinner.finish_and_clear();
            let report = match result {
                Ok(outcome) => ScoreReport {
                    score: name,
                    result: match outcome.status {
                        InterpretStatus::Success => ScoreResult::Changed,
                        InterpretStatus::Noop => ScoreResult::Unchanged,
                        InterpretStatus::Skipped => ScoreResult::Skipped,
                    },
                    message: outcome.message,
                    details: outcome.details,
                },
                Err(e) => ScoreReport {
                    score: name,
                    result: ScoreResult::Failed,
                    message: e.to_string(),
                    details: BTreeMap::new(),
                },
            };
            writeln!(
                out,
                "{} {}: {}",
                report.result, report.score, report.message
            )?;
            if report.result == ScoreResult::Failed {
                failed_score = Some(report.score.clone());
            }
            reports.push(report);
        }
        let summary = RunSummary {
            topology,
            preparation: Some(preparation),
            reports,
        };
        write!(out, "{}", summary.render())?;
        let failed = summary.count(ScoreResult::Failed);
        if failed > 0 {
            return Err(MaestroError::ScoresFailed {
                failed,
                total: summary.reports.len(),
                summary: Box::new(summary),
            });
        }
        Ok(summary)
    }
}

impl<T: Topology> Maestro<T> {
    /// Each Score's [`crate::interpret::Interpret::plan`], written as `terraform plan`-like lines.
    /// A Score whose plan fails is shown with the reason; the others are still planned.
    async fn write_plans(
        &self,
        interprets: &[(String, Box<dyn crate::interpret::Interpret<T>>)],
        out: &mut (dyn Write + Send),
    ) -> Result<(), MaestroError> {
        let mut totals = [0usize; 4];
        let mut unknown = 0usize;
        for (name, interpret) in interprets {
            let spinner = crate::progress::spinner(format!("planning {name}"));
            let plan = interpret.plan(&self.inventory, &self.topology).await;
            spinner.finish_and_clear();
            writeln!(out, "  {name}:")?;
            match plan {
                Ok(plan) => {
                    write!(out, "{}", plan.render("    "))?;
                    totals[0] += plan.count(ChangeKind::Create);
                    totals[1] += plan.count(ChangeKind::Change);
                    totals[2] += plan.count(ChangeKind::Unchanged);
                    totals[3] += plan.count(ChangeKind::Delete);
                    unknown +=
                        plan.count(ChangeKind::Unknown) + usize::from(plan.unsupported.is_some());
                }
                Err(e) => {
                    unknown += 1;
                    writeln!(out, "    ? unknown   (cannot plan: {e})")?
                }
            }
        }
        write!(
            out,
            "Plan: {} to create, {} to change, {} to delete, {} unchanged",
            totals[0], totals[1], totals[3], totals[2]
        )?;
        if unknown > 0 {
            write!(out, ", {unknown} unknown")?;
        }
        writeln!(out, ".")?;
        Ok(())
    }
}

/// Also used by the `harmony-config` CLI, which does not depend on this crate.
pub use harmony_secret::error_report::error_report;

/// The entry point of a Harmony binary: runs the Scores on `topology` and prints to stdout.
///
/// Without `args`, the command line is parsed as [`Args`]: `--help` prints the usage and
/// exits 0, an unknown flag prints the error and exits 2.
pub async fn run<T: Topology>(
    inventory: Inventory,
    topology: T,
    scores: Vec<Box<dyn Score<T>>>,
    args: Option<Args>,
) -> Result<RunSummary, MaestroError> {
    let args = args.unwrap_or_else(<Args as clap::Parser>::parse);
    let mut stdout = std::io::stdout();
    Maestro::new(inventory, topology)
        .run(&scores, &args, &mut stdout)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A preparation failure keeps the k3d error as its source (twice wrapped): printed at
    /// exit, each message appears once, and the OS error under it is still there.
    #[test]
    fn error_report_names_each_cause_once() {
        let k3d = crate::infra::k3d::K3dError::Spawn {
            program: "/opt/k3d".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let err = MaestroError::from(PreparationError::from(k3d));
        let report = error_report(&err);
        assert_eq!(report.matches("running /opt/k3d").count(), 1, "{report}");
        assert_eq!(report.matches("permission denied").count(), 1, "{report}");
        assert!(
            report.starts_with("could not prepare the topology: running /opt/k3d"),
            "{report}"
        );
        // What a plain chain printer shows for the same error.
        let mut plain = err.to_string();
        let mut cause = std::error::Error::source(&err);
        while let Some(e) = cause {
            plain = format!("{plain}: {e}");
            cause = e.source();
        }
        assert!(plain.matches("running /opt/k3d").count() > 1, "{plain}");
    }

    #[test]
    fn parses_flags() {
        use clap::Parser;
        use clap::error::ErrorKind;
        let parse = |flags: &[&str]| {
            Args::try_parse_from(std::iter::once("harmony-bin").chain(flags.iter().copied()))
        };
        assert_eq!(
            parse(&["--yes", "--filter", "pg", "-l"]).unwrap(),
            Args {
                yes: true,
                list: true,
                filter: Some("pg".into()),
                plan: false,
            }
        );
        assert_eq!(
            parse(&["-p", "-y", "-f", "db"]).unwrap(),
            Args {
                yes: true,
                list: false,
                filter: Some("db".into()),
                plan: true,
            }
        );
        assert_eq!(
            parse(&["--filter=bao"]).unwrap().filter.as_deref(),
            Some("bao")
        );
        assert_eq!(parse(&[]).unwrap(), Args::default());

        let missing = parse(&["--filter"]).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::InvalidValue);
        assert!(missing.to_string().contains("--filter <TEXT>"), "{missing}");
        assert_eq!(missing.exit_code(), 2);

        let unknown = parse(&["--frobnicate"]).unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::UnknownArgument);
        assert!(unknown.to_string().contains("'--frobnicate'"), "{unknown}");
        assert_eq!(unknown.exit_code(), 2);
    }

    #[test]
    fn help_lists_every_flag_and_exits_zero() {
        use clap::Parser;
        let help = Args::try_parse_from(["harmony-bin", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert_eq!(help.exit_code(), 0);
        let text = help.to_string();
        for flag in [
            "-y, --yes",
            "-l, --list",
            "-p, --plan",
            "-f, --filter <TEXT>",
            "-h, --help",
        ] {
            assert!(text.contains(flag), "{flag} missing from:\n{text}");
        }
        assert!(text.contains("Usage: harmony-bin [OPTIONS]"), "{text}");
    }

    /// The hand-written parser this replaced accepted a flag given twice (a wrapper script's
    /// `--yes` plus the user's), the last `--filter` winning; clap refuses repeats by default.
    #[test]
    fn a_repeated_flag_is_accepted_and_the_last_filter_wins() {
        use clap::Parser;
        let args = Args::try_parse_from([
            "harmony-bin",
            "--yes",
            "-y",
            "-l",
            "--list",
            "-p",
            "--plan",
            "--filter",
            "pg",
            "-f",
            "bao",
        ])
        .unwrap();
        assert_eq!(
            args,
            Args {
                yes: true,
                list: true,
                filter: Some("bao".into()),
                plan: true,
            }
        );

        // Also when a binary flattens the runner's flags into its own parser.
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            run: Args,
        }
        let cli = Cli::try_parse_from(["example", "--yes", "--yes", "-f", "a", "-f", "b"]).unwrap();
        assert!(cli.run.yes);
        assert_eq!(cli.run.filter.as_deref(), Some("b"));
    }
    #[test]
    fn terminal_confirm_refuses_without_a_terminal() {
        let err = TerminalConfirm { interactive: false }
            .confirm("Run?")
            .unwrap_err();
        assert!(matches!(err, MaestroError::NoTerminal));
        assert!(err.to_string().contains("--yes"));
    }
}
