//! The business's own data: accounts, locations, staff and clients.
//!
//! A world file is loaded and validated once: every reference is resolved to a
//! number, every id is checked for duplicates, phone numbers and emails are
//! validated for the account's country, and indexes used by routing (who has
//! access to each location) are built. Decisions then only read numbers.
//! Locations, staff and clients are numbered in id order, so sorting by number
//! sorts by id.

pub mod contact;
pub mod locset;

use std::collections::HashMap;
use std::hash::BuildHasher;

use compact_str::CompactString;
use std::path::Path;

use marked_yaml::types::{MarkedMappingNode, MarkedSequenceNode};
use marked_yaml::Node;

use crate::diag::{did_you_mean, one_of, Diagnostics, Pos, Source};
use crate::world::locset::{Loc, LocSet};
use crate::yaml::{self, Doc, Str};
use contact::Contact;
use smallvec::SmallVec;

pub type AccountIdx = u32;
pub type StaffIdx = u32;
pub type ClientIdx = u32;

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub parent: Option<AccountIdx>,
    /// ISO country used to read phone numbers (own, inherited, or `US`).
    pub country: String,
    /// Whether other accounts name this one as their parent.
    pub global: bool,
}

#[derive(Debug, Clone)]
pub struct Location {
    pub id: String,
    pub name: String,
    pub account: AccountIdx,
}

#[derive(Debug, Clone)]
pub struct Staff {
    pub id: String,
    pub name: String,
    pub locations: LocSet,
    pub logged_in_at: Option<Loc>,
    /// Locations whose conversations they may read ("access control").
    pub access: LocSet,
}

#[derive(Debug, Clone)]
pub struct Client {
    /// Short strings ([`CompactString`]) are kept inside the client itself:
    /// a world of a hundred thousand clients makes no allocation for them.
    pub id: CompactString,
    pub name: CompactString,
    pub account: AccountIdx,
    pub locations: LocSet,
    pub last_appointment: Option<Loc>,
    pub phone: Option<CompactString>,
    pub sms_opt_in: bool,
    pub email: Option<CompactString>,
    pub email_opt_in: bool,
    pub guest_app: bool,
    pub contact: Contact,
}

/// A change to a client's contact facts; `None` leaves a field as it is,
/// `Some(None)` clears a phone or email.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactUpdate {
    pub guest_app: Option<bool>,
    pub phone: Option<Option<String>>,
    pub sms_opt_in: Option<bool>,
    pub email: Option<Option<String>>,
    pub email_opt_in: Option<bool>,
}

/// A loaded, validated world.
#[derive(Debug, Clone)]
pub struct World {
    pub accounts: Vec<Account>,
    pub locations: Vec<Location>,
    pub staff: Vec<Staff>,
    pub clients: Vec<Client>,
    account_ix: HashMap<String, AccountIdx>,
    location_ix: HashMap<String, Loc>,
    staff_ix: HashMap<String, StaffIdx>,
    /// Client numbers by id: the table holds numbers only and hashes the
    /// ids in `clients`, so a large world does not keep its ids twice.
    client_ix: ClientIndex,
    /// For each location, the staff whose communicator access includes it.
    access_ix: Vec<Vec<StaffIdx>>,
    /// The same, only those logged in.
    live_access_ix: Vec<Vec<StaffIdx>>,
}

impl World {
    pub fn load(path: &Path) -> Result<World, Diagnostics> {
        // The file is opened once: a pipe opened a second time waits for a
        // writer that may be long gone.
        let (mut file, meta) = Source::open(path)?;
        // Most worlds are valid: a regular file is read as it is parsed,
        // holding neither its text nor a tree of its clients. A world with
        // any problem is read again, from the start of the same open file,
        // with its text at hand, so that every message shows the line it is
        // about. A pipe or a device cannot be read twice: it is read whole.
        if meta.is_file() && meta.len() <= crate::diag::MAX_FILE_SIZE {
            if let Some(world) = World::read_streaming(path, &mut file) {
                return Ok(world);
            }
            std::io::Seek::rewind(&mut file).map_err(|e| {
                Diagnostics::from(crate::diag::Diagnostic::new(
                    path,
                    crate::diag::Pos::default(),
                    format!("cannot read the file: {e}"),
                ))
            })?;
        }
        World::parse(Source::from_file(path, &mut file, &meta)?)
    }

    /// Reads a world file as it is parsed; `None` on any problem.
    fn read_streaming(path: &Path, file: &mut std::fs::File) -> Option<World> {
        World::read_with_streamed_clients(&Source::new(path, ""), |stream| {
            Doc::parse_file_streaming(path, file, Some(stream)).ok_or_else(Diagnostics::default)
        })
        .ok()
    }

    pub fn parse(source: Source) -> Result<World, Diagnostics> {
        let src = source.clone();
        World::read_with_streamed_clients(&src, move |stream| Doc::parse_streaming(source, Some(stream)))
    }

