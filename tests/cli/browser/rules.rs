//! The rules page (`/rules`): an edit checked as it is typed (the problem at
//! its line, in the words of `commroute check`), the impact of a valid edit
//! (documented scenario #9 failing, the classes of the decision matrix that
//! change), saving with `--allow-edit` and the decision changing after the
//! hot reload, downloading without it, and how long a check takes to show.

use std::time::{Duration, Instant};

use serde_json::json;

use super::support::Browser;
use crate::serve::playground_edit::put;
use crate::serve::server::Server;
use crate::support::rules::{campaign_rule_moved_down, rules_copy};
use crate::support::run::Run;

/// Backspace, as WebDriver sends it.
const BACKSPACE: &str = "\u{E003}";

/// Replaces the editor's text as a paste would, with an input event.
fn set_text(b: &Browser, text: &str) {
    b.script(
        "const ta = document.getElementById('source'); ta.focus(); ta.value = arguments[0]; \
         ta.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![json!(text)],
    );
}

/// Puts the caret just after the first `needle` of the editor's text.
fn caret_after(b: &Browser, needle: &str) {
    let found = b.script(
        "const ta = document.getElementById('source'); const i = ta.value.indexOf(arguments[0]); \
         if (i < 0) return false; ta.focus(); const at = i + arguments[0].length; ta.setSelectionRange(at, at); return true;",
        vec![json!(needle)],
    );
    if found != json!(true) {
        let text = editor_text(b);
        panic!(
            "`{needle}` is not in the editor, which starts: {:?}",
            &text[..text.len().min(400)]
        );
    }
}

fn editor_text(b: &Browser) -> String {
    b.script("return document.getElementById('source').value;", vec![])
        .as_str()
        .unwrap()
        .to_owned()
}

/// How many checks the page has shown (one `commroute-edit` measure each).
fn checks_shown(b: &Browser) -> usize {
    b.script("return performance.getEntriesByName('commroute-edit').length;", vec![])
        .as_u64()
        .unwrap() as usize
}

