//! Differential property tests: the engine running the shipped rules against
//! an independent model of the behaviour contract (`shared/spec/behaviour.md`).
//!
//! The model below is plain Rust written from the contract's tables: the nine
//! inbound rules, the delivery gates and grants, the outbound channel table and
//! the child-account name on pushes to global clients. It shares no code with
//! the engine and reads no rules file. Random worlds (1–6 locations, 0–8 staff,
//! 1–8 clients, random accounts, logins, access, last appointments, phones and
//! emails as raw strings) are written out as YAML and loaded with
//! `World::parse`, so the world loader is under test too; random events go
//! through `InboundRequest::resolve` / `OutboundRequest::resolve` like every
//! other entry point. Every case must agree exactly: landing locations, live
//! recipients, deciding rule, channel, ghost text, final text, and which field
//! an unresolvable event is refused for.
//!
//! Phone and email validity are not re-implemented: the contract delegates
//! them to libphonenumber and RFC 5322, so the model draws contacts from a
//! small hand-labelled table (`PHONES`, `EMAILS`): each raw string with its
//! validity for a US and a GB account, the way the contract's validators read
//! it. The engine's validators must agree with every label.
//!
//! Each case is one world with one to six events. `cargo test` runs two
//! properties (inbound, outbound) of 50,000 cases each; `PROPTEST_CASES=N`
//! runs N cases per property (see "Property tests" in the README for a longer
//! campaign).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

use commroute::rules::facts::Channel;
use commroute::{InboundRequest, OutboundRequest, RuleSet, Source, World};
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::support::proptest as props;

// ---------------------------------------------------------------------------
// The random world

/// Id pools: mixed case and punctuation so id order (byte order) is exercised.
const ACCOUNT_IDS: [&str; 5] = ["glow", "glow-downtown", "glow-uptown", "Spa", "zen"];
const LOCATION_IDS: [&str; 8] = ["A", "B", "C", "a", "downtown", "midtown", "Z-1", "uptown"];
const STAFF_IDS: [&str; 8] = ["sam", "omar", "rita", "uma", "Bob", "zed", "li", "kim"];
const CLIENT_IDS: [&str; 8] = ["cleo", "gwen", "paul", "nina", "Al", "bea", "dan", "x1"];
/// An id that no world holds, for events that must be refused.
const UNKNOWN: &str = "nobody";

/// Phone numbers as staff type them, with their validity for a US and a GB
/// account under libphonenumber's rules.
struct Phone {
    raw: &'static str,
    us: bool,
    gb: bool,
}

const PHONES: &[Phone] = &[
    Phone {
        raw: "+1 650 253 0000",
        us: true,
        gb: true,
    }, // international form: valid anywhere
    Phone {
        raw: "(650) 253-0000",
        us: true,
        gb: false,
    }, // US national form
    Phone {
        raw: "650.253.0000",
        us: true,
        gb: false,
    }, // US national form, dots
    Phone {
        raw: "+44 20 7946 0018",
        us: true,
        gb: true,
    }, // London, international
    Phone {
        raw: "020 7946 0018",
        us: false,
        gb: true,
    }, // London, national (trunk 0)
    Phone {
        raw: "555-0100",
        us: false,
        gb: false,
    }, // seven digits: not a full number
    Phone {
        raw: "(000) 000-0000",
        us: false,
        gb: false,
    }, // impossible area code
    Phone {
        raw: "+1 650 253 00000",
        us: false,
        gb: false,
    }, // one digit too many
    Phone {
        raw: "call me",
        us: false,
        gb: false,
    },
    Phone {
        raw: "123",
        us: false,
        gb: false,
    },
];

