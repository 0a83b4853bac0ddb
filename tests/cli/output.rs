//! Output that fits where it goes: box tables sized to the terminal that
//! never cut an id, compact lines in a pipe, markdown for a pull request,
//! and `test --only-failures` and `--quiet`.

use std::path::Path;

use crate::support::rules::copy_shipped_rules;
use crate::support::run::Run;

/// Every rule and grant id of the shipped rules.
fn rule_ids() -> Vec<String> {
    let mut ids = Vec::new();
    for f in ["inbound", "delivery", "outbound"] {
        let text = std::fs::read_to_string(format!("rules/{f}.yaml")).unwrap();
        ids.extend(
            text.lines()
                .filter_map(|l| l.trim_start().strip_prefix("- id: "))
                .map(str::to_owned),
        );
    }
    assert!(ids.len() > 15, "{ids:?}");
    ids
}

/// The display width of a line (box drawing and arrows are one column each).
fn width(line: &str) -> usize {
    line.chars().count()
}

#[test]
fn box_tables_fit_80_and_120_columns_without_cutting_a_rule_id() {
    let ids = rule_ids();
    for columns in ["80", "120"] {
        let limit: usize = columns.parse().unwrap();
        for args in [
            &["coverage", "--format", "table"][..],
            &["analyze", "--format", "table"][..],
            &["test", "--format", "table", "scenarios/inbound"][..],
        ] {
            let (out, _) = Run::new(args).env("COLUMNS", columns).expect(0);
            assert!(out.starts_with('┌'), "{args:?}: a box table, also in a pipe:\n{out}");
            let table: Vec<&str> = out.lines().take_while(|l| !l.starts_with('└')).collect();
            for l in &table {
                assert!(
                    width(l) <= limit,
                    "{args:?} at {columns} columns, {} wide:\n{l}",
                    width(l)
                );
            }
            // Every id the table names is whole on one line.
            let cells: Vec<&str> = table.iter().flat_map(|l| l.split(['│', '┆'])).map(str::trim).collect();
            let named: Vec<&String> = ids.iter().filter(|id| out.contains(id.as_str())).collect();
            assert!(!named.is_empty(), "{args:?}:\n{out}");
            for id in ids.iter() {
                for c in &cells {
                    // A cell holding the start of an id but not all of it cut it.
                    let cut = (12..id.len()).any(|n| c.ends_with(&id[..n]) && !c.contains(id.as_str()));
                    assert!(!cut, "{args:?} at {columns} columns cut `{id}`: `{c}`\n{out}");
                }
            }
        }
    }
}

#[test]
fn piped_tables_are_compact_one_line_per_row_without_box_drawing() {
    let (out, _) = Run::new(&["coverage"]).expect(0);
    assert!(!out.contains(['│', '┆', '─', '┌']), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "policy    rule                                          kind   reached by"
    );
    assert_eq!(
        lines[1],
        "inbound   staff-conversation-no-shared-location         rule   decided 3 times"
    );
    // One line per rule and grant (and gate), then the summary.
    assert_eq!(lines.len(), 1 + 20 + 1, "{out}");
    assert!(lines.iter().all(|l| !l.ends_with(' ')), "{out}");
    // `--format table` forces the box table into the pipe.
    let (boxed, _) = Run::new(&["coverage", "--format", "table"]).expect(0);
    assert!(boxed.starts_with("┌"), "{boxed}");
    // Analyze: one line per class, not wrapped.
    let (out, _) = Run::new(&["analyze"]).expect(0);
    // A header, 418 classes, the two notes on redundant grants, the summary.
    assert_eq!(out.lines().count(), 1 + 418 + 2 + 1, "{}", &out[..2000]);
    assert!(out.starts_with("#    policy    outcome "), "{}", &out[..500]);
}

#[test]
fn the_help_says_format_defaults_to_auto() {
    let (out, _) = Run::new(&["diff", "--help"]).expect(0);
    assert!(out.contains("[default: auto]"), "{out}");
    assert!(out.contains("markdown"), "{out}");
    let (_, err) = Run::new(&[
        "route", "inbound", "--world", "w", "--client", "c", "--format", "markdown",
    ])
    .expect(2);
    assert!(err.contains("invalid value 'markdown'"), "{err}");
}

/// A copy of the shipped rules where campaign replies always go to the
/// campaign's location: the three cases of scenario #9 fail.
fn rules_failing_scenario_9() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    let path = dir.path().join("inbound.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let from = "        - client.last_appointment: {present: true}\n    lands_at: client.last_appointment";
    assert!(text.contains(from));
    std::fs::write(
        &path,
        text.replacen(
            from,
            "        - client.last_appointment: {present: true}\n    lands_at: conversation.answered_location",
            1,
        ),
    )
    .unwrap();
    dir
}

