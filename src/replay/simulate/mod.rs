//! Replaying a timeline: every event through the rules, every message into
//! the conversation store.
//!
//! The [`Simulator`] owns the world as it changes over the day (logins,
//! appointments, contact changes, opt-outs) and, per client, the conversation
//! and how it started. [`replay`] feeds it events in order and commits them
//! in batches: an event's effects are written inside the batch transaction
//! and its report is handed out only after the commit. An event at a
//! position the store already holds, with the same id, was applied by an
//! earlier run: its changes to the world are applied again (so later
//! decisions see the same world) but nothing is written twice. That makes a
//! replay idempotent and lets a run that was killed resume where its last
//! commit ended. Any other event claims its id in the store before it is
//! applied, so an id used twice in a timeline is refused, in a streamed
//! timeline too, without keeping every id in memory.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::diag::{Diagnostic, Pos};
use crate::engine::decision::{InboundDecision, OutboundDecision};
use crate::engine::event::{Inbound, Outbound, Start};
use crate::engine::EvalError;
use crate::replay::photo::{self, Verdict};
use crate::replay::segments;
use crate::replay::store::{Attempt, Claim, ConversationRow, Store, StoreError};
use crate::replay::timeline::{Digest, Event, Status, Via, What};
use crate::rules::facts::{Answering, Channel};
use crate::rules::RuleSet;
use crate::world::locset::{Loc, LocSet};
use crate::world::{ClientIdx, ContactUpdate, World};

/// Sets a report's `what` when reports describe events.
macro_rules! what {
    ($sim:ident, $r:ident, $($arg:tt)*) => {
        if $sim.describe {
            $r.what = format!($($arg)*);
        }
    };
}

/// The notice a conversation shows when an SMS fails.
pub const FAILED_NOTICE: &str = "Message failed to deliver";

/// What one event did, as printed by `commroute simulate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventReport {
    pub seq: i64,
    pub id: String,
    pub at: String,
    pub event: &'static str,
    /// The event in a few words.
    pub what: String,
    /// The channel a message travelled on (the fallback's, after a failed push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'static str>,
    /// Where a client's message landed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lands_at: Vec<String>,
    /// Where a staff member's message was sent from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_from: Option<String>,
    /// Staff who received a client message live.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    /// Staff whose screen plays the audio cue.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub audio_cue: Vec<String>,
    /// The event was saved by an earlier run; nothing was written again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_recorded: bool,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A timeline line or event that cannot be applied.
    #[error("{0}")]
    Input(Box<Diagnostic>),
    /// Shown once: not the error's `source`, which would repeat it.
    #[error("the conversation store failed: {0}")]
    Store(StoreError),
    #[error("{0}")]
    Rules(#[from] EvalError),
    /// Writing the reports failed (a closed pipe, a full disk).
    #[error("{0}")]
    Output(std::io::Error),
}

impl From<StoreError> for SimError {
    fn from(e: StoreError) -> Self {
        SimError::Store(e)
    }
}

impl From<rusqlite::Error> for SimError {
    fn from(e: rusqlite::Error) -> Self {
        SimError::Store(StoreError::Sql(e))
    }
}

#[derive(Debug, Clone, Copy)]
struct Conv {
    id: i64,
    start: Start,
}

/// The state of a replay: the world as it is now and each client's conversation.
pub struct Simulator<'r> {
    rules: &'r RuleSet,
    pub world: World,
    pub store: Store,
    /// The timeline file, for messages about its events.
    pub path: PathBuf,
    convs: Vec<Option<Conv>>,
    photos: HashMap<PathBuf, Verdict>,
    /// Unread counts per conversation and location, written at each commit
    /// (bounded by the world's size, not the timeline's length).
    unread: HashMap<(i64, Loc), i64>,
    unread_dirty: Vec<(i64, Loc)>,
    /// Usage added since the last commit, per month, location, direction and kind.
    usage: HashMap<UsageKey, (i64, i64)>,
    /// Whether reports describe each event in words (`what`); off when
    /// nobody reads them (`simulate --quiet`).
    pub describe: bool,
    /// When set, every decision the rules make, explained, with the position
    /// of its event: timeline scenarios count them for `coverage` and show
    /// why a check failed. Off for `simulate`.
    pub decisions: Option<Vec<(i64, Made)>>,
    /// A failed event's claim could not be given back: the open batch
    /// must be rolled back, not committed.
    pub must_roll_back: bool,
}

/// A decision the rules made during a replay (see [`Simulator::decisions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// Where a client's message lands and who receives it live; also the
    /// delivery policy applied for a failed SMS's audio cue.
    Inbound(InboundDecision),
    /// The channel and text of a staff message, or of a failed push sent again.
    Outbound(OutboundDecision),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct UsageKey {
    /// `YYYY-MM`, as bytes (times are checked ASCII when read).
    month: [u8; 7],
    location: Loc,
    inbound: bool,
    mms: bool,
}

