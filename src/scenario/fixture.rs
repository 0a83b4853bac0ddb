//! Fixtures from real decisions: a decision confirmed by ops becomes a
//! scenario case, with its current outcome as the expectation.
//!
//! [`SavedCase::inbound`] and [`SavedCase::outbound`] decide what a saved
//! case holds: its default name, the world changes and which fields of the
//! outcome become its expectation. [`save_case`] appends one case to a
//! scenario file, creating the file (with a reference to the world file,
//! relative to the scenario) when it does not exist. The new text is parsed
//! as a scenario before it is written, so a file is never left half-edited or
//! invalid. The command line (`route --save-case`) only says where.

use std::path::{Component, Path, PathBuf};

use super::login::StaffLogin;
use crate::diag::{Diagnostic, Diagnostics, Pos, Source};
use crate::engine::decision::{InboundReport, OutboundReport};
use crate::engine::event::{InboundRequest, OutboundRequest};
use crate::scenario::ScenarioFile;

/// The event of a saved case, as written in a scenario file.
#[derive(Debug, Clone)]
enum SavedEvent {
    Inbound {
        client: String,
        answering: Option<String>,
        staff: Option<String>,
        from: Option<String>,
    },
    Outbound {
        client: String,
        from_account: String,
        text: String,
    },
}

/// One case to save: the world changes that make it, the event and what came out.
#[derive(Debug, Clone)]
pub(crate) struct SavedCase {
    pub(crate) name: String,
    /// Logins applied before deciding.
    login: Vec<StaffLogin>,
    logout: Vec<String>,
    /// Communicator access changed before deciding: staff id and locations.
    access: Vec<(String, Vec<String>)>,
    event: SavedEvent,
    /// `(field, value)` pairs of the expectation, values already YAML.
    expect: Vec<(&'static str, String)>,
}

/// A YAML scalar for any text (JSON strings are YAML double-quoted scalars).
fn scalar(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// A YAML flow list of scalars.
fn flow_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| scalar(s)).collect::<Vec<_>>().join(", "))
}

impl SavedCase {
    /// An inbound decision as a case: named `name`, else after the event;
    /// it expects where the message landed, who received it live and the
    /// deciding rule.
    pub(crate) fn inbound(
        name: Option<String>,
        login: Vec<StaffLogin>,
        logout: Vec<String>,
        req: &InboundRequest,
        report: &InboundReport,
    ) -> SavedCase {
        let name = name.unwrap_or_else(|| match (&req.answering, &req.staff) {
            (Some(k), _) => format!("{} answers {k}", req.client),
            (None, Some(s)) => format!("{s} started a conversation with {}", req.client),
            _ => format!("{} writes out of the blue", req.client),
        });
        SavedCase {
            name,
            login,
            logout,
            access: vec![],
            event: SavedEvent::Inbound {
                client: req.client.clone(),
                answering: req.answering.clone(),
                staff: req.staff.clone(),
                from: req.from.clone(),
            },
            expect: vec![
                ("lands_at", flow_list(&report.lands_at)),
                ("delivered_to", flow_list(&report.delivered_to)),
                ("rule", scalar(&report.rule)),
            ],
        }
    }

    /// An outbound decision as a case: named `name`, else after the event;
    /// it expects the channel, the ghost text, the text sent and the
    /// deciding rule.
    pub(crate) fn outbound(name: Option<String>, req: &OutboundRequest, report: &OutboundReport) -> SavedCase {
        SavedCase {
            name: name.unwrap_or_else(|| format!("{} writes to {}", req.from_account, req.client)),
            login: vec![],
            logout: vec![],
            access: vec![],
            event: SavedEvent::Outbound {
                client: req.client.clone(),
                from_account: req.from_account.clone(),
                text: req.text.clone(),
            },
            expect: vec![
                ("channel", scalar(report.channel.name())),
                ("ghost_text", scalar(&report.ghost_text)),
                ("text", scalar(&report.text)),
                ("rule", scalar(&report.rule)),
            ],
        }
    }

    /// The same case with communicator access changed first (`access:`
    /// of a scenario case): each staff member with the locations they may read.
    pub(crate) fn with_access(mut self, access: Vec<(String, Vec<String>)>) -> SavedCase {
        self.access = access;
        self
    }

    /// The case as `--save-case` appends it to a scenario file's `cases`.
    pub(crate) fn yaml(&self) -> String {
        let mut y = format!("  - name: {}\n", scalar(&self.name));
        if !self.logout.is_empty() {
            y.push_str(&format!("    logout: {}\n", flow_list(&self.logout)));
        }
        if !self.login.is_empty() {
            let pairs: Vec<String> = self
                .login
                .iter()
                .map(|l| format!("{}: {}", scalar(&l.staff), scalar(&l.location)))
                .collect();
            y.push_str(&format!("    login: {{{}}}\n", pairs.join(", ")));
        }
        if !self.access.is_empty() {
            let pairs: Vec<String> = self
                .access
                .iter()
                .map(|(staff, locs)| format!("{}: {}", scalar(staff), flow_list(locs)))
                .collect();
            y.push_str(&format!("    access: {{{}}}\n", pairs.join(", ")));
        }
        match &self.event {
            SavedEvent::Inbound {
                client,
                answering,
                staff,
                from,
            } => {
                let mut f = vec![format!("client: {}", scalar(client))];
                if let Some(a) = answering {
                    f.push(format!("answering: {}", scalar(a)));
                }
                if let Some(s) = staff {
                    f.push(format!("staff: {}", scalar(s)));
                }
                if let Some(l) = from {
                    f.push(format!("from: {}", scalar(l)));
                }
                y.push_str(&format!("    inbound: {{{}}}\n", f.join(", ")));
            }
            SavedEvent::Outbound {
                client,
                from_account,
                text,
            } => y.push_str(&format!(
                "    outbound: {{client: {}, from_account: {}, text: {}}}\n",
                scalar(client),
                scalar(from_account),
                scalar(text)
            )),
        }
        let e: Vec<String> = self.expect.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        y.push_str(&format!("    expect: {{{}}}\n", e.join(", ")));
        y
    }
}

