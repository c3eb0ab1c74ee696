//! The `revplan` command line: parses arguments, calls the library, prints
//! results and errors, and picks the exit code (0 ok, 1 failed, 2 bad usage
//! or input).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use revplan::Error;
use revplan::decide::Objective;
use revplan::load::load_any;
use revplan::output::{Format, write_atomic};
use revplan::sim::{EngineKind, SimOptions};
use revplan::spec::Trials;

const EXAMPLES: &str = "\
Examples:
  revplan check scenarios/board-plan.toml
  revplan plan scenarios/board-plan.toml
  revplan simulate scenarios/board-plan.toml
  revplan report scenarios/board-plan.toml --out board-report
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
  revplan plan scenarios/board-plan.toml --variant threshold-55 --format json --out plan.json
  revplan plan scenarios/acme-52w.toml --format csv --out acme-plan.csv
  revplan plan scenarios/board-plan.toml --charts charts")]
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
  revplan simulate scenarios/board-plan.toml --variant threshold-55 --format json --out forecast.json
  revplan simulate scenarios/board-plan.toml --set capacity=unlimited --threads 1
  revplan simulate scenarios/board-plan.toml --by-channel --charts charts")]
    Simulate(SimulateArgs),

    /// Compare the base and every variant side by side, trial by trial on
    /// the same random numbers: revenue, P(hit), spend, CAC, ROI, MQLs,
    /// acceptance, opportunities, wins, and differences with 95% intervals.
    ///
    /// `--set` before any `--variant` changes the base (and so every
    /// variant); after `--variant NAME` it defines that ad-hoc variant.
    #[command(after_help = "\
Examples:
  revplan compare scenarios/board-plan.toml
  revplan compare scenarios/board-plan.toml --variant threshold-65 --set scoring.threshold=65
  revplan compare scenarios/board-plan.toml --only threshold-55 --trials 20000 --format csv
  revplan compare scenarios/board-plan.toml --charts charts")]
    Compare(CompareArgs),

    /// Run the scenario along one parameter — above all the MQL threshold —
    /// and show how MQLs, acceptance, sales load, opportunities, revenue and
    /// P(hit) move, every point on the same random numbers.
    #[command(after_help = "\
Examples:
  revplan sweep scenarios/board-plan.toml --param scoring.threshold --from 50 --to 75 --step 5
  revplan sweep scenarios/board-plan.toml --param capacity.reps --values 2,3,4,5 --charts charts
  revplan sweep scenarios/acme-52w.toml --param channels.webinar.volume.leads_per_week --values 40,60,80 --format json")]
    Sweep(SweepArgs),

    /// The smallest value of a lever for which P(revenue ≥ target) reaches a
    /// confidence: total leads at the current mix, the media budget, one
    /// channel's budget, or the reps. Bisection on common random numbers.
    #[command(after_help = "\
Examples:
  revplan goal scenarios/board-plan.toml --confidence 0.9 --lever leads
  revplan goal scenarios/board-plan.toml --confidence 0.8 --lever budget:paid_search
  revplan goal scenarios/board-plan.toml --confidence 0.9 --lever reps --format json
Levers: leads (average leads a week, all channels at the current mix), budget (media budget over the horizon of
all budget-driven channels), budget:<channel>, reps (fully ramped reps at week 0).
Exit code 1 when no value within the bounds reaches the confidence.")]
    Goal(GoalArgs),

    /// Which assumptions matter most: revenue P50 and P(hit) with each input
    /// at a low and a high value, the rest as in the scenario, sorted by
    /// swing — the data of a tornado chart.
    #[command(after_help = "\
Examples:
  revplan sensitivity scenarios/board-plan.toml
  revplan sensitivity scenarios/acme-52w.toml --swing 0.2 --format csv --out tornado.csv
  revplan sensitivity scenarios/board-plan.toml --charts charts
Uncertain rates go to their P10 and P90; fixed rates, channel volumes and deal sizes by ±--swing; the MQL threshold
by ±--threshold-swing points.")]
    Sensitivity(SensitivityArgs),

    /// Split a media budget across the budget-driven channels, through their
    /// response curves, to maximise mean revenue, median revenue or P(hit).
    #[command(after_help = "\
