//! The facts of one event, and the catalogue of facts rules may read.
//!
//! An event (a client's message, a staff member's reply) is turned into a
//! [`Ctx`] once; every rule of every policy then reads the same context. The
//! [`Fact`] catalogue is the single place where the vocabulary of rules files is
//! defined: each fact's name, type, the policies that may read it, a sentence of
//! documentation and an example. The README's fact table and the loader's
//! error messages both come from it.

use std::fmt;

use crate::world::locset::{Loc, LocSet};
use crate::world::{AccountIdx, Client, ClientIdx, Staff, StaffIdx, World};

/// Which policy a rule belongs to; facts are only readable where they exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// Where a client's message lands.
    Inbound,
    /// Which staff receive it live.
    Delivery,
    /// Which channel carries a staff message.
    Outbound,
    /// The final text of a staff message (after the channel is chosen).
    Text,
}

impl PolicyKind {
    /// The policy's name as rules files and reports write it: `inbound`, `delivery`...
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Inbound => "inbound",
            PolicyKind::Delivery => "delivery",
            PolicyKind::Outbound => "outbound",
            PolicyKind::Text => "text",
        }
    }
}

/// Who started a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Starter {
    /// The client wrote first (answering a location's message or out of the blue).
    Client,
    /// A staff member wrote to the client first.
    Staff,
}

/// What kind of location message a client is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Answering {
    /// An appointment confirmation a location sent.
    Confirmation,
    /// An appointment reminder a location sent.
    Reminder,
    /// A marketing campaign a location sent.
    Campaign,
    /// Any other kind of message a location sent.
    Other,
    /// Nothing: a message out of the blue, or a reply in a staff conversation.
    Nothing,
}

/// The words `conversation.answering` takes, in [`Answering`]'s order.
pub const ANSWERING_VALUES: &[&str] = &["confirmation", "reminder", "campaign", "other", "nothing"];
/// The words `conversation.started_by` takes, in [`Starter`]'s order.
pub const STARTED_BY_VALUES: &[&str] = &["client", "staff"];
/// The words a channel is written with, in [`Channel`]'s order.
pub const CHANNEL_VALUES: &[&str] = &["push", "sms", "email", "none"];

impl Answering {
    /// Reads what a client answers from its word; `None` if the word is not one.
    pub fn parse(s: &str) -> Option<Answering> {
        Some(match s {
            "confirmation" => Answering::Confirmation,
            "reminder" => Answering::Reminder,
            "campaign" => Answering::Campaign,
            "other" => Answering::Other,
            "nothing" => Answering::Nothing,
            _ => return None,
        })
    }
    /// The word rules and reports use for it: `confirmation`, `nothing`...
    pub fn name(self) -> &'static str {
        ANSWERING_VALUES[self as usize]
    }
}

/// A channel that carries a staff message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A push notification to the client's app.
    Push,
    /// A text message to the client's phone.
    Sms,
    /// An email to the client.
    Email,
    /// No channel: sending is refused.
    None,
}

impl Channel {
    /// Reads a channel from its word; `None` if the word is not a channel.
    pub fn parse(s: &str) -> Option<Channel> {
        Some(match s {
            "push" => Channel::Push,
            "sms" => Channel::Sms,
            "email" => Channel::Email,
            "none" => Channel::None,
            _ => return None,
        })
    }
    /// The word rules and reports use for it: `push`, `sms`, `email`, `none`.
    pub fn name(self) -> &'static str {
        CHANNEL_VALUES[self as usize]
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The type of a fact, which decides the tests that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactType {
    /// Yes or no.
    Bool,
    /// One of a fixed list of words.
    Enum(&'static [&'static str]),
    /// A location, or nothing.
    Location,
    /// A set of locations (possibly empty).
    LocationSet,
    /// An account, or nothing.
    Account,
    /// Text, for message templates only.
    Text,
}

