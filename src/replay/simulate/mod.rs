//! Replaying a timeline: every event through the rules, every message into
//! the conversation store.
//!
//! The [`Simulator`] owns the world as it changes over the day (logins,
//! appointments, contact changes, opt-outs) and, per client, the conversation
//! and how it started. `replay` feeds it events in order and commits them
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

use crate::diag::{Diagnostic, Pos};
use crate::engine::decision::{InboundDecision, OutboundDecision};
use crate::engine::event::{Inbound, Outbound, Start};
use crate::engine::EvalError;
use crate::replay::photo::{self, Verdict};
use crate::replay::segments;
use crate::replay::store::{Claim, ConversationRow, Store};
use crate::replay::timeline::{Event, Status, What};
use crate::rules::facts::{Answering, Channel};
use crate::rules::RuleSet;
use crate::world::locset::{Loc, LocSet};
use crate::world::{ClientIdx, World};

/// The notice a conversation shows when an SMS fails.
pub(crate) const FAILED_NOTICE: &str = "Message failed to deliver";

mod batches;
mod delivery;
mod error;
mod messages;
mod report;

pub(crate) use batches::replay_with;
pub use batches::{Batching, ReplaySummary};
pub use error::SimError;
pub use report::{EventReport, Happening};

#[derive(Debug, Clone, Copy)]
struct Conv {
    id: i64,
    start: Start,
}

/// The state of a replay: the world as it is now and each client's conversation.
pub struct Simulator<'r> {
    rules: &'r RuleSet,
    /// The world as the events so far left it.
    pub world: World,
    /// The conversation store the replay writes.
    pub store: Store,
    /// The timeline file, for messages about its events.
    pub(crate) path: PathBuf,
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
    pub(crate) describe: bool,
    /// When set, every decision the rules make, explained, with the position
    /// of its event: timeline scenarios count them for `coverage` and show
    /// why a check failed. Off for `simulate`.
    pub(crate) decisions: Option<Vec<(i64, Made)>>,
    /// A failed event's claim could not be given back: the open batch
    /// must be rolled back, not committed.
    pub(crate) must_roll_back: bool,
}

/// A decision the rules made during a replay (see [`Simulator::decisions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Made {
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

impl<'r> Simulator<'r> {
    /// Starts from the world at the start of the timeline, and the
    /// conversations already in the store.
    pub(crate) fn new(rules: &'r RuleSet, world: World, store: Store, path: PathBuf) -> Result<Self, SimError> {
        // Every client's phone and email at once: a replay decides for most.
        world.validate_contacts();
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
    pub(crate) fn flush(&mut self) -> Result<(), SimError> {
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
    pub(crate) fn step(&mut self, seq: i64, ev: &Event, write: bool) -> Result<EventReport, SimError> {
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

    /// Sets the report's `what` when reports describe events.
    fn tell(&self, r: &mut EventReport, what: impl FnOnce(&World) -> Happening) {
        if self.describe {
            r.what = Some(what(&self.world));
        }
    }

    /// [`Simulator::step`] once the event's id is claimed.
    fn apply(&mut self, seq: i64, ev: &Event, write: bool) -> Result<EventReport, SimError> {
        let mut r = EventReport {
            seq,
            id: if self.describe { ev.id.clone() } else { String::new() },
            at: if self.describe { ev.at.clone() } else { String::new() },
            event: ev.what.kind(),
            what: None,
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
                self.tell(&mut r, |w| Happening::LoggedIn {
                    staff: w.staff[*staff as usize].id.clone(),
                    location: w.loc_id(*location).to_owned(),
                });
                "logged in"
            }
            What::Logout { staff } => {
                self.world.set_login(*staff, None);
                self.tell(&mut r, |w| Happening::LoggedOut {
                    staff: w.staff[*staff as usize].id.clone(),
                });
                "logged out"
            }
            What::Appointment {
                client,
                location,
                completed,
            } => {
                self.world.set_last_appointment(*client, Some(*location));
                self.tell(&mut r, |w| Happening::Appointment {
                    client: w.clients[*client as usize].id.to_string(),
                    location: w.loc_id(*location).to_owned(),
                    completed: *completed,
                });
                "last appointment updated"
            }
            What::Contact { client, update } => {
                self.world.update_contact(*client, update);
                self.tell(&mut r, |w| Happening::ContactChanged {
                    client: w.clients[*client as usize].id.to_string(),
                    update: update.clone(),
                });
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
                let from = self.writes_from(ev, *staff, *from)?;
                let sender = from_account.unwrap_or(self.world.locations[from as usize].account);
                self.staff_message(ev, seq, *staff, *client, from, sender, text, photos, write, &mut r)?
            }
            What::Delivery { message, status } => {
                self.tell(&mut r, |_| Happening::Delivery {
                    message: message.clone(),
                    failed: *status == Status::Failed,
                });
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
}
