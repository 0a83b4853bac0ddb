//! A world's clients between reading and resolution: one small record per
//! client, the accounts and locations it names interned, so that a world of
//! a hundred thousand clients holds no tree and no copy of their strings.
//!
//! Reading a client's YAML entry is in `load/`; the other sections are
//! resolved in `resolve.rs`.

use std::collections::HashMap;

use compact_str::CompactString;
use smallvec::SmallVec;

use crate::diag::{one_of, Diagnostics, Pos, Source};
use crate::world::locset::{Loc, LocSet};
use crate::world::resolve::{resolve_at, Raw, RawClient};
use crate::world::{AccountIdx, Client};
use crate::yaml::{Doc, Str};

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
/// apart in `doc` until then, and reported in file order with the others).
/// Each entry becomes its [`Client`] at once, with the accounts and
/// locations it names interned and resolved later, so a large world holds
/// one small record per client and no copy of its strings.
pub(crate) struct ClientEntries {
    pub(crate) doc: Doc,
    clients: Vec<Client>,
    refs: Vec<ClientRefs>,
    names: Vec<String>,
    name_ix: HashMap<String, u32>,
}

impl ClientEntries {
    pub(crate) fn new(source: &Source) -> Self {
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

    /// Adds one client entry.
    pub(crate) fn add(&mut self, Raw { pos, id, fields }: Raw<RawClient>) {
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
                contact: Default::default(),
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
            contact: Default::default(),
        });
    }

    /// Puts the clients in id order (and their references with them),
    /// reporting repeated ids as the other sections do.
    pub(crate) fn sort(&mut self, doc: &mut Doc) {
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

    /// The clients (sorted first with [`ClientEntries::sort`]) with their
    /// account, locations and last appointment resolved.
    pub(crate) fn resolve(
        self,
        doc: &mut Doc,
        account_ix: &HashMap<String, AccountIdx>,
        location_ix: &HashMap<String, Loc>,
    ) -> Vec<Client> {
        let ClientEntries {
            clients: mut built_clients,
            refs,
            names,
            ..
        } = self;
        for (c, r) in built_clients.iter_mut().zip(&refs).filter(|(_, r)| r.read) {
            let subj = format!("client `{}`", c.id);
            let name = |n: &NameRef| names[n.name as usize].as_str();
            c.account =
                resolve_at(doc, account_ix, name(&r.account), r.account.at.pos(), "account", &subj).unwrap_or(0);
            c.locations = r
                .locations
                .iter()
                .filter_map(|l| resolve_at(doc, location_ix, name(l), l.at.pos(), "location", &subj))
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
                let loc = resolve_at(doc, location_ix, name(l), l.at.pos(), "location", &subj)?;
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
        built_clients
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_reorders_both_lists_alike() {
        let mut a = vec!['a', 'b', 'c', 'd', 'e'];
        let mut b = vec![0, 1, 2, 3, 4];
        permute(&mut a, &mut b, vec![3, 0, 4, 1, 2]);
        assert_eq!(a, ['d', 'a', 'e', 'b', 'c']);
        assert_eq!(b, [3, 0, 4, 1, 2]);
    }
}