/// Emails as typed, and whether they are syntactically valid addresses with a
/// dotted domain.
const EMAILS: &[(&str, bool)] = &[
    ("cleo@example.com", true),
    ("first.last+tag@sub.example.co.uk", true),
    ("CLEO@EXAMPLE.COM", true),
    ("cleo@", false),
    ("cleo.example.com", false),
    ("cleo@@example.com", false),
    ("cleo@localhost", false),
    ("a b@example.com", false),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Country {
    Us,
    Gb,
}

#[derive(Debug, Clone)]
struct Account {
    id: &'static str,
    name: String,
    parent: Option<usize>,
    country: Option<Country>,
}

#[derive(Debug, Clone)]
struct Location {
    id: &'static str,
    name: String,
    account: usize,
}

#[derive(Debug, Clone)]
struct Staff {
    id: &'static str,
    name: String,
    locations: BTreeSet<usize>,
    logged_in_at: Option<usize>,
    /// `None`: the default, their own locations.
    access: Option<BTreeSet<usize>>,
}

#[derive(Debug, Clone)]
struct Client {
    id: &'static str,
    name: String,
    account: usize,
    locations: BTreeSet<usize>,
    last_appointment: Option<usize>,
    phone: Option<usize>,
    sms_opt_in: bool,
    email: Option<usize>,
    email_opt_in: bool,
    guest_app: bool,
}

#[derive(Debug, Clone)]
struct Spec {
    accounts: Vec<Account>,
    locations: Vec<Location>,
    staff: Vec<Staff>,
    clients: Vec<Client>,
}

/// A non-empty subset of `0..n` from a bit mask.
fn subset(mask: u8, n: usize) -> BTreeSet<usize> {
    let set: BTreeSet<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
    if set.is_empty() {
        BTreeSet::from([mask as usize % n])
    } else {
        set
    }
}

fn nth(set: &BTreeSet<usize>, sel: u8) -> usize {
    *set.iter().nth(sel as usize % set.len()).expect("non-empty")
}

/// Characters for names and typed text: letters, YAML and template
/// punctuation, quotes, escapes, non-ASCII letters and emoji, and the line and
/// paragraph separators YAML parsers have treated as line breaks.
const CHARS: &[char] = &[
    'a', 'b', 'Z', ' ', ' ', '"', '\'', '\\', '{', '}', ':', '#', '-', '[', ']', ',', '&', '*', '!', '|', '>', '%',
    '@', '`', '\t', 'é', 'ß', 'Ü', '✂', '日', '😀', '\u{2028}', '\u{2029}', '\u{85}', '\u{a0}',
];

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(CHARS), 0..=max).prop_map(|v| v.into_iter().collect())
}

/// Display names: plain names, or any of [`CHARS`].
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&["Glow", "Glow Uptown", "Cleo Park", "Sam Reyes"][..]).prop_map(str::to_owned),
        1 => text(12),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (1..=4usize, 1..=6usize, 0..=8usize, 1..=8usize).prop_flat_map(|(na, nl, ns, nc)| {
        let account = (any::<u8>(), any::<bool>(), 0..3u8, name());
        let location = (any::<u8>(), name());
        let staff = (
            any::<u8>(),
            prop::option::of(any::<u8>()),
            prop::option::weighted(0.3, any::<u8>()),
            name(),
        );
        let client = (
            (any::<u8>(), any::<u8>(), prop::option::of(any::<u8>()), name()),
            (
                prop::option::of(0..PHONES.len()),
                any::<bool>(),
                prop::option::of(0..EMAILS.len()),
                any::<bool>(),
                prop::bool::weighted(0.3),
            ),
        );
        (
            Just(ACCOUNT_IDS.to_vec()).prop_shuffle(),
            Just(LOCATION_IDS.to_vec()).prop_shuffle(),
            Just(STAFF_IDS.to_vec()).prop_shuffle(),
            Just(CLIENT_IDS.to_vec()).prop_shuffle(),
            prop::collection::vec(account, na),
            prop::collection::vec(location, nl),
            prop::collection::vec(staff, ns),
            prop::collection::vec(client, nc),
        )
            .prop_map(move |(aids, lids, sids, cids, accounts, locations, staff, clients)| {
                let accounts: Vec<Account> = accounts
                    .into_iter()
                    .enumerate()
                    .map(|(i, (parent, has_parent, country, name))| Account {
                        id: aids[i],
                        name,
                        // Only earlier accounts can be parents, so chains end.
                        parent: (i > 0 && has_parent).then(|| parent as usize % i),
                        country: [None, Some(Country::Us), Some(Country::Gb)][country as usize],
                    })
                    .collect();
                let locations = locations
                    .into_iter()
                    .enumerate()
                    .map(|(i, (account, name))| Location {
                        id: lids[i],
                        name,
                        account: account as usize % na,
                    })
                    .collect();
                let staff = staff
                    .into_iter()
                    .enumerate()
                    .map(|(i, (mask, login, access, name))| {
                        let locations = subset(mask, nl);
                        Staff {
                            id: sids[i],
                            name,
                            logged_in_at: login.map(|l| nth(&locations, l)),
                            locations,
                            access: access.map(|m| (0..nl).filter(|i| m & (1 << i) != 0).collect()),
                        }
                    })
                    .collect();
                let clients = clients
                    .into_iter()
                    .enumerate()
                    .map(
                        |(i, ((account, mask, last, name), (phone, sms_opt_in, email, email_opt_in, guest_app)))| {
                            let locations = subset(mask, nl);
                            Client {
                                id: cids[i],
                                name,
                                account: account as usize % na,
                                last_appointment: last.map(|l| nth(&locations, l)),
                                locations,
                                phone,
                                sms_opt_in,
                                email,
                                email_opt_in,
                                guest_app,
                            }
                        },
                    )
                    .collect();
                Spec {
                    accounts,
                    locations,
                    staff,
                    clients,
                }
            })
    })
}

