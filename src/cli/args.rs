//! The command line's arguments (clap): what each command takes, its help
//! and its examples. Values are checked here (`parse, don't validate`) and
//! turned into the library's own types by the conversions at the end.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::run::{EngineKind, Overrides, Trials};

/// Examples of the whole tool.
const TOP_EXAMPLES: &[&str] = &[
    "revplan simulate scenarios/board-plan.toml",
    "revplan plan scenarios/board-plan.toml --confidence 0.8",
    "revplan check scenarios/board-plan.toml",
    "revplan report scenarios/board-plan.toml --out out/board-report",
    "revplan completions bash > revplan.bash",
];

const TOP_NOTES: &str = "Exit codes: 0 ok, 1 failed, 2 bad usage or invalid input. \
Colours follow the terminal; set NO_COLOR=1 to turn them off.";

/// A command's help beyond its arguments.
pub struct Help {
    pub command: &'static str,
    pub examples: &'static [&'static str],
    pub notes: &'static str,
}

/// Each command's examples (whole commands, wrapped for the terminal by
/// [`examples`]) and the notes under them.
pub const HELP: &[Help] = &[
    Help {
        command: "check",
        examples: &[
            "revplan check scenarios/board-plan.toml",
            "revplan check models/b2b-saas.toml --format csv",
            "revplan check scenarios/board-plan.toml --set scoring.threshold=70 --set capacity=unlimited",
        ],
        notes: "",
    },
    Help {
        command: "calibrate",
        examples: &[
            "revplan calibrate examples/crm/salesforce/data.toml --out out/calibrated.toml",
            "revplan calibrate examples/crm/hubspot/data.toml --as-of 2025-09-30 --out out/calibrated-q3.toml",
            "revplan calibrate examples/crm/salesforce/data.toml --since 2025-04-01 --out out/recent.toml --format json --report out/calibration.json",
        ],
        notes: "Writes MODEL.toml and MODEL-pipeline.csv beside it (open deals and leads in flight at the as-of date); `revplan check MODEL.toml` shows what it says. The fitted rates, times and warnings go to stdout (or --report).",
    },
    Help {
        command: "backtest",
        examples: &[
            "revplan backtest examples/crm/salesforce/data.toml --every 4w --weeks 13",
            "revplan backtest examples/crm/salesforce/data.toml --every 4w --weeks 13 --metric wins --given-arrivals",
            "revplan backtest examples/crm/salesforce/data.toml --every 4w --weeks 13 --charts out/backtest-charts",
            "revplan backtest examples/crm/hubspot/data.toml --origins 2025-06-02,2025-09-01 --weeks 8 --format csv --out out/backtest.csv",
        ],
        notes: "Each origin's model is calibrated on the data as it stood the day before (later events hidden), as `revplan calibrate --as-of` would. Baselines: the trailing 13 weeks' run rate, and the open pipeline weighted by the win rate so far.",
    },
    Help {
        command: "track",
        examples: &[
            "revplan track examples/crm/plan-2025.toml examples/crm/salesforce/data.toml --as-of 2025-09-30",
            "revplan track examples/crm/plan-2025.toml examples/crm/hubspot/data.toml --as-of 2025-06-30 --format json",
        ],
        notes: "Weeks count whole: the as-of date is moved back to the end of the last whole week of the plan. The re-forecast starts from what was open then (deals and leads in flight, from the exports) and new leads as the scenario plans them.",
    },
    Help {
        command: "actuals",
        examples: &[
            "revplan actuals examples/crm/salesforce/data.toml",
            "revplan actuals examples/crm/hubspot/data.toml --by quarter --as-of 2025-09-30",
            "revplan actuals examples/crm/salesforce/data.toml --review 20 --format csv --table review --out out/review.csv",
            "revplan actuals examples/crm/salesforce/data.toml --format xlsx --out out/actuals.xlsx",
            "revplan actuals examples/crm/salesforce/data.toml --charts out/actuals-charts",
        ],
        notes: "Exit 2 lists every problem in the exports at once: file, line, column and value.",
    },
    Help {
        command: "generate-crm",
        examples: &["revplan generate-crm out/crm --preset hubspot --leads 20000 --seed 7"],
        notes: "",
    },
    Help {
        command: "plan",
        examples: &[
            "revplan plan scenarios/board-plan.toml",
            "revplan plan scenarios/board-plan.toml --confidence 0.8",
            "revplan plan scenarios/board-plan.toml --weekly",
            "revplan plan scenarios/board-plan.toml --granularity week",
            "revplan plan scenarios/acme-52w.toml --format csv --out out/acme-plan.csv",
            "revplan plan scenarios/board-plan.toml --format xlsx --out out/plan.xlsx",
        ],
        notes: "",
    },
    Help {
        command: "simulate",
        examples: &[
            "revplan simulate scenarios/board-plan.toml",
            "revplan simulate scenarios/acme-52w.toml --trials 1000000 --seed 1",
            "revplan simulate scenarios/board-plan.toml --reports",
            "revplan simulate scenarios/board-plan.toml --format csv --table sources",
            "revplan simulate scenarios/board-plan.toml --format csv --table sources --csv-delimiter ';' --csv-decimal ,",
            "revplan simulate scenarios/board-plan.toml --format xlsx --out out/f.xlsx",
            "revplan simulate scenarios/board-plan.toml --set capacity=unlimited",
        ],
        notes: "",
    },
    Help {
        command: "compare",
        examples: &[
            "revplan compare scenarios/board-plan.toml",
            "revplan compare scenarios/board-plan.toml --variant threshold-65 --set scoring.threshold=65",
            "revplan compare scenarios/board-plan.toml --only threshold-55 --format csv",
            "revplan compare scenarios/board-plan.toml --charts out/charts",
        ],
        notes: "",
    },
    Help {
        command: "sweep",
        examples: &[
            "revplan sweep scenarios/board-plan.toml --param scoring.threshold --from 50 --to 75 --step 5",
            "revplan sweep scenarios/board-plan.toml --param 'capacity.tiers[1].touches' --values 1,3,6,9",
            "revplan sweep scenarios/board-plan.toml --param capacity.reps --values 2,3,4,5 --objective contribution",
        ],
        notes: "",
    },
    Help {
        command: "goal",
        examples: &[
            "revplan goal scenarios/board-plan.toml --confidence 0.9 --lever leads",
            "revplan goal scenarios/board-plan.toml --confidence 0.8 --lever budget:paid_search",
            "revplan goal scenarios/board-plan.toml --confidence 0.9 --lever reps",
        ],
        notes: "Levers: leads (average leads a week, all channels at the current mix), budget (media budget over the horizon of all budget-driven channels), budget:<channel>, reps (fully ramped reps at week 0). Exit code 1 when no value within the bounds reaches the confidence.",
    },
    Help {
        command: "sensitivity",
        examples: &[
            "revplan sensitivity scenarios/board-plan.toml",
            "revplan sensitivity scenarios/acme-52w.toml --swing 0.2 --format csv",
            "revplan sensitivity scenarios/board-plan.toml --charts out/charts",
        ],
        notes: "Uncertain rates go to their P10 and P90; fixed rates, channel volumes and deal sizes by ±--swing; the MQL threshold by ±--threshold-swing points. With --trials auto each input's low and high runs go from 256 trials until its swings are precise at the chart's scale (each row says its trials).",
    },
    Help {
        command: "optimize",
        examples: &[
            "revplan optimize scenarios/board-plan.toml --budget 1500000",
            "revplan optimize scenarios/board-plan.toml --budget 1500000 --objective p-hit --max trade_shows=200000",
        ],
        notes: "The budget is the media budget over the horizon (budget_per_week × active weeks), without program costs or costs per lead. Bounds come from budget_min_per_week / budget_max_per_week in the file, or --min / --max CHANNEL=AMOUNT (over the horizon). The objective is estimated controlled for the drawn rates and the deals' luck, as P(hit) is (not the median); with --trials auto every evaluation runs what made the first as precise as 2,048 plain trials.",
    },
    Help {
        command: "report",
        examples: &[
            "revplan report scenarios/board-plan.toml --out out/board-report",
            "revplan report scenarios/acme-52w.toml --out out/acme --no-sensitivity",
        ],
        notes: "Open DIR/index.html in a browser. The same files, seed and trials give the same page, byte for byte.",
    },
    Help {
        command: "batch",
        examples: &[
            "revplan batch scenarios --out out/runs",
            "revplan batch 'scenarios/*.toml' --out out/runs --trials 20000 --charts",
            "revplan batch scenarios --out out/runs --resume",
            "revplan batch scenarios --out out/shard-0 --shard 0/4",
            "revplan merge out/shard-0 out/shard-1 --out out/runs",
        ],
        notes: "Outputs are written atomically; a scenario's result.json is written last, with a hash of its inputs, seed, trials and the revplan version, so --resume after a kill at any moment ends with the same summary as an uninterrupted run.",
    },
    Help {
        command: "merge",
        examples: &[
            "revplan merge out/shard-0 out/shard-1 --out out/runs",
            "revplan merge out/shard-* --out out/runs --format csv",
        ],
        notes: "",
    },
    Help {
        command: "schema",
        examples: &[
            "revplan schema scenario --out out/scenario.schema.json",
            "revplan schema forecast --out out/forecast.schema.json",
        ],
        notes: "Point your editor at an input schema with a first line `#:schema ./scenario.schema.json` (Taplo / Even Better TOML).",
    },
    Help {
        command: "completions",
        examples: &[
            "revplan completions bash > ~/.local/share/bash-completion/completions/revplan",
            "revplan completions zsh > ~/.zfunc/_revplan",
            "revplan completions fish > ~/.config/fish/completions/revplan.fish",
        ],
        notes: "",
    },
    Help {
        command: "man",
        examples: &["revplan man --out out/revplan.1"],
        notes: "Read it with `man out/revplan.1`.",
    },
];

