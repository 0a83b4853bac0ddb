//! Synthetic worlds and event streams for benchmarks and load tests.
//!
//! [`write_world`] writes a world file shaped like a real salon group's
//! (global groups with franchise accounts, standalone salons, staff working at
//! several locations with some restricted access, clients with every mix of
//! history, phone and email spellings, a few of them invalid), and
//! [`write_events`] writes any number of event lines drawn from it: answers to
//! confirmations, reminders and campaigns, messages out of the blue,
//! conversations started by staff, and staff messages on every channel. Both
//! are deterministic for a seed. `examples/generate.rs` is the command line.

use std::io::{self, Write};

/// The size of a generated world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Global groups, each with `children` franchise accounts.
    pub groups: usize,
    /// Franchise accounts per global group.
    pub children: usize,
    /// Accounts without a parent or children.
    pub standalone: usize,
    /// Salon locations, spread over all the accounts.
    pub locations: usize,
    /// Staff members, each working at one or more locations.
    pub staff: usize,
    /// Clients of the salon group.
    pub clients: usize,
    /// The seed: the same shape and seed write the same world.
    pub seed: u64,
}

impl Shape {
    /// 100,000 clients, 2,000 staff, 300 locations in 40 accounts.
    pub const LARGE: Shape = Shape {
        groups: 6,
        children: 5,
        standalone: 4,
        locations: 300,
        staff: 2_000,
        clients: 100_000,
        seed: 1,
    };

    /// The same proportions, small enough for tests.
    pub const SMALL: Shape = Shape {
        groups: 2,
        children: 2,
        standalone: 1,
        locations: 12,
        staff: 60,
        clients: 300,
        seed: 1,
    };

    /// How many accounts the world has: groups, their franchises and the standalone ones.
    pub fn accounts(&self) -> usize {
        self.groups * (1 + self.children) + self.standalone
    }
}

/// A small, fast, deterministic random source (SplitMix64).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

struct Acct {
    id: String,
    country: &'static str,
    /// Child accounts, for groups.
    children: Vec<usize>,
    locations: Vec<usize>,
}

struct Member {
    locations: Vec<usize>,
}

struct Person {
    account: usize,
    locations: Vec<usize>,
}

/// The world's entities, enough to draw events that resolve.
pub struct Model {
    accounts: Vec<Acct>,
    staff: Vec<Member>,
    clients: Vec<Person>,
    /// Staff by location.
    at: Vec<Vec<usize>>,
}

fn loc_id(l: usize) -> String {
    format!("L{l:03}")
}
fn staff_id(s: usize) -> String {
    format!("s{s:04}")
}
fn client_id(c: usize) -> String {
    format!("c{c:06}")
}

const FIRST: &[&str] = &[
    "Ana", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ian", "Jo", "Kai", "Lea", "Max", "Nia", "Omar", "Pia",
    "Quinn", "Rita", "Sam", "Tess", "Uma", "Vic", "Wen", "Yara", "Zoe",
];
const LAST: &[&str] = &[
    "Park",
    "Reyes",
    "Okafor",
    "Lindqvist",
    "Haddad",
    "Adler",
    "Meyer",
    "Sato",
    "Petrov",
    "Moreau",
    "Berg",
    "Novak",
    "Costa",
    "Quinn",
    "Walsh",
    "Ibarra",
];
const KINDS: &[&str] = &[
    "confirmation",
    "confirmation",
    "confirmation",
    "confirmation",
    "reminder",
    "reminder",
    "reminder",
    "campaign",
    "campaign",
    "other",
];
const TEXTS: &[&str] = &[
    "See you at 3pm!",
    "Your appointment is confirmed.",
    "Can you come 15 minutes earlier?",
    "Thanks for visiting \u{2014} how was your cut?",
    "We have a new \"express\" manicure slot tomorrow.",
    "Running 10 min late, sorry!",
    "Reminder: bring your loyalty card",
    "Merci ! \u{00e0} bient\u{00f4}t",
];

