//! The conversation store: every message, attempt, notice and SMS usage row,
//! in an embedded SQLite database.
//!
//! The database is one file in WAL mode. A replay writes events in batches,
//! each batch one transaction, so an event's effects are either all saved or
//! not at all, and a `kill -9` loses at most the batch in flight (which the
//! next run replays). `synchronous = NORMAL` in WAL mode survives a killed
//! process without an fsync per commit. The schema is documented in the
//! README; [`SCHEMA`] is the source.
//!
//! Who may open a database, and how:
//!
//! * A replay ([`Store::open`]) first takes the database's [`ReplayLock`],
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

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

/// How many conversations a store's screen shows at once.
pub const IN_STORE: usize = 10;

/// Bumped when the schema changes; a database of another version is refused.
/// 6: every event's `digest`, so a resumed replay refuses an edited event.
pub const SCHEMA_VERSION: &str = "6";

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    -- every applied event, written first in its transaction: the primary key
    -- refuses an id used twice, and delivery reports find their message here
    id   TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL,      -- the event's position in the timeline, from 1 (a message's id)
    line INTEGER NOT NULL,      -- the line it was written on
    at   TEXT NOT NULL,
    type TEXT NOT NULL,
    digest BLOB NOT NULL        -- its other fields, hashed (timeline::Digest): a resumed
                                -- replay refuses an event that changed since
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS refused (
    event  TEXT PRIMARY KEY,    -- a message that was not sent: its event id
    seq    INTEGER NOT NULL,
    reason TEXT NOT NULL        -- photo | unreachable
);
CREATE TABLE IF NOT EXISTS conversations (
    id                INTEGER PRIMARY KEY,
    client            TEXT NOT NULL UNIQUE,
    started_by        TEXT NOT NULL,   -- client | staff
    staff             TEXT,            -- who started it, when staff did
    started_from      TEXT,            -- where they were logged in
    answering         TEXT NOT NULL,   -- confirmation | reminder | campaign | other | nothing
    answered_location TEXT
);
CREATE TABLE IF NOT EXISTS conversation_locations (
    conversation INTEGER NOT NULL,
    location     TEXT NOT NULL,
    unread       INTEGER NOT NULL,     -- client messages landed here since staff here last wrote
    PRIMARY KEY (conversation, location)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    id           INTEGER PRIMARY KEY,  -- seq of the event that created it
    conversation INTEGER NOT NULL,
    event        TEXT NOT NULL,        -- its event id
    at           TEXT NOT NULL,
    direction    TEXT NOT NULL,        -- inbound | outbound
    channel      TEXT NOT NULL,        -- sms | mms | app | email (inbound); push | sms | mms | email (latest outbound attempt)
    sender       TEXT NOT NULL,        -- client id, or staff id
    account      TEXT,                 -- outbound: the sending account
    text         TEXT NOT NULL,        -- as received, or as sent on the first attempt
    typed        TEXT,                 -- outbound: as staff typed it, when the rules changed it
    attachments  TEXT NOT NULL,        -- JSON array of photo paths
    locations    TEXT NOT NULL,        -- inbound: where it landed; outbound: where it was sent from
    live_to      TEXT NOT NULL,        -- inbound: staff who received it live
    status       TEXT NOT NULL,        -- received | sent | delivered | failed
    attempts     TEXT                  -- outbound, once a delivery report came: JSON array, one
                                       -- object per attempt {n, at, channel, status, status_at?, text?};
                                       -- NULL: one attempt, on `channel` at `at`, still `sent`
);
CREATE TABLE IF NOT EXISTS notices (
    id           INTEGER PRIMARY KEY,
    message      INTEGER NOT NULL,
    conversation INTEGER NOT NULL,
    at           TEXT NOT NULL,
    text         TEXT NOT NULL,        -- Message failed to deliver
    audio_cue_to TEXT NOT NULL         -- staff who heard the cue, comma-separated
);
CREATE TABLE IF NOT EXISTS usage (
    month     TEXT NOT NULL,           -- YYYY-MM
    location  TEXT NOT NULL,           -- the location billed
    direction TEXT NOT NULL,           -- inbound | outbound
    kind      TEXT NOT NULL,           -- sms | mms
    account   TEXT NOT NULL,           -- the location's account
    messages  INTEGER NOT NULL,
    segments  INTEGER NOT NULL,        -- 0 for mms
    PRIMARY KEY (month, location, direction, kind)
) WITHOUT ROWID;
";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An SQLite error. Shown as SQLite words it, once: it is not the
    /// error's `source`, whose chain would print the message again.
    #[error("{0}")]
    Sql(rusqlite::Error),
    #[error("cannot open the database `{path}`: {error}")]
    Open { path: String, error: rusqlite::Error },
    #[error("writing to the database `{path}` failed: {error}")]
    Write { path: String, error: rusqlite::Error },
    #[error("reading the database `{path}` failed: {error}")]
    Read { path: String, error: rusqlite::Error },
    #[error("`{path}` is a folder, not a database; give `--db` a file")]
    Folder { path: String },
    #[error("cannot open the database `{path}`: cannot create `{lock}` beside it to claim it: {error}")]
    Lock {
        path: String,
        lock: String,
        error: std::io::Error,
    },
    #[error("{}; wait for it to finish", held_by(.holder, .path))]
    Held { path: String, holder: Option<Holder> },
    #[error("the database `{path}` is locked: {who}; wait for it to finish or close it, then run again")]
    Locked { path: String, who: String },
    #[error("cannot read the database `{path}`: its log `{path}-wal` holds changes not yet in the file, and SQLite can only read it with `{path}-shm` beside it, which it cannot create in a read-only directory; make the directory writable, or copy the database with its `-wal` file to one that is")]
    WalUnreadable { path: String },
    #[error("`{path}` is not an SQLite database, so not a conversation store; {DB_HELP}")]
    NotSqlite { path: String },
    #[error("`{path}` is an SQLite database but not a conversation store (it has {tables}); {DB_HELP}")]
    Foreign { path: String, tables: String },
    #[error("`{path}` is empty, not a conversation store yet; replay a timeline into it first with `commroute simulate TIMELINE --db {path}`")]
    Empty { path: String },
    #[error("the database `{path}` has schema version {found}, this commroute reads and writes version {SCHEMA_VERSION}; replay the timeline into a new `--db`")]
    Version { path: String, found: String },
}

