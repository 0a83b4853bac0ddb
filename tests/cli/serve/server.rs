//! A running `commroute serve` and an HTTP client with deadlines.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::process::Lines;

/// How long the service may take to start, and any one request.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A `commroute serve` child process, killed when dropped.
pub struct Server {
    pub lines: Lines,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    agent: ureq::Agent,
}

/// A response: status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub content_type: String,
}

impl Reply {
    /// The body as JSON; fails the test when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// The address in `listening on http://ADDR`, whether the line is text
/// or a JSON log line (`--log-format json`) whose message says it.
pub fn listening_on(line: &str) -> Option<String> {
    if let Some(addr) = line.strip_prefix("listening on ") {
        return Some(addr.trim().to_owned());
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = v["message"].as_str().or_else(|| v["fields"]["message"].as_str())?;
    Some(message.strip_prefix("listening on ")?.trim().to_owned())
}

impl Server {
    /// Starts `commroute serve --listen 127.0.0.1:0 ARGS...` in `dir` and waits
    /// for it to say where it listens.
    pub fn start(dir: &Path, args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_commroute"));
        cmd.current_dir(dir)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args);
        let mut lines = Lines::spawn(&mut cmd);
        let base = loop {
            let line = lines
                .next_within(LIMIT)
                .unwrap_or_else(|| panic!("the service ended before it listened"));
            if let Some(addr) = listening_on(&line) {
                break addr;
            }
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(LIMIT))
            .http_status_as_error(false)
            .build()
            .into();
        Server { lines, base, agent }
    }

    /// The service in `dir` over `dir/rules` (see
    /// `support::rules::rules_copy`), the glow world and the repository's
    /// scenarios, with `extra` flags.
    pub fn over_rules_copy(dir: &Path, extra: &[&str]) -> Server {
        use crate::support::rules::repo;
        let (world, scenarios) = (repo("examples/glow-world.yaml"), repo("scenarios"));
        let mut args = vec!["--rules", "rules", "--world", &world, "--scenarios", &scenarios];
        args.extend_from_slice(extra);
        Server::start(dir, &args)
    }

    /// The glow world and the shipped rules, from the repository's root.
    pub fn glow() -> Server {
        Server::start(
            Path::new(env!("CARGO_MANIFEST_DIR")),
            &["--world", "examples/glow-world.yaml"],
        )
    }

    fn reply(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>, what: &str) -> Reply {
        let mut resp = result.unwrap_or_else(|e| panic!("{what}: {e}"));
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Reply {
            status: resp.status().as_u16(),
            body: resp
                .body_mut()
                .read_to_string()
                .unwrap_or_else(|e| panic!("{what}: {e}")),
            content_type,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        Server::reply(
            self.agent.get(format!("{}{path}", self.base)).call(),
            &format!("GET {path}"),
        )
    }

    /// `POST path` with `body` as JSON.
    pub fn post(&self, path: &str, body: &str) -> Reply {
        Server::reply(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .send(body),
            &format!("POST {path}"),
        )
    }
}

impl Server {
    /// Sends SIGTERM and waits for the process to end; its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.lines.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid} failed");
        crate::support::process::wait_within(&mut self.lines.child, LIMIT, "commroute serve after SIGTERM")
    }
}

/// Fails the test when `answer` does not fit the component schema `name`
/// of the service's OpenAPI document.
pub fn fits(s: &Server, name: &str, answer: &serde_json::Value) {
    let doc = s.get("/v1/openapi.json").json();
    let mut schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
    });
    schema["components"] = doc["components"].clone();
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(answer)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{answer} does not fit {name}: {errors:#?}");
}