impl FactType {
    /// The type with an article, for sentences: "a location", "an account".
    pub fn a_name(self) -> &'static str {
        match self {
            FactType::Bool => "a yes/no fact",
            FactType::Enum(_) => "a word",
            FactType::Location => "a location",
            FactType::LocationSet => "a set of locations",
            FactType::Account => "an account",
            FactType::Text => "text",
        }
    }

    /// The type's short name for tables of facts: "yes/no", "location (optional)"...
    pub fn name(self) -> &'static str {
        match self {
            FactType::Bool => "yes/no",
            FactType::Enum(_) => "word",
            FactType::Location => "location (optional)",
            FactType::LocationSet => "set of locations",
            FactType::Account => "account (optional)",
            FactType::Text => "text",
        }
    }
}

macro_rules! facts {
    ($( $variant:ident => $name:literal, $ty:expr, [$($policy:ident),*], $label:literal, $absent:expr, $doc:literal, $example:literal; )*) => {
        /// A fact a rule may read.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Fact { $(#[doc = $doc] $variant),* }

        impl Fact {
            /// Every fact, in catalogue order.
            pub const ALL: &'static [Fact] = &[$(Fact::$variant),*];

            /// The fact's catalogue entry: name, type, policies, wording.
            pub fn info(self) -> &'static FactInfo {
                match self {
                    $(Fact::$variant => &FactInfo {
                        name: $name,
                        ty: $ty,
                        policies: &[$(PolicyKind::$policy),*],
                        label: $label,
                        absent: $absent,
                        doc: $doc,
                        example: $example,
                    }),*
                }
            }
        }
    };
}

/// What the catalogue says about one fact.
#[derive(Debug)]
pub struct FactInfo {
    /// The dotted name rules files use: `client.locations`.
    pub name: &'static str,
    /// The fact's type, which decides the tests a condition may apply to it.
    pub ty: FactType,
    /// The policies whose rules may read the fact.
    pub policies: &'static [PolicyKind],
    /// A noun phrase for explanations: "the client's locations".
    pub label: &'static str,
    /// What an explanation says when an optional fact is missing, or when a
    /// yes/no fact is no.
    pub absent: Option<&'static str>,
    /// A sentence or two for rule editors (the README's fact table).
    pub doc: &'static str,
    /// A condition that reads the fact, as a rules file would write it.
    pub example: &'static str,
}

