//! revplan: a revenue planning and forecasting simulator for B2B revenue
//! teams.
//!
//! One model of the revenue cycle (lead → MQL → SAL → SQL → opportunity →
//! won) serves planning backwards from a revenue target and forecasting
//! forwards by Monte Carlo. This crate is the library; `src/main.rs` only
//! parses the command line and calls it.
//!
//! Input flows one way: [`load`] reads files into [`tree`] nodes, [`spec`]
//! reads those into file types (via [`read`]), and [`model`] checks and
//! builds the [`model::Model`] that everything else uses. [`chain`] and
//! [`flow`] hold the linear algebra of the expected flow; [`check`] reports
//! on a model; [`output`] formats and writes results.

pub mod actuals;
pub mod backtest;
pub mod batch;
pub mod calendar;
pub mod calibrate;
pub mod chain;
pub mod chart;
pub mod check;
pub mod cli;
pub mod decide;
pub mod diag;
pub mod dist;
pub mod export;
pub mod flow;
pub mod load;
pub mod math;
pub mod metrics;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod read;
pub mod report;
pub mod run;
pub mod schema;
pub mod sim;
pub mod spec;
pub mod timeline;
pub mod timing;
pub mod track;
pub mod tree;

use std::path::PathBuf;

pub use diag::InputError;

/// Everything that can go wrong in a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is invalid: a file, a flag or an override.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The plan cannot be made from this scenario.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// The simulation cannot run as asked.
    #[error(transparent)]
    Sim(#[from] sim::SimError),
    /// A flag's value does not make sense for the scenario.
    #[error("{0}")]
    Usage(String),
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] chart::ChartError),
    /// The worker threads could not be started.
    #[error("cannot start the worker threads: {0}")]
    Threads(String),
    /// A variant named on the command line is not in the scenario.
    #[error("no variant named `{name}` in {file}; it has: {known}")]
    NoVariant {
        name: String,
        file: String,
        known: String,
    },
    /// A batch could not run, or shards could not be merged.
    #[error(transparent)]
    Batch(#[from] batch::BatchError),
    /// A plan cannot be tracked as asked.
    #[error(transparent)]
    Track(#[from] track::TrackError),
    /// An output could not be made in the format asked.
    #[error(transparent)]
    Export(#[from] export::ExportError),
    /// An output could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code: 2 for bad input, 1 for a failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_)
            | Error::NoVariant { .. }
            | Error::Sim(_)
            | Error::Usage(_)
            | Error::Track(_) => 2,
            // A reader that went away (`| head`): the code a shell gives
            // a program ended by SIGPIPE.
            Error::Write { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe => 141,
            Error::Plan(_) | Error::Write { .. } | Error::Threads(_) | Error::Chart(_) => 1,
            Error::Export(e) => match e {
                export::ExportError::NoTable { .. } => 2,
                export::ExportError::Xlsx(_) => 1,
            },
            Error::Batch(e) => e.exit_code(),
        }
    }
}

impl From<decide::ask::AskError> for Error {
    fn from(e: decide::ask::AskError) -> Self {
        match e {
            decide::ask::AskError::Plan(e) => Error::Plan(e),
            decide::ask::AskError::Sim(e) => Error::Sim(e),
        }
    }
}

impl From<decide::goal::GoalError> for Error {
    fn from(e: decide::goal::GoalError) -> Self {
        match e {
            decide::goal::GoalError::Sim(e) => Error::Sim(e),
            decide::goal::GoalError::Lever(m) => Error::Usage(m),
        }
    }
}

impl From<decide::optimize::OptimizeError> for Error {
    fn from(e: decide::optimize::OptimizeError) -> Self {
        match e {
            decide::optimize::OptimizeError::Sim(e) => Error::Sim(e),
            decide::optimize::OptimizeError::Setup(m) => Error::Usage(m),
        }
    }
}

impl From<report::ReportError> for Error {
    fn from(e: report::ReportError) -> Self {
        match e {
            report::ReportError::Sim(e) => Error::Sim(e),
            report::ReportError::Chart(e) => Error::Chart(e),
        }
    }
}
