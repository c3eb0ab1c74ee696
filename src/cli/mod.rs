//! The `revplan` command line: [`args`] says what each command takes,
//! [`commands`] runs it, [`io`] writes results and errors. `main.rs` only
//! calls [`main`].

pub mod args;
pub mod commands;
pub mod io;

use clap::FromArgMatches;

use args::{Cli, Command};

/// Parses the command line, runs the command, and returns the exit code:
/// 0 ok, 1 failed, 2 bad usage or invalid input.
pub fn main() -> u8 {
    let matches = args::command(args::help_width()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let result = match &cli.command {
        Command::Check(a) => commands::check(a),
        Command::Plan(a) => commands::plan(a),
        Command::Simulate(a) => commands::simulate(a),
        Command::Compare(a) => {
            let m = matches.subcommand_matches("compare").unwrap_or(&matches);
            commands::compare(a, m)
        }
        Command::Sweep(a) => commands::sweep(a),
        Command::Goal(a) => commands::goal(a),
        Command::Sensitivity(a) => commands::sensitivity(a),
        Command::Optimize(a) => commands::optimize(a),
        Command::Report(a) => commands::report_command(a),
        Command::Batch(a) => commands::batch(a),
        Command::Merge(a) => commands::merge(a),
        Command::Actuals(a) => commands::actuals(a),
        Command::Calibrate(a) => commands::calibrate(a),
        Command::Backtest(a) => commands::backtest(a),
        Command::Track(a) => commands::track(a),
        Command::GenerateCrm(a) => commands::generate_crm(a),
        Command::Schema(a) => commands::schema(a),
        Command::Completions(a) => commands::completions(a),
        Command::Man(a) => commands::man(a),
    };
    result.unwrap_or_else(|e| io::report(&e))
}
