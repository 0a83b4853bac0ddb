//! Building a [`World`] in memory, without writing YAML: entries are added
//! by value and [`WorldBuilder::build`] runs the same resolution, checks and
//! indexing as loading a world file.
//!
//! Reading YAML is in `load/`; the shared resolution step is in `resolve.rs`.

use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostics, Pos, Source};
use crate::world::clients::ClientEntries;
use crate::world::resolve::{resolve_world, Raw, RawAccount, RawClient, RawLocation, RawStaff, Sections};
use crate::world::World;
use crate::yaml::{Doc, Str};

/// The path that problems found by [`WorldBuilder::build`] are reported at.
const BUILDER_PATH: &str = "<world builder>";

/// An account, as a world file's `accounts:` entry holds it (and, in
/// JSON, as inline facts hold it: the same field names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The account's unique id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The id of its parent account, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The ISO country its phone numbers are read in (else the parent's, else `US`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl NewAccount {
    /// An account without parent or country.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        NewAccount {
            id: id.into(),
            name: name.into(),
            ..NewAccount::default()
        }
    }
}

/// A location, as a world file's `locations:` entry holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLocation {
    /// The location's unique id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The id of the account it belongs to.
    pub account: String,
}

impl NewLocation {
    /// A location of `account`.
    pub fn new(id: impl Into<String>, name: impl Into<String>, account: impl Into<String>) -> Self {
        NewLocation {
            id: id.into(),
            name: name.into(),
            account: account.into(),
        }
    }
}

/// A staff member, as a world file's `staff:` entry holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    /// The staff member's unique id.
    pub id: String,
    /// Their display name.
    pub name: String,
    /// The ids of their locations (at least one).
    pub locations: Vec<String>,
    /// The id of the location they are logged in at, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logged_in_at: Option<String>,
    /// The ids of the locations whose conversations they may read; `None`
    /// means their own locations. Written `communicator_access`, as in a world file.
    #[serde(default, rename = "communicator_access", skip_serializing_if = "Option::is_none")]
    pub access: Option<Vec<String>>,
}

impl NewStaff {
    /// A staff member who is logged out and reads their own locations.
    pub fn new<L: Into<String>>(
        id: impl Into<String>,
        name: impl Into<String>,
        locations: impl IntoIterator<Item = L>,
    ) -> Self {
        NewStaff {
            id: id.into(),
            name: name.into(),
            locations: locations.into_iter().map(Into::into).collect(),
            ..NewStaff::default()
        }
    }
}

/// A client, as a world file's `clients:` entry holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The client's unique id.
    pub id: String,
    /// Their display name.
    pub name: String,
    /// The id of their account.
    pub account: String,
    /// The ids of their locations (at least one).
    pub locations: Vec<String>,
    /// The id of the location of their last appointment, one of `locations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_appointment_at: Option<String>,
    /// Their phone number as written; checked for the account's country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Whether they accept text messages.
    #[serde(default)]
    pub sms_opt_in: bool,
    /// Their email address as written; checked when built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether they accept emails.
    #[serde(default)]
    pub email_opt_in: bool,
    /// Whether they use the guest app.
    #[serde(default)]
    pub guest_app: bool,
}

impl NewClient {
    /// A client with no last appointment, no phone or email, and no opt-in.
    pub fn new<L: Into<String>>(
        id: impl Into<String>,
        name: impl Into<String>,
        account: impl Into<String>,
        locations: impl IntoIterator<Item = L>,
    ) -> Self {
        NewClient {
            id: id.into(),
            name: name.into(),
            account: account.into(),
            locations: locations.into_iter().map(Into::into).collect(),
            ..NewClient::default()
        }
    }
}

/// A world put together in memory: add accounts, locations, staff and
/// clients in any order, then [`build`](WorldBuilder::build) it.
#[derive(Debug, Clone, Default)]
pub struct WorldBuilder {
    accounts: Vec<NewAccount>,
    locations: Vec<NewLocation>,
    staff: Vec<NewStaff>,
    clients: Vec<NewClient>,
}

impl World {
    /// An empty [`WorldBuilder`].
    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }
}

impl WorldBuilder {
    /// Adds an account.
    pub fn account(&mut self, account: NewAccount) -> &mut Self {
        self.accounts.push(account);
        self
    }

    /// Adds a location.
    pub fn location(&mut self, location: NewLocation) -> &mut Self {
        self.locations.push(location);
        self
    }

