//! One invocation of the `commroute` binary, as the CLI tests run it
//! (`tests/cli.rs`, `tests/authoring_cli.rs`, `tests/simulate.rs`).
// Each test crate that includes this uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// One invocation of the binary, in the crate root unless told otherwise,
/// without colours and with tables 200 columns wide.
pub struct Run {
    cmd: Command,
}

impl Run {
    pub fn new(args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_commroute"));
        cmd.args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .env("COLUMNS", "200");
        Run { cmd }
    }

    pub fn in_dir(mut self, dir: &Path) -> Run {
        self.cmd.current_dir(dir);
        self
    }

    /// `--db FILE`.
    pub fn db(mut self, db: &Path) -> Run {
        self.cmd.arg("--db").arg(db);
        self
    }

    /// Runs and checks the exit code; returns stdout and stderr.
    pub fn expect(mut self, code: i32) -> (String, String) {
        let Output { status, stdout, stderr } = self.cmd.output().unwrap();
        let (out, err) = (String::from_utf8(stdout).unwrap(), String::from_utf8(stderr).unwrap());
        assert_eq!(status.code(), Some(code), "stdout:\n{out}\nstderr:\n{err}");
        (out, err)
    }
}