/// The command line with its examples wrapped for a terminal `width`
/// columns wide: a command too long for a line goes on over `\`
/// continuations, broken between arguments, never inside one.
pub fn command(width: usize) -> clap::Command {
    use clap::CommandFactory;
    let mut cmd =
        Cli::command()
            .term_width(width)
            .after_help(examples(TOP_EXAMPLES, TOP_NOTES, width));
    for h in HELP {
        cmd = cmd.mut_subcommand(h.command, |sub| {
            sub.after_help(examples(h.examples, h.notes, width))
        });
    }
    cmd
}

/// The width help is wrapped to: $COLUMNS, else the terminal's, else 100;
/// at most 100 and at least 40.
pub fn help_width() -> usize {
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    let terminal = || terminal_size::terminal_size().map(|(w, _)| usize::from(w.0));
    columns.or_else(terminal).unwrap_or(100).clamp(40, 100)
}

/// The "Examples:" text: each command on lines of at most `width`.
pub fn examples(list: &[&str], notes: &str, width: usize) -> String {
    let mut out = String::from("Examples:\n");
    for e in list {
        for line in wrap_command(e, width.saturating_sub(2)) {
            out.push_str("  ");
            out.push_str(&line);
            out.push('\n');
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(notes);
    }
    out.trim_end().to_string()
}

/// A shell command as lines of at most `width` where it can: broken
/// between arguments (a flag stays with its value), each line but the last
/// ending in ` \`, the continuations indented.
pub fn wrap_command(command: &str, width: usize) -> Vec<String> {
    let words: Vec<&str> = command.split(' ').filter(|w| !w.is_empty()).collect();
    let mut units: Vec<String> = Vec::new();
    for w in words {
        let joins_flag = units
            .last()
            .is_some_and(|u| u.starts_with("--") && !u.contains(' ') && !w.starts_with('-'));
        match units.last_mut() {
            Some(u) if joins_flag => {
                u.push(' ');
                u.push_str(w);
            }
            _ => units.push(w.to_string()),
        }
    }
    // A flag and its value too long for a line of their own part after all.
    let room = width.saturating_sub(4);
    let units: Vec<String> = units
        .into_iter()
        .flat_map(|u| {
            if u.chars().count() > room {
                u.split(' ').map(String::from).collect()
            } else {
                vec![u]
            }
        })
        .collect();
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (i, u) in units.iter().enumerate() {
        let last = i + 1 == units.len();
        let room = if last { width } else { width.saturating_sub(2) };
        if line.is_empty() {
            line.push_str(u);
        } else if line.chars().count() + 1 + u.chars().count() <= room {
            line.push(' ');
            line.push_str(u);
        } else {
            line.push_str(" \\");
            lines.push(std::mem::take(&mut line));
            line.push_str("  ");
            line.push_str(u);
        }
    }
    lines.push(line);
    lines
}

#[derive(Parser)]
#[command(
    name = "revplan",
    version,
    about = "Revenue planning and forecasting for B2B revenue teams",
    long_about = "revplan models the whole revenue cycle — lead → MQL → SAL → SQL → opportunity → won — \
                  from TOML model and scenario files."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Validate model and scenario files and summarise them.
    ///
    /// For each channel, prints the expected conversion at each step of the
    /// revenue cycle (recycling included, every rate at its mean, the SLA
    /// met) and the expected weeks from lead to closed-won. Every problem in
    /// a file is reported with its file, line, column and key.
    Check(CheckArgs),

    /// Plan backwards from the target, as an ask: the budget, the leads
    /// per channel and the sales team, what the pipeline gap is, and
    /// P(target reached) as simulated.
    ///
    /// Close rates and the whole distribution of every delay shift each
    /// target week back to the weeks its leads must arrive. The open
    /// pipeline's expected closes are subtracted first; the revenue no lead
    /// created inside the horizon can reach is the pipeline gap. With
    /// --confidence the plan aims higher until the simulation reaches it.
    Plan(PlanArgs),

    /// Forecast with a parallel Monte Carlo simulation: revenue by week,
    /// month and quarter, P(target reached), costs, and where revenue comes
    /// from, lead source by lead source.
    ///
    /// Each trial draws uncertain rates once, then arrivals, scores, sales
    /// follow-up against capacity, every stage outcome and delay, slips, wins
    /// and deal sizes. Results are identical for any --threads; variants and
    /// overrides see the same random numbers.
    Simulate(SimulateArgs),

    /// Compare the base and every variant side by side, trial by trial on
    /// the same random numbers: revenue, P(hit), costs, contribution, CAC,
    /// acceptance, and differences with 95% intervals.
    ///
    /// `--set` before any `--variant` changes the base (and so every
    /// variant); after `--variant NAME` it defines that ad-hoc variant.
    Compare(CompareArgs),

    /// Run the scenario along one parameter — above all the MQL threshold
    /// and the SLA's touches — and show how MQLs, acceptance, sales load,
    /// opportunities, revenue, P(hit) and contribution move, every point on
    /// the same random numbers.
    Sweep(SweepArgs),

    /// The smallest value of a lever for which P(target reached) reaches a
    /// confidence: total leads at the current mix, the media budget, one
    /// channel's budget, or the reps. Bisection on common random numbers;
    /// a value clearly on one side of the confidence (3 standard errors)
    /// is judged from 512 trials, and the answer is run with them all.
    Goal(GoalArgs),

    /// Which assumptions matter most: revenue P50 and P(hit) with each input
    /// at a low and a high value, the rest as in the scenario, sorted by
    /// swing — the data of a tornado chart.
    Sensitivity(SensitivityArgs),

    /// Split a media budget across the budget-driven channels, through their
    /// response curves, to maximise mean or median revenue, P(hit) or
    /// contribution. Each round moves a step of budget from the channel with
    /// the lowest marginal value to the one with the highest when they differ
    /// beyond chance (2 paired standard errors); the step halves otherwise,
    /// and the search stops after two steps in a row without such a move.
    Optimize(OptimizeArgs),

    /// Write the board report: one self-contained HTML page with the
    /// headline, the plan by quarter, the forecast charts, the reports by
    /// lead source, the variants compared and the sensitivity tornado, and
    /// every chart as PNG beside it.
    ///
    /// The page has no script and fetches nothing (inline SVG and CSS): it can
    /// be opened offline, attached to an email, and printed.
    Report(ReportArgs),

    /// Run many scenario files: each one's forecast and plan (and its
    /// variants') under DIR/<scenario>/, and one summary of them all in
    /// DIR/summary.csv, DIR/summary.json and DIR/summary.xlsx.
    ///
    /// PATH may be a scenario file, a folder (every *.toml scenario inside,
    /// recursively, in sorted order; model files are passed over) or a glob
    /// pattern. A scenario that fails is reported in the summary with its
    /// error and the others go on; the exit code is then 1.
    Batch(BatchArgs),

    /// Join the output folders of `revplan batch --shard I/N` (every I) into
    /// one, with the summary a single run would have written.
    Merge(MergeArgs),

    /// Report what really happened, from CRM and marketing-automation
    /// exports: data quality, then lead production and sales performance by
    /// period and arrival cohort, ROI by source, acceptance and SLA
    /// follow-up, stage velocity, win rates, the open pipeline.
    ///
    /// A data-source file names the export files (CSV or xlsx) and maps
    /// their columns and values; `preset = "salesforce"` or "hubspot"
    /// fills the usual column names. Open items count as censored, not
    /// failed.
    Actuals(ActualsArgs),

    /// Fit a model to the actuals: volumes and scores per source, stage
    /// conversions (still-open items censored, sources pooled), stage
    /// times, the sales cycle (censored log-normal), win rates and deal
    /// sizes, with the open pipeline at the as-of date.
    Calibrate(CalibrateArgs),

    /// Test the forecast against what happened: at each origin, calibrate
    /// on what was known then, forecast the next weeks, and score coverage
    /// and loss against the actuals, beside a run-rate and a pipeline
    /// baseline.
    Backtest(BacktestArgs),

    /// The plan against the actuals to date (by week, stage, source and
    /// period: ahead or behind) and the re-forecast of the rest of the
    /// horizon from what is open today, with P(hit) today.
    Track(TrackArgs),

    /// Write CRM-shaped exports generated from a known model (leads, deals,
    /// activities, costs and their data-source file), with the defects
    /// real exports have: test data for `actuals`.
    GenerateCrm(GenerateArgs),

    /// Print the JSON Schema of an input file format (model, scenario) or
    /// of a command's JSON output (forecast, plan, compare, …).
    Schema(SchemaArgs),

    /// Print a shell completion script.
    Completions(CompletionsArgs),

    /// Print the manual page (roff).
    Man(ManArgs),
}