/// A YAML string literal (JSON strings are YAML double-quoted scalars).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

impl Spec {
    /// The world file, in the documented format.
    fn to_yaml(&self) -> String {
        use std::fmt::Write;
        let ids = |set: &BTreeSet<usize>| {
            let v: Vec<String> = set.iter().map(|l| q(self.locations[*l].id)).collect();
            format!("[{}]", v.join(", "))
        };
        let mut y = String::from("accounts:\n");
        for a in &self.accounts {
            write!(y, "  - id: {}\n    name: {}\n", q(a.id), q(&a.name)).unwrap();
            if let Some(p) = a.parent {
                writeln!(y, "    parent: {}", q(self.accounts[p].id)).unwrap();
            }
            match a.country {
                Some(Country::Us) => y.push_str("    country: US\n"),
                Some(Country::Gb) => y.push_str("    country: GB\n"),
                None => {}
            }
        }
        y.push_str("locations:\n");
        for l in &self.locations {
            writeln!(
                y,
                "  - {{id: {}, name: {}, account: {}}}",
                q(l.id),
                q(&l.name),
                q(self.accounts[l.account].id)
            )
            .unwrap();
        }
        y.push_str(if self.staff.is_empty() {
            "staff: []\n"
        } else {
            "staff:\n"
        });
        for s in &self.staff {
            write!(
                y,
                "  - id: {}\n    name: {}\n    locations: {}\n",
                q(s.id),
                q(&s.name),
                ids(&s.locations)
            )
            .unwrap();
            if let Some(l) = s.logged_in_at {
                writeln!(y, "    logged_in_at: {}", q(self.locations[l].id)).unwrap();
            }
            if let Some(a) = &s.access {
                writeln!(y, "    communicator_access: {}", ids(a)).unwrap();
            }
        }
        y.push_str("clients:\n");
        for c in &self.clients {
            write!(
                y,
                "  - id: {}\n    name: {}\n    account: {}\n    locations: {}\n",
                q(c.id),
                q(&c.name),
                q(self.accounts[c.account].id),
                ids(&c.locations)
            )
            .unwrap();
            if let Some(l) = c.last_appointment {
                writeln!(y, "    last_appointment_at: {}", q(self.locations[l].id)).unwrap();
            }
            if let Some(p) = c.phone {
                writeln!(y, "    phone: {}", q(PHONES[p].raw)).unwrap();
            }
            if let Some(e) = c.email {
                writeln!(y, "    email: {}", q(EMAILS[e].0)).unwrap();
            }
            writeln!(
                y,
                "    sms_opt_in: {}\n    email_opt_in: {}\n    guest_app: {}",
                c.sms_opt_in, c.email_opt_in, c.guest_app
            )
            .unwrap();
        }
        y
    }
}

// ---------------------------------------------------------------------------
// Random events

#[derive(Debug, Clone)]
enum Start {
    OutOfTheBlue,
    Answering {
        kind: &'static str,
        location: Sel,
    },
    Staff {
        staff: Sel,
        from: Option<Sel>,
    },
    /// Both a staff member and an answered message: must be refused.
    Both {
        staff: Sel,
        kind: &'static str,
        location: Sel,
    },
    /// `from` without `staff`: must be refused.
    FromWithoutStaff {
        from: Sel,
    },
}

/// Picks an entity of the world, or (rarely) an id the world does not hold.
#[derive(Debug, Clone, Copy)]
struct Sel {
    index: u8,
    unknown: bool,
}

fn sel() -> impl Strategy<Value = Sel> {
    (any::<u8>(), prop::bool::weighted(0.03)).prop_map(|(index, unknown)| Sel { index, unknown })
}

