//! The business's own data: accounts, locations, staff and clients.
//!
//! A world file is loaded and validated once: every reference is resolved to a
//! number, every id is checked for duplicates, phone numbers and emails are
//! validated for the account's country, and indexes used by routing (who has
//! access to each location) are built. Decisions then only read numbers.
//! Locations, staff and clients are numbered in id order, so sorting by number
//! sorts by id.

use std::collections::HashMap;
use std::path::Path;

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Node;

use crate::contact::{self, Contact};
use crate::diag::{did_you_mean, one_of, Diagnostics, Pos, Source};
use crate::locset::{Loc, LocSet};
use crate::yaml::{self, Doc, Str};

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
    pub id: String,
    pub name: String,
    pub account: AccountIdx,
    pub locations: LocSet,
    pub last_appointment: Option<Loc>,
    pub phone: Option<String>,
    pub sms_opt_in: bool,
    pub email: Option<String>,
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
    client_ix: HashMap<String, ClientIdx>,
    /// For each location, the staff whose communicator access includes it.
    access_ix: Vec<Vec<StaffIdx>>,
    /// The same, only those logged in.
    live_access_ix: Vec<Vec<StaffIdx>>,
}

impl World {
    pub fn load(path: &Path) -> Result<World, Diagnostics> {
        World::parse(Source::read(path)?)
    }

    pub fn parse(source: Source) -> Result<World, Diagnostics> {
        let (mut doc, node) = Doc::parse(source)?;
        let world = read_world(&mut doc, &node);
        doc.finish(())?;
        Ok(world.expect("a world is built whenever no problem was recorded"))
    }

