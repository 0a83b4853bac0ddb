//! The shipped rules, copied for tests that alter or watch them.

use std::path::Path;

/// Copies every shipped rules file (`rules/`) into `dir`.
pub fn copy_shipped_rules(dir: &Path) {
    for f in commroute::rules::FILES {
        std::fs::copy(Path::new("rules").join(f), dir.join(f)).unwrap();
    }
}

/// Moves the inbound rule `campaign-reply-with-history` below
/// `reply-to-location-message` in `dir/inbound.yaml` (a copy of the shipped
/// rules): campaign replies then land where other replies do.
pub fn move_campaign_rule_down(dir: &Path) {
    let path = dir.join("inbound.yaml");
    let t = std::fs::read_to_string(&path).unwrap();
    let a = t.find("  - id: campaign-reply-with-history\n").unwrap();
    let b = t.find("  - id: reply-to-location-message\n").unwrap();
    let c = t.find("  - id: out-of-the-blue-with-history\n").unwrap();
    std::fs::write(&path, format!("{}{}{}{}", &t[..a], &t[b..c], &t[a..b], &t[c..])).unwrap();
}