Examples:
  revplan optimize scenarios/board-plan.toml --budget 1500000
  revplan optimize scenarios/board-plan.toml --budget 1500000 --objective p-hit --max trade_shows=200000
The budget is the media budget over the horizon (budget_per_week × active weeks), without program costs or costs
per lead. Bounds come from budget_min_per_week / budget_max_per_week in the file, or --min / --max CHANNEL=AMOUNT
(over the horizon).")]
    Optimize(OptimizeArgs),

    /// Write the board report: one self-contained HTML page with the
    /// headline, the plan by quarter, the forecast charts, the reports by
    /// lead source, the variants compared and the sensitivity tornado, and
    /// every chart as PNG beside it.
    ///
    /// The page has no script and fetches nothing (inline SVG and CSS): it can
    /// be opened offline, attached to an email, and printed.
    #[command(after_help = "\
Examples:
  revplan report scenarios/board-plan.toml --out board-report
  revplan report scenarios/acme-52w.toml --out acme --trials 20000 --no-sensitivity
Open DIR/index.html in a browser. The same files, seed and trials give the same page, byte for byte.")]
    Report(ReportArgs),

    /// Run many scenario files: each one's forecast and plan (and its
    /// variants') under DIR/<scenario>/, and one summary of them all in
    /// DIR/summary.csv and DIR/summary.json.
    ///
    /// PATH may be a scenario file, a folder (every *.toml scenario inside,
    /// recursively, in sorted order; model files are passed over) or a glob
    /// pattern. A scenario that fails is reported in the summary with its
    /// error and the others go on; the exit code is then 1.
    #[command(after_help = "\