    /// Parses with `parse`, which hands the entries of `clients:` over as
    /// they are read (a large world is mostly clients: no tree of the
    /// whole list is ever built), then reads the rest of the world.
    fn read_with_streamed_clients(
        source: &Source,
        parse: impl FnOnce(yaml::Stream<'_>) -> Result<(Doc, Node), Diagnostics>,
    ) -> Result<World, Diagnostics> {
        let mut clients = ClientEntries::new(source);
        let mut sink = |item: Node| clients.push(&item);
        let (mut doc, node) = parse(yaml::Stream {
            key: "clients",
            sink: &mut sink,
        })?;
        let world = read_world(&mut doc, &node, Some(clients));
        drop(node);
        // This drops the file's text too: nothing reads it any more.
        doc.finish(())?;
        let mut world = world.expect("a world is built whenever no problem was recorded");
        world.validate_contacts();
        Ok(world)
    }

    /// Reads a world from a node inside another document (a scenario's inline world).
    pub fn from_node(doc: &mut Doc, node: &Node) -> Option<World> {
        let before = doc.diags.len();
        let mut world = read_world(doc, node, None)?;
        if doc.diags.len() > before {
            return None;
        }
        world.validate_contacts();
        Some(world)
    }

    pub fn account(&self, id: &str) -> Option<AccountIdx> {
        self.account_ix.get(id).copied()
    }
    pub fn location(&self, id: &str) -> Option<Loc> {
        self.location_ix.get(id).copied()
    }
    pub fn staff_member(&self, id: &str) -> Option<StaffIdx> {
        self.staff_ix.get(id).copied()
    }
    pub fn client(&self, id: &str) -> Option<ClientIdx> {
        self.client_ix.get(&self.clients, id)
    }

    pub fn loc_id(&self, loc: Loc) -> &str {
        &self.locations[loc as usize].id
    }

    pub fn loc_ids(&self, set: &LocSet) -> Vec<String> {
        set.iter().map(|l| self.loc_id(l).to_owned()).collect()
    }

    /// The staff whose communicator access includes `loc`, in id order.
    pub fn staff_with_access(&self, loc: Loc) -> &[StaffIdx] {
        &self.access_ix[loc as usize]
    }

    /// The staff whose communicator access includes `loc` and who are logged
    /// in, in id order.
    pub fn live_staff_with_access(&self, loc: Loc) -> &[StaffIdx] {
        &self.live_access_ix[loc as usize]
    }

    /// Logs a staff member in at a location, or out with `None`.
    pub fn set_login(&mut self, staff: StaffIdx, at: Option<Loc>) {
        let member = &mut self.staff[staff as usize];
        let was = std::mem::replace(&mut member.logged_in_at, at).is_some();
        if was != at.is_some() {
            // Logged in or out: update the live index where it changed only
            // (replays log staff in and out at every step).
            for l in member.access.iter() {
                let live = &mut self.live_access_ix[l as usize];
                match (live.binary_search(&staff), at.is_some()) {
                    (Err(i), true) => live.insert(i, staff),
                    (Ok(i), false) => {
                        live.remove(i);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Replaces a staff member's communicator access.
    pub fn set_access(&mut self, staff: StaffIdx, access: LocSet) {
        self.staff[staff as usize].access = access;
        self.rebuild_access_index();
    }

    /// Updates the client's last appointment location.
    pub fn set_last_appointment(&mut self, client: ClientIdx, at: Option<Loc>) {
        let c = &mut self.clients[client as usize];
        if let Some(l) = at {
            c.locations.insert(l);
        }
        c.last_appointment = at;
    }

    /// Recomputes a client's contact facts after their phone or email changed.
    pub fn refresh_contact(&mut self, client: ClientIdx) {
        let c = &self.clients[client as usize];
        let country =
            contact::parse_country(&self.accounts[c.account as usize].country).unwrap_or(phonenumber::country::Id::US);
        let computed = contact::contact(c.phone.as_deref(), c.email.as_deref(), country);
        self.clients[client as usize].contact = computed;
    }

    /// Changes a client's contact facts (guest app, phone, email, opt-ins);
    /// fields left `None` keep their value. Phone and email validity are
    /// computed again.
    pub fn update_contact(&mut self, client: ClientIdx, u: &ContactUpdate) {
        let c = &mut self.clients[client as usize];
        if let Some(v) = u.guest_app {
            c.guest_app = v;
        }
        if let Some(v) = u.sms_opt_in {
            c.sms_opt_in = v;
        }
        if let Some(v) = u.email_opt_in {
            c.email_opt_in = v;
        }
        let refresh = u.phone.is_some() || u.email.is_some();
        if let Some(v) = &u.phone {
            c.phone = v.as_deref().map(CompactString::from);
        }
        if let Some(v) = &u.email {
            c.email = v.as_deref().map(CompactString::from);
        }
        if refresh {
            self.refresh_contact(client);
        }
    }

    /// Whether `child` is a child account of `parent`.
    pub fn is_child_of(&self, child: AccountIdx, parent: AccountIdx) -> bool {
        self.accounts[child as usize].parent == Some(parent)
    }

    fn rebuild_access_index(&mut self) {
        let mut ix = vec![Vec::new(); self.locations.len()];
        let mut live = vec![Vec::new(); self.locations.len()];
        for (s, staff) in self.staff.iter().enumerate() {
            for l in staff.access.iter() {
                ix[l as usize].push(s as StaffIdx);
                if staff.logged_in_at.is_some() {
                    live[l as usize].push(s as StaffIdx);
                }
            }
        }
        self.access_ix = ix;
        self.live_access_ix = live;
    }
}

// ---------------------------------------------------------------------------
// Loading

/// One entry of a list as written. An entry whose fields could not be read
/// (`fields` is `None`, and the problem is recorded) still defines its id,
/// so the locations, accounts and duplicates that name it are checked as if
/// it were whole: one mistake in an entry is one error.
struct Raw<T> {
    pos: Pos,
    id: Str,
    fields: Option<T>,
}

/// The entry being read: its subject for messages, and its valid keys.
struct Entry<'a> {
    subject: String,
    keys: &'a [&'a str],
}

impl Entry<'_> {
    /// Whether `key` is missing from `m` because an unknown key, already
    /// reported with `did you mean`, was meant to be it.
    fn misspelt(&self, m: &MarkedMappingNode, key: &str) -> bool {
        yaml::misspelt(m, key, self.keys).is_some()
    }
}

struct RawAccount {
    name: String,
    parent: Option<Str>,
    country: Option<Str>,
}
struct RawLocation {
    name: String,
    account: Str,
}
struct RawStaff {
    name: String,
    locations: Vec<Str>,
    logged_in_at: Option<Str>,
    access: Option<Vec<Str>>,
}
struct RawClient {
    name: String,
    account: Str,
    locations: Vec<Str>,
    last_appointment_at: Option<Str>,
    phone: Option<String>,
    sms_opt_in: bool,
    email: Option<String>,
    email_opt_in: bool,
    guest_app: bool,
}

const TOP_KEYS: &[&str] = &["accounts", "locations", "staff", "clients"];
const ACCOUNT_KEYS: &[&str] = &["id", "name", "parent", "country"];
const LOCATION_KEYS: &[&str] = &["id", "name", "account"];
const STAFF_KEYS: &[&str] = &["id", "name", "locations", "logged_in_at", "communicator_access"];
const CLIENT_KEYS: &[&str] = &[
    "id",
    "name",
    "account",
    "locations",
    "last_appointment_at",
    "phone",
    "sms_opt_in",
    "email",
    "email_opt_in",
    "guest_app",
];

/// Client numbers by id, for a list of clients sorted by id.
#[derive(Clone)]
struct ClientIndex {
    table: hashbrown::HashTable<ClientIdx>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl std::fmt::Debug for ClientIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientIndex({} clients)", self.table.len())
    }
}

impl ClientIndex {
    fn new(clients: &[Client]) -> Self {
        let hasher = hashbrown::DefaultHashBuilder::default();
        let mut table = hashbrown::HashTable::with_capacity(clients.len());
        for (i, c) in clients.iter().enumerate() {
            // Repeated ids never reach a built world, so every id is new here.
            table.insert_unique(hasher.hash_one(c.id.as_str()), i as ClientIdx, |&j| {
                hasher.hash_one(clients[j as usize].id.as_str())
            });
        }
        ClientIndex { table, hasher }
    }

    fn get(&self, clients: &[Client], id: &str) -> Option<ClientIdx> {
        self.table
            .find(self.hasher.hash_one(id), |&i| clients[i as usize].id == id)
            .copied()
    }
}

/// A position kept in 8 bytes, for the many references of a large world.
#[derive(Debug, Clone, Copy)]
struct At {
    line: u32,
    col: u32,
}

impl From<Pos> for At {
    fn from(p: Pos) -> Self {
        At {
            line: p.line.try_into().unwrap_or(u32::MAX),
            col: p.col.try_into().unwrap_or(u32::MAX),
        }
    }
}

impl At {
    fn pos(self) -> Pos {
        Pos::new(self.line as usize, self.col as usize)
    }
}

/// A name a client refers to (an account or a location), interned, and where.
#[derive(Debug, Clone, Copy)]
struct NameRef {
    name: u32,
    at: At,
}

/// What a client's entry names, resolved once the whole world is read.
struct ClientRefs {
    entry: At,
    id: At,
    /// Whether the entry's fields were read; when not, its problem is
    /// reported and nothing else about it is checked.
    read: bool,
    account: NameRef,
    locations: SmallVec<[NameRef; 2]>,
    last_appointment_at: Option<NameRef>,
}

/// A world's clients, read entry by entry: from a tree, or streamed by the
/// parser before the rest of the world is read (their problems are kept
/// apart until then, and reported in file order with the others). Each entry
/// becomes its [`Client`] at once, with the accounts and locations it names
/// interned and resolved later, so a large world holds one small record per
/// client and no copy of its strings.
struct ClientEntries {
    doc: Doc,
    clients: Vec<Client>,
    refs: Vec<ClientRefs>,
    names: Vec<String>,
    name_ix: HashMap<String, u32>,
}

impl ClientEntries {
    fn new(source: &Source) -> Self {
        ClientEntries {
            doc: Doc {
                source: source.clone(),
                diags: Diagnostics::default(),
            },
            clients: Vec::new(),
            refs: Vec::new(),
            names: Vec::new(),
            name_ix: HashMap::new(),
        }
    }

    fn intern(&mut self, s: &Str) -> NameRef {
        let name = match self.name_ix.get(&s.value) {
            Some(n) => *n,
            None => {
                let n = self.names.len() as u32;
                self.names.push(s.value.clone());
                self.name_ix.insert(s.value.clone(), n);
                n
            }
        };
        NameRef { name, at: s.pos.into() }
    }

    fn push(&mut self, item: &Node) {
        let Some(Raw { pos, id, fields }) =
            read_entry(&mut self.doc, item, "clients", "client", CLIENT_KEYS, read_client)
        else {
            return;
        };
        // A client whose fields could not be read keeps its id (for the
        // duplicate check) and names nothing, so nothing else is reported.
        let Some(f) = fields else {
            self.refs.push(ClientRefs {
                entry: pos.into(),
                id: id.pos.into(),
                read: false,
                account: NameRef {
                    name: u32::MAX,
                    at: pos.into(),
                },
                locations: SmallVec::new(),
                last_appointment_at: None,
            });
            self.clients.push(Client {
                id: id.value.into(),
                name: CompactString::default(),
                account: 0,
                locations: LocSet::new(),
                last_appointment: None,
                phone: None,
                sms_opt_in: false,
                email: None,
                email_opt_in: false,
                guest_app: false,
                contact: Contact::default(),
            });
            return;
        };
        let refs = ClientRefs {
            entry: pos.into(),
            id: id.pos.into(),
            read: true,
            account: self.intern(&f.account),
            locations: f.locations.iter().map(|l| self.intern(l)).collect(),
            last_appointment_at: f.last_appointment_at.as_ref().map(|l| self.intern(l)),
        };
        self.refs.push(refs);
        self.clients.push(Client {
            id: id.value.into(),
            name: f.name.into(),
            account: 0,
            locations: LocSet::new(),
            last_appointment: None,
            phone: f.phone.map(Into::into),
            sms_opt_in: f.sms_opt_in,
            email: f.email.map(Into::into),
            email_opt_in: f.email_opt_in,
            guest_app: f.guest_app,
            contact: Contact::default(),
        });
    }

    /// Puts the clients in id order (and their references with them),
    /// reporting repeated ids as [`sorted_unique`] does.
    fn sort(&mut self, doc: &mut Doc) {
        let mut order: Vec<u32> = (0..self.clients.len() as u32).collect();
        let key = |i: &u32| {
            let r = &self.refs[*i as usize];
            (self.clients[*i as usize].id.as_str(), r.entry.line, r.entry.col)
        };
        order.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
        for w in order.windows(2) {
            let (prev, this) = (w[0] as usize, w[1] as usize);
            if self.clients[prev].id == self.clients[this].id {
                let id = &self.clients[this].id;
                doc.error(
                    self.refs[this].id.pos(),
                    Some(&format!("client `{id}`")),
                    format!("duplicate id `{id}`"),
                    Some(format!(
                        "the same id is used at line {}; every client needs its own id",
                        self.refs[prev].id.line
                    )),
                );
            }
        }
        permute(&mut self.clients, &mut self.refs, order);
    }
}

/// Reorders two lists alike, in place: position `i` receives the item that
/// was at `order[i]`.
fn permute<A, B>(a: &mut [A], b: &mut [B], mut order: Vec<u32>) {
    for start in 0..order.len() {
        // Follow the cycle through `start`, marking positions done with their own index.
        let mut i = start;
        while order[i] as usize != start {
            let from = order[i] as usize;
            a.swap(i, from);
            b.swap(i, from);
            order[i] = i as u32;
            i = from;
        }
        order[i] = i as u32;
    }
}

fn read_client(doc: &mut Doc, m: &MarkedMappingNode, e: &Entry) -> Option<RawClient> {
    Some(RawClient {
        name: req_string(doc, m, "name", e)?,
        account: req_str(doc, m, "account", e)?,
        locations: req_strings(doc, m, "locations", e)?,
        last_appointment_at: opt_str(doc, m, "last_appointment_at", e),
        phone: opt_str(doc, m, "phone", e).map(|s| s.value),
        sms_opt_in: opt_bool(doc, m, "sms_opt_in", e),
        email: opt_str(doc, m, "email", e).map(|s| s.value),
        email_opt_in: opt_bool(doc, m, "email_opt_in", e),
        guest_app: opt_bool(doc, m, "guest_app", e),
    })
}

fn read_world(doc: &mut Doc, node: &Node, streamed: Option<ClientEntries>) -> Option<World> {
    let top = doc.mapping(node, "a world", None)?;
    doc.check_keys(top, TOP_KEYS, "a world", None);
    let accounts = read_list(doc, top, "accounts", "account", ACCOUNT_KEYS, true, |doc, m, e| {
        Some(RawAccount {
            name: req_string(doc, m, "name", e)?,
            parent: opt_str(doc, m, "parent", e),
            country: opt_str(doc, m, "country", e),
        })
    });
    let locations = read_list(doc, top, "locations", "location", LOCATION_KEYS, true, |doc, m, e| {
        Some(RawLocation {
            name: req_string(doc, m, "name", e)?,
            account: req_str(doc, m, "account", e)?,
        })
    });
    let staff = read_list(doc, top, "staff", "staff member", STAFF_KEYS, false, |doc, m, e| {
        Some(RawStaff {
            name: req_string(doc, m, "name", e)?,
            locations: req_strings(doc, m, "locations", e)?,
            logged_in_at: opt_str(doc, m, "logged_in_at", e),
            access: yaml::get(m, "communicator_access")
                .and_then(|n| doc.strings(n, "`communicator_access`", Some(e.subject.as_str()))),
        })
    });
    let mut clients = streamed.unwrap_or_else(|| ClientEntries::new(&doc.source));
    if let Some(seq) = list_items(doc, top, "clients", "client", true) {
        for item in seq.iter() {
            clients.push(item);
        }
    }
    doc.diags.0.append(&mut clients.doc.diags.0);

    // Accounts: ids, parents, countries.
    let mut accounts = sorted_unique(doc, accounts, "account");
    let account_ix: HashMap<String, AccountIdx> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.value.clone(), i as AccountIdx))
        .collect();
    let mut parents = Vec::with_capacity(accounts.len());
    for a in &accounts {
        let subj = format!("account `{}`", a.id.value);
        let Some(fields) = &a.fields else {
            parents.push(None);
            continue;
        };
        parents.push(
            fields
                .parent
                .as_ref()
                .and_then(|p| resolve(doc, &account_ix, p, "account", &subj)),
        );
        if let Some(c) = &fields.country {
            if contact::parse_country(&c.value).is_none() {
                doc.error(
                    c.pos,
                    Some(&subj),
                    format!("`{}` is not a country code", c.value),
                    Some("use a two-letter ISO 3166 code such as `US`, `CA` or `GB`".into()),
                );
            }
        }
    }
    // A parent chain must end: refuse cycles (an account that is its own ancestor).
    for (i, a) in accounts.iter().enumerate() {
        let mut seen = vec![i];
        let mut cur = parents[i];
        while let Some(p) = cur {
            if seen.contains(&(p as usize)) {
                doc.error(
                    a.id.pos,
                    Some(&format!("account `{}`", a.id.value)),
                    "the account is its own ancestor through `parent`",
                    Some("a parent chain must end at an account without `parent`".into()),
                );
                break;
            }
            seen.push(p as usize);
            cur = parents[p as usize];
        }
    }

