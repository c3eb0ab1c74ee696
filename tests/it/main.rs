//! Integration tests: one binary, one module per theme.

mod cli;
mod flow;
mod invalid;
mod oracle;
mod plan;
mod props;
mod scenario;
mod schema;
mod sim;
mod support;
