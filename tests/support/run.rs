//! One invocation of the `commroute` binary, as the CLI tests run it
//! (`tests/cli/`), with a deadline ([`super::process`]): a command that
//! hangs fails its test.

use std::path::Path;
use std::process::{Command, Output};

use super::process::{output_within, DEADLINE};

/// One invocation of the binary, in the crate root unless told otherwise,
/// without colours and with tables 200 columns wide.
pub struct Run {
    cmd: Command,
    input: Option<Vec<u8>>,
}

impl Run {
    pub fn new(args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_commroute"));
        cmd.args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1")
            .env("COLUMNS", "200");
        Run { cmd, input: None }
    }

    pub fn in_dir(mut self, dir: &Path) -> Run {
        self.cmd.current_dir(dir);
        self
    }

    /// Sets an environment variable (`COLUMNS`, say) for the run.
    pub fn env(mut self, key: &str, value: &str) -> Run {
        self.cmd.env(key, value);
        self
    }

    /// Leaves an environment variable out of the run (`NO_COLOR`, say).
    pub fn env_remove(mut self, key: &str) -> Run {
        self.cmd.env_remove(key);
        self
    }

    /// `--db FILE`.
    pub fn db(mut self, db: &Path) -> Run {
        self.cmd.arg("--db").arg(db);
        self
    }

    /// What the command reads on stdin (nothing, closed, otherwise).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Run {
        self.input = Some(input.into());
        self
    }

    /// Runs and checks the exit code; returns stdout and stderr.
    pub fn expect(mut self, code: i32) -> (String, String) {
        let Output { status, stdout, stderr } = output_within(&mut self.cmd, self.input, DEADLINE);
        let (out, err) = (String::from_utf8(stdout).unwrap(), String::from_utf8(stderr).unwrap());
        assert_eq!(status.code(), Some(code), "stdout:\n{out}\nstderr:\n{err}");
        (out, err)
    }
}