/// Output formats on the command line.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Aligned columns for a terminal.
    Table,
    /// Comma-separated values (one table; see --table).
    Csv,
    /// One JSON document with schema_version and kind.
    Json,
    /// An xlsx workbook, a sheet per table (needs --out, or a pipe).
    Xlsx,
}

#[derive(Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Write the output to this file (atomically) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// With --format csv: which table (default: the command's main one;
    /// an unknown name lists them).
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// With --format csv: the field delimiter (`,`, `;`, `|` or `tab`).
    #[arg(long, value_name = "CHAR", default_value = ",", value_parser = parse_delimiter)]
    pub csv_delimiter: u8,
    /// With --format csv: the decimal mark, `.` or `,` (with a `;`, `|` or
    /// tab delimiter, as spreadsheets in many European locales expect).
    #[arg(long, value_name = "MARK", default_value = ".", value_parser = ["." , ","])]
    pub csv_decimal: String,
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "," => Ok(b','),
        ";" => Ok(b';'),
        "tab" | "\t" => Ok(b'\t'),
        "|" => Ok(b'|'),
        _ => Err("expected `,`, `;`, `|` or `tab`".into()),
    }
}

#[derive(Args)]
pub struct CheckArgs {
    /// Scenario or model files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Override a key of the scenario or model, e.g. scoring.threshold=70.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct ScenarioArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Override a key of the scenario or model, e.g. scoring.threshold=70.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Use this variant of the scenario instead of the base.
    #[arg(long, value_name = "NAME")]
    pub variant: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GranularityArg {
    Week,
    Month,
    Quarter,
}

#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Add the week-by-week table to the terminal view.
    #[arg(long)]
    pub weekly: bool,
    /// Size the plan so that P(target reached) is at least P, as simulated.
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub confidence: Option<f64>,
    /// How finely the lead volume may change: one level a week (the exact
    /// inverse), a month or a quarter.
    #[arg(long, value_enum, default_value_t = GranularityArg::Month)]
    pub granularity: GranularityArg,
    /// Also buy leads for the revenue they bring after the horizon (the
    /// target continued); by default only leads that pay for themselves
    /// inside it.
    #[arg(long)]
    pub beyond_horizon: bool,
    /// Do not simulate the plan (no P(hit); faster).
    #[arg(long, conflicts_with = "confidence")]
    pub no_simulation: bool,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub charts: ChartArgs,
}

