//! Finding scenario files: the default folder, the walk over directories,
//! and [`Suite`], the one path from "these paths" to loaded and run files
//! behind `commroute test`, `coverage`, `diff` and the `cargo test` harness.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{FileReport, ScenarioFile};
use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::progress::Progress;
use crate::rules::RuleSet;

/// The folder scenario files are read from when no path is given.
pub const DEFAULT_DIR: &str = "scenarios";

/// What to do when a command is given no scenario path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultDir {
    /// Read [`DEFAULT_DIR`]; when it is missing, that is an error.
    Required,
    /// Read [`DEFAULT_DIR`] when it is there, else nothing (`commroute diff`
    /// compares the rules without scenarios then).
    IfPresent,
}

/// The paths to search: those given, else the default folder as `default` says.
pub fn paths_or_default(given: &[PathBuf], default: DefaultDir) -> Vec<PathBuf> {
    if !given.is_empty() {
        return given.to_vec();
    }
    match default {
        DefaultDir::IfPresent if !Path::new(DEFAULT_DIR).is_dir() => Vec::new(),
        DefaultDir::Required | DefaultDir::IfPresent => vec![PathBuf::from(DEFAULT_DIR)],
    }
}

/// The scenario files found under some paths, loaded; those that did not
/// load are left out, their problems kept in `broken`.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    /// The files that loaded, in path order.
    pub files: Vec<ScenarioFile>,
    /// Every problem of the files that did not load.
    pub broken: Diagnostics,
}

impl Suite {
    /// Finds the scenario files under `paths` ([`discover`]) and loads each.
    /// Given `rules`, every rule a case expects is checked against them
    /// ([`ScenarioFile::load_for`]); without, only the world is
    /// ([`ScenarioFile::load`]). Fails only when a path cannot be searched.
    pub fn load(paths: &[PathBuf], rules: Option<&RuleSet>) -> Result<Suite, Diagnostics> {
        let mut suite = Suite::default();
        for path in discover(paths)? {
            let loaded = match rules {
                Some(rules) => ScenarioFile::load_for(&path, rules),
                None => ScenarioFile::load(&path),
            };
            match loaded {
                Ok(file) => suite.files.push(file),
                Err(d) => suite.broken.extend(d),
            }
        }
        Ok(suite)
    }

    /// Runs every case of every file (or those whose name or file path
    /// contains `filter`) against `rules`.
    pub fn run(self, rules: &RuleSet, filter: Option<&str>) -> SuiteReport {
        self.run_with(rules, filter, &Progress::new())
    }

    /// How much work running every file is, as progress counts it: the
    /// cases and timeline events of every file.
    pub fn work(&self) -> u64 {
        self.files.iter().map(ScenarioFile::work).sum()
    }

    /// [`Suite::run`], adding what is done to `progress` as it goes.
    pub fn run_with(self, rules: &RuleSet, filter: Option<&str>, progress: &Progress) -> SuiteReport {
        SuiteReport {
            files: self.files.iter().map(|f| f.run_with(rules, filter, progress)).collect(),
            broken: self.broken,
        }
    }
}

/// What a [`Suite`] run gave: a report per file that loaded, and the
/// problems of those that did not.
#[derive(Debug, Clone)]
pub struct SuiteReport {
    /// One report per file that loaded, in path order.
    pub files: Vec<FileReport>,
    /// Every problem of the files that did not load.
    pub broken: Diagnostics,
}

impl SuiteReport {
    /// The cases that passed, over every file.
    pub fn passed(&self) -> usize {
        self.files.iter().map(FileReport::passed).sum()
    }

    /// The cases that failed, over every file.
    pub fn failed(&self) -> usize {
        self.files.iter().map(FileReport::failed).sum()
    }
}