/// Totals of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub events: u64,
    pub applied: u64,
    pub already_recorded: u64,
    pub batches: u64,
}

impl<'r> Simulator<'r> {
    /// Starts from the world at the start of the timeline, and the
    /// conversations already in the store.
    pub fn new(rules: &'r RuleSet, world: World, store: Store, path: PathBuf) -> Result<Self, SimError> {
        let mut convs = vec![None; world.clients.len()];
        for row in store.conversations_all()? {
            let Some(c) = world.client(&row.client) else { continue };
            let start = if row.started_by == "staff" {
                match (
                    row.staff.as_deref().and_then(|s| world.staff_member(s)),
                    row.started_from.as_deref().and_then(|l| world.location(l)),
                ) {
                    (Some(staff), Some(from)) => Start::Staff { staff, from },
                    _ => continue,
                }
            } else {
                Start::Client {
                    answering: Answering::parse(&row.answering).unwrap_or(Answering::Nothing),
                    location: row.answered_location.as_deref().and_then(|l| world.location(l)),
                }
            };
            convs[c as usize] = Some(Conv { id: row.id, start });
        }
        let mut unread = HashMap::new();
        for (conv, loc, n) in store.unread_all()? {
            if let Some(l) = world.location(&loc) {
                unread.insert((conv, l), n);
            }
        }
        Ok(Simulator {
            rules,
            world,
            store,
            path,
            convs,
            photos: HashMap::new(),
            unread,
            unread_dirty: Vec::new(),
            usage: HashMap::new(),
            describe: true,
            decisions: None,
            must_roll_back: false,
        })
    }

    /// The inbound rules' decision, kept (explained) when decisions are kept.
    fn decide_inbound(&mut self, seq: i64, ev: &Inbound) -> Result<InboundDecision, EvalError> {
        let Some(kept) = &mut self.decisions else {
            return self.rules.route_inbound(&self.world, ev);
        };
        let d = self.rules.explain_inbound(&self.world, ev)?;
        kept.push((seq, Made::Inbound(d.clone())));
        Ok(d)
    }

    /// The outbound rules' decision (skipping the channels `tried`), kept
    /// when decisions are kept.
    fn decide_outbound(
        &mut self,
        seq: i64,
        ev: &Outbound,
        tried: &[Channel],
    ) -> Result<Option<OutboundDecision>, EvalError> {
        let d = match (&self.decisions, tried) {
            (Some(_), []) => Some(self.rules.explain_outbound(&self.world, ev)?),
            (None, []) => Some(self.rules.route_outbound(&self.world, ev)?),
            (_, tried) => self.rules.route_outbound_fallback(&self.world, ev, tried)?,
        };
        if let (Some(kept), Some(d)) = (&mut self.decisions, &d) {
            kept.push((seq, Made::Outbound(d.clone())));
        }
        Ok(d)
    }

    fn input(&self, ev: &Event, message: String, help: Option<String>) -> SimError {
        let mut d = Diagnostic::new(&self.path, Pos::new(ev.line, 1), message).subject(format!("event `{}`", ev.id));
        if let Some(h) = help {
            d = d.help(h);
        }
        SimError::Input(Box::new(d))
    }

    /// The refusal lines for a message's photos (empty when all are accepted).
    fn check_photos(&mut self, ev: &Event, photos: &[PathBuf]) -> Result<Vec<String>, SimError> {
        let mut refusal = Vec::new();
        for p in photos {
            let v = match self.photos.get(p) {
                Some(v) => v.clone(),
                None => {
                    let v = photo::check(p).map_err(|e| {
                        self.input(
                            ev,
                            format!("cannot read the photo `{}`: {e}", p.display()),
                            Some("photo paths are relative to the timeline file".into()),
                        )
                    })?;
                    self.photos.insert(p.clone(), v.clone());
                    v
                }
            };
            if !v.accepted {
                for line in v.refusal {
                    if !refusal.contains(&line) {
                        refusal.push(line);
                    }
                }
            }
        }
        Ok(refusal)
    }

    fn landed(&mut self, conv: i64, loc: Loc) {
        *self.unread.entry((conv, loc)).or_insert(0) += 1;
        self.unread_dirty.push((conv, loc));
    }

    fn replied(&mut self, conv: i64, loc: Loc) {
        self.unread.insert((conv, loc), 0);
        self.unread_dirty.push((conv, loc));
    }