/// What `--db` takes, for the messages of a file that is not a store.
const DB_HELP: &str = "`--db` takes a store written by `commroute simulate`, or a new file for `simulate` to create";

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e)
    }
}

impl StoreError {
    /// SQLite gave up waiting for a lock another connection holds.
    pub fn is_locked(&self) -> bool {
        match self {
            StoreError::Sql(e)
            | StoreError::Open { error: e, .. }
            | StoreError::Write { error: e, .. }
            | StoreError::Read { error: e, .. } => is_locked(e),
            StoreError::Locked { .. } => true,
            _ => false,
        }
    }

    /// This error of a replay writing to the database at `path`, naming
    /// the file (and who holds it, when it is locked).
    pub fn while_writing(self, path: &Path) -> StoreError {
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
    pub fn while_reading(self, path: &Path) -> StoreError {
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
    pub fn at(path: &Path, error: rusqlite::Error) -> StoreError {
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

/// The process that holds a [`ReplayLock`], as it wrote itself into the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// When it started, `2026-03-02T09:15:00Z`.
    pub started: String,
}

impl Holder {
    fn describe(&self) -> String {
        format!("replay (pid {}, started at {})", self.pid, self.started)
    }

    fn parse(text: &str) -> Option<Holder> {
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
pub struct ReplayLock {
    file: std::fs::File,
    path: PathBuf,
}

impl ReplayLock {
    /// The lock file of a database: `FILE.lock`.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut p = db.as_os_str().to_owned();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// Claims the database, or says who holds it (without waiting).
    pub fn acquire(db: &Path) -> Result<ReplayLock> {
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
    pub fn holder_now(db: &Path) -> Option<Holder> {
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

/// An open conversation store.
pub struct Store {
    pub conn: Connection,
    /// A replay's claim on the database, released when the store is dropped
    /// (after the connection: fields drop in order).
    _lock: Option<ReplayLock>,
}

/// What an event recorded by an earlier run was, to compare with the
/// event a resumed replay has at that position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub digest: Vec<u8>,
}

/// The outcome of claiming an event's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The id was free and is now this event's, in the open transaction.
    Claimed,
    /// An earlier event of the timeline has the id: its position and line.
    Duplicate { seq: i64, line: i64 },
    /// The same id at the same position was written by another run while
    /// this one ran (it found the position free when it started).
    WrittenByAnother,
}

/// A conversation as kept between events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: i64,
    pub client: String,
    pub started_by: String,
    pub staff: Option<String>,
    pub started_from: Option<String>,
    pub answering: String,
    pub answered_location: Option<String>,
}

/// A staff message, as a delivery report needs it.
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub id: i64,
    pub conversation: i64,
    /// Every attempt so far (the JSON of `messages.attempts`); `None`: only the first.
    pub attempts: Option<String>,
    /// The channel of the latest attempt.
    pub channel: String,
    pub at: String,
}

/// The rest of a staff message, needed when a report says it failed.
#[derive(Debug, Clone)]
pub struct SentDetails {
    pub client: String,
    pub account: Option<String>,
    /// As staff typed it.
    pub typed: String,
    /// As sent on the first attempt.
    pub text: String,
    pub attachments: String,
    /// Where it was sent from.
    pub location: String,
}

impl Store {
    /// Opens a database to replay into it: claims it ([`ReplayLock`]),
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

    pub fn begin(&self) -> Result<()> {
        self.conn.execute_batch("BEGIN")?;
        Ok(())
    }

    pub fn commit(&self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// The highest event position recorded (positions are recorded in
    /// order, from 1, without gaps: a replay stops at the first event it
    /// cannot apply).
    pub fn last_seq(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))?)
    }

    /// The event recorded with an id, if any.
    pub fn recorded(&self, id: &str) -> Result<Option<Recorded>> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq, at, type, digest FROM events WHERE id = ?1")?
            .query_row([id], |r| {
                Ok(Recorded {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    digest: r.get(3)?,
                })
            })
            .optional()?)
    }