    let locations = sorted_unique(doc, locations, "location");
    let location_ix: HashMap<String, Loc> = locations
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.value.clone(), i as Loc))
        .collect();
    if locations.len() > Loc::MAX as usize {
        doc.error(
            Pos::new(1, 1),
            None,
            format!("a world holds at most {} locations", Loc::MAX),
            None,
        );
    }
    let locs = |doc: &mut Doc, list: &[Str], subj: &str| -> LocSet {
        list.iter()
            .filter_map(|s| resolve(doc, &location_ix, s, "location", subj))
            .collect()
    };

    let staff = sorted_unique(doc, staff, "staff member");
    let mut built_staff = Vec::with_capacity(staff.len());
    for s in &staff {
        let subj = format!("staff member `{}`", s.id.value);
        let Some(f) = &s.fields else {
            // Its problem is reported; its id still counts.
            built_staff.push(Staff {
                id: s.id.value.clone(),
                name: String::new(),
                locations: LocSet::new(),
                logged_in_at: None,
                access: LocSet::new(),
            });
            continue;
        };
        let locations = locs(doc, &f.locations, &subj);
        if f.locations.is_empty() {
            doc.error(
                s.pos,
                Some(&subj),
                "a staff member needs at least one location in `locations`",
                None,
            );
        }
        let logged_in_at = f.logged_in_at.as_ref().and_then(|l| {
            let loc = resolve(doc, &location_ix, l, "location", &subj)?;
            if !locations.contains(loc) {
                let own: Vec<&str> = f.locations.iter().map(Str::as_str).collect();
                doc.error(
                    l.pos,
                    Some(&subj),
                    format!("`logged_in_at: {}` is not one of the staff member's locations", l.value),
                    Some(format!(
                        "a staff member logs in at one of their own locations: {}",
                        one_of(&own)
                    )),
                );
            }
            Some(loc)
        });
        let access = match &f.access {
            Some(list) => locs(doc, list, &subj),
            None => locations.clone(),
        };
        built_staff.push(Staff {
            id: s.id.value.clone(),
            name: f.name.clone(),
            locations,
            logged_in_at,
            access,
        });
    }

    clients.sort(doc);
    let countries: Vec<phonenumber::country::Id> = (0..accounts.len())
        .map(|i| effective_country(&accounts, &parents, i))
        .collect();
    let ClientEntries {
        clients: mut built_clients,
        refs,
        names,
        ..
    } = clients;
    for (c, r) in built_clients.iter_mut().zip(&refs).filter(|(_, r)| r.read) {
        let subj = format!("client `{}`", c.id);
        let name = |n: &NameRef| names[n.name as usize].as_str();
        c.account = resolve_at(doc, &account_ix, name(&r.account), r.account.at.pos(), "account", &subj).unwrap_or(0);
        c.locations = r
            .locations
            .iter()
            .filter_map(|l| resolve_at(doc, &location_ix, name(l), l.at.pos(), "location", &subj))
            .collect();
        if r.locations.is_empty() {
            doc.error(
                r.entry.pos(),
                Some(&subj),
                "a client needs at least one location in `locations`",
                None,
            );
        }
        c.last_appointment = r.last_appointment_at.as_ref().and_then(|l| {
            let loc = resolve_at(doc, &location_ix, name(l), l.at.pos(), "location", &subj)?;
            if !c.locations.contains(loc) {
                let own: Vec<&str> = r.locations.iter().map(name).collect();
                doc.error(
                    l.at.pos(),
                    Some(&subj),
                    format!(
                        "`last_appointment_at: {}` is not one of the client's locations",
                        name(l)
                    ),
                    Some(format!(
                        "use one of {} or add `{}` to `locations`",
                        one_of(&own),
                        name(l)
                    )),
                );
            }
            Some(loc)
        });
    }
    drop(refs);
    drop(names);
    built_clients.shrink_to_fit();

    let built_locations: Vec<Location> = locations
        .iter()
        .map(|l| {
            let subj = format!("location `{}`", l.id.value);
            match &l.fields {
                Some(f) => Location {
                    id: l.id.value.clone(),
                    name: f.name.clone(),
                    account: resolve(doc, &account_ix, &f.account, "account", &subj).unwrap_or(0),
                },
                // Its problem is reported; its id still counts.
                None => Location {
                    id: l.id.value.clone(),
                    name: String::new(),
                    account: 0,
                },
            }
        })
        .collect();

    let mut global = vec![false; accounts.len()];
    for p in parents.iter().flatten() {
        global[*p as usize] = true;
    }
    let built_accounts: Vec<Account> = accounts
        .drain(..)
        .enumerate()
        .map(|(i, a)| Account {
            id: a.id.value,
            name: a.fields.map(|f| f.name).unwrap_or_default(),
            parent: parents[i],
            country: countries[i].as_ref().to_owned(),
            global: global[i],
        })
        .collect();

    if !doc.diags.is_empty() {
        return None;
    }
    let mut world = World {
        staff_ix: built_staff
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i as StaffIdx))
            .collect(),
        client_ix: ClientIndex::new(&built_clients),
        accounts: built_accounts,
        locations: built_locations,
        staff: built_staff,
        clients: built_clients,
        account_ix,
        location_ix,
        access_ix: Vec::new(),
        live_access_ix: Vec::new(),
    };
    world.rebuild_access_index();
    Some(world)
}

