//! What the rule sets read, and so what the enumeration of classes must
//! vary: the largest count a rule compares with, the yes/no client facts,
//! and which rules the classes may not tell apart fully (Rhai, literal ids).
//!
//! The classes themselves are in `inbound_class.rs` and `classes.rs`.

use crate::rules::condition::{Cond, Op, SetExpr};
use crate::rules::facts::{Fact, PolicyKind};
use crate::rules::RuleSet;

/// The yes/no client facts a class may vary, in bit order.
pub(crate) const CONTACT_FACTS: [Fact; 6] = [
    Fact::ClientGlobal,
    Fact::ClientGuestApp,
    Fact::ClientPhoneValid,
    Fact::ClientSmsOptIn,
    Fact::ClientEmailValid,
    Fact::ClientEmailOptIn,
];

/// The dimensions the enumeration varies, from the facts the rule sets read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dims {
    /// Sizes of `C` and `S` are told apart up to this number ("N or more").
    pub cap: usize,
    /// Bit mask over `CONTACT_FACTS` read by inbound or delivery rules.
    pub inbound_contact: u8,
}

impl Dims {
    /// The dimensions needed to tell apart everything any of `sets` can see.
    pub fn of(sets: &[&RuleSet]) -> Dims {
        let mut max_count = 1;
        let mut contact = 0u8;
        for rs in sets {
            let mut see = |c: &Cond| {
                c.visit_tests(&mut |t| {
                    if let Op::Count(n) | Op::CountAtLeast(n) | Op::CountAtMost(n) = t.op {
                        max_count = max_count.max(n);
                    }
                    if let Some(i) = CONTACT_FACTS.iter().position(|f| *f == t.fact) {
                        contact |= 1 << i;
                    }
                })
            };
            rs.inbound.rules.rules.iter().for_each(|r| see(&r.when));
            rs.delivery
                .gates
                .iter()
                .chain(&rs.delivery.grants)
                .for_each(|r| see(&r.when));
        }
        Dims {
            cap: max_count + 1,
            inbound_contact: contact,
        }
    }
}

/// Why the classes may not tell apart everything a rule of `policy` sees, if they may not.
pub(crate) fn partial_reason(cond: &Cond, policy: PolicyKind) -> Option<&'static str> {
    if cond.uses_script() {
        return Some("uses Rhai");
    }
    let recipient = |f: Fact| {
        matches!(
            f,
            Fact::RecipientLocations | Fact::RecipientAccess | Fact::RecipientLoggedInAt
        )
    };
    let operand_fact = |op: &Op| match op {
        Op::In(SetExpr::Fact(g))
        | Op::SharesAnyWith(SetExpr::Fact(g))
        | Op::SharesNoneWith(SetExpr::Fact(g))
        | Op::Contains(SetExpr::Fact(g))
        | Op::SameAs(g) => Some(*g),
        _ => None,
    };
    let mut why = None;
    cond.visit_tests(&mut |t| {
        let literal = matches!(t.op, Op::LocationIs(_) | Op::AccountIs(_))
            || matches!(&t.op, Op::In(s) | Op::SharesAnyWith(s) | Op::SharesNoneWith(s) | Op::Contains(s) if has_literal(s));
        if literal {
            why = Some("names location or account ids");
            return;
        }
        match policy {
            PolicyKind::Outbound | PolicyKind::Text => {
                if matches!(t.fact, Fact::ClientLocations | Fact::ClientLastAppointment)
                    || operand_fact(&t.op).is_some_and(|g| matches!(g, Fact::ClientLocations | Fact::ClientLastAppointment))
                {
                    why = Some("reads client locations, which outbound classes do not vary");
                }
            }
            PolicyKind::Delivery => {
                let counted = matches!(t.op, Op::Count(_) | Op::CountAtLeast(_) | Op::CountAtMost(_))
                    && (recipient(t.fact) || t.fact == Fact::LandsAt);
                let other = operand_fact(&t.op);
                // Recipient classes are defined against where the message lands only.
                let mixed = match other {
                    Some(g) => (recipient(t.fact) && g != Fact::LandsAt) || (recipient(g) && t.fact != Fact::LandsAt),
                    None => recipient(t.fact) && !matches!(t.op, Op::Present(_)),
                };
                if counted || mixed {
                    why = Some("relates a recipient to something other than where the message lands");
                }
            }
            PolicyKind::Inbound => {}
        }
    });
    why
}

fn has_literal(s: &SetExpr) -> bool {
    match s {
        SetExpr::Literal(_) => true,
        SetExpr::Intersection(p) | SetExpr::Union(p) => p.iter().any(has_literal),
        _ => false,
    }
}