use FactType::*;
facts! {
    StartedBy => "conversation.started_by", Enum(STARTED_BY_VALUES), [Inbound, Delivery], "who started the conversation", None,
        "`client` when the client wrote first (answering a location's message or out of the blue), `staff` when a staff member did.",
        "conversation.started_by: staff";
    Answering => "conversation.answering", Enum(ANSWERING_VALUES), [Inbound, Delivery], "what the client is answering", None,
        "The kind of location message the client is answering: `confirmation`, `reminder`, `campaign`, `other`, or `nothing` (out of the blue, or a staff conversation).",
        "conversation.answering: {one_of: [confirmation, reminder]}";
    AnsweredLocation => "conversation.answered_location", Location, [Inbound, Delivery], "the location that sent the message being answered", Some("the client is not answering a location's message"),
        "The location that sent the message the client is answering.",
        "conversation.answered_location: {present: true}";
    StartedFrom => "conversation.started_from", Location, [Inbound, Delivery], "the location the staff member started the conversation from", Some("no staff member started this conversation"),
        "The location the staff member was logged in at when they started the conversation.",
        "lands_at: conversation.started_from";
    StaffLocations => "staff.locations", LocationSet, [Inbound, Delivery], "the locations of the staff member who started the conversation", None,
        "The locations of the staff member who started the conversation (empty when the client started it).",
        "client.locations: {shares_none_with: staff.locations}";
    ClientLocations => "client.locations", LocationSet, [Inbound, Delivery, Outbound, Text], "the client's locations", None,
        "The locations the client is associated with (at least one).",
        "client.locations: {count_at_least: 2}";
    ClientLastAppointment => "client.last_appointment", Location, [Inbound, Delivery, Outbound, Text], "the client's last appointment location", Some("the client has no last appointment"),
        "Where the client's last appointment was, if they have had one.",
        "client.last_appointment: {in: staff.locations}";
    ClientAccount => "client.account", Account, [Inbound, Delivery, Outbound, Text], "the client's account", None,
        "The account the client belongs to.",
        "client.account: glow-group";
    ClientGlobal => "client.global", Bool, [Inbound, Delivery, Outbound, Text], "the client is a global client", Some("the client is not a global client"),
        "Whether the client belongs to a global account (one with child accounts) and is shared by its children.",
        "client.global: true";
    ClientGuestApp => "client.guest_app", Bool, [Inbound, Delivery, Outbound, Text], "the client has the custom guest app installed", Some("the client does not have the custom guest app installed"),
        "Whether the client has the custom guest app installed (a push token).",
        "client.guest_app: true";
    ClientPhoneValid => "client.phone_valid", Bool, [Inbound, Delivery, Outbound, Text], "the client's phone number is valid", Some("the client has no valid phone number on file"),
        "Whether the phone number on file is a valid number for the account's country (libphonenumber rules).",
        "client.phone_valid: true";
    ClientSmsOptIn => "client.sms_opt_in", Bool, [Inbound, Delivery, Outbound, Text], "the client is opted in to transactional SMS", Some("the client is not opted in to transactional SMS"),
        "Whether the client is opted in to transactional SMS.",
        "client.sms_opt_in: true";
    ClientEmailValid => "client.email_valid", Bool, [Inbound, Delivery, Outbound, Text], "the client's email address is valid", Some("the client has no valid email address on file"),
        "Whether the email on file is a syntactically valid address.",
        "client.email_valid: true";
    ClientEmailOptIn => "client.email_opt_in", Bool, [Inbound, Delivery, Outbound, Text], "the client is opted in to transactional email", Some("the client is not opted in to transactional email"),
        "Whether the client is opted in to transactional email.",
        "client.email_opt_in: true";
    LandsAt => "message.lands_at", LocationSet, [Delivery], "the locations the message lands at", None,
        "The locations the inbound policy decided the message lands at.",
        "recipient.access: {shares_any_with: message.lands_at}";
    RecipientLocations => "recipient.locations", LocationSet, [Delivery], "the staff member's locations", None,
        "The locations of the staff member being considered as a live recipient.",
        "recipient.locations: {shares_any_with: message.lands_at}";
    RecipientLoggedIn => "recipient.logged_in", Bool, [Delivery], "the staff member is logged in", Some("the staff member is not logged in"),
        "Whether the staff member being considered is logged in anywhere.",
        "recipient.logged_in: true";
    RecipientLoggedInAt => "recipient.logged_in_at", Location, [Delivery], "where the staff member is logged in", Some("the staff member is not logged in"),
        "Where the staff member being considered is logged in.",
        "recipient.logged_in_at: {in: message.lands_at}";
    RecipientAccess => "recipient.access", LocationSet, [Delivery], "the staff member's communicator access", None,
        "The locations whose conversations the staff member may read.",
        "recipient.access: {shares_any_with: message.lands_at}";
    RecipientStarted => "recipient.started_conversation", Bool, [Delivery], "the staff member started this conversation", Some("the staff member did not start this conversation"),
        "Whether the staff member being considered started this conversation.",
        "recipient.started_conversation: true";
    SenderAccount => "sender.account", Account, [Outbound, Text], "the sending account", None,
        "The account the staff message is sent from.",
        "sender.account: {same_as: client.account}";
    SenderParentAccount => "sender.parent_account", Account, [Outbound, Text], "the sending account's parent", Some("the sending account has no parent account"),
        "The parent of the sending account, when it is a child account.",
        "sender.parent_account: {same_as: client.account}";
    SenderAccountName => "sender.account_name", Text, [Text], "the sending account's name", None,
        "The name of the sending account (for message templates).",
        "text: \"{sender.account_name}: {text}\"";
    ClientName => "client.name", Text, [Text], "the client's name", None,
        "The client's name (for message templates).",
        "text: \"Hi {client.name}, {text}\"";
    MessageText => "message.text", Text, [Text], "the text staff typed", None,
        "What the staff member typed (for message templates and Rhai text scripts).",
        "text: {rhai: \"message.text.to_upper()\"}";
    Channel => "message.channel", Enum(CHANNEL_VALUES), [Text], "the channel chosen for the message", None,
        "The channel the outbound policy chose: `push`, `sms`, `email` or `none`.",
        "message.channel: push";
}

impl Fact {
    /// Whether the fact is a set of locations (`info().ty == LocationSet`),
    /// answered without the catalogue lookup on the hot path.
    #[inline]
    pub const fn is_set(self) -> bool {
        matches!(
            self,
            Fact::StaffLocations
                | Fact::ClientLocations
                | Fact::LandsAt
                | Fact::RecipientLocations
                | Fact::RecipientAccess
        )
    }