impl World {
    /// Validates every client's phone and email (see
    /// [`contact::fill_contacts`]). Called once the file's text and tree are
    /// gone, since the validators' compiled patterns are the other large use
    /// of memory.
    fn validate_contacts(&mut self) {
        let countries: Vec<phonenumber::country::Id> = self
            .accounts
            .iter()
            .map(|a| contact::parse_country(&a.country).unwrap_or(phonenumber::country::Id::US))
            .collect();
        contact::fill_contacts(
            &mut self.clients,
            |c| {
                let country = countries.get(c.account as usize).copied();
                (
                    c.phone.as_deref(),
                    c.email.as_deref(),
                    country.unwrap_or(phonenumber::country::Id::US),
                )
            },
            |c, contact| c.contact = contact,
        );
    }
}

fn effective_country(
    accounts: &[Raw<RawAccount>],
    parents: &[Option<AccountIdx>],
    i: usize,
) -> phonenumber::country::Id {
    let mut cur = Some(i);
    for _ in 0..accounts.len() {
        let Some(a) = cur else { break };
        if let Some(c) = accounts[a]
            .fields
            .as_ref()
            .and_then(|f| f.country.as_ref())
            .and_then(|c| contact::parse_country(&c.value))
        {
            return c;
        }
        cur = parents[a].map(|p| p as usize);
    }
    phonenumber::country::Id::US
}

