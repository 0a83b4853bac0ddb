//! Processes and pipes in tests, each with a deadline: a test that waits
//! for a child or a pipe fails with a message when the deadline passes,
//! instead of hanging the whole suite (CI has no test timeout of its own).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one child process or pipe read may take in a test. Generous:
/// a debug build on a busy two-core machine is slow, but never this slow.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Runs `f` on a thread of its own and returns what it returns, or fails the
/// test when it takes longer than `limit` (the thread is left behind; the
/// test process ends anyway).
pub fn within<T: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what} did not finish within {limit:?}: it hangs"),
    }
}

/// Waits for `child` until the deadline, killing it and failing the test
/// when it is not done by then.
pub fn wait_within(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("cannot wait for the child") {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What a command's invocation is, for messages.
pub fn describe(cmd: &Command) -> String {
    let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    format!("`{} {}`", cmd.get_program().to_string_lossy(), args.join(" "))
}

/// `Command::output` with a deadline: stdin is closed unless `input` is
/// given, stdout and stderr are collected on threads of their own.
pub fn output_within(cmd: &mut Command, input: Option<Vec<u8>>, limit: Duration) -> Output {
    let what = describe(cmd);
    let mut child = cmd
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            // The child may exit before reading it all; that is its business.
            let _ = stdin.write_all(&input);
        });
    }
    let collect = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = collect(Box::new(child.stdout.take().unwrap()));
    let err = collect(Box::new(child.stderr.take().unwrap()));
    let status = wait_within(&mut child, limit, &what);
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The lines a running child writes to stdout and stderr, each read with a
/// deadline. Dropping it kills the child.
pub struct Lines {
    pub child: Child,
    rx: mpsc::Receiver<String>,
    what: String,
}

impl Lines {
    /// Starts `cmd` with stdout and stderr piped into one stream of lines
    /// (only each stream's own order is kept).
    pub fn spawn(cmd: &mut Command) -> Lines {
        Lines::start(cmd, true)
    }

    /// Starts `cmd` reading only its stdout; its stderr goes to the test's.
    pub fn spawn_stdout(cmd: &mut Command) -> Lines {
        Lines::start(cmd, false)
    }

    fn start(cmd: &mut Command, with_stderr: bool) -> Lines {
        let what = describe(cmd);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if with_stderr { Stdio::piped() } else { Stdio::inherit() })
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let (tx, rx) = mpsc::channel();
        let mut streams = vec![Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>];
        if with_stderr {
            streams.push(Box::new(child.stderr.take().unwrap()));
        }
        for stream in streams {
            let tx = tx.clone();
            std::thread::spawn(move || {
                BufReader::new(stream)
                    .lines()
                    .map_while(Result::ok)
                    .for_each(|l| drop(tx.send(l)))
            });
        }
        Lines { child, rx, what }
    }

    /// The next line, `None` once the child closed both streams; fails the
    /// test (and kills the child) when no line comes within `limit`.
    pub fn next_within(&mut self, limit: Duration) -> Option<String> {
        match self.rx.recv_timeout(limit) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!("{} wrote no line within {limit:?}: killed", self.what);
            }
        }
    }

    /// Reads lines until one contains `what`.
    pub fn wait_for(&mut self, what: &str, limit: Duration) {
        while let Some(line) = self.next_within(limit) {
            if line.contains(what) {
                return;
            }
        }
        panic!("{} ended without writing `{what}`", self.what);
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
