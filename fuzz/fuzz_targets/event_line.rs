//! The event parser: JSON Lines framed and parsed by the code `route batch`
//! and `diff --events` use, through `EventLines` (with a small line limit,
//! so long lines are exercised too).
//! Each event is resolved against the example world (with its inline
//! facts, when it has any) and routed both ways with the shipped rules.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use commroute::jsonl::EventLines;
use commroute::EventLine;

fuzz_target!(|data: &[u8]| {
    let rules = common::shipped();
    let world = common::example_world();
    let mut last = 0;
    for read in EventLines::with_max(data, 1024) {
        let line = match read {
            Ok((line, ev)) => {
                // Facts that do not fit are an error naming a path, never a panic.
                match ev.world(world) {
                    Ok(here) => match &ev {
                        EventLine::Inbound { request, .. } => common::inbound(rules, &here, request),
                        EventLine::Outbound { request, .. } => common::outbound(rules, &here, request),
                    },
                    Err(e) => assert!(e.to_string().starts_with("facts"), "{e}"),
                }
                line
            }
            Err(e) => {
                let message = e.to_string();
                assert!(message.starts_with("line "), "{message}");
                last + 1
            }
        };
        assert!(line > last, "line numbers go forward");
        last = line;
    }
});