const KINDS: [&str; 4] = ["confirmation", "reminder", "campaign", "other"];

/// An inbound event: the client, and how the conversation started.
fn inbound_event() -> impl Strategy<Value = (Sel, Start)> {
    let kind = prop::sample::select(KINDS.to_vec());
    let start = prop_oneof![
        3 => Just(Start::OutOfTheBlue),
        6 => (kind.clone(), sel()).prop_map(|(kind, location)| Start::Answering { kind, location }),
        6 => (sel(), prop::option::of(sel())).prop_map(|(staff, from)| Start::Staff { staff, from }),
        1 => (sel(), kind, sel()).prop_map(|(staff, kind, location)| Start::Both { staff, kind, location }),
        1 => sel().prop_map(|from| Start::FromWithoutStaff { from }),
    ];
    (sel(), start)
}

/// An outbound event: the client, the sending account and what staff typed
/// (braces and placeholders must come out as typed).
fn outbound_event() -> impl Strategy<Value = (Sel, Sel, String)> {
    let typed = prop_oneof![
        3 => text(20),
        1 => Just("{text} {sender.account_name} }{".to_owned()),
    ];
    (sel(), sel(), typed)
}

impl Sel {
    /// The chosen id among `n` entities named by `id`.
    fn id<'a>(self, n: usize, id: impl Fn(usize) -> &'a str) -> &'a str {
        if self.unknown || n == 0 {
            UNKNOWN
        } else {
            id(self.index as usize % n)
        }
    }

    fn index(self, n: usize) -> Option<usize> {
        (!self.unknown && n > 0).then(|| self.index as usize % n)
    }
}

/// The request as any caller would write it.
fn inbound_request(spec: &Spec, client: Sel, start: &Start) -> InboundRequest {
    let client = client.id(spec.clients.len(), |i| spec.clients[i].id).to_owned();
    let loc = |s: Sel| s.id(spec.locations.len(), |i| spec.locations[i].id).to_owned();
    let staff = |s: Sel| s.id(spec.staff.len(), |i| spec.staff[i].id).to_owned();
    let mut req = InboundRequest {
        client,
        ..Default::default()
    };
    match start {
        Start::OutOfTheBlue => {}
        Start::Answering { kind, location } => req.answering = Some(format!("{kind}@{}", loc(*location))),
        Start::Staff { staff: s, from } => {
            req.staff = Some(staff(*s));
            req.from = from.map(loc);
        }
        Start::Both {
            staff: s,
            kind,
            location,
        } => {
            req.staff = Some(staff(*s));
            req.answering = Some(format!("{kind}@{}", loc(*location)));
        }
        Start::FromWithoutStaff { from } => req.from = Some(loc(*from)),
    }
    req
}

// ---------------------------------------------------------------------------
// The model: the contract's tables, in plain Rust