    /// Reads a world from a node inside another document (a scenario's inline world).
    pub fn from_node(doc: &mut Doc, node: &Node) -> Option<World> {
        let before = doc.diags.len();
        let world = read_world(doc, node);
        if doc.diags.len() > before {
            None
        } else {
            world
        }
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
        self.client_ix.get(id).copied()
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
            c.phone = v.clone();
        }
        if let Some(v) = &u.email {
            c.email = v.clone();
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

struct Raw<T> {
    pos: Pos,
    id: Str,
    fields: T,
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

fn read_world(doc: &mut Doc, node: &Node) -> Option<World> {
    let top = doc.mapping(node, "a world", None)?;
    doc.check_keys(top, TOP_KEYS, "a world", None);
    let accounts = read_list(doc, top, "accounts", "account", ACCOUNT_KEYS, true, |doc, m, subj| {
        Some(RawAccount {
            name: req_string(doc, m, "name", subj)?,
            parent: opt_str(doc, m, "parent", subj),
            country: opt_str(doc, m, "country", subj),
        })
    });
    let locations = read_list(
        doc,
        top,
        "locations",
        "location",
        LOCATION_KEYS,
        true,
        |doc, m, subj| {
            Some(RawLocation {
                name: req_string(doc, m, "name", subj)?,
                account: req_str(doc, m, "account", subj)?,
            })
        },
    );
    let staff = read_list(doc, top, "staff", "staff member", STAFF_KEYS, false, |doc, m, subj| {
        Some(RawStaff {
            name: req_string(doc, m, "name", subj)?,
            locations: req_strings(doc, m, "locations", subj)?,
            logged_in_at: opt_str(doc, m, "logged_in_at", subj),
            access: yaml::get(m, "communicator_access")
                .and_then(|n| doc.strings(n, "`communicator_access`", Some(subj))),
        })
    });
    let clients = read_list(doc, top, "clients", "client", CLIENT_KEYS, true, |doc, m, subj| {
        Some(RawClient {
            name: req_string(doc, m, "name", subj)?,
            account: req_str(doc, m, "account", subj)?,
            locations: req_strings(doc, m, "locations", subj)?,
            last_appointment_at: opt_str(doc, m, "last_appointment_at", subj),
            phone: opt_str(doc, m, "phone", subj).map(|s| s.value),
            sms_opt_in: opt_bool(doc, m, "sms_opt_in", subj),
            email: opt_str(doc, m, "email", subj).map(|s| s.value),
            email_opt_in: opt_bool(doc, m, "email_opt_in", subj),
            guest_app: opt_bool(doc, m, "guest_app", subj),
        })
    });

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
        parents.push(
            a.fields
                .parent
                .as_ref()
                .and_then(|p| resolve(doc, &account_ix, p, "account", &subj)),
        );
        if let Some(c) = &a.fields.country {
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
        let f = &s.fields;
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

    let clients = sorted_unique(doc, clients, "client");
    let mut built_clients = Vec::with_capacity(clients.len());
    let countries: Vec<phonenumber::country::Id> = (0..accounts.len())
        .map(|i| effective_country(&accounts, &parents, i))
        .collect();
    for c in &clients {
        let subj = format!("client `{}`", c.id.value);
        let f = &c.fields;
        let account = resolve(doc, &account_ix, &f.account, "account", &subj);
        let locations = locs(doc, &f.locations, &subj);
        if f.locations.is_empty() {
            doc.error(
                c.pos,
                Some(&subj),
                "a client needs at least one location in `locations`",
                None,
            );
        }
        let last_appointment = f.last_appointment_at.as_ref().and_then(|l| {
            let loc = resolve(doc, &location_ix, l, "location", &subj)?;
            if !locations.contains(loc) {
                let own: Vec<&str> = f.locations.iter().map(Str::as_str).collect();
                doc.error(
                    l.pos,
                    Some(&subj),
                    format!(
                        "`last_appointment_at: {}` is not one of the client's locations",
                        l.value
                    ),
                    Some(format!(
                        "use one of {} or add `{}` to `locations`",
                        one_of(&own),
                        l.value
                    )),
                );
            }
            Some(loc)
        });
        built_clients.push(Client {
            id: c.id.value.clone(),
            name: f.name.clone(),
            account: account.unwrap_or(0),
            locations,
            last_appointment,
            phone: f.phone.clone(),
            sms_opt_in: f.sms_opt_in,
            email: f.email.clone(),
            email_opt_in: f.email_opt_in,
            guest_app: f.guest_app,
            contact: Contact::default(),
        });
    }

    // Phones and emails are validated together, on every core for large worlds.
    let raw_contacts: Vec<(Option<&str>, Option<&str>, phonenumber::country::Id)> = clients
        .iter()
        .zip(&built_clients)
        .map(|(c, b)| {
            (
                c.fields.phone.as_deref(),
                c.fields.email.as_deref(),
                countries
                    .get(b.account as usize)
                    .copied()
                    .unwrap_or(phonenumber::country::Id::US),
            )
        })
        .collect();
    for (b, contact) in built_clients.iter_mut().zip(contact::contacts(&raw_contacts)) {
        b.contact = contact;
    }

    let built_locations: Vec<Location> = locations
        .iter()
        .map(|l| {
            let subj = format!("location `{}`", l.id.value);
            Location {
                id: l.id.value.clone(),
                name: l.fields.name.clone(),
                account: resolve(doc, &account_ix, &l.fields.account, "account", &subj).unwrap_or(0),
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
            name: a.fields.name,
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
        client_ix: built_clients
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i as ClientIdx))
            .collect(),
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
            .country
            .as_ref()
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
    mut read: impl FnMut(&mut Doc, &MarkedMappingNode, &str) -> Option<T>,
) -> Vec<Raw<T>> {
    let Some(node) = yaml::get(top, key) else {
        if required {
            doc.error(
                Pos::of(top.span()),
                None,
                format!("the world has no `{key}` list"),
                Some(format!("add `{key}:` with one entry per {what}")),
            );
        }
        return Vec::new();
    };
    if let Node::Scalar(s) = node {
        if s.as_str().is_empty() {
            return Vec::new();
        }
    }
    let Some(seq) = doc.sequence(node, &format!("`{key}`"), None) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(seq.len());
    for item in seq.iter() {
        let Some(m) = doc.mapping(item, &format!("each entry of `{key}`"), None) else {
            continue;
        };
        let pos = Pos::of(m.span());
        let Some(id) = yaml::get(m, "id").and_then(|n| doc.string(n, "`id`", None)) else {
            doc.error(
                pos,
                None,
                format!("this {what} has no `id`"),
                Some("every entry needs a unique `id`".into()),
            );
            continue;
        };
        let subject = format!("{what} `{}`", id.value);
        doc.check_keys(
            m,
            keys,
            &format!("{} {what}", if what.starts_with('a') { "an" } else { "a" }),
            Some(&subject),
        );
        if let Some(fields) = read(doc, m, &subject) {
            out.push(Raw { pos, id, fields });
        }
    }
    out
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
    match ix.get(&name.value) {
        Some(v) => Some(*v),
        None => {
            let help = match did_you_mean(&name.value, ix.keys().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    let mut known: Vec<&str> = ix.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    known.truncate(12);
                    format!("known {what}s: {}", one_of(&known))
                }
            };
            doc.error(
                name.pos,
                Some(subject),
                format!("unknown {what} `{}`", name.value),
                Some(help),
            );
            None
        }
    }
}

fn req_str(doc: &mut Doc, m: &MarkedMappingNode, key: &str, subj: &str) -> Option<Str> {
    match yaml::get(m, key) {
        Some(n) => doc.string(n, &format!("`{key}`"), Some(subj)),
        None => {
            doc.error(Pos::of(m.span()), Some(subj), format!("`{key}` is missing"), None);
            None
        }
    }
}

fn req_string(doc: &mut Doc, m: &MarkedMappingNode, key: &str, subj: &str) -> Option<String> {
    req_str(doc, m, key, subj).map(|s| s.value)
}

fn req_strings(doc: &mut Doc, m: &MarkedMappingNode, key: &str, subj: &str) -> Option<Vec<Str>> {
    match yaml::get(m, key) {
        Some(n) => doc.strings(n, &format!("`{key}`"), Some(subj)),
        None => {
            doc.error(
                Pos::of(m.span()),
                Some(subj),
                format!("`{key}` is missing"),
                Some(format!("list at least one location, e.g. `{key}: [A]`")),
            );
            None
        }
    }
}

fn opt_str(doc: &mut Doc, m: &MarkedMappingNode, key: &str, subj: &str) -> Option<Str> {
    let n = yaml::get(m, key)?;
    match n {
        Node::Scalar(s) if s.as_str().is_empty() || s.as_str() == "null" || s.as_str() == "~" => None,
        _ => doc.string(n, &format!("`{key}`"), Some(subj)),
    }
}

fn opt_bool(doc: &mut Doc, m: &MarkedMappingNode, key: &str, subj: &str) -> bool {
    yaml::get(m, key)
        .and_then(|n| doc.boolean(n, &format!("`{key}`"), Some(subj)))
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
}