/// Reads one of the world's lists, entry by entry, so that a problem in one
/// entry does not hide problems in the next.
fn read_list<T>(
    doc: &mut Doc,
    top: &MarkedMappingNode,
    key: &str,
    what: &str,
    keys: &[&str],
    required: bool,
    mut read: impl FnMut(&mut Doc, &MarkedMappingNode, &Entry) -> Option<T>,
) -> Vec<Raw<T>> {
    let Some(seq) = list_items(doc, top, key, what, required) else {
        return Vec::new();
    };
    seq.iter()
        .filter_map(|item| read_entry(doc, item, key, what, keys, &mut read))
        .collect()
}

/// The entries of one of the world's lists; `None` (with a recorded problem
/// when one is required) if there is no list.
fn list_items<'a>(
    doc: &mut Doc,
    top: &'a MarkedMappingNode,
    key: &str,
    what: &str,
    required: bool,
) -> Option<&'a MarkedSequenceNode> {
    let Some(node) = yaml::get(top, key) else {
        if required {
            doc.error(
                Pos::of(top.span()),
                None,
                format!("the world has no `{key}` list"),
                Some(format!("add `{key}:` with one entry per {what}")),
            );
        }
        return None;
    };
    if let Node::Scalar(s) = node {
        if s.as_str().is_empty() {
            return None;
        }
    }
    doc.sequence(node, &format!("`{key}`"), None)
}