    fn count_usage(&mut self, at: &str, location: Loc, inbound: bool, channel: &str, text: &str) {
        let mms = channel == "mms";
        let segments = if mms { 0 } else { segments::count(text).count as i64 };
        let mut month = [0u8; 7];
        month.copy_from_slice(&at.as_bytes()[..7]);
        let c = self
            .usage
            .entry(UsageKey {
                month,
                location,
                inbound,
                mms,
            })
            .or_insert((0, 0));
        c.0 += 1;
        c.1 += segments;
    }

    /// Writes the unread counts and usage gathered since the last commit.
    pub fn flush(&mut self) -> Result<(), SimError> {
        self.unread_dirty.sort_unstable();
        self.unread_dirty.dedup();
        for (conv, loc) in self.unread_dirty.drain(..) {
            let n = self.unread[&(conv, loc)];
            self.store.set_unread(conv, self.world.loc_id(loc), n)?;
        }
        let mut usage: Vec<(UsageKey, (i64, i64))> = self.usage.drain().collect();
        usage.sort_by(|a, b| {
            (&a.0.month, a.0.location, a.0.inbound, a.0.mms).cmp(&(&b.0.month, b.0.location, b.0.inbound, b.0.mms))
        });
        for (k, (messages, segments)) in usage {
            let w = &self.world;
            let account = &w.accounts[w.locations[k.location as usize].account as usize].id;
            self.store.add_usage(
                std::str::from_utf8(&k.month).expect("a checked time is ASCII"),
                w.loc_id(k.location),
                if k.inbound { "inbound" } else { "outbound" },
                if k.mms { "mms" } else { "sms" },
                account,
                messages,
                segments,
            )?;
        }
        Ok(())
    }

    fn ids(&self, set: &LocSet) -> Vec<String> {
        self.world.loc_ids(set)
    }

    /// Applies one event. With `write` false the event was saved by an
    /// earlier run: only its changes to the world are applied.
    ///
    /// An event that fails leaves nothing in the store: its id, claimed
    /// first, is given back. Only a claim this call made is given back; a
    /// row it found is never deleted or changed. Should giving it back
    /// fail, [`Simulator::must_roll_back`] is set and the batch must not be
    /// committed.
    pub fn step(&mut self, seq: i64, ev: &Event, write: bool) -> Result<EventReport, SimError> {
        // The id first, before the event changes anything: an id already in
        // the store belongs to an earlier event of this timeline (positions
        // an earlier run saved are not written again, so never reach here).
        if write {
            match self.store.claim_event_id(
                &ev.id,
                seq,
                ev.line,
                &ev.at,
                ev.what.kind(),
                ev.digest.as_bytes(),
            )? {
                Claim::Claimed => {}
                Claim::Duplicate { seq: first, line } => {
                    return Err(self.input(
                        ev,
                        format!("duplicate event id `{}`", ev.id),
                        Some(format!(
                            "the same id is used at line {line} (event {first} of the timeline); every event needs its own id"
                        )),
                    ))
                }
                Claim::WrittenByAnother => {
                    return Err(self.input(
                        ev,
                        format!("position {seq} of the timeline was saved by another run while this one ran"),
                        Some("only one replay may write a database at a time: run again once it is done, to resume after what it saved".into()),
                    ))
                }
            }
        }
        let applied = self.apply(seq, ev, write);
        if applied.is_err() && write && self.store.release_event_id(&ev.id, seq).is_err() {
            self.must_roll_back = true;
        }
        applied
    }

