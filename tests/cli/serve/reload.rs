//! Hot reload: the watcher, SIGHUP and `POST /v1/reload`, valid and invalid
//! changes, and requests served while reloads run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::server::{Server, LIMIT};
use crate::support::rules::copy_shipped_rules;
use crate::support::run::Run;

/// A folder with a copy of the shipped rules in `rules/` and of the glow
/// world as `world.yaml`, and the service started on them from that folder.
struct Setup {
    dir: tempfile::TempDir,
    server: Server,
}

impl Setup {
    fn start(extra: &[&str]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        copy_shipped_rules(&dir.path().join("rules"));
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/glow-world.yaml"),
            dir.path().join("world.yaml"),
        )
        .unwrap();
        let mut args = vec!["--rules", "rules", "--world", "world.yaml"];
        args.extend_from_slice(extra);
        let server = Server::start(dir.path(), &args);
        Setup { dir, server }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Replaces `from` (which must be there) by `to` in a file of the folder.
    fn edit(&self, name: &str, from: &str, to: &str) {
        let path = self.path(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "`{from}` is in {name}");
        write_whole(&path, &text.replace(from, to));
    }

    /// The shipped inbound rules again, as at the start.
    fn restore_rules(&self) {
        let shipped =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/inbound.yaml")).unwrap();
        write_whole(&self.path("rules/inbound.yaml"), &shipped);
    }

