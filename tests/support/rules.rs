//! The shipped rules, copied for tests that alter or watch them.

use std::path::{Path, PathBuf};

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

/// A path of the repository, absolute (tests that run the binary elsewhere
/// name the repository's files this way).
pub fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path).display().to_string()
}

/// A temporary folder holding `rules/`, a copy of the shipped rules: a
/// service or a command run in the folder names the files
/// `rules/inbound.yaml`, as `commroute check --rules rules` run there does.
pub fn rules_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    copy_shipped_rules(&rules);
    (dir, rules)
}

/// The shipped `inbound.yaml` with the campaign rule moved below the rule
/// for replies to a location's message (see [`move_campaign_rule_down`]):
/// documented scenario #9 then fails.
pub fn campaign_rule_moved_down() -> String {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    move_campaign_rule_down(dir.path());
    std::fs::read_to_string(dir.path().join("inbound.yaml")).unwrap()
}