    /// The id of the event recorded at a position, if any. It reads the
    /// whole table (events are kept by id): for error messages only.
    pub fn event_at(&self, seq: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT id FROM events WHERE seq = ?1", [seq], |r| r.get(0))
            .optional()?)
    }

    /// Claims an id for the event at a position, before anything else of the
    /// event is written.
    #[allow(clippy::too_many_arguments)]
    pub fn claim_event_id(
        &self,
        id: &str,
        seq: i64,
        line: usize,
        at: &str,
        kind: &str,
        digest: &[u8],
    ) -> Result<Claim> {
        // A plain INSERT: its primary key check is the insert's own seek
        // (an upsert would look the key up once more first).
        match self
            .conn
            .prepare_cached("INSERT INTO events (id, seq, line, at, type, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![id, seq, line as i64, at, kind, digest])
        {
            Ok(_) => return Ok(Claim::Claimed),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {}
            Err(e) => return Err(e.into()),
        }
        let (first, line): (i64, i64) = self
            .conn
            .prepare_cached("SELECT seq, line FROM events WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        // The position was free when this run started (positions recorded
        // before are never claimed again): the same id there now is
        // another run's row, which this run must leave alone.
        Ok(if first == seq {
            Claim::WrittenByAnother
        } else {
            Claim::Duplicate { seq: first, line }
        })
    }

    /// Gives back the id of an event that failed before it was applied.
    /// Only for a [`Claim::Claimed`] of the open transaction: the row is
    /// this run's own, uncommitted, and no other connection can have
    /// written it.
    pub fn release_event_id(&self, id: &str, seq: i64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM events WHERE id = ?1 AND seq = ?2")?
            .execute(params![id, seq])?;
        Ok(())
    }

    /// Undoes the open transaction (a batch whose last event could not be
    /// cleaned up is not committed; its events are replayed next time).
    pub fn rollback(&self) -> Result<()> {
        self.conn.execute_batch("ROLLBACK")?;
        Ok(())
    }

    /// A message that was not sent (refused photo, unreachable client).
    pub fn record_refused(&self, event: &str, seq: i64, reason: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO refused (event, seq, reason) VALUES (?1, ?2, ?3)")?
            .execute(params![event, seq, reason])?;
        Ok(())
    }

    pub fn was_refused(&self, event: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM refused WHERE event = ?1")?
            .query_row([event], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn conversations_all(&self) -> Result<Vec<ConversationRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, client, started_by, staff, started_from, answering, answered_location FROM conversations",
        )?;
        let rows = st.query_map([], |r| {
            Ok(ConversationRow {
                id: r.get(0)?,
                client: r.get(1)?,
                started_by: r.get(2)?,
                staff: r.get(3)?,
                started_from: r.get(4)?,
                answering: r.get(5)?,
                answered_location: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub fn create_conversation(&self, c: &ConversationRow) -> Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO conversations (client, started_by, staff, started_from, answering, answered_location)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                c.client,
                c.started_by,
                c.staff,
                c.started_from,
                c.answering,
                c.answered_location
            ])?;
        Ok(self.conn.last_insert_rowid())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn insert_message(
        &self,
        id: i64,
        conversation: i64,
        event: &str,
        at: &str,
        direction: &str,
        channel: &str,
        sender: &str,
        account: Option<&str>,
        text: &str,
        typed: Option<&str>,
        attachments: &str,
        locations: &str,
        live_to: &str,
        status: &str,
        attempts: Option<&str>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO messages (id, conversation, event, at, direction, channel, sender, account, text, typed,
                                       attachments, locations, live_to, status, attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )?
            .execute(params![
                id,
                conversation,
                event,
                at,
                direction,
                channel,
                sender,
                account,
                text,
                typed,
                attachments,
                locations,
                live_to,
                status,
                attempts
            ])?;
        Ok(())
    }

    /// Writes the unread count of a conversation at a location.
    pub fn set_unread(&self, conversation: i64, location: &str, unread: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO conversation_locations (conversation, location, unread) VALUES (?1, ?2, ?3)
                 ON CONFLICT (conversation, location) DO UPDATE SET unread = excluded.unread",
            )?
            .execute(params![conversation, location, unread])?;
        Ok(())
    }

    /// Every unread count, to carry on from where an earlier run stopped.
    pub fn unread_all(&self) -> Result<Vec<(i64, String, i64)>> {
        let mut st = self
            .conn
            .prepare("SELECT conversation, location, unread FROM conversation_locations")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// A message's new status, channel and attempts after a delivery report.
    pub fn set_message_status(&self, message: i64, channel: &str, status: &str, attempts: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE messages SET channel = ?2, status = ?3, attempts = ?4 WHERE id = ?1")?
            .execute(params![message, channel, status, attempts])?;
        Ok(())
    }

    /// Adds to the usage counters of one month, location, direction and kind.
    #[allow(clippy::too_many_arguments)]
    pub fn add_usage(
        &self,
        month: &str,
        location: &str,
        direction: &str,
        kind: &str,
        account: &str,
        messages: i64,
        segments: i64,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO usage (month, location, direction, kind, account, messages, segments)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (month, location, direction, kind)
                 DO UPDATE SET messages = messages + excluded.messages, segments = segments + excluded.segments",
            )?
            .execute(params![month, location, direction, kind, account, messages, segments])?;
        Ok(())
    }

    pub fn insert_notice(&self, message: i64, conversation: i64, at: &str, text: &str, cue_to: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO notices (message, conversation, at, text, audio_cue_to) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![message, conversation, at, text, cue_to])?;
        Ok(())
    }

    /// The staff message an event sent, with its attempts.
    pub fn message_of_event(&self, event: &str) -> Result<Option<SentMessage>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT m.id, m.conversation, m.attempts, m.channel, m.at
                 FROM events e JOIN messages m ON m.id = e.seq
                 WHERE e.id = ?1 AND m.direction = 'outbound'",
            )?
            .query_row([event], |r| {
                Ok(SentMessage {
                    id: r.get(0)?,
                    conversation: r.get(1)?,
                    attempts: r.get(2)?,
                    channel: r.get(3)?,
                    at: r.get(4)?,
                })
            })
            .optional()?)
    }

    pub fn sent_details(&self, message: i64) -> Result<SentDetails> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT c.client, m.account, coalesce(m.typed, m.text), m.text, m.attachments, m.locations
                 FROM messages m JOIN conversations c ON c.id = m.conversation
                 WHERE m.id = ?1",
            )?
            .query_row([message], |r| {
                Ok(SentDetails {
                    client: r.get(0)?,
                    account: r.get(1)?,
                    typed: r.get(2)?,
                    text: r.get(3)?,
                    attachments: r.get(4)?,
                    location: r.get(5)?,
                })
            })?)
    }
}

