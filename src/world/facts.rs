//! Inline facts: a world fragment carried by one event, and the world that
//! event is decided in.
//!
//! A request or an event line may carry `facts`, written exactly as a world
//! file's sections: `{"accounts":[..],"locations":[..],"staff":[..],
//! "clients":[..]}`, each entry with the world file's fields. Each section
//! given replaces that section of the loaded world for this one decision; a
//! section left out comes from the loaded world. [`World::with_facts`] puts
//! the two together and checks them with the world file's own resolution
//! (`resolve.rs`), so a mistake gets the same message as in a file, with the
//! JSON path of the field (`facts.clients[0].locations[1]`) instead of a
//! line.
//!
//! Cost: the decision world holds the accounts, locations and staff (given
//! or loaded) and only the clients it needs. When `clients` is given, only
//! those clients exist. When it is left out, only the client the event names
//! is carried over from the loaded world: the engine reads no other client,
//! so the work does not grow with the number of clients. An event without
//! facts uses the loaded world itself and costs nothing new.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostics, Pos, Source};
use crate::world::builder::{NewAccount, NewClient, NewLocation, NewStaff};
use crate::world::clients::ClientEntries;
use crate::world::resolve::{
    resolve_staff, resolve_world, Raw, RawAccount, RawClient, RawLocation, RawStaff, Sections,
};
use crate::world::World;
use crate::yaml::{Doc, Str};

/// A world fragment sent with one event, in the world file's format. Each
/// section given replaces the loaded world's for that event only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// Replaces the accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<NewAccount>>,
    /// Replaces the locations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<NewLocation>>,
    /// Replaces the staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<Vec<NewStaff>>,
    /// Replaces the clients: only these clients exist for the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<NewClient>>,
}

impl Facts {
    /// Whether no section is given (the loaded world is used as it is).
    pub fn is_empty(&self) -> bool {
        self.accounts.is_none() && self.locations.is_none() && self.staff.is_none() && self.clients.is_none()
    }
}

/// One problem with inline facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FactsProblem {
    /// The JSON path of the field at fault (`facts.clients[0].locations[1]`).
    pub path: String,
    /// What is wrong, as a world file's check says it.
    pub message: String,
    /// What would be valid, when it can be said.
    pub valid: Option<String>,
}

impl std::fmt::Display for FactsProblem {
    /// `facts.clients[0].locations[1]: unknown location `Q`; known locations: ...`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)?;
        match &self.valid {
            Some(v) => write!(f, "; {v}"),
            None => Ok(()),
        }
    }
}

/// Why inline facts do not make a world: every problem, in the order of the
/// fields. Shown as the first problem and how many more there are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}", self.first(), match self.problems.len() { 1 => String::new(), 2 => " (and 1 more problem)".into(), n => format!(" (and {} more problems)", n - 1) })]
pub struct FactsError {
    /// The problems, at least one.
    pub problems: Vec<FactsProblem>,
}

impl FactsError {
    /// The first problem (there is always one).
    pub fn first(&self) -> &FactsProblem {
        &self.problems[0]
    }
}

/// Hands out positions that stand for JSON paths: line `n` of a position is
/// entry `n` of `paths`. The world's resolution reports problems at
/// positions; this turns them back into paths.
struct Paths {
    paths: Vec<String>,
}

/// The fixed lines of [`Paths`]: what no field explains, and the loaded
/// world's references to accounts and to locations, and its entries.
const LINE_FACTS: usize = 1;
const LINE_LOADED_ACCOUNTS: usize = 2;
const LINE_LOADED_LOCATIONS: usize = 3;
const LINE_LOADED_ENTRY: usize = 4;

impl Paths {
    fn new() -> Paths {
        // Line 0 is "the whole input"; then the fixed lines above, so the
        // loaded world's many references share three paths.
        Paths {
            paths: vec![
                "facts".into(),
                "facts".into(),
                loaded_ref("facts.accounts"),
                loaded_ref("facts.locations"),
                loaded_ref("facts"),
            ],
        }
    }