#[test]
fn test_only_failures_lists_the_failing_cases_with_expected_and_actual() {
    let rules = rules_failing_scenario_9();
    let r = rules.path().to_str().unwrap();
    let (out, _) = Run::new(&["test", "scenarios/inbound", "--rules", r, "--only-failures"]).expect(1);
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL  ")).collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(!out.contains("pass  "), "{out}");
    assert_eq!(out.matches("\nFAIL scenarios/inbound/09-").count(), 3, "{out}");
    assert_eq!(out.matches("    lands_at       [B]        [A]\n").count(), 3, "{out}");
    assert!(out.ends_with("\n37 passed, 3 failed\n"), "{out}");
    // Nothing fails: the summary alone.
    let (out, _) = Run::new(&["test", "scenarios/inbound", "--only-failures"]).expect(0);
    assert_eq!(out, "40 passed, 0 failed\n");
    // JSON: only the failing cases, and the summary.
    let (out, _) = Run::new(&[
        "test",
        "scenarios/inbound",
        "--rules",
        r,
        "--only-failures",
        "--format",
        "json",
    ])
    .expect(1);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.lines().take(3).all(|l| l.contains("\"passed\":false")), "{out}");
    // JUnit reports every case.
    let (_, err) = Run::new(&["test", "--only-failures", "--format", "junit"]).expect(2);
    assert_eq!(
        err,
        "error: --only-failures does not apply to --format junit, which reports every case; use table, json or markdown\n"
    );
}

#[test]
fn test_quiet_prints_the_summary_line_alone() {
    let rules = rules_failing_scenario_9();
    let r = rules.path().to_str().unwrap();
    let (out, _) = Run::new(&["test", "scenarios/inbound", "--rules", r, "--quiet"]).expect(1);
    assert_eq!(out, "37 passed, 3 failed\n");
    let (out, _) = Run::new(&["-q", "test", "scenarios/inbound"]).expect(0);
    assert_eq!(out, "40 passed, 0 failed\n");
}

#[test]
fn test_markdown_lists_the_failures_for_a_pull_request() {
    let rules = rules_failing_scenario_9();
    let r = rules.path().to_str().unwrap();
    let (out, _) = Run::new(&[
        "test",
        "scenarios/inbound/09-campaign-reply-goes-to-last-appointment.yaml",
        "--rules",
        r,
        "--format",
        "markdown",
    ])
    .expect(1);
    insta::assert_snapshot!("test_markdown_failures", out);
}

#[test]
fn coverage_markdown_is_a_heading_a_sentence_and_a_table() {
    let (out, _) = Run::new(&["coverage", "--format", "markdown"]).expect(0);
    insta::assert_snapshot!("coverage_markdown", out);
}

#[test]
fn analyze_markdown_names_the_findings_and_folds_the_matrix() {
    let (out, _) = Run::new(&["analyze", "--format", "markdown"]).expect(0);
    let head: Vec<&str> = out.lines().take(6).collect();
    assert_eq!(
        head[..4],
        [
            "## Decision matrix",
            "",
            "The rules decide 418 classes of input (162 inbound, 256 outbound), with no shadowed rule and no gap.",
            "",
        ],
        "{}",
        &out[..1500]
    );
    // The two redundant grants, as list items, their backticks escaped.
    assert!(
        head[4].starts_with("- note: delivery rule \\`logged-in-at-landing-location\\` "),
        "{}",
        head[4]
    );
    assert!(
        head[5].starts_with("- note: delivery rule \\`started-the-conversation\\` "),
        "{}",
        head[5]
    );
    assert!(out.contains("<details><summary>The matrix: 418 rows</summary>\n\n| # | policy | outcome | deciding rule | example | class |\n| --- |"));
    assert_eq!(out.lines().filter(|l| l.starts_with("| ")).count(), 2 + 418);
    assert!(out.ends_with("\n</details>\n"), "{}", &out[out.len() - 300..]);
}

/// Counts the `|` that separate cells: those not escaped with a backslash.
fn separators(line: &str) -> usize {
    let mut n = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => n += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    n
}

#[test]
fn markdown_escapes_hostile_case_names_so_they_cannot_inject_html_or_break_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let world = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/glow-world.yaml");
    let name = "a | b <script>alert(1)</script> `code` [link](https://evil.example) **bold** \\| done\nsecond | line";
    std::fs::write(
        dir.path().join("hostile.yaml"),
        format!(
            "world: {:?}\ncases:\n  - name: {:?}\n    inbound: {{client: cleo, answering: campaign@B}}\n    expect: {{lands_at: [A], delivered_to: [sam], rule: campaign-reply-with-history}}\n",
            world.to_str().unwrap(),
            name
        ),
    )
    .unwrap();
    let file = dir.path().join("hostile.yaml");
    let (out, _) = Run::new(&["test", file.to_str().unwrap(), "--format", "markdown"]).expect(0);
    assert!(!out.contains("<script"), "{out}");
    assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{out}");
    assert!(out.contains("\\`code\\`"), "{out}");
    assert!(out.contains("\\[link\\](https://evil.example)"), "{out}");
    assert!(out.contains("\\*\\*bold\\*\\*"), "{out}");
    let table: Vec<&str> = out.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(table.len(), 3, "a header, the rule and one row:\n{out}");
    for l in &table {
        assert_eq!(separators(l), 5, "four cells on every line: {l}");
    }
}
