//! Witness worlds: for each class, a small world and an event in it that
//! belong to the class. A witness is built in memory with the world builder
//! for the engine to route, and written out as the world file that
//! `commroute analyze --witness` prints; both come from the same entries.
//!
//! Which classes exist is decided in `inbound_class.rs` and `classes.rs`;
//! routing the witnesses is in `matrix.rs` and `live.rs`.

use std::collections::BTreeMap;

use super::classes::{Access, Assoc, Login, OutboundClass, RecipientClass};
use super::dims::CONTACT_FACTS;
use super::inbound_class::InboundShape;
use crate::engine::event::{Inbound, InboundRequest, Outbound, OutboundRequest};
use crate::world::locset::{Loc, LocSet};
use crate::world::{NewAccount, NewClient, NewLocation, NewStaff, World};

/// The extra location outside everything, for recipients' other locations.
pub(super) const ELSEWHERE: &str = "Z";

/// The phone number and email of a witness client who has one.
const PHONE: &str = "+1 650 253 0000";
const EMAIL: &str = "client@example.com";

/// The id of location number `l` of a witness shape.
fn loc_name(l: Loc) -> String {
    let l = l as usize;
    if l < 25 {
        ((b'A' + l as u8) as char).to_string()
    } else {
        format!("L{l}")
    }
}

/// Ids written as a YAML flow list: `[A, B]`.
pub(super) fn id_list(ids: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", ids.into_iter().collect::<Vec<_>>().join(", "))
}

/// The entries of a witness world, in the order they are written. Staff
/// entries may carry a comment (the recipient class they stand for).
#[derive(Debug, Clone, Default)]
struct WitnessWorld {
    accounts: Vec<NewAccount>,
    locations: Vec<NewLocation>,
    staff: Vec<(NewStaff, Option<String>)>,
    clients: Vec<NewClient>,
}

impl WitnessWorld {
    /// The entries of a built world, as they would be written to build it
    /// again (staff logged out, with their own access).
    fn of(world: &World) -> WitnessWorld {
        let account_id = |a: u32| world.accounts[a as usize].id.clone();
        WitnessWorld {
            accounts: world
                .accounts
                .iter()
                .map(|a| NewAccount {
                    parent: a.parent.map(account_id),
                    ..NewAccount::new(a.id.clone(), a.name.clone())
                })
                .collect(),
            locations: world
                .locations
                .iter()
                .map(|l| NewLocation::new(l.id.clone(), l.id.clone(), account_id(l.account)))
                .collect(),
            staff: world
                .staff
                .iter()
                .map(|s| {
                    (
                        NewStaff::new(s.id.clone(), s.name.clone(), world.loc_ids(&s.locations)),
                        None,
                    )
                })
                .collect(),
            clients: world
                .clients
                .iter()
                .map(|c| {
                    witness_client(
                        &account_id(c.account),
                        world.loc_ids(&c.locations),
                        c.last_appointment.map(|l| world.loc_id(l).to_owned()),
                        [
                            c.guest_app,
                            c.phone.is_some(),
                            c.sms_opt_in,
                            c.email.is_some(),
                            c.email_opt_in,
                        ],
                    )
                })
                .collect(),
        }
    }

    /// The world, built in memory.
    fn build(&self) -> World {
        let mut b = World::builder();
        for a in &self.accounts {
            b.account(a.clone());
        }
        for l in &self.locations {
            b.location(l.clone());
        }
        for (s, _) in &self.staff {
            b.staff(s.clone());
        }
        for c in &self.clients {
            b.client(c.clone());
        }
        b.build().expect("witness worlds are valid")
    }

    /// The world as a world file.
    fn yaml(&self) -> String {
        let mut y = String::from("accounts:\n");
        for a in &self.accounts {
            y.push_str(&format!("  - {{id: {}, name: {}", a.id, a.name));
            if let Some(p) = &a.parent {
                y.push_str(&format!(", parent: {p}"));
            }
            y.push_str("}\n");
        }
        y.push_str("locations:\n");
        for l in &self.locations {
            y.push_str(&format!(
                "  - {{id: {}, name: {}, account: {}}}\n",
                l.id, l.name, l.account
            ));
        }
        if !self.staff.is_empty() {
            y.push_str("staff:\n");
            for (s, note) in &self.staff {
                y.push_str(&staff_yaml(s, note.as_deref()));
            }
        }
        y.push_str("clients:\n");
        for c in &self.clients {
            y.push_str(&client_yaml(c));
        }
        y
    }
}

