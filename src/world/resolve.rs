//! The step every world goes through once its entries are read, whether
//! from a file or from a [`WorldBuilder`](super::WorldBuilder): repeated ids
//! are reported, every reference is resolved to a number, and the indexes
//! used by routing are built.
//!
//! Reading YAML is not done here (see `load/`), and neither is checking
//! phone numbers and emails (see [`World::validate_contacts`]), which runs
//! once the file's text is gone.

use std::collections::HashMap;

use crate::diag::{did_you_mean, one_of, Pos};
use crate::world::clients::ClientEntries;
use crate::world::contact;
use crate::world::locset::{Loc, LocSet};
use crate::world::{Account, AccountIdx, ClientIndex, Location, Staff, StaffIdx, World};
use crate::yaml::{Doc, Str};

/// One entry of a list as written. An entry whose fields could not be read
/// (`fields` is `None`, and the problem is recorded) still defines its id,
/// so the locations, accounts and duplicates that name it are checked as if
/// it were whole: one mistake in an entry is one error.
pub(crate) struct Raw<T> {
    pub(crate) pos: Pos,
    pub(crate) id: Str,
    pub(crate) fields: Option<T>,
}

pub(crate) struct RawAccount {
    pub(crate) name: String,
    pub(crate) parent: Option<Str>,
    pub(crate) country: Option<Str>,
}

pub(crate) struct RawLocation {
    pub(crate) name: String,
    pub(crate) account: Str,
}

pub(crate) struct RawStaff {
    pub(crate) name: String,
    pub(crate) locations: Vec<Str>,
    pub(crate) logged_in_at: Option<Str>,
    pub(crate) access: Option<Vec<Str>>,
}

pub(crate) struct RawClient {
    pub(crate) name: String,
    pub(crate) account: Str,
    pub(crate) locations: Vec<Str>,
    pub(crate) last_appointment_at: Option<Str>,
    pub(crate) phone: Option<String>,
    pub(crate) sms_opt_in: bool,
    pub(crate) email: Option<String>,
    pub(crate) email_opt_in: bool,
    pub(crate) guest_app: bool,
}

/// Every entry of a world, read but not yet resolved.
pub(crate) struct Sections {
    pub(crate) accounts: Vec<Raw<RawAccount>>,
    pub(crate) locations: Vec<Raw<RawLocation>>,
    pub(crate) staff: Vec<Raw<RawStaff>>,
    pub(crate) clients: ClientEntries,
}

/// Resolves and indexes the entries. Problems are recorded in `doc`, in a
/// fixed order (accounts, locations, staff, clients, then the accounts of
/// locations); the world is built only when `doc` holds no problem at all.
pub(crate) fn resolve_world(doc: &mut Doc, sections: Sections) -> Option<World> {
    let Sections {
        accounts,
        locations,
        staff,
        mut clients,
    } = sections;
    let Accounts {
        accounts,
        index: account_ix,
        parents,
    } = resolve_accounts(doc, accounts);
    let (locations, location_ix) = index_locations(doc, locations);
    let staff = resolve_staff(doc, staff, &location_ix);
    clients.sort(doc);
    let countries: Vec<phonenumber::country::Id> = (0..accounts.len())
        .map(|i| effective_country(&accounts, &parents, i))
        .collect();
    let clients = clients.resolve(doc, &account_ix, &location_ix);
    let locations = build_locations(doc, &locations, &account_ix);
    let accounts = build_accounts(accounts, &parents, &countries);
    if !doc.diags.is_empty() {
        return None;
    }
    let mut world = World {
        staff_ix: staff
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i as StaffIdx))
            .collect(),
        client_ix: ClientIndex::new(&clients),
        accounts,
        locations,
        staff,
        clients,
        account_ix,
        location_ix,
        access_ix: Vec::new(),
        live_access_ix: Vec::new(),
        script_loc_ids: std::sync::OnceLock::new(),
    };
    world.rebuild_access_index();
    Some(world)
}

/// The accounts in id order, their index by id, and each one's parent.
struct Accounts {
    accounts: Vec<Raw<RawAccount>>,
    index: HashMap<String, AccountIdx>,
    parents: Vec<Option<AccountIdx>>,
}

/// The accounts with their parents resolved: repeated ids, unknown
/// parents, bad country codes and parent cycles are reported.
fn resolve_accounts(doc: &mut Doc, accounts: Vec<Raw<RawAccount>>) -> Accounts {
    let accounts = sorted_unique(doc, accounts, "account");
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
    refuse_parent_cycles(doc, &accounts, &parents);
    Accounts {
        accounts,
        index: account_ix,
        parents,
    }
}

/// A parent chain must end: refuses cycles (an account that is its own ancestor).
fn refuse_parent_cycles(doc: &mut Doc, accounts: &[Raw<RawAccount>], parents: &[Option<AccountIdx>]) {
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
}

/// Locations in id order and their index; repeated ids and too many
/// locations are reported.
fn index_locations(doc: &mut Doc, locations: Vec<Raw<RawLocation>>) -> (Vec<Raw<RawLocation>>, HashMap<String, Loc>) {
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
    (locations, location_ix)
}

/// The staff in id order, their locations, login and access resolved.
pub(crate) fn resolve_staff(
    doc: &mut Doc,
    staff: Vec<Raw<RawStaff>>,
    location_ix: &HashMap<String, Loc>,
) -> Vec<Staff> {
    let locs = |doc: &mut Doc, list: &[Str], subj: &str| -> LocSet {
        list.iter()
            .filter_map(|s| resolve(doc, location_ix, s, "location", subj))
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
            let loc = resolve(doc, location_ix, l, "location", &subj)?;
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
    built_staff
}

/// The locations with their accounts resolved.
fn build_locations(
    doc: &mut Doc,
    locations: &[Raw<RawLocation>],
    account_ix: &HashMap<String, AccountIdx>,
) -> Vec<Location> {
    locations
        .iter()
        .map(|l| {
            let subj = format!("location `{}`", l.id.value);
            match &l.fields {
                Some(f) => Location {
                    id: l.id.value.clone(),
                    name: f.name.clone(),
                    account: resolve(doc, account_ix, &f.account, "account", &subj).unwrap_or(0),
                },
                // Its problem is reported; its id still counts.
                None => Location {
                    id: l.id.value.clone(),
                    name: String::new(),
                    account: 0,
                },
            }
        })
        .collect()
}

/// The accounts, each with its parent, its country and whether it is a parent.
fn build_accounts(
    mut accounts: Vec<Raw<RawAccount>>,
    parents: &[Option<AccountIdx>],
    countries: &[phonenumber::country::Id],
) -> Vec<Account> {
    let mut global = vec![false; accounts.len()];
    for p in parents.iter().flatten() {
        global[*p as usize] = true;
    }
    accounts
        .drain(..)
        .enumerate()
        .map(|(i, a)| Account {
            id: a.id.value,
            name: a.fields.map(|f| f.name).unwrap_or_default(),
            parent: parents[i],
            country: countries[i].as_ref().to_owned(),
            global: global[i],
        })
        .collect()
}

/// The account's own country, else its nearest ancestor's, else `US`.
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

/// The number of the `what` called `name`, or a recorded "unknown" problem
/// that suggests the closest id.
pub(crate) fn resolve_at<T: Copy>(
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
