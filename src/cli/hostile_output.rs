//! No human-readable output contains a control character taken from input.
//!
//! A property test over every printer: hostile strings (C0 and C1 controls,
//! DEL, escape sequences that clear the screen, retitle the window, plant a
//! hyperlink or hide text, bidi overrides and isolates, newlines) go in as
//! client, staff, account and location ids and names, message texts, event
//! ids, case names, rule ids and descriptions, file and directory names;
//! every command runs in-process through [`super::run`], as the binary runs
//! it, and what it wrote to stdout and stderr must hold no byte 0x00–0x08,
//! 0x0B–0x1F or 0x7F, no C1 control and no bidi control. Each run must also
//! show an escape (`\u{..}`, `\n`, ...), so the hostile data did reach it.
//! `tests/cli/terminal.rs` runs a few of the same through the real binary.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use super::{capture, run, Exit};

#[path = "../../tests/support/proptest.rs"]
mod support;
use support::proptest_config as config;

/// Pieces hostile strings are made of.
const PIECES: &[&str] = &[
    "\u{1b}[2J",                              // clear the screen
    "\u{1b}]0;pwned\u{7}",                    // set the window title
    "\u{1b}]8;;https://evil.example\u{1b}\\", // a hyperlink
    "\u{1b}[8m",                              // hidden text
    "\u{1b}[1A\u{1b}[2K",                     // move up, erase the line
    "\u{9b}31m",                              // CSI as one C1 character
    "\u{90}q\u{9c}",                          // DCS ... ST
    "\u{85}",                                 // NEL
    "\u{7f}",
    "\u{8}\u{8}",
    "\n| fake | row |\n",
    "<img src=x onerror=alert(1)>", // HTML, for markdown output
    "`[link](x)`\\|",               // code, a link, an escaped pipe
    "\r",
    "\t",
    "\u{202e}",
    "\u{202a}",
    "\u{202d}",
    "\u{2066}",
    "\u{2067}",
    "\u{2068}",
    "\u{2069}",
    "\u{200e}",
    "\u{200f}",
    "\u{61c}",
    "x",
    "é",
    " ",
    "日",
];

/// Whether a character must never reach a terminal from data.
fn forbidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{8}'
            | '\u{b}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{61c}'
    )
}

/// A hostile string: pieces and single control characters, at least one
/// of them a control or bidi character. `nul` allows NUL (not in command-line
/// arguments or file names).
fn hostile(nul: bool) -> impl Strategy<Value = String> {
    let one = prop_oneof![
        3 => proptest::sample::select(PIECES).prop_map(str::to_owned),
        1 => (0u32..0xa0)
            .prop_filter_map("a control character", char::from_u32)
            .prop_filter("a control character", |c| !c.is_ascii_graphic() && *c != ' ')
            .prop_map(String::from),
    ];
    proptest::collection::vec(one, 1..5).prop_map(move |parts| {
        let mut s: String = parts.concat();
        if !nul {
            s = s.replace(['\0', '/', '@', ','], "_");
        }
        if !s.chars().any(forbidden) {
            s.push_str("\u{1b}[2J");
        }
        s
    })
}

/// Everything hostile one case uses.
#[derive(Debug, Clone)]
struct Hostile {
    /// Ids (no NUL, no `/`, `@` or `,`): two accounts, two locations, a
    /// staff member, two clients, an event, a rule, an unknown id.
    ids: [String; 10],
    /// Names and texts (NUL allowed).
    texts: [String; 8],
    /// A file name part (no NUL or `/`).
    file: String,
}

fn hostiles() -> impl Strategy<Value = Hostile> {
    (
        proptest::array::uniform10(hostile(false)),
        proptest::array::uniform8(hostile(true)),
        hostile(false),
    )
        .prop_map(|(ids, texts, file)| Hostile { ids, texts, file })
}

