//! `-` for standard input: which file arguments may be `-`, the rule that
//! only one of them is per run, and reading each kind of file from stdin.
//! Messages name standard input `<stdin>` ([`STDIN_NAME`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::ArgMatches;

use crate::diag::{Diagnostic, Diagnostics, Pos, Source, WithoutBom, STDIN_NAME};
use crate::replay::pipeline::{OpenTimeline, TimelineFormat};
use crate::scenario::{ScenarioFile, Suite};
use crate::{RuleSet, World};

/// The arguments that name a file read once, where `-` means stdin. (Other
/// values may be `-` for their own reasons: a message text, a case name, or
/// `route batch --output -`, which is stdout.)
const READ_ONCE: &[&str] = &["world", "input", "timeline", "paths", "files", "events", "scenarios"];

/// Whether a path argument is `-`.
pub(crate) fn is_stdin(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// The name standard input goes by in messages.
pub(crate) fn name() -> &'static Path {
    Path::new(STDIN_NAME)
}

/// Checks that at most one file argument of the command line is `-`
/// (defaults count: `route batch` reads stdin unless given `--input`).
/// `matches` are those of the subcommand that runs.
pub(crate) fn check_one(matches: &ArgMatches) -> Result<(), String> {
    let mut uses: Vec<String> = Vec::new();
    let mut by_default = None;
    for id in READ_ONCE {
        let Ok(Some(values)) = matches.try_get_raw(id) else {
            continue;
        };
        let n = values.filter(|v| *v == "-").count();
        let name = match *id {
            "paths" => "PATH".to_owned(),
            "files" => "FILE".to_owned(),
            "timeline" => "TIMELINE".to_owned(),
            _ => format!("--{id}"),
        };
        if n > 0 && matches.value_source(id) == Some(ValueSource::DefaultValue) {
            by_default = Some(name.clone());
        }
        uses.extend(std::iter::repeat_n(name, n));
    }
    let what = match uses.as_slice() {
        [] | [_] => return Ok(()),
        [a, b] if a == b => format!("{a} is `-` twice; give one of them as a file"),
        [a, b] => format!("{a} and {b} are both `-`; give one of them a file"),
        [a, rest @ ..] if rest.iter().all(|r| r == a) => {
            format!("{a} is `-` {} times; give all but one as files", uses.len())
        }
        [init @ .., last] => format!("{} and {last} are all `-`; give all but one a file", init.join(", ")),
    };
    let default = match by_default {
        Some(arg) => format!(" ({arg} is `-` unless given)"),
        None => String::new(),
    };
    Err(format!("only one argument can read stdin, but {what}{default}"))
}

/// Reads stdin whole as a text file (size and encoding checked).
fn source() -> Result<Source, Diagnostics> {
    Source::from_reader(name(), &mut std::io::stdin().lock())
}

/// The world at `path`, or read from stdin for `-`.
pub(crate) fn world(path: &Path) -> Result<World, Diagnostics> {
    if is_stdin(path) {
        World::parse(source()?)
    } else {
        World::load(path)
    }
}

/// The timeline at `path`, or streamed from stdin for `-`. The format is
/// `format` when given, else the file's extension says (`.jsonl` and
/// `.ndjson` are JSON Lines, the rest YAML), else, for stdin, its first
/// byte: `{` starts a JSON Lines timeline's world line.
pub(crate) fn timeline(path: &Path, format: Option<TimelineFormat>) -> Result<OpenTimeline, Diagnostics> {
    if !is_stdin(path) {
        return match format {
            Some(format) => OpenTimeline::open_as(path, format),
            None => OpenTimeline::open(path),
        };
    }
    // Without its byte-order mark, so the first byte is the text's.
    let mut reader = BufReader::with_capacity(1 << 16, WithoutBom::new(std::io::stdin()));
    let format = match format {
        Some(f) => f,
        None => {
            let head = reader.fill_buf().map_err(|e| {
                Diagnostics::from(Diagnostic::new(
                    name(),
                    Pos::default(),
                    format!("cannot read the file: {e}"),
                ))
            })?;
            TimelineFormat::sniff(head)
        }
    };
    OpenTimeline::read(name(), Box::new(reader), format)
}

/// The scenario files under `paths` loaded into a suite, with the one file
/// read from stdin for `-` first (see [`Suite::load`]).
pub(crate) fn suite(paths: &[PathBuf], rules: Option<&RuleSet>) -> Result<Suite, Diagnostics> {
    let (dashes, files): (Vec<PathBuf>, Vec<PathBuf>) = paths.iter().cloned().partition(|p| is_stdin(p));
    let mut suite = Suite::default();
    if !dashes.is_empty() {
        let loaded = source().and_then(|s| match rules {
            Some(rules) => ScenarioFile::parse_for(s, rules),
            None => ScenarioFile::parse(s),
        });
        match loaded {
            Ok(file) => suite.files.push(file),
            Err(d) => suite.broken.extend(d),
        }
    }
    let rest = Suite::load(&files, rules)?;
    suite.files.extend(rest.files);
    suite.broken.extend(rest.broken);
    Ok(suite)
}

/// The recorded events of `diff --events` at `path`, or read from stdin for `-`.
pub(crate) fn recorded_events(
    path: &Path,
    world: &World,
    progress: &crate::Progress,
) -> Result<Vec<crate::authoring::impact::Recorded>, Diagnostics> {
    use crate::authoring::impact;
    if is_stdin(path) {
        let reader = BufReader::with_capacity(1 << 16, WithoutBom::new(std::io::stdin()));
        impact::read_recorded_events_from(name(), reader, world, progress)
    } else {
        impact::read_recorded_events_with(path, world, progress)
    }
}
