//! The `commroute` command: parse arguments, run one subcommand from the
//! library, turn the outcome into an exit code (0 ok, 1 a check failed, 2 a
//! usage or input error).

fn main() -> std::process::ExitCode {
    commroute::cli::main()
}
