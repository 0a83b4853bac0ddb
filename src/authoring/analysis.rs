//! The decision matrix: every class of input the declarative vocabulary can
//! tell apart, a concrete witness for each, and what a rule set decides there.
//!
//! Declarative conditions only compare a handful of things: who started the
//! conversation, the kind of message answered, and how a few locations and
//! sets of locations relate (the client's locations `C`, the starting staff
//! member's locations `S`, and the single locations `L` last appointment,
//! `F` started from, `Q` answered location), plus yes/no client facts and how
//! the sending account relates to the client's account. Every set expression
//! is a union of cells of the Venn diagram of those atoms, and every test is
//! either the (non-)emptiness of such a union, membership of a single location,
//! or a count of `C` or `S` compared with a number written in the rules. Two
//! inputs that agree on which cells are empty and on the counts (capped one
//! above the largest number written in a `count*` test) are therefore decided
//! alike by every declarative rule. [`InboundClass`] and [`OutboundClass`] are
//! exactly that information; the enumeration below produces each class once,
//! builds a witness world for it (a real world file, parsed like any other)
//! and routes it with the real engine. Rules that use Rhai or name literal
//! location or account ids are evaluated on the witnesses too, but the classes
//! are not guaranteed to tell apart everything such rules see: they are marked.
//!
//! Live delivery is evaluated per [`RecipientClass`]: each witness world also
//! holds one staff member per way a staff member can relate to where the
//! message lands (associated with none, some or all landing locations; logged
//! out, in at a landing location or elsewhere; access as their locations,
//! denied or granted), and the one who started the conversation.
//!
//! From the matrix follow the findings of `commroute analyze`: rules that
//! never decide (shadowed by the earlier rules that take every input they
//! match, or whose condition holds for no input; a grant that admits nobody
//! past the gates), gaps (inputs that no rule decides usefully: a message that
//! lands nowhere, or a rule that fails), and, as a note, grants that never
//! admit anyone another grant does not.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::diag::Source;
use crate::engine::event::{Inbound, InboundRequest, Outbound, OutboundRequest, Start};
use crate::engine::inbound_ctx;
use crate::rules::condition::{Cond, Op, SetExpr};
use crate::rules::facts::{Answering, Ctx, Fact, PolicyKind};
use crate::rules::RuleSet;
use crate::world::locset::{Loc, LocSet};
use crate::world::World;

// ---------------------------------------------------------------------------
// What the rule sets read

/// The yes/no client facts a class may vary, in bit order.
pub const CONTACT_FACTS: [Fact; 6] = [
    Fact::ClientGlobal,
    Fact::ClientGuestApp,
    Fact::ClientPhoneValid,
    Fact::ClientSmsOptIn,
    Fact::ClientEmailValid,
    Fact::ClientEmailOptIn,
];

/// The dimensions the enumeration varies, from the facts the rule sets read.
#[derive(Debug, Clone, Default)]
pub struct Dims {
    /// Sizes of `C` and `S` are told apart up to this number ("N or more").
    pub cap: usize,
    /// Bit mask over [`CONTACT_FACTS`] read by inbound or delivery rules.
    pub inbound_contact: u8,
}

impl Dims {
    /// The dimensions needed to tell apart everything any of `sets` can see.
    pub fn of(sets: &[&RuleSet]) -> Dims {
        let mut max_count = 1;
        let mut contact = 0u8;
        for rs in sets {
            let mut see = |c: &Cond| {
                c.visit_tests(&mut |t| {
                    if let Op::Count(n) | Op::CountAtLeast(n) | Op::CountAtMost(n) = t.op {
                        max_count = max_count.max(n);
                    }
                    if let Some(i) = CONTACT_FACTS.iter().position(|f| *f == t.fact) {
                        contact |= 1 << i;
                    }
                })
            };
            rs.inbound.rules.rules.iter().for_each(|r| see(&r.when));
            rs.delivery
                .gates
                .iter()
                .chain(&rs.delivery.grants)
                .for_each(|r| see(&r.when));
        }
        Dims {
            cap: max_count + 1,
            inbound_contact: contact,
        }
    }
}

/// Why the classes may not tell apart everything a rule of `policy` sees, if they may not.
pub(crate) fn partial_reason(cond: &Cond, policy: PolicyKind) -> Option<&'static str> {
    if cond.uses_script() {
        return Some("uses Rhai");
    }
    let recipient = |f: Fact| {
        matches!(
            f,
            Fact::RecipientLocations | Fact::RecipientAccess | Fact::RecipientLoggedInAt
        )
    };
    let operand_fact = |op: &Op| match op {
        Op::In(SetExpr::Fact(g))
        | Op::SharesAnyWith(SetExpr::Fact(g))
        | Op::SharesNoneWith(SetExpr::Fact(g))
        | Op::Contains(SetExpr::Fact(g))
        | Op::SameAs(g) => Some(*g),
        _ => None,
    };
    let mut why = None;
    cond.visit_tests(&mut |t| {
        let literal = matches!(t.op, Op::LocationIs(_) | Op::AccountIs(_))
            || matches!(&t.op, Op::In(s) | Op::SharesAnyWith(s) | Op::SharesNoneWith(s) | Op::Contains(s) if has_literal(s));
        if literal {
            why = Some("names location or account ids");
            return;
        }
        match policy {
            PolicyKind::Outbound | PolicyKind::Text => {
                if matches!(t.fact, Fact::ClientLocations | Fact::ClientLastAppointment)
                    || operand_fact(&t.op).is_some_and(|g| matches!(g, Fact::ClientLocations | Fact::ClientLastAppointment))
                {
                    why = Some("reads client locations, which outbound classes do not vary");
                }
            }
            PolicyKind::Delivery => {
                let counted = matches!(t.op, Op::Count(_) | Op::CountAtLeast(_) | Op::CountAtMost(_))
                    && (recipient(t.fact) || t.fact == Fact::LandsAt);
                let other = operand_fact(&t.op);
                // Recipient classes are defined against where the message lands only.
                let mixed = match other {
                    Some(g) => (recipient(t.fact) && g != Fact::LandsAt) || (recipient(g) && t.fact != Fact::LandsAt),
                    None => recipient(t.fact) && !matches!(t.op, Op::Present(_)),
                };
                if counted || mixed {
                    why = Some("relates a recipient to something other than where the message lands");
                }
            }
            PolicyKind::Inbound => {}
        }
    });
    why
}

