//! `commroute check`: validate the rules and print every problem.

use super::{err, out, CliResult, Exit, RulesArg};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    rules: RulesArg,
}

pub(crate) fn run(args: Args) -> CliResult {
    match args.rules.load() {
        Ok((rules, from)) => {
            let d = &rules.delivery;
            out(&format!(
                "ok: {from}: {} inbound rules, {} delivery gates and {} grants, {} outbound rules, {} text rules\n",
                rules.inbound.rules.rules.len(),
                d.gates.len(),
                d.grants.len(),
                rules.outbound.rules.rules.len(),
                rules.outbound.text.rules.len(),
            ))?;
            Ok(Exit::Ok)
        }
        Err(diags) => {
            err(&format!("{diags}\n"));
            Ok(Exit::Failed)
        }
    }
}