fn staff_yaml(s: &NewStaff, note: Option<&str>) -> String {
    let mut y = format!(
        "  - {{id: {}, name: {}, locations: {}",
        s.id,
        s.name,
        id_list(s.locations.iter().cloned())
    );
    if let Some(l) = &s.logged_in_at {
        y.push_str(&format!(", logged_in_at: {l}"));
    }
    if let Some(a) = &s.access {
        y.push_str(&format!(", communicator_access: {}", id_list(a.iter().cloned())));
    }
    y.push('}');
    if let Some(note) = note {
        y.push_str(&format!("  # {note}"));
    }
    y.push('\n');
    y
}

fn client_yaml(c: &NewClient) -> String {
    let mut y = format!(
        "  - {{id: {}, name: {}, account: {}, locations: {}",
        c.id,
        c.name,
        c.account,
        id_list(c.locations.iter().cloned())
    );
    if let Some(l) = &c.last_appointment_at {
        y.push_str(&format!(", last_appointment_at: {l}"));
    }
    if let Some(p) = &c.phone {
        y.push_str(&format!(", phone: \"{p}\""));
    }
    if let Some(e) = &c.email {
        y.push_str(&format!(", email: {e}"));
    }
    y.push_str(&format!(
        ", guest_app: {}, sms_opt_in: {}, email_opt_in: {}}}\n",
        c.guest_app, c.sms_opt_in, c.email_opt_in
    ));
    y
}

/// The one client of a witness world. `facts` are guest app, valid phone,
/// SMS opt-in, valid email and email opt-in.
fn witness_client(account: &str, locations: Vec<String>, last: Option<String>, facts: [bool; 5]) -> NewClient {
    let [app, phone, sms, email, email_in] = facts;
    NewClient {
        last_appointment_at: last,
        phone: phone.then(|| PHONE.to_owned()),
        sms_opt_in: sms,
        email: email.then(|| EMAIL.to_owned()),
        email_opt_in: email_in,
        guest_app: app,
        ..NewClient::new("client", "Client", account, locations)
    }
}

/// The witness of an inbound class.
pub(super) struct InboundWitness {
    pub(super) world: World,
    pub(super) yaml: String,
    pub(super) event: Inbound,
    pub(super) request: InboundRequest,
    pub(super) example: String,
}

/// The witness of an inbound shape: its locations `A`, `B`… and `Z`
/// outside everything, the client, and the staff member who started the
/// conversation, if one did.
pub(super) fn inbound_witness(shape: &InboundShape) -> InboundWitness {
    let global = shape.contact & 1 != 0;
    let bit = |i: usize| shape.contact & (1 << i) != 0;
    let ids = |s: &LocSet| s.iter().map(loc_name).collect::<Vec<_>>();
    let mut spec = WitnessWorld::default();
    spec.accounts.push(NewAccount::new("acct", "Account"));
    if global {
        spec.accounts.push(NewAccount {
            parent: Some("acct".into()),
            ..NewAccount::new("acct-child", "Child Account")
        });
    }
    for l in 0..shape.n as Loc {
        spec.locations.push(NewLocation::new(loc_name(l), loc_name(l), "acct"));
    }
    spec.locations.push(NewLocation::new(ELSEWHERE, ELSEWHERE, "acct"));
    if let Some(s) = &shape.staff {
        spec.staff.push((NewStaff::new("starter", "Starter", ids(s)), None));
    }
    spec.clients.push(witness_client(
        "acct",
        ids(&shape.client),
        shape.last.map(loc_name),
        [bit(1), bit(2), bit(3), bit(4), bit(5)],
    ));
    let world = spec.build();
    let (request, example) = inbound_request(shape, id_list(ids(&shape.client)));
    let event = request.resolve(&world).expect("witness events resolve");
    InboundWitness {
        world,
        yaml: spec.yaml(),
        event,
        request,
        example,
    }
}