fn has_literal(s: &SetExpr) -> bool {
    match s {
        SetExpr::Literal(_) => true,
        SetExpr::Intersection(p) | SetExpr::Union(p) => p.iter().any(has_literal),
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Inbound classes

/// Where a single location lies relative to the client's and the starting
/// staff member's locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// Not set.
    None,
    /// A location of both the client and the staff member.
    Shared,
    /// One of the client's locations only.
    ClientOnly,
    /// One of the staff member's locations only.
    StaffOnly,
    /// Neither the client's nor the staff member's.
    Elsewhere,
}

impl Place {
    fn of(l: Option<Loc>, c: &LocSet, s: &LocSet) -> Place {
        match l {
            None => Place::None,
            Some(l) => match (c.contains(l), s.contains(l)) {
                (true, true) => Place::Shared,
                (true, false) => Place::ClientOnly,
                (false, true) => Place::StaffOnly,
                (false, false) => Place::Elsewhere,
            },
        }
    }

    fn words(self) -> &'static str {
        match self {
            Place::None => "none",
            Place::Shared => "a location of both the client and the staff member",
            Place::ClientOnly => "one of the client's locations",
            Place::StaffOnly => "one of the staff member's locations only",
            Place::Elsewhere => "a location that is not the client's",
        }
    }
}

/// A class of inbound events: everything a declarative inbound or delivery
/// condition about the conversation and the client can observe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct InboundClass {
    pub started_by_staff: bool,
    #[serde(serialize_with = "answering_name")]
    pub answering: Answering,
    pub answered: Place,
    pub last: Place,
    pub from: Place,
    /// The last appointment is the answered location.
    pub last_is_answered: bool,
    /// The last appointment is the location the staff member started from.
    pub last_is_from: bool,
    /// Number of client locations, capped at [`Dims::cap`].
    pub client_count: usize,
    /// Number of the staff member's locations (0 when the client started), capped.
    pub staff_count: usize,
    /// Whether there are shared, client-only and staff-only locations other
    /// than the single locations above.
    pub more_shared: bool,
    pub more_client_only: bool,
    pub more_staff_only: bool,
    /// Bits over [`CONTACT_FACTS`] (only those some rule reads vary).
    pub contact: u8,
    /// The count cap of the enumeration (the same for every class).
    #[serde(skip)]
    pub cap: usize,
}

fn answering_name<S: serde::Serializer>(a: &Answering, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.name())
}

/// A concrete inbound situation over numbered locations `0..n`.
#[derive(Debug, Clone)]
struct Shape {
    n: usize,
    client: LocSet,
    staff: Option<LocSet>,
    last: Option<Loc>,
    from: Option<Loc>,
    answering: Answering,
    answered: Option<Loc>,
    contact: u8,
}

impl InboundClass {
    /// The class of a resolved event in its world.
    pub fn of(world: &World, ev: &Inbound, dims: &Dims) -> InboundClass {
        let c = &world.clients[ev.client as usize];
        let mut contact = 0u8;
        let ctx = Ctx::new(world, ev.client);
        for (i, f) in CONTACT_FACTS.iter().enumerate() {
            if dims.inbound_contact & (1 << i) != 0 && ctx.bool(*f) {
                contact |= 1 << i;
            }
        }
        let (staff, from, answering, answered) = match ev.start {
            Start::Client { answering, location } => (None, None, answering, location),
            Start::Staff { staff, from } => (
                Some(world.staff[staff as usize].locations.clone()),
                Some(from),
                Answering::Nothing,
                None,
            ),
        };
        classify(
            &Shape {
                n: world.locations.len(),
                client: c.locations.clone(),
                staff,
                last: c.last_appointment,
                from,
                answering,
                answered,
                contact,
            },
            dims,
        )
    }

    /// The class in plain words.
    pub fn describe(&self) -> String {
        let count = |n: usize, cap: usize, what: &str| {
            let plural = if n == 1 { "" } else { "s" };
            if n >= cap {
                format!("{n} or more {what}s")
            } else {
                format!("{n} {what}{plural}")
            }
        };
        let mut parts = Vec::new();
        if self.started_by_staff {
            parts.push(format!("staff started it from {}", self.from.words()));
        } else if self.answering == Answering::Nothing {
            parts.push("the client writes out of the blue".to_string());
        } else {
            parts.push(format!(
                "the client answers a {} from {}",
                self.answering.name(),
                self.answered.words()
            ));
        }
        parts.push(format!(
            "the client has {}",
            count(self.client_count, self.cap, "location")
        ));
        if self.started_by_staff {
            parts.push(format!(
                "the staff member has {}",
                count(self.staff_count, self.cap, "location")
            ));
            let shared = self.from == Place::Shared || self.last == Place::Shared || self.more_shared;
            parts.push(
                if shared {
                    "they share a location"
                } else {
                    "they share no location"
                }
                .into(),
            );
        }
        parts.push(match self.last {
            Place::None => "no last appointment".to_string(),
            _ if self.last_is_answered => "last appointment at the answered location".to_string(),
            _ if self.last_is_from => "last appointment where the staff member started it".to_string(),
            p => format!("last appointment at {}", p.words()),
        });
        let mut others = Vec::new();
        if self.more_shared {
            others.push("shared");
        }
        if self.more_client_only {
            others.push("the client's only");
        }
        if self.more_staff_only {
            others.push("the staff member's only");
        }
        if !others.is_empty() {
            parts.push(format!("other locations: {}", others.join(", ")));
        }
        for (i, f) in CONTACT_FACTS.iter().enumerate() {
            if self.contact & (1 << i) != 0 {
                parts.push(format!("{}: yes", f.name()));
            }
        }
        parts.join("; ")
    }
}

fn classify(s: &Shape, dims: &Dims) -> InboundClass {
    let empty = LocSet::new();
    let staff = s.staff.as_ref().unwrap_or(&empty);
    let points = [s.last, s.from, s.answered];
    let more = |in_c: bool, in_s: bool| {
        (0..s.n as Loc).any(|l| !points.contains(&Some(l)) && s.client.contains(l) == in_c && staff.contains(l) == in_s)
    };
    InboundClass {
        started_by_staff: s.staff.is_some(),
        answering: s.answering,
        answered: Place::of(s.answered, &s.client, staff),
        last: Place::of(s.last, &s.client, staff),
        from: Place::of(s.from, &s.client, staff),
        last_is_answered: s.last.is_some() && s.last == s.answered,
        last_is_from: s.last.is_some() && s.last == s.from,
        client_count: s.client.len().min(dims.cap),
        staff_count: staff.len().min(dims.cap),
        more_shared: more(true, true),
        more_client_only: more(true, false),
        more_staff_only: more(false, true),
        contact: s.contact,
        cap: dims.cap,
    }
}