#[derive(Args)]
pub struct ChartArgs {
    /// Also draw the charts that fit, as SVG and PNG, into this folder.
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EngineArg {
    /// The fastest exact engine that applies.
    Auto,
    /// Poisson paths (refused when leads interact).
    Fast,
    /// Leads followed one by one.
    Leads,
    /// Leads moved in groups of the same state by binomial and
    /// multinomial draws (score in bands).
    Cohorts,
}

/// Most threads a run may ask for.
pub const MAX_THREADS: usize = 1024;

#[derive(Args)]
pub struct RunArgs {
    /// Trials to run, or `auto`: until the standard error of P(hit) is below
    /// 0.005 and that of the mean below 0.5%; for a family (compare, sweep,
    /// a batch scenario with variants), from 1,024 trials until each
    /// member's P(hit) is known to ±0.011 and the errors of each paired
    /// difference from the base (a sweep: from its leading point) are
    /// below those bars or a tenth of the difference; `goal`, `plan
    /// --confidence`, `sensitivity` and `optimize` say their own rules
    /// (default: the scenario's [run]).
    #[arg(long, value_name = "N|auto", value_parser = parse_trials)]
    pub trials: Option<Trials>,
    /// Most trials `auto` may run.
    #[arg(long, value_name = "N", value_parser = parse_max_trials)]
    pub max_trials: Option<u64>,
    /// Random seed (default: the scenario's [run] seed, else 1).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Worker threads (default: one per core; at most 1024). Results do not
    /// depend on it.
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u64).range(1..=MAX_THREADS as u64))]
    pub threads: Option<u64>,
    /// Simulation engine: `auto` picks the fastest that applies — Poisson
    /// paths when leads do not interact, else cohorts from 3,000 MQLs a
    /// week, else leads.
    #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
    pub engine: EngineArg,
    /// Run even when the estimate of time or memory is past the limits
    /// (15 minutes, 4 GiB) that otherwise refuse a run before it starts.
    #[arg(long)]
    pub allow_large: bool,
}

