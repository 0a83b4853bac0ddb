//! `commroute check-photo`: say whether files may be sent as photos.
//!
//! Every file gets a verdict, in order: accepted, refused with the product's
//! refusal lines, or not checked because it cannot be read (missing, a
//! directory, a device, a named pipe). Exit 2 when any file could not be
//! checked, else 1 when any is refused.

use std::path::PathBuf;

use crate::replay::photo;

use super::output::{json_line, shown_owned};
use super::style::{self, FAIL, PASS};
use super::{err, out_exact, out_painted, CliResult, Exit, Format, FormatChoice};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The files to check (`-`: one read from stdin)
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn run(args: Args) -> CliResult {
    let mut text = String::new();
    let mut refused = 0;
    let mut unreadable = 0;
    for f in &args.files {
        let stdin = super::stdin::is_stdin(f);
        let file = if stdin { super::stdin::name() } else { f.as_path() }
            .display()
            .to_string();
        let verdict = if stdin {
            photo::check_reader(&mut std::io::stdin().lock())
        } else {
            photo::check(f)
        };
        match &verdict {
            Ok(v) if !v.accepted => refused += 1,
            Ok(_) => {}
            Err(_) => unreadable += 1,
        }
        match args.format.layout() {
            None => {
                #[derive(serde::Serialize)]
                struct Line<'a> {
                    file: &'a str,
                    #[serde(flatten)]
                    verdict: &'a photo::Verdict,
                }
                #[derive(serde::Serialize)]
                struct Unreadable<'a> {
                    file: &'a str,
                    error: String,
                }
                text.push_str(&match &verdict {
                    Ok(v) => json_line(
                        "photo",
                        &Line {
                            file: &file,
                            verdict: v,
                        },
                    ),
                    Err(e) => json_line(
                        "photo",
                        &Unreadable {
                            file: &file,
                            error: why(e),
                        },
                    ),
                });
            }
            Some(_) => match &verdict {
                Ok(v) => {
                    let word = if v.accepted { "ok" } else { "refused" };
                    text.push_str(&format!(
                        "{}: {word} ({}, {} bytes)\n",
                        shown_owned(&file),
                        v.kind.name(),
                        v.bytes
                    ));
                    for line in &v.refusal {
                        text.push_str(&format!("  {line}\n"));
                    }
                }
                Err(e) => text.push_str(&format!(
                    "{}: not checked: {}\n",
                    shown_owned(&file),
                    shown_owned(&why(e))
                )),
            },
        }
    }
    match args.format.layout() {
        None => out_exact(&text)?,
        Some(_) => out_painted(&text, |t| {
            style::words(t, &[("ok", PASS), ("refused", FAIL), ("not checked:", FAIL)])
        })?,
    }
    if unreadable > 0 {
        let n = args.files.len();
        err(&format!(
            "error: {unreadable} of {n} {} could not be checked\n",
            if n == 1 { "file" } else { "files" }
        ));
        return Ok(Exit::Usage);
    }
    Ok(if refused > 0 { Exit::Failed } else { Exit::Ok })
}

/// Why a file could not be checked.
fn why(e: &std::io::Error) -> String {
    match e.kind() {
        // What the path is instead of a file (see `photo::check`).
        std::io::ErrorKind::InvalidInput => e.to_string(),
        _ => format!("cannot read it: {e}"),
    }
}