#[derive(Debug, Clone, PartialEq, Eq)]
struct InboundOutcome {
    lands_at: Vec<String>,
    delivered_to: Vec<String>,
    rule: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OutboundOutcome {
    channel: Channel,
    ghost_text: String,
    rule: String,
    text: String,
    text_rule: String,
}

/// How the model reads an event: who started the conversation and how.
enum Conversation {
    Client { answering: Option<(&'static str, usize)> },
    Staff { staff: usize, from: usize },
}

impl Spec {
    fn country(&self, account: usize) -> Country {
        let mut cur = Some(account);
        while let Some(a) = cur {
            if let Some(c) = self.accounts[a].country {
                return c;
            }
            cur = self.accounts[a].parent;
        }
        Country::Us
    }

    fn is_global(&self, account: usize) -> bool {
        self.accounts.iter().any(|a| a.parent == Some(account))
    }

    fn access(&self, s: usize) -> &BTreeSet<usize> {
        let staff = &self.staff[s];
        staff.access.as_ref().unwrap_or(&staff.locations)
    }

    fn phone_valid(&self, c: usize) -> bool {
        let client = &self.clients[c];
        client.phone.is_some_and(|p| match self.country(client.account) {
            Country::Us => PHONES[p].us,
            Country::Gb => PHONES[p].gb,
        })
    }

    fn email_valid(&self, c: usize) -> bool {
        self.clients[c].email.is_some_and(|e| EMAILS[e].1)
    }

    fn ids(&self, set: &BTreeSet<usize>) -> Vec<String> {
        let mut v: Vec<String> = set.iter().map(|l| self.locations[*l].id.to_owned()).collect();
        v.sort();
        v
    }

    /// Which field the event is refused for, or how the conversation started.
    fn read_inbound(&self, client: Sel, start: &Start) -> Result<(usize, Conversation), &'static str> {
        let c = client.index(self.clients.len()).ok_or("client")?;
        let nl = self.locations.len();
        let conversation = match *start {
            Start::Both { .. } => return Err("answering"),
            Start::Staff { staff, from } => {
                let s = staff.index(self.staff.len()).ok_or("staff")?;
                let member = &self.staff[s];
                let from = match from {
                    Some(l) => {
                        let l = l.index(nl).ok_or("from")?;
                        if !member.locations.contains(&l) {
                            return Err("from");
                        }
                        l
                    }
                    // Left out: their one location, or where they are logged in.
                    None if member.locations.len() == 1 => *member.locations.first().unwrap(),
                    None => member.logged_in_at.ok_or("from")?,
                };
                Conversation::Staff { staff: s, from }
            }
            Start::FromWithoutStaff { .. } => return Err("from"),
            Start::OutOfTheBlue => Conversation::Client { answering: None },
            Start::Answering { kind, location } => Conversation::Client {
                answering: Some((kind, location.index(nl).ok_or("answering")?)),
            },
        };
        Ok((c, conversation))
    }

    /// "Where an inbound client message lands" and "who receives it live".
    fn inbound(&self, c: usize, conversation: &Conversation) -> InboundOutcome {
        let client = &self.clients[c];
        let (lands, rule): (BTreeSet<usize>, &str) = match *conversation {
            Conversation::Staff { staff, from } => {
                let staff_locs = &self.staff[staff].locations;
                let shared: BTreeSet<usize> = client.locations.intersection(staff_locs).copied().collect();
                if shared.is_empty() {
                    (BTreeSet::from([from]), "staff-conversation-no-shared-location")
                } else if client.locations.len() >= 2 && client.last_appointment.is_none() {
                    (client.locations.clone(), "staff-conversation-multi-location-no-history")
                } else if let Some(last) = client.last_appointment.filter(|l| staff_locs.contains(l)) {
                    (BTreeSet::from([last]), "staff-conversation-last-appointment-shared")
                } else {
                    (shared, "staff-conversation-shared-locations")
                }
            }
            Conversation::Client {
                answering: Some((kind, location)),
            } => match client.last_appointment {
                Some(last) if kind == "campaign" => (BTreeSet::from([last]), "campaign-reply-with-history"),
                _ => (BTreeSet::from([location]), "reply-to-location-message"),
            },
            Conversation::Client { answering: None } => match client.last_appointment {
                Some(last) => (BTreeSet::from([last]), "out-of-the-blue-with-history"),
                None if client.locations.len() == 1 => (client.locations.clone(), "out-of-the-blue-one-location"),
                None => (client.locations.clone(), "out-of-the-blue-no-history"),
            },
        };
        let starter = match conversation {
            Conversation::Staff { staff, .. } => Some(*staff),
            Conversation::Client { .. } => None,
        };
        let mut delivered_to: Vec<String> = (0..self.staff.len())
            .filter(|&s| {
                let member = &self.staff[s];
                // Gates: logged in, and access to a landing location.
                let gates = member.logged_in_at.is_some() && !self.access(s).is_disjoint(&lands);
                // Grants: logged in at a landing location, associated with
                // one, or started the conversation.
                let grants = member.logged_in_at.is_some_and(|l| lands.contains(&l))
                    || !member.locations.is_disjoint(&lands)
                    || starter == Some(s);
                gates && grants
            })
            .map(|s| self.staff[s].id.to_owned())
            .collect();
        delivered_to.sort();
        InboundOutcome {
            lands_at: self.ids(&lands),
            delivered_to,
            rule: rule.to_owned(),
        }
    }

    /// Whether the contract leaves the client without any channel.
    fn unreachable(&self, c: usize) -> bool {
        let client = &self.clients[c];
        let app = client.guest_app;
        let sms = self.phone_valid(c) && client.sms_opt_in;
        let email = self.email_valid(c) && client.email_opt_in;
        !app && !sms && !email
    }

    /// "Outbound channel", then the child account's name on a push to a global client.
    fn outbound(&self, c: usize, sender: usize, typed: &str) -> OutboundOutcome {
        let client = &self.clients[c];
        let (channel, rule, ghost_text) = if client.guest_app {
            (Channel::Push, "push", "Messages will be sent via push notification.")
        } else if self.phone_valid(c) && client.sms_opt_in {
            (Channel::Sms, "sms", "Messages will be sent via SMS.")
        } else if self.email_valid(c) && client.email_opt_in {
            (Channel::Email, "email", "Messages will be sent via email.")
        } else {
            (
                Channel::None,
                "unreachable",
                "This client can't receive messages: no guest app, no SMS opt-in and no email opt-in.",
            )
        };
        let named = channel == Channel::Push
            && self.is_global(client.account)
            && self.accounts[sender].parent == Some(client.account);
        let (text, text_rule) = if named {
            (
                format!("{}: {typed}", self.accounts[sender].name),
                "child-account-name-on-global-push",
            )
        } else {
            (typed.to_owned(), "as-typed")
        };
        OutboundOutcome {
            channel,
            ghost_text: ghost_text.to_owned(),
            rule: rule.to_owned(),
            text,
            text_rule: text_rule.to_owned(),
        }
    }
}

// ---------------------------------------------------------------------------
// The properties

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::load_dir(Path::new("rules")).expect("the shipped rules load"))
}