    /// [`Simulator::step`] once the event's id is claimed.
    fn apply(&mut self, seq: i64, ev: &Event, write: bool) -> Result<EventReport, SimError> {
        let mut r = EventReport {
            seq,
            id: if self.describe { ev.id.clone() } else { String::new() },
            at: if self.describe { ev.at.clone() } else { String::new() },
            event: ev.what.kind(),
            what: String::new(),
            channel: None,
            lands_at: Vec::new(),
            sent_from: None,
            live: Vec::new(),
            notices: Vec::new(),
            audio_cue: Vec::new(),
            already_recorded: !write,
        };
        let outcome: &'static str = match &ev.what {
            What::Login { staff, location } => {
                self.world.set_login(*staff, Some(*location));
                what!(
                    self,
                    r,
                    "{} logs in at {}",
                    self.world.staff[*staff as usize].id,
                    self.world.loc_id(*location)
                );
                "logged in"
            }
            What::Logout { staff } => {
                self.world.set_login(*staff, None);
                what!(self, r, "{} logs out", self.world.staff[*staff as usize].id);
                "logged out"
            }
            What::Appointment {
                client,
                location,
                completed,
            } => {
                self.world.set_last_appointment(*client, Some(*location));
                what!(
                    self,
                    r,
                    "{} {} an appointment at {}",
                    self.world.clients[*client as usize].id,
                    if *completed { "completed" } else { "booked" },
                    self.world.loc_id(*location)
                );
                "last appointment updated"
            }
            What::Contact { client, update } => {
                self.world.update_contact(*client, update);
                what!(
                    self,
                    r,
                    "{} {}",
                    self.world.clients[*client as usize].id,
                    describe(update)
                );
                "contact updated"
            }
            What::ClientMessage {
                client,
                text,
                via,
                answering,
                photos,
            } => self.client_message(ev, seq, *client, text, *via, *answering, photos, write, &mut r)?,
            What::StaffMessage {
                staff,
                client,
                from,
                from_account,
                text,
                photos,
            } => {
                let member = &self.world.staff[*staff as usize];
                let from = match from.or(member.logged_in_at) {
                    Some(l) => l,
                    None if member.locations.len() == 1 => member.locations.as_slice()[0],
                    None => {
                        return Err(self.input(
                            ev,
                            format!(
                                "staff member `{}` has several locations ({}) and is not logged in",
                                member.id,
                                self.world.loc_ids(&member.locations).join(", ")
                            ),
                            Some("say where they write from with `from`, or log them in first".into()),
                        ))
                    }
                };
                let sender = from_account.unwrap_or(self.world.locations[from as usize].account);
                self.staff_message(ev, seq, *staff, *client, from, sender, text, photos, write, &mut r)?
            }
            What::Delivery { message, status } => {
                what!(
                    self,
                    r,
                    "{message} {}",
                    if *status == Status::Failed {
                        "failed"
                    } else {
                        "delivered"
                    }
                );
                if write {
                    self.delivery(ev, message, *status, &mut r)?
                } else {
                    ""
                }
            }
        };
        if write {
            if let Some(reason) = outcome.strip_prefix("refused: ") {
                self.store.record_refused(&ev.id, seq, reason)?;
            }
        }
        Ok(r)
    }

    fn conversation(&mut self, client: ClientIdx, start: Start) -> Result<Conv, SimError> {
        if let Some(c) = self.convs[client as usize] {
            return Ok(c);
        }
        let w = &self.world;
        let row = match start {
            Start::Staff { staff, from } => ConversationRow {
                id: 0,
                client: w.clients[client as usize].id.to_string(),
                started_by: "staff".into(),
                staff: Some(w.staff[staff as usize].id.clone()),
                started_from: Some(w.loc_id(from).to_owned()),
                answering: "nothing".into(),
                answered_location: None,
            },
            Start::Client { answering, location } => ConversationRow {
                id: 0,
                client: w.clients[client as usize].id.to_string(),
                started_by: "client".into(),
                staff: None,
                started_from: None,
                answering: answering.name().into(),
                answered_location: location.map(|l| w.loc_id(l).to_owned()),
            },
        };
        let id = self.store.create_conversation(&row)?;
        let c = Conv { id, start };
        self.convs[client as usize] = Some(c);
        Ok(c)
    }

    /// The location usage is billed to for a message landing at `lands_at`:
    /// the only one, else the client's last appointment location among them,
    /// else the first in id order.
    fn billed_location(&self, client: ClientIdx, lands_at: &LocSet) -> Loc {
        let c = &self.world.clients[client as usize];
        match c.last_appointment {
            Some(l) if lands_at.len() > 1 && lands_at.contains(l) => l,
            _ => lands_at.iter().next().expect("a message lands somewhere"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn client_message(
        &mut self,
        ev: &Event,
        seq: i64,
        client: ClientIdx,
        text: &str,
        via: Via,
        answering: Option<(Answering, Option<Loc>)>,
        photos: &[PathBuf],
        write: bool,
        r: &mut EventReport,
    ) -> Result<&'static str, SimError> {
        what!(self, r, "{}: {text}", self.world.clients[client as usize].id);
        let refusal = self.check_photos(ev, photos)?;
        if !refusal.is_empty() {
            r.notices = refusal;
            return Ok("refused: photo");
        }
        // Opt-out and opt-in keywords change the world whether or not this
        // run writes the message.
        let keyword = text.trim().to_uppercase();
        let inbound = &self.rules.inbound;
        let opt = if via != Via::Sms {
            None
        } else if inbound.opt_out_keywords.contains(&keyword) {
            Some(false)
        } else if inbound.opt_in_keywords.contains(&keyword) {
            Some(true)
        } else {
            None
        };
        if let Some(v) = opt {
            self.world.update_contact(
                client,
                &ContactUpdate {
                    sms_opt_in: Some(v),
                    ..Default::default()
                },
            );
            r.notices.push(
                if v {
                    "the client opted back in to SMS"
                } else {
                    "the client opted out of SMS"
                }
                .into(),
            );
        }
        if !write {
            return Ok("");
        }
        let start = match (answering, self.convs[client as usize]) {
            (Some((answering, location)), _) => Start::Client { answering, location },
            (None, Some(c)) => c.start,
            (None, None) => Start::Client {
                answering: Answering::Nothing,
                location: None,
            },
        };
        let decision = self.decide_inbound(seq, &Inbound { client, start })?;
        let mut lands = String::new();
        for (i, l) in decision.lands_at.iter().enumerate() {
            if i > 0 {
                lands.push(',');
            }
            lands.push_str(self.world.loc_id(l));
        }
        let mut live = String::new();
        for (i, d) in decision.delivered_to.iter().enumerate() {
            if i > 0 {
                live.push(',');
            }
            live.push_str(&self.world.staff[d.staff as usize].id);
        }
        if self.describe {
            r.lands_at = self.ids(&decision.lands_at);
            r.live = decision
                .delivered_to
                .iter()
                .map(|d| self.world.staff[d.staff as usize].id.clone())
                .collect();
        }
        let channel = match via {
            Via::Sms if photos.is_empty() => "sms",
            Via::Sms => "mms",
            Via::App => "app",
            Via::Email => "email",
        };
        r.channel = Some(channel);
        let conv = self.conversation(client, start)?;
        let store = &self.store;
        store.insert_message(
            seq,
            conv.id,
            &ev.id,
            &ev.at,
            "inbound",
            channel,
            &self.world.clients[client as usize].id,
            None,
            text,
            None,
            &attachments(photos, &self.path),
            &lands,
            &live,
            "received",
            None,
        )?;
        for l in decision.lands_at.iter() {
            self.landed(conv.id, l);
        }
        if matches!(channel, "sms" | "mms") {
            let loc = self.billed_location(client, &decision.lands_at);
            self.count_usage(&ev.at, loc, true, channel, text);
        }
        Ok("saved")
    }

    #[allow(clippy::too_many_arguments)]
    fn staff_message(
        &mut self,
        ev: &Event,
        seq: i64,
        staff: u32,
        client: ClientIdx,
        from: Loc,
        sender: u32,
        text: &str,
        photos: &[PathBuf],
        write: bool,
        r: &mut EventReport,
    ) -> Result<&'static str, SimError> {
        let w = &self.world;
        what!(
            self,
            r,
            "{} → {}: {text}",
            w.staff[staff as usize].id,
            w.clients[client as usize].id
        );
        if !write {
            return Ok("");
        }
        let refusal = self.check_photos(ev, photos)?;
        if !refusal.is_empty() {
            r.notices = refusal;
            return Ok("refused: photo");
        }
        let out = Outbound {
            client,
            sender,
            text: text.to_owned(),
        };
        let d = self
            .decide_outbound(seq, &out, &[])?
            .expect("a first-match policy ends with a catch-all rule");
        if d.channel == Channel::None {
            r.channel = Some("none");
            r.notices.push(d.ghost_text(self.rules).to_owned());
            return Ok("refused: unreachable");
        }
        let channel = channel_name(d.channel, !photos.is_empty());
        r.channel = Some(channel);
        r.sent_from = Some(self.world.loc_id(from).to_owned());
        let conv = self.conversation(client, Start::Staff { staff, from })?;
        let w = &self.world;
        let store = &self.store;
        let from_id = w.loc_id(from);
        store.insert_message(
            seq,
            conv.id,
            &ev.id,
            &ev.at,
            "outbound",
            channel,
            &w.staff[staff as usize].id,
            Some(&w.accounts[sender as usize].id),
            &d.text,
            (d.text != text).then_some(text),
            &attachments(photos, &self.path),
            from_id,
            "",
            "sent",
            None,
        )?;
        self.replied(conv.id, from);
        if matches!(channel, "sms" | "mms") {
            self.count_usage(&ev.at, from, false, channel, &d.text);
        }
        Ok("saved")
    }

    fn delivery(
        &mut self,
        ev: &Event,
        message: &str,
        status: Status,
        r: &mut EventReport,
    ) -> Result<&'static str, SimError> {
        let Some(m) = self.store.message_of_event(message)? else {
            if self.store.was_refused(message)? {
                // The event was refused (an unreachable client, a refused
                // photo): nothing went out, so there is nothing to report on.
                r.notices
                    .push(format!("event `{message}` sent nothing; the report is ignored"));
                return Ok("ignored: nothing was sent");
            }
            return Err(self.input(
                ev,
                format!("no staff message was saved by an event `{message}`"),
                Some("a delivery report names the `id` of an earlier `staff_message` event that was sent".into()),
            ));
        };
        r.channel = Some(static_channel(&m.channel));
        // A message that nobody reported on yet has only its first attempt,
        // implied by the row (kept out of it to keep rows small).
        let mut attempts: Vec<Attempt> = match &m.attempts {
            Some(a) => serde_json::from_str(a).unwrap_or_default(),
            None => vec![Attempt {
                n: 1,
                at: m.at.clone(),
                channel: m.channel.clone(),
                status: "sent".into(),
                status_at: None,
                text: None,
            }],
        };
        let Some(last) = attempts.last_mut() else {
            return Err(self.input(ev, format!("event `{message}` has no attempt to report on"), None));
        };
        last.status = if status == Status::Delivered {
            "delivered"
        } else {
            "failed"
        }
        .into();
        last.status_at = Some(ev.at.clone());
        let n = last.n;
        let json = |a: &Vec<Attempt>| serde_json::to_string(a).expect("attempts serialise");
        if status == Status::Delivered {
            self.store
                .set_message_status(m.id, &m.channel, "delivered", &json(&attempts))?;
            return Ok("delivered");
        }
        let md = self.store.sent_details(m.id)?;
        let client = self
            .world
            .client(&md.client)
            .expect("a saved conversation belongs to a client of this world");
        if m.channel == "push" {
            // The contract: a failed push goes out once more on the next
            // eligible channel; the rules decide which, skipping push.
            let sender = md
                .account
                .as_deref()
                .and_then(|a| self.world.account(a))
                .expect("a saved staff message names its account");
            let out = Outbound {
                client,
                sender,
                text: md.typed.clone(),
            };
            let next = self.decide_outbound(r.seq, &out, &[Channel::Push])?;
            match next {
                Some(d) if d.channel != Channel::None => {
                    let photos = md.attachments != "[]";
                    let channel = channel_name(d.channel, photos);
                    attempts.push(Attempt {
                        n: n + 1,
                        at: ev.at.clone(),
                        channel: channel.into(),
                        status: "sent".into(),
                        status_at: None,
                        text: (d.text != md.text).then(|| d.text.clone()),
                    });
                    self.store.set_message_status(m.id, channel, "sent", &json(&attempts))?;
                    if matches!(channel, "sms" | "mms") {
                        let from = self.world.location(&md.location).expect("saved from a known location");
                        self.count_usage(&ev.at, from, false, channel, &d.text);
                    }
                    r.channel = Some(channel);
                    r.notices.push(format!("push failed; sent again by {channel}"));
                    Ok("push failed, sent again")
                }
                _ => {
                    self.store
                        .set_message_status(m.id, "push", "failed", &json(&attempts))?;
                    r.notices
                        .push("push failed; no other channel can reach the client".into());
                    Ok("push failed, no other channel")
                }
            }
        } else {
            self.store
                .set_message_status(m.id, &m.channel, "failed", &json(&attempts))?;
            if matches!(m.channel.as_str(), "sms" | "mms") {
                // Everyone who receives this conversation live hears the cue.
                let conv = self.convs[client as usize].expect("the conversation is known");
                let d = self.decide_inbound(
                    r.seq,
                    &Inbound {
                        client,
                        start: conv.start,
                    },
                )?;
                let cue: Vec<String> = d
                    .delivered_to
                    .iter()
                    .map(|x| self.world.staff[x.staff as usize].id.clone())
                    .collect();
                self.store
                    .insert_notice(m.id, m.conversation, &ev.at, FAILED_NOTICE, &cue.join(","))?;
                r.notices.push(FAILED_NOTICE.into());
                r.audio_cue = cue;
            }
            Ok("failed")
        }
    }
}