    fn pos(&mut self, path: String) -> Pos {
        self.paths.push(path);
        Pos::new(self.paths.len() - 1, 1)
    }

    fn str(&mut self, value: &str, path: String) -> Str {
        Str {
            value: value.to_owned(),
            pos: self.pos(path),
        }
    }

    /// A loaded world's reference to an account (`LINE_LOADED_ACCOUNTS`) or
    /// a location (`LINE_LOADED_LOCATIONS`).
    fn loaded(value: &str, line: usize) -> Str {
        Str {
            value: value.to_owned(),
            pos: Pos::new(line, 1),
        }
    }

    fn strs(&mut self, values: &[String], path: &str) -> Vec<Str> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| self.str(v, format!("{path}[{i}]")))
            .collect()
    }

    fn path(&self, pos: Pos) -> &str {
        self.paths
            .get(pos.line)
            .map_or(self.paths[LINE_FACTS].as_str(), String::as_str)
    }
}

/// Marks the path of a loaded entry's field: a loaded entry can only fail
/// because a section it names was replaced, so its problem is reported at
/// that section (the path after the mark), naming the entry.
const LOADED: char = '\u{0}';

impl World {
    /// The world one event is decided in: this world with the sections
    /// `facts` gives replaced. `client` is the id of the client the event
    /// names: when `facts` has no `clients`, that client alone is carried
    /// over from this world (the engine reads no other), so the cost does not
    /// grow with the number of clients. With no section given, this world
    /// itself is returned.
    ///
    /// The result is checked exactly as a world file is (the same checks and
    /// messages); each problem names its JSON path, such as
    /// `facts.clients[0].locations[1]`, and says what would be valid. A
    /// loaded entry that no longer fits (a loaded staff member working at a
    /// location the given `locations` leave out) is reported at the section
    /// that left it out.
    pub fn with_facts(&self, facts: &Facts, client: &str) -> Result<Cow<'_, World>, FactsError> {
        if facts.is_empty() {
            return Ok(Cow::Borrowed(self));
        }
        if facts.accounts.is_none() && facts.locations.is_none() {
            return self.with_people(facts, client).map(Cow::Owned);
        }
        let mut paths = Paths::new();
        let accounts = match &facts.accounts {
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, a)| given_account(&mut paths, a, i))
                .collect(),
            None => self.accounts.iter().map(|a| self.loaded_account(a)).collect(),
        };
        let locations = match &facts.locations {
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, l)| given_location(&mut paths, l, i))
                .collect(),
            None => self
                .locations
                .iter()
                .map(|l| {
                    let fields = RawLocation {
                        name: l.name.clone(),
                        account: Paths::loaded(&self.accounts[l.account as usize].id, LINE_LOADED_ACCOUNTS),
                    };
                    loaded(&l.id, fields)
                })
                .collect(),
        };
        let staff = match &facts.staff {
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, s)| given_staff(&mut paths, s, i))
                .collect(),
            None => self.staff.iter().map(|s| self.loaded_staff(s)).collect(),
        };
        let source = Source::new("<facts>", "");
        let mut clients = ClientEntries::new(&source);
        match &facts.clients {
            Some(list) => {
                for (i, c) in list.iter().enumerate() {
                    clients.add(given_client(&mut paths, c, i));
                }
            }
            None => {
                if let Some(c) = self.client(client) {
                    clients.add(self.loaded_client(&self.clients[c as usize]));
                }
            }
        }
        let mut doc = Doc {
            source,
            diags: Diagnostics::default(),
        };
        let sections = Sections {
            accounts,
            locations,
            staff,
            clients,
        };
        let world = resolve_world(&mut doc, sections);
        if !doc.diags.is_empty() {
            return Err(problems(&paths, doc.diags.sorted()));
        }
        let world = world.expect("a world is built whenever no problem was recorded");
        Ok(Cow::Owned(world))
    }

    /// [`World::with_facts`] when only staff and clients are given: the
    /// accounts and locations keep their numbers, so the loaded staff and
    /// the carried-over client are copied as they are, and only the given
    /// entries go through the resolution (the same steps as a world file's).
    fn with_people(&self, facts: &Facts, client: &str) -> Result<World, FactsError> {
        let mut paths = Paths::new();
        let source = Source::new("<facts>", "");
        let mut doc = Doc {
            source: source.clone(),
            diags: Diagnostics::default(),
        };
        let staff = facts.staff.as_ref().map(|list| {
            let raw = list
                .iter()
                .enumerate()
                .map(|(i, s)| given_staff(&mut paths, s, i))
                .collect();
            resolve_staff(&mut doc, raw, &self.location_ix)
        });
        let clients = facts.clients.as_ref().map(|list| {
            let mut entries = ClientEntries::new(&source);
            for (i, c) in list.iter().enumerate() {
                entries.add(given_client(&mut paths, c, i));
            }
            entries.sort(&mut doc);
            entries.resolve(&mut doc, &self.account_ix, &self.location_ix)
        });
        if !doc.diags.is_empty() {
            return Err(problems(&paths, doc.diags.sorted()));
        }
        let clients = clients.unwrap_or_else(|| {
            self.client(client)
                .map(|c| vec![self.clients[c as usize].clone()])
                .unwrap_or_default()
        });
        let staff_given = staff.is_some();
        let (staff, staff_ix) = match staff {
            Some(staff) => {
                let ix = staff
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.id.clone(), i as crate::world::StaffIdx))
                    .collect();
                (staff, ix)
            }
            None => (self.staff.clone(), self.staff_ix.clone()),
        };
        let mut world = World {
            accounts: self.accounts.clone(),
            locations: self.locations.clone(),
            staff,
            client_ix: crate::world::ClientIndex::new(&clients),
            clients,
            account_ix: self.account_ix.clone(),
            location_ix: self.location_ix.clone(),
            staff_ix,
            access_ix: Vec::new(),
            live_access_ix: Vec::new(),
            script_loc_ids: std::sync::OnceLock::new(),
        };
        if staff_given {
            world.rebuild_access_index();
        } else {
            world.access_ix = self.access_ix.clone();
            world.live_access_ix = self.live_access_ix.clone();
        }
        Ok(world)
    }

    fn loaded_account(&self, a: &crate::world::Account) -> Raw<RawAccount> {
        let fields = RawAccount {
            name: a.name.clone(),
            parent: a
                .parent
                .map(|p| Paths::loaded(&self.accounts[p as usize].id, LINE_LOADED_ACCOUNTS)),
            // The country it reads phone numbers in, own or inherited.
            country: Some(Paths::loaded(&a.country, LINE_LOADED_ACCOUNTS)),
        };
        loaded(&a.id, fields)
    }

    fn loaded_staff(&self, s: &crate::world::Staff) -> Raw<RawStaff> {
        let locs = |set: &crate::world::locset::LocSet| -> Vec<Str> {
            set.iter()
                .map(|l| Paths::loaded(self.loc_id(l), LINE_LOADED_LOCATIONS))
                .collect()
        };
        let fields = RawStaff {
            name: s.name.clone(),
            locations: locs(&s.locations),
            logged_in_at: s
                .logged_in_at
                .map(|l| Paths::loaded(self.loc_id(l), LINE_LOADED_LOCATIONS)),
            access: Some(locs(&s.access)),
        };
        loaded(&s.id, fields)
    }

    fn loaded_client(&self, c: &crate::world::Client) -> Raw<RawClient> {
        let fields = RawClient {
            name: c.name.to_string(),
            account: Paths::loaded(&self.accounts[c.account as usize].id, LINE_LOADED_ACCOUNTS),
            locations: c
                .locations
                .iter()
                .map(|l| Paths::loaded(self.loc_id(l), LINE_LOADED_LOCATIONS))
                .collect(),
            last_appointment_at: c
                .last_appointment
                .map(|l| Paths::loaded(self.loc_id(l), LINE_LOADED_LOCATIONS)),
            phone: c.phone.as_deref().map(str::to_owned),
            sms_opt_in: c.sms_opt_in,
            email: c.email.as_deref().map(str::to_owned),
            email_opt_in: c.email_opt_in,
            guest_app: c.guest_app,
        };
        loaded(&c.id, fields)
    }
}