/// Reads one entry of the list `key`: its id, its keys, then its fields.
fn read_entry<T>(
    doc: &mut Doc,
    item: &Node,
    key: &str,
    what: &str,
    keys: &[&str],
    mut read: impl FnMut(&mut Doc, &MarkedMappingNode, &Entry) -> Option<T>,
) -> Option<Raw<T>> {
    let m = doc.mapping(item, &format!("each entry of `{key}`"), None)?;
    let pos = Pos::of(m.span());
    // A misspelt `id` (reported below as an unknown key) still names the
    // entry, so what refers to it is not reported too.
    let id = yaml::get(m, "id").or_else(|| yaml::misspelt(m, "id", keys));
    let Some(id) = id.and_then(|n| doc.string(n, "`id`", None)) else {
        doc.error(
            pos,
            None,
            format!("this {what} has no `id`"),
            Some("every entry needs a unique `id`".into()),
        );
        return None;
    };
    let entry = Entry {
        subject: format!("{what} `{}`", id.value),
        keys,
    };
    doc.check_keys(
        m,
        keys,
        &format!("{} {what}", if what.starts_with('a') { "an" } else { "a" }),
        Some(&entry.subject),
    );
    let fields = read(doc, m, &entry);
    Some(Raw { pos, id, fields })
}

/// Sorts entries by id and reports repeated ids. Repeats are kept so their
/// fields are still checked; a world with repeats is never built.
fn sorted_unique<T>(doc: &mut Doc, mut list: Vec<Raw<T>>, what: &str) -> Vec<Raw<T>> {
    list.sort_by(|a, b| a.id.value.cmp(&b.id.value).then(a.pos.cmp(&b.pos)));
    let mut out: Vec<Raw<T>> = Vec::with_capacity(list.len());
    for item in list {
        if let Some(prev) = out.last() {
            if prev.id.value == item.id.value {
                doc.error(
                    item.id.pos,
                    Some(&format!("{what} `{}`", item.id.value)),
                    format!("duplicate id `{}`", item.id.value),
                    Some(format!(
                        "the same id is used at line {}; every {what} needs its own id",
                        prev.id.pos.line
                    )),
                );
            }
        }
        out.push(item);
    }
    out
}

fn resolve<T: Copy>(doc: &mut Doc, ix: &HashMap<String, T>, name: &Str, what: &str, subject: &str) -> Option<T> {
    resolve_at(doc, ix, &name.value, name.pos, what, subject)
}

fn resolve_at<T: Copy>(
    doc: &mut Doc,
    ix: &HashMap<String, T>,
    name: &str,
    pos: Pos,
    what: &str,
    subject: &str,
) -> Option<T> {
    match ix.get(name) {
        Some(v) => Some(*v),
        None => {
            let help = match did_you_mean(name, ix.keys().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    let mut known: Vec<&str> = ix.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    known.truncate(12);
                    format!("known {what}s: {}", one_of(&known))
                }
            };
            doc.error(pos, Some(subject), format!("unknown {what} `{}`", name), Some(help));
            None
        }
    }
}

fn req_str(doc: &mut Doc, m: &MarkedMappingNode, key: &str, e: &Entry) -> Option<Str> {
    match yaml::get(m, key) {
        Some(n) => doc.string(n, &format!("`{key}`"), Some(e.subject.as_str())),
        None => {
            if !e.misspelt(m, key) {
                doc.error(
                    Pos::of(m.span()),
                    Some(e.subject.as_str()),
                    format!("`{key}` is missing"),
                    None,
                );
            }
            None
        }
    }
}

fn req_string(doc: &mut Doc, m: &MarkedMappingNode, key: &str, e: &Entry) -> Option<String> {
    req_str(doc, m, key, e).map(|s| s.value)
}

