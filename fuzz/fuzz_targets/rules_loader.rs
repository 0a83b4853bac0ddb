//! The rules loader: one fuzzed rules file (the first byte picks which of the
//! three it replaces; the other two are the shipped ones). A file that loads
//! is then used to route events over the example world, so fuzzed Rhai
//! scripts run too, under their limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use commroute::rules::SHIPPED;
use commroute::{RuleSet, Source};

fuzz_target!(|data: &[u8]| {
    let Some((&slot, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let slot = slot as usize % 3;
    let mut sources = SHIPPED.map(|(name, text)| Source::new(format!("rules/{name}"), text));
    sources[slot] = Source::new(format!("rules/{}", SHIPPED[slot].0), text);
    let [i, d, o] = sources;
    match RuleSet::parse(i, d, o) {
        Ok(rules) => common::route_spread(&rules, common::example_world()),
        Err(diags) => {
            assert!(!diags.is_empty());
            let _ = diags.to_string();
        }
    }
});