fn loaded_ref(section: &str) -> String {
    format!("{LOADED}{section}")
}

/// An entry of the loaded world: its own problems are reported at the
/// section of `facts` that no longer fits it.
fn loaded<T>(id: &str, fields: T) -> Raw<T> {
    let pos = Pos::new(LINE_LOADED_ENTRY, 1);
    Raw {
        pos,
        id: Str {
            value: id.to_owned(),
            pos,
        },
        fields: Some(fields),
    }
}

fn given<T>(
    paths: &mut Paths,
    section: &str,
    i: usize,
    id: &str,
    fields: impl FnOnce(&mut Paths, &str) -> T,
) -> Raw<T> {
    let entry = format!("facts.{section}[{i}]");
    let pos = paths.pos(entry.clone());
    let id = paths.str(id, format!("{entry}.id"));
    let fields = fields(paths, &entry);
    Raw {
        pos,
        id,
        fields: Some(fields),
    }
}

fn given_account(paths: &mut Paths, a: &NewAccount, i: usize) -> Raw<RawAccount> {
    given(paths, "accounts", i, &a.id, |paths, e| RawAccount {
        name: a.name.clone(),
        parent: a.parent.as_deref().map(|p| paths.str(p, format!("{e}.parent"))),
        country: a.country.as_deref().map(|c| paths.str(c, format!("{e}.country"))),
    })
}