/// `s` as a YAML double-quoted scalar, every character outside printable
/// ASCII escaped.
fn yq(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The files of one case, in a temporary directory.
struct Files {
    dir: tempfile::TempDir,
    world: PathBuf,
    bad_world: PathBuf,
    rules: PathBuf,
    bad_rules: PathBuf,
    scenario: PathBuf,
    timeline: PathBuf,
    bad_timeline: PathBuf,
    photo: PathBuf,
    db: PathBuf,
}

impl Files {
    fn new(h: &Hostile) -> Files {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (world, bad_world) = write_worlds(d, h);
        let (rules, bad_rules) = write_rules(d, h);
        let scenario = write_scenario(d, h, &world);
        let (timeline, bad_timeline, photo) = write_timelines(d, h, &world);
        Files {
            db: d.join("store.db"),
            dir,
            world,
            bad_world,
            rules,
            bad_rules,
            scenario,
            timeline,
            bad_timeline,
            photo,
        }
    }
}

/// The world of a case, and one with problems: an unknown key and an
/// unknown location, both hostile.
fn write_worlds(d: &Path, h: &Hostile) -> (PathBuf, PathBuf) {
    let [parent, child, loc_a, loc_b, staff, global, local, _] = ids(h);
    let t = &h.texts;
    let world = format!(
        "accounts:\n  - {{id: {}, name: {}}}\n  - {{id: {}, name: {}, parent: {}}}\n\
         locations:\n  - {{id: {}, name: {}, account: {}}}\n  - {{id: {}, name: {}, account: {}}}\n\
         staff:\n  - {{id: {}, name: {}, locations: [{}, {}], logged_in_at: {}}}\n\
         clients:\n  - {{id: {}, name: {}, account: {}, locations: [{}], last_appointment_at: {}, guest_app: true}}\n  \
         - {{id: {}, name: {}, account: {}, locations: [{}, {}], phone: \"+1 650 253 0000\", sms_opt_in: true}}\n",
        yq(&parent),
        yq(&t[0]),
        yq(&child),
        yq(&t[1]),
        yq(&parent),
        yq(&loc_a),
        yq(&t[2]),
        yq(&child),
        yq(&loc_b),
        yq(&t[3]),
        yq(&child),
        yq(&staff),
        yq(&t[4]),
        yq(&loc_a),
        yq(&loc_b),
        yq(&loc_a),
        yq(&global),
        yq(&t[5]),
        yq(&parent),
        yq(&loc_a),
        yq(&loc_a),
        yq(&local),
        yq(&t[6]),
        yq(&child),
        yq(&loc_a),
        yq(&loc_b),
    );
    let world_path = d.join(format!("world{}.yaml", h.file));
    std::fs::write(&world_path, &world).unwrap();
    let bad_world = d.join("bad-world.yaml");
    std::fs::write(
        &bad_world,
        world
            .replace("guest_app: true", &format!("{}: true", yq(&h.ids[9])))
            .replace(
                &format!("locations: [{}, {}], phone", yq(&loc_a), yq(&loc_b)),
                &format!("locations: [{}], phone", yq(&h.ids[9])),
            ),
    )
    .unwrap();
    (world_path, bad_world)
}

/// The shipped rules with a hostile rule id and description, and a copy
/// with a hostile unknown key.
fn write_rules(d: &Path, h: &Hostile) -> (PathBuf, PathBuf) {
    let rule = &ids(h)[7];
    let t = &h.texts;
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let rules = d.join(format!("rules{}", h.file));
    std::fs::create_dir(&rules).unwrap();
    for f in crate::rules::FILES {
        std::fs::copy(shipped.join(f), rules.join(f)).unwrap();
    }
    let inbound = std::fs::read_to_string(rules.join("inbound.yaml")).unwrap();
    let changed = inbound.replace(
        "  - id: campaign-reply-with-history\n    description: >",
        &format!(
            "  - id: {}\n    description: {}\n    x-description: >",
            yq(rule),
            yq(&t[7])
        ),
    );
    // `x-description` is not a key: fold the old description into a comment.
    let changed = fold_key(&changed, "    x-description: >");
    assert_ne!(changed, inbound);
    std::fs::write(rules.join("inbound.yaml"), &changed).unwrap();
    let bad_rules = d.join("bad-rules");
    std::fs::create_dir(&bad_rules).unwrap();
    for f in crate::rules::FILES {
        std::fs::copy(rules.join(f), bad_rules.join(f)).unwrap();
    }
    std::fs::write(
        bad_rules.join("inbound.yaml"),
        changed.replacen("    when:", &format!("    {}: 1\n    when:", yq(&h.ids[9])), 1),
    )
    .unwrap();
    (rules, bad_rules)
}

/// A scenario whose cases fail, so expected and actual are printed.
fn write_scenario(d: &Path, h: &Hostile, world_path: &Path) -> PathBuf {
    let [_, child, loc_a, loc_b, _, global, _, rule] = ids(h);
    let t = &h.texts;
    let scenario = d.join(format!("scenario{}.yaml", h.file));
    std::fs::write(
        &scenario,
        format!(
            "description: {}\nworld: {}\ncases:\n  - name: {}\n    inbound: {{client: {}, answering: {}}}\n    \
             expect: {{lands_at: [{}], delivered_to: [], rule: {}}}\n  - name: {}\n    \
             outbound: {{client: {}, from_account: {}, text: {}}}\n    \
             expect: {{channel: push, ghost_text: {}, rule: push}}\n",
            yq(&t[0]),
            yq(world_path.file_name().unwrap().to_str().unwrap()),
            // Case names must differ within a file; the texts may not.
            yq(&format!("{} (1)", t[1])),
            yq(&global),
            yq(&format!("campaign@{loc_a}")),
            yq(&loc_b),
            yq(&rule),
            yq(&format!("{} (2)", t[2])),
            yq(&global),
            yq(&child),
            yq(&t[3]),
            yq(&t[4]),
        ),
    )
    .unwrap();
    scenario
}

/// A timeline: logins, messages both ways, a photo, a failed SMS (notice
/// and audio cue), a failed push (fallback); and a copy naming an unknown
/// client. Returns the timeline, the broken one and the photo.
fn write_timelines(d: &Path, h: &Hostile, world_path: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let [_, _, loc_a, _, staff, global, local, _] = ids(h);
    let t = &h.texts;
    let photo = d.join(format!("photo{}.png", h.file));
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/photos/swatch.png"),
        &photo,
    )
    .unwrap();
    let e = |n: usize| yq(&format!("e{n}{}", h.ids[7]));
    let events = [
        format!(
            "{{id: {}, at: 2026-03-02T09:00:00Z, type: login, staff: {}, location: {}}}",
            e(1),
            yq(&staff),
            yq(&loc_a)
        ),
        format!(
            "{{id: {}, at: 2026-03-02T09:01:00Z, type: client_message, client: {}, answering: {}, text: {}}}",
            e(2),
            yq(&local),
            yq(&format!("confirmation@{loc_a}")),
            yq(&t[5])
        ),
        format!(
            "{{id: {}, at: 2026-03-02T09:02:00Z, type: staff_message, staff: {}, client: {}, text: {}, photos: [{}]}}",
            e(3),
            yq(&staff),
            yq(&local),
            yq(&t[6]),
            yq(photo.file_name().unwrap().to_str().unwrap())
        ),
        format!(
            "{{id: {}, at: 2026-03-02T09:03:00Z, type: delivery, message: {}, status: failed}}",
            e(4),
            e(3)
        ),
        format!(
            "{{id: {}, at: 2026-03-02T09:04:00Z, type: staff_message, staff: {}, client: {}, text: {}}}",
            e(5),
            yq(&staff),
            yq(&global),
            yq(&t[7])
        ),
        format!(
            "{{id: {}, at: 2026-03-02T09:05:00Z, type: delivery, message: {}, status: failed}}",
            e(6),
            e(5)
        ),
        format!(
            "{{id: {}, at: 2026-03-02T09:06:00Z, type: client_message, client: {}, text: {}}}",
            e(7),
            yq(&global),
            yq(&t[0])
        ),
    ];
    let timeline = d.join(format!("timeline{}.yaml", h.file));
    let body = format!(
        "description: {}\nworld: {}\nevents:\n{}",
        yq(&t[1]),
        yq(world_path.file_name().unwrap().to_str().unwrap()),
        events.iter().map(|e| format!("  - {e}\n")).collect::<String>()
    );
    std::fs::write(&timeline, &body).unwrap();
    let bad_timeline = d.join("bad-timeline.yaml");
    std::fs::write(
        &bad_timeline,
        body.replacen(
            &format!("client: {}", yq(&local)),
            &format!("client: {}", yq(&h.ids[9])),
            1,
        ),
    )
    .unwrap();
    (timeline, bad_timeline, photo)
}

