//! Reading the entries of a world's sections (accounts, locations, staff,
//! clients) from YAML: each entry's id, its keys and its fields, with a
//! problem reported where it is written. Nothing here resolves a reference.

use marked_yaml::types::{MarkedMappingNode, MarkedSequenceNode};
use marked_yaml::Node;

use crate::diag::Pos;
use crate::world::clients::ClientEntries;
use crate::world::resolve::{Raw, RawAccount, RawClient, RawLocation, RawStaff};
use crate::yaml::{self, Doc, Str};

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

/// The entries of `accounts:`.
pub(super) fn read_accounts(doc: &mut Doc, top: &MarkedMappingNode) -> Vec<Raw<RawAccount>> {
    read_list(doc, top, "accounts", "account", ACCOUNT_KEYS, true, |doc, m, e| {
        Some(RawAccount {
            name: req_string(doc, m, "name", e)?,
            parent: opt_str(doc, m, "parent", e),
            country: opt_str(doc, m, "country", e),
        })
    })
}

/// The entries of `locations:`.
pub(super) fn read_locations(doc: &mut Doc, top: &MarkedMappingNode) -> Vec<Raw<RawLocation>> {
    read_list(doc, top, "locations", "location", LOCATION_KEYS, true, |doc, m, e| {
        Some(RawLocation {
            name: req_string(doc, m, "name", e)?,
            account: req_str(doc, m, "account", e)?,
        })
    })
}

/// The entries of `staff:` (which may be left out).
pub(super) fn read_staff(doc: &mut Doc, top: &MarkedMappingNode) -> Vec<Raw<RawStaff>> {
    read_list(doc, top, "staff", "staff member", STAFF_KEYS, false, |doc, m, e| {
        Some(RawStaff {
            name: req_string(doc, m, "name", e)?,
            locations: req_strings(doc, m, "locations", e)?,
            logged_in_at: opt_str(doc, m, "logged_in_at", e),
            access: yaml::get(m, "communicator_access")
                .and_then(|n| doc.strings(n, "`communicator_access`", Some(e.subject.as_str()))),
        })
    })
}

/// Reads one entry of `clients:` into `clients`, its problems recorded in
/// their own document (they may be streamed before the rest is read).
pub(super) fn read_client_entry(clients: &mut ClientEntries, item: &Node) {
    if let Some(raw) = read_entry(&mut clients.doc, item, "clients", "client", CLIENT_KEYS, read_client) {
        clients.add(raw);
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
pub(super) fn list_items<'a>(
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