/// Every inbound class, each with a witness shape, in a stable order.
fn inbound_shapes(dims: &Dims) -> Vec<(InboundClass, Shape)> {
    let mut seen = BTreeMap::new();
    let cap = dims.cap;
    let contacts: Vec<u8> = (0..=dims.inbound_contact)
        .filter(|b| b & !dims.inbound_contact == 0)
        .collect();
    let mut add = |shape: Shape| {
        let class = classify(&shape, dims);
        seen.entry(class).or_insert(shape);
    };
    // Realises a shape: single locations first, then the extra ones, region by region.
    struct Builder {
        n: Loc,
        client: Vec<Loc>,
        staff: Vec<Loc>,
    }
    impl Builder {
        fn put(&mut self, place: Place) -> Loc {
            let l = self.n;
            self.n += 1;
            if matches!(place, Place::Shared | Place::ClientOnly) {
                self.client.push(l);
            }
            if matches!(place, Place::Shared | Place::StaffOnly) {
                self.staff.push(l);
            }
            l
        }
    }
    let kinds = [
        Answering::Confirmation,
        Answering::Reminder,
        Answering::Campaign,
        Answering::Other,
        Answering::Nothing,
    ];
    for &contact in &contacts {
        // The client started it.
        for answering in kinds {
            let answered_places: &[Place] = if answering == Answering::Nothing {
                &[Place::None]
            } else {
                &[Place::ClientOnly, Place::Elsewhere]
            };
            for &answered in answered_places {
                for last in [Place::None, Place::ClientOnly] {
                    for same in [false, true] {
                        if same && !(last == Place::ClientOnly && answered == Place::ClientOnly) {
                            continue;
                        }
                        for extra in 0..=cap {
                            let mut b = Builder {
                                n: 0,
                                client: vec![],
                                staff: vec![],
                            };
                            let a = (answered != Place::None).then(|| b.put(answered));
                            let l = match last {
                                Place::None => None,
                                _ if same => a,
                                p => Some(b.put(p)),
                            };
                            for _ in 0..extra {
                                b.put(Place::ClientOnly);
                            }
                            if b.client.is_empty() || b.client.len() > cap + 2 {
                                continue;
                            }
                            add(Shape {
                                n: b.n as usize,
                                client: LocSet::from_unsorted(b.client),
                                staff: None,
                                last: l,
                                from: None,
                                answering,
                                answered: a,
                                contact,
                            });
                        }
                    }
                }
            }
        }
        // A staff member started it.
        for from in [Place::Shared, Place::StaffOnly] {
            for last in [Place::None, Place::Shared, Place::ClientOnly] {
                for same in [false, true] {
                    if same && !(last == Place::Shared && from == Place::Shared) {
                        continue;
                    }
                    for e_shared in 0..=cap {
                        for e_client in 0..=cap {
                            for e_staff in 0..=cap {
                                let mut b = Builder {
                                    n: 0,
                                    client: vec![],
                                    staff: vec![],
                                };
                                let f = b.put(from);
                                let l = match last {
                                    Place::None => None,
                                    _ if same => Some(f),
                                    p => Some(b.put(p)),
                                };
                                for _ in 0..e_shared {
                                    b.put(Place::Shared);
                                }
                                for _ in 0..e_client {
                                    b.put(Place::ClientOnly);
                                }
                                for _ in 0..e_staff {
                                    b.put(Place::StaffOnly);
                                }
                                if b.client.is_empty() {
                                    continue;
                                }
                                add(Shape {
                                    n: b.n as usize,
                                    client: LocSet::from_unsorted(b.client),
                                    staff: Some(LocSet::from_unsorted(b.staff)),
                                    last: l,
                                    from: Some(f),
                                    answering: Answering::Nothing,
                                    answered: None,
                                    contact,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    seen.into_iter().collect()
}

// ---------------------------------------------------------------------------
// Live recipients: how a staff member relates to where the message lands

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Assoc {
    /// Associated with no landing location.
    None,
    /// With some but not all landing locations.
    Some,
    /// With every landing location.
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Login {
    Out,
    /// Logged in at a landing location.
    AtLanding,
    /// Logged in at a location the message does not land at.
    Elsewhere,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Their communicator access is their locations (the default).
    Own,
    /// Their access excludes every landing location.
    Denied,
    /// Their access includes every landing location.
    Granted,
}

/// A class of staff member considered as a live recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RecipientClass {
    /// They started the conversation.
    pub starter: bool,
    pub assoc: Assoc,
    pub login: Login,
    pub access: Access,
}

impl fmt::Display for RecipientClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = if self.starter {
            "the staff member who started it"
        } else {
            "staff"
        };
        let assoc = match self.assoc {
            Assoc::None => "of no landing location",
            Assoc::Some => "of some landing locations",
            Assoc::All => "of every landing location",
        };
        let login = match self.login {
            Login::Out => "not logged in",
            Login::AtLanding => "logged in at a landing location",
            Login::Elsewhere => "logged in elsewhere",
        };
        let access = match self.access {
            Access::Own => "",
            Access::Denied => ", access denied",
            Access::Granted => ", access granted",
        };
        write!(f, "{who} {assoc}, {login}{access}")
    }
}

// ---------------------------------------------------------------------------
// Outbound classes

/// A class of outbound messages: contact facts and how the sending account
/// relates to the client's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct OutboundClass {
    pub client_global: bool,
    pub sender_is_client_account: bool,
    pub sender_has_parent: bool,
    pub sender_parent_is_client_account: bool,
    /// Bits: guest app, phone valid, SMS opt-in, email valid, email opt-in.
    pub contact: u8,
}

const OUTBOUND_CONTACT: [Fact; 5] = [
    Fact::ClientGuestApp,
    Fact::ClientPhoneValid,
    Fact::ClientSmsOptIn,
    Fact::ClientEmailValid,
    Fact::ClientEmailOptIn,
];

impl OutboundClass {
    pub fn of(world: &World, ev: &Outbound) -> OutboundClass {
        let mut ctx = Ctx::new(world, ev.client);
        ctx.sender = Some(ev.sender);
        let client_account = world.clients[ev.client as usize].account;
        let parent = world.accounts[ev.sender as usize].parent;
        let mut contact = 0;
        for (i, f) in OUTBOUND_CONTACT.iter().enumerate() {
            if ctx.bool(*f) {
                contact |= 1 << i;
            }
        }
        OutboundClass {
            client_global: ctx.bool(Fact::ClientGlobal),
            sender_is_client_account: ev.sender == client_account,
            sender_has_parent: parent.is_some(),
            sender_parent_is_client_account: parent == Some(client_account),
            contact,
        }
    }

    pub fn describe(&self) -> String {
        let child = if self.sender_has_parent {
            ", a child account"
        } else {
            ""
        };
        let mut parts = vec![if self.sender_is_client_account {
            format!("sent from the client's own account{child}")
        } else if self.sender_parent_is_client_account {
            "sent from a child of the client's account".to_string()
        } else {
            format!("sent from another account{child}")
        }];
        parts.push(
            if self.client_global {
                "global client"
            } else {
                "client of one account"
            }
            .into(),
        );
        let names = ["guest app", "valid phone", "SMS opt-in", "valid email", "email opt-in"];
        let have: Vec<&str> = (0..5)
            .filter(|i| self.contact & (1 << i) != 0)
            .map(|i| names[i])
            .collect();
        parts.push(if have.is_empty() {
            "no guest app, phone, email or opt-in".to_string()
        } else {
            have.join(", ")
        });
        parts.join("; ")
    }
}

// ---------------------------------------------------------------------------
// Witness worlds

fn loc_name(l: Loc) -> String {
    let l = l as usize;
    if l < 25 {
        ((b'A' + l as u8) as char).to_string()
    } else {
        format!("L{l}")
    }
}

/// A staff entry of a witness world: id, locations, `logged_in_at` and
/// `communicator_access`, each already written as YAML.
type StaffYaml = (String, String, Option<String>, Option<String>);

/// The extra location outside everything, for recipients' other locations.
const ELSEWHERE: &str = "Z";

fn list(ids: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", ids.into_iter().collect::<Vec<_>>().join(", "))
}

fn client_yaml(account: &str, locations: &str, last: Option<String>, bits: [bool; 6]) -> String {
    let [_, app, phone, sms, email, email_in] = bits;
    let mut y = format!("  - {{id: client, name: Client, account: {account}, locations: {locations}");
    if let Some(l) = last {
        y.push_str(&format!(", last_appointment_at: {l}"));
    }
    if phone {
        y.push_str(", phone: \"+1 650 253 0000\"");
    }
    if email {
        y.push_str(", email: client@example.com");
    }
    y.push_str(&format!(
        ", guest_app: {app}, sms_opt_in: {sms}, email_opt_in: {email_in}}}\n"
    ));
    y
}

struct InboundWitness {
    world: World,
    yaml: String,
    event: Inbound,
    request: InboundRequest,
    example: String,
}

fn inbound_witness(shape: &Shape) -> InboundWitness {
    let global = shape.contact & 1 != 0;
    let bit = |i: usize| shape.contact & (1 << i) != 0;
    let mut y = String::from("accounts:\n  - {id: acct, name: Account}\n");
    if global {
        y.push_str("  - {id: acct-child, name: Child Account, parent: acct}\n");
    }
    y.push_str("locations:\n");
    for l in 0..shape.n as Loc {
        y.push_str(&format!("  - {{id: {0}, name: {0}, account: acct}}\n", loc_name(l)));
    }
    y.push_str(&format!("  - {{id: {ELSEWHERE}, name: {ELSEWHERE}, account: acct}}\n"));
    let ids = |s: &LocSet| list(s.iter().map(loc_name));
    let mut staff = String::new();
    if let Some(s) = &shape.staff {
        staff.push_str(&format!("  - {{id: starter, name: Starter, locations: {}}}\n", ids(s)));
    }
    if !staff.is_empty() {
        y.push_str("staff:\n");
        y.push_str(&staff);
    }
    y.push_str("clients:\n");
    y.push_str(&client_yaml(
        "acct",
        &ids(&shape.client),
        shape.last.map(loc_name),
        [global, bit(1), bit(2), bit(3), bit(4), bit(5)],
    ));
    let world = World::parse(Source::new("<witness>", y.clone())).expect("witness worlds are valid");
    let mut request = InboundRequest {
        client: "client".into(),
        ..Default::default()
    };
    let mut example = format!("client at {}", ids(&shape.client));
    if let Some(l) = shape.last {
        example.push_str(&format!(" (last appointment {})", loc_name(l)));
    }
    match (&shape.staff, shape.from, shape.answered) {
        (Some(s), Some(f), _) => {
            request.staff = Some("starter".into());
            request.from = Some(loc_name(f));
            example.push_str(&format!(", staff at {} started it from {}", ids(s), loc_name(f)));
        }
        (_, _, Some(a)) => {
            request.answering = Some(format!("{}@{}", shape.answering.name(), loc_name(a)));
            example.push_str(&format!(", answers a {} from {}", shape.answering.name(), loc_name(a)));
        }
        _ => example.push_str(", out of the blue"),
    }
    for (i, f) in CONTACT_FACTS.iter().enumerate() {
        if bit(i) {
            example.push_str(&format!(", {}", f.name()));
        }
    }
    let event = request.resolve(&world).expect("witness events resolve");
    InboundWitness {
        world,
        yaml: y,
        event,
        request,
        example,
    }
}

/// The other-staff recipient classes for a landing set, realised as staff
/// entries `(id, locations, logged_in_at, communicator_access)`.
fn other_recipients(lands: &[String]) -> Vec<(RecipientClass, StaffYaml)> {
    let mut out = Vec::new();
    let z = ELSEWHERE.to_string();
    for assoc in [Assoc::None, Assoc::Some, Assoc::All] {
        let mine: Vec<String> = match assoc {
            Assoc::None => vec![],
            Assoc::Some if lands.len() < 2 => continue,
            Assoc::Some => vec![lands[0].clone()],
            Assoc::All => lands.to_vec(),
        };
        let mut locs = mine.clone();
        locs.push(z.clone());
        for login in [Login::Out, Login::AtLanding, Login::Elsewhere] {
            let at = match login {
                Login::Out => None,
                Login::AtLanding if mine.is_empty() => continue,
                Login::AtLanding => Some(mine[0].clone()),
                Login::Elsewhere => Some(z.clone()),
            };
            for access in [Access::Own, Access::Denied, Access::Granted] {
                let acc = match access {
                    Access::Own => None,
                    Access::Denied => Some(list([z.clone()])),
                    Access::Granted => {
                        let mut a = locs.clone();
                        a.extend(lands.iter().cloned());
                        a.sort();
                        a.dedup();
                        Some(list(a))
                    }
                };
                let class = RecipientClass {
                    starter: false,
                    assoc,
                    login,
                    access,
                };
                let id = format!("staff{}", out.len() + 1);
                out.push((class, (id, list(locs.clone()), at.clone(), acc)));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The matrix

/// One row of the decision matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub policy: &'static str,
    /// A stable key for the class (for `diff` and scripts).
    pub class: String,
    /// The class in plain words.
    pub description: String,
    /// A concrete witness.
    pub example: String,
    /// The outcome, with the witness's ids.
    pub outcome: String,
    pub rule: String,
    /// Outbound: the text rule that decided the final text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_rule: Option<String>,
    /// Inbound: each recipient class of the witness and the grant that admits it (none: not live).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<LiveCell>,
    /// Rules that decided or were considered here and use Rhai or literal ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<String>,
    /// Why this class is a gap, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<String>,
    #[serde(skip)]
    pub roles: BTreeSet<Role>,
    /// The witness world and the command that routes its event.
    #[serde(skip)]
    pub witness: Witness,
}

/// A witness of a class: a world file and the `commroute route` command for its event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Witness {
    pub world: String,
    pub command: String,
}

fn inbound_command(r: &InboundRequest) -> String {
    let mut c = format!("commroute route inbound --world witness.yaml --client {}", r.client);
    if let Some(a) = &r.answering {
        c.push_str(&format!(" --answering {a}"));
    }
    if let (Some(s), Some(f)) = (&r.staff, &r.from) {
        c.push_str(&format!(" --staff {s} --from {f}"));
    }
    c
}

/// One recipient class and whether it receives the message live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveCell {
    pub recipient: RecipientClass,
    /// The first grant that admits them, or none.
    pub grant: Option<String>,
}

/// What a location is to the event: in the client's locations, in the staff
/// member's, the last appointment, the started-from location, the answered
/// location. The landing set of a class is a set of roles, whatever the ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Role {
    pub client: bool,
    pub staff: bool,
    pub last: bool,
    pub from: bool,
    pub answered: bool,
}

/// The roles of the locations of `set` in an event.
pub fn roles(world: &World, ev: &Inbound, set: &LocSet) -> BTreeSet<Role> {
    let ctx = inbound_ctx(world, ev);
    set.iter()
        .map(|l| Role {
            client: ctx.client.locations.contains(l),
            staff: ctx.set(Fact::StaffLocations).contains(l),
            last: ctx.client.last_appointment == Some(l),
            from: ctx.started_from == Some(l),
            answered: ctx.answered_location == Some(l),
        })
        .collect()
}

/// The matrix and the findings of one rule set.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub rows: Vec<Row>,
    pub shadowed: Vec<Shadowed>,
    pub gaps: Vec<Gap>,
    /// Grants that admit staff, but never anyone another grant does not also
    /// admit: without one, the same staff receive every message live (a note,
    /// not a failure: every grant that admits counts, and a rule may state a
    /// documented reason on its own).
    pub redundant: Vec<Shadowed>,
}

/// How the delivery grants were used across the classes.
#[derive(Default)]
struct GrantUse {
    /// Grants that admitted someone who passed the gates.
    held: BTreeSet<String>,
    /// Grants that were once the only one admitting someone.
    alone: BTreeSet<String>,
    /// For each grant, the other grants that held along with it.
    with: BTreeMap<String, BTreeSet<String>>,
    /// Whether a rule failed where delivery was evaluated (or before it), so
    /// that a grant that admitted nobody may only not have been tried.
    failed: bool,
}

/// What a first-match rule did on the classes, beyond deciding: where it
/// failed and where an earlier rule's failure kept it from being tried. A
/// rule whose script fails is not one whose condition never holds, and the
/// rules after it are not shadowed by it.
#[derive(Default)]
struct Failures {
    /// Rules that failed where they decided (the class is a gap that names them).
    deciding: BTreeSet<(&'static str, String)>,
    /// Rules that failed when tried after the deciding rule, with the message.
    later: BTreeMap<(&'static str, String), String>,
    /// Rules that were never tried on some class because an earlier rule failed.
    untried: BTreeSet<(&'static str, String)>,
}

impl Failures {
    /// Records that `rules[failed]` failed while deciding: it and every
    /// rule after it were not (or not fully) evaluated.
    fn failed_at<O>(&mut self, policy: &'static str, rules: &[crate::rules::Rule<O>], failed: usize) {
        self.deciding.insert((policy, rules[failed].id.clone()));
        for r in &rules[failed + 1..] {
            self.untried.insert((policy, r.id.clone()));
        }
    }
}

/// The first rule of `rules` whose condition holds on `ctx`, evaluating the
/// conditions only: `Err(i)` when rule `i` fails first.
fn first_holding<O>(
    rules: &[crate::rules::Rule<O>],
    ctx: &Ctx,
    sb: &crate::rules::script::Sandbox,
) -> Result<usize, usize> {
    for (i, r) in rules.iter().enumerate() {
        match r.when.holds(ctx, sb) {
            Ok(true) => return Ok(i),
            Ok(false) => {}
            Err(_) => return Err(i),
        }
    }
    // Loading requires a catch-all at the end.
    Ok(rules.len().saturating_sub(1))
}

/// A rule that never decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shadowed {
    pub policy: &'static str,
    pub rule: String,
    /// The earlier rules that take every input it matches (empty: it matches no input).
    pub by: Vec<String>,
    pub reason: String,
}

/// A class that no rule decides usefully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub policy: &'static str,
    pub class: String,
    pub example: String,
    pub reason: String,
}

/// The classes to evaluate, built once and shared by the rule sets compared.
pub struct Classes {
    pub dims: Dims,
    inbound: Vec<(InboundClass, InboundWitness)>,
    outbound: Vec<(OutboundClass, World, Outbound, String, String)>,
}

impl Classes {
    /// Every class for the facts that any of `sets` reads.
    pub fn for_rules(sets: &[&RuleSet]) -> Classes {
        let dims = Dims::of(sets);
        let inbound = inbound_shapes(&dims)
            .into_iter()
            .map(|(class, shape)| (class, inbound_witness(&shape)))
            .collect();
        Classes {
            dims,
            inbound,
            outbound: outbound_witnesses(),
        }
    }

    pub fn len(&self) -> usize {
        self.inbound.len() + self.outbound.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The inbound classes, in matrix order.
    pub fn inbound_classes(&self) -> impl Iterator<Item = &InboundClass> {
        self.inbound.iter().map(|(c, _)| c)
    }

    /// The outbound classes, in matrix order.
    pub fn outbound_classes(&self) -> impl Iterator<Item = &OutboundClass> {
        self.outbound.iter().map(|(c, ..)| c)
    }
}

fn outbound_witnesses() -> Vec<(OutboundClass, World, Outbound, String, String)> {
    // Accounts: a global group with a child, a lone account, and another group's child.
    let accounts = ["group", "group-child", "solo", "other-group", "other-child"];
    let mut seen: BTreeMap<OutboundClass, (World, Outbound, String, String)> = BTreeMap::new();
    for client_account in accounts {
        for sender in accounts {
            for contact in 0u8..32 {
                let bit = |i: usize| contact & (1 << i) != 0;
                let mut y = String::from(
                    "accounts:\n  - {id: group, name: Glow Group}\n  - {id: group-child, name: Glow Uptown, parent: group}\n  - {id: solo, name: Solo Spa}\n  - {id: other-group, name: Other Group}\n  - {id: other-child, name: Other Child, parent: other-group}\nlocations:\n  - {id: A, name: A, account: solo}\nclients:\n",
                );
                y.push_str(&client_yaml(
                    client_account,
                    "[A]",
                    None,
                    [false, bit(0), bit(1), bit(2), bit(3), bit(4)],
                ));
                let world = World::parse(Source::new("<witness>", y.clone())).expect("witness worlds are valid");
                let req = OutboundRequest {
                    client: "client".into(),
                    from_account: sender.into(),
                    text: "See you at 3pm!".into(),
                };
                let ev = req.resolve(&world).expect("witness events resolve");
                let class = OutboundClass::of(&world, &ev);
                seen.entry(class).or_insert_with(|| {
                    let names = ["guest app", "valid phone", "SMS opt-in", "valid email", "email opt-in"];
                    let have: Vec<&str> = (0..5).filter(|i| bit(*i)).map(|i| names[i]).collect();
                    let example = format!(
                        "client of `{client_account}` ({}), sent from `{sender}`",
                        if have.is_empty() {
                            "nothing on file".to_string()
                        } else {
                            have.join(", ")
                        }
                    );
                    (world, ev, example, y)
                });
            }
        }
    }
    seen.into_iter().map(|(c, (w, e, x, y))| (c, w, e, x, y)).collect()
}

/// A short stable key for a class: its fields, compactly
/// (`answered=client_only,answering=confirmation,...`).
pub fn key(v: &impl Serialize) -> String {
    let json = serde_json::to_value(v).expect("classes serialise");
    let serde_json::Value::Object(m) = json else {
        unreachable!()
    };
    m.into_iter()
        .map(|(k, v)| format!("{k}={}", v.to_string().trim_matches('"')))
        .collect::<Vec<_>>()
        .join(",")
}

/// Evaluates a rule set on every class.
pub fn analyze(rules: &RuleSet, classes: &Classes) -> Analysis {
    let mut rows = Vec::new();
    let mut decided: BTreeMap<(&'static str, String), usize> = BTreeMap::new();
    // For each rule that did not decide a class but whose condition held there: the deciding rule.
    let mut taken_by: BTreeMap<(&'static str, String), BTreeSet<String>> = BTreeMap::new();
    let mut gaps = Vec::new();
    let mut granted = GrantUse::default();
    let mut failures = Failures::default();

    let ib = &rules.inbound;
    let delivery_partial: Vec<String> = rules
        .delivery
        .gates
        .iter()
        .chain(&rules.delivery.grants)
        .filter_map(|r| partial_reason(&r.when, PolicyKind::Delivery).map(|why| format!("{} ({why})", r.id)))
        .collect();
    for (class, w) in &classes.inbound {
        let ctx = inbound_ctx(&w.world, &w.event);
        let mut partial = BTreeSet::new();
        let (row, lands) = match rules.route_inbound(&w.world, &w.event) {
            Err(e) => {
                // Which rule failed: an inbound condition (the rules after it
                // were not tried), or the decided rule's outcome, or delivery.
                // Either way no grant was tried on this class.
                match first_holding(&ib.rules.rules, &ctx, &ib.file.sandbox) {
                    Err(i) => failures.failed_at("inbound", &ib.rules.rules, i),
                    Ok(i) if ib.rules.rules[i].id == e.rule => failures.failed_at("inbound", &ib.rules.rules, i),
                    Ok(i) => *decided.entry(("inbound", ib.rules.rules[i].id.clone())).or_default() += 1,
                }
                granted.failed = true;
                (
                    Row {
                        policy: "inbound",
                        class: key(class),
                        description: class.describe(),
                        example: w.example.clone(),
                        outcome: format!("error: {e}"),
                        rule: e.rule.clone(),
                        text_rule: None,
                        live: vec![],
                        partial: vec![],
                        gap: Some(format!("rule `{}` fails: {}", e.rule, e.message)),
                        roles: BTreeSet::new(),
                        witness: Witness {
                            world: w.yaml.clone(),
                            command: inbound_command(&w.request),
                        },
                    },
                    None,
                )
            }
            Ok(d) => {
                let rule = &ib.rules.rules[d.rule];
                for r in &ib.rules.rules[..=d.rule] {
                    if let Some(why) = partial_reason(&r.when, PolicyKind::Inbound) {
                        partial.insert(format!("{} ({why})", r.id));
                    }
                }
                for r in &ib.rules.rules[d.rule + 1..] {
                    tried_later(
                        &mut taken_by,
                        &mut failures,
                        "inbound",
                        r,
                        &rule.id,
                        &ctx,
                        &ib.file.sandbox,
                    );
                }
                *decided.entry(("inbound", rule.id.clone())).or_default() += 1;
                let ids = w.world.loc_ids(&d.lands_at);
                let gap = d
                    .lands_at
                    .is_empty()
                    .then(|| format!("`{}` lands the message nowhere: no inbox holds it", rule.id));
                (
                    Row {
                        policy: "inbound",
                        class: key(class),
                        description: class.describe(),
                        example: w.example.clone(),
                        outcome: format!("lands at {}", list(ids.iter().cloned())),
                        rule: rule.id.clone(),
                        text_rule: None,
                        live: vec![],
                        partial: partial.into_iter().collect(),
                        gap,
                        roles: roles(&w.world, &w.event, &d.lands_at),
                        witness: Witness {
                            world: w.yaml.clone(),
                            command: inbound_command(&w.request),
                        },
                    },
                    Some(ids),
                )
            }
        };
        let mut row = row;
        if let Some(g) = &row.gap {
            gaps.push(Gap {
                policy: "inbound",
                class: row.description.clone(),
                example: row.example.clone(),
                reason: g.clone(),
            });
        }
        if let Some(lands) = lands.filter(|l| !l.is_empty()) {
            let (live, yaml) = live_cells(rules, class, w, &lands, &mut granted);
            row.live = live;
            row.witness.world = yaml;
            row.partial.extend(delivery_partial.iter().cloned());
        }
        rows.push(row);
    }

    let ob = &rules.outbound;
    for (class, world, ev, example, yaml) in &classes.outbound {
        let witness = Witness {
            world: yaml.clone(),
            command: format!(
                "commroute route outbound --world witness.yaml --client client --from-account {} --text {:?}",
                world.accounts[ev.sender as usize].id, ev.text
            ),
        };
        let mut ctx = Ctx::new(world, ev.client);
        ctx.sender = Some(ev.sender);
        match rules.route_outbound(world, ev) {
            Err(e) => {
                match first_holding(&ob.rules.rules, &ctx, &ob.file.sandbox) {
                    Err(i) => failures.failed_at("outbound", &ob.rules.rules, i),
                    Ok(i) if ob.rules.rules[i].id == e.rule => failures.failed_at("outbound", &ob.rules.rules, i),
                    Ok(i) => {
                        *decided.entry(("outbound", ob.rules.rules[i].id.clone())).or_default() += 1;
                        // The text rules run after the channel is known.
                        if let Some(t) = ob.text.rules.iter().position(|r| r.id == e.rule) {
                            failures.failed_at("text", &ob.text.rules, t);
                        }
                    }
                }
                gaps.push(Gap {
                    policy: "outbound",
                    class: class.describe(),
                    example: example.clone(),
                    reason: format!("rule `{}` fails: {}", e.rule, e.message),
                });
                rows.push(Row {
                    policy: "outbound",
                    class: key(class),
                    description: class.describe(),
                    example: example.clone(),
                    outcome: format!("error: {e}"),
                    rule: e.rule,
                    text_rule: None,
                    live: vec![],
                    partial: vec![],
                    gap: Some(e.message),
                    roles: BTreeSet::new(),
                    witness,
                });
            }
            Ok(d) => {
                let rule = &ob.rules.rules[d.rule];
                let text_rule = &ob.text.rules[d.text_rule];
                let mut partial = BTreeSet::new();
                for r in &ob.rules.rules[..=d.rule] {
                    if let Some(why) = partial_reason(&r.when, PolicyKind::Outbound) {
                        partial.insert(format!("{} ({why})", r.id));
                    }
                }
                for r in &ob.text.rules[..=d.text_rule] {
                    if let Some(why) = partial_reason(&r.when, PolicyKind::Text) {
                        partial.insert(format!("{} ({why})", r.id));
                    }
                }
                for r in &ob.rules.rules[d.rule + 1..] {
                    tried_later(
                        &mut taken_by,
                        &mut failures,
                        "outbound",
                        r,
                        &rule.id,
                        &ctx,
                        &ob.file.sandbox,
                    );
                }
                ctx.channel = d.channel;
                for r in &ob.text.rules[d.text_rule + 1..] {
                    tried_later(
                        &mut taken_by,
                        &mut failures,
                        "text",
                        r,
                        &text_rule.id,
                        &ctx,
                        &ob.file.sandbox,
                    );
                }
                *decided.entry(("outbound", rule.id.clone())).or_default() += 1;
                *decided.entry(("text", text_rule.id.clone())).or_default() += 1;
                rows.push(Row {
                    policy: "outbound",
                    class: key(class),
                    description: class.describe(),
                    example: example.clone(),
                    outcome: format!("{}, text `{}`", d.channel, d.text),
                    rule: rule.id.clone(),
                    text_rule: Some(text_rule.id.clone()),
                    live: vec![],
                    partial: partial.into_iter().collect(),
                    gap: None,
                    roles: BTreeSet::new(),
                    witness,
                });
            }
        }
    }

    // Rules that never decide.
    let mut shadowed = Vec::new();
    let first_match = ib
        .rules
        .rules
        .iter()
        .map(|r| ("inbound", &r.id))
        .chain(ob.rules.rules.iter().map(|r| ("outbound", &r.id)))
        .chain(ob.text.rules.iter().map(|r| ("text", &r.id)));
    for (policy, id) in first_match {
        let k = (policy, id.clone());
        // A rule that failed while deciding is a gap already; one that an
        // earlier rule's failure kept from being tried may decide there.
        if decided.contains_key(&k) || failures.deciding.contains(&k) || failures.untried.contains(&k) {
            continue;
        }
        let by: Vec<String> = taken_by
            .get(&k)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let reason = if let Some(message) = failures.later.get(&k) {
            format!(
                "`{id}` never decides: every input reaches {} first, and where `{id}` is tried it fails: {message}",
                by.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ")
            )
        } else if by.is_empty() {
            format!("`{id}` holds for no input: its condition can never be met")
        } else {
            format!(
                "`{id}` never decides: every input it matches is taken by {}",
                by.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ")
            )
        };
        shadowed.push(Shadowed {
            policy,
            rule: id.clone(),
            by,
            reason,
        });
    }
    let mut redundant = Vec::new();
    for g in &rules.delivery.grants {
        if granted.held.contains(&g.id) && !granted.alone.contains(&g.id) && !granted.failed {
            let by: Vec<String> = granted
                .with
                .get(&g.id)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            redundant.push(Shadowed {
                policy: "delivery",
                rule: g.id.clone(),
                reason: format!(
                    "`{}` never admits anyone that {} does not also admit: without it the same staff receive every message live",
                    g.id,
                    by.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(" or ")
                ),
                by,
            });
        }
        // When a rule failed, some staff were never tried: a grant that
        // admitted nobody is not known to admit nobody.
        if !granted.held.contains(&g.id) && !granted.failed {
            shadowed.push(Shadowed {
                policy: "delivery",
                rule: g.id.clone(),
                by: rules.delivery.gates.iter().map(|g| g.id.clone()).collect(),
                reason: format!("`{}` admits no staff member that passes the gates, for any input", g.id),
            });
        }
    }
    Analysis {
        rows,
        shadowed,
        gaps,
        redundant,
    }
}

/// Evaluates a rule after the one that decided: records the decider as
/// taking the inputs where the rule holds, and a failure as a failure (not
/// as a condition that does not hold).
fn tried_later<O>(
    taken_by: &mut BTreeMap<(&'static str, String), BTreeSet<String>>,
    failures: &mut Failures,
    policy: &'static str,
    r: &crate::rules::Rule<O>,
    decider: &str,
    ctx: &Ctx,
    sb: &crate::rules::script::Sandbox,
) {
    match r.when.holds(ctx, sb) {
        Ok(false) => {}
        Ok(true) => {
            taken_by
                .entry((policy, r.id.clone()))
                .or_default()
                .insert(decider.to_owned());
        }
        Err(message) => {
            taken_by
                .entry((policy, r.id.clone()))
                .or_default()
                .insert(decider.to_owned());
            failures
                .later
                .entry((policy, r.id.clone()))
                .or_insert(message.to_string());
        }
    }
}

/// Who receives the witness's message live, per recipient class.
fn live_cells(
    rules: &RuleSet,
    class: &InboundClass,
    w: &InboundWitness,
    lands: &[String],
    granted: &mut GrantUse,
) -> (Vec<LiveCell>, String) {
    let others = other_recipients(lands);
    let shape_world = &w.world;
    // Rebuild the witness with the other recipients added.
    let entries: Vec<_> = others.iter().map(|(c, e)| (e.clone(), c.to_string())).collect();
    let (world, yaml) = with_staff(shape_world, &entries);
    let ev = w.request.resolve(&world).expect("witness events resolve");
    let mut cells = Vec::new();
    let grant_of = |world: &World, ev: &Inbound, staff: &str, granted: &mut GrantUse| -> Option<String> {
        let d = match rules.route_inbound(world, ev) {
            Ok(d) => d,
            Err(_) => {
                granted.failed = true;
                return None;
            }
        };
        let s = world.staff_member(staff)?;
        d.delivered_to.iter().find(|r| r.staff == s).map(|r| {
            let id = rules.delivery.grants[r.grant].id.clone();
            // Every grant that holds counts, not only the first.
            let mut ctx = inbound_ctx(world, ev);
            ctx.lands_at = d.lands_at.clone();
            ctx.recipient = Some((s, &world.staff[s as usize]));
            let holding: Vec<&String> = rules
                .delivery
                .grants
                .iter()
                .filter(|g| match g.when.holds(&ctx, &rules.delivery.file.sandbox) {
                    Ok(held) => held,
                    Err(_) => {
                        granted.failed = true;
                        false
                    }
                })
                .map(|g| &g.id)
                .collect();
            for g in &holding {
                granted.held.insert((*g).clone());
                let others = granted.with.entry((*g).clone()).or_default();
                others.extend(holding.iter().filter(|o| *o != g).map(|o| (*o).clone()));
            }
            if let [only] = holding.as_slice() {
                granted.alone.insert((*only).clone());
            }
            id
        })
    };
    for (rc, (id, ..)) in &others {
        cells.push(LiveCell {
            recipient: *rc,
            grant: grant_of(&world, &ev, id, granted),
        });
    }
    if class.started_by_staff {
        let starter = world.staff_member("starter").expect("the witness has a starter");
        let s_locs = world.staff[starter as usize].locations.clone();
        let landing: Vec<Loc> = lands.iter().filter_map(|l| world.location(l)).collect();
        let in_m: Vec<Loc> = s_locs.iter().filter(|l| landing.contains(l)).collect();
        let out_m: Vec<Loc> = s_locs.iter().filter(|l| !landing.contains(l)).collect();
        let assoc = if in_m.is_empty() {
            Assoc::None
        } else if in_m.len() == landing.len() {
            Assoc::All
        } else {
            Assoc::Some
        };
        let z = world.location(ELSEWHERE).expect("the witness has Z");
        for login in [Login::Out, Login::AtLanding, Login::Elsewhere] {
            let at = match login {
                Login::Out => None,
                Login::AtLanding => match in_m.first() {
                    Some(l) => Some(*l),
                    None => continue,
                },
                Login::Elsewhere => match out_m.first() {
                    Some(l) => Some(*l),
                    None => continue,
                },
            };
            for access in [Access::Own, Access::Denied, Access::Granted] {
                let mut v = world.clone();
                v.set_login(starter, at);
                match access {
                    Access::Own => {}
                    Access::Denied => {
                        let mut a = LocSet::from_unsorted(out_m.iter().copied());
                        a.insert(z);
                        v.set_access(starter, a);
                    }
                    Access::Granted => v.set_access(
                        starter,
                        LocSet::from_unsorted(s_locs.iter().chain(landing.iter().copied())),
                    ),
                }
                cells.push(LiveCell {
                    recipient: RecipientClass {
                        starter: true,
                        assoc,
                        login,
                        access,
                    },
                    grant: grant_of(&v, &ev, "starter", granted),
                });
            }
        }
    }
    cells.sort_by_key(|c| c.recipient);
    (cells, yaml)
}

/// A copy of a witness world with more staff entries.
fn with_staff(world: &World, entries: &[(StaffYaml, String)]) -> (World, String) {
    let mut y = String::from("accounts:\n");
    for a in &world.accounts {
        y.push_str(&format!("  - {{id: {}, name: {}", a.id, a.name));
        if let Some(p) = a.parent {
            y.push_str(&format!(", parent: {}", world.accounts[p as usize].id));
        }
        y.push_str("}\n");
    }
    y.push_str("locations:\n");
    for l in &world.locations {
        y.push_str(&format!(
            "  - {{id: {0}, name: {0}, account: {1}}}\n",
            l.id, world.accounts[l.account as usize].id
        ));
    }
    y.push_str("staff:\n");
    for s in &world.staff {
        y.push_str(&format!(
            "  - {{id: {}, name: {}, locations: {}}}\n",
            s.id,
            s.name,
            list(world.loc_ids(&s.locations))
        ));
    }
    for ((id, locs, login, access), what) in entries {
        y.push_str(&format!("  - {{id: {id}, name: {id}, locations: {locs}"));
        if let Some(l) = login {
            y.push_str(&format!(", logged_in_at: {l}"));
        }
        if let Some(a) = access {
            y.push_str(&format!(", communicator_access: {a}"));
        }
        y.push_str(&format!("}}  # {what}\n"));
    }
    y.push_str("clients:\n");
    for c in &world.clients {
        y.push_str(&client_yaml(
            &world.accounts[c.account as usize].id,
            &list(world.loc_ids(&c.locations)),
            c.last_appointment.map(|l| world.loc_id(l).to_owned()),
            [
                false,
                c.guest_app,
                c.phone.is_some(),
                c.sms_opt_in,
                c.email.is_some(),
                c.email_opt_in,
            ],
        ));
    }
    let world = World::parse(Source::new("<witness>", y.clone())).expect("witness worlds are valid");
    (world, y)
}

impl Analysis {
    /// The matrix row of an inbound class.
    pub fn inbound_row(&self, class: &InboundClass) -> Option<&Row> {
        let k = key(class);
        self.rows.iter().find(|r| r.policy == "inbound" && r.class == k)
    }

    /// The matrix row of an outbound class.
    pub fn outbound_row(&self, class: &OutboundClass) -> Option<&Row> {
        let k = key(class);
        self.rows.iter().find(|r| r.policy == "outbound" && r.class == k)
    }

    /// Whether the rule set has no shadowed rule and no gap.
    pub fn clean(&self) -> bool {
        self.shadowed.is_empty() && self.gaps.is_empty()
    }
}