impl RunArgs {
    /// The overrides these flags put on a scenario's run.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            trials: self.trials,
            seed: self.seed,
            max_trials: self.max_trials,
            engine: Some(match self.engine {
                EngineArg::Auto => EngineKind::Auto,
                EngineArg::Fast => EngineKind::Fast,
                EngineArg::Leads => EngineKind::Leads,
                EngineArg::Cohorts => EngineKind::Cohorts,
            }),
            allow_large: self.allow_large,
        }
    }

    pub fn threads(&self) -> Option<usize> {
        self.threads.map(|t| t as usize)
    }
}

fn parse_trials(s: &str) -> Result<Trials, String> {
    if s == "auto" {
        return Ok(Trials::Auto);
    }
    match s.parse::<u64>() {
        Ok(n) if (1..=crate::spec::MAX_TRIALS as u64).contains(&n) => Ok(Trials::Fixed(n)),
        _ => Err(format!(
            "expected `auto` or a whole number of trials from 1 to {}",
            crate::spec::MAX_TRIALS
        )),
    }
}

fn parse_max_trials(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if (1..=crate::spec::MAX_TRIALS as u64).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number of trials from 1 to {}",
            crate::spec::MAX_TRIALS
        )),
    }
}

pub fn parse_probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if p > 0.0 && p < 1.0 => Ok(p),
        _ => Err("expected a probability between 0 and 1 (exclusive), e.g. 0.9".into()),
    }
}