/// The ids of a case: accounts (parent, child), locations A and B, the
/// staff member, the clients (global, local) and the rule, each hostile and
/// told apart by its first letter.
fn ids(h: &Hostile) -> [String; 8] {
    // A letter at each end: loaders trim white space around some values.
    let i = &h.ids;
    [
        format!("P{}z", i[0]),
        format!("C{}z", i[1]),
        format!("A{}z", i[2]),
        format!("B{}z", i[3]),
        format!("s{}z", i[4]),
        format!("g{}z", i[5]),
        format!("l{}z", i[6]),
        format!("r{}z", i[8]),
    ]
}

/// Drops the lines of a folded YAML key (`key: >` and its more indented lines).
fn fold_key(text: &str, key_line: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line == key_line {
            skipping = true;
            continue;
        }
        if skipping && line.starts_with("      ") {
            continue;
        }
        skipping = false;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Runs one command line in-process; returns its exit code and everything
/// it wrote, stdout then stderr.
fn run_captured(args: &[OsString]) -> (Exit, String) {
    let argv: Vec<OsString> = std::iter::once(OsString::from("commroute"))
        .chain(args.iter().cloned())
        .collect();
    let (code, out, err) = capture::run(|| run(argv));
    let mut text = String::from_utf8(out).expect("stdout is UTF-8");
    text.push_str(&String::from_utf8(err).expect("stderr is UTF-8"));
    (code, text)
}

fn os(parts: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    parts.iter().map(|p| p.as_ref().to_os_string()).collect()
}

/// Checks what one command wrote: no forbidden character, and some escape
/// (the hostile data reached the printer).
fn check(name: &str, run: (Exit, String), expected: Exit) -> Result<(), TestCaseError> {
    check_safe(name, &run, expected)?;
    let text = &run.1;
    prop_assert!(
        ["\\u{", "\\n", "\\r", "\\t"].iter().any(|e| text.contains(e)),
        "{}: no hostile value was shown:\n{}",
        name,
        text
    );
    Ok(())
}

/// A markdown document: checked like any output, and the hostile data
/// neither opens an HTML tag (only the document's own `<br>`, `<details>`
/// and `<summary>` appear) nor changes the number of cells of a table row.
fn check_markdown(name: &str, run: (Exit, String), expected: Exit) -> Result<(), TestCaseError> {
    let text = run.1.clone();
    check(name, run, expected)?;
    let ours = ["<br>", "<details>", "</details>", "<summary>", "</summary>"];
    // Text in a fenced code block is literal: skip it, fences included.
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        let ticks = &line[..line.len() - line.trim_start_matches('`').len()];
        match fence {
            Some(f) if line == f => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                let mut rest = line;
                while let Some(i) = rest.find('<') {
                    prop_assert!(
                        ours.iter().any(|t| rest[i..].starts_with(t)),
                        "{}: data opened a tag: {}",
                        name,
                        line
                    );
                    rest = &rest[i + 1..];
                }
            }
        }
    }
    prop_assert!(fence.is_none(), "{}: data closed no code block:\n{}", name, text);
    // Cells are separated by the `|` no backslash escapes.
    let cells = |line: &str| {
        let mut n = 0;
        let mut escaped = false;
        for c in line.chars() {
            if c == '|' && !escaped {
                n += 1;
            }
            escaped = c == '\\' && !escaped;
        }
        n
    };
    let mut width = None;
    for line in text.lines() {
        if !line.starts_with('|') {
            width = None;
            continue;
        }
        let n = cells(line);
        let w = *width.get_or_insert(n);
        prop_assert_eq!(n, w, "{}: a row with other cells than its header: {}", name, line);
    }
    prop_assert!(text.contains("\n| --- |"), "{}: no table:\n{}", name, text);
    Ok(())
}