/// Writes a world file of the given shape and returns the model events are drawn from.
pub fn write_world(shape: &Shape, out: &mut impl Write) -> io::Result<Model> {
    // Every franchise and standalone account gets a location, dealt in turn;
    // staff and clients are drawn from accounts' locations.
    let owners = shape.groups * shape.children + shape.standalone;
    if shape.locations < owners.max(1) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} locations cannot give each of the {owners} franchise and standalone accounts one: use at least {}",
                shape.locations,
                owners.max(1)
            ),
        ));
    }
    let mut rng = Rng::new(shape.seed);
    writeln!(
        out,
        "# Generated by `cargo run --release --example generate` (seed {}): {} accounts, {} locations, {} staff, {} clients.",
        shape.seed,
        shape.accounts(),
        shape.locations,
        shape.staff,
        shape.clients
    )?;
    let mut accounts = write_accounts(shape, out)?;
    let owners = write_locations(shape, &mut accounts, out)?;
    let (staff, at) = write_staff(shape, &mut rng, &accounts, &owners, out)?;
    let clients = write_clients(shape, &mut rng, &accounts, &owners, out)?;
    Ok(Model {
        accounts,
        staff,
        clients,
        at,
    })
}

/// Groups with their franchisees, then standalone salons.
fn write_accounts(shape: &Shape, out: &mut impl Write) -> io::Result<Vec<Acct>> {
    let mut accounts: Vec<Acct> = Vec::with_capacity(shape.accounts());
    writeln!(out, "accounts:")?;
    for g in 0..shape.groups {
        let country = match g % 6 {
            4 => "GB",
            5 => "CA",
            _ => "US",
        };
        let gi = accounts.len();
        let gid = format!("group-{g:02}");
        writeln!(out, "  - {{id: {gid}, name: Group {g}, country: {country}}}")?;
        accounts.push(Acct {
            id: gid.clone(),
            country,
            children: Vec::new(),
            locations: Vec::new(),
        });
        for c in 0..shape.children {
            let id = format!("group-{g:02}-{c:02}");
            writeln!(out, "  - {{id: {id}, name: Group {g} Salon {c}, parent: {gid}}}")?;
            let next = accounts.len();
            accounts[gi].children.push(next);
            accounts.push(Acct {
                id,
                country,
                children: Vec::new(),
                locations: Vec::new(),
            });
        }
    }
    for s in 0..shape.standalone {
        let id = format!("salon-{s:02}");
        writeln!(out, "  - {{id: {id}, name: Salon {s}}}")?;
        accounts.push(Acct {
            id,
            country: "US",
            children: Vec::new(),
            locations: Vec::new(),
        });
    }
    Ok(accounts)
}

/// Locations, dealt in turn to the accounts that own locations; returns those
/// accounts.
fn write_locations(shape: &Shape, accounts: &mut [Acct], out: &mut impl Write) -> io::Result<Vec<usize>> {
    // Locations belong to franchise and standalone accounts, never to groups.
    let owners: Vec<usize> = (0..accounts.len())
        .filter(|a| accounts[*a].children.is_empty())
        .collect();
    writeln!(out, "locations:")?;
    for l in 0..shape.locations {
        let a = owners[l % owners.len()];
        accounts[a].locations.push(l);
        writeln!(
            out,
            "  - {{id: {}, name: Location {l}, account: {}}}",
            loc_id(l),
            accounts[a].id
        )?;
    }
    // Groups see their children's locations.
    for g in 0..accounts.len() {
        if !accounts[g].children.is_empty() {
            let locs: Vec<usize> = accounts[g]
                .children
                .iter()
                .flat_map(|c| accounts[*c].locations.clone())
                .collect();
            accounts[g].locations = locs;
        }
    }
    Ok(owners)
}

/// `want` distinct locations drawn from `pool`, sorted.
fn distinct(rng: &mut Rng, pool: &[usize], want: usize) -> Vec<usize> {
    let mut locs: Vec<usize> = Vec::new();
    while locs.len() < want {
        let l = *rng.pick(pool);
        if !locs.contains(&l) {
            locs.push(l);
        }
    }
    locs.sort_unstable();
    locs
}