fn config(default_cases: u32) -> Config {
    props::proptest_config(default_cases)
}

fn check_inbound(spec: &Spec, world: &World, client: Sel, start: &Start) -> Result<(), TestCaseError> {
    let req = inbound_request(spec, client, start);
    let resolved = req.resolve(world);
    let ((c, conversation), ev) = match (spec.read_inbound(client, start), resolved) {
        (Err(field), Err(e)) => {
            prop_assert_eq!(field, e.field, "refused for another field: {}", e);
            return Ok(());
        }
        (Err(field), Ok(_)) => {
            return Err(TestCaseError::fail(format!(
                "{req:?} resolved, the model refuses `{field}`"
            )))
        }
        (Ok(_), Err(e)) => {
            return Err(TestCaseError::fail(format!(
                "{req:?} refused ({e}), the model accepts it"
            )))
        }
        (Ok(read), Ok(ev)) => (read, ev),
    };
    let rules = rules();
    let decision = rules
        .route_inbound(world, &ev)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let report = decision.report(rules, world);
    let expected = spec.inbound(c, &conversation);

    // Invariants, stated on their own so a wrong model cannot hide them.
    prop_assert!(!report.lands_at.is_empty(), "the message lands nowhere");
    for l in &report.lands_at {
        prop_assert!(spec.locations.iter().any(|x| x.id == l), "lands at unknown `{}`", l);
    }
    for s in &report.delivered_to {
        let i = spec.staff.iter().position(|x| x.id == s).expect("a known staff member");
        let member = &spec.staff[i];
        prop_assert!(
            member.logged_in_at.is_some(),
            "`{}` receives it but is not logged in",
            s
        );
        prop_assert!(
            spec.access(i)
                .iter()
                .any(|l| report.lands_at.iter().any(|x| x == spec.locations[*l].id)),
            "`{}` receives it without access to a landing location",
            s
        );
    }
    let again = rules.route_inbound(world, &ev).unwrap();
    prop_assert_eq!(&again, &decision, "the same input gave another decision");
    let explained = rules.explain_inbound(world, &ev).unwrap();
    prop_assert_eq!(&explained.lands_at, &decision.lands_at);
    prop_assert_eq!(&explained.delivered_to, &decision.delivered_to);
    prop_assert_eq!(explained.rule, decision.rule);
    let trace = explained.report(rules, world).trace;
    prop_assert_eq!(trace.iter().filter(|t| t.policy == "inbound" && t.applied).count(), 1);

    // The model.
    let actual = InboundOutcome {
        lands_at: report.lands_at,
        delivered_to: report.delivered_to,
        rule: report.rule,
    };
    prop_assert_eq!(actual, expected, "request {:?}, world:\n{}", req, spec.to_yaml());
    Ok(())
}

