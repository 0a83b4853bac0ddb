//! The business's own data: accounts, locations, staff and clients.
//!
//! A world is loaded and validated once: every reference is resolved to a
//! number, every id is checked for duplicates, phone numbers and emails are
//! validated for the account's country, and indexes used by routing (who has
//! access to each location) are built. Decisions then only read numbers.
//! Locations, staff and clients are numbered in id order, so sorting by number
//! sorts by id.
//!
//! This file holds the [`World`] type, its queries and the changes a replay
//! makes to it. Reading YAML is in `load/`, building a world in memory in
//! `builder.rs`; both end in the same resolution step, `resolve.rs`. Inline
//! facts (a world fragment sent with one event) are in `facts.rs`.

mod builder;
mod clients;
pub mod contact;
mod facts;
mod load;
pub mod locset;
mod resolve;

pub use builder::{NewAccount, NewClient, NewLocation, NewStaff, WorldBuilder};
pub use facts::{Facts, FactsError, FactsProblem};

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use compact_str::CompactString;

use crate::world::locset::{Loc, LocSet};
use contact::Contact;

/// The number of an account in its world (accounts are numbered in id order).
pub type AccountIdx = u32;
/// The number of a staff member in their world (numbered in id order).
pub type StaffIdx = u32;
/// The number of a client in their world (numbered in id order).
pub type ClientIdx = u32;

/// An account: a business, or a group of them.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its unique id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its parent account, if it has one.
    pub parent: Option<AccountIdx>,
    /// ISO country used to read phone numbers (own, inherited, or `US`).
    pub country: String,
    /// Whether other accounts name this one as their parent.
    pub global: bool,
}

/// A location of an account, with its own inbox.
#[derive(Debug, Clone)]
pub struct Location {
    /// Its unique id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The account it belongs to.
    pub account: AccountIdx,
}

/// A staff member.
#[derive(Debug, Clone)]
pub struct Staff {
    /// Their unique id.
    pub id: String,
    /// Their display name.
    pub name: String,
    /// The locations they work at.
    pub locations: LocSet,
    /// Where they are logged in, if they are.
    pub logged_in_at: Option<Loc>,
    /// Locations whose conversations they may read ("access control").
    pub access: LocSet,
}

/// A client of an account.
#[derive(Debug, Clone)]
pub struct Client {
    /// Their unique id. Short strings ([`CompactString`]) are kept inside
    /// the client itself: a world of a hundred thousand clients makes no
    /// allocation for them.
    pub id: CompactString,
    /// Their display name.
    pub name: CompactString,
    /// Their account.
    pub account: AccountIdx,
    /// The locations they are a client of.
    pub locations: LocSet,
    /// Where their last appointment was, if they had one.
    pub last_appointment: Option<Loc>,
    /// Their phone number as written.
    pub phone: Option<CompactString>,
    /// Whether they accept text messages.
    pub sms_opt_in: bool,
    /// Their email address as written.
    pub email: Option<CompactString>,
    /// Whether they accept emails.
    pub email_opt_in: bool,
    /// Whether they use the guest app.
    pub guest_app: bool,
    /// Whether their phone and email are valid: computed on first use (see
    /// [`World::contact`]), since validating phone numbers is most of what
    /// loading a small world would otherwise cost, and inbound decisions
    /// never ask.
    pub(crate) contact: OnceLock<Contact>,
}

/// A change to a client's contact facts; `None` leaves a field as it is,
/// `Some(None)` clears a phone or email.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactUpdate {
    /// Whether they use the guest app.
    pub guest_app: Option<bool>,
    /// Their phone number.
    pub phone: Option<Option<String>>,
    /// Whether they accept text messages.
    pub sms_opt_in: Option<bool>,
    /// Their email address.
    pub email: Option<Option<String>>,
    /// Whether they accept emails.
    pub email_opt_in: Option<bool>,
}

/// A loaded, validated world.
#[derive(Debug, Clone)]
pub struct World {
    /// The accounts, in id order.
    pub accounts: Vec<Account>,
    /// The locations, in id order.
    pub locations: Vec<Location>,
    /// The staff, in id order.
    pub staff: Vec<Staff>,
    /// The clients, in id order.
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
    /// The location ids as Rhai strings, made the first time a script reads
    /// a location: a script then shares them instead of copying each id.
    script_loc_ids: std::sync::OnceLock<Vec<rhai::ImmutableString>>,
}