#[derive(Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// Add the monthly reports by lead source (and every period) to the
    /// terminal view.
    #[arg(long)]
    pub reports: bool,
    /// With --charts: also the revenue-cycle waterfall of each channel.
    #[arg(long)]
    pub by_channel: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub charts: ChartArgs,
}

#[derive(Args)]
pub struct CompareArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Override a key: of the base when before any --variant, of that
    /// ad-hoc variant after it.
    #[arg(long = "set", value_name = "KEY=VALUE", action = clap::ArgAction::Append)]
    pub set: Vec<String>,
    /// Add an ad-hoc variant; the --set flags that follow define it.
    #[arg(long = "variant", value_name = "NAME", action = clap::ArgAction::Append)]
    pub variant: Vec<String>,
    /// Compare only these of the file's variants (comma-separated).
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub only: Vec<String>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub charts: ChartArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ObjectiveArg {
    /// Mean revenue.
    Mean,
    /// Median revenue.
    P50,
    /// P(target reached).
    #[value(alias = "p_hit")]
    PHit,
    /// Mean contribution: revenue − marketing spend − sales cost.
    Contribution,
}

impl From<ObjectiveArg> for crate::decide::Objective {
    fn from(o: ObjectiveArg) -> Self {
        match o {
            ObjectiveArg::Mean => Self::Mean,
            ObjectiveArg::P50 => Self::P50,
            ObjectiveArg::PHit => Self::PHit,
            ObjectiveArg::Contribution => Self::Contribution,
        }
    }
}

#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The key path to sweep, e.g. scoring.threshold.
    #[arg(long, value_name = "KEY")]
    pub param: String,
    /// Values to try (TOML values, comma-separated).
    #[arg(long, value_name = "A,B,C", value_delimiter = ',', conflicts_with_all = ["from", "to", "step"])]
    pub values: Vec<String>,
    /// First value of a numeric range.
    #[arg(long, value_name = "X", requires_all = ["to", "step"])]
    pub from: Option<f64>,
    /// Last value of a numeric range (included).
    #[arg(long, value_name = "Y")]
    pub to: Option<f64>,
    /// Step of a numeric range.
    #[arg(long, value_name = "Z")]
    pub step: Option<f64>,
    /// What the best point maximises.
    #[arg(long, value_enum, default_value_t = ObjectiveArg::PHit)]
    pub objective: ObjectiveArg,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub charts: ChartArgs,
}

#[derive(Args)]
pub struct GoalArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The probability of reaching the target to achieve, e.g. 0.9.
    #[arg(long, value_name = "P", value_parser = parse_probability)]
    pub confidence: f64,
    /// What to move: leads, budget, budget:<channel> or reps.
    #[arg(long, value_name = "LEVER")]
    pub lever: String,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct SensitivityArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Relative swing of fixed rates, channel volumes and deal sizes.
    #[arg(long, value_name = "S", default_value_t = 0.1)]
    pub swing: f64,
    /// Points the MQL threshold moves either way.
    #[arg(long, value_name = "POINTS", default_value_t = 5.0)]
    pub threshold_swing: f64,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub charts: ChartArgs,
}

