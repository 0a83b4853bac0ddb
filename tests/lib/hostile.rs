//! Hostile files: each gets a clear error, quickly and with bounded memory,
//! and nothing crashes. Large inputs are generated here (a sparse file, a
//! device, a long line), never committed. Peak memory for each is measured on
//! the release binary by `scripts/hostile-files.sh` (see the README's
//! bad-input table).

use std::io::Write;
use std::path::{Path, PathBuf};

use commroute::diag::MAX_FILE_SIZE;
use commroute::jsonl::{EventLines, LineError, LineProblem, MAX_LINE};
use commroute::scenario::{self, ScenarioFile};
use commroute::{RuleSet, Source, World};

use crate::support::rules::copy_shipped_rules;

/// The message of the only diagnostic, with its location.
fn only(diags: commroute::Diagnostics) -> (String, String) {
    assert_eq!(diags.len(), 1, "{diags}");
    let d = &diags.0[0];
    (d.location(), d.message.clone())
}

// ---------------------------------------------------------------------------
// Size

#[test]
fn a_200_mb_world_file_is_refused_by_its_size_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.yaml");
    // Sparse: 200 MB on paper, nothing on disk.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(200 * 1024 * 1024)
        .unwrap();
    let (at, message) = only(World::load(&path).unwrap_err());
    assert_eq!(at, path.display().to_string());
    assert_eq!(message, "the file is larger than 32 MiB, the most commroute reads");
}

#[cfg(unix)]
#[test]
fn an_endless_device_is_refused_once_the_limit_is_passed() {
    let (at, message) = only(World::load(Path::new("/dev/zero")).unwrap_err());
    assert_eq!(at, "/dev/zero");
    assert_eq!(message, "the file is larger than 32 MiB, the most commroute reads");
}

#[cfg(unix)]
#[test]
fn a_scenario_whose_world_is_an_endless_device_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, "world: /dev/zero\ncases: []\n").unwrap();
    let diags = ScenarioFile::load(&path).unwrap_err();
    assert!(
        diags.0.iter().any(|d| d.message.contains("larger than 32 MiB")),
        "{diags}"
    );
}

#[test]
fn a_file_just_under_the_limit_is_read() {
    // The limit refuses what is over it, not what is at it: a world padded
    // with a comment to exactly the limit still loads.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.yaml");
    let world = std::fs::read_to_string("examples/glow-world.yaml").unwrap();
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(world.as_bytes()).unwrap();
    let pad = MAX_FILE_SIZE as usize - world.len() - 2;
    f.write_all(b"#").unwrap();
    f.write_all(&vec![b'x'; pad]).unwrap();
    f.write_all(b"\n").unwrap();
    drop(f);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), MAX_FILE_SIZE);
    assert!(World::load(&path).is_ok());
}

// ---------------------------------------------------------------------------
// Encoding

#[test]
fn invalid_utf8_in_a_rules_file_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    // Latin-1 `é` in a description, as a Windows editor might save it.
    std::fs::write(
        dir.path().join("delivery.yaml"),
        b"policy: delivery\ndescription: caf\xe9 rules\n",
    )
    .unwrap();
    let (at, message) = only(RuleSet::load_dir(dir.path()).unwrap_err());
    assert_eq!(at, format!("{}:2:17", dir.path().join("delivery.yaml").display()));
    assert_eq!(message, "the file is not valid UTF-8 text");
}

#[test]
fn a_utf16_world_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.yaml");
    let mut bytes = vec![0xff, 0xfe];
    for unit in "accounts: []\n".encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();
    let (at, message) = only(World::load(&path).unwrap_err());
    assert_eq!(at, path.display().to_string());
    assert_eq!(message, "the file is UTF-16 text, not UTF-8");
}

// ---------------------------------------------------------------------------
// YAML bombs and nesting

/// A "billion laughs" with nine levels of nine aliases: 9^9 (387 million)
/// strings if it were expanded.
fn alias_bomb() -> String {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text
}

#[test]
fn an_alias_bomb_world_is_refused_without_expanding() {
    let text = format!("{}accounts: [*a8]\n", alias_bomb());
    let (at, message) = only(World::parse(Source::new("bomb.yaml", text)).unwrap_err());
    assert_eq!(at, "bomb.yaml:1:9");
    assert_eq!(message, "YAML anchors and aliases are not supported");
}