impl World {
    /// The number of the account `id`.
    pub fn account(&self, id: &str) -> Option<AccountIdx> {
        self.account_ix.get(id).copied()
    }
    /// The number of the location `id`.
    pub fn location(&self, id: &str) -> Option<Loc> {
        self.location_ix.get(id).copied()
    }
    /// The number of the staff member `id`.
    pub fn staff_member(&self, id: &str) -> Option<StaffIdx> {
        self.staff_ix.get(id).copied()
    }
    /// The number of the client `id`.
    pub fn client(&self, id: &str) -> Option<ClientIdx> {
        self.client_ix.get(&self.clients, id)
    }

    /// The id of location number `loc`.
    pub fn loc_id(&self, loc: Loc) -> &str {
        &self.locations[loc as usize].id
    }

    /// The id of location number `loc` as a Rhai string, shared rather than
    /// copied.
    pub(crate) fn script_loc_id(&self, loc: Loc) -> rhai::ImmutableString {
        let ids = self
            .script_loc_ids
            .get_or_init(|| self.locations.iter().map(|l| l.id.as_str().into()).collect());
        ids[loc as usize].clone()
    }

    /// The ids of a set of locations, in id order.
    pub fn loc_ids(&self, set: &LocSet) -> Vec<String> {
        set.iter().map(|l| self.loc_id(l).to_owned()).collect()
    }

    /// The staff whose communicator access includes `loc`, in id order.
    pub fn staff_with_access(&self, loc: Loc) -> &[StaffIdx] {
        &self.access_ix[loc as usize]
    }

    /// The staff whose communicator access includes `loc` and who are logged
    /// in, in id order.
    pub(crate) fn live_staff_with_access(&self, loc: Loc) -> &[StaffIdx] {
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
    pub(crate) fn set_access(&mut self, staff: StaffIdx, access: LocSet) {
        self.staff[staff as usize].access = access;
        self.rebuild_access_index();
    }

    /// Updates the client's last appointment location.
    pub(crate) fn set_last_appointment(&mut self, client: ClientIdx, at: Option<Loc>) {
        let c = &mut self.clients[client as usize];
        if let Some(l) = at {
            c.locations.insert(l);
        }
        c.last_appointment = at;
    }

    /// Whether the client's phone and email are valid. Computed on the first
    /// ask and kept; [`World::validate_contacts`] computes every client's at
    /// once, which is faster when most will be asked.
    pub fn contact(&self, client: ClientIdx) -> &Contact {
        self.contact_of(&self.clients[client as usize])
    }

    /// [`World::contact`] for a client of this world given by reference.
    pub(crate) fn contact_of<'w>(&'w self, c: &'w Client) -> &'w Contact {
        c.contact
            .get_or_init(|| contact::contact(c.phone.as_deref(), c.email.as_deref(), self.country_of(c.account)))
    }

    /// The country an account's phone numbers are read for.
    fn country_of(&self, account: AccountIdx) -> phonenumber::country::Id {
        self.accounts
            .get(account as usize)
            .and_then(|a| contact::parse_country(&a.country))
            .unwrap_or(phonenumber::country::Id::US)
    }

    /// Changes a client's contact facts (guest app, phone, email, opt-ins);
    /// fields left `None` keep their value. Phone and email validity are
    /// computed again.
    pub(crate) fn update_contact(&mut self, client: ClientIdx, u: &ContactUpdate) {
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
            // Computed again when next asked.
            c.contact = OnceLock::new();
        }
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

impl World {
    /// Computes the contact facts of every client not asked yet (see
    /// [`contact::fill_contacts`]): what the commands that decide for many
    /// clients (a batch, a replay, the service) call once a world is loaded,
    /// instead of validating each client's phone on its first ask.
    pub fn validate_contacts(&self) {
        let countries: Vec<phonenumber::country::Id> = (0..self.accounts.len())
            .map(|a| self.country_of(a as AccountIdx))
            .collect();
        contact::fill_contacts(
            &self.clients,
            |c| {
                let country = countries.get(c.account as usize).copied();
                (
                    c.phone.as_deref(),
                    c.email.as_deref(),
                    country.unwrap_or(phonenumber::country::Id::US),
                )
            },
            |c, contact| {
                let _ = c.contact.set(contact);
            },
            |c| c.contact.get().is_none(),
        );
    }
}
