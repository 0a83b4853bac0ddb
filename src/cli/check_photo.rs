//! `commroute check-photo`: say whether files may be sent as photos.

use std::path::PathBuf;

use anyhow::Context;
use commroute::photo;

use super::output::json_line;
use super::{out, CliResult, Exit, Format};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The files to check
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(args: Args) -> CliResult {
    let mut text = String::new();
    let mut refused = 0;
    for f in &args.files {
        let v = photo::check(f).with_context(|| format!("cannot read `{}`", f.display()))?;
        if !v.accepted {
            refused += 1;
        }
        match args.format {
            Format::Json => {
                #[derive(serde::Serialize)]
                struct Line<'a> {
                    file: String,
                    #[serde(flatten)]
                    verdict: &'a photo::Verdict,
                }
                text.push_str(&json_line(
                    "photo",
                    &Line {
                        file: f.display().to_string(),
                        verdict: &v,
                    },
                ));
            }
            Format::Table => {
                let verdict = if v.accepted { "ok" } else { "refused" };
                text.push_str(&format!(
                    "{}: {verdict} ({}, {} bytes)\n",
                    f.display(),
                    v.kind.name(),
                    v.bytes
                ));
                for line in &v.refusal {
                    text.push_str(&format!("  {line}\n"));
                }
            }
        }
    }
    out(&text)?;
    Ok(if refused > 0 { Exit::Failed } else { Exit::Ok })
}