    fn status(&self) -> Value {
        let r = self.server.get("/v1/status");
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// Polls `/v1/status` until `done` holds of it; fails the test after [`LIMIT`].
    fn status_until(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let status = self.status();
            if done(&status) {
                return status;
            }
            assert!(start.elapsed() < LIMIT, "no {what} within {LIMIT:?}: {status}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The decision for cleo answering a campaign of location B.
    fn campaign_reply(&self) -> Value {
        let r = self
            .server
            .post("/v1/inbound", r#"{"client":"cleo","answering":"campaign@B"}"#);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    fn reload(&self) -> (u16, Value) {
        let r = self.server.post("/v1/reload", "");
        (r.status, r.json())
    }

    fn hangup(&self) {
        let pid = self.server.lines.child.id().to_string();
        let sent = Command::new("kill").args(["-HUP", &pid]).status().expect("kill runs");
        assert!(sent.success(), "kill -HUP {pid} failed");
    }
}

/// A decision without its `id` (numbered per request).
fn without_id(mut decision: Value) -> Value {
    decision.as_object_mut().expect("a decision is an object").remove("id");
    decision
}

/// Writes `path` whole, by renaming a finished file over it: a reload never
/// reads it half written (that would be a refused reload, or a valid one of
/// half the rules, and this file's tests count both).
fn write_whole(path: &Path, text: &str) {
    let temp = path.with_file_name(format!(".{}.tmp", path.file_name().unwrap().to_string_lossy()));
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

fn count(status: &Value, result: &str) -> u64 {
    status["reloads"][result]
        .as_u64()
        .unwrap_or_else(|| panic!("reloads.{result} in {status}"))
}

/// A valid edit: the campaign rule gets another id, so the decision names it.
const RENAME: (&str, &str) = ("id: campaign-reply-with-history", "id: campaign-reply-edited");
/// An invalid edit: a fact that does not exist.
const UNKNOWN_FACT: (&str, &str) = ("conversation.answering: campaign", "conversation.answerin: campaign");
/// An invalid edit: a YAML syntax error.
const YAML_ERROR: (&str, &str) = ("policy: inbound", "policy: [inbound");

#[test]
fn a_valid_rules_edit_is_picked_up_by_the_watcher_and_decisions_name_the_new_rule_set() {
    let s = Setup::start(&[]);
    let before = s.campaign_reply();
    assert_eq!(before["rule"], "campaign-reply-with-history");
    s.edit("rules/inbound.yaml", RENAME.0, RENAME.1);
    let status = s.status_until("applied reload", |st| st["rule_set"] != before["rule_set"]);
    assert_eq!(count(&status, "applied"), 1, "{status}");
    assert_eq!(count(&status, "refused"), 0, "{status}");
    assert_eq!(status["last_reload"]["trigger"], "watch");
    let after = s.campaign_reply();
    assert_eq!(after["rule"], "campaign-reply-edited");
    assert_eq!(after["rule_set"], status["rule_set"]);
    assert_eq!(after["world_version"], before["world_version"]);
}

#[test]
fn an_invalid_rules_edit_is_refused_and_the_old_set_keeps_serving() {
    let s = Setup::start(&[]);
    let before = s.campaign_reply();
    s.edit("rules/inbound.yaml", UNKNOWN_FACT.0, UNKNOWN_FACT.1);
    let status = s.status_until("refused reload", |st| count(st, "refused") > 0);
    assert_eq!(count(&status, "applied"), 0, "{status}");
    let last = &status["last_reload"];
    assert_eq!(last["result"], "refused");
    assert_eq!(last["trigger"], "watch");
    assert_eq!(
        last["rule_set"], before["rule_set"],
        "a refusal names the set still serving"
    );
    let d = &last["diagnostics"][0];
    assert_eq!(
        format!(
            "{}:{}:{}: {}",
            d["file"].as_str().unwrap(),
            d["line"],
            d["column"],
            d["message"].as_str().unwrap()
        ),
        "rules/inbound.yaml:66:11: unknown fact `conversation.answerin`"
    );
    assert_eq!(d["help"], "did you mean `conversation.answering`?");
    assert_eq!(last["diagnostics"].as_array().unwrap().len(), 1, "{last}");
    // The old rules still decide, under their own version.
    assert_eq!(status["rule_set"], before["rule_set"]);
    assert_eq!(without_id(s.campaign_reply()), without_id(before));
    let ready = s.server.get("/readyz");
    assert_eq!((ready.status, ready.json()["status"].as_str()), (200, Some("ready")));
}

#[test]
fn sighup_reloads_and_the_status_says_the_signal_asked() {
    let s = Setup::start(&["--no-watch"]);
    let before = s.campaign_reply();
    s.edit("rules/inbound.yaml", RENAME.0, RENAME.1);
    s.hangup();
    let status = s.status_until("reload after SIGHUP", |st| count(st, "applied") > 0);
    assert_eq!(status["last_reload"]["trigger"], "signal");
    assert_eq!(status["last_reload"]["result"], "applied");
    assert_ne!(status["rule_set"], before["rule_set"]);
    assert_eq!(s.campaign_reply()["rule"], "campaign-reply-edited");
    // A second SIGHUP with nothing changed: unchanged, and the process lives on.
    s.hangup();
    let status = s.status_until("second reload after SIGHUP", |st| count(st, "unchanged") > 0);
    assert_eq!(status["last_reload"]["result"], "unchanged");
    assert_eq!(s.server.get("/healthz").status, 200);
}

#[test]
fn post_reload_answers_unchanged_applied_and_refused_with_the_problems_as_check_words_them() {
    let s = Setup::start(&["--no-watch"]);
    let first = s.campaign_reply();

    let (code, v) = s.reload();
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        (v["type"].as_str(), v["result"].as_str()),
        (Some("reload"), Some("unchanged"))
    );
    assert_eq!(v["rule_set"], first["rule_set"]);
    assert_eq!(v["world_version"], first["world_version"]);
    assert_eq!(v["diagnostics"], serde_json::json!([]));

    s.edit("rules/inbound.yaml", RENAME.0, RENAME.1);
    let (code, v) = s.reload();
    assert_eq!((code, v["result"].as_str()), (200, Some("applied")), "{v}");
    assert_eq!(v["trigger"], "request");
    assert_ne!(v["rule_set"], first["rule_set"]);
    let decided = s.campaign_reply();
    assert_eq!(decided["rule"], "campaign-reply-edited");
    assert_eq!(decided["rule_set"], v["rule_set"]);
    let applied = v["rule_set"].clone();

    s.edit("rules/inbound.yaml", YAML_ERROR.0, YAML_ERROR.1);
    let (code, v) = s.reload();
    assert_eq!((code, v["result"].as_str()), (422, Some("refused")), "{v}");
    assert_eq!(v["rule_set"], applied, "the refused reload names the set still serving");
    assert_eq!(s.campaign_reply()["rule_set"], applied);
    // The same problems, in the same words, as `commroute check --format json`.
    let (_, stderr) = Run::new(&["check", "--rules", "rules", "--format", "json"])
        .in_dir(s.dir.path())
        .expect(1);
    let checked: Vec<Value> = stderr
        .lines()
        .map(|l| {
            let mut e: Value = serde_json::from_str(l).unwrap();
            let o = e.as_object_mut().unwrap();
            o.remove("type");
            o.remove("version");
            e
        })
        .collect();
    assert_eq!(checked.len(), 1, "{stderr}");
    assert_eq!(v["diagnostics"], Value::Array(checked));
    assert_eq!(
        v["diagnostics"][0]["message"],
        "invalid YAML: illegal placement of ':' indicator"
    );
    assert_eq!(
        (
            v["diagnostics"][0]["line"].as_u64(),
            v["diagnostics"][0]["column"].as_u64()
        ),
        (Some(10), Some(12))
    );

    let status = s.status();
    assert_eq!(status["last_reload"]["result"], "refused");
    assert_eq!(status["last_reload"]["diagnostics"], v["diagnostics"]);
    assert_eq!(
        status["reloads"],
        serde_json::json!({"applied": 1, "unchanged": 1, "refused": 1})
    );
}

#[test]
fn post_reload_takes_no_arguments() {
    let s = Setup::start(&["--no-watch"]);
    assert_eq!(s.server.post("/v1/reload", "{}").status, 200);
    let r = s.server.post("/v1/reload", r#"{"rules":"/etc/passwd"}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["error"].as_str(), v["field"].as_str()),
        (Some("bad_request"), Some("rules"))
    );
    let r = s.server.post("/v1/reload?rules=x", "");
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("?rules")));
    assert_eq!(count(&s.status(), "unchanged"), 1, "only the valid call reloaded");
    assert_eq!(s.server.get("/v1/reload").status, 405);
}

#[test]
fn a_world_file_edit_is_picked_up_by_the_watcher() {
    let s = Setup::start(&[]);
    let before = s.campaign_reply();
    assert_eq!(before["lands_at"], serde_json::json!(["A"]));
    // Cleo's last appointment moves from A to B: her campaign reply lands at B.
    s.edit(
        "world.yaml",
        "    locations: [A, B]\n    last_appointment_at: A\n",
        "    locations: [A, B]\n    last_appointment_at: B\n",
    );
    let status = s.status_until("world reload", |st| st["world_version"] != before["world_version"]);
    assert_eq!(status["rule_set"], before["rule_set"]);
    assert_eq!(status["last_reload"]["trigger"], "watch");
    let after = s.campaign_reply();
    assert_eq!(after["lands_at"], serde_json::json!(["B"]));
    assert_eq!(after["world_version"], status["world_version"]);
}

#[test]
fn no_watch_leaves_edits_alone_until_asked() {
    let s = Setup::start(&["--no-watch"]);
    s.edit("rules/inbound.yaml", RENAME.0, RENAME.1);
    // Several debounce periods (150 ms each): a watcher would have reloaded by now.
    std::thread::sleep(Duration::from_millis(1500));
    let status = s.status();
    assert_eq!(status["last_reload"], Value::Null, "{status}");
    assert_eq!(
        status["reloads"],
        serde_json::json!({"applied": 0, "unchanged": 0, "refused": 0})
    );
    assert_eq!(s.reload().1["result"], "applied");
}

#[test]
fn requests_in_flight_during_reloads_all_succeed_with_the_version_that_decided_them() {
    let s = Setup::start(&[]);
    let original = s.campaign_reply();
    let original_set = original["rule_set"].as_str().unwrap().to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (base, stop) = (s.server.base.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(LIMIT))
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let mut resp = agent
                        .post(format!("{base}/v1/inbound"))
                        .header("content-type", "application/json")
                        .send(r#"{"client":"cleo","answering":"campaign@B"}"#)
                        .expect("the request is answered");
                    let status = resp.status().as_u16();
                    let body = resp.body_mut().read_to_string().unwrap();
                    seen.push((status, body));
                }
                seen
            })
        })
        .collect();
    // Twelve reloads through the endpoint and the watcher: a valid edit
    // switching between the two rule sets, then an invalid one, in turn.
    let mut edited_set = None;
    for round in 0..12 {
        match round % 4 {
            0 => s.edit("rules/inbound.yaml", RENAME.0, RENAME.1),
            1 => s.edit("rules/inbound.yaml", UNKNOWN_FACT.0, UNKNOWN_FACT.1),
            2 => s.restore_rules(),
            _ => s.edit("rules/inbound.yaml", YAML_ERROR.0, YAML_ERROR.1),
        }
        let (code, v) = s.reload();
        if round % 2 == 1 {
            assert_eq!(
                (code, v["result"].as_str()),
                (422, Some("refused")),
                "round {round}: {v}"
            );
            // Back to the valid text of the round before.
            if round % 4 == 1 {
                s.edit("rules/inbound.yaml", UNKNOWN_FACT.1, UNKNOWN_FACT.0);
            } else {
                s.restore_rules();
            }
        } else {
            // The watcher may have applied the edit first: then it is unchanged.
            assert_eq!(code, 200, "round {round}: {v}");
            assert!(
                v["result"] == "applied" || v["result"] == "unchanged",
                "round {round}: {v}"
            );
            let expected_set = if round % 4 == 0 {
                edited_set.get_or_insert_with(|| v["rule_set"].as_str().unwrap().to_owned())
            } else {
                &original_set
            };
            assert_eq!(
                v["rule_set"].as_str(),
                Some(expected_set.as_str()),
                "round {round}: {v}"
            );
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    stop.store(true, Ordering::Relaxed);
    let edited_set = edited_set.unwrap();
    assert_ne!(edited_set, original_set);
    let mut answers = 0;
    for c in clients {
        let seen = c.join().expect("a client thread");
        assert!(!seen.is_empty(), "every client got answers");
        for (status, body) in seen {
            assert_eq!(status, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            let set = v["rule_set"].as_str().unwrap();
            let expected_rule = if set == original_set {
                "campaign-reply-with-history"
            } else {
                assert_eq!(set, edited_set, "an answer from a rule set never applied: {body}");
                "campaign-reply-edited"
            };
            assert_eq!(
                v["rule"], expected_rule,
                "an answer whose rule_set does not match its rule: {body}"
            );
            answers += 1;
        }
    }
    assert!(answers >= 3, "{answers} answers");
}