fn given_location(paths: &mut Paths, l: &NewLocation, i: usize) -> Raw<RawLocation> {
    given(paths, "locations", i, &l.id, |paths, e| RawLocation {
        name: l.name.clone(),
        account: paths.str(&l.account, format!("{e}.account")),
    })
}

fn given_staff(paths: &mut Paths, s: &NewStaff, i: usize) -> Raw<RawStaff> {
    given(paths, "staff", i, &s.id, |paths, e| RawStaff {
        name: s.name.clone(),
        locations: paths.strs(&s.locations, &format!("{e}.locations")),
        logged_in_at: s
            .logged_in_at
            .as_deref()
            .map(|l| paths.str(l, format!("{e}.logged_in_at"))),
        access: s
            .access
            .as_deref()
            .map(|a| paths.strs(a, &format!("{e}.communicator_access"))),
    })
}

fn given_client(paths: &mut Paths, c: &NewClient, i: usize) -> Raw<RawClient> {
    given(paths, "clients", i, &c.id, |paths, e| RawClient {
        name: c.name.clone(),
        account: paths.str(&c.account, format!("{e}.account")),
        locations: paths.strs(&c.locations, &format!("{e}.locations")),
        last_appointment_at: c
            .last_appointment_at
            .as_deref()
            .map(|l| paths.str(l, format!("{e}.last_appointment_at"))),
        phone: c.phone.clone(),
        sms_opt_in: c.sms_opt_in,
        email: c.email.clone(),
        email_opt_in: c.email_opt_in,
        guest_app: c.guest_app,
    })
}

