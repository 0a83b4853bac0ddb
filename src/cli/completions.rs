//! `commroute completions SHELL`: the shell completion script, from the
//! same command tree that parses the arguments (clap_complete).

use clap_complete::Shell;

use super::{out_exact, CliResult, Exit};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    shell: Shell,
}

pub(crate) fn run(args: Args) -> CliResult {
    out_exact(&script(args.shell))?;
    Ok(Exit::Ok)
}

/// The completion script for `shell`.
pub(crate) fn script(shell: Shell) -> String {
    let mut cmd = super::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "commroute", &mut buf);
    String::from_utf8(buf).expect("completion scripts are UTF-8")
}
