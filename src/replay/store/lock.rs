//! A replay's exclusive claim on a database: the lock file beside it.

use std::path::{Path, PathBuf};

use super::{Result, StoreError};

/// The process that holds a `ReplayLock`, as it wrote itself into the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// When it started, `2026-03-02T09:15:00Z`.
    pub started: String,
}

impl Holder {
    pub(super) fn describe(&self) -> String {
        format!("replay (pid {}, started at {})", self.pid, self.started)
    }

    pub(super) fn parse(text: &str) -> Option<Holder> {
        let mut words = text.split_whitespace();
        let pid = words.next()?.parse().ok()?;
        let started = words.next()?.to_owned();
        Some(Holder { pid, started })
    }
}

/// A replay's exclusive claim on a database, held for its whole run: an OS
/// lock (`flock` on Unix, through `fs4`) on the file `FILE.lock` beside
/// the database, which holds the claimant's process id and start time for
/// the message a second replay gets. The OS releases it when the process
/// ends, however it ends, so a killed replay never leaves a stale claim;
/// the file is removed when the replay ends normally.
#[derive(Debug)]
pub(crate) struct ReplayLock {
    file: std::fs::File,
    path: PathBuf,
}

impl ReplayLock {
    /// The lock file of a database: `FILE.lock`.
    pub(crate) fn path_for(db: &Path) -> PathBuf {
        let mut p = db.as_os_str().to_owned();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// Claims the database, or says who holds it (without waiting).
    pub(crate) fn acquire(db: &Path) -> Result<ReplayLock> {
        use std::io::Write;
        let path = ReplayLock::path_for(db);
        let io_err = |error: std::io::Error| StoreError::Lock {
            path: db.display().to_string(),
            lock: path.display().to_string(),
            error,
        };
        loop {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_err)?;
            // `fs4`'s method, named: newer toolchains have an inherent
            // `File::try_lock` that the crate's minimum Rust lacks.
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {}
                Err(fs4::TryLockError::WouldBlock) => {
                    return Err(StoreError::Held {
                        path: db.display().to_string(),
                        holder: Holder::parse(&std::fs::read_to_string(&path).unwrap_or_default()),
                    })
                }
                Err(fs4::TryLockError::Error(e)) => return Err(io_err(e)),
            }
            // A replay that just ended removes the file while it still
            // holds the lock; a lock taken on the removed file claims
            // nothing, so open the path again.
            if !same_file(&file, &path) {
                continue;
            }
            let started = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            file.set_len(0).map_err(io_err)?;
            file.write_all(format!("{} {started}\n", std::process::id()).as_bytes())
                .map_err(io_err)?;
            return Ok(ReplayLock { file, path });
        }
    }

    /// The replay holding the database's lock right now, if any (for
    /// messages: it takes and drops a shared lock when nobody holds it).
    pub(crate) fn holder_now(db: &Path) -> Option<Holder> {
        let path = ReplayLock::path_for(db);
        let file = std::fs::File::open(&path).ok()?;
        match fs4::FileExt::try_lock_shared(&file) {
            Err(fs4::TryLockError::WouldBlock) => Holder::parse(&std::fs::read_to_string(&path).ok()?),
            _ => None,
        }
    }
}

impl Drop for ReplayLock {
    fn drop(&mut self) {
        // Removed while still locked, so nobody can lock the old file and
        // think they hold the claim (see `acquire`). A file that cannot be
        // removed stays; the next replay takes it over.
        if cfg!(unix) && same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether `file` is still the file at `path` (not removed or replaced).
#[cfg(unix)]
fn same_file(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &std::fs::File, _path: &Path) -> bool {
    true
}
