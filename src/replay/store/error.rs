//! Why the store failed: opening, claiming, reading or writing a database.
//! The messages name the file and, when it is locked, who holds it.

use std::path::Path;

use super::lock::{Holder, ReplayLock};
use super::schema::SCHEMA_VERSION;

/// Why the conversation store that `simulate` writes and `conversations`
/// reads could not be opened, claimed, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An SQLite error. Shown as SQLite words it, once: it is not the
    /// error's `source`, whose chain would print the message again.
    #[error("{0}")]
    Sql(rusqlite::Error),
    /// SQLite could not open the database file.
    #[error("cannot open the database `{path}`: {error}")]
    Open {
        /// The database file, as given to `--db`.
        path: String,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// A replay could not record an event in the database.
    #[error("writing to the database `{path}` failed: {error}")]
    Write {
        /// The database file, as given to `--db`.
        path: String,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// A command could not read conversations or usage from the database.
    #[error("reading the database `{path}` failed: {error}")]
    Read {
        /// The database file, as given to `--db`.
        path: String,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// `--db` names a directory instead of a database file.
    #[error("`{path}` is a folder, not a database; give `--db` a file")]
    Folder {
        /// The directory given to `--db`.
        path: String,
    },
    /// The replay lock file beside the database could not be created, so a
    /// replay cannot claim the database.
    #[error("cannot open the database `{path}`: cannot create `{lock}` beside it to claim it: {error}")]
    Lock {
        /// The database file, as given to `--db`.
        path: String,
        /// The lock file that could not be created.
        lock: String,
        /// Why the file system refused it.
        error: std::io::Error,
    },
    /// Another replay holds the database's lock file.
    #[error("{}; wait for it to finish", held_by(.holder, .path))]
    Held {
        /// The database file, as given to `--db`.
        path: String,
        /// Who holds it and since when, when the lock file says so.
        holder: Option<Holder>,
    },
    /// SQLite found the database locked, by a replay or another program.
    #[error("the database `{path}` is locked: {who}; wait for it to finish or close it, then run again")]
    Locked {
        /// The database file, as given to `--db`.
        path: String,
        /// Who holds the lock, in words.
        who: String,
    },
    /// The database has unmerged changes in its `-wal` file, and its
    /// directory is read-only, so SQLite cannot read it.
    #[error("cannot read the database `{path}`: its log `{path}-wal` holds changes not yet in the file, and SQLite can only read it with `{path}-shm` beside it, which it cannot create in a read-only directory; make the directory writable, or copy the database with its `-wal` file to one that is")]
    WalUnreadable {
        /// The database file, as given to `--db`.
        path: String,
    },
    /// `--db` names a file that is not an SQLite database.
    #[error("`{path}` is not an SQLite database, so not a conversation store; {DB_HELP}")]
    NotSqlite {
        /// The file given to `--db`.
        path: String,
    },
    /// `--db` names an SQLite database written by something other than
    /// commroute.
    #[error("`{path}` is an SQLite database but not a conversation store (it has {tables}); {DB_HELP}")]
    Foreign {
        /// The file given to `--db`.
        path: String,
        /// The tables it has, listed for the message.
        tables: String,
    },
    /// The database exists but no replay has written to it yet.
    #[error("`{path}` is empty, not a conversation store yet; replay a timeline into it first with `commroute simulate TIMELINE --db {path}`")]
    Empty {
        /// The file given to `--db`.
        path: String,
    },
    /// The store was written by a commroute with another schema version.
    #[error("the database `{path}` has schema version {found}, this commroute reads and writes version {SCHEMA_VERSION}; replay the timeline into a new `--db`")]
    Version {
        /// The file given to `--db`.
        path: String,
        /// The schema version the store records.
        found: String,
    },
}

/// What `--db` takes, for the messages of a file that is not a store.
const DB_HELP: &str = "`--db` takes a store written by `commroute simulate`, or a new file for `simulate` to create";

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e)
    }
}

impl StoreError {
    /// This error of a replay writing to the database at `path`, naming
    /// the file (and who holds it, when it is locked).
    pub(crate) fn while_writing(self, path: &Path) -> StoreError {
        match self {
            StoreError::Sql(error) if is_locked(&error) => StoreError::at(path, error),
            StoreError::Sql(error) => StoreError::Write {
                path: path.display().to_string(),
                error,
            },
            other => other,
        }
    }

    /// This error of a command reading the database at `path`, naming the
    /// file (and who holds it, when it is locked).
    pub(crate) fn while_reading(self, path: &Path) -> StoreError {
        match self {
            StoreError::Sql(error) if is_locked(&error) => StoreError::at(path, error),
            StoreError::Sql(error) => StoreError::Read {
                path: path.display().to_string(),
                error,
            },
            other => other,
        }
    }

    /// The error of an SQLite failure on the database at `path`: who holds
    /// it when it is locked, else the failure with the file named.
    pub(crate) fn at(path: &Path, error: rusqlite::Error) -> StoreError {
        let path_s = path.display().to_string();
        if is_locked(&error) {
            StoreError::Locked {
                who: who_locks(path, &error),
                path: path_s,
            }
        } else {
            StoreError::Open { path: path_s, error }
        }
    }
}

fn is_locked(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Who holds a database that SQLite found locked: a replay, named by its
/// lock file, or another program.
fn who_locks(path: &Path, error: &rusqlite::Error) -> String {
    // A replay that meets a lock holds the replay lock itself: that is not
    // who it waits for.
    match ReplayLock::holder_now(path).filter(|h| h.pid != std::process::id()) {
        Some(h) => format!("a {} is writing it", h.describe()),
        None => {
            format!("another program holds a lock on it ({error}), such as an `sqlite3` shell with a transaction open")
        }
    }
}

fn held_by(holder: &Option<Holder>, path: &str) -> String {
    match holder {
        Some(h) => format!("another {} holds `{path}`", h.describe()),
        None => format!("another replay holds `{path}`"),
    }
}
