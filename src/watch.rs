//! Watching files for changes: `commroute test --watch` runs the scenarios
//! again with it, and a long-running service can reload its rules with it.
//!
//! [`Watch::start`] takes the paths to watch (files or directories), waits
//! until writes stop for a moment (the debounce), and calls back with the
//! paths that changed, on a thread of its own. It uses the operating
//! system's change events through `notify` (inotify, FSEvents,
//! ReadDirectoryChangesW); where they cannot be had (a network file system,
//! or the inotify watch limit reached) it falls back to polling, comparing
//! contents, so a change is seen whatever the clock's resolution.
//!
//! A file is watched through its folder, so an editor that saves by writing
//! a new file and renaming it over the old one is seen too. Reading a file
//! is not a change, nor are editors' hidden files (`.name.swp`) and backups
//! (`name~`) inside a watched folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use notify::event::{MetadataKind, ModifyKind};
use notify::{Config, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};

/// How to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    /// How long writes must stop before the changes are reported together.
    pub debounce: Duration,
    /// How often the polling fallback looks at the files.
    pub poll_interval: Duration,
    /// Whether to poll from the start rather than use the system's events.
    pub poll: bool,
}

impl Default for WatchOptions {
    /// A 150 ms debounce; polling, when needed, every 300 ms.
    fn default() -> Self {
        WatchOptions {
            debounce: Duration::from_millis(150),
            poll_interval: Duration::from_millis(300),
            poll: false,
        }
    }
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// Neither the path nor its folder exists.
    #[error("cannot watch `{}`: neither it nor its folder exists", .0.display())]
    Missing(PathBuf),
    /// Neither the system's change events nor polling could watch a path.
    #[error("cannot watch `{}`: {source}", path.display())]
    Watcher {
        /// The path that could not be watched.
        path: PathBuf,
        /// What the watcher said.
        source: notify::Error,
    },
    /// The thread that gathers changes could not be started.
    #[error("cannot start watching: {0}")]
    Thread(std::io::Error),
}

/// A running watch. Dropping it stops watching.
pub struct Watch {
    /// Kept alive for as long as the watch runs.
    _watcher: Box<dyn Watcher + Send>,
    polling: bool,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").field("polling", &self.polling).finish()
    }
}

/// What one watched path covers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// The folder handed to the watcher.
    folder: PathBuf,
    /// `None`: the whole folder, recursively; else this one entry in it.
    entry: Option<PathBuf>,
}

impl Target {
    /// Where `path` is watched from: a folder itself, else its folder.
    fn of(path: &Path) -> Result<Target, WatchError> {
        if let Ok(dir) = std::fs::canonicalize(path) {
            if dir.is_dir() {
                return Ok(Target {
                    folder: dir,
                    entry: None,
                });
            }
        }
        let name = path
            .file_name()
            .ok_or_else(|| WatchError::Missing(path.to_path_buf()))?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let folder = std::fs::canonicalize(parent).map_err(|_| WatchError::Missing(path.to_path_buf()))?;
        Ok(Target {
            entry: Some(folder.join(name)),
            folder,
        })
    }

    /// Whether a change at `path` concerns this target.
    fn covers(&self, path: &Path) -> bool {
        match &self.entry {
            // The entry itself, or anything inside it if it is a folder now.
            Some(entry) => path.starts_with(entry),
            None => path.starts_with(&self.folder) && !is_editor_scratch(path),
        }
    }
}

/// Editors' hidden files and backups, which change as a person types.
fn is_editor_scratch(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n.ends_with('~'))
}

/// Whether an event is a change (reading a file is not).
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Other => true,
    }
}

