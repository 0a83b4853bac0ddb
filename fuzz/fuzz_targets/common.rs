//! Shared by the fuzz targets: the example world, the shipped rules, and a
//! routine that routes a spread of events both ways (fast and explaining) and
//! checks they agree. Anything but a panic, a hang or runaway memory is fine:
//! errors are what hostile input should produce.

#![allow(dead_code)]

use std::sync::OnceLock;

use commroute::{InboundRequest, OutboundRequest, RuleSet, Source, World};

pub fn shipped() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(RuleSet::shipped)
}

pub fn example_world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        World::parse(Source::new(
            "examples/glow-world.yaml",
            include_str!("../../examples/glow-world.yaml"),
        ))
        .expect("the example world loads")
    })
}

/// Routes an inbound request if it resolves; fast and explaining paths must agree.
pub fn inbound(rules: &RuleSet, world: &World, req: &InboundRequest) {
    let Ok(ev) = req.resolve(world) else { return };
    let fast = rules.route_inbound(world, &ev);
    let slow = rules.explain_inbound(world, &ev);
    match (fast, slow) {
        (Ok(f), Ok(s)) => {
            assert_eq!(f.lands_at, s.lands_at);
            assert_eq!(f.delivered_to, s.delivered_to);
            assert_eq!(f.rule, s.rule);
            let report = s.report(rules, world);
            assert!(report.trace.iter().any(|t| t.applied));
        }
        (Err(f), Err(s)) => assert_eq!(f, s),
        (f, s) => panic!("route and explain disagree: {f:?} vs {s:?}"),
    }
}

pub fn outbound(rules: &RuleSet, world: &World, req: &OutboundRequest) {
    let Ok(ev) = req.resolve(world) else { return };
    let fast = rules.route_outbound(world, &ev);
    let slow = rules.explain_outbound(world, &ev);
    match (fast, slow) {
        (Ok(f), Ok(s)) => {
            assert_eq!(
                (f.channel, f.rule, f.text_rule, &f.text),
                (s.channel, s.rule, s.text_rule, &s.text)
            );
            let _ = s.report(rules);
        }
        (Err(f), Err(s)) => assert_eq!(f, s),
        (f, s) => panic!("route and explain disagree: {f:?} vs {s:?}"),
    }
}

/// A bounded spread of events over a world: every kind of inbound start for
/// the first clients, and an outbound message from every account.
pub fn route_spread(rules: &RuleSet, world: &World) {
    let locs: Vec<&str> = world.locations.iter().take(4).map(|l| l.id.as_str()).collect();
    for c in world.clients.iter().take(8) {
        let client = c.id.to_string();
        inbound(
            rules,
            world,
            &InboundRequest {
                client: client.clone(),
                ..Default::default()
            },
        );
        for kind in ["confirmation", "campaign"] {
            for l in &locs {
                inbound(
                    rules,
                    world,
                    &InboundRequest {
                        client: client.clone(),
                        answering: Some(format!("{kind}@{l}")),
                        ..Default::default()
                    },
                );
            }
        }
        for s in world.staff.iter().take(8) {
            inbound(
                rules,
                world,
                &InboundRequest {
                    client: client.clone(),
                    staff: Some(s.id.clone()),
                    ..Default::default()
                },
            );
        }
        for a in world.accounts.iter().take(4) {
            outbound(
                rules,
                world,
                &OutboundRequest {
                    client: client.clone(),
                    from_account: a.id.clone(),
                    text: "hi {text}".into(),
                },
            );
        }
    }
}
