//! Resolving a timeline event against the world: every id checked and
//! numbered once, when the event is read, so replaying only evaluates
//! rules. One function per event type. Reading the two formats is in
//! `yaml.rs` and `jsonl.rs`; the event model is in `mod.rs`.

use std::path::Path;

use crate::diag::{did_you_mean, one_of};
use crate::rules::facts::Answering;
use crate::world::locset::Loc;
use crate::world::{ClientIdx, ContactUpdate, StaffIdx, World};

use super::{check_time, ferr, Digest, Event, FieldError, Status, Via, What, WrittenEvent, EVENT_TYPES, VIA_VALUES};

/// Resolves a written event against the world. `base` is the folder photo
/// paths are relative to.
pub(crate) fn resolve(mut raw: WrittenEvent, world: &World, base: &Path, line: usize) -> Result<Event, FieldError> {
    let (what, digest) = resolve_what(&mut raw, world, base)?;
    Ok(Event {
        id: raw.id,
        at: raw.at,
        line,
        what,
        digest,
    })
}

/// [`resolve`], leaving the event's id and time in `raw` (for messages).
pub(crate) fn resolve_what(raw: &mut WrittenEvent, world: &World, base: &Path) -> Result<(What, Digest), FieldError> {
    if raw.id.is_empty() {
        return Err(ferr("id", "an event needs a non-empty `id`"));
    }
    check_time(&raw.at)?;
    check_fields(raw)?;
    let digest = Digest::of(raw);
    let what = match raw.kind.as_str() {
        "login" => resolve_login(raw, world)?,
        "logout" => What::Logout {
            staff: staff_of(raw, world)?,
        },
        "staff_message" => resolve_staff_message(raw, world, base)?,
        "client_message" => resolve_client_message(raw, world, base)?,
        "delivery" => resolve_delivery(raw)?,
        "appointment" => resolve_appointment(raw, world)?,
        "contact" => resolve_contact(raw, world)?,
        _ => unreachable!("event types were checked above"),
    };
    Ok((what, digest))
}

/// Checks the event's type, and that it has no field its type does not take.
fn check_fields(raw: &WrittenEvent) -> Result<(), FieldError> {
    let allowed: &[&str] = match raw.kind.as_str() {
        "login" => &["staff", "location"],
        "logout" => &["staff"],
        "staff_message" => &["staff", "client", "from", "from_account", "text", "photos"],
        "client_message" => &["client", "text", "via", "answering", "photos"],
        "delivery" => &["message", "status"],
        "appointment" => &["client", "location", "status"],
        "contact" => &["client", "guest_app", "phone", "sms_opt_in", "email", "email_opt_in"],
        other => {
            let hint = match did_you_mean(other, EVENT_TYPES.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? "),
                None => String::new(),
            };
            return Err(FieldError {
                field: Some("type".into()),
                message: format!("unknown event type `{other}`"),
                help: Some(format!("{hint}event types are {}", one_of(EVENT_TYPES))),
            });
        }
    };
    let given: [(&str, bool); 17] = [
        ("staff", raw.staff.is_some()),
        ("client", raw.client.is_some()),
        ("location", raw.location.is_some()),
        ("from", raw.from.is_some()),
        ("from_account", raw.from_account.is_some()),
        ("text", raw.text.is_some()),
        ("photos", !raw.photos.is_empty()),
        ("via", raw.via.is_some()),
        ("answering", raw.answering.is_some()),
        ("message", raw.message.is_some()),
        ("status", raw.status.is_some()),
        ("guest_app", raw.guest_app.is_some()),
        ("phone", raw.phone.is_some()),
        ("sms_opt_in", raw.sms_opt_in.is_some()),
        ("email", raw.email.is_some()),
        ("email_opt_in", raw.email_opt_in.is_some()),
        ("id", true),
    ];
    for (field, present) in given {
        if present && field != "id" && !allowed.contains(&field) {
            return Err(FieldError {
                field: Some(field.into()),
                message: format!("a `{}` event has no `{field}`", raw.kind),
                help: Some(format!("its fields are {}", one_of(allowed))),
            });
        }
    }
    Ok(())
}

/// A field the event's type needs.
fn need<'a>(v: &'a Option<String>, field: &str, kind: &str) -> Result<&'a str, FieldError> {
    v.as_deref()
        .ok_or_else(|| ferr(field, format!("a `{kind}` event needs `{field}`")))
}

/// The event's `staff`, which it needs.
fn staff_of(raw: &WrittenEvent, world: &World) -> Result<StaffIdx, FieldError> {
    let id = need(&raw.staff, "staff", &raw.kind)?;
    world
        .staff_member(id)
        .ok_or_else(|| unknown_id("staff", "staff member", id, world.staff.iter().map(|s| s.id.as_str())))
}

/// The event's `client`, which it needs.
fn client_of(raw: &WrittenEvent, world: &World) -> Result<ClientIdx, FieldError> {
    let id = need(&raw.client, "client", &raw.kind)?;
    world
        .client(id)
        .ok_or_else(|| unknown_id("client", "client", id, world.clients.iter().map(|c| c.id.as_str())))
}

/// A location named in `field`.
fn location_of(world: &World, field: &str, id: &str) -> Result<Loc, FieldError> {
    world
        .location(id)
        .ok_or_else(|| unknown_id(field, "location", id, world.locations.iter().map(|l| l.id.as_str())))
}