impl Watch {
    /// Watches `paths` (files or folders, recursively) and calls `on_change`
    /// with the changed paths, sorted, once writes have stopped for
    /// `options.debounce`. Uses the system's change events, or polling when
    /// they fail or `options.poll` asks for it.
    pub fn start<F>(paths: &[PathBuf], options: WatchOptions, on_change: F) -> Result<Watch, WatchError>
    where
        F: FnMut(Vec<PathBuf>) + Send + 'static,
    {
        let targets = paths.iter().map(|p| Target::of(p)).collect::<Result<Vec<_>, _>>()?;
        // One watch per folder; a recursive one covers a single entry in it.
        let mut folders: BTreeMap<PathBuf, RecursiveMode> = BTreeMap::new();
        for t in &targets {
            let mode = if t.entry.is_none() {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            let m = folders.entry(t.folder.clone()).or_insert(mode);
            if mode == RecursiveMode::Recursive {
                *m = mode;
            }
        }
        let native = if options.poll {
            None
        } else {
            let (tx, rx) = channel();
            RecommendedWatcher::new(tx, Config::default())
                .map_err(|e| (PathBuf::new(), e))
                .and_then(|w| watch_all(w, &folders))
                .ok()
                .map(|w| (Box::new(w) as Box<dyn Watcher + Send>, rx))
        };
        let polling = native.is_none();
        let (watcher, rx) = match native {
            Some(found) => found,
            None => {
                let (tx, rx) = channel();
                let config = Config::default()
                    .with_poll_interval(options.poll_interval)
                    .with_compare_contents(true);
                let w = PollWatcher::new(tx, config)
                    .map_err(|e| (PathBuf::new(), e))
                    .and_then(|w| watch_all(w, &folders))
                    .map_err(|(path, source)| WatchError::Watcher { path, source })?;
                (Box::new(w) as Box<dyn Watcher + Send>, rx)
            }
        };
        std::thread::Builder::new()
            .name("watch".into())
            .spawn(move || debounce(rx, &targets, options.debounce, on_change))
            .map_err(WatchError::Thread)?;
        Ok(Watch {
            _watcher: watcher,
            polling,
        })
    }

    /// Whether this watch polls (the system's change events could not be had).
    pub fn polling(&self) -> bool {
        self.polling
    }
}

/// Adds every folder to the watcher, or says which one failed.
fn watch_all<W: Watcher>(mut w: W, folders: &BTreeMap<PathBuf, RecursiveMode>) -> Result<W, (PathBuf, notify::Error)> {
    for (folder, mode) in folders {
        w.watch(folder, *mode).map_err(|e| (folder.clone(), e))?;
    }
    Ok(w)
}

/// The longest a burst of changes is held back: a file written without
/// pause is still reported every this many debounce periods.
const MAX_HOLD: u32 = 10;

/// Gathers events until they stop for `quiet`, then reports the changed
/// paths the targets cover; ends when the watcher is dropped.
fn debounce<F: FnMut(Vec<PathBuf>)>(
    rx: Receiver<notify::Result<notify::Event>>,
    targets: &[Target],
    quiet: Duration,
    mut on_change: F,
) {
    let add = |changed: &mut BTreeSet<PathBuf>, event: notify::Result<notify::Event>| match event {
        Ok(e) if e.need_rescan() => {
            // Events were lost: say every watched path may have changed.
            changed.extend(
                targets
                    .iter()
                    .map(|t| t.entry.clone().unwrap_or_else(|| t.folder.clone())),
            );
        }
        Ok(e) if is_change(&e.kind) => {
            changed.extend(e.paths.into_iter().filter(|p| targets.iter().any(|t| t.covers(p))));
        }
        Ok(_) => {}
        // The watcher's own failure (a folder removed, say): report the
        // paths it names, else everything, so the caller looks again.
        Err(e) if !e.paths.is_empty() => changed.extend(e.paths),
        Err(_) => changed.extend(
            targets
                .iter()
                .map(|t| t.entry.clone().unwrap_or_else(|| t.folder.clone())),
        ),
    };
    loop {
        let Ok(first) = rx.recv() else { return };
        let mut changed = BTreeSet::new();
        add(&mut changed, first);
        let held = Instant::now();
        let mut open = true;
        while held.elapsed() < quiet * MAX_HOLD {
            match rx.recv_timeout(quiet) {
                Ok(e) => add(&mut changed, e),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if !changed.is_empty() {
            on_change(changed.into_iter().collect());
        }
        if !open {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Receiver;

    /// Starts a watch whose changes arrive on a channel.
    fn watching(paths: &[PathBuf], poll: bool) -> (Watch, Receiver<Vec<PathBuf>>) {
        let (tx, rx) = channel();
        let options = WatchOptions {
            poll,
            poll_interval: Duration::from_millis(50),
            ..WatchOptions::default()
        };
        let w = Watch::start(paths, options, move |changed| {
            let _ = tx.send(changed);
        })
        .unwrap();
        (w, rx)
    }

    /// Writes `path` (again) until a report arrives: the first write may
    /// come before the watcher is ready on a loaded machine.
    fn change_until_reported(path: &Path, rx: &Receiver<Vec<PathBuf>>) -> Vec<PathBuf> {
        for round in 0..40 {
            std::fs::write(path, format!("round {round}\n")).unwrap();
            if let Ok(changed) = rx.recv_timeout(Duration::from_millis(500)) {
                return changed;
            }
        }
        panic!("no change of {} reported in 20 s", path.display());
    }

    fn canonical(dir: &tempfile::TempDir) -> PathBuf {
        std::fs::canonicalize(dir.path()).unwrap()
    }

    #[test]
    fn a_write_in_a_watched_folder_is_reported_with_its_path() {
        for poll in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let root = canonical(&dir);
            std::fs::create_dir(root.join("sub")).unwrap();
            let (w, rx) = watching(std::slice::from_ref(&root), poll);
            assert_eq!(w.polling(), poll);
            let changed = change_until_reported(&root.join("sub/rules.yaml"), &rx);
            assert_eq!(changed, vec![root.join("sub/rules.yaml")], "poll: {poll}");
        }
    }

    #[test]
    fn a_watched_file_is_reported_and_its_neighbours_are_not() {
        for poll in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let root = canonical(&dir);
            let file = root.join("scenario.yaml");
            std::fs::write(&file, "a\n").unwrap();
            let (_w, rx) = watching(std::slice::from_ref(&file), poll);
            std::fs::write(root.join("neighbour.yaml"), "b\n").unwrap();
            let changed = change_until_reported(&file, &rx);
            assert_eq!(changed, vec![file.clone()], "poll: {poll}");
        }
    }

    #[test]
    fn reading_a_file_and_editor_scratch_files_are_not_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = canonical(&dir);
        std::fs::write(root.join("rules.yaml"), "a\n").unwrap();
        let (_w, rx) = watching(std::slice::from_ref(&root), false);
        // Let the watcher settle, then only read and write scratch files.
        std::thread::sleep(Duration::from_millis(300));
        while rx.try_recv().is_ok() {}
        for _ in 0..5 {
            std::fs::read_to_string(root.join("rules.yaml")).unwrap();
            std::fs::write(root.join(".rules.yaml.swp"), "x").unwrap();
            std::fs::write(root.join("rules.yaml~"), "x").unwrap();
        }
        assert!(rx.recv_timeout(Duration::from_millis(600)).is_err());
    }

    #[test]
    fn a_path_whose_folder_is_missing_is_refused_by_name() {
        let err = Watch::start(
            &[PathBuf::from("/no/such/folder/rules")],
            WatchOptions::default(),
            |_| {},
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot watch `/no/such/folder/rules`: neither it nor its folder exists"
        );
    }
}