    /// Whether the fact is an account (`info().ty == Account`).
    #[inline]
    pub const fn is_account(self) -> bool {
        matches!(
            self,
            Fact::ClientAccount | Fact::SenderAccount | Fact::SenderParentAccount
        )
    }

    /// The fact's dotted name: `client.locations`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The fact a rules file names; `None` if the catalogue has no such fact.
    pub fn by_name(name: &str) -> Option<Fact> {
        Fact::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Whether rules of this policy may read the fact.
    pub fn readable_in(self, policy: PolicyKind) -> bool {
        self.info().policies.contains(&policy)
    }

    /// The names of the facts a policy may read.
    pub fn names_for(policy: PolicyKind) -> Vec<&'static str> {
        Fact::ALL
            .iter()
            .filter(|f| f.readable_in(policy))
            .map(|f| f.name())
            .collect()
    }
}

/// The value of a fact, as seen while explaining a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A yes/no fact's value.
    Bool(bool),
    /// A word fact's value, one of its word list.
    Word(&'static str),
    /// A location fact's value, or `None` when it is missing.
    Location(Option<Loc>),
    /// A set-of-locations fact's value.
    Set(LocSet),
    /// An account fact's value, or `None` when it is missing.
    Account(Option<AccountIdx>),
    /// A text fact's value (a name, the message typed).
    Text(String),
}

impl Value {
    /// Renders the value with ids, the way a person reads it: `A`, `[A, B]`, `none`.
    pub fn show(&self, world: &World) -> String {
        match self {
            Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
            Value::Word(w) => (*w).into(),
            Value::Location(Some(l)) => world.loc_id(*l).into(),
            Value::Location(None) | Value::Account(None) => "none".into(),
            Value::Set(s) => format!("[{}]", world.loc_ids(s).join(", ")),
            Value::Account(Some(a)) => world.accounts[*a as usize].id.clone(),
            Value::Text(t) => t.clone(),
        }
    }
}

static EMPTY: LocSet = LocSet::new();

