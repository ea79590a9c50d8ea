//! The runner against a recording test topology: order, summary, --list, stop at the first
//! failure, confirmation.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use harmony::interpret::{Interpret, InterpretError, Outcome};
use harmony::inventory::Inventory;
use harmony::maestro::{Args, Confirm, Maestro, MaestroError, ScoreResult, TerminalConfirm};
use harmony::plan::{KeyChange, Plan, PlannedChange};
use harmony::score::Score;
use harmony::topology::{PreparationError, PreparationOutcome, Topology};

/// Records what happened, in order.
#[derive(Clone, Default)]
struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    fn push(&self, e: impl Into<String>) {
        self.0.lock().unwrap().push(e.into());
    }
    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct TestTopology {
    journal: Journal,
    fail_preparation: bool,
}

#[async_trait]
impl Topology for TestTopology {
    fn name(&self) -> &str {
        "TestTopology"
    }
    async fn ensure_ready(&self) -> Result<PreparationOutcome, PreparationError> {
        self.journal.push("ensure_ready");
        if self.fail_preparation {
            return Err(PreparationError::new("Docker is not installed"));
        }
        Ok(PreparationOutcome::Success {
            details: "test cluster started".into(),
        })
    }
}

#[derive(Clone)]
enum Behaviour {
    Change,
    Nothing,
    Skip,
    Fail,
    /// Asks a question in `prepare`.
    Ask,
    /// `prepare` fails (e.g. the prompt was cancelled).
    FailToAsk,
}

#[derive(Clone)]
struct TestScore {
    name: &'static str,
    behaviour: Behaviour,
    journal: Journal,
}

impl Score<TestTopology> for TestScore {
    fn name(&self) -> String {
        self.name.to_string()
    }
    fn create_interpret(&self) -> Box<dyn Interpret<TestTopology>> {
        Box::new(self.clone())
    }
}

#[async_trait]
impl Interpret<TestTopology> for TestScore {
    async fn execute(&self, _: &Inventory, _: &TestTopology) -> Result<Outcome, InterpretError> {
        self.journal.push(format!("execute {}", self.name));
        match self.behaviour {
            Behaviour::Change => {
                Ok(Outcome::success("created it").with_detail("url", "http://x.local:8080"))
            }
            Behaviour::Nothing => Ok(Outcome::noop("already there")),
            Behaviour::Skip => Ok(Outcome::skipped("not for this distribution")),
            Behaviour::Fail => Err(InterpretError::Timeout {
                what: "Deployment ns/app to be Available".into(),
                seconds: 300,
            }),
            Behaviour::Ask | Behaviour::FailToAsk => Ok(Outcome::success("used the answer")),
        }
    }

    async fn plan(&self, _: &Inventory, _: &TestTopology) -> Result<Plan, InterpretError> {
        self.journal.push(format!("plan {}", self.name));
        Ok(Plan::new(vec![match self.behaviour {
            Behaviour::Nothing => PlannedChange::unchanged(format!("object of {}", self.name)),
            Behaviour::Fail => {
                return Err(InterpretError::Capability("cluster unreachable".into()));
            }
            _ => PlannedChange::change(
                format!("object of {}", self.name),
                vec![KeyChange {
                    key: "db.password".into(),
                    from: Some("(sensitive)".into()),
                    to: Some("(sensitive)".into()),
                }],
            ),
        }]))
    }

    async fn prepare(&self, _: &Inventory) -> Result<(), InterpretError> {
        match self.behaviour {
            Behaviour::Ask => {
                self.journal.push(format!("ask {}", self.name));
                Ok(())
            }
            Behaviour::FailToAsk => Err(InterpretError::Other("prompt cancelled".into())),
            _ => Ok(()),
        }
    }
}

struct Answer(bool, Journal);
impl Confirm for Answer {
    fn confirm(&self, question: &str) -> Result<bool, MaestroError> {
        self.1.push(format!("asked: {question}"));
        Ok(self.0)
    }
}

