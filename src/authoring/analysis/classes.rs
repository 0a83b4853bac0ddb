//! The classes the matrix has rows for, beyond the inbound ones: how a
//! staff member relates to where a message lands (a live recipient), and
//! how an outbound message's sender relates to the client; and [`Classes`],
//! every class with its witness, built once and shared by the rule sets
//! compared.

use std::fmt;

use serde::Serialize;

use super::dims::Dims;
use super::inbound_class::{inbound_shapes, InboundClass};
use super::witness::{inbound_witness, outbound_witnesses, InboundWitness, OutboundWitness};
use crate::engine::event::Outbound;
use crate::rules::facts::{Ctx, Fact};
use crate::rules::RuleSet;
use crate::world::World;

/// How a staff member's locations relate to where the message lands.
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

/// Where a staff member is logged in, relative to where the message lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Login {
    /// Not logged in.
    Out,
    /// Logged in at a landing location.
    AtLanding,
    /// Logged in at a location the message does not land at.
    Elsewhere,
}

/// A staff member's communicator access, relative to where the message lands.
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
    /// How their locations relate to the landing locations.
    pub assoc: Assoc,
    /// Where they are logged in.
    pub login: Login,
    /// What their communicator access covers.
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

/// A class of outbound messages: contact facts and how the sending account
/// relates to the client's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct OutboundClass {
    /// The client's account is a parent of other accounts.
    pub client_global: bool,
    /// The message is sent from the client's own account.
    pub sender_is_client_account: bool,
    /// The sending account has a parent.
    pub sender_has_parent: bool,
    /// The sending account's parent is the client's account.
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
    /// The class of a resolved outbound event in its world.
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

    /// The class in plain words.
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

/// The classes to evaluate, built once and shared by the rule sets compared.
pub struct Classes {
    /// What the enumeration varied, from the facts the rule sets read.
    pub dims: Dims,
    pub(super) inbound: Vec<(InboundClass, InboundWitness)>,
    pub(super) outbound: Vec<(OutboundClass, OutboundWitness)>,
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

    /// How many classes there are, inbound and outbound.
    pub fn len(&self) -> usize {
        self.inbound.len() + self.outbound.len()
    }

    /// Whether there are no classes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The inbound classes, in matrix order.
    pub fn inbound_classes(&self) -> impl Iterator<Item = &InboundClass> {
        self.inbound.iter().map(|(c, _)| c)
    }

    /// The outbound classes, in matrix order.
    pub fn outbound_classes(&self) -> impl Iterator<Item = &OutboundClass> {
        self.outbound.iter().map(|(c, _)| c)
    }
}