/// Checks only that no forbidden character reached the output.
fn check_safe(name: &str, (code, text): &(Exit, String), expected: Exit) -> Result<(), TestCaseError> {
    prop_assert_eq!(*code, expected, "{}: {}", name, text);
    if let Some(c) = text.chars().find(|c| forbidden(*c)) {
        return Err(TestCaseError::fail(format!(
            "{name}: the output holds {c:?}:\n{}",
            text.escape_debug()
        )));
    }
    // A newline inside one value is shown as `\n`: it cannot start a line.
    prop_assert!(
        !text.lines().any(|l| l.starts_with("| fake | row |")),
        "{}: a value faked a line:\n{}",
        name,
        text
    );
    Ok(())
}

fn every_printer(h: &Hostile) -> Result<(), TestCaseError> {
    let f = Files::new(h);
    route_printers(h, &f)?;
    check_and_test_printers(h, &f)?;
    store_printers(h, &f)
}

/// `route inbound` and `route outbound`: tables, explanations, JSON and errors.
fn route_printers(h: &Hostile, f: &Files) -> Result<(), TestCaseError> {
    let [_, child, loc_a, loc_b, staff, global, local, _] = ids(h);
    let unknown = h.ids[9].clone();
    let typed = format!("hi {}", h.ids[7]);
    let world = f.world.as_os_str();
    let rules = f.rules.as_os_str();
    let answering = format!("campaign@{loc_a}");

    check(
        "route inbound --explain",
        run_captured(&os(&[
            &"route",
            &"inbound",
            &"--world",
            &world,
            &"--client",
            &global,
            &"--answering",
            &answering,
            &"--explain",
            &"--rules",
            &rules,
        ])),
        Exit::Ok,
    )?;
    for kind in ["inbound", "outbound"] {
        let mut args = os(&[&"route", &kind, &"--world", &world, &"--client", &global, &"--explain"]);
        args.extend(os(&[&"--rules", &rules, &"--format", &"json"]));
        if kind == "inbound" {
            args.extend(os(&[&"--answering", &answering]));
        } else {
            args.extend(os(&[&"--from-account", &child, &"--text", &typed]));
        }
        let holds = if kind == "inbound" { &loc_a } else { &typed };
        check_json(&format!("route {kind} --format json"), run_captured(&args), holds)?;
    }
    check(
        "route inbound, a staff conversation",
        run_captured(&os(&[
            &"route",
            &"inbound",
            &"--world",
            &world,
            &"--client",
            &local,
            &"--staff",
            &staff,
            &"--from",
            &loc_b,
            &"--explain",
            &"--rules",
            &rules,
        ])),
        Exit::Ok,
    )?;
    check(
        "route outbound --explain",
        run_captured(&os(&[
            &"route",
            &"outbound",
            &"--world",
            &world,
            &"--client",
            &global,
            &"--from-account",
            &child,
            &"--text",
            &typed,
            &"--explain",
            &"--rules",
            &rules,
        ])),
        Exit::Ok,
    )?;
    check(
        "route inbound, an unknown client",
        run_captured(&os(&[
            &"route",
            &"inbound",
            &"--world",
            &world,
            &"--client",
            &unknown,
            &"--rules",
            &rules,
        ])),
        Exit::Usage,
    )?;
    check(
        "route inbound, a world with problems",
        run_captured(&os(&[
            &"route",
            &"inbound",
            &"--world",
            &f.bad_world,
            &"--client",
            &global,
            &"--rules",
            &rules,
        ])),
        Exit::Usage,
    )?;
    // clap quotes the value without the escape sequences it recognises, so
    // the value may show as nothing at all; it must not reach the terminal.
    check_safe(
        "route inbound, a bad --format",
        &run_captured(&os(&[
            &"route",
            &"inbound",
            &"--world",
            &world,
            &"--client",
            &global,
            &"--format",
            &unknown,
        ])),
        Exit::Usage,
    )?;
    Ok(())
}

