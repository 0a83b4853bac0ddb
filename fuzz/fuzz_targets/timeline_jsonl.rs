//! The JSON Lines timeline reader: any bytes as a timeline whose first line
//! holds the world inline. Every event line is read and resolved against that
//! world; none may panic, and every problem names its line.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use commroute::replay::timeline::JsonlTimeline;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A world named by path would read the fuzzer's machine; inline worlds only.
    if data.windows(6).any(|w| w == b"\"path\"") {
        return;
    }
    let Ok(mut timeline) = JsonlTimeline::new(Path::new("/fuzz/timeline.jsonl"), Cursor::new(data)) else {
        return;
    };
    let mut line = 1;
    for _ in 0..10_000 {
        match timeline.next_event() {
            None => break,
            Some(Ok(event)) => assert!(event.line > line || event.line >= 2),
            Some(Err(d)) => {
                assert!(d.pos.line >= 2, "{d}");
                line = d.pos.line;
            }
        }
    }
});
