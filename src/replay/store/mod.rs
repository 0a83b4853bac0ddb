//! The conversation store: every message, attempt, notice and SMS usage row,
//! in an embedded SQLite database.
//!
//! The database is one file in WAL mode. A replay writes events in batches,
//! each batch one transaction, so an event's effects are either all saved or
//! not at all, and a `kill -9` loses at most the batch in flight (which the
//! next run replays). `synchronous = NORMAL` in WAL mode survives a killed
//! process without an fsync per commit. The schema is documented in the
//! README; `SCHEMA` (in `schema.rs`) is the source.
//!
//! Who may open a database, and how:
//!
//! * A replay ([`Store::open`]) first takes the database's `ReplayLock`,
//!   an OS lock on `FILE.lock` beside it, and holds it for its whole run,
//!   before it reads or writes anything: a second replay of the same
//!   database is refused at once, naming the process that holds it. Then it
//!   looks at what the file is before it writes anything: an empty file
//!   becomes a store, a store of this schema version is resumed, and
//!   anything else (another program's SQLite database, a file that is not
//!   SQLite, a store of another version) is refused untouched.
//! * The reading commands ([`Store::open_read_only`]) open the file
//!   read-only (`SQLITE_OPEN_READONLY`): they never write, so they work on
//!   a read-only file or directory and beside a running replay.
//!
//! Here: the [`Store`] and how a database is opened. The schema is in
//! `schema.rs`, the replay's claim on a database in `lock.rs`, its errors in
//! `error.rs`, writing in `write.rs` and reading in `read.rs`.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

mod error;
mod lock;
mod read;
mod schema;
mod write;

pub use error::StoreError;
pub use lock::Holder;
pub(crate) use lock::ReplayLock;
pub(crate) use read::{list_summary, unknown_client_hint, unknown_location_hint, Attempt, UsageBy, IN_STORE};
pub use read::{AttemptView, ConversationView, MessageView, NoticeView, UsageRow};
pub(crate) use schema::{SCHEMA, SCHEMA_VERSION};
pub(crate) use write::{Claim, ConversationRow, SentDetails, SentMessage};

/// A store operation's result.
pub type Result<T> = std::result::Result<T, StoreError>;

/// How long a replay waits for a lock that another program holds on its
/// database before it says so. Replays never wait for each other (the
/// [`ReplayLock`] refuses a second one at once) and readers do not block a
/// WAL writer, so this only covers brief locks (WAL recovery) or a foreign
/// writer.
const WRITE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a reading command waits for a lock: a replay's checkpoint or
/// recovery is brief, so waiting beats failing.
const READ_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The write-ahead log of a database: `FILE-wal`.
fn wal_of(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// An SQLite URI that opens `path` read-only as an immutable file.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    uri
}

/// An open conversation store.
pub struct Store {
    pub(crate) conn: Connection,
    /// A replay's claim on the database, released when the store is dropped
    /// (after the connection: fields drop in order).
    _lock: Option<ReplayLock>,
}

impl Store {
    /// Opens a database to replay into it: claims it (`ReplayLock`),
    /// then creates the store in an empty file or resumes a store of this
    /// version. Anything else is refused before anything is written.
    pub fn open(path: &Path) -> Result<Store> {
        let lock = ReplayLock::acquire(path)?;
        match Store::open_claimed(path) {
            Ok(mut store) => {
                store._lock = Some(lock);
                Ok(store)
            }
            Err(e) => {
                // Nothing was written; the lock file goes with the lock.
                drop(lock);
                Err(e)
            }
        }
    }

    /// [`Store::open`] once the database is claimed.
    fn open_claimed(path: &Path) -> Result<Store> {
        let at = |e| StoreError::at(path, e);
        if path.is_dir() {
            return Err(StoreError::Folder {
                path: path.display().to_string(),
            });
        }
        let conn = Connection::open(path).map_err(at)?;
        conn.busy_timeout(WRITE_WAIT).map_err(at)?;
        if Store::check_kind(&conn, path)? {
            // Before WAL mode and the first table: pages of 8 KB split half
            // as often as 4 KB ones during a replay.
            conn.pragma_update(None, "page_size", 8192).map_err(at)?;
            conn.pragma_update(None, "journal_mode", "WAL").map_err(at)?;
            Store::create(&conn).map_err(at)?;
        }
        Store::tune(&conn).map_err(at)?;
        Ok(Store { conn, _lock: None })
    }

