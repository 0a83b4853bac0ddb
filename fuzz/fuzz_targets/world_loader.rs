//! The world loader: any bytes as a world file. A world that loads is then
//! routed with the shipped rules (every kind of inbound start, outbound from
//! every account) so odd but valid worlds reach the engine.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use commroute::{Source, World};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match World::parse(Source::new("world.yaml", text)) {
        Ok(world) => common::route_spread(common::shipped(), &world),
        Err(diags) => {
            assert!(!diags.is_empty());
            let _ = diags.to_string();
        }
    }
});