    /// Adds a staff member.
    pub fn staff(&mut self, staff: NewStaff) -> &mut Self {
        self.staff.push(staff);
        self
    }

    /// Adds a client.
    pub fn client(&mut self, client: NewClient) -> &mut Self {
        self.clients.push(client);
        self
    }

    /// Checks and indexes the world exactly as loading a world file does.
    /// Every problem is reported at once; a message names the entry it is
    /// about (there are no line numbers to show).
    pub fn build(&self) -> Result<World, Diagnostics> {
        let source = Source::new(BUILDER_PATH, "");
        let mut doc = Doc {
            source: source.clone(),
            diags: Diagnostics::default(),
        };
        let mut clients = ClientEntries::new(&source);
        for c in &self.clients {
            clients.add(raw_client(c));
        }
        let sections = Sections {
            accounts: self.accounts.iter().map(raw_account).collect(),
            locations: self.locations.iter().map(raw_location).collect(),
            staff: self.staff.iter().map(raw_staff).collect(),
            clients,
        };
        let world = resolve_world(&mut doc, sections);
        doc.finish(())?;
        let world = world.expect("a world is built whenever no problem was recorded");
        Ok(world)
    }
}

/// A value with no position: the builder has no text to point into.
fn unplaced(value: &str) -> Str {
    Str {
        value: value.to_owned(),
        pos: Pos::default(),
    }
}

fn unplaced_all(values: &[String]) -> Vec<Str> {
    values.iter().map(|v| unplaced(v)).collect()
}

fn raw<T>(id: &str, fields: T) -> Raw<T> {
    Raw {
        pos: Pos::default(),
        id: unplaced(id),
        fields: Some(fields),
    }
}

fn raw_account(a: &NewAccount) -> Raw<RawAccount> {
    raw(
        &a.id,
        RawAccount {
            name: a.name.clone(),
            parent: a.parent.as_deref().map(unplaced),
            country: a.country.as_deref().map(unplaced),
        },
    )
}

fn raw_location(l: &NewLocation) -> Raw<RawLocation> {
    raw(
        &l.id,
        RawLocation {
            name: l.name.clone(),
            account: unplaced(&l.account),
        },
    )
}

fn raw_staff(s: &NewStaff) -> Raw<RawStaff> {
    raw(
        &s.id,
        RawStaff {
            name: s.name.clone(),
            locations: unplaced_all(&s.locations),
            logged_in_at: s.logged_in_at.as_deref().map(unplaced),
            access: s.access.as_deref().map(unplaced_all),
        },
    )
}