    /// Opens a store to read it: read-only, so it never writes (the file,
    /// its directory or both may be read-only). A store that is not there,
    /// empty, of another program or of another version is refused.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        let at = |e| StoreError::at(path, e);
        if path.is_dir() {
            return Err(StoreError::Folder {
                path: path.display().to_string(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(at)?;
        conn.busy_timeout(READ_WAIT).map_err(at)?;
        let conn = match Store::check_kind(&conn, path) {
            Ok(true) => {
                return Err(StoreError::Empty {
                    path: path.display().to_string(),
                })
            }
            Ok(false) => conn,
            // A WAL database needs its `-shm` index, which SQLite creates
            // when it is missing; in a read-only directory it cannot. With
            // no `-wal` either, the file holds every committed event and no
            // replay can be writing (it could not create its log), so read
            // it as immutable: SQLite then takes no locks and needs no index.
            Err(e) if Store::cannot_open(&e) && wal_of(path).exists() => {
                return Err(StoreError::WalUnreadable {
                    path: path.display().to_string(),
                })
            }
            Err(e) if Store::cannot_open(&e) => {
                let conn =
                    Connection::open_with_flags(immutable_uri(path), flags | OpenFlags::SQLITE_OPEN_URI).map_err(at)?;
                match Store::check_kind(&conn, path)? {
                    true => {
                        return Err(StoreError::Empty {
                            path: path.display().to_string(),
                        })
                    }
                    false => conn,
                }
            }
            Err(e) => return Err(e),
        };
        Ok(Store { conn, _lock: None })
    }

    /// Whether a read-only open failed because SQLite cannot create the
    /// WAL index (`-shm`) of a database in a read-only directory.
    fn cannot_open(e: &StoreError) -> bool {
        match e {
            StoreError::Open { error, .. } => matches!(
                error.sqlite_error_code(),
                Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
            ),
            _ => false,
        }
    }

    /// A throwaway store (scenarios).
    pub fn in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        Store::create(&conn)?;
        Store::tune(&conn)?;
        Ok(Store { conn, _lock: None })
    }

    /// [`Store::open`] without the replay lock: two writers at once, for
    /// the test that shows what a second writer must never do.
    #[cfg(test)]
    pub(crate) fn open_unclaimed(path: &Path) -> Result<Store> {
        Store::open_claimed(path)
    }

    /// What the file is, read before anything is written: `true` for an
    /// empty database (a new file), `false` for a store of this version;
    /// anything else is an error that says what it is.
    fn check_kind(conn: &Connection, path: &Path) -> Result<bool> {
        let path_s = || path.display().to_string();
        let names: Vec<String> = match conn
            .prepare("SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type DESC, name")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        {
            Ok(names) => names,
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
                return Err(StoreError::NotSqlite { path: path_s() })
            }
            Err(e) => return Err(StoreError::at(path, e)),
        };
        if names.is_empty() {
            return Ok(true);
        }
        let foreign = || {
            let mut tables: Vec<String> = names.iter().take(5).map(|n| format!("`{n}`")).collect();
            if names.len() > 5 {
                tables.push(format!("{} more", names.len() - 5));
            }
            let tables = match tables.len() {
                1 => format!("the table {}", tables[0]),
                n => format!("the tables {} and {}", tables[..n - 1].join(", "), tables[n - 1]),
            };
            StoreError::Foreign { path: path_s(), tables }
        };
        if !names.iter().any(|n| n == "meta") {
            return Err(foreign());
        }
        let found: Option<String> = match conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0))
            .optional()
        {
            Ok(v) => v,
            // A `meta` table of another shape (no such column): not ours.
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::Unknown) => return Err(foreign()),
            Err(e) => return Err(StoreError::at(path, e)),
        };
        match found {
            Some(v) if v == SCHEMA_VERSION => Ok(false),
            Some(v) => Err(StoreError::Version {
                path: path_s(),
                found: v,
            }),
            None => Err(foreign()),
        }
    }

    /// Creates the tables of a new store, all or none.
    fn create(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA} INSERT INTO meta (key, value) VALUES ('schema', '{SCHEMA_VERSION}'); COMMIT;"
        ))
    }

    /// Settings of this connection (none is written to the file).
    fn tune(conn: &Connection) -> rusqlite::Result<()> {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -16_000)?; // 16 MB
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoint the WAL every ~40 MB rather than every 4 MB: fewer copies
        // of pages that many batches touch.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Meaningful as root too, where file permissions stop nothing: the
    /// connection itself is read-only.
    #[test]
    fn a_store_opened_read_only_refuses_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        drop(Store::open(&db).unwrap());
        let before = std::fs::read(&db).unwrap();
        let store = Store::open_read_only(&db).unwrap();
        for sql in [
            "INSERT INTO meta (key, value) VALUES ('x', 'y')",
            "CREATE INDEX messages_by_conversation ON messages(conversation, id)",
            "DELETE FROM events",
        ] {
            let e = store.conn.execute_batch(sql).unwrap_err();
            assert_eq!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::ReadOnly), "{sql}: {e}");
        }
        drop(store);
        assert_eq!(std::fs::read(&db).unwrap(), before);
    }

    #[test]
    fn a_second_replay_lock_on_a_database_is_refused_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let first = Store::open(&db).unwrap();
        let lock = ReplayLock::path_for(&db);
        assert!(lock.exists());
        let e = Store::open(&db).err().expect("a second replay is refused");
        let pid = std::process::id();
        assert!(
            e.to_string()
                .starts_with(&format!("another replay (pid {pid}, started at 20")),
            "{e}"
        );
        assert!(
            e.to_string()
                .ends_with(&format!(") holds `{}`; wait for it to finish", db.display())),
            "{e}"
        );
        assert_eq!(ReplayLock::holder_now(&db).map(|h| h.pid), Some(pid));
        drop(first);
        assert!(!lock.exists(), "the lock file goes when the replay ends");
        assert_eq!(ReplayLock::holder_now(&db), None);
        drop(Store::open(&db).unwrap());
    }

    #[test]
    fn immutable_uris_escape_what_sqlite_would_read_as_uri_syntax() {
        assert_eq!(
            immutable_uri(Path::new("/tmp/a b/c?d#e%f.db")),
            "file:/tmp/a%20b/c%3Fd%23e%25f.db?mode=ro&immutable=1"
        );
    }
}
