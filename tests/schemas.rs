//! The JSON Schemas (`commroute schema ...`) against the files they describe:
//! every shipped and example file must pass a real JSON Schema validator
//! (the `jsonschema` crate), so a schema cannot drift from the files again,
//! and known-bad files from the bad-input corpus must fail it, so this test
//! is not vacuous. Each file is its own test.
//!
//! YAML is converted to JSON with YAML 1.2's core types (`yaml-rust2`, the
//! parser the loaders use): an unquoted `true` is a boolean, `3` a number,
//! a quoted `"3"` a string.

use std::path::Path;

use commroute::authoring::schema::{schema, FileKind};
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(r.as_str())),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.as_str()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => panic!("a mapping key that is not a scalar: {other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Null => Value::Null,
        Yaml::Alias(_) | Yaml::BadValue => panic!("no shipped file uses aliases: {y:?}"),
    }
}

fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    to_json(&docs[0])
}

/// Every problem the validator finds, one line each: where in the file and what.
fn problems(kind: FileKind, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&schema(kind)).expect("the schema itself is valid");
    validator
        .iter_errors(instance)
        .map(|e| {
            // A `oneOf` failure quotes the whole file: keep the start.
            let what: String = e.to_string().chars().take(240).collect();
            format!("at `{}`: {what}", e.instance_path())
        })
        .collect()
}

fn valid(path: &Path, kind: FileKind, instance: &Value) -> datatest_stable::Result<()> {
    match problems(kind, instance).as_slice() {
        [] => Ok(()),
        found => Err(format!("{} fails its schema:\n{}", path.display(), found.join("\n")).into()),
    }
}

fn rules_file(path: &Path) -> datatest_stable::Result<()> {
    valid(path, FileKind::Rules, &yaml_file(path))
}

fn scenario_file(path: &Path) -> datatest_stable::Result<()> {
    let file = yaml_file(path);
    let result = valid(path, FileKind::Scenario, &file);
    // The scenario schema is one of cases or a timeline, and says only that
    // neither matched: a timeline scenario's own problems say which field.
    if result.is_err() && file.get("events").is_some() {
        valid(path, FileKind::Timeline, &file)?;
    }
    result
}

/// A world file, or a JSON Lines timeline whose lines are checked as the
/// timeline schema's world and events.
fn example_file(path: &Path) -> datatest_stable::Result<()> {
    if path.extension().is_some_and(|e| e == "yaml") {
        return valid(path, FileKind::World, &yaml_file(path));
    }
    let text = std::fs::read_to_string(path)?;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)?;
        // The first line names the world or holds it; the others are events.
        let timeline = match value.get("type").and_then(Value::as_str) {
            Some("world") => {
                let world = value.get("world").or(value.get("path")).cloned().unwrap_or(Value::Null);
                serde_json::json!({ "world": world, "events": [] })
            }
            _ => serde_json::json!({ "world": "world.yaml", "events": [value] }),
        };
        valid(
            &path.with_extension(format!("jsonl:{}", i + 1)),
            FileKind::Timeline,
            &timeline,
        )?;
    }
    Ok(())
}

/// A file of the bad-input corpus that the schema must refuse, as the loader does.
fn refused(path: &Path) -> datatest_stable::Result<()> {
    let group = path.parent().and_then(Path::file_name).and_then(|g| g.to_str());
    let kind = match group {
        Some("world") => FileKind::World,
        Some("rules") => FileKind::Rules,
        Some("scenario") => FileKind::Scenario,
        other => return Err(format!("{}: no schema for {other:?}", path.display()).into()),
    };
    match problems(kind, &yaml_file(path)).as_slice() {
        [] => Err(format!("{} passes its schema, but it is malformed", path.display()).into()),
        _ => Ok(()),
    }
}

datatest_stable::harness! {
    { test = rules_file, root = "rules", pattern = r"\.yaml$" },
    { test = scenario_file, root = "scenarios", pattern = r"\.ya?ml$" },
    { test = example_file, root = "examples", pattern = r"\.(yaml|jsonl)$" },
    // Misspelt keys, values of the wrong type, an unknown channel and event
    // type, a misspelt `expect`, a check's misspelt keys, statuses of the
    // other type of event.
    {
        test = refused,
        root = "tests/bad_input",
        pattern = r"(world/unknown-keys|world/bad-values|rules/outbound-unknown-key|rules/outbound-bad-channel-and-template|scenario/misspelt-keys|scenario/timeline-misspelt-keys|scenario/timeline-bad-events|scenario/timeline-status-of-another-type)\.yaml$"
    },
}
