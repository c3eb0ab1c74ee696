//! Integration tests: one binary, one module per theme.

mod cli;
mod flow;
mod invalid;
mod plan;
mod props;
mod scenario;
mod schema;
mod support;