/// `check`, `test` and `coverage`.
fn check_and_test_printers(h: &Hostile, f: &Files) -> Result<(), TestCaseError> {
    let unknown = h.ids[9].clone();
    let rules = f.rules.as_os_str();
    check("check", run_captured(&os(&[&"check", &"--rules", &rules])), Exit::Ok)?;
    check(
        "check, rules with problems",
        run_captured(&os(&[&"check", &"--rules", &f.bad_rules])),
        Exit::Failed,
    )?;
    check(
        "test",
        run_captured(&os(&[&"test", &f.scenario, &"--rules", &rules])),
        Exit::Failed,
    )?;
    check(
        "test --filter",
        run_captured(&os(&[
            &"test",
            &f.scenario,
            &"--rules",
            &rules,
            &"--filter",
            &format!("no case {unknown}"),
        ])),
        Exit::Usage,
    )?;
    check(
        "test --format table",
        run_captured(&os(&[&"test", &f.scenario, &"--rules", &rules, &"--format", &"table"])),
        Exit::Failed,
    )?;
    check_markdown(
        "test --format markdown",
        run_captured(&os(&[
            &"test",
            &f.scenario,
            &"--rules",
            &rules,
            &"--format",
            &"markdown",
        ])),
        Exit::Failed,
    )?;
    check(
        "coverage",
        run_captured(&os(&[&"coverage", &f.scenario, &"--rules", &rules])),
        Exit::Ok,
    )?;
    check_markdown(
        "coverage --format markdown",
        run_captured(&os(&[
            &"coverage",
            &f.scenario,
            &"--rules",
            &rules,
            &"--format",
            &"markdown",
        ])),
        Exit::Ok,
    )?;
    Ok(())
}