// ---------------------------------------------------------------------------
// Reading

/// One row of a location's conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationSummary {
    pub client: String,
    pub last_at: String,
    pub last_message: String,
    pub direction: String,
    pub channel: String,
    pub status: String,
    pub unread: i64,
}

/// One message of a conversation, with its attempts and notices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageView {
    pub at: String,
    pub event: String,
    pub direction: String,
    pub channel: String,
    pub sender: String,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
    /// Inbound: where it landed; outbound: where it was sent from.
    pub locations: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub live_to: Vec<String>,
    pub status: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<NoticeView>,
}

/// One attempt as kept in `messages.attempts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Attempt {
    pub n: i64,
    pub at: String,
    pub channel: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_at: Option<String>,
    /// When it differs from the message's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptView {
    pub n: i64,
    pub at: String,
    pub channel: String,
    pub text: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeView {
    pub at: String,
    pub text: String,
    pub audio_cue_to: Vec<String>,
}

/// A whole conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationView {
    pub client: String,
    pub started_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_from: Option<String>,
    pub answering: String,
    /// Unread client messages per location.
    pub unread: std::collections::BTreeMap<String, i64>,
    pub messages: Vec<MessageView>,
}

/// How SMS usage is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageBy {
    Account,
    Location,
}