/// The scenario files under the given paths (files as given, directories
/// searched recursively for `*.yaml`), sorted so runs are deterministic.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostics> {
    let mut out = Vec::new();
    let mut diags = Diagnostics::default();
    let mut seen = HashSet::new();
    for p in paths {
        // Metadata, not opening: a named pipe must not block the run.
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut out, &mut diags, &mut seen, 0),
            Ok(m) if m.is_file() => out.push(p.clone()),
            Ok(m) => diags.push(not_a_scenario_file(p, &m)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                diags.push(Diagnostic::new(p, Pos::default(), "no such scenario file or directory"))
            }
            Err(e) => diags.push(Diagnostic::new(p, Pos::default(), format!("cannot read it: {e}"))),
        }
    }
    out.sort();
    out.dedup();
    diags.into_result(out)
}

/// A path given or found as a scenario file that is a device, a named pipe
/// or a socket: said what it is, and never opened.
fn not_a_scenario_file(path: &Path, meta: &std::fs::Metadata) -> Diagnostic {
    let what = crate::diag::not_a_file(meta).unwrap_or("not a regular file");
    Diagnostic::new(path, Pos::default(), format!("this is {what}, not a scenario file"))
        .help("give scenario files (`.yaml`) or directories of them")
}

fn unreadable_dir(dir: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic::new(dir, Pos::default(), format!("cannot read the directory: {e}"))
}

/// Collects `*.yaml` files under `dir`. Each directory is entered once, by
/// its real path, so a symlink back to a parent is reported instead of
/// walked (two such links would otherwise make the walk exponential).
fn walk(dir: &Path, out: &mut Vec<PathBuf>, diags: &mut Diagnostics, seen: &mut HashSet<PathBuf>, depth: usize) {
    if depth > 32 {
        diags.push(Diagnostic::new(
            dir,
            Pos::default(),
            "directories nest more than 32 levels deep",
        ));
        return;
    }
    let real = match std::fs::canonicalize(dir) {
        Ok(real) => real,
        Err(e) => {
            diags.push(unreadable_dir(dir, &e));
            return;
        }
    };
    if seen.contains(&real) {
        // Reached again: a loop when it is one of the directories being
        // walked; otherwise a second link to a directory already read.
        let inside = dir
            .parent()
            .and_then(|p| std::fs::canonicalize(p).ok())
            .is_some_and(|p| p.starts_with(&real));
        if inside {
            diags.push(
                Diagnostic::new(
                    dir,
                    Pos::default(),
                    format!("a symlink loop: this leads back to `{}`", real.display()),
                )
                .help("remove the link, or point it outside the scenario directories"),
            );
        }
        return;
    }
    seen.insert(real);
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(unreadable_dir(dir, &e));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out, diags, seen, depth + 1);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            match std::fs::metadata(&path) {
                Ok(m) if !m.is_file() => diags.push(not_a_scenario_file(&path, &m)),
                _ => out.push(path),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_given_are_read_as_given_else_the_default_folder() {
        let given = [PathBuf::from("a.yaml"), PathBuf::from("b")];
        assert_eq!(paths_or_default(&given, DefaultDir::Required), given);
        assert_eq!(paths_or_default(&given, DefaultDir::IfPresent), given);
        // Tests run in the crate root, which has the shipped scenarios.
        assert_eq!(
            paths_or_default(&[], DefaultDir::Required),
            [PathBuf::from(DEFAULT_DIR)]
        );
        assert_eq!(
            paths_or_default(&[], DefaultDir::IfPresent),
            [PathBuf::from(DEFAULT_DIR)]
        );
    }

    #[test]
    fn a_suite_keeps_the_files_that_do_not_load_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("broken.yaml"), "cases: [").unwrap();
        let good = Path::new(DEFAULT_DIR).join("outbound/channels.yaml");
        let paths = [good.clone(), dir.path().to_path_buf()];
        let rules = RuleSet::shipped();
        let suite = Suite::load(&paths, Some(&rules)).unwrap();
        assert_eq!(suite.files.len(), 1);
        assert!(!suite.broken.is_empty());
        let report = suite.run(&rules, None);
        assert_eq!(report.files[0].path, good);
        assert_eq!(report.failed(), 0);
        assert_eq!(report.passed(), report.files[0].cases.len());
        // Nothing to search is no error, and finds nothing.
        assert!(Suite::load(&[], None).unwrap().files.is_empty());
    }
}
