//! Live delivery on an inbound witness: who receives the message live, per
//! recipient class, and which grant admits them. The witness world gets one
//! staff member per class of other staff; the staff member who started the
//! conversation is tried logged in and out and with each kind of access.
//!
//! The recipient classes are defined in `classes.rs`; the rows they fill
//! are built in `matrix.rs`.

use serde::Serialize;

use super::classes::{Access, Assoc, Login, RecipientClass};
use super::inbound_class::InboundClass;
use super::matrix::GrantUse;
use super::witness::{other_recipients, with_staff, InboundWitness, ELSEWHERE};
use crate::engine::event::Inbound;
use crate::engine::inbound_ctx;
use crate::rules::RuleSet;
use crate::world::locset::{Loc, LocSet};
use crate::world::{StaffIdx, World};

/// One recipient class and whether it receives the message live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveCell {
    /// The class of staff member.
    pub recipient: RecipientClass,
    /// The first grant that admits them, or none.
    pub grant: Option<String>,
}

/// Who receives the witness's message live, per recipient class, and the
/// witness world with the other recipients added, as a world file.
pub(super) fn live_cells(
    rules: &RuleSet,
    class: &InboundClass,
    w: &InboundWitness,
    lands: &[String],
    granted: &mut GrantUse,
) -> (Vec<LiveCell>, String) {
    let others = other_recipients(lands);
    // Rebuild the witness with the other recipients added.
    let entries: Vec<_> = others.iter().map(|(c, s)| (s.clone(), c.to_string())).collect();
    let (world, yaml) = with_staff(&w.world, &entries);
    let ev = w.request.resolve(&world).expect("witness events resolve");
    let mut cells = Vec::new();
    for (rc, staff) in &others {
        cells.push(LiveCell {
            recipient: *rc,
            grant: grant_of(rules, &world, &ev, &staff.id, granted),
        });
    }
    if class.started_by_staff {
        starter_cells(rules, &world, &ev, lands, granted, &mut cells);
    }
    cells.sort_by_key(|c| c.recipient);
    (cells, yaml)
}

/// The cells of the staff member who started the conversation: logged out,
/// in at a landing location or elsewhere, with each kind of access.
fn starter_cells(
    rules: &RuleSet,
    world: &World,
    ev: &Inbound,
    lands: &[String],
    granted: &mut GrantUse,
    cells: &mut Vec<LiveCell>,
) {
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
                grant: grant_of(rules, &v, ev, "starter", granted),
            });
        }
    }
}

/// The first grant that admits `staff` to the message live, if any;
/// records every grant that holds for them in `granted`.
fn grant_of(rules: &RuleSet, world: &World, ev: &Inbound, staff: &str, granted: &mut GrantUse) -> Option<String> {
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
        record_grants(rules, world, ev, &d.lands_at, s, granted);
        id
    })
}

/// Records the grants that hold for a recipient (every one counts, not
/// only the first), and whether one held alone.
fn record_grants(rules: &RuleSet, world: &World, ev: &Inbound, lands_at: &LocSet, s: StaffIdx, granted: &mut GrantUse) {
    let mut ctx = inbound_ctx(world, ev);
    ctx.lands_at = lands_at.clone();
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
}