#[test]
fn an_alias_bomb_rules_file_is_refused_without_expanding() {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    std::fs::write(
        dir.path().join("outbound.yaml"),
        format!("policy: outbound\n{}", alias_bomb()),
    )
    .unwrap();
    let (at, message) = only(RuleSet::load_dir(dir.path()).unwrap_err());
    assert_eq!(at, format!("{}:2:9", dir.path().join("outbound.yaml").display()));
    assert_eq!(message, "YAML anchors and aliases are not supported");
}

#[test]
fn deep_flow_nesting_is_refused_before_parsing() {
    let text = format!("accounts: {}{}\n", "[".repeat(1_000_000), "]".repeat(1_000_000));
    let (at, message) = only(World::parse(Source::new("deep.yaml", text)).unwrap_err());
    assert_eq!(at, "deep.yaml:1:75");
    assert_eq!(message, "the file nests deeper than 64 levels");
}

#[test]
fn deep_block_nesting_is_refused_before_parsing() {
    // Ten thousand mappings, each indented one space more than its parent.
    let text: String = (0..10_000).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
    let (_, message) = only(World::parse(Source::new("deep.yaml", text)).unwrap_err());
    assert_eq!(message, "the file nests deeper than 64 levels");
}

#[test]
fn deep_nesting_of_sequences_on_one_line_is_refused() {
    let text = format!("accounts:\n  {}x\n", "- ".repeat(100_000));
    let (_, message) = only(World::parse(Source::new("deep.yaml", text)).unwrap_err());
    assert_eq!(message, "the file nests deeper than 64 levels");
}

#[test]
fn deep_nesting_of_explicit_keys_is_refused_without_a_crash() {
    // `? ` starts a complex mapping key; a hundred thousand of them nest.
    let text = format!("{}x\n", "? ".repeat(100_000));
    let diags = World::parse(Source::new("deep.yaml", text)).unwrap_err();
    assert!(!diags.is_empty());
}

#[test]
fn nesting_within_the_limit_is_an_ordinary_error() {
    // Sixty levels is legal YAML; the world reader then says what is wrong.
    let text = format!("accounts: {}{}\n", "[".repeat(60), "]".repeat(60));
    let diags = World::parse(Source::new("nested.yaml", text)).unwrap_err();
    assert!(diags.0.iter().all(|d| !d.message.contains("nests deeper")), "{diags}");
}

// ---------------------------------------------------------------------------
// Symlink loops

#[cfg(unix)]
#[test]
fn a_rules_directory_that_is_a_symlink_loop_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::os::unix::fs::symlink(&rules, &rules).unwrap();
    let (at, message) = only(RuleSet::load_dir(&rules).unwrap_err());
    assert_eq!(at, rules.display().to_string());
    assert!(
        message.starts_with("cannot open the rules directory: ") && message.contains("symbolic links"),
        "{message}"
    );
}

#[cfg(unix)]
#[test]
fn a_rules_file_that_is_a_symlink_loop_is_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_shipped_rules(dir.path());
    let inbound = dir.path().join("inbound.yaml");
    std::fs::remove_file(&inbound).unwrap();
    std::os::unix::fs::symlink(&inbound, &inbound).unwrap();
    let (at, message) = only(RuleSet::load_dir(dir.path()).unwrap_err());
    assert_eq!(at, inbound.display().to_string());
    assert!(
        message.starts_with("cannot read the file: ") && message.contains("symbolic links"),
        "{message}"
    );
}