/// What a resumed replay finds at a position an earlier run recorded.
enum AtPosition {
    /// This event, the same in every field: nothing to write.
    Same,
    /// No event: it is written.
    Free,
    /// Another event, or this one edited since: the error that says so.
    Differs(SimError),
}

/// Compares the event at a recorded position with what the store holds.
fn at_position(sim: &Simulator, seq: i64, ev: &Event) -> Result<AtPosition, SimError> {
    let help = || {
        Some(
            "replay a timeline into the database it was first replayed into, as it was then, or use a new `--db`"
                .into(),
        )
    };
    let recorded = match sim.store.recorded(&ev.id)? {
        Some(r) if r.seq == seq => r,
        // The usual case is one lookup by id; which event holds the
        // position instead is only looked for to say so.
        _ => {
            return Ok(match sim.store.event_at(seq)? {
                Some(id) => AtPosition::Differs(sim.input(
                    ev,
                    format!(
                        "the database holds event `{id}` at position {seq} of the timeline, this timeline has `{}`",
                        ev.id
                    ),
                    help(),
                )),
                None => AtPosition::Free,
            })
        }
    };
    let mut changed: Vec<String> = Vec::new();
    if recorded.at != ev.at {
        changed.push(format!("`at` (`{}` when recorded, `{}` now)", recorded.at, ev.at));
    }
    if recorded.kind != ev.what.kind() {
        changed.push(format!(
            "`type` (`{}` when recorded, `{}` now)",
            recorded.kind,
            ev.what.kind()
        ));
    }
    changed.extend(
        Digest::differing(&recorded.digest, ev.digest.as_bytes())
            .into_iter()
            .map(|f| format!("`{f}`")),
    );
    if changed.is_empty() {
        return Ok(AtPosition::Same);
    }
    let fields = match changed.len() {
        1 => format!("its {} differs", changed[0]),
        n => format!("its {} and {} differ", changed[..n - 1].join(", "), changed[n - 1]),
    };
    Ok(AtPosition::Differs(sim.input(
        ev,
        format!("it changed since the database recorded it at position {seq}: {fields}"),
        help(),
    )))
}