/// Staff members with their locations and logins; also returns who works at
/// each location.
fn write_staff(
    shape: &Shape,
    rng: &mut Rng,
    accounts: &[Acct],
    owners: &[usize],
    out: &mut impl Write,
) -> io::Result<(Vec<Member>, Vec<Vec<usize>>)> {
    let mut at = vec![Vec::new(); shape.locations];
    let mut staff = Vec::with_capacity(shape.staff);
    writeln!(out, "staff:")?;
    for s in 0..shape.staff {
        let a = &accounts[owners[rng.below(owners.len())]];
        let want = 1 + rng.below(5).min(a.locations.len().saturating_sub(1));
        let locs = distinct(rng, &a.locations, want);
        for l in &locs {
            at[*l].push(s);
        }
        let ids: Vec<String> = locs.iter().map(|l| loc_id(*l)).collect();
        write!(
            out,
            "  - {{id: {}, name: {} {}, locations: [{}]",
            staff_id(s),
            rng.pick(FIRST),
            rng.pick(LAST),
            ids.join(", ")
        )?;
        if rng.chance(60) {
            write!(out, ", logged_in_at: {}", rng.pick(&ids))?;
        }
        if ids.len() > 1 && rng.chance(10) {
            write!(out, ", communicator_access: [{}]", ids[0])?;
        }
        writeln!(out, "}}")?;
        staff.push(Member { locations: locs });
    }
    Ok((staff, at))
}

/// Clients with their locations, contacts and opt-ins.
fn write_clients(
    shape: &Shape,
    rng: &mut Rng,
    accounts: &[Acct],
    owners: &[usize],
    out: &mut impl Write,
) -> io::Result<Vec<Person>> {
    let mut clients = Vec::with_capacity(shape.clients);
    writeln!(out, "clients:")?;
    for c in 0..shape.clients {
        let global = shape.groups > 0 && rng.chance(12);
        let a = if global {
            (0..accounts.len())
                .filter(|a| !accounts[*a].children.is_empty())
                .nth(rng.below(shape.groups))
                .expect("a group")
        } else {
            owners[rng.below(owners.len())]
        };
        let acct = &accounts[a];
        let want = match rng.below(10) {
            0..=5 => 1,
            6..=8 => 2,
            _ => 3,
        }
        .min(acct.locations.len());
        let locs = distinct(rng, &acct.locations, want);
        let ids: Vec<String> = locs.iter().map(|l| loc_id(*l)).collect();
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        write!(
            out,
            "  - {{id: {}, name: {first} {last}, account: {}, locations: [{}]",
            client_id(c),
            acct.id,
            ids.join(", ")
        )?;
        if rng.chance(70) {
            write!(out, ", last_appointment_at: {}", rng.pick(&ids))?;
        }
        if rng.chance(85) {
            let n = rng.below(10_000);
            let phone = match (acct.country, rng.below(20)) {
                (_, 0) => "call me".to_owned(),
                (_, 1) => format!("555-{:04}", n % 200),
                ("GB", 2..=9) => format!("020 7946 {n:04}"),
                ("GB", _) => format!("+44 7700 900{:03}", n % 1000),
                (_, 2..=7) => format!("+1 650 253 {n:04}"),
                (_, 8..=13) => format!("({}) 555-{n:04}", 201 + rng.below(700)),
                _ => format!("415-{:03}-{n:04}", 200 + rng.below(800)),
            };
            write!(out, ", phone: \"{phone}\", sms_opt_in: {}", rng.chance(70))?;
        }
        if rng.chance(75) {
            let email = if rng.chance(3) {
                format!("{}@@example.com", first.to_lowercase())
            } else {
                format!("{}.{}{c}@example.com", first.to_lowercase(), last.to_lowercase())
            };
            write!(out, ", email: \"{email}\", email_opt_in: {}", rng.chance(60))?;
        }
        if rng.chance(35) {
            write!(out, ", guest_app: true")?;
        }
        writeln!(out, "}}")?;
        clients.push(Person {
            account: a,
            locations: locs,
        });
    }
    Ok(clients)
}