/// `simulate` and the commands that read its store, then `check-photo`.
fn store_printers(h: &Hostile, f: &Files) -> Result<(), TestCaseError> {
    let [_, _, loc_a, _, _, global, local, _] = ids(h);
    let unknown = h.ids[9].clone();
    let rules = f.rules.as_os_str();
    let db = f.db.as_os_str();
    check(
        "simulate, a bad timeline",
        run_captured(&os(&[
            &"simulate",
            &f.bad_timeline,
            &"--db",
            &f.dir.path().join("bad.db"),
            &"--rules",
            &rules,
        ])),
        Exit::Usage,
    )?;
    check(
        "simulate",
        run_captured(&os(&[&"simulate", &f.timeline, &"--db", &db, &"--rules", &rules])),
        Exit::Ok,
    )?;
    for in_store in [false, true] {
        let mut args = os(&[&"conversations", &"--db", &db, &"--location", &loc_a]);
        if in_store {
            args.push("--in-store".into());
        }
        check("conversations", run_captured(&args), Exit::Ok)?;
    }
    check(
        "conversations at an unknown location",
        run_captured(&os(&[&"conversations", &"--db", &db, &"--location", &unknown])),
        Exit::Usage,
    )?;
    for client in [&local, &global] {
        check(
            "conversation",
            run_captured(&os(&[&"conversation", &"--db", &db, &"--client", client])),
            Exit::Ok,
        )?;
    }
    check(
        "conversation of an unknown client",
        run_captured(&os(&[&"conversation", &"--db", &db, &"--client", &unknown])),
        Exit::Usage,
    )?;
    for by in ["account", "location"] {
        check(
            "usage",
            run_captured(&os(&[&"usage", &"--db", &db, &"--by", &by])),
            Exit::Ok,
        )?;
        check_markdown(
            "usage --format markdown",
            run_captured(&os(&[&"usage", &"--db", &db, &"--by", &by, &"--format", &"markdown"])),
            Exit::Ok,
        )?;
    }
    check(
        "check-photo",
        run_captured(&os(&[&"check-photo", &f.photo, &f.dir.path().join(&unknown)])),
        Exit::Usage,
    )?;
    Ok(())
}

