//! `commroute schema rules|world|scenario|timeline`: JSON Schemas for editors.

use crate::authoring::schema::{self, FileKind};

use super::{out_exact, CliResult, Exit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SchemaKind {
    /// rules/inbound.yaml, rules/delivery.yaml, rules/outbound.yaml
    Rules,
    /// world files
    World,
    /// scenario files
    Scenario,
    /// timeline files
    Timeline,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The kind of file
    #[arg(value_enum)]
    kind: SchemaKind,
}

pub(crate) fn run(args: Args) -> CliResult {
    let kind = match args.kind {
        SchemaKind::Rules => FileKind::Rules,
        SchemaKind::World => FileKind::World,
        SchemaKind::Scenario => FileKind::Scenario,
        SchemaKind::Timeline => FileKind::Timeline,
    };
    let text = serde_json::to_string_pretty(&schema::schema(kind)).expect("schemas serialise");
    out_exact(&format!("{text}\n"))?;
    Ok(Exit::Ok)
}