/// The event of an inbound shape's witness, and the witness in words.
fn inbound_request(shape: &InboundShape, client_locations: String) -> (InboundRequest, String) {
    let bit = |i: usize| shape.contact & (1 << i) != 0;
    let mut request = InboundRequest {
        client: "client".into(),
        ..Default::default()
    };
    let mut example = format!("client at {client_locations}");
    if let Some(l) = shape.last {
        example.push_str(&format!(" (last appointment {})", loc_name(l)));
    }
    match (&shape.staff, shape.from, shape.answered) {
        (Some(s), Some(f), _) => {
            request.staff = Some("starter".into());
            request.from = Some(loc_name(f));
            example.push_str(&format!(
                ", staff at {} started it from {}",
                id_list(s.iter().map(loc_name)),
                loc_name(f)
            ));
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
    (request, example)
}

/// The `commroute route` command that routes an inbound witness's event.
pub(super) fn inbound_command(r: &InboundRequest) -> String {
    let mut c = format!("commroute route inbound --world witness.yaml --client {}", r.client);
    if let Some(a) = &r.answering {
        c.push_str(&format!(" --answering {a}"));
    }
    if let (Some(s), Some(f)) = (&r.staff, &r.from) {
        c.push_str(&format!(" --staff {s} --from {f}"));
    }
    c
}

/// The witness of an outbound class.
pub(super) struct OutboundWitness {
    pub(super) world: World,
    pub(super) event: Outbound,
    pub(super) example: String,
    pub(super) yaml: String,
}

/// Every outbound class with its witness, in a stable order.
pub(super) fn outbound_witnesses() -> Vec<(OutboundClass, OutboundWitness)> {
    // Accounts: a global group with a child, a lone account, and another group's child.
    let accounts = ["group", "group-child", "solo", "other-group", "other-child"];
    let mut seen: BTreeMap<OutboundClass, OutboundWitness> = BTreeMap::new();
    for client_account in accounts {
        for sender in accounts {
            for contact in 0u8..32 {
                let bit = |i: usize| contact & (1 << i) != 0;
                let spec = outbound_world(client_account, [bit(0), bit(1), bit(2), bit(3), bit(4)]);
                let world = spec.build();
                let req = OutboundRequest {
                    client: "client".into(),
                    from_account: sender.into(),
                    text: "See you at 3pm!".into(),
                };
                let event = req.resolve(&world).expect("witness events resolve");
                let class = OutboundClass::of(&world, &event);
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
                    OutboundWitness {
                        world,
                        event,
                        example,
                        yaml: spec.yaml(),
                    }
                });
            }
        }
    }
    seen.into_iter().collect()
}

/// An outbound witness world: two groups of accounts and a lone one, and
/// the client of `client_account` with the contact `facts` of [`witness_client`].
fn outbound_world(client_account: &str, facts: [bool; 5]) -> WitnessWorld {
    let account = |id: &str, name: &str, parent: Option<&str>| NewAccount {
        parent: parent.map(Into::into),
        ..NewAccount::new(id, name)
    };
    WitnessWorld {
        accounts: vec![
            account("group", "Glow Group", None),
            account("group-child", "Glow Uptown", Some("group")),
            account("solo", "Solo Spa", None),
            account("other-group", "Other Group", None),
            account("other-child", "Other Child", Some("other-group")),
        ],
        locations: vec![NewLocation::new("A", "A", "solo")],
        staff: vec![],
        clients: vec![witness_client(client_account, vec!["A".into()], None, facts)],
    }
}

/// The other-staff recipient classes for a landing set, each realised as a
/// staff member (`staff1`, `staff2`…).
pub(super) fn other_recipients(lands: &[String]) -> Vec<(RecipientClass, NewStaff)> {
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
                    Access::Denied => Some(vec![z.clone()]),
                    Access::Granted => {
                        let mut a = locs.clone();
                        a.extend(lands.iter().cloned());
                        a.sort();
                        a.dedup();
                        Some(a)
                    }
                };
                let class = RecipientClass {
                    starter: false,
                    assoc,
                    login,
                    access,
                };
                let id = format!("staff{}", out.len() + 1);
                out.push((
                    class,
                    NewStaff {
                        logged_in_at: at.clone(),
                        access: acc,
                        ..NewStaff::new(id.clone(), id, locs.clone())
                    },
                ));
            }
        }
    }
    out
}

/// A copy of a witness world with more staff, each with a comment saying
/// what they stand for; and the copy as a world file.
pub(super) fn with_staff(world: &World, entries: &[(NewStaff, String)]) -> (World, String) {
    let mut spec = WitnessWorld::of(world);
    spec.staff
        .extend(entries.iter().map(|(s, what)| (s.clone(), Some(what.clone()))));
    (spec.build(), spec.yaml())
}