Examples:
  revplan batch scenarios --out runs
  revplan batch scenarios/*.toml --out runs --trials 20000 --seed 7 --charts
  revplan batch scenarios --out runs --resume                  # redo only what is missing or changed
  revplan batch scenarios --out shard-0 --shard 0/4            # one task of four
  revplan merge shard-0 shard-1 shard-2 shard-3 --out runs     # join the shards' outputs
Outputs are written atomically; a scenario's result.json is written last, with a hash of its inputs
(scenario, model, CSV), seed, trials and the revplan version, so --resume after a kill at any moment
ends with the same summary as an uninterrupted run.")]
    Batch(BatchArgs),

    /// Join the output folders of `revplan batch --shard I/N` (every I) into
    /// one, with the summary a single run would have written.
    #[command(after_help = "\
Examples:
  revplan merge shard-0 shard-1 shard-2 shard-3 --out runs
  revplan merge shards/* --out runs --format csv")]
    Merge(MergeArgs),

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
    /// Size the plan so that P(target reached) is at least P, as simulated.
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    confidence: Option<f64>,
    /// How finely the lead volume may change: one level a week (the exact
    /// inverse), a month or a quarter.
    #[arg(long, value_enum, default_value_t = GranularityArg::Month)]
    granularity: GranularityArg,
    /// Also buy leads for the revenue they bring after the horizon (the
    /// target continued); by default only leads that pay for themselves
    /// inside it.
    #[arg(long)]
    beyond_horizon: bool,
    /// Do not simulate the plan (no P(hit); faster).
    #[arg(long, conflicts_with = "confidence")]
    no_simulation: bool,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    charts: ChartArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum GranularityArg {
    Week,
    Month,
    Quarter,
}

#[derive(Args)]
struct ChartArgs {
    /// Also draw the charts that fit, as SVG and PNG, into this folder.
    #[arg(long, value_name = "DIR")]
    charts: Option<PathBuf>,
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
    /// With --charts: also the revenue-cycle waterfall of each channel.
    #[arg(long)]
    by_channel: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    charts: ChartArgs,
}

#[derive(Args)]
struct CompareArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO")]
    scenario: PathBuf,
    /// Override a key: of the base when before any --variant, of that
    /// ad-hoc variant after it.
    #[arg(long = "set", value_name = "KEY=VALUE", action = clap::ArgAction::Append)]
    set: Vec<String>,
    /// Add an ad-hoc variant; the --set flags that follow define it.
    #[arg(long = "variant", value_name = "NAME", action = clap::ArgAction::Append)]
    variant: Vec<String>,
    /// Compare only these of the file's variants (comma-separated).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    only: Vec<String>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    charts: ChartArgs,
}

#[derive(Args)]
struct SweepArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// The key path to sweep, e.g. scoring.threshold.
    #[arg(long, value_name = "KEY")]
    param: String,
    /// Values to try (TOML values, comma-separated).
    #[arg(long, value_name = "A,B,C", value_delimiter = ',', conflicts_with_all = ["from", "to", "step"])]
    values: Vec<String>,
    /// First value of a numeric range.
    #[arg(long, value_name = "X", requires_all = ["to", "step"])]
    from: Option<f64>,
    /// Last value of a numeric range (included).
    #[arg(long, value_name = "Y")]
    to: Option<f64>,
    /// Step of a numeric range.
    #[arg(long, value_name = "Z")]
    step: Option<f64>,
    /// What the best point maximises.
    #[arg(long, value_enum, default_value_t = Objective::PHit)]
    objective: Objective,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    charts: ChartArgs,
}

#[derive(Args)]
struct GoalArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// The probability of reaching the target to achieve, e.g. 0.9.
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    confidence: f64,
    /// What to move: leads, budget, budget:<channel> or reps.
    #[arg(long, value_name = "LEVER")]
    lever: String,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    output: OutputArgs,
}

fn parse_probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 1.0 => Ok(p),
        _ => Err("expected a probability between 0 and 1 (exclusive), e.g. 0.9".into()),
    }
}

#[derive(Args)]
struct SensitivityArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Relative swing of fixed rates, channel volumes and deal sizes.
    #[arg(long, value_name = "S", default_value_t = 0.1)]
    swing: f64,
    /// Points the MQL threshold moves either way.
    #[arg(long, value_name = "POINTS", default_value_t = 5.0)]
    threshold_swing: f64,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    charts: ChartArgs,
}

#[derive(Args)]
struct OptimizeArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
    /// Media budget over the horizon to split.
    #[arg(long, value_name = "DOLLARS")]
    budget: f64,
    /// What to maximise.
    #[arg(long, value_enum, default_value_t = Objective::Mean)]
    objective: Objective,
    /// Smallest budget of a channel over the horizon, CHANNEL=AMOUNT.
    #[arg(long, value_name = "CHANNEL=AMOUNT")]
    min: Vec<String>,
    /// Largest budget of a channel over the horizon, CHANNEL=AMOUNT.
    #[arg(long, value_name = "CHANNEL=AMOUNT")]
    max: Vec<String>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
struct ReportArgs {
    /// The scenario file; its variants are compared in the report.
    #[arg(value_name = "SCENARIO")]
    scenario: PathBuf,
    /// Override a key of the scenario or model, e.g. scoring.threshold=70.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The folder to write index.html and the PNG charts into (created if
    /// missing; files written atomically).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Leave out the sensitivity analysis (the slowest part).
    #[arg(long)]
    no_sensitivity: bool,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct BatchArgs {
    /// Scenario files, folders of them or glob patterns.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    /// The output folder (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Scenarios run at once (default: one per thread). The threads are
    /// shared, so more jobs never oversubscribe the machine.
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u32).range(1..=1024))]
    jobs: Option<u32>,
    /// Skip scenarios whose outputs are complete and whose inputs, seed,
    /// trials and revplan version are unchanged.
    #[arg(long)]
    resume: bool,
    /// Run only every N-th scenario from the I-th (0 ≤ I < N), for one task
    /// of a Kubernetes Indexed Job or a Slurm array; join with `revplan merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<revplan::batch::Shard>,
    /// Also write each scenario's charts (SVG and PNG).
    #[arg(long)]
    charts: bool,
    /// How the summary is printed on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct MergeArgs {
    /// The output folders of every shard.
    #[arg(required = true, value_name = "SHARD_DIR")]
    shards: Vec<PathBuf>,
    /// The folder to write the joined outputs into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// How the summary is printed on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
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
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let code = match cli.command {
        Command::Check(a) => check(&a),
        Command::Plan(a) => plan(&a),
        Command::Simulate(a) => simulate(&a),
        Command::Compare(a) => {
            let sub = matches
                .subcommand_matches("compare")
                .expect("compare was parsed");
            compare(&a, sub)
        }
        Command::Sweep(a) => sweep(&a),
        Command::Goal(a) => goal(&a),
        Command::Sensitivity(a) => sensitivity(&a),
        Command::Optimize(a) => optimize(&a),
        Command::Report(a) => report_command(&a),
        Command::Batch(a) => batch(&a),
        Command::Merge(a) => merge(&a),
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

/// Draws charts into --charts DIR when asked, and says where on stderr.
fn charts(
    a: &ChartArgs,
    draw: impl FnOnce() -> Result<Vec<revplan::chart::Chart>, revplan::chart::ChartError>,
) -> Result<(), Error> {
    let Some(dir) = &a.charts else {
        return Ok(());
    };
    let drawn = draw()?;
    let written = revplan::output::write_files(dir, &revplan::output::chart_files(&drawn))
        .map_err(|(path, source)| Error::Write { path, source })?;
    eprintln!(
        "{} chart(s) written to {} as SVG and PNG",
        written.len() / 2,
        dir.display()
    );
    Ok(())
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

/// Loads the scenario (or the variant asked for). A variant that does not
/// build blocks only a run of that variant.
fn scenario(a: &ScenarioArgs) -> Result<revplan::model::Scenario, Error> {
    let loaded = revplan::load::load_scenario(&a.scenario, &a.set)?;
    match &a.variant {
        None => Ok(loaded.base),
        Some(name) => Ok(loaded.variant(name)?.scenario.clone()),
    }
}

fn plan(a: &PlanArgs) -> i32 {
    let run = || -> Result<(), Error> {
        let s = scenario(&a.scenario)?;
        let opts = revplan::plan::PlanOptions {
            granularity: match a.granularity {
                GranularityArg::Week => revplan::plan::Granularity::Week,
                GranularityArg::Month => revplan::plan::Granularity::Month,
                GranularityArg::Quarter => revplan::plan::Granularity::Quarter,
            },
            beyond_horizon: a.beyond_horizon,
            aim: 1.0,
        };
        let p = if a.no_simulation {
            revplan::plan::plan(&s, &opts)?
        } else {
            let settings = settings(&a.run, &s);
            let bar = spinner("planning");
            let p = with_threads(a.run.threads, || {
                revplan::decide::ask::ask(&s, &opts, a.confidence, &settings, &|aim| {
                    bar.set_message(format!("aiming at {aim:.2}× the target"));
                    bar.tick();
                })
            })?
            .map_err(|e| match e {
                revplan::decide::ask::AskError::Plan(e) => Error::Plan(e),
                revplan::decide::ask::AskError::Sim(e) => Error::Sim(e),
            })?;
            bar.finish_and_clear();
            p
        };
        let text = revplan::plan::render::render(&p, a.output.format, a.weekly);
        emit(&text, a.output.out.as_deref())?;
        charts(&a.charts, || revplan::chart::plan_charts(&p))
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

/// A progress bar on stderr counting `unit`, hidden when stderr is not a
/// terminal; its message shows what is being done.
fn progress_bar(total: u64, what: &str, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    let template = format!("{{prefix}} {{bar:30}} {{pos}}/{{len}} {unit} ({{elapsed}}) {{msg}}");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_string());
    bar
}

/// A spinner on stderr for work of unknown length, with a message saying
/// how far it has come (hidden when stderr is not a terminal).
fn spinner(what: &str) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
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
        let bar = progress_bar(total, "simulating", "trials");
        let f = with_threads(a.run.threads, || {
            revplan::sim::simulate(&s, &opts, &|done| bar.set_position(done))
        })??;
        bar.finish_and_clear();
        let text = revplan::sim::render::render(&f, a.output.format, a.reports);
        emit(&text, a.output.out.as_deref())?;
        charts(&a.charts, || {
            revplan::chart::forecast_charts(&f, a.by_channel)
        })
    };
    match run() {
        Ok(()) => 0,
        Err(e) => report(&e),
    }
}

/// Settings of the decision commands: the scenario's [run] unless flags say.
fn settings(run: &RunArgs, s: &revplan::model::Scenario) -> revplan::decide::Settings {
    revplan::decide::Settings {
        trials: run.trials.unwrap_or(s.run.trials),
        seed: run.seed.unwrap_or(s.run.seed),
        max_trials: run.max_trials,
        engine: run.engine,
    }
}

/// Runs a command body and turns its error into an exit code.
fn finish(r: Result<i32, Error>) -> i32 {
    r.unwrap_or_else(|e| report(&e))
}

fn compare(a: &CompareArgs, m: &ArgMatches) -> i32 {
    finish((|| {
        // Which --set belongs to which ad-hoc --variant: by position.
        let sets: Vec<(usize, &String)> = m
            .indices_of("set")
            .map_or(Vec::new(), |i| i.zip(&a.set).collect());
        let variants: Vec<(usize, &String)> = m
            .indices_of("variant")
            .map_or(Vec::new(), |i| i.zip(&a.variant).collect());
        let owner = |at: usize| variants.iter().rposition(|(vi, _)| *vi < at);
        let base_sets: Vec<String> = sets
            .iter()
            .filter(|(i, _)| owner(*i).is_none())
            .map(|(_, s)| (*s).clone())
            .collect();
        let loaded = revplan::load::load_scenario(&a.scenario, &base_sets)?;
        let chosen: Vec<&revplan::load::Variant> = if a.only.is_empty() {
            loaded.all_variants()?.iter().collect()
        } else {
            a.only
                .iter()
                .map(|name| loaded.variant(name))
                .collect::<Result<_, _>>()?
        };
        let mut candidates: Vec<_> = chosen
            .into_iter()
            .map(|v| revplan::decide::compare::Candidate {
                name: v.name.clone(),
                description: v.description.clone(),
                scenario: v.scenario.clone(),
            })
            .collect();
        for (k, (_, name)) in variants.iter().enumerate() {
            let mut own = base_sets.clone();
            own.extend(
                sets.iter()
                    .filter(|(i, _)| owner(*i) == Some(k))
                    .map(|(_, s)| (*s).clone()),
            );
            let adhoc = revplan::load::load_scenario(&a.scenario, &own)?;
            candidates.push(revplan::decide::compare::Candidate {
                name: (*name).clone(),
                description: Some("ad-hoc, from the command line".into()),
                scenario: adhoc.base,
            });
        }
        let settings = settings(&a.run, &loaded.base);
        let bar = progress_bar(1 + candidates.len() as u64, "comparing", "runs");
        let c = with_threads(a.run.threads, || {
            revplan::decide::compare::compare(&loaded.base, &candidates, &settings, &|done| {
                bar.set_position(done as u64)
            })
        })??;
        bar.finish_and_clear();
        emit(
            &revplan::decide::compare::render(&c, a.output.format),
            a.output.out.as_deref(),
        )?;
        charts(&a.charts, || revplan::chart::variants_charts(&c))?;
        Ok(0)
    })())
}

fn sweep(a: &SweepArgs) -> i32 {
    finish((|| {
        let values: Vec<String> = match (a.from, a.to, a.step) {
            (Some(f), Some(t), Some(s)) => revplan::decide::sweep::range(f, t, s)
                .map_err(Error::Usage)?
                .into_iter()
                .map(|v| {
                    let r = (v * 1e9).round() / 1e9;
                    if r.fract() == 0.0 {
                        format!("{r:.0}")
                    } else {
                        format!("{r}")
                    }
                })
                .collect(),
            _ if !a.values.is_empty() => a.values.iter().map(|v| v.trim().to_string()).collect(),
            _ => {
                return Err(Error::Usage(
                    "give --values A,B,C or --from X --to Y --step Z".into(),
                ));
            }
        };
        let mut points = Vec::new();
        for v in &values {
            let mut sets = a.scenario.set.clone();
            sets.push(format!("{}={v}", a.param));
            let one = ScenarioArgs {
                scenario: a.scenario.scenario.clone(),
                set: sets,
                variant: a.scenario.variant.clone(),
            };
            points.push((v.clone(), scenario(&one)?));
        }
        let settings = settings(&a.run, &points[0].1);
        let bar = progress_bar(points.len() as u64, "sweeping", "runs");
        let sw = with_threads(a.run.threads, || {
            revplan::decide::sweep::sweep(&a.param, &points, a.objective, &settings, &|done| {
                bar.set_position(done as u64)
            })
        })??;
        bar.finish_and_clear();
        emit(
            &revplan::decide::sweep::render(&sw, a.output.format),
            a.output.out.as_deref(),
        )?;
        charts(&a.charts, || revplan::chart::sweep_charts(&sw))?;
        Ok(0)
    })())
}

fn goal(a: &GoalArgs) -> i32 {
    finish((|| {
        let s = scenario(&a.scenario)?;
        let lever = revplan::decide::levers::Lever::parse(&a.lever, &s).map_err(Error::Usage)?;
        let settings = settings(&a.run, &s);
        let bar = spinner("goal seek");
        bar.set_message("starting");
        let g = with_threads(a.run.threads, || {
            revplan::decide::goal::goal(&s, &lever, a.confidence, &settings, &|x| {
                bar.set_message(format!("trying {x:.2}"));
                bar.tick();
            })
        })?
        .map_err(|e| match e {
            revplan::decide::goal::GoalError::Sim(e) => Error::Sim(e),
            revplan::decide::goal::GoalError::Lever(m) => Error::Usage(m),
        })?;
        bar.finish_and_clear();
        emit(
            &revplan::decide::goal::render(&g, a.output.format),
            a.output.out.as_deref(),
        )?;
        Ok(if g.reached { 0 } else { 1 })
    })())
}

fn sensitivity(a: &SensitivityArgs) -> i32 {
    finish((|| {
        let swing_ok = a.swing > 0.0 && a.swing < 1.0;
        let threshold_ok = a.threshold_swing >= 0.0;
        if !swing_ok || !threshold_ok {
            return Err(Error::Usage(
                "--swing must be between 0 and 1, --threshold-swing at least 0".into(),
            ));
        }
        let s = scenario(&a.scenario)?;
        let settings = settings(&a.run, &s);
        let swings = revplan::decide::sensitivity::Swings {
            relative: a.swing,
            threshold_points: a.threshold_swing,
        };
        let bar = progress_bar(0, "swinging", "runs");
        let r = with_threads(a.run.threads, || {
            revplan::decide::sensitivity::sensitivity(&s, swings, &settings, &|i, n| {
                bar.set_length(n as u64);
                bar.set_position(i as u64);
            })
        })??;
        bar.finish_and_clear();
        emit(
            &revplan::decide::sensitivity::render(&r, a.output.format),
            a.output.out.as_deref(),
        )?;
        charts(&a.charts, || revplan::chart::sensitivity_charts(&r))?;
        Ok(0)
    })())
}

fn optimize(a: &OptimizeArgs) -> i32 {
    finish((|| {
        let s = scenario(&a.scenario)?;
        let parse = |v: &str| -> Result<(String, f64), Error> {
            let (k, x) = v
                .split_once('=')
                .ok_or_else(|| Error::Usage(format!("expected CHANNEL=AMOUNT, got `{v}`")))?;
            let x: f64 = x
                .trim()
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| Error::Usage(format!("`{v}`: the amount must be a number ≥ 0")))?;
            Ok((k.trim().to_string(), x))
        };
        let mut overrides: Vec<(String, Option<f64>, Option<f64>)> = Vec::new();
        for v in &a.min {
            let (k, x) = parse(v)?;
            overrides.push((k, Some(x), None));
        }
        for v in &a.max {
            let (k, x) = parse(v)?;
            overrides.push((k, None, Some(x)));
        }
        let bounds = revplan::decide::optimize::bounds(&s, &overrides).map_err(Error::Usage)?;
        let settings = settings(&a.run, &s);
        let bar = spinner("optimizing");
        let o = with_threads(a.run.threads, || {
            revplan::decide::optimize::optimize(
                &s,
                a.budget,
                a.objective,
                &bounds,
                &settings,
                &|n| {
                    bar.set_message(format!("{n} evaluations"));
                    bar.tick();
                },
            )
        })?
        .map_err(|e| match e {
            revplan::decide::optimize::OptimizeError::Sim(e) => Error::Sim(e),
            revplan::decide::optimize::OptimizeError::Setup(m) => Error::Usage(m),
        })?;
        bar.finish_and_clear();
        emit(
            &revplan::decide::optimize::render(&o, a.output.format),
            a.output.out.as_deref(),
        )?;
        Ok(0)
    })())
}

fn report_command(a: &ReportArgs) -> i32 {
    finish((|| {
        let loaded = revplan::load::load_scenario(&a.scenario, &a.set)?;
        loaded.all_variants()?;
        let settings = settings(&a.run, &loaded.base);
        let bar = progress_bar(revplan::report::STEPS as u64, "report", "steps");
        let options = revplan::report::ReportOptions {
            sensitivity: !a.no_sensitivity,
            by_channel: true,
        };
        let r = with_threads(a.run.threads, || {
            revplan::report::build(&loaded, &settings, options, &|step, what| {
                bar.set_message(what.to_string());
                bar.set_position(step as u64);
            })
        })?
        .map_err(|e| match e {
            revplan::report::ReportError::Sim(e) => Error::Sim(e),
            revplan::report::ReportError::Chart(e) => Error::Chart(e),
        })?;
        bar.finish_and_clear();
        let files = revplan::report::files(&r);
        let refs: Vec<(String, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.clone(), b.as_slice()))
            .collect();
        revplan::output::write_files(&a.out, &refs)
            .map_err(|(path, source)| Error::Write { path, source })?;
        println!(
            "Report written to {} ({} files): P(revenue ≥ {}) = {}",
            a.out.join("index.html").display(),
            files.len(),
            revplan::output::money(r.forecast.target),
            revplan::output::pct(r.forecast.p_hit_target)
        );
        Ok(0)
    })())
}

fn print_summary(s: &revplan::batch::Summary, format: Format) {
    match format {
        Format::Table => print!("{}", s.table()),
        Format::Csv => print!("{}", s.csv()),
        Format::Json => print!("{}", s.json()),
    }
}

fn batch(a: &BatchArgs) -> i32 {
    finish((|| {
        let found = revplan::batch::discover(&a.paths)?;
        for m in &found.skipped_models {
            eprintln!("note: {} is a model file, passed over", m.display());
        }
        let threads = a
            .run
            .threads
            .unwrap_or_else(rayon::current_num_threads)
            .max(1);
        let opts = revplan::batch::Options {
            trials: a.run.trials,
            seed: a.run.seed,
            max_trials: a.run.max_trials,
            engine: a.run.engine,
            charts: a.charts,
            resume: a.resume,
            shard: a.shard,
            jobs: a.jobs.map_or(threads, |j| j as usize),
            threads: Some(threads),
        };
        let bar = progress_bar(found.share(a.shard).len() as u64, "batch", "scenarios");
        let started = std::time::Instant::now();
        let outcome = revplan::batch::run(&a.paths, &found, &a.out, &opts, &|event| match event {
            revplan::batch::Event::Started(name) => bar.set_message(name.to_string()),
            revplan::batch::Event::Finished { .. } => bar.inc(1),
        })?;
        bar.finish_and_clear();
        print_summary(&outcome.summary, a.format);
        let s = &outcome.summary;
        eprintln!(
            "{} scenario(s){}, {} row(s): {} failed, {} reused; {:.1} s; summary in {}",
            outcome.summary.scenarios,
            a.shard.map_or(String::new(), |s| format!(
                " (shard {}/{} of {})",
                s.index,
                s.count,
                found.items.len()
            )),
            s.rows.len(),
            s.failed,
            outcome.reused,
            started.elapsed().as_secs_f64(),
            a.out.join("summary.csv").display()
        );
        Ok(if s.failed > 0 { 1 } else { 0 })
    })())
}

fn merge(a: &MergeArgs) -> i32 {
    finish((|| {
        let s = revplan::batch::merge(&a.shards, &a.out)?;
        print_summary(&s, a.format);
        eprintln!(
            "{} shard(s) joined: {} scenario(s), {} row(s), {} failed; summary in {}",
            a.shards.len(),
            s.scenarios,
            s.rows.len(),
            s.failed,
            a.out.join("summary.csv").display()
        );
        Ok(if s.failed > 0 { 1 } else { 0 })
    })())
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