/// Writes `count` event lines drawn from a generated world: about 60%
/// client messages, 10% conversations started by staff and 30% staff messages.
pub fn write_events(model: &Model, count: u64, seed: u64, out: &mut impl Write) -> io::Result<()> {
    let mut rng = Rng::new(seed.wrapping_add(0x5eed));
    for n in 0..count {
        let c = rng.below(model.clients.len());
        let client = &model.clients[c];
        let cid = client_id(c);
        let roll = rng.below(100);
        if roll < 50 {
            let kind = rng.pick(KINDS);
            // Campaigns come from any location of the account, the rest from the client's.
            let l = if *kind == "campaign" {
                *rng.pick(&model.accounts[client.account].locations)
            } else {
                *rng.pick(&client.locations)
            };
            writeln!(
                out,
                r#"{{"id":"e{n}","type":"inbound","client":"{cid}","answering":"{kind}@{}"}}"#,
                loc_id(l)
            )?;
        } else if roll < 60 {
            writeln!(out, r#"{{"id":"e{n}","type":"inbound","client":"{cid}"}}"#)?;
        } else if roll < 70 {
            // Mostly staff of one of the client's locations; sometimes anyone of the account.
            let pool = if rng.chance(80) {
                &model.at[*rng.pick(&client.locations)]
            } else {
                &model.at[*rng.pick(&model.accounts[client.account].locations)]
            };
            if pool.is_empty() {
                writeln!(out, r#"{{"id":"e{n}","type":"inbound","client":"{cid}"}}"#)?;
                continue;
            }
            let s = *rng.pick(pool);
            let from = *rng.pick(&model.staff[s].locations);
            writeln!(
                out,
                r#"{{"id":"e{n}","type":"inbound","client":"{cid}","staff":"{}","from":"{}"}}"#,
                staff_id(s),
                loc_id(from)
            )?;
        } else {
            let acct = &model.accounts[client.account];
            let from = if !acct.children.is_empty() && rng.chance(80) {
                &model.accounts[*rng.pick(&acct.children)].id
            } else {
                &acct.id
            };
            let text = serde_json::to_string(rng.pick(TEXTS)).expect("a string serialises");
            writeln!(
                out,
                r#"{{"id":"e{n}","type":"outbound","client":"{cid}","from_account":"{from}","text":{text}}}"#
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_few_locations_for_the_accounts_is_an_error_not_a_panic() {
        let shape = Shape {
            locations: 30,
            ..Shape::LARGE
        };
        let Err(err) = write_world(&shape, &mut Vec::new()) else {
            panic!("30 locations for 34 accounts were accepted")
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("use at least 34"), "{err}");
    }
    use crate::diag::Source;
    use crate::world::World;

    #[test]
    fn a_generated_world_loads_and_its_events_parse() {
        let mut yaml = Vec::new();
        let model = write_world(&Shape::SMALL, &mut yaml).unwrap();
        let world = World::parse(Source::new("gen.yaml", String::from_utf8(yaml).unwrap())).unwrap();
        assert_eq!(world.clients.len(), Shape::SMALL.clients);
        assert_eq!(world.accounts.len(), Shape::SMALL.accounts());
        let mut events = Vec::new();
        write_events(&model, 200, 7, &mut events).unwrap();
        for line in String::from_utf8(events).unwrap().lines() {
            let ev: crate::jsonl::EventLine = serde_json::from_str(line).unwrap();
            match &ev {
                crate::jsonl::EventLine::Inbound { request, .. } => {
                    request.resolve(&world).unwrap();
                }
                crate::jsonl::EventLine::Outbound { request, .. } => {
                    request.resolve(&world).unwrap();
                }
            }
        }
    }
}
