//! What the run's output goes to, decided once per run: whether stdout and
//! stderr are terminals, whether to colour them, how wide the terminal is,
//! and whether `--quiet` was given.
//!
//! Commands ask [`get`] instead of looking at the environment themselves, so
//! every command agrees (and tests that capture output in-process see a
//! pipe, never a terminal).

use std::cell::Cell;
use std::io::IsTerminal;

use clap::ValueEnum;

use crate::cli::capture;

/// `--color`: when to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always colour, even into a pipe or a file.
    Always,
    /// Never colour.
    Never,
}

/// The run's output settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ui {
    /// Stdout is a terminal (not a pipe, a file or a test's capture).
    pub(crate) out_terminal: bool,
    /// Stderr is a terminal.
    pub(crate) err_terminal: bool,
    /// Colour what goes to stdout.
    pub(crate) out_color: bool,
    /// Colour what goes to stderr.
    pub(crate) err_color: bool,
    /// The width to fit tables to: `COLUMNS` if set, else the terminal's,
    /// else none (not a terminal).
    pub(crate) width: Option<u16>,
    /// `--quiet`: no progress, and only the summary where a command has one.
    pub(crate) quiet: bool,
}

impl Default for Ui {
    /// Everything off: what a pipe with no options gets.
    fn default() -> Self {
        Ui {
            out_terminal: false,
            err_terminal: false,
            out_color: false,
            err_color: false,
            width: None,
            quiet: false,
        }
    }
}

thread_local! {
    static UI: Cell<Ui> = Cell::new(Ui::default());
}

/// The settings of the run on this thread.
pub(crate) fn get() -> Ui {
    UI.with(Cell::get)
}

/// Decides the settings from the flags and the environment, for this run.
pub(crate) fn init(color: ColorChoice, quiet: bool) {
    let captured = capture::active();
    let out_terminal = !captured && std::io::stdout().is_terminal();
    let err_terminal = !captured && std::io::stderr().is_terminal();
    // https://no-color.org: a non-empty NO_COLOR turns colour off by default.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let wants = |terminal: bool| match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color,
    };
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| *w > 0)
        .or_else(|| if out_terminal { terminal_width() } else { None });
    set(Ui {
        out_terminal,
        err_terminal,
        out_color: wants(out_terminal),
        err_color: wants(err_terminal),
        width,
        quiet,
    });
}

/// Replaces the settings of this thread (tests use it to act as a terminal).
pub(crate) fn set(ui: Ui) {
    UI.with(|u| u.set(ui));
}

/// The terminal's width, as comfy-table measures it.
fn terminal_width() -> Option<u16> {
    comfy_table::Table::new().width()
}
