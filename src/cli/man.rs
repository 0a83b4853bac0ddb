//! `commroute man`: roff manual pages, one per command (clap_mangen), from
//! the same command tree that parses the arguments.

use std::path::PathBuf;

use anyhow::{anyhow, Context};

use super::{out_exact, CliResult, Exit};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Write every page (commroute.1, commroute-route.1, commroute-route-inbound.1, ...) into DIR, created if missing
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    out: Option<PathBuf>,
    /// The command whose page goes to stdout, e.g. `route inbound` [default: commroute itself]
    #[arg(value_name = "COMMAND")]
    command: Vec<String>,
}

pub(crate) fn run(args: Args) -> CliResult {
    let pages = pages();
    match args.out {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
            for (name, page) in &pages {
                let path = dir.join(format!("{name}.1"));
                std::fs::write(&path, page).with_context(|| format!("cannot write `{}`", path.display()))?;
            }
            super::err(&format!(
                "wrote {} manual pages to {}\n",
                pages.len(),
                crate::text::shown(&dir.display().to_string())
            ));
        }
        None => {
            let name = std::iter::once("commroute")
                .chain(args.command.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("-");
            let Some((_, page)) = pages.iter().find(|(n, _)| *n == name) else {
                let known: Vec<String> = pages
                    .iter()
                    .filter_map(|(n, _)| n.strip_prefix("commroute-"))
                    .map(|n| format!("`{}`", n.replace('-', " ")))
                    .collect();
                return Err(anyhow!(
                    "no command `{}`; pages exist for {}",
                    crate::text::shown(&args.command.join(" ")),
                    known.join(", ")
                )
                .into());
            };
            out_exact(page)?;
        }
    }
    Ok(Exit::Ok)
}

/// Every command's page, named as its file is without `.1`
/// (`commroute-route-inbound`), the top command first.
pub(crate) fn pages() -> Vec<(String, String)> {
    let mut cmd = super::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    walk(&cmd, &mut pages);
    pages
}

fn walk(cmd: &clap::Command, pages: &mut Vec<(String, String)>) {
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_owned();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .expect("rendering into memory cannot fail");
    pages.push((name, String::from_utf8(buf).expect("manual pages are UTF-8")));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        walk(sub, pages);
    }
}
