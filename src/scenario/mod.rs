//! Scenario files: documented behaviour as executable fixtures, found and
//! run one way for `commroute test`, `commroute coverage`, `commroute diff`
//! and `cargo test`.
//!
//! A scenario file holds a world (inline, or a path relative to the file) and
//! either cases or a timeline. A case may change who is logged in where and
//! what a staff member may read, then gives one event (inbound or outbound)
//! and what must come out. A timeline scenario gives `events:` replayed in
//! order through the simulator and `checks:` on what they left behind (see
//! `timeline_checks`). Everything is checked against the world when the file
//! loads, so running a case only evaluates rules.
//!
//! This file holds the loaded file's types. Reading and checking a file is
//! in `load.rs`, running it and its reports in `run.rs`, finding files and
//! the [`Suite`] that loads and runs them all in `discover.rs`, logins in
//! `login.rs`, saving a decision as a case in `fixture.rs`, JUnit XML in
//! `junit.rs`.

mod discover;
pub(crate) mod fixture;
pub(crate) mod junit;
mod load;
pub(crate) mod login;
mod run;
pub(crate) mod timeline_checks;

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::diag::Pos;
use crate::engine::event::{Inbound, Outbound};
use crate::rules::facts::Channel;
use crate::world::World;

pub use discover::{discover, paths_or_default, DefaultDir, Suite, SuiteReport, DEFAULT_DIR};
// The timeline scenarios check their ids the way cases do.
use load::{client_ref, loc_ref, staff_ref};
pub(crate) use run::run_case;
pub use run::{run_file, Actual, CaseReport, FileReport, Mismatch};

/// A loaded scenario file.
#[derive(Debug, Clone)]
pub struct ScenarioFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's `description`.
    pub description: String,
    /// The world as written, or the path it was read from.
    pub world_ref: WorldRef,
    pub(crate) cases: Vec<Case>,
    /// The events and checks of a timeline scenario (then `cases` is empty).
    pub(crate) timeline: Option<timeline_checks::TimelineSpec>,
}

/// Where a scenario's world came from.
#[derive(Debug, Clone)]
pub enum WorldRef {
    /// Written in the scenario file.
    Inline,
    /// Read from this path, relative to the scenario file.
    Path(String),
}

/// One case, resolved against its world.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) pos: Pos,
    /// The world after the case's `login`, `logout` and `access` changes.
    pub(crate) world: Arc<World>,
    pub(crate) event: CaseEvent,
    pub(crate) expect: Expect,
}

/// A case's event, resolved against the case's world.
#[derive(Debug, Clone)]
pub(crate) enum CaseEvent {
    Inbound(Inbound),
    Outbound(Outbound),
}

/// What a case expects; fields left out are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Expect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) lands_at: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) delivered_to: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) channel: Option<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ghost_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rule: Option<String>,
}
