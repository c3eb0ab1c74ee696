//! The `revplan` command line: parses arguments, calls the library, prints
//! results and errors, and picks the exit code (0 ok, 1 failed, 2 bad usage
//! or input).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use revplan::Error;
use revplan::load::load_any;
use revplan::output::{Format, write_atomic};
use revplan::sim::{EngineKind, SimOptions};
use revplan::spec::Trials;

const EXAMPLES: &str = "\
Examples:
  revplan check scenarios/board-plan.toml
  revplan plan scenarios/board-plan.toml
  revplan check models/*.toml scenarios/*.toml --format json
  revplan check scenarios/board-plan.toml --set scoring.threshold=70
  revplan schema scenario --out scenario.schema.json

Exit codes: 0 ok, 1 failed, 2 bad usage or invalid input.
Colours follow the terminal; set NO_COLOR=1 to turn them off.";

#[derive(Parser)]
#[command(
    name = "revplan",
    version,
    about = "Revenue planning and forecasting for B2B revenue teams",
    long_about = "revplan models the whole revenue cycle — lead → MQL → SAL → SQL → opportunity → won — \
                  from TOML model and scenario files.",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate model and scenario files and summarise them.
    ///
    /// For each channel, prints the expected conversion at each step of the
    /// revenue cycle (recycling included, every rate at its mean, the SLA
    /// met) and the expected weeks from lead to closed-won. Every problem in
    /// a file is reported with its file, line, column and key.
    #[command(after_help = "\
Examples:
  revplan check scenarios/board-plan.toml
  revplan check models/b2b-saas.toml scenarios/acme-52w.toml --format csv
  revplan check scenarios/board-plan.toml --set scoring.threshold=70 --set capacity=unlimited")]
    Check(CheckArgs),

    /// Plan backwards from the revenue target: weekly leads per channel,
    /// MQLs, SALs, SQLs, opportunities, wins and spend.
    ///
    /// Close rates and the whole distribution of every delay (stage delays,
    /// recycling, the sales cycle, slips) shift each target week back to the
    /// weeks its leads must arrive. The open pipeline's expected closes are
    /// subtracted first; the revenue no lead created inside the horizon can
    /// reach is reported as the pipeline gap.
    #[command(after_help = "\
Examples:
  revplan plan scenarios/board-plan.toml
  revplan plan scenarios/board-plan.toml --weekly
  revplan plan scenarios/board-plan.toml --variant threshold-70 --format json --out plan.json
  revplan plan scenarios/acme-52w.toml --format csv --out acme-plan.csv")]
    Plan(PlanArgs),

    /// Forecast with a parallel Monte Carlo simulation: revenue by week,
    /// month and quarter, P(revenue ≥ target), and where revenue comes from.
    ///
    /// Each trial draws uncertain rates once, then arrivals, scores, sales
    /// follow-up against capacity, every stage outcome and delay, slips, wins
    /// and deal sizes. Results are identical for any --threads; variants and
    /// overrides see the same random numbers.
    #[command(after_help = "\
Examples:
  revplan simulate scenarios/board-plan.toml
  revplan simulate scenarios/acme-52w.toml --trials 1000000 --seed 1
  revplan simulate scenarios/board-plan.toml --reports
  revplan simulate scenarios/board-plan.toml --variant threshold-70 --format json --out forecast.json
  revplan simulate scenarios/board-plan.toml --set capacity=unlimited --threads 1")]
    Simulate(SimulateArgs),

    /// Print the JSON Schema of model or scenario files, for editors.
    #[command(after_help = "\
Examples:
  revplan schema model > model.schema.json
  revplan schema scenario --out scenario.schema.json
Point your editor at it, e.g. with a first line `#:schema ./scenario.schema.json` (Taplo / Even Better TOML).")]
    Schema(SchemaArgs),
}

#[derive(Args)]
struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the output to this file (atomically) instead of stdout.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct CheckArgs {
    /// Scenario or model files.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Override a key of the scenario or model, e.g. scoring.threshold=70.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
struct ScenarioArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO")]
    scenario: PathBuf,
    /// Override a key of the scenario or model, e.g. scoring.threshold=70.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Use this variant of the scenario instead of the base.
    #[arg(long, value_name = "NAME")]
    variant: Option<String>,
}

#[derive(Args)]
struct PlanArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Add the week-by-week table to the terminal view.
    #[arg(long)]
    weekly: bool,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
struct RunArgs {
    /// Trials to run, or `auto`: until the standard error of P(hit) is below
    /// 0.005 and that of the mean below 0.5% (default: the scenario's [run]).
    #[arg(long, value_name = "N|auto", value_parser = parse_trials)]
    trials: Option<Trials>,
    /// Most trials `auto` may run.
    #[arg(long, value_name = "N", default_value_t = revplan::sim::DEFAULT_MAX_TRIALS)]
    max_trials: u64,
    /// Random seed (default: the scenario's [run] seed, else 1).
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// Simulation engine: `auto` picks the fastest exact one that applies.
    #[arg(long, value_enum, default_value_t = EngineKind::Auto)]
    engine: EngineKind,
}

fn parse_trials(s: &str) -> Result<Trials, String> {
    if s == "auto" {
        return Ok(Trials::Auto);
    }
    match s.parse::<u64>() {
        Ok(n) if (1..=revplan::spec::MAX_TRIALS as u64).contains(&n) => Ok(Trials::Fixed(n)),
        _ => Err(format!(
            "expected `auto` or a number of trials from 1 to {}",
            revplan::spec::MAX_TRIALS
        )),
    }
}

#[derive(Args)]
struct SimulateArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    #[command(flatten)]
    run: RunArgs,
    /// Add the monthly reports by lead source to the terminal view.
    #[arg(long)]
    reports: bool,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaKind {
    Model,
    Scenario,
}

#[derive(Args)]
struct SchemaArgs {
    /// Which file format.
    #[arg(value_enum)]
    kind: SchemaKind,
    /// Write the schema to this file (atomically) instead of stdout.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(a) => check(&a),
        Command::Plan(a) => plan(&a),
        Command::Simulate(a) => simulate(&a),
        Command::Schema(a) => schema(&a),
    };
    ExitCode::from(code as u8)
}

/// Whether stderr gets colours: a terminal, and NO_COLOR unset or empty.
fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}

/// Prints an error and returns its exit code.
fn report(e: &Error) -> i32 {
    match e {
        Error::Input(input) => eprint!("{}", input.render(color(), width())),
        other => eprintln!("error: {other}"),
    }
    e.exit_code()
}

/// Sends output to stdout or, atomically, to a file.
fn emit(text: &str, out: Option<&Path>) -> Result<(), Error> {
    match out {
        Some(path) => write_atomic(path, text.as_bytes()).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn check(a: &CheckArgs) -> i32 {
    let mut reports = Vec::new();
    let mut code = 0;
    for f in &a.files {
        match load_any(f, &a.set) {
            Ok(loaded) => reports.push(revplan::check::report(&loaded)),
            Err(e) => code = code.max(report(&Error::Input(e))),
        }
    }
    if !reports.is_empty() {
        let text = revplan::check::render(&reports, a.output.format);
        if let Err(e) = emit(&text, a.output.out.as_deref()) {
            code = code.max(report(&e));
        }
    }
    code
}

/// Loads the scenario (or the variant asked for).
fn scenario(a: &ScenarioArgs) -> Result<revplan::model::Scenario, Error> {
    let loaded = revplan::load::load_scenario(&a.scenario, &a.set)?;
    match &a.variant {
        None => Ok(loaded.base),
        Some(name) => {
            let known: Vec<&str> = loaded.variants.iter().map(|v| v.name.as_str()).collect();
            let known = if known.is_empty() {
                "no variants".to_string()
            } else {
                known.join(", ")
            };
            loaded
                .variants
                .into_iter()
                .find(|v| &v.name == name)
                .map(|v| v.scenario)
                .ok_or_else(|| Error::NoVariant {
                    name: name.clone(),
                    file: a.scenario.display().to_string(),
                    known,
                })
        }
    }
}

fn plan(a: &PlanArgs) -> i32 {
    let run = || -> Result<(), Error> {
        let s = scenario(&a.scenario)?;
        let p = revplan::plan::plan(&s)?;
        let text = revplan::plan::render::render(&p, a.output.format, a.weekly);
        emit(&text, a.output.out.as_deref())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => report(&e),
    }
}

/// Runs `f` on a thread pool of the asked size.
fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T, Error> {
    match threads {
        None => Ok(f()),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map(|pool| pool.install(f))
            .map_err(|e| Error::Threads(e.to_string())),
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} trials ({elapsed})")
    {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_string());
    bar
}

fn sim_options(run: &RunArgs, s: &revplan::model::Scenario) -> SimOptions {
    SimOptions {
        trials: run.trials.unwrap_or(s.run.trials),
        seed: run.seed.unwrap_or(s.run.seed),
        max_trials: run.max_trials,
        engine: run.engine,
    }
}

fn simulate(a: &SimulateArgs) -> i32 {
    let run = || -> Result<(), Error> {
        let s = scenario(&a.scenario)?;
        let opts = sim_options(&a.run, &s);
        let total = match opts.trials {
            Trials::Fixed(n) => n,
            Trials::Auto => opts.max_trials,
        };
        let bar = progress_bar(total, "simulating");
        let f = with_threads(a.run.threads, || {
            revplan::sim::simulate(&s, &opts, &|done| bar.set_position(done))
        })??;
        bar.finish_and_clear();
        let text = revplan::sim::render::render(&f, a.output.format, a.reports);
        emit(&text, a.output.out.as_deref())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => report(&e),
    }
}

fn schema(a: &SchemaArgs) -> i32 {
    let schema = match a.kind {
        SchemaKind::Model => revplan::spec::model_schema(),
        SchemaKind::Scenario => revplan::spec::scenario_schema(),
    };
    let mut text = serde_json::to_string_pretty(&schema).expect("serializable");
    text.push('\n');
    match emit(&text, a.out.as_deref()) {
        Ok(()) => 0,
        Err(e) => report(&e),
    }
}