fn check_outbound(spec: &Spec, world: &World, client: Sel, account: Sel, text: &str) -> Result<(), TestCaseError> {
    let req = OutboundRequest {
        client: client.id(spec.clients.len(), |i| spec.clients[i].id).to_owned(),
        from_account: account.id(spec.accounts.len(), |i| spec.accounts[i].id).to_owned(),
        text: text.to_owned(),
    };
    let model = match (client.index(spec.clients.len()), account.index(spec.accounts.len())) {
        (None, _) => Err("client"),
        (_, None) => Err("from_account"),
        (Some(c), Some(a)) => Ok((c, a)),
    };
    let ((c, a), ev) = match (model, req.resolve(world)) {
        (Err(field), Err(e)) => {
            prop_assert_eq!(field, e.field, "refused for another field: {}", e);
            return Ok(());
        }
        (Ok(m), Ok(ev)) => (m, ev),
        (m, r) => return Err(TestCaseError::fail(format!("{req:?}: model {m:?}, engine {r:?}"))),
    };
    let rules = rules();
    let decision = rules
        .route_outbound(world, &ev)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let report = decision.report(rules);

    if spec.unreachable(c) {
        prop_assert_eq!(
            report.channel,
            Channel::None,
            "an unreachable client was given a channel"
        );
    }
    let again = rules.route_outbound(world, &ev).unwrap();
    prop_assert_eq!(&again, &decision, "the same input gave another decision");
    let explained = rules.explain_outbound(world, &ev).unwrap();
    prop_assert_eq!(
        (explained.channel, explained.rule, explained.text_rule, &explained.text),
        (decision.channel, decision.rule, decision.text_rule, &decision.text)
    );

    let expected = spec.outbound(c, a, text);
    let actual = OutboundOutcome {
        channel: report.channel,
        ghost_text: report.ghost_text.clone(),
        rule: report.rule.clone(),
        text: report.text.clone(),
        text_rule: report.text_rule.clone(),
    };
    prop_assert_eq!(
        actual,
        expected,
        "engine said {:?}; request {:?}, world:\n{}",
        report,
        req,
        spec.to_yaml()
    );
    Ok(())
}

/// Loads the generated world through the world loader, as a user's file would be.
fn load(spec: &Spec) -> Result<World, TestCaseError> {
    let yaml = spec.to_yaml();
    World::parse(Source::new("generated-world.yaml", yaml.as_str()))
        .map_err(|d| TestCaseError::fail(format!("the generated world was refused:\n{d}\n{yaml}")))
}

// Two properties of 50,000 cases each (100,000 in all), so the two cores of a
// CI machine share them.
proptest! {
    #![proptest_config(config(50_000))]

    /// Where every inbound message lands and who receives it live, as the
    /// contract says, with the inbound invariants.
    #[test]
    fn inbound_agrees_with_the_contract_model(spec in spec(), events in prop::collection::vec(inbound_event(), 1..=6)) {
        let world = load(&spec)?;
        for (client, start) in &events {
            check_inbound(&spec, &world, *client, start)?;
        }
    }

    /// Which channel carries every staff message, its ghost text and final
    /// text, as the contract says; an unreachable client never gets a channel.
    #[test]
    fn outbound_agrees_with_the_contract_model(spec in spec(), events in prop::collection::vec(outbound_event(), 1..=6)) {
        let world = load(&spec)?;
        for (client, account, typed) in &events {
            check_outbound(&spec, &world, *client, *account, typed)?;
        }
    }
}

/// The model must be able to fail: a world where the contract says the reply
/// lands at the last appointment, and a model answer that says otherwise, do
/// not agree.
#[test]
fn the_model_reads_scenario_nine_like_the_contract() {
    let spec = Spec {
        accounts: vec![Account {
            id: "glow",
            name: "Glow".into(),
            parent: None,
            country: None,
        }],
        locations: vec![
            Location {
                id: "A",
                name: "Downtown".into(),
                account: 0,
            },
            Location {
                id: "B",
                name: "Midtown".into(),
                account: 0,
            },
        ],
        staff: vec![],
        clients: vec![Client {
            id: "cleo",
            name: "Cleo".into(),
            account: 0,
            locations: BTreeSet::from([0, 1]),
            last_appointment: Some(1),
            phone: None,
            sms_opt_in: false,
            email: None,
            email_opt_in: false,
            guest_app: false,
        }],
    };
    let out = spec.inbound(
        0,
        &Conversation::Client {
            answering: Some(("campaign", 0)),
        },
    );
    assert_eq!(out.lands_at, ["B"]);
    assert_eq!(out.rule, "campaign-reply-with-history");
    assert!(spec.unreachable(0));
}