#[cfg(unix)]
#[test]
fn a_scenario_directory_with_links_back_to_itself_is_reported_not_walked() {
    // Two links to the parent made the walk visit 2^32 directories before
    // the depth guard stopped it; each directory is now entered once.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("scenarios");
    std::fs::create_dir(&root).unwrap();
    std::fs::copy(
        "scenarios/inbound/01-client-replies-staff-at-both-locations.yaml",
        root.join("one.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink("..", root.join("back")).unwrap();
    std::os::unix::fs::symlink(".", root.join("here")).unwrap();
    std::os::unix::fs::symlink(".", root.join("again")).unwrap();
    let diags = scenario::discover(std::slice::from_ref(&root)).unwrap_err();
    let messages: Vec<(String, String)> = diags.0.iter().map(|d| (d.location(), d.message.clone())).collect();
    let real = std::fs::canonicalize(&root).unwrap();
    assert_eq!(
        messages,
        [
            (
                root.join("again").display().to_string(),
                format!("a symlink loop: this leads back to `{}`", real.display())
            ),
            (
                root.join("here").display().to_string(),
                format!("a symlink loop: this leads back to `{}`", real.display())
            ),
        ],
        "`back` leads to the temporary directory, outside the walk, and holds no loop of its own"
    );
}

#[cfg(unix)]
#[test]
fn a_second_link_to_a_scenario_directory_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("scenarios");
    std::fs::create_dir_all(root.join("real")).unwrap();
    std::fs::copy(
        "scenarios/inbound/01-client-replies-staff-at-both-locations.yaml",
        root.join("real/one.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink("real", root.join("zlink")).unwrap();
    let found: Vec<PathBuf> = scenario::discover(std::slice::from_ref(&root)).unwrap();
    assert_eq!(found, [root.join("real/one.yaml")]);
}

// ---------------------------------------------------------------------------
// Event lines

#[test]
fn a_10_mb_event_line_is_refused_and_the_next_line_still_read() {
    let mut input = Vec::with_capacity(10 * 1024 * 1024 + 200);
    input.extend_from_slice(br#"{"id":"huge","type":"outbound","client":"cleo","from_account":"glow-uptown","text":""#);
    input.resize(10 * 1024 * 1024, b'x');
    input.extend_from_slice(b"\"}\n");
    input.extend_from_slice(br#"{"id":"e2","type":"inbound","client":"cleo"}"#);
    input.push(b'\n');
    let read: Vec<_> = EventLines::new(&input[..]).collect();
    assert_eq!(read.len(), 2);
    match &read[0] {
        Err(
            e @ LineError::Line {
                line: 1,
                problem: LineProblem::TooLong { max },
            },
        ) => {
            assert_eq!(*max, MAX_LINE);
            assert_eq!(e.to_string(), "line 1: the line is longer than 1048576 bytes");
        }
        other => panic!("{other:?}"),
    }
    let (line, event) = read[1].as_ref().unwrap();
    assert_eq!((*line, event.id()), (2, "e2"));
}

#[test]
fn deeply_nested_json_in_an_event_line_is_an_error_not_a_crash() {
    // An unknown field is buffered whole (the event type is a tag), so the
    // nesting reaches the JSON reader's recursion limit.
    let line = format!(
        "{{\"id\":\"e\",\"type\":\"inbound\",\"client\":\"cleo\",\"x\":{}{}}}\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let read: Vec<_> = EventLines::with_max(line.as_bytes(), 1 << 20).collect();
    let message = read[0].as_ref().unwrap_err().to_string();
    assert!(message.starts_with("line 1: recursion limit exceeded"), "{message}");
}

/// A 10 MB line in a JSON Lines timeline is refused with its line number,
/// without being held in memory, and the next line is still read.
#[test]
fn a_10_mb_timeline_line_is_refused_and_reading_goes_on() {
    use std::io::Cursor;
    let world = std::fs::canonicalize("examples/glow-world.yaml").unwrap();
    let mut text = format!("{{\"type\":\"world\",\"path\":{:?}}}\n", world.display().to_string());
    text.push_str(&format!("{{\"id\":\"big\",\"text\":\"{}\"}}\n", "x".repeat(10 << 20)));
    text.push_str("{\"id\":\"e2\",\"at\":\"2026-03-02T09:00:00Z\",\"type\":\"logout\",\"staff\":\"sam\"}\n");
    let mut timeline =
        commroute::replay::timeline::JsonlTimeline::new(std::path::Path::new("/tmp/t.jsonl"), Cursor::new(text))
            .unwrap();
    let err = timeline.next_event().unwrap().unwrap_err();
    assert_eq!(err.pos.line, 2);
    assert_eq!(
        err.message,
        format!("the line is longer than {} bytes", commroute::jsonl::MAX_LINE)
    );
    let next = timeline.next_event().unwrap().unwrap();
    assert_eq!(next.id, "e2");
    assert!(timeline.next_event().is_none());
}
