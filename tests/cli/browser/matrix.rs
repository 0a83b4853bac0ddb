//! Page `/matrix`: the `analyze` table filtered by rule and outcome, with
//! shadowed rules and gaps listed and highlighted.

use std::path::Path;
use std::process::Command;

use super::support::Browser;
use crate::serve::server::Server;

/// The shipped rules with a gap (a rule landing answers to `other`
/// messages at the staff's locations, which a client's reply has none of)
/// and a shadowed rule (after the catch-all).
fn rules_with_findings(dir: &Path) {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for f in ["inbound.yaml", "delivery.yaml", "outbound.yaml"] {
        std::fs::copy(shipped.join(f), rules.join(f)).unwrap();
    }
    let inbound = std::fs::read_to_string(rules.join("inbound.yaml")).unwrap();
    let first = inbound.find("  - id: ").unwrap();
    let edited = format!(
        "{}  - id: other-goes-to-staff\n    description: Answers to other messages land with the staff.\n    when:\n      conversation.answering: {{one_of: [other]}}\n    lands_at: staff.locations\n\n{}\n  - id: never-reached\n    description: Comes after the catch-all.\n    when: always\n    lands_at: client.locations\n",
        &inbound[..first],
        &inbound[first..]
    );
    std::fs::write(rules.join("inbound.yaml"), edited).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/glow-world.yaml"),
        dir.join("world.yaml"),
    )
    .unwrap();
}

/// The summary line `commroute analyze` ends with.
fn analyze_summary(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_commroute"))
        .current_dir(dir)
        .args(["analyze", "--rules", "rules", "--format", "table"])
        .output()
        .expect("commroute runs");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().last().unwrap_or_default().to_owned()
}

fn row_count(b: &Browser) -> usize {
    b.script("return document.querySelectorAll('#matrix tbody tr').length;", vec![])
        .as_u64()
        .unwrap() as usize
}

fn choose(b: &Browser, css: &str, value: &str) {
    b.script(
        "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change', {bubbles: true}));",
        vec![css.into(), value.into()],
    );
}

#[test]
fn the_matrix_filters_by_rule_and_outcome_as_analyze_counts() {
    let b = Browser::open(Server::glow());
    b.open_page("/matrix");
    let summary = b.text("#summary");
    assert_eq!(summary, "418 classes of input, 0 shadowed rules, 0 gaps.");
    assert_eq!(row_count(&b), 418);
    assert_eq!(b.text("#shown"), "418 of 418 classes shown");
    choose(&b, "#f-rule", "campaign-reply-with-history");
    let n = row_count(&b);
    assert!(n > 0 && n < 418, "{n}");
    let rules = b.texts("#matrix tbody td.rule code");
    assert!(rules.iter().all(|r| r == "campaign-reply-with-history"), "{rules:?}");
    assert!(b.text("#matrix tbody td.rule").contains("rules/inbound.yaml:59"));
    choose(&b, "#f-outcome", "lands at [A]");
    let m = row_count(&b);
    assert!(m > 0 && m <= n, "{m} of {n}");
    assert_eq!(b.text("#shown"), format!("{m} of 418 classes shown"));
    // Every row is filtered, and the text filter narrows further.
    choose(&b, "#f-rule", "");
    choose(&b, "#f-outcome", "");
    b.type_into("#f-text", "3 or more locations");
    b.wait_text("#shown", "fewer rows", |t| !t.starts_with("418 of"));
    let descriptions = b.texts("#matrix tbody tr td:last-child");
    assert!(!descriptions.is_empty());
    assert!(
        descriptions.iter().all(|d| d.contains("3 or more locations")),
        "{descriptions:?}"
    );
    b.screenshot("matrix-filtered");
}

#[test]
fn shadowed_rules_and_gaps_are_listed_and_highlighted() {
    let dir = tempfile::tempdir().unwrap();
    rules_with_findings(dir.path());
    let cli = analyze_summary(dir.path());
    assert_eq!(cli, "418 classes, 1 shadowed rules, 14 gaps");
    let b = Browser::open(Server::start(
        dir.path(),
        &["--world", "world.yaml", "--rules", "rules"],
    ));
    b.open_page("/matrix");
    assert_eq!(b.text("#summary"), "418 classes of input, 1 shadowed rules, 14 gaps.");
    let shadowed = b.text("#findings li.shadowed");
    assert!(shadowed.contains("never-reached"), "{shadowed}");
    assert_eq!(b.find_all("#findings li.gap").len(), 14);
    assert_eq!(
        b.find_all("#matrix tbody tr.gap").len(),
        14,
        "every gap's row is highlighted"
    );
    choose(&b, "#f-rule", "other-goes-to-staff");
    assert!(row_count(&b) >= 14);
    b.screenshot("matrix-findings");
    // A gap's button shows its row.
    b.click("#findings li.gap button");
    let shown = b.wait_text("#shown", "one class", |t| t.starts_with("1 of"));
    assert_eq!(shown, "1 of 418 classes shown");
    assert_eq!(b.find_all("#matrix tbody tr.gap").len(), 1);
    // The shadowed rule decides no class: filtering by it shows none.
    b.script("document.getElementById('f-text').value = '';", vec![]);
    choose(&b, "#f-rule", "never-reached");
    assert_eq!(row_count(&b), 0);
}

#[test]
fn the_matrix_fits_a_phone() {
    let b = Browser::open_sized(Server::glow(), 390, 844);
    b.open_page("/matrix");
    b.assert_no_sideways_scroll("the page");
    b.screenshot("matrix-phone");
}