/// JSON output stays exact for programs (bidi characters as they are) but
/// holds no control character raw: serde_json escapes C0, and DEL and C1
/// are written as `\u00XX`. Every line parses.
fn check_json(name: &str, (code, text): (Exit, String), holds: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(code, Exit::Ok, "{}: {}", name, text);
    let (json, _) = text.split_at(text.find('\n').map_or(text.len(), |i| i + 1));
    if let Some(c) = json
        .chars()
        .find(|c| matches!(c, '\u{0}'..='\u{9}' | '\u{b}'..='\u{1f}' | '\u{7f}'..='\u{9f}'))
    {
        return Err(TestCaseError::fail(format!(
            "{name}: the JSON holds {c:?}: {}",
            json.escape_debug()
        )));
    }
    let v: serde_json::Value =
        serde_json::from_str(json.trim_end()).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
    // The value is exact: the hostile string comes back whole.
    fn strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::String(s) => out.push(s),
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(m) => m.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    strings(&v, &mut all);
    prop_assert!(
        all.iter().any(|s| s.contains(holds)),
        "{}: {:?} is not in {}",
        name,
        holds,
        json
    );
    Ok(())
}

/// The authoring commands over the hostile rules: slower, so fewer cases.
fn authoring_printers(h: &Hostile) -> Result<(), TestCaseError> {
    let f = Files::new(h);
    let rules = f.rules.as_os_str();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    check(
        "analyze",
        run_captured(&os(&[&"analyze", &"--rules", &rules])),
        Exit::Ok,
    )?;
    check(
        "diff",
        run_captured(&os(&[
            &"diff",
            &"--base",
            &shipped,
            &"--head",
            &rules,
            &"--scenarios",
            &f.scenario,
            &"--witness",
        ])),
        Exit::Ok,
    )?;
    check_markdown(
        "analyze --format markdown",
        run_captured(&os(&[&"analyze", &"--rules", &rules, &"--format", &"markdown"])),
        Exit::Ok,
    )?;
    check_markdown(
        "diff --format markdown",
        run_captured(&os(&[
            &"diff",
            &"--base",
            &shipped,
            &"--head",
            &rules,
            &"--scenarios",
            &f.scenario,
            &"--format",
            &"markdown",
        ])),
        Exit::Ok,
    )?;
    Ok(())
}

#[test]
fn no_human_readable_output_contains_a_control_character_taken_from_input() {
    TestRunner::new(config(24))
        .run(&hostiles(), |h| every_printer(&h))
        .unwrap();
}

#[test]
fn analyze_and_diff_show_hostile_rule_ids_and_descriptions_escaped() {
    TestRunner::new(config(4))
        .run(&hostiles(), |h| authoring_printers(&h))
        .unwrap();
}