/// A channel name read back from the store, as the static name reports use.
fn static_channel(c: &str) -> &'static str {
    match c {
        "push" => "push",
        "sms" => "sms",
        "mms" => "mms",
        "email" => "email",
        "app" => "app",
        _ => "none",
    }
}

fn channel_name(c: Channel, photos: bool) -> &'static str {
    match (c, photos) {
        (Channel::Sms, true) => "mms",
        (Channel::Sms, false) => "sms",
        (Channel::Push, _) => "push",
        (Channel::Email, _) => "email",
        (Channel::None, _) => "none",
    }
}

/// Photo paths as saved: relative to the timeline's folder, as written.
fn attachments(photos: &[PathBuf], timeline: &std::path::Path) -> String {
    let base = timeline.parent().unwrap_or(std::path::Path::new(""));
    let list: Vec<String> = photos
        .iter()
        .map(|p| p.strip_prefix(base).unwrap_or(p).display().to_string())
        .collect();
    serde_json::to_string(&list).expect("strings serialise")
}

fn describe(u: &ContactUpdate) -> String {
    let mut parts = Vec::new();
    if let Some(v) = u.guest_app {
        parts.push(format!("{} the guest app", if v { "installs" } else { "removes" }));
    }
    if let Some(p) = &u.phone {
        parts.push(format!("phone `{}`", p.as_deref().unwrap_or("")));
    }
    if let Some(v) = u.sms_opt_in {
        parts.push(format!("sms_opt_in {v}"));
    }
    if let Some(e) = &u.email {
        parts.push(format!("email `{}`", e.as_deref().unwrap_or("")));
    }
    if let Some(v) = u.email_opt_in {
        parts.push(format!("email_opt_in {v}"));
    }
    parts.join(", ")
}

