//! The CI recipe cannot rot: `examples/ci/github-workflow.yml` is valid
//! YAML with the shape of a workflow, and every `commroute` command line in
//! its steps parses with the real command line (clap), as the binary would
//! parse it.

use clap::Parser;

use super::Args;

const WORKFLOW: &str = "examples/ci/github-workflow.yml";

/// Splits a shell command into words: whitespace outside quotes separates,
/// single and double quotes group (and are dropped).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut any = false;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    assert!(quote.is_none(), "an unclosed quote in `{line}`");
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

/// The `commroute` invocations of a step's script, as argument lists, with
/// redirections left out: one per command of a pipeline or list.
fn commroute_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or("");
        for command in line
            .split("&&")
            .flat_map(|c| c.split("||"))
            .flat_map(|c| c.split([';', '|']))
        {
            let mut argv = Vec::new();
            let mut skip_target = false;
            for w in words(command) {
                if std::mem::take(&mut skip_target) {
                    continue;
                }
                let redirect = w.trim_start_matches(|c: char| c.is_ascii_digit());
                if redirect.starts_with('>') || redirect.starts_with('<') {
                    // `> file` takes the next word; `>file` and `2>&1` do not.
                    skip_target = redirect.trim_start_matches(['>', '<', '&']).is_empty() && !w.ends_with("&1");
                    continue;
                }
                argv.push(w);
            }
            if argv.first().is_some_and(|p| p == "commroute") {
                out.push(argv);
            }
        }
    }
    out
}

/// Every `commroute` command line of the workflow's steps.
fn recipe_commands() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(WORKFLOW).expect("the example workflow exists");
    let doc: serde_norway::Value = serde_norway::from_str(&text).expect("the example workflow is valid YAML");
    let jobs = doc["jobs"].as_mapping().expect("a workflow has `jobs`");
    assert!(doc.get("on").is_some(), "a workflow says when it runs (`on`)");
    let mut commands = Vec::new();
    for (name, job) in jobs {
        assert!(job.get("runs-on").is_some(), "job {name:?} has `runs-on`");
        let steps = job["steps"].as_sequence().expect("a job has `steps`");
        for step in steps {
            assert!(
                step.get("run").is_some() != step.get("uses").is_some(),
                "a step either runs a script or uses an action: {step:?}"
            );
            if let Some(run) = step.get("run") {
                let script = run.as_str().expect("`run` is a script");
                commands.extend(commroute_commands(script));
            }
        }
    }
    commands
}

#[test]
fn the_shell_splitting_of_the_recipe_test() {
    assert_eq!(
        commroute_commands("commroute test --format junit > out.xml\ngh pr comment \"$PR\" --body-file x.md"),
        vec![vec!["commroute", "test", "--format", "junit"]]
    );
    assert_eq!(
        commroute_commands("a && commroute diff \\\n  --base origin/main 2>&1 | tee x\ncommroute check >x"),
        vec![
            vec!["commroute", "diff", "--base", "origin/main"],
            vec!["commroute", "check"]
        ]
    );
    assert_eq!(words("a 'b c' \"\" d"), vec!["a", "b c", "", "d"]);
}

#[test]
fn the_ci_recipe_has_every_step_the_readme_promises() {
    let lines: Vec<String> = recipe_commands().iter().map(|c| c.join(" ")).collect();
    for wanted in [
        "commroute check",
        "commroute test --format junit",
        "commroute coverage --min 100",
        "commroute analyze",
        "commroute diff --base origin/main --format markdown",
    ] {
        assert!(lines.iter().any(|l| l == wanted), "`{wanted}` is not in {lines:#?}");
    }
}

#[test]
fn every_commroute_command_line_in_the_ci_recipe_parses() {
    let commands = recipe_commands();
    assert!(commands.len() >= 5, "{commands:?}");
    for argv in commands {
        let line = argv.join(" ");
        if let Err(e) = Args::try_parse_from(&argv) {
            panic!("`{line}` does not parse:\n{e}");
        }
    }
}
