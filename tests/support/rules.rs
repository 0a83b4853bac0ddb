//! The shipped rules, copied for tests that alter or watch them.

use std::path::Path;

/// Copies every shipped rules file (`rules/`) into `dir`.
pub fn copy_shipped_rules(dir: &Path) {
    for f in commroute::rules::FILES {
        std::fs::copy(Path::new("rules").join(f), dir.join(f)).unwrap();
    }
}