fn req_strings(doc: &mut Doc, m: &MarkedMappingNode, key: &str, e: &Entry) -> Option<Vec<Str>> {
    match yaml::get(m, key) {
        Some(n) => doc.strings(n, &format!("`{key}`"), Some(e.subject.as_str())),
        None => {
            if !e.misspelt(m, key) {
                doc.error(
                    Pos::of(m.span()),
                    Some(e.subject.as_str()),
                    format!("`{key}` is missing"),
                    Some(format!("list at least one location, e.g. `{key}: [A]`")),
                );
            }
            None
        }
    }
}

fn opt_str(doc: &mut Doc, m: &MarkedMappingNode, key: &str, e: &Entry) -> Option<Str> {
    let n = yaml::get(m, key)?;
    match n {
        Node::Scalar(s) if s.as_str().is_empty() || s.as_str() == "null" || s.as_str() == "~" => None,
        _ => doc.string(n, &format!("`{key}`"), Some(e.subject.as_str())),
    }
}

fn opt_bool(doc: &mut Doc, m: &MarkedMappingNode, key: &str, e: &Entry) -> bool {
    yaml::get(m, key)
        .and_then(|n| doc.boolean(n, &format!("`{key}`"), Some(e.subject.as_str())))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "
accounts:
  - {id: glow-group, name: Glow Group, country: US}
  - {id: glow-downtown, name: Glow Downtown, parent: glow-group}
locations:
  - {id: B, name: Uptown, account: glow-downtown}
  - {id: A, name: Downtown, account: glow-downtown}
staff:
  - {id: sam, name: Sam, locations: [A, B], logged_in_at: B}
clients:
  - id: cleo
    name: Cleo
    account: glow-downtown
    locations: [B, A]
    last_appointment_at: A
    phone: (650) 253-0000
    sms_opt_in: true
";

    #[test]
    fn loads_and_numbers_in_id_order() {
        let w = World::parse(Source::new("w.yaml", GOOD)).unwrap();
        assert_eq!(w.loc_id(0), "A");
        assert_eq!(w.location("B"), Some(1));
        let cleo = &w.clients[0];
        assert_eq!(cleo.locations.as_slice(), &[0, 1]);
        assert_eq!(cleo.contact.phone_e164.as_deref(), Some("+16502530000"));
        assert!(w.accounts[w.account("glow-group").unwrap() as usize].global);
        assert_eq!(w.staff_with_access(0), &[0]);
        assert_eq!(w.staff[0].access.as_slice(), &[0, 1]);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let bad = GOOD
            .replace("logged_in_at: B", "logged_in_at: C")
            .replace("last_appointment_at: A", "last_appointment_at: Q")
            + "  - {id: cleo, name: Twin, account: nope, locations: []}\n";
        let err = World::parse(Source::new("w.yaml", bad)).unwrap_err();
        let messages: Vec<&str> = err.0.iter().map(|d| d.message.as_str()).collect();
        assert!(messages.contains(&"unknown location `C`"), "{err}");
        assert!(messages.contains(&"unknown location `Q`"), "{err}");
        assert!(messages.contains(&"duplicate id `cleo`"), "{err}");
        assert!(messages.contains(&"unknown account `nope`"), "{err}");
    }

    /// Reads the same text the way a world file is read (clients streamed)
    /// and the way an inline world is read (from a tree).
    fn both_ways(text: &str) -> (Result<World, Diagnostics>, Result<World, Diagnostics>) {
        let streamed = World::parse(Source::new("w.yaml", text.to_owned()));
        let tree = Doc::parse(Source::new("w.yaml", text.to_owned())).and_then(|(mut doc, node)| {
            let world = World::from_node(&mut doc, &node);
            doc.finish(())?;
            Ok(world.unwrap())
        });
        (streamed, tree)
    }

    #[test]
    fn streamed_clients_match_the_tree_reading() {
        // Clients first: the streamed entries are resolved once the rest is read.
        let clients_first = format!(
            "clients:{}\naccounts:{}",
            GOOD.split("clients:").nth(1).unwrap().trim_end(),
            GOOD.split("clients:")
                .next()
                .unwrap()
                .split("accounts:")
                .nth(1)
                .unwrap()
        );
        for text in [GOOD.to_owned(), clients_first] {
            let (streamed, tree) = both_ways(&text);
            let (streamed, tree) = (streamed.unwrap(), tree.unwrap());
            assert_eq!(streamed.clients.len(), 1);
            let (a, b) = (&streamed.clients[0], &tree.clients[0]);
            assert_eq!(
                (a.id.as_str(), a.account, a.locations.as_slice()),
                ("cleo", 0, &[0, 1][..])
            );
            assert_eq!(
                (&a.id, a.account, &a.locations, a.last_appointment, &a.contact),
                (&b.id, b.account, &b.locations, b.last_appointment, &b.contact)
            );
        }
    }

    #[test]
    fn streamed_clients_report_the_same_problems_in_the_same_order() {
        let bad = GOOD
            .replace("logged_in_at: B", "logged_in_at: C")
            .replace("last_appointment_at: A", "last_appointment_at: Q")
            + "  - {id: cleo, name: Twin, account: nope, locations: [], colour: red}\n"
            + "  - {id: zed, name: Zed, account: glow-downtown, locations: [Z], sms_opt_in: maybe}\n"
            + "  - {name: No Id}\n"
            + "  - just a string\n";
        let (streamed, tree) = both_ways(&bad);
        let (streamed, tree) = (streamed.unwrap_err().to_string(), tree.unwrap_err().to_string());
        assert_eq!(streamed, tree);
        for expected in [
            "unknown key `colour` in a client",
            "`sms_opt_in` must be `true` or `false`, found `maybe`",
            "this client has no `id`",
            "each entry of `clients` must be a mapping",
            "duplicate id `cleo`",
            "unknown account `nope`",
            "unknown location `Z`",
            "unknown location `Q`",
            "a client needs at least one location",
        ] {
            assert!(streamed.contains(expected), "missing {expected:?} in:\n{streamed}");
        }
    }

    #[test]
    fn one_mistyped_key_in_an_entry_is_one_error_not_eleven() {
        // The entry keeps its id: the staff and clients at `A` are not
        // reported, nor is `account` as missing.
        let text = "
accounts: [{id: g, name: Glow}]
locations:
  - {id: A, name: Downtown, acount: g}
staff:
  - {id: sam, name: Sam, locations: [A], logged_in_at: A}
  - {id: rita, name: Rita, locations: [A]}
clients:
  - {id: cleo, name: Cleo, account: g, locations: [A], last_appointment_at: A}
  - {id: gwen, name: Gwen, account: g, locations: [A]}
  - {id: otto, name: Otto, acount: g, locations: [A]}
  - {id: otto, name: Otto Twin, account: g, locations: [A]}
";
        let (streamed, tree) = both_ways(text);
        for err in [streamed.unwrap_err(), tree.unwrap_err()] {
            let messages: Vec<&str> = err.0.iter().map(|d| d.message.as_str()).collect();
            assert_eq!(
                messages,
                [
                    "unknown key `acount` in a location",
                    "unknown key `acount` in a client",
                    "duplicate id `otto`"
                ],
                "{err}"
            );
        }
    }

    #[test]
    fn streamed_entries_keep_the_parser_checks() {
        let cases = [
            ("  - {id: x, id: y}\n", "the key `id` appears twice"),
            ("  - &a {id: x}\n", "anchors and aliases are not supported"),
            ("  - !tag {id: x}\n", "tags (`!name`) are not supported"),
            ("  - {id: x, [a]: b}\n", "a mapping key must be a single value"),
        ];
        for (entry, expected) in cases {
            let err = World::parse(Source::new("w.yaml", format!("{GOOD}{entry}"))).unwrap_err();
            assert!(err.to_string().contains(expected), "{entry:?}: {err}");
        }
        // A `clients` that is not a list is read from the tree, as before.
        let err = World::parse(Source::new("w.yaml", GOOD.replace("clients:", "clients: 3\nold:"))).unwrap_err();
        assert!(err.to_string().contains("`clients` must be a list"), "{err}");
    }

    #[test]
    fn permute_reorders_both_lists_alike() {
        let mut a = vec!['a', 'b', 'c', 'd', 'e'];
        let mut b = vec![0, 1, 2, 3, 4];
        permute(&mut a, &mut b, vec![3, 0, 4, 1, 2]);
        assert_eq!(a, ['d', 'a', 'e', 'b', 'c']);
        assert_eq!(b, [3, 0, 4, 1, 2]);
    }

    #[test]
    fn a_world_file_read_as_it_is_parsed_matches_the_text_reading() {
        let dir = tempfile::tempdir().unwrap();
        let bad = GOOD.replace("account: glow-downtown\n    locations", "account: nope\n    locations");
        let cases: [(&str, Vec<u8>); 7] = [
            ("good", GOOD.as_bytes().to_vec()),
            ("bad reference", bad.into_bytes()),
            ("bad yaml", format!("{GOOD}  - {{id: x\n").into_bytes()),
            ("not utf-8", [GOOD.as_bytes(), b"  - {id: \xff}\n"].concat()),
            (
                "too deep",
                format!("{GOOD}  - {}{}\n", "[".repeat(100), "]".repeat(100)).into_bytes(),
            ),
            // After the first document: the parser never asks for these lines.
            ("not utf-8 later", [GOOD.as_bytes(), b"---\nx: \xff\n"].concat()),
            (
                "too deep later",
                format!("{GOOD}...\nx: {}{}\n", "[".repeat(100), "]".repeat(100)).into_bytes(),
            ),
        ];
        for (name, bytes) in cases {
            let path = dir.path().join("w.yaml");
            std::fs::write(&path, &bytes).unwrap();
            let loaded = World::load(&path);
            let parsed = Source::read(&path).and_then(World::parse);
            match (loaded, parsed) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(name, "good");
                    let ids = |w: &World| {
                        w.clients
                            .iter()
                            .map(|c| (c.id.clone(), c.contact.clone()))
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(ids(&a), ids(&b));
                }
                (Err(a), Err(b)) => {
                    assert_ne!(name, "good");
                    // The same messages, with the line excerpts the text reading shows.
                    assert_eq!(a.to_string(), b.to_string(), "{name}");
                    assert!(a.0.iter().all(|d| d.snippet.is_some()), "{name}: {a}");
                }
                (a, b) => panic!("{name}: load {:?} but parse {:?}", a.is_ok(), b.is_ok()),
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_world_read_from_a_pipe_is_read_once() {
        // A problem makes a regular file be read a second time; a pipe is
        // opened once and read once. Opening it again waited forever for a
        // writer that had already gone (this test hung in CI): each try now
        // has a deadline, and many tries make the race show.
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let fifo = dir.path().join("world.fifo");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
            assert!(made.success());
            let bad = GOOD.replace("account: glow-downtown\n    locations", "account: nope\n    locations");
            let writer = {
                let fifo = fifo.clone();
                std::thread::spawn(move || std::fs::write(fifo, bad).unwrap())
            };
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || drop(tx.send(World::load(&fifo).map(drop).map_err(|e| e.to_string()))));
            let err = rx
                .recv_timeout(std::time::Duration::from_secs(30))
                .expect("reading a world from a pipe hangs")
                .unwrap_err();
            writer.join().unwrap();
            assert!(err.contains("unknown account `nope`"), "{err}");
            assert!(!err.contains("no `accounts` list"), "{err}");
        }
    }
}