/// The resolution's problems, each at its path. A problem of a loaded
/// entry names the entry; "at line N" (where a repeated id was first used)
/// becomes the path of that first use.
fn problems(paths: &Paths, diags: Diagnostics) -> FactsError {
    let problems = diags
        .0
        .into_iter()
        .map(|d| {
            let path = paths.path(d.pos);
            let valid = d.help.map(|h| match h.strip_prefix("the same id is used at line ") {
                Some(rest) => {
                    let (line, tail) = rest.split_once(';').unwrap_or((rest, ""));
                    let at = line.parse().map_or("facts", |n| paths.path(Pos::new(n, 1)));
                    format!("the same id is used at `{at}`;{tail}")
                }
                None => h,
            });
            match path.strip_prefix(LOADED) {
                Some(section) => FactsProblem {
                    path: section.to_owned(),
                    message: format!(
                        "{} of the loaded world: {}",
                        d.subject.as_deref().unwrap_or("an entry"),
                        d.message
                    ),
                    valid,
                },
                None => FactsProblem {
                    path: path.to_owned(),
                    message: d.message,
                    valid,
                },
            }
        })
        .collect();
    FactsError { problems }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::InboundRequest;
    use crate::rules::RuleSet;

    const WORLD: &str = include_str!("../../examples/glow-world.yaml");

    fn world() -> World {
        World::parse(Source::new("glow-world.yaml", WORLD)).unwrap()
    }

    fn facts(json: &str) -> Facts {
        serde_json::from_str(json).unwrap()
    }

    fn decide(world: &World, req: &InboundRequest) -> String {
        let rules = RuleSet::shipped();
        let d = rules.route_inbound(world, &req.resolve(world).unwrap()).unwrap();
        let r = d.report(&rules, world);
        format!("{:?} {:?} {}", r.lands_at, r.delivered_to, r.rule)
    }

    #[test]
    fn no_section_uses_the_loaded_world_itself() {
        let w = world();
        assert!(matches!(
            w.with_facts(&Facts::default(), "cleo").unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_client_sent_inline_decides_as_the_same_client_loaded() {
        let w = world();
        let cleo = &w.clients[w.client("cleo").unwrap() as usize];
        let inline = NewClient {
            id: "cleo".into(),
            name: cleo.name.to_string(),
            account: w.accounts[cleo.account as usize].id.clone(),
            locations: w.loc_ids(&cleo.locations),
            last_appointment_at: cleo.last_appointment.map(|l| w.loc_id(l).to_owned()),
            phone: cleo.phone.as_deref().map(Into::into),
            sms_opt_in: cleo.sms_opt_in,
            email: cleo.email.as_deref().map(Into::into),
            email_opt_in: cleo.email_opt_in,
            guest_app: cleo.guest_app,
        };
        let f = Facts {
            clients: Some(vec![inline]),
            ..Facts::default()
        };
        let per = w.with_facts(&f, "cleo").unwrap();
        assert_eq!(per.clients.len(), 1, "only the given clients exist");
        for answering in ["campaign@B", "confirmation@A", "reminder@B"] {
            let req = InboundRequest {
                client: "cleo".into(),
                answering: Some(answering.into()),
                ..Default::default()
            };
            assert_eq!(decide(&per, &req), decide(&w, &req), "{answering}");
        }
    }

    #[test]
    fn staff_sent_alone_keep_the_loaded_client_and_only_that_one() {
        let w = world();
        let f = facts(r#"{"staff":[{"id":"sam","name":"Sam","locations":["A","B"],"logged_in_at":"A"}]}"#);
        let per = w.with_facts(&f, "cleo").unwrap();
        assert_eq!(per.staff.len(), 1);
        assert_eq!(per.clients.len(), 1);
        assert_eq!(per.clients[0].id, "cleo");
        assert_eq!(
            format!("{:?}", per.contact(0)),
            format!("{:?}", w.contact(w.client("cleo").unwrap()))
        );
        // A client the loaded world does not have is not there either.
        assert_eq!(w.with_facts(&f, "nobody").unwrap().clients.len(), 0);
    }

    #[test]
    fn resending_the_loaded_accounts_and_locations_changes_nothing() {
        // With accounts and locations given, every loaded entry is resolved
        // again by id; without, they are copied. Both make the same world.
        let w = world();
        let staff = r#""staff":[{"id":"sam","name":"Sam","locations":["A","B"],"logged_in_at":"B"}]"#;
        let copied = w.with_facts(&facts(&format!("{{{staff}}}")), "gwen").unwrap();
        let places = r#""accounts":[{"id":"glow-group","name":"Glow Group","country":"US"},{"id":"glow-downtown","name":"Glow Downtown","parent":"glow-group"},{"id":"glow-uptown","name":"Glow Uptown","parent":"glow-group"}],"locations":[{"id":"A","name":"Downtown","account":"glow-downtown"},{"id":"B","name":"Midtown","account":"glow-downtown"},{"id":"C","name":"Uptown","account":"glow-uptown"}]"#;
        let resolved = w.with_facts(&facts(&format!("{{{places},{staff}}}")), "gwen").unwrap();
        assert_eq!(format!("{:?}", copied.accounts), format!("{:?}", resolved.accounts));
        assert_eq!(format!("{:?}", copied.locations), format!("{:?}", resolved.locations));
        assert_eq!(format!("{:?}", copied.staff), format!("{:?}", resolved.staff));
        assert_eq!(format!("{:?}", copied.clients), format!("{:?}", resolved.clients));
        for l in 0..3 {
            assert_eq!(copied.live_staff_with_access(l), resolved.live_staff_with_access(l));
        }
        let req = InboundRequest {
            client: "gwen".into(),
            answering: Some("campaign@A".into()),
            ..Default::default()
        };
        assert_eq!(decide(&copied, &req), decide(&resolved, &req));
    }

    fn problem_list(w: &World, json: &str) -> Vec<(String, String, Option<String>)> {
        let err = w.with_facts(&facts(json), "cleo").unwrap_err();
        err.problems.into_iter().map(|p| (p.path, p.message, p.valid)).collect()
    }

    #[test]
    fn an_unknown_location_is_named_by_its_path_with_the_valid_ids() {
        let w = world();
        let found = problem_list(
            &w,
            r#"{"clients":[{"id":"cleo","name":"Cleo","account":"glow-downtown","locations":["A","Q"]}]}"#,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let (path, message, valid) = &found[0];
        assert_eq!(path, "facts.clients[0].locations[1]");
        assert_eq!(message, "unknown location `Q`");
        assert!(
            valid.as_deref().unwrap().starts_with("known locations: `A`"),
            "{valid:?}"
        );
    }

    #[test]
    fn logged_in_at_outside_the_staff_members_locations_is_refused() {
        let w = world();
        let found = problem_list(
            &w,
            r#"{"staff":[{"id":"sam","name":"Sam","locations":["A"],"logged_in_at":"B"}]}"#,
        );
        assert_eq!(
            found,
            [(
                "facts.staff[0].logged_in_at".to_owned(),
                "`logged_in_at: B` is not one of the staff member's locations".to_owned(),
                Some("a staff member logs in at one of their own locations: `A`".to_owned())
            )]
        );
    }

    #[test]
    fn a_repeated_id_points_at_its_first_use() {
        let w = world();
        let found = problem_list(
            &w,
            r#"{"staff":[{"id":"sam","name":"Sam","locations":["A"]},{"id":"sam","name":"Sam 2","locations":["A"]}]}"#,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "facts.staff[1].id");
        assert_eq!(found[0].1, "duplicate id `sam`");
        assert_eq!(
            found[0].2.as_deref(),
            Some("the same id is used at `facts.staff[0].id`; every staff member needs its own id")
        );
    }

    #[test]
    fn locations_that_leave_out_a_loaded_staff_members_location_blame_the_section() {
        let w = world();
        let found = problem_list(
            &w,
            r#"{"locations":[{"id":"A","name":"Downtown","account":"glow-downtown"}]}"#,
        );
        assert!(!found.is_empty());
        for (path, message, _) in &found {
            assert_eq!(path, "facts.locations", "{message}");
            assert!(
                message.contains(" of the loaded world: unknown location `"),
                "{message}"
            );
        }
    }
}