fn setup(
    behaviours: &[(&'static str, Behaviour)],
) -> (
    Maestro<TestTopology>,
    Vec<Box<dyn Score<TestTopology>>>,
    Journal,
) {
    let journal = Journal::default();
    let topology = TestTopology {
        journal: journal.clone(),
        fail_preparation: false,
    };
    let scores = behaviours
        .iter()
        .map(|(name, b)| {
            Box::new(TestScore {
                name,
                behaviour: b.clone(),
                journal: journal.clone(),
            }) as Box<dyn Score<TestTopology>>
        })
        .collect();
    let maestro =
        Maestro::new(Inventory::empty(), topology).with_confirm(Answer(true, journal.clone()));
    (maestro, scores, journal)
}

fn yes() -> Args {
    Args {
        yes: true,
        ..Args::default()
    }
}

#[tokio::test]
async fn prepares_once_then_runs_scores_in_order_and_summarizes() {
    let (maestro, scores, journal) = setup(&[
        ("first", Behaviour::Change),
        ("second", Behaviour::Nothing),
        ("third", Behaviour::Skip),
    ]);
    let mut out = Vec::new();
    let summary = maestro.run(&scores, &yes(), &mut out).await.unwrap();
    assert_eq!(
        journal.entries(),
        [
            "ensure_ready",
            "execute first",
            "execute second",
            "execute third"
        ]
    );
    let results: Vec<_> = summary.reports.iter().map(|r| r.result).collect();
    assert_eq!(
        results,
        [
            ScoreResult::Changed,
            ScoreResult::Unchanged,
            ScoreResult::Skipped
        ]
    );
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("[changed  ] first: created it"), "{text}");
    assert!(text.contains("url: http://x.local:8080"), "{text}");
    assert!(text.contains("[unchanged] second: already there"), "{text}");
    assert!(
        text.contains("[skipped  ] third: not for this distribution"),
        "{text}"
    );
    assert!(
        text.contains("3 score(s): 1 changed, 1 unchanged, 1 skipped, 0 failed"),
        "{text}"
    );
    assert!(
        text.contains("topology prepared: test cluster started"),
        "{text}"
    );
}

#[tokio::test]
async fn list_changes_nothing_and_does_not_prepare() {
    let (maestro, scores, journal) =
        setup(&[("pg", Behaviour::Change), ("bao", Behaviour::Change)]);
    let mut out = Vec::new();
    let args = Args {
        list: true,
        ..Args::default()
    };
    let summary = maestro.run(&scores, &args, &mut out).await.unwrap();
    assert!(journal.entries().is_empty(), "{:?}", journal.entries());
    assert!(summary.reports.is_empty() && summary.preparation.is_none());
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("  pg\n") && text.contains("  bao\n"),
        "{text}"
    );
}

#[tokio::test]
async fn filter_selects_by_substring() {
    let (maestro, scores, journal) = setup(&[
        ("PostgreSQLScore[db/pg]", Behaviour::Change),
        ("OpenbaoScore", Behaviour::Change),
    ]);
    let args = Args {
        yes: true,
        filter: Some("Postgre".into()),
        ..Args::default()
    };
    maestro.run(&scores, &args, &mut Vec::new()).await.unwrap();
    assert_eq!(
        journal.entries(),
        ["ensure_ready", "execute PostgreSQLScore[db/pg]"]
    );

    let (maestro, scores, journal) = setup(&[("a", Behaviour::Change)]);
    let args = Args {
        yes: true,
        filter: Some("zzz".into()),
        ..Args::default()
    };
    maestro.run(&scores, &args, &mut Vec::new()).await.unwrap();
    assert!(
        journal.entries().is_empty(),
        "nothing selected: no preparation"
    );
}

#[tokio::test]
async fn a_failing_score_stops_the_run_and_the_rest_is_reported_as_not_run() {
    let (maestro, scores, journal) = setup(&[
        ("fine", Behaviour::Change),
        ("broken", Behaviour::Fail),
        ("dns-rewrite", Behaviour::Change),
        ("later", Behaviour::Nothing),
    ]);
    let mut out = Vec::new();
    let err = maestro.run(&scores, &yes(), &mut out).await.unwrap_err();
    let MaestroError::ScoresFailed {
        failed,
        total,
        summary,
    } = err
    else {
        panic!("expected ScoresFailed");
    };
    assert_eq!((failed, total), (1, 4));
    let results: Vec<_> = summary.reports.iter().map(|r| r.result).collect();
    assert_eq!(
        results,
        [
            ScoreResult::Changed,
            ScoreResult::Failed,
            ScoreResult::NotRun,
            ScoreResult::NotRun
        ]
    );
    assert_eq!(
        journal.entries(),
        ["ensure_ready", "execute fine", "execute broken"],
        "nothing runs after the failure"
    );
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(
            "[failed   ] broken: timed out after 300s waiting for Deployment ns/app to be Available"
        ),
        "{text}"
    );
    assert!(
        text.contains("[not run  ] dns-rewrite: not run: an earlier Score failed (broken)"),
        "{text}"
    );
    assert!(
        text.contains("4 score(s): 1 changed, 0 unchanged, 0 skipped, 1 failed, 2 not run"),
        "{text}"
    );
}

#[tokio::test]
async fn questions_are_asked_before_the_topology_is_prepared_and_anything_runs() {
    let (maestro, scores, journal) = setup(&[
        ("openbao", Behaviour::Change),
        ("openbao-setup", Behaviour::Ask),
    ]);
    maestro.run(&scores, &yes(), &mut Vec::new()).await.unwrap();
    assert_eq!(
        journal.entries(),
        [
            "ask openbao-setup",
            "ensure_ready",
            "execute openbao",
            "execute openbao-setup"
        ]
    );
}

#[tokio::test]
async fn a_failed_question_stops_before_anything_is_prepared_or_run() {
    let (maestro, scores, journal) = setup(&[
        ("openbao", Behaviour::Change),
        ("openbao-setup", Behaviour::FailToAsk),
    ]);
    let mut out = Vec::new();
    let err = maestro.run(&scores, &yes(), &mut out).await.unwrap_err();
    let MaestroError::ScoresFailed { summary, .. } = err else {
        panic!("expected ScoresFailed");
    };
    assert!(journal.entries().is_empty(), "{:?}", journal.entries());
    assert_eq!(summary.preparation, None);
    assert_eq!(summary.reports[0].result, ScoreResult::NotRun);
    assert_eq!(summary.reports[1].result, ScoreResult::Failed);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("prompt cancelled"), "{text}");
}