/// How often a replay commits: after `events` events, or when `interval` has
/// passed since the batch began, whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub events: usize,
    pub interval: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            events: 100_000,
            interval: Duration::from_millis(200),
        }
    }
}

/// Replays events in order, committing in batches; `on_commit` receives each
/// batch's reports right after its commit. Stops at the first event that
/// cannot be applied, after committing the events before it.
pub fn replay<I, F>(sim: &mut Simulator, events: I, batching: Batching, on_commit: F) -> Result<Summary, SimError>
where
    I: IntoIterator<Item = Result<Event, Diagnostic>>,
    F: FnMut(&[EventReport]) -> std::io::Result<()>,
{
    replay_with(sim, events, batching, on_commit, drop)
}

/// [`replay`], handing each applied event to `done` instead of dropping it.
/// Events read on another thread are best freed there: freeing memory that
/// another thread allocated takes a lock of that thread's allocator arena,
/// which cost a streamed replay about 8% of its time (`simulate` sends them
/// back to its reading thread).
pub fn replay_with<I, F, D>(
    sim: &mut Simulator,
    events: I,
    batching: Batching,
    mut on_commit: F,
    mut done: D,
) -> Result<Summary, SimError>
where
    I: IntoIterator<Item = Result<Event, Diagnostic>>,
    F: FnMut(&[EventReport]) -> std::io::Result<()>,
    D: FnMut(Event),
{
    let recorded = sim.store.last_seq()?;
    let mut summary = Summary::default();
    let mut pending: Vec<EventReport> = Vec::with_capacity(batching.events.min(1 << 16));
    let mut started = Instant::now();
    sim.store.begin()?;
    let mut failure = None;
    for (i, ev) in events.into_iter().enumerate() {
        let seq = i as i64 + 1;
        let ev = match ev {
            Ok(ev) => ev,
            Err(d) => {
                failure = Some(SimError::Input(Box::new(d)));
                break;
            }
        };
        // Positions up to the last recorded one were applied by an earlier
        // run of this timeline: the event there must be this one, whole,
        // and nothing is written again.
        let write = if seq <= recorded {
            match at_position(sim, seq, &ev) {
                Ok(AtPosition::Same) => false,
                Ok(AtPosition::Free) => true,
                Ok(AtPosition::Differs(e)) | Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        } else {
            true
        };
        match sim.step(seq, &ev, write) {
            Ok(r) => pending.push(r),
            Err(e) => {
                // The event was not applied and left nothing (`step` gave
                // its id back): a run of the corrected timeline can apply it.
                failure = Some(e);
                break;
            }
        }
        done(ev);
        summary.events += 1;
        if write {
            summary.applied += 1;
        } else {
            summary.already_recorded += 1;
        }
        // Reading the clock costs more than an event: look at it every 64 events.
        if pending.len() >= batching.events || (i % 64 == 63 && started.elapsed() >= batching.interval) {
            sim.flush()?;
            sim.store.commit()?;
            summary.batches += 1;
            on_commit(&pending).map_err(SimError::Output)?;
            pending.clear();
            sim.store.begin()?;
            started = Instant::now();
        }
    }
    if sim.must_roll_back {
        // Not committed, so not printed: the next run applies these again.
        sim.store.rollback()?;
        return Err(failure.expect("a roll-back follows a failed event"));
    }
    sim.flush()?;
    sim.store.commit()?;
    summary.batches += 1;
    on_commit(&pending).map_err(SimError::Output)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::replay::timeline::JsonlTimeline;

    fn day() -> (World, Vec<Event>) {
        let mut tl = JsonlTimeline::open(Path::new("examples/day.jsonl")).unwrap();
        let world = tl.world.clone();
        let mut events = Vec::new();
        while let Some(e) = tl.next_event() {
            events.push(e.unwrap());
        }
        (world, events)
    }

    /// Two replays of one new database, interleaved as two processes
    /// started together were: the second finds the database empty, then
    /// the first writes and commits every event, then the second writes.
    /// (`simulate` takes the replay lock, so two processes cannot do this;
    /// the stores here are opened without it to show the second writer's
    /// own behaviour.)
    #[test]
    #[allow(clippy::result_large_err)] // the events' `Diagnostic`, as `replay` takes them
    fn a_second_writer_that_finds_its_position_taken_never_deletes_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let rules = RuleSet::shipped();
        let (world, events) = day();
        let path = PathBuf::from("examples/day.jsonl");

        let mut second =
            Simulator::new(&rules, world.clone(), Store::open_unclaimed(&db).unwrap(), path.clone()).unwrap();
        let mut first_dump = None;
        let interleaved = events.clone().into_iter().enumerate().map(|(i, e)| {
            if i == 0 {
                // The second writer has read what was recorded (nothing).
                let store = Store::open_unclaimed(&db).unwrap();
                let mut first = Simulator::new(&rules, world.clone(), store, path.clone()).unwrap();
                replay(
                    &mut first,
                    events.clone().into_iter().map(Ok),
                    Batching::default(),
                    |_| Ok(()),
                )
                .unwrap();
                first_dump = Some(first.store.dump().unwrap());
            }
            Ok(e)
        });
        let err = replay(&mut second, interleaved, Batching::default(), |_| Ok(())).unwrap_err();
        assert!(
            err.to_string()
                .contains("position 1 of the timeline was saved by another run while this one ran"),
            "{err}"
        );
        drop(second);
        let first_dump = first_dump.unwrap();
        assert!(
            first_dump.contains("\"d1\"|1|"),
            "the first writer recorded d1 at position 1"
        );
        assert_eq!(
            Store::open_read_only(&db).unwrap().dump().unwrap(),
            first_dump,
            "the second writer deleted or changed a row of the first"
        );
    }

    /// Positions are recorded without gaps, but should one be missing (a
    /// row lost to a writer without the replay lock), the event there is
    /// written again, never skipped as if it were recorded.
    #[test]
    fn a_recorded_position_without_its_event_is_written_again_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let rules = RuleSet::shipped();
        let (world, events) = day();
        let run = || {
            let mut sim = Simulator::new(&rules, world.clone(), Store::open(&db).unwrap(), "day.jsonl".into()).unwrap();
            let summary = replay(
                &mut sim,
                events.clone().into_iter().map(Ok),
                Batching::default(),
                |_| Ok(()),
            )
            .unwrap();
            (summary, sim.store.dump().unwrap())
        };
        let (_, whole) = run();
        // d11, a logout at position 11, writes nothing but its `events` row.
        let store = Store::open(&db).unwrap();
        assert_eq!(
            store.conn.execute("DELETE FROM events WHERE id = 'd11'", []).unwrap(),
            1
        );
        drop(store);
        let (summary, again) = run();
        assert_eq!((summary.applied, summary.already_recorded), (1, 11));
        assert_eq!(again, whole);
    }
}