fn wait_checks(b: &Browser, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while checks_shown(b) < n {
        assert!(Instant::now() < deadline, "the page did not show check {n} within 30 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The line (from 1) of the first line of `text` holding `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("the needle is in the text")
        + 1
}

#[test]
fn typing_an_invalid_rule_shows_the_problem_at_its_line_in_the_words_of_check() {
    let (dir, rules) = rules_copy();
    let b = Browser::open(Server::over_rules_copy(dir.path(), &["--no-watch"]));
    b.open_page("/rules");
    assert_eq!(b.text("button.tab[aria-selected='true']"), "inbound.yaml");
    // The files are tabs, reachable by keyboard: the arrows move between them.
    b.script(
        "document.querySelector('button.tab[aria-selected=true]').focus();",
        vec![],
    );
    b.type_into("button.tab[aria-selected='true']", "\u{E014}");
    assert_eq!(b.text("button.tab[aria-selected='true']"), "delivery.yaml");
    assert!(editor_text(&b).contains("policy: delivery"));
    b.click("button.tab[data-file='inbound.yaml']");
    // Delete the `g` of `conversation.answering: campaign`, as a person would.
    caret_after(&b, "conversation.answering: campaign");
    b.script(
        "const ta = document.getElementById('source'); const at = ta.selectionStart - ': campaign'.length; ta.setSelectionRange(at, at);",
        vec![],
    );
    b.type_into("#source", BACKSPACE);
    b.wait_for("the problem", "#diagnostics li.diag");
    let typed = editor_text(&b);
    assert!(typed.contains("conversation.answerin: campaign"), "the edit was typed");
    let line = line_of(&typed, "conversation.answerin: campaign");

    // The marker and the highlight are on that line, and only there.
    let marked: Vec<String> = b
        .find_all(".gutter .ln.bad")
        .into_iter()
        .map(|el| b.run("a marked line", el.attr("data-line")).unwrap())
        .collect();
    assert_eq!(marked, [line.to_string()]);
    let band = b.find(".bands .band");
    assert_eq!(b.run("the band's line", band.attr("data-line")), Some(line.to_string()));
    assert_eq!(b.text("#check-state"), "1 problem");
    assert_eq!(b.text("button.tab[aria-selected='true'] .count"), "1");

    // The text is what `commroute check` prints for the same file.
    let shown = b.texts("#diagnostics pre.diag-text");
    let count = b.text("#diag-count");
    std::fs::write(rules.join("inbound.yaml"), &typed).unwrap();
    let (_, check) = Run::new(&["check", "--rules", "rules"]).in_dir(dir.path()).expect(1);
    assert_eq!(format!("{}\n{count}\n", shown.join("\n")), check);
    assert!(check.contains(&format!("--> rules/inbound.yaml:{line}:11")), "{check}");
    assert!(check.contains("did you mean `conversation.answering`?"), "{check}");

    // Clicking the problem puts the caret at its line and column.
    b.script(
        "const ta = document.getElementById('source'); ta.setSelectionRange(0, 0); ta.blur();",
        vec![],
    );
    b.click("#diagnostics button.goto");
    let caret = b.script(
        "const ta = document.getElementById('source'); const before = ta.value.slice(0, ta.selectionStart).split('\\n'); \
         return [document.activeElement === ta, before.length, before[before.length - 1].length + 1];",
        vec![],
    );
    assert_eq!(caret, json!([true, line, 11]));
    b.screenshot("rules-invalid");
}

#[test]
fn a_valid_edit_that_breaks_scenario_9_shows_the_failing_cases_and_the_changed_classes() {
    let (dir, _rules) = rules_copy();
    let b = Browser::open(Server::over_rules_copy(dir.path(), &[]));
    b.open_page("/rules");
    set_text(&b, &campaign_rule_moved_down());
    b.wait_for("the impact", "#impact-summary");
    assert_eq!(b.text("#check-state"), "valid edit");

    // The three cases of documented scenario #9 now fail, expected vs actual.
    let nine = b.find_all("#impact-cases li.case[data-file$='09-campaign-reply-goes-to-last-appointment.yaml']");
    assert_eq!(nine.len(), 3);
    let first = b.run("the first case's text", nine[0].text());
    assert!(first.contains("lands at B, received by B's staff"), "{first}");
    assert!(first.contains("newly failing"), "{first}");
    let mismatches: Vec<Vec<String>> = serde_json::from_value(b.script(
        "const li = arguments[0]; return [...li.querySelectorAll('table.mismatches tbody tr')].map(tr => [...tr.cells].map(td => td.textContent));",
        vec![serde_json::to_value(&nine[0]).unwrap()],
    ))
    .unwrap();
    assert!(
        mismatches.contains(&vec!["lands_at".to_owned(), "[B]".to_owned(), "[A]".to_owned()]),
        "{mismatches:?}"
    );
    assert!(
        mismatches.contains(&vec![
            "rule".to_owned(),
            "campaign-reply-with-history".to_owned(),
            "reply-to-location-message".to_owned()
        ]),
        "{mismatches:?}"
    );

    // The classes of the matrix whose outcome changes: old → new, with a witness.
    let classes = b.text("#classes-title");
    assert!(classes.starts_with("Decision matrix: 8 of "), "{classes}");
    let rows = b.find_all("#impact-classes li.class-change");
    assert_eq!(rows.len(), 8);
    let row = b.run("a changed class", rows[0].text());
    assert!(
        row.contains("campaign-reply-with-history → reply-to-location-message"),
        "{row}"
    );
    assert!(row.contains("lands at [B] → lands at [A]"), "{row}");
    assert!(
        row.contains("client at [A, B] (last appointment B), answers a campaign from A"),
        "{row}"
    );
    // No decision log here: the panel says how to get the count.
    assert!(b.text("#impact-recorded").contains("--decision-log"));
    b.screenshot("rules-impact");
    b.script("document.getElementById('impact-classes').scrollIntoView();", vec![]);
    b.screenshot("rules-impact-classes");
}

#[test]
fn saving_with_allow_edit_writes_the_file_and_the_decision_changes_after_the_reload() {
    let (dir, rules) = rules_copy();
    let b = Browser::open(Server::over_rules_copy(dir.path(), &["--allow-edit"]));
    let ask = || {
        b.server
            .post("/v1/inbound", r#"{"client": "cleo", "answering": "campaign@B"}"#)
            .json()
    };
    let before = ask();
    assert_eq!(
        (before["lands_at"].clone(), before["rule"].clone()),
        (json!(["A"]), json!("campaign-reply-with-history"))
    );

    b.open_page("/rules");
    let save = b.find("#save");
    assert_eq!(
        b.run("save is disabled before an edit", save.attr("disabled")),
        Some("true".to_owned())
    );
    let edited = campaign_rule_moved_down();
    set_text(&b, &edited);
    b.wait_for("the impact", "#impact-summary");
    b.click("#save");
    let saved = b.wait_for("the saved banner", "#saved-rule-set");
    let rule_set = b.run("the saved rule set", saved.text());

    assert_eq!(std::fs::read_to_string(rules.join("inbound.yaml")).unwrap(), edited);
    let after = ask();
    assert_eq!(after["rule_set"], json!(rule_set), "the saved rules decide");
    assert_eq!(
        (after["lands_at"].clone(), after["rule"].clone()),
        (json!(["B"]), json!("reply-to-location-message"))
    );
    b.wait_text("#version", "the new rule set", |t| t.contains(&rule_set));
    b.screenshot("rules-saved");
}

#[test]
fn without_allow_edit_the_page_offers_the_edited_file_to_download_and_saving_is_refused() {
    let b = Browser::open(Server::glow());
    b.open_page("/rules");
    let hidden = b.script("return document.getElementById('save').hidden;", vec![]);
    assert_eq!(hidden, json!(true), "no save button without --allow-edit");
    assert!(
        b.text("#save-note").contains("--allow-edit"),
        "{}",
        b.text("#save-note")
    );
    // The API says the same, with how to enable it.
    let (status, refused) = put(&b.server, "/v1/rules/files", &json!({"files": {}}));
    assert_eq!((status, refused["error"].clone()), (403, json!("forbidden")));
    assert!(refused["valid"].as_str().unwrap().contains("--allow-edit"), "{refused}");

    // Downloading hands the edited text to the browser as a file (a Blob).
    b.script(
        "window.blobs = []; const make = URL.createObjectURL; URL.createObjectURL = (blob) => { window.blobs.push(blob); return make(blob); };",
        vec![],
    );
    caret_after(&b, "policy: inbound");
    b.type_into("#source", "\n# tried in the playground");
    assert_eq!(b.text("#download"), "Download inbound.yaml");
    b.click("#download");
    b.wait_for("the download", "body[data-downloaded='inbound.yaml']");
    let downloaded = b.script("return window.blobs[0].text();", vec![]);
    let text = downloaded.as_str().unwrap();
    assert!(text.contains("policy: inbound\n# tried in the playground\n"), "{text}");
    assert_eq!(text, editor_text(&b));
    b.screenshot("rules-download");
}

#[test]
fn the_rules_page_fits_a_phones_width() {
    let b = Browser::open_sized(Server::glow(), 390, 844);
    b.open_page("/rules");
    set_text(&b, &campaign_rule_moved_down());
    b.wait_for("the impact", "#impact-summary");
    b.assert_no_sideways_scroll("the page");
    b.script(
        "document.getElementById('source').blur(); window.scrollTo(0, 0);",
        vec![],
    );
    b.screenshot("rules-phone");
    b.script("document.getElementById('impact-title').scrollIntoView();", vec![]);
    b.screenshot("rules-phone-impact");
}

/// Measured, not asserted: from the last keystroke of an edit to its
/// problems and impact on screen, on the shipped rules with the campaign
/// rule moved down (the impact panel full), over ten edits typed one key
/// each. Run with `--nocapture` to see the figures.
#[test]
fn measure_how_long_an_edit_takes_to_show_its_validation_and_impact() {
    let b = Browser::open(Server::glow());
    b.open_page("/rules");
    set_text(&b, &campaign_rule_moved_down());
    wait_checks(&b, 1);
    let mut seen = 1;
    let mut server = Vec::new();
    for i in 0..10 {
        // A comment: every edit is valid, and its impact computed in full.
        let (after, key) = if i % 2 == 0 {
            ("lands", "x")
        } else {
            ("landsx", BACKSPACE)
        };
        caret_after(&b, &format!("# Where an inbound client message {after}"));
        b.type_into("#source", key);
        seen += 1;
        wait_checks(&b, seen);
        let ms = b.script("return Number(document.body.dataset.serverMs);", vec![]);
        server.push(ms.as_f64().unwrap());
    }
    let runs: Vec<f64> = serde_json::from_value(b.script(
        "return performance.getEntriesByName('commroute-edit').slice(1).map(m => m.duration);",
        vec![],
    ))
    .unwrap();
    server.sort_by(f64::total_cmp);
    eprintln!(
        "rules page: the service's own time per check (parse, scenarios, matrix): median {:.0} ms",
        (server[4] + server[5]) / 2.0
    );
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = (sorted[4] + sorted[5]) / 2.0;
    eprintln!(
        "rules page: keystroke to validation and impact shown (150 ms debounce included), 10 edits: median {median:.0} ms, min {:.0} ms, max {:.0} ms; all: {:?}",
        sorted[0],
        sorted[9],
        runs.iter().map(|r| r.round()).collect::<Vec<_>>()
    );
    assert_eq!(runs.len(), 10);
}

/// Markup typed into a rule comes back in a problem's text (the source
/// line quoted under it) and is shown as text: no element is made of it.
#[test]
fn markup_typed_into_a_rule_is_shown_as_text_in_its_problem() {
    let (dir, _rules) = rules_copy();
    let b = Browser::open(Server::over_rules_copy(dir.path(), &["--no-watch"]));
    b.open_page("/rules");
    caret_after(&b, "conversation.answering");
    b.type_into("#source", "<img src=x onerror=document.body.dataset.owned=1>");
    b.wait_for("the problem", "#diagnostics li.diag");
    let pre = b.script(
        "return document.querySelector('#diagnostics pre.diag-text').textContent;",
        vec![],
    );
    assert!(
        pre.as_str()
            .unwrap()
            .contains("<img src=x onerror=document.body.dataset.owned=1>"),
        "{pre}"
    );
    let made = b.script(
        "return [document.querySelectorAll('#problems img, #gutter img, #tabs img').length, document.body.dataset.owned || null];",
        vec![],
    );
    assert_eq!(made, json!([0, null]));
}
