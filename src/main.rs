//! The `revplan` binary: everything is in the library's [`revplan::cli`].

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(revplan::cli::main())
}
