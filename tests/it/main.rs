//! Integration tests: one binary, one module per theme.

mod actuals;
mod backtest;
mod batch;
mod calibrate;
mod cli;
mod decide;
mod decide_cli;
mod deploy;
mod export;
mod flow;
mod hardening;
mod invalid;
mod oracle;
mod plan;
mod props;
mod readme;
mod report;
mod scenario;
mod schema;
mod sim;
mod support;
mod timing;
mod track;
mod truth;
