//! Progress bars on stderr for long work: `simulate`, `route batch`,
//! `diff --events` and `coverage`.
//!
//! The library counts what it has done in a [`Progress`] (a few atomic
//! additions per chunk of input); a thread of this module reads the counters
//! every 100 ms and draws them with indicatif, so the work never waits for
//! the drawing. A bar is drawn only when stderr is a terminal and `--quiet`
//! was not given ([`shown`]), and only once the work has taken a quarter of
//! a second: a short run prints nothing. The bar shows bytes of the input
//! with rate and time left when the input's size is known, items with rate
//! and time left when the work knows how many it will do, and otherwise a
//! spinner with the count and the rate. It is cleared when the work ends.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::ui::{self, Ui};
use crate::progress::Progress;

/// How often the bar is brought up to date.
const TICK: Duration = Duration::from_millis(100);
/// Work shorter than this shows no bar at all.
const DELAY: Duration = Duration::from_millis(250);

/// Whether a run with these settings draws progress: only on a terminal's
/// stderr, and not with `--quiet`.
pub(crate) fn shown(ui: Ui) -> bool {
    ui.err_terminal && !ui.quiet
}

/// The size of an input file, when it is a regular file (not stdin, a pipe
/// or a device), for a bar with the time left.
pub(crate) fn size_of(path: &Path) -> Option<u64> {
    if path.as_os_str() == "-" {
        return None;
    }
    std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len())
}

/// The counters a piece of work adds to, and the bar drawn from them (when
/// the run shows progress). Dropping it stops and clears the bar.
pub(crate) struct Bar {
    progress: Arc<Progress>,
    drawer: Option<Drawer>,
}

struct Drawer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
    bar: ProgressBar,
}

/// What the bar counts, decided again at every tick: the work may learn its
/// total as it goes (`diff --events` reads the events, then compares them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Items out of a known total.
    Items(u64),
    /// Bytes of an input of known size.
    Bytes(u64),
    /// Items, with no total.
    Count,
}

impl Bar {
    /// Counters for work labelled `what` (`replaying`), counting `items`
    /// (`events`), over an input of `size` bytes when known; drawn when
    /// [`shown`] says so for this run.
    pub(crate) fn start(what: &'static str, items: &'static str, size: Option<u64>) -> Bar {
        Bar::start_if(shown(ui::get()), what, items, size)
    }

    /// Counters with no bar, for work whose output would share the terminal.
    pub(crate) fn start_hidden() -> Bar {
        Bar::start_if(false, "", "", None)
    }

    fn start_if(draw: bool, what: &'static str, items: &'static str, size: Option<u64>) -> Bar {
        let progress = Arc::new(Progress::new());
        if !draw {
            return Bar { progress, drawer: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_prefix(what);
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = {
            let (bar, progress) = (bar.clone(), Arc::clone(&progress));
            std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || draw_until_stopped(&bar, &progress, items, size, &stopped))
        };
        let drawer = match thread {
            Ok(thread) => Some(Drawer { stop, thread, bar }),
            // No thread, no bar: the work goes on all the same.
            Err(_) => None,
        };
        Bar { progress, drawer }
    }

    /// The counters to hand to the library.
    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Runs `f` with the bar taken off the terminal, for output that shares
    /// it (`simulate` printing rows to a terminal).
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.drawer {
            Some(d) => d.bar.suspend(f),
            None => f(),
        }
    }

    /// Stops drawing and clears the bar.
    pub(crate) fn finish(self) {
        drop(self);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(d) = self.drawer.take() {
            let _ = d.stop.send(());
            let _ = d.thread.join();
            d.bar.finish_and_clear();
        }
    }
}

fn draw_until_stopped(
    bar: &ProgressBar,
    progress: &Progress,
    items: &'static str,
    size: Option<u64>,
    stopped: &mpsc::Receiver<()>,
) {
    let mut wait = DELAY;
    let mut mode = None;
    loop {
        match stopped.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        wait = TICK;
        let now = match (progress.total_items(), size) {
            (Some(n), _) => Mode::Items(n),
            (None, Some(b)) => Mode::Bytes(b),
            (None, None) => Mode::Count,
        };
        if mode != Some(now) {
            mode = Some(now);
            bar.reset();
            bar.set_style(style(now));
            match now {
                Mode::Items(n) | Mode::Bytes(n) => bar.set_length(n),
                Mode::Count => bar.unset_length(),
            }
            bar.set_message(items);
        }
        match now {
            Mode::Items(_) | Mode::Count => bar.set_position(progress.items()),
            Mode::Bytes(_) => {
                bar.set_position(progress.bytes());
                bar.set_message(format!("{} {items}", HumanCount(progress.items())));
            }
        }
        bar.tick();
    }
}

fn style(mode: Mode) -> ProgressStyle {
    let template = match mode {
        Mode::Items(_) => "{spinner} {prefix} [{bar:30}] {human_pos}/{human_len} {msg} ({per_sec}, {eta} left)",
        Mode::Bytes(_) => {
            "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} ({binary_bytes_per_sec}, {eta} left), {msg}"
        }
        Mode::Count => "{spinner} {prefix} {human_pos} {msg} ({per_sec})",
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The four combinations of a terminal's stderr and `--quiet`: only a
    /// terminal without `--quiet` gets a bar.
    #[test]
    fn progress_is_shown_only_on_a_terminal_without_quiet() {
        let ui = |err_terminal, quiet| Ui {
            err_terminal,
            quiet,
            ..Ui::default()
        };
        assert!(shown(ui(true, false)));
        assert!(!shown(ui(true, true)));
        assert!(!shown(ui(false, false)));
        assert!(!shown(ui(false, true)));
        // Stdout has no say: a bar on stderr does not touch the output.
        assert!(shown(Ui {
            out_terminal: true,
            ..ui(true, false)
        }));
    }

    /// Without a terminal there is no drawing thread; the counters still count.
    #[test]
    fn a_bar_that_is_not_shown_still_counts() {
        let bar = Bar::start_if(false, "reading", "events", Some(10));
        assert!(bar.drawer.is_none());
        bar.progress().add(10, 2);
        assert_eq!(bar.suspend(|| bar.progress().items()), 2);
        bar.finish();
    }

    /// A drawn bar's thread stops when the bar is dropped, however early.
    #[test]
    fn a_drawn_bar_stops_when_dropped() {
        let bar = Bar::start_if(true, "reading", "events", None);
        bar.progress().add(0, 5);
        let started = std::time::Instant::now();
        bar.finish();
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn only_regular_files_have_a_size() {
        assert_eq!(size_of(Path::new("-")), None);
        assert!(size_of(Path::new("examples/day.jsonl")).is_some_and(|n| n > 0));
        assert_eq!(size_of(Path::new("examples")), None);
        assert_eq!(size_of(Path::new("no/such/file")), None);
    }
}