fn raw_client(c: &NewClient) -> Raw<RawClient> {
    raw(
        &c.id,
        RawClient {
            name: c.name.clone(),
            account: unplaced(&c.account),
            locations: unplaced_all(&c.locations),
            last_appointment_at: c.last_appointment_at.as_deref().map(unplaced),
            phone: c.phone.clone(),
            sms_opt_in: c.sms_opt_in,
            email: c.email.clone(),
            email_opt_in: c.email_opt_in,
            guest_app: c.guest_app,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::{InboundRequest, OutboundRequest};
    use crate::rules::RuleSet;

    /// The world of `load/`'s tests, written as a file.
    const GOOD: &str = "
accounts:
  - {id: glow-group, name: Glow Group, country: US}
  - {id: glow-downtown, name: Glow Downtown, parent: glow-group}
locations:
  - {id: B, name: Uptown, account: glow-downtown}
  - {id: A, name: Downtown, account: glow-downtown}
staff:
  - {id: sam, name: Sam, locations: [A, B], logged_in_at: B}
  - {id: rita, name: Rita, locations: [A], communicator_access: [A, B]}
clients:
  - id: cleo
    name: Cleo
    account: glow-downtown
    locations: [B, A]
    last_appointment_at: A
    phone: (650) 253-0000
    sms_opt_in: true
  - {id: bo, name: Bo, account: glow-group, locations: [B], email: bo@example.com, guest_app: true}
";

    /// The same world, in memory, its entries in another order.
    fn good() -> WorldBuilder {
        let mut b = World::builder();
        b.location(NewLocation::new("A", "Downtown", "glow-downtown"))
            .account(NewAccount {
                parent: Some("glow-group".into()),
                ..NewAccount::new("glow-downtown", "Glow Downtown")
            })
            .client(NewClient {
                email: Some("bo@example.com".into()),
                guest_app: true,
                ..NewClient::new("bo", "Bo", "glow-group", ["B"])
            })
            .client(NewClient {
                last_appointment_at: Some("A".into()),
                phone: Some("(650) 253-0000".into()),
                sms_opt_in: true,
                ..NewClient::new("cleo", "Cleo", "glow-downtown", ["B", "A"])
            })
            .staff(NewStaff {
                access: Some(vec!["A".into(), "B".into()]),
                ..NewStaff::new("rita", "Rita", ["A"])
            })
            .staff(NewStaff {
                logged_in_at: Some("B".into()),
                ..NewStaff::new("sam", "Sam", ["A", "B"])
            })
            .account(NewAccount {
                country: Some("US".into()),
                ..NewAccount::new("glow-group", "Glow Group")
            })
            .location(NewLocation::new("B", "Uptown", "glow-downtown"));
        b
    }

    #[test]
    fn a_world_built_in_memory_equals_the_same_world_loaded() {
        let loaded = World::parse(Source::new("w.yaml", GOOD)).unwrap();
        let built = good().build().unwrap();
        // Everything a world holds, numbered alike.
        assert_eq!(format!("{:?}", built.accounts), format!("{:?}", loaded.accounts));
        assert_eq!(format!("{:?}", built.locations), format!("{:?}", loaded.locations));
        assert_eq!(format!("{:?}", built.staff), format!("{:?}", loaded.staff));
        assert_eq!(format!("{:?}", built.clients), format!("{:?}", loaded.clients));
        for id in ["glow-group", "glow-downtown", "nope"] {
            assert_eq!(built.account(id), loaded.account(id));
        }
        for id in ["A", "B", "nope"] {
            assert_eq!(built.location(id), loaded.location(id));
        }
        for id in ["sam", "rita", "nope"] {
            assert_eq!(built.staff_member(id), loaded.staff_member(id));
        }
        for id in ["cleo", "bo", "nope"] {
            assert_eq!(built.client(id), loaded.client(id));
        }
        for loc in 0..2 {
            assert_eq!(built.staff_with_access(loc), loaded.staff_with_access(loc));
            assert_eq!(built.live_staff_with_access(loc), loaded.live_staff_with_access(loc));
        }
        assert!(built.contact(built.client("cleo").unwrap()).phone_valid());

        // And the rules decide alike on both.
        let rules = RuleSet::load_dir("rules".as_ref()).unwrap();
        for client in ["cleo", "bo"] {
            for (staff, from) in [(None, None), (Some("sam"), Some("A")), (Some("rita"), Some("A"))] {
                let req = InboundRequest {
                    client: client.into(),
                    staff: staff.map(Into::into),
                    from: from.map(Into::into),
                    ..Default::default()
                };
                let decide = |w: &World| format!("{:?}", rules.route_inbound(w, &req.resolve(w).unwrap()));
                assert_eq!(decide(&built), decide(&loaded), "{req:?}");
            }
            for sender in ["glow-group", "glow-downtown"] {
                let req = OutboundRequest {
                    client: client.into(),
                    from_account: sender.into(),
                    text: "See you at 3pm!".into(),
                };
                let decide = |w: &World| format!("{:?}", rules.route_outbound(w, &req.resolve(w).unwrap()));
                assert_eq!(decide(&built), decide(&loaded), "{req:?}");
            }
        }
    }

    #[test]
    fn a_builder_error_names_the_entry() {
        let mut b = good();
        b.client(NewClient::new("zed", "Zed", "glow-grop", ["A"]))
            .staff(NewStaff {
                logged_in_at: Some("B".into()),
                ..NewStaff::new("tom", "Tom", ["A"])
            })
            .location(NewLocation::new("A", "Twin", "glow-group"));
        let err = b.build().unwrap_err();
        let found: Vec<(Option<&str>, &str)> = err
            .0
            .iter()
            .map(|d| (d.subject.as_deref(), d.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (Some("location `A`"), "duplicate id `A`"),
                (
                    Some("staff member `tom`"),
                    "`logged_in_at: B` is not one of the staff member's locations"
                ),
                (Some("client `zed`"), "unknown account `glow-grop`"),
            ]
        );
        let text = err.to_string();
        assert!(
            text.starts_with("error: location `A`: duplicate id `A`\n  --> <world builder>\n"),
            "{text}"
        );
        assert!(text.contains("did you mean `glow-group`?"), "{text}");
    }

    #[test]
    fn an_empty_builder_builds_an_empty_world() {
        let w = World::builder().build().unwrap();
        assert!(w.accounts.is_empty() && w.locations.is_empty() && w.staff.is_empty() && w.clients.is_empty());
    }
}