#[derive(Args)]
pub struct OptimizeArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Media budget over the horizon to split.
    #[arg(long, value_name = "DOLLARS")]
    pub budget: f64,
    /// What to maximise.
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Mean)]
    pub objective: ObjectiveArg,
    /// Smallest budget of a channel over the horizon, CHANNEL=AMOUNT.
    #[arg(long, value_name = "CHANNEL=AMOUNT")]
    pub min: Vec<String>,
    /// Largest budget of a channel over the horizon, CHANNEL=AMOUNT.
    #[arg(long, value_name = "CHANNEL=AMOUNT")]
    pub max: Vec<String>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args)]
pub struct ReportArgs {
    /// The scenario file; its variants are compared in the report.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Override a key of the scenario or model, e.g. scoring.threshold=70.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The folder to write index.html and the PNG charts into (created if
    /// missing; files written atomically).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Leave out the sensitivity analysis (the slowest part).
    #[arg(long)]
    pub no_sensitivity: bool,
    /// Add a section on what actually happened, from this data-source file
    /// (see `revplan actuals`).
    #[arg(long, value_name = "DATA")]
    pub data: Option<PathBuf>,
    /// The as-of date of the actuals section (default: the data's last).
    #[arg(long, value_name = "DATE", requires = "data")]
    pub as_of: Option<jiff::civil::Date>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct BatchArgs {
    /// Scenario files, folders of them or glob patterns.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// The output folder (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Scenarios run at once (default: one per thread). The threads are
    /// shared, so more jobs never oversubscribe the machine.
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    /// Skip scenarios whose outputs are complete and whose inputs, seed,
    /// trials and revplan version are unchanged.
    #[arg(long)]
    pub resume: bool,
    /// Run only this shard (0 ≤ I < N) of the scenarios, for one task of a
    /// Kubernetes Indexed Job or a Slurm array; join with `revplan merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::batch::Shard>,
    /// Also write each scenario's charts (SVG and PNG).
    #[arg(long)]
    pub charts: bool,
    /// How the summary is printed on stdout.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args)]
pub struct MergeArgs {
    /// The output folders of every shard.
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shards: Vec<PathBuf>,
    /// The folder to write the joined outputs into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How the summary is printed on stdout.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
}

/// The JSON Schemas revplan publishes.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// Model files (input).
    Model,
    /// Scenario files (input).
    Scenario,
    /// `simulate --format json`.
    Forecast,
    /// `plan --format json`.
    Plan,
    /// `compare --format json`.
    Compare,
    /// `sweep --format json`.
    Sweep,
    /// `goal --format json`.
    Goal,
    /// `sensitivity --format json`.
    Sensitivity,
    /// `optimize --format json`.
    Optimize,
    /// `check --format json`.
    Check,
    /// `batch` and `merge`: DIR/summary.json.
    BatchSummary,
    /// Data-source files of `actuals` (input).
    DataSource,
    /// `actuals --format json`.
    Actuals,
    /// `calibrate --format json`.
    Calibration,
    /// `backtest --format json`.
    Backtest,
    /// `track --format json`.
    Track,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ByArg {
    Week,
    Month,
    Quarter,
}

#[derive(Args)]
pub struct ActualsArgs {
    /// The data-source file.
    #[arg(value_name = "DATA")]
    pub data: PathBuf,
    /// Report as if the export had been taken on this date (YYYY-MM-DD):
    /// every later event is hidden. Default: the last date in the data.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<jiff::civil::Date>,
    /// The periods of the period and cohort tables.
    #[arg(long, value_enum, default_value_t = ByArg::Month)]
    pub by: ByArg,
    /// Add a random sample of N rejected and N ignored leads (table
    /// `review`; `--format csv --table review` for the review panel).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=100_000))]
    pub review: Option<u64>,
    /// Seed of the review sample.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Show the long tables (acceptance by month and source, owners and
    /// products).
    #[arg(long)]
    pub detail: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub charts: ChartArgs,
}

#[derive(Args)]
pub struct CalibrateArgs {
    /// The data-source file.
    #[arg(value_name = "DATA")]
    pub data: PathBuf,
    /// Fit to what was known on this date (YYYY-MM-DD): later events are
    /// hidden. Default: the last date in the data.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<jiff::civil::Date>,
    /// Leave out leads and deals created before this date (after a change
    /// of regime).
    #[arg(long, value_name = "DATE")]
    pub since: Option<jiff::civil::Date>,
    /// The model file to write (and MODEL-pipeline.csv beside it).
    #[arg(long, value_name = "MODEL.toml")]
    pub out: PathBuf,
    /// The model's name (default: "calibrated").
    #[arg(long, value_name = "NAME", default_value = "calibrated")]
    pub name: String,
    /// Format of the fitted values on stdout (or --report).
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Write the fitted values to this file instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
}

#[derive(Args)]
pub struct TrackArgs {
    /// The scenario the plan was made with (it needs a start_date).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// The data-source file of the actuals.
    #[arg(value_name = "DATA")]
    pub data: PathBuf,
    /// Track as of this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub as_of: jiff::civil::Date,
    /// Show the weekly table.
    #[arg(long)]
    pub detail: bool,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum MetricArg {
    Revenue,
    Wins,
    Opportunities,
}

fn parse_every(s: &str) -> Result<u32, String> {
    let n = s.strip_suffix('w').unwrap_or(s);
    match n.parse::<u32>() {
        Ok(n) if (1..=52).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected weeks from 1 to 52, such as 4w; got `{s}`"
        )),
    }
}

#[derive(Args)]
pub struct BacktestArgs {
    /// The data-source file.
    #[arg(value_name = "DATA")]
    pub data: PathBuf,
    /// Forecast origins (YYYY-MM-DD, comma-separated): each forecast starts
    /// on its origin, fitted to the data up to the day before.
    #[arg(
        long,
        value_name = "DATES",
        value_delimiter = ',',
        conflicts_with = "every",
        required_unless_present = "every"
    )]
    pub origins: Vec<jiff::civil::Date>,
    /// An origin every N weeks (e.g. 4w), from 13 weeks into the data to
    /// the last that leaves --weeks of actuals.
    #[arg(long, value_name = "Nw", value_parser = parse_every)]
    pub every: Option<u32>,
    /// Weeks each forecast covers.
    #[arg(long, value_name = "H", default_value_t = 13, value_parser = clap::value_parser!(u32).range(1..=104))]
    pub weeks: u32,
    /// What is forecast and scored.
    #[arg(long, value_enum, default_value_t = MetricArg::Revenue)]
    pub metric: MetricArg,
    /// Feed the actual lead arrivals of each window (their weekly average
    /// per source): scores conversion and timing alone.
    #[arg(long)]
    pub given_arrivals: bool,
    /// Trials per forecast.
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub trials: u64,
    /// Seed of every forecast.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub charts: ChartArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PresetArg {
    Salesforce,
    Hubspot,
}