/// The event's photos, relative to the timeline's folder.
fn photo_paths(raw: &WrittenEvent, base: &Path) -> Vec<std::path::PathBuf> {
    raw.photos.iter().map(|p| base.join(p)).collect()
}

fn resolve_login(raw: &WrittenEvent, world: &World) -> Result<What, FieldError> {
    let s = staff_of(raw, world)?;
    let lid = need(&raw.location, "location", &raw.kind)?;
    let l = location_of(world, "location", lid)?;
    let member = &world.staff[s as usize];
    if !member.locations.contains(l) {
        return Err(FieldError {
            field: Some("location".into()),
            message: format!("staff member `{}` is not associated with location `{lid}`", member.id),
            help: Some(format!(
                "a staff member logs in at one of their own locations: {}",
                world.loc_ids(&member.locations).join(", ")
            )),
        });
    }
    Ok(What::Login { staff: s, location: l })
}

fn resolve_staff_message(raw: &mut WrittenEvent, world: &World, base: &Path) -> Result<What, FieldError> {
    let s = staff_of(raw, world)?;
    let member = &world.staff[s as usize];
    let from = match &raw.from {
        Some(lid) => {
            let l = location_of(world, "from", lid)?;
            if !member.locations.contains(l) {
                return Err(ferr(
                    "from",
                    format!("staff member `{}` is not associated with location `{lid}`", member.id),
                ));
            }
            Some(l)
        }
        None => None,
    };
    let from_account = match &raw.from_account {
        Some(a) => Some(world.account(a).ok_or_else(|| {
            unknown_id(
                "from_account",
                "account",
                a,
                world.accounts.iter().map(|a| a.id.as_str()),
            )
        })?),
        None => None,
    };
    Ok(What::StaffMessage {
        staff: s,
        client: client_of(raw, world)?,
        from,
        from_account,
        text: raw.text.take().unwrap_or_default(),
        photos: photo_paths(raw, base),
    })
}

fn resolve_client_message(raw: &mut WrittenEvent, world: &World, base: &Path) -> Result<What, FieldError> {
    let via = match raw.via.as_deref() {
        None | Some("sms") => Via::Sms,
        Some("app") => Via::App,
        Some("email") => Via::Email,
        Some(other) => {
            return Err(FieldError {
                field: Some("via".into()),
                message: format!("`{other}` is not a way a client writes"),
                help: Some(format!("use {}", one_of(VIA_VALUES))),
            })
        }
    };
    let answering = match raw.answering.as_deref() {
        None => None,
        Some("nothing") => Some((Answering::Nothing, None)),
        Some(a) => {
            let (kind, lid) = a.split_once('@').ok_or_else(|| {
                ferr(
                    "answering",
                    format!("`{a}` is not KIND@LOCATION; write for example `confirmation@A`, or `nothing`"),
                )
            })?;
            let k = match Answering::parse(kind) {
                Some(Answering::Nothing) | None => {
                    return Err(ferr(
                        "answering",
                        format!(
                            "`{kind}` is not a kind of location message; use confirmation, reminder, campaign or other"
                        ),
                    ))
                }
                Some(k) => k,
            };
            Some((k, Some(location_of(world, "answering", lid)?)))
        }
    };
    Ok(What::ClientMessage {
        client: client_of(raw, world)?,
        text: raw.text.take().unwrap_or_default(),
        via,
        answering,
        photos: photo_paths(raw, base),
    })
}

fn resolve_delivery(raw: &WrittenEvent) -> Result<What, FieldError> {
    Ok(What::Delivery {
        message: need(&raw.message, "message", &raw.kind)?.to_owned(),
        status: match need(&raw.status, "status", &raw.kind)? {
            "delivered" => Status::Delivered,
            "failed" => Status::Failed,
            other => {
                return Err(FieldError {
                    field: Some("status".into()),
                    message: format!("`{other}` is not a delivery status"),
                    help: Some("use `delivered` or `failed`".into()),
                })
            }
        },
    })
}

fn resolve_appointment(raw: &WrittenEvent, world: &World) -> Result<What, FieldError> {
    let c = client_of(raw, world)?;
    let lid = need(&raw.location, "location", &raw.kind)?;
    Ok(What::Appointment {
        client: c,
        location: location_of(world, "location", lid)?,
        completed: match raw.status.as_deref() {
            None | Some("booked") => false,
            Some("completed") => true,
            Some(other) => {
                return Err(FieldError {
                    field: Some("status".into()),
                    message: format!("`{other}` is not an appointment status"),
                    help: Some("use `booked` or `completed`".into()),
                })
            }
        },
    })
}

fn resolve_contact(raw: &WrittenEvent, world: &World) -> Result<What, FieldError> {
    let blank = |v: &Option<String>| v.as_ref().map(|s| (!s.trim().is_empty()).then(|| s.clone()));
    Ok(What::Contact {
        client: client_of(raw, world)?,
        update: ContactUpdate {
            guest_app: raw.guest_app,
            phone: blank(&raw.phone),
            sms_opt_in: raw.sms_opt_in,
            email: blank(&raw.email),
            email_opt_in: raw.email_opt_in,
        },
    })
}

/// An unknown id, with the closest known one as help.
fn unknown_id<'a>(field: &str, what: &str, id: &str, known: impl Iterator<Item = &'a str>) -> FieldError {
    let known: Vec<&str> = known.collect();
    FieldError {
        field: Some(field.into()),
        message: format!("unknown {what} `{id}`"),
        help: did_you_mean(id, known.iter().copied()).map(|s| format!("did you mean `{s}`?")),
    }
}
