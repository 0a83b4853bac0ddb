//! Messages in a replay: a client's message landing and a staff member's
//! message going out, each decided by the rules and saved in the store.
//! Delivery reports on sent messages are in `delivery.rs`.

use std::path::PathBuf;

use crate::engine::event::{Inbound, Outbound, Start};
use crate::replay::timeline::{Event, Via};
use crate::rules::facts::{Answering, Channel};
use crate::world::locset::Loc;
use crate::world::{ClientIdx, ContactUpdate};

use super::{EventReport, Happening, SimError, Simulator};

impl Simulator<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn client_message(
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
        self.tell(r, |w| Happening::ClientWrote {
            client: w.clients[client as usize].id.to_string(),
            text: text.to_owned(),
        });
        let refusal = self.check_photos(ev, photos)?;
        if !refusal.is_empty() {
            r.notices = refusal;
            return Ok("refused: photo");
        }
        self.opt_keyword(client, text, via, r);
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

    /// Opt-out and opt-in keywords by SMS change the world whether or not
    /// this run writes the message.
    fn opt_keyword(&mut self, client: ClientIdx, text: &str, via: Via, r: &mut EventReport) {
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
    }

    /// Where a staff member writes from: `from` when the event says, else
    /// where they are logged in, else their only location.
    pub(super) fn writes_from(&self, ev: &Event, staff: u32, from: Option<Loc>) -> Result<Loc, SimError> {
        let member = &self.world.staff[staff as usize];
        match from.or(member.logged_in_at) {
            Some(l) => Ok(l),
            None if member.locations.len() == 1 => Ok(member.locations.as_slice()[0]),
            None => Err(self.input(
                ev,
                format!(
                    "staff member `{}` has several locations ({}) and is not logged in",
                    member.id,
                    self.world.loc_ids(&member.locations).join(", ")
                ),
                Some("say where they write from with `from`, or log them in first".into()),
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn staff_message(
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
        self.tell(r, |w| Happening::StaffWrote {
            staff: w.staff[staff as usize].id.clone(),
            client: w.clients[client as usize].id.to_string(),
            text: text.to_owned(),
        });
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
}

pub(super) fn channel_name(c: Channel, photos: bool) -> &'static str {
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