/// The facts of one event. Built once per event; every rule reads it.
#[derive(Debug, Clone)]
pub struct Ctx<'w> {
    /// The salon group's data the event is read against.
    pub world: &'w World,
    /// The client's number in the world.
    pub client_ix: ClientIdx,
    /// The client the conversation is with.
    pub client: &'w Client,
    /// Who started the conversation.
    pub started_by: Starter,
    /// What kind of location message the client is answering, if any.
    pub answering: Answering,
    /// The location that sent the message the client is answering.
    pub answered_location: Option<Loc>,
    /// The location a staff member started the conversation from.
    pub started_from: Option<Loc>,
    /// The staff member who started the conversation.
    pub staff: Option<(StaffIdx, &'w Staff)>,
    /// Delivery only: where the message lands.
    pub lands_at: LocSet,
    /// Delivery only: the staff member being considered.
    pub recipient: Option<(StaffIdx, &'w Staff)>,
    /// Outbound only: the sending account.
    pub sender: Option<AccountIdx>,
    /// Text only: the channel the outbound policy chose.
    pub channel: Channel,
    /// Text only: the text staff typed.
    pub text: &'w str,
}

impl<'w> Ctx<'w> {
    /// The facts of a client-started message out of the blue; callers then
    /// set the fields their event gives.
    pub fn new(world: &'w World, client: ClientIdx) -> Self {
        Ctx {
            world,
            client_ix: client,
            client: &world.clients[client as usize],
            started_by: Starter::Client,
            answering: Answering::Nothing,
            answered_location: None,
            started_from: None,
            staff: None,
            lands_at: LocSet::new(),
            recipient: None,
            sender: None,
            channel: Channel::None,
            text: "",
        }
    }

    /// The value of a yes/no fact (`false` for a fact of another type).
    #[inline]
    pub fn bool(&self, f: Fact) -> bool {
        let c = self.client;
        match f {
            Fact::ClientGlobal => self.world.accounts[c.account as usize].global,
            Fact::ClientGuestApp => c.guest_app,
            Fact::ClientPhoneValid => self.world.contact_of(c).phone_valid(),
            Fact::ClientSmsOptIn => c.sms_opt_in,
            Fact::ClientEmailValid => self.world.contact_of(c).email_valid,
            Fact::ClientEmailOptIn => c.email_opt_in,
            Fact::RecipientLoggedIn => self.recipient.is_some_and(|(_, s)| s.logged_in_at.is_some()),
            Fact::RecipientStarted => {
                self.started_by == Starter::Staff
                    && matches!((self.recipient, self.staff), (Some((r, _)), Some((s, _))) if r == s)
            }
            _ => false,
        }
    }

    /// The index of an enum fact's value in its word list.
    #[inline]
    pub fn word(&self, f: Fact) -> u8 {
        match f {
            Fact::StartedBy => match self.started_by {
                Starter::Client => 0,
                Starter::Staff => 1,
            },
            Fact::Answering => self.answering as u8,
            Fact::Channel => self.channel as u8,
            _ => 0,
        }
    }

    /// The value of a location fact (`None` for a fact of another type).
    #[inline]
    pub fn location(&self, f: Fact) -> Option<Loc> {
        match f {
            Fact::AnsweredLocation => self.answered_location,
            Fact::StartedFrom => self.started_from,
            Fact::ClientLastAppointment => self.client.last_appointment,
            Fact::RecipientLoggedInAt => self.recipient.and_then(|(_, s)| s.logged_in_at),
            _ => None,
        }
    }

    /// The value of a set-of-locations fact (empty for a fact of another type).
    #[inline(always)]
    pub fn set(&self, f: Fact) -> &LocSet {
        match f {
            Fact::StaffLocations => self.staff.map_or(&EMPTY, |(_, s)| &s.locations),
            Fact::ClientLocations => &self.client.locations,
            Fact::LandsAt => &self.lands_at,
            Fact::RecipientLocations => self.recipient.map_or(&EMPTY, |(_, s)| &s.locations),
            Fact::RecipientAccess => self.recipient.map_or(&EMPTY, |(_, s)| &s.access),
            _ => &EMPTY,
        }
    }

    /// The value of an account fact (`None` for a fact of another type).
    #[inline]
    pub fn account(&self, f: Fact) -> Option<AccountIdx> {
        match f {
            Fact::ClientAccount => Some(self.client.account),
            Fact::SenderAccount => self.sender,
            Fact::SenderParentAccount => self.sender.and_then(|a| self.world.accounts[a as usize].parent),
            _ => None,
        }
    }

    /// The value of a text fact (empty for a fact of another type).
    pub fn text_of(&self, f: Fact) -> &str {
        match f {
            Fact::SenderAccountName => self
                .sender
                .map_or("", |a| self.world.accounts[a as usize].name.as_str()),
            Fact::ClientName => &self.client.name,
            Fact::MessageText => self.text,
            _ => "",
        }
    }

    /// The value of any fact, for explanations and scripts.
    pub fn value(&self, f: Fact) -> Value {
        match f.info().ty {
            FactType::Bool => Value::Bool(self.bool(f)),
            FactType::Enum(words) => Value::Word(words[self.word(f) as usize]),
            FactType::Location => Value::Location(self.location(f)),
            FactType::LocationSet => Value::Set(self.set(f).clone()),
            FactType::Account => Value::Account(self.account(f)),
            FactType::Text => Value::Text(self.text_of(f).to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fact_has_a_unique_dotted_name_and_an_example_that_names_it() {
        let mut names: Vec<&str> = Fact::ALL.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Fact::ALL.len());
        for f in Fact::ALL {
            let info = f.info();
            assert!(info.name.contains('.'), "{}", info.name);
            assert!(!info.policies.is_empty(), "{}", info.name);
            assert!(
                info.example.contains(info.name) || info.example.contains(&format!("{{{}}}", info.name)),
                "{}",
                info.name
            );
            assert_eq!(f.is_set(), info.ty == FactType::LocationSet, "{}", info.name);
            assert_eq!(f.is_account(), info.ty == FactType::Account, "{}", info.name);
            if matches!(info.ty, FactType::Location | FactType::Bool) {
                assert!(info.absent.is_some(), "{}", info.name);
            }
        }
    }
}
