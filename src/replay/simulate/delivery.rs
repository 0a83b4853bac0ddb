//! Delivery reports in a replay: a sent message delivered or failed, a
//! failed push sent again on the next channel, a failed SMS's notice and
//! audio cue.

use crate::engine::event::{Inbound, Outbound};
use crate::replay::store::{Attempt, SentDetails, SentMessage};
use crate::replay::timeline::{Event, Status};
use crate::rules::facts::Channel;
use crate::world::ClientIdx;

use super::messages::channel_name;
use super::{EventReport, SimError, Simulator, FAILED_NOTICE};

impl Simulator<'_> {
    pub(super) fn delivery(
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
            self.send_again(ev, &m, &md, client, attempts, n, r)
        } else {
            self.store
                .set_message_status(m.id, &m.channel, "failed", &json(&attempts))?;
            if matches!(m.channel.as_str(), "sms" | "mms") {
                self.failed_sms_notice(ev, &m, client, r)?;
            }
            Ok("failed")
        }
    }

    /// A failed push: the contract is that it goes out once more on the
    /// next eligible channel; the rules decide which, skipping push.
    #[allow(clippy::too_many_arguments)]
    fn send_again(
        &mut self,
        ev: &Event,
        m: &SentMessage,
        md: &SentDetails,
        client: ClientIdx,
        mut attempts: Vec<Attempt>,
        n: i64,
        r: &mut EventReport,
    ) -> Result<&'static str, SimError> {
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
    }

    /// A failed SMS or MMS: the conversation shows a notice, and everyone
    /// who receives it live hears the audio cue.
    fn failed_sms_notice(
        &mut self,
        ev: &Event,
        m: &SentMessage,
        client: ClientIdx,
        r: &mut EventReport,
    ) -> Result<(), SimError> {
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
        Ok(())
    }
}

/// A message's attempts as `messages.attempts` keeps them.
fn json(attempts: &[Attempt]) -> String {
    serde_json::to_string(attempts).expect("attempts serialise")
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