#[derive(Args)]
pub struct GenerateArgs {
    /// The folder to write into (made if missing).
    #[arg(value_name = "DIR")]
    pub out: PathBuf,
    /// The export layout.
    #[arg(long, value_enum, default_value_t = PresetArg::Salesforce)]
    pub preset: PresetArg,
    /// Leads to generate.
    #[arg(long, default_value_t = 4000, value_parser = clap::value_parser!(u64).range(10..=5_000_000))]
    pub leads: u64,
    /// Weeks of arrivals; the export is taken at their end.
    #[arg(long, default_value_t = 52, value_parser = clap::value_parser!(u32).range(4..=520))]
    pub weeks: u32,
    /// First day of arrivals.
    #[arg(long, value_name = "DATE", default_value = "2025-01-06")]
    pub start: jiff::civil::Date,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Leave the defects out (a clean export).
    #[arg(long)]
    pub clean: bool,
}

#[derive(Args)]
pub struct SchemaArgs {
    /// Which file format or output.
    #[arg(value_enum)]
    pub kind: SchemaKind,
    /// Write the schema to this file (atomically) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args)]
pub struct ManArgs {
    /// Write the page to this file instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

impl From<FormatArg> for crate::export::Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Table => Self::Table,
            FormatArg::Csv => Self::Csv,
            FormatArg::Json => Self::Json,
            FormatArg::Xlsx => Self::Xlsx,
        }
    }
}

impl From<GranularityArg> for crate::plan::Granularity {
    fn from(g: GranularityArg) -> Self {
        match g {
            GranularityArg::Week => Self::Week,
            GranularityArg::Month => Self::Month,
            GranularityArg::Quarter => Self::Quarter,
        }
    }
}

impl From<SchemaKind> for crate::schema::Kind {
    fn from(k: SchemaKind) -> Self {
        match k {
            SchemaKind::Model => Self::Model,
            SchemaKind::Scenario => Self::Scenario,
            SchemaKind::Forecast => Self::Forecast,
            SchemaKind::Plan => Self::Plan,
            SchemaKind::Compare => Self::Compare,
            SchemaKind::Sweep => Self::Sweep,
            SchemaKind::Goal => Self::Goal,
            SchemaKind::Sensitivity => Self::Sensitivity,
            SchemaKind::Optimize => Self::Optimize,
            SchemaKind::Check => Self::Check,
            SchemaKind::BatchSummary => Self::BatchSummary,
            SchemaKind::DataSource => Self::DataSource,
            SchemaKind::Actuals => Self::Actuals,
            SchemaKind::Calibration => Self::Calibration,
            SchemaKind::Backtest => Self::Backtest,
            SchemaKind::Track => Self::Track,
        }
    }
}