/// SMS and MMS usage of one account or location in one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    pub month: String,
    /// The account or location id.
    pub key: String,
    pub sms_inbound: i64,
    pub sms_outbound: i64,
    pub sms_messages: i64,
    pub segments: i64,
    pub mms_messages: i64,
}

fn split(s: String) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').map(str::to_owned).collect()
    }
}

impl Store {
    /// A location's conversations, most recent activity first; `limit` for the store screen.
    pub fn conversations_at(&self, location: &str, limit: Option<usize>) -> Result<Vec<ConversationSummary>> {
        let mut st = self.conn.prepare(
            "WITH last AS (SELECT conversation, max(id) AS id FROM messages GROUP BY conversation)
             SELECT c.client, m.at, m.text, m.direction, m.channel, m.status, cl.unread
             FROM conversation_locations cl
             JOIN conversations c ON c.id = cl.conversation
             JOIN last ON last.conversation = c.id
             JOIN messages m ON m.id = last.id
             WHERE cl.location = ?1
             ORDER BY m.id DESC
             LIMIT ?2",
        )?;
        let limit = limit.map(|l| l as i64).unwrap_or(-1);
        let rows = st.query_map(params![location, limit], |r| {
            Ok(ConversationSummary {
                client: r.get(0)?,
                last_at: r.get(1)?,
                last_message: r.get(2)?,
                direction: r.get(3)?,
                channel: r.get(4)?,
                status: r.get(5)?,
                unread: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Every location some conversation concerns, in id order.
    pub fn locations(&self) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT location FROM conversation_locations ORDER BY location")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Every client with a conversation, in id order.
    pub fn clients(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare("SELECT client FROM conversations ORDER BY client")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// One client's whole conversation, oldest message first.
    pub fn conversation(&self, client: &str) -> Result<Option<ConversationView>> {
        let head = self
            .conn
            .query_row(
                "SELECT id, started_by, staff, started_from, answering FROM conversations WHERE client = ?1",
                [client],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((id, started_by, staff, started_from, answering)) = head else {
            return Ok(None);
        };
        let mut unread_st = self
            .conn
            .prepare("SELECT location, unread FROM conversation_locations WHERE conversation = ?1 ORDER BY location")?;
        let unread = unread_st
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<std::result::Result<_, _>>()?;
        let mut st = self.conn.prepare(
            "SELECT id, at, event, direction, channel, sender, text, attachments, locations, live_to, status,
                    coalesce(attempts, CASE WHEN direction = 'outbound'
                        THEN json_array(json_object('n', 1, 'at', at, 'channel', channel, 'status', 'sent'))
                        ELSE '[]' END)
             FROM messages WHERE conversation = ?1 ORDER BY id",
        )?;
        let mut notices = self
            .conn
            .prepare("SELECT at, text, audio_cue_to FROM notices WHERE message = ?1 ORDER BY id")?;
        let rows: Vec<(i64, MessageView)> = st
            .query_map([id], |r| {
                let attachments: String = r.get(7)?;
                let text: String = r.get(6)?;
                let attempts: String = r.get(11)?;
                let attempts: Vec<Attempt> = serde_json::from_str(&attempts).unwrap_or_default();
                Ok((
                    r.get(0)?,
                    MessageView {
                        at: r.get(1)?,
                        event: r.get(2)?,
                        direction: r.get(3)?,
                        channel: r.get(4)?,
                        sender: r.get(5)?,
                        attachments: serde_json::from_str(&attachments).unwrap_or_default(),
                        locations: split(r.get(8)?),
                        live_to: split(r.get(9)?),
                        status: r.get(10)?,
                        attempts: attempts
                            .into_iter()
                            .map(|a| AttemptView {
                                n: a.n,
                                at: a.at,
                                channel: a.channel,
                                text: a.text.unwrap_or_else(|| text.clone()),
                                status: a.status,
                            })
                            .collect(),
                        text,
                        notices: Vec::new(),
                    },
                ))
            })?
            .collect::<std::result::Result<_, _>>()?;
        let mut messages = Vec::with_capacity(rows.len());
        for (mid, mut m) in rows {
            m.notices = notices
                .query_map([mid], |r| {
                    Ok(NoticeView {
                        at: r.get(0)?,
                        text: r.get(1)?,
                        audio_cue_to: split(r.get(2)?),
                    })
                })?
                .collect::<std::result::Result<_, _>>()?;
            messages.push(m);
        }
        Ok(Some(ConversationView {
            client: client.to_owned(),
            started_by,
            staff,
            started_from,
            answering,
            unread,
            messages,
        }))
    }

    /// SMS and MMS usage per month and account or location (`month` filters).
    pub fn usage(&self, by: UsageBy, month: Option<&str>) -> Result<Vec<UsageRow>> {
        let key = match by {
            UsageBy::Account => "account",
            UsageBy::Location => "location",
        };
        let sql = format!(
            "SELECT month, {key},
                    sum(CASE WHEN kind = 'sms' AND direction = 'inbound' THEN messages ELSE 0 END),
                    sum(CASE WHEN kind = 'sms' AND direction = 'outbound' THEN messages ELSE 0 END),
                    sum(CASE WHEN kind = 'sms' THEN messages ELSE 0 END),
                    sum(segments),
                    sum(CASE WHEN kind = 'mms' THEN messages ELSE 0 END)
             FROM usage
             WHERE ?1 IS NULL OR month = ?1
             GROUP BY month, {key}
             ORDER BY month, {key}"
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map([month], |r| {
            Ok(UsageRow {
                month: r.get(0)?,
                key: r.get(1)?,
                sms_inbound: r.get(2)?,
                sms_outbound: r.get(3)?,
                sms_messages: r.get(4)?,
                segments: r.get(5)?,
                mms_messages: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Every table as text, row by row in key order: two databases with the
    /// same dump hold the same data (the kill-and-resume test compares them).
    pub fn dump(&self) -> Result<String> {
        let mut out = String::new();
        for (table, order) in [
            ("meta", "key"),
            ("events", "id"),
            ("refused", "seq"),
            ("conversations", "id"),
            ("conversation_locations", "conversation, location"),
            ("messages", "id"),
            ("notices", "id"),
            ("usage", "month, location, direction, kind"),
        ] {
            let mut st = self.conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
            let cols = st.column_count();
            out.push_str(&format!("# {table}\n"));
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let mut line = Vec::with_capacity(cols);
                for i in 0..cols {
                    line.push(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                        rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                        rusqlite::types::ValueRef::Real(f) => f.to_string(),
                        rusqlite::types::ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
                        rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                    });
                }
                out.push_str(&line.join("|"));
                out.push('\n');
            }
        }
        Ok(out)
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