/// `to` written relative to the directory `from` (both made absolute first).
fn relative(from_dir: &Path, to: &Path) -> PathBuf {
    let abs = |p: &Path| {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        p.canonicalize().unwrap_or(p)
    };
    let (from, to) = (abs(from_dir), abs(to));
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out
}

/// The start of a new scenario file in `dir` whose cases run in `world`
/// (named relative to `dir`), up to its empty `cases:`.
pub(crate) fn new_file(dir: &Path, world: &Path) -> String {
    let rel = relative(dir, world);
    format!(
        "# Cases saved from real decisions with `commroute route ... --save-case`.\ndescription: Decisions confirmed by ops\nworld: {}\ncases:\n",
        scalar(&rel.to_string_lossy().replace('\\', "/"))
    )
}

/// Appends `case` to the scenario file at `path`, creating it with a
/// reference to `world` when it does not exist. Returns the case's line.
pub(crate) fn save_case(path: &Path, world: &Path, case: &SavedCase) -> Result<usize, Diagnostics> {
    let existing = if path.exists() { Some(Source::read(path)?) } else { None };
    let (mut text, before) = match &existing {
        Some(src) => {
            let file = ScenarioFile::parse(src.clone())?;
            if file.cases.iter().any(|c| c.name == case.name) {
                return Err(Diagnostic::new(
                    path,
                    file.cases
                        .iter()
                        .find(|c| c.name == case.name)
                        .map(|c| c.pos)
                        .unwrap_or_default(),
                    format!("the scenario already has a case named `{}`", case.name),
                )
                .help("give the new case another name with --name")
                .into());
            }
            let mut t = src.text.to_string();
            if !t.ends_with('\n') {
                t.push('\n');
            }
            (t, file.cases.len())
        }
        None => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            (new_file(dir, world), 0)
        }
    };
    let line = text.lines().count() + 1;
    text.push_str(&case.yaml());
    // The world path is resolved from the file's directory, so it must exist to check the new text.
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Diagnostic::new(dir, Pos::default(), format!("cannot create the directory: {e}")))?;
    }

    let parsed = ScenarioFile::parse(Source::new(path, text.clone()))?;
    if parsed.cases.len() != before + 1 {
        return Err(Diagnostic::new(
            path,
            Pos::new(line, 1),
            "cannot append a case: `cases` is not the last entry of the file",
        )
        .help("move `cases:` to the end of the file, then save again")
        .into());
    }
    std::fs::write(path, text)
        .map_err(|e| Diagnostic::new(path, Pos::default(), format!("cannot write the file: {e}")))?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_inbound_case_expects_landing_recipients_and_rule() {
        let req = InboundRequest {
            client: "cleo".into(),
            answering: Some("campaign@B".into()),
            ..Default::default()
        };
        let report = InboundReport {
            lands_at: vec!["A".into()],
            delivered_to: vec![],
            rule: "campaign-reply-with-history".into(),
            trace: vec![],
        };
        let login = vec![StaffLogin::parse("sam@A").unwrap()];
        let case = SavedCase::inbound(None, login, vec!["rae".into()], &req, &report);
        assert_eq!(
            case.yaml(),
            "  - name: \"cleo answers campaign@B\"\n    logout: [\"rae\"]\n    login: {\"sam\": \"A\"}\n    \
             inbound: {client: \"cleo\", answering: \"campaign@B\"}\n    \
             expect: {lands_at: [\"A\"], delivered_to: [], rule: \"campaign-reply-with-history\"}\n"
        );
    }

    #[test]
    fn a_saved_outbound_case_expects_channel_texts_and_rule() {
        let req = OutboundRequest {
            client: "cleo".into(),
            from_account: "glow-downtown".into(),
            text: "See you".into(),
        };
        let case = SavedCase::outbound(Some("named".into()), &req, &outbound_report());
        assert_eq!(case.name, "named");
        let keys: Vec<&str> = case.expect.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["channel", "ghost_text", "text", "rule"]);
        let unnamed = SavedCase::outbound(None, &req, &outbound_report());
        assert_eq!(unnamed.name, "glow-downtown writes to cleo");
    }

    fn outbound_report() -> OutboundReport {
        OutboundReport {
            channel: crate::rules::facts::Channel::Sms,
            ghost_text: String::new(),
            text: "See you".into(),
            rule: "sms".into(),
            text_rule: String::new(),
            trace: vec![],
        }
    }
}