#[tokio::test]
async fn without_a_terminal_and_without_yes_it_refuses_before_preparing() {
    let (maestro, scores, journal) = setup(&[("pg", Behaviour::Change)]);
    let maestro = maestro.with_confirm(TerminalConfirm { interactive: false });
    let err = maestro
        .run(&scores, &Args::default(), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, MaestroError::NoTerminal));
    assert!(err.to_string().contains("--yes"));
    assert!(journal.entries().is_empty());
}

#[tokio::test]
async fn confirmation_is_asked_and_a_no_changes_nothing() {
    let (maestro, scores, journal) = setup(&[("pg", Behaviour::Change)]);
    let maestro = maestro.with_confirm(Answer(false, journal.clone()));
    let err = maestro
        .run(&scores, &Args::default(), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, MaestroError::Declined));
    assert_eq!(journal.entries(), ["plan pg", "asked: Run 1 score(s)?"]);

    let (maestro, scores, journal) = setup(&[("pg", Behaviour::Change)]);
    maestro
        .run(&scores, &Args::default(), &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(
        journal.entries(),
        [
            "plan pg",
            "asked: Run 1 score(s)?",
            "ensure_ready",
            "execute pg"
        ]
    );
}

#[tokio::test]
async fn plan_shows_every_score_and_neither_prepares_nor_runs_anything() {
    let (maestro, scores, journal) = setup(&[
        ("pg", Behaviour::Change),
        ("dns", Behaviour::Nothing),
        ("bao", Behaviour::Fail),
    ]);
    let args = <Args as clap::Parser>::try_parse_from(["harmony-bin", "--plan"]).unwrap();
    let mut out = Vec::new();
    let summary = maestro.run(&scores, &args, &mut out).await.unwrap();
    assert!(summary.reports.is_empty() && summary.preparation.is_none());
    assert_eq!(journal.entries(), ["plan pg", "plan dns", "plan bao"]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("~ change    object of pg"), "{text}");
    assert!(
        text.contains("~ db.password: (sensitive) -> (sensitive)"),
        "{text}"
    );
    assert!(text.contains("= unchanged object of dns"), "{text}");
    assert!(text.contains("cannot plan: cluster unreachable"), "{text}");
    assert!(
        text.contains("Plan: 0 to create, 1 to change, 0 to delete, 1 unchanged, 1 unknown."),
        "{text}"
    );
}

#[tokio::test]
async fn the_confirmation_shows_the_same_plan() {
    let (maestro, scores, journal) = setup(&[("pg", Behaviour::Change)]);
    let maestro = maestro.with_confirm(Answer(false, journal.clone()));
    let mut out = Vec::new();
    let err = maestro
        .run(&scores, &Args::default(), &mut out)
        .await
        .unwrap_err();
    assert!(matches!(err, MaestroError::Declined));
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("~ change    object of pg"), "{text}");
    assert!(text.contains("Plan: 0 to create, 1 to change"), "{text}");
}

#[tokio::test]
async fn a_topology_that_cannot_be_prepared_runs_no_score() {
    let journal = Journal::default();
    let topology = TestTopology {
        journal: journal.clone(),
        fail_preparation: true,
    };
    let scores: Vec<Box<dyn Score<TestTopology>>> = vec![Box::new(TestScore {
        name: "pg",
        behaviour: Behaviour::Change,
        journal: journal.clone(),
    })];
    let err = Maestro::new(Inventory::empty(), topology)
        .run(&scores, &yes(), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Docker is not installed"), "{err}");
    assert_eq!(journal.entries(), ["ensure_ready"]);
}

/// A binary with flags of its own flattens the runner's flags into its parser; both parse
/// from one command line and the runner obeys its part.
#[tokio::test]
async fn a_binary_flattens_the_runner_flags_next_to_its_own() {
    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        run: Args,
        /// Users to grant.
        #[arg(long, value_delimiter = ',')]
        grant_to: Vec<String>,
    }
    let cli = <Cli as clap::Parser>::try_parse_from([
        "example",
        "--grant-to",
        "ada,bob",
        "-f",
        "pg",
        "--plan",
    ])
    .unwrap();
    assert_eq!(cli.grant_to, ["ada", "bob"]);

    let (maestro, scores, journal) =
        setup(&[("pg", Behaviour::Change), ("dns", Behaviour::Change)]);
    maestro
        .run(&scores, &cli.run, &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(
        journal.entries(),
        ["plan pg"],
        "filtered, planned, nothing run"
    );

    let help = <Cli as clap::Parser>::try_parse_from(["example", "--help"])
        .unwrap_err()
        .to_string();
    assert!(
        help.contains("--grant-to") && help.contains("-p, --plan") && help.contains("-y, --yes"),
        "{help}"
    );
}
