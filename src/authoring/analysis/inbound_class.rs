//! Inbound classes: where the single locations of an inbound event lie
//! relative to the client's and the starting staff member's locations, the
//! counts, and the contact facts; how an event is classified, and the
//! enumeration of every class with a witness shape.
//!
//! Turning a shape into a world is in `witness.rs`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::dims::{Dims, CONTACT_FACTS};
use crate::engine::event::{Inbound, Start};
use crate::rules::facts::{Answering, Ctx};
use crate::world::locset::{Loc, LocSet};
use crate::world::World;

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
    /// A staff member started the conversation.
    pub started_by_staff: bool,
    /// What kind of message the client answers.
    #[serde(serialize_with = "answering_name")]
    pub answering: Answering,
    /// Where the answered message's location lies.
    pub answered: Place,
    /// Where the last appointment lies.
    pub last: Place,
    /// Where the staff member started the conversation from.
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
    /// See `more_shared`.
    pub more_client_only: bool,
    /// See `more_shared`.
    pub more_staff_only: bool,
    /// Bits over `CONTACT_FACTS` (only those some rule reads vary).
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
pub(super) struct InboundShape {
    pub(super) n: usize,
    pub(super) client: LocSet,
    pub(super) staff: Option<LocSet>,
    pub(super) last: Option<Loc>,
    pub(super) from: Option<Loc>,
    pub(super) answering: Answering,
    pub(super) answered: Option<Loc>,
    pub(super) contact: u8,
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
            &InboundShape {
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

fn classify(s: &InboundShape, dims: &Dims) -> InboundClass {
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
pub(super) fn inbound_shapes(dims: &Dims) -> Vec<(InboundClass, InboundShape)> {
    let mut seen = BTreeMap::new();
    let contacts: Vec<u8> = (0..=dims.inbound_contact)
        .filter(|b| b & !dims.inbound_contact == 0)
        .collect();
    let mut add = |shape: InboundShape| {
        let class = classify(&shape, dims);
        seen.entry(class).or_insert(shape);
    };
    for &contact in &contacts {
        client_started_shapes(dims.cap, contact, &mut add);
        staff_started_shapes(dims.cap, contact, &mut add);
    }
    seen.into_iter().collect()
}

/// Realises a shape: single locations first, then the extra ones, region by region.
#[derive(Default)]
struct ShapeBuilder {
    n: Loc,
    client: Vec<Loc>,
    staff: Vec<Loc>,
}

impl ShapeBuilder {
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

/// The shapes where the client started the conversation.
fn client_started_shapes(cap: usize, contact: u8, add: &mut impl FnMut(InboundShape)) {
    let kinds = [
        Answering::Confirmation,
        Answering::Reminder,
        Answering::Campaign,
        Answering::Other,
        Answering::Nothing,
    ];
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
                        let mut b = ShapeBuilder::default();
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
                        add(InboundShape {
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
}

/// The shapes where a staff member started the conversation.
fn staff_started_shapes(cap: usize, contact: u8, add: &mut impl FnMut(InboundShape)) {
    for from in [Place::Shared, Place::StaffOnly] {
        for last in [Place::None, Place::Shared, Place::ClientOnly] {
            for same in [false, true] {
                if same && !(last == Place::Shared && from == Place::Shared) {
                    continue;
                }
                for e_shared in 0..=cap {
                    for e_client in 0..=cap {
                        for e_staff in 0..=cap {
                            let mut b = ShapeBuilder::default();
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
                            add(InboundShape {
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
