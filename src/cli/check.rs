//! `commroute check`: validate the rules and print every problem.

use super::output::json_line;
use super::style::{self, PASS};
use super::{diagnostics, out_exact, out_painted, CliResult, Exit, Format, RulesArg};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    rules: RulesArg,
    /// `json`: a summary line on stdout, and each problem as a JSON object on stderr
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn run(args: Args) -> CliResult {
    match args.rules.load() {
        Ok((rules, from)) => {
            let d = &rules.delivery;
            let counts = (
                rules.inbound.rules.rules.len(),
                d.gates.len(),
                d.grants.len(),
                rules.outbound.rules.rules.len(),
                rules.outbound.text.rules.len(),
            );
            match args.format {
                Format::Json => out_exact(&json_line(
                    "summary",
                    &serde_json::json!({
                        "problems": 0, "inbound_rules": counts.0, "delivery_gates": counts.1,
                        "delivery_grants": counts.2, "outbound_rules": counts.3, "text_rules": counts.4,
                        "rules": from.json(),
                    }),
                ))?,
                Format::Auto | Format::Table => out_painted(
                    &format!(
                        "ok: {from}: {} inbound rules, {} delivery gates and {} grants, {} outbound rules, {} text rules\n",
                        counts.0, counts.1, counts.2, counts.3, counts.4,
                    ),
                    |t| style::labels(t, &[("ok:", PASS)]),
                )?,
            }
            Ok(Exit::Ok)
        }
        Err(diags) => {
            diagnostics(&diags);
            Ok(Exit::Failed)
        }
    }
}
