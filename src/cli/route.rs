//! `commroute route inbound|outbound`: decide one message, optionally explained.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::engine::explain::trace_text;
use crate::jsonl::batch;
use crate::scenario::fixture::{self, SavedCase};
use crate::scenario::login::{self, LoginError, StaffLogin};
use crate::{InboundRequest, OutboundRequest, World};
use anyhow::{anyhow, Context};

use super::output::{fields, json_line, shown_owned};
use super::progress::{self, Bar};
use super::{err, out, out_exact, CliResult, Exit, Format, FormatChoice, RulesArg, RulesFrom};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum RouteCommand {
    /// Where a client's message lands and who receives it live.
    #[command(
        after_help = "Examples:\n  commroute route inbound --world examples/glow-world.yaml --client cleo --answering campaign@B --explain\n  commroute route inbound --world examples/glow-world.yaml --client cleo --staff sam --from B --format json"
    )]
    Inbound(InboundArgs),
    /// Which channel carries a staff message, with its ghost text.
    #[command(
        after_help = "Examples:\n  commroute route outbound --world examples/glow-world.yaml --client cleo --from-account glow-downtown --text 'See you at 3pm'\n  commroute route outbound --world examples/glow-world.yaml --client cleo --from-account glow-downtown --explain"
    )]
    Outbound(OutboundArgs),
    /// Decide every event of a JSON Lines file, one decision line per event, in order.
    #[command(
        after_help = "Examples:\n  commroute route batch --world examples/glow-world.yaml --input events.jsonl --output decisions.jsonl\n  zcat events.jsonl.gz | commroute route batch --world examples/glow-world.yaml > decisions.jsonl"
    )]
    Batch(BatchArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct BatchArgs {
    /// The world file (accounts, locations, staff, clients; `-` for stdin, with --input FILE)
    #[arg(long, value_name = "FILE")]
    world: PathBuf,
    /// Events, one JSON object per line (`-` for stdin)
    #[arg(long, value_name = "FILE", default_value = "-")]
    input: PathBuf,
    /// Where decision lines go (`-` for stdout)
    #[arg(long, value_name = "FILE", default_value = "-")]
    output: PathBuf,
    #[command(flatten)]
    rules: RulesArg,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InboundArgs {
    /// The world file (accounts, locations, staff, clients; `-` for stdin)
    #[arg(long, value_name = "FILE")]
    world: PathBuf,
    /// The client who writes
    #[arg(long, value_name = "ID")]
    client: String,
    /// What the client answers, e.g. confirmation@A, reminder@B, campaign@A, other@A
    #[arg(long, value_name = "KIND@LOCATION", conflicts_with = "staff")]
    answering: Option<String>,
    /// The staff member who started the conversation
    #[arg(long, value_name = "ID")]
    staff: Option<String>,
    /// Where that staff member started it from (may be omitted when they have one location or are logged in)
    #[arg(long, value_name = "LOCATION", requires = "staff")]
    from: Option<String>,
    /// Log a staff member in first (repeatable)
    #[arg(long, value_name = "STAFF@LOCATION")]
    login: Vec<String>,
    /// Log a staff member out first (repeatable)
    #[arg(long, value_name = "STAFF")]
    logout: Vec<String>,
    /// Say why each rule did or did not apply
    #[arg(long)]
    explain: bool,
    /// Append this decision as a case to a scenario file (created if needed), its outcome as the expectation
    #[arg(long, value_name = "FILE")]
    save_case: Option<PathBuf>,
    /// The saved case's name [default: a description of the event]
    #[arg(long, value_name = "NAME", requires = "save_case")]
    name: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    #[command(flatten)]
    rules: RulesArg,
}

#[derive(Debug, clap::Args)]
pub(crate) struct OutboundArgs {
    /// The world file (accounts, locations, staff, clients; `-` for stdin)
    #[arg(long, value_name = "FILE")]
    world: PathBuf,
    /// The client written to
    #[arg(long, value_name = "ID")]
    client: String,
    /// The account the message is sent from
    #[arg(long, value_name = "ID")]
    from_account: String,
    /// The message text
    #[arg(long, value_name = "TEXT", default_value = "")]
    text: String,
    /// Say why each rule did or did not apply
    #[arg(long)]
    explain: bool,
    /// Append this decision as a case to a scenario file (created if needed), its outcome as the expectation
    #[arg(long, value_name = "FILE")]
    save_case: Option<PathBuf>,
    /// The saved case's name [default: a description of the event]
    #[arg(long, value_name = "NAME", requires = "save_case")]
    name: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    #[command(flatten)]
    rules: RulesArg,
}

pub(crate) fn run(cmd: RouteCommand) -> CliResult {
    match cmd {
        RouteCommand::Inbound(a) => inbound(a),
        RouteCommand::Outbound(a) => outbound(a),
        RouteCommand::Batch(a) => batch(a),
    }
}

/// Applies `--logout` then `--login` to the world; returns the logins.
fn apply_logins(world: &mut World, login: &[String], logout: &[String]) -> anyhow::Result<Vec<StaffLogin>> {
    for id in logout {
        login::log_out(world, id).map_err(|e| anyhow!("--logout `{id}`: {e}"))?;
    }
    let mut logins = Vec::with_capacity(login.len());
    for spec in login {
        let l = StaffLogin::parse(spec).map_err(|e| anyhow!("--login `{spec}`: {e}"))?;
        l.apply(world).map_err(|e| match e {
            LoginError::UnknownStaff => anyhow!("--login `{}`: {e}", l.staff),
            _ => anyhow!("--login `{spec}`: {e}"),
        })?;
        logins.push(l);
    }
    Ok(logins)
}

fn inbound(a: InboundArgs) -> CliResult {
    let (rules, from) = a.rules.load()?;
    no_case_from_stdin(&a.save_case, &a.world)?;
    let mut world = super::stdin::world(&a.world)?;
    let logins = apply_logins(&mut world, &a.login, &a.logout)?;
    let req = InboundRequest {
        client: a.client.clone(),
        answering: a.answering.clone(),
        staff: a.staff.clone(),
        from: a.from.clone(),
    };
    let ev = req
        .resolve(&world)
        .map_err(|e| anyhow!("--{}: {}", e.field.replace('_', "-"), e.message))?;
    let decision = if a.explain {
        rules.explain_inbound(&world, &ev)
    } else {
        rules.route_inbound(&world, &ev)
    }
    .context("the rules could not decide this message")?;
    let report = decision.report(&rules, &world);
    if let Some(path) = &a.save_case {
        let case = SavedCase::inbound(a.name.clone(), logins, a.logout.clone(), &req, &report);
        let line = fixture::save_case(path, &a.world, &case)?;
        saved(&case.name, path, line);
    }
    match a.format.layout() {
        None => out_exact(&json_line(
            "inbound",
            &WithRules {
                report: &report,
                rules: &from,
            },
        ))?,
        Some(layout) => {
            let loc = |id: &String| {
                let l = world.location(id).expect("decisions name known locations");
                format!(
                    "{} ({})",
                    shown_owned(id),
                    shown_owned(&world.locations[l as usize].name)
                )
            };
            let lands: Vec<String> = report.lands_at.iter().map(loc).collect();
            let live = if report.delivered_to.is_empty() {
                let ids: Vec<String> = report.lands_at.iter().map(|l| shown_owned(l)).collect();
                format!("nobody live; it waits in the inbox at {}", ids.join(", "))
            } else {
                report
                    .delivered_to
                    .iter()
                    .map(|id| {
                        let s = &world.staff[world.staff_member(id).expect("known staff") as usize];
                        let at = s.logged_in_at.map(|l| world.loc_id(l).to_owned()).unwrap_or_default();
                        format!(
                            "{} ({}, logged in at {})",
                            shown_owned(id),
                            shown_owned(&s.name),
                            shown_owned(&at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let rule = &rules.inbound.rules.rules[decision.rule];
            let mut text = fields(
                &[
                    ("lands at", lands.join(", ")),
                    ("received live by", live),
                    (
                        "deciding rule",
                        rule_at(&rule.id, &rules.inbound.file.path, rule.pos.line),
                    ),
                ],
                layout,
            );
            if a.explain {
                text.push_str(&trace_text(&report.trace));
            }
            out(&text)?;
        }
    }
    Ok(Exit::Ok)
}

fn outbound(a: OutboundArgs) -> CliResult {
    let (rules, from) = a.rules.load()?;
    no_case_from_stdin(&a.save_case, &a.world)?;
    let world = super::stdin::world(&a.world)?;
    let req = OutboundRequest {
        client: a.client.clone(),
        from_account: a.from_account.clone(),
        text: a.text.clone(),
    };
    let ev = req
        .resolve(&world)
        .map_err(|e| anyhow!("--{}: {}", e.field.replace('_', "-"), e.message))?;
    let decision = if a.explain {
        rules.explain_outbound(&world, &ev)
    } else {
        rules.route_outbound(&world, &ev)
    }
    .context("the rules could not decide this message")?;
    let report = decision.report(&rules);
    if let Some(path) = &a.save_case {
        let case = SavedCase::outbound(a.name.clone(), &req, &report);
        let line = fixture::save_case(path, &a.world, &case)?;
        saved(&case.name, path, line);
    }
    match a.format.layout() {
        None => out_exact(&json_line(
            "outbound",
            &WithRules {
                report: &report,
                rules: &from,
            },
        ))?,
        Some(layout) => {
            let rule = &rules.outbound.rules.rules[decision.rule];
            let mut rows = vec![
                ("channel", report.channel.to_string()),
                ("ghost text", shown_owned(&report.ghost_text)),
            ];
            if report.channel != crate::rules::facts::Channel::None {
                rows.push(("text sent", shown_owned(&report.text)));
            } else {
                rows.push(("text sent", "nothing: sending is refused".into()));
            }
            rows.push((
                "deciding rule",
                rule_at(&rule.id, &rules.outbound.file.path, rule.pos.line),
            ));
            let mut text = fields(&rows, layout);
            if a.explain {
                text.push_str(&trace_text(&report.trace));
            }
            out(&text)?;
        }
    }
    Ok(Exit::Ok)
}

/// A report and the rules that made it, for JSON output.
#[derive(serde::Serialize)]
struct WithRules<'a, R: serde::Serialize> {
    #[serde(flatten)]
    report: &'a R,
    /// The rules directory, or `shipped`.
    #[serde(serialize_with = "rules_json")]
    rules: &'a RulesFrom,
}

fn rules_json<S: serde::Serializer>(from: &&RulesFrom, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&from.json())
}

/// `rule-id (rules/inbound.yaml:12)`, as shown.
fn rule_at(id: &str, file: &Path, line: usize) -> String {
    format!(
        "{} ({}:{line})",
        shown_owned(id),
        shown_owned(&file.display().to_string())
    )
}

/// A saved case names its world file, which stdin is not.
fn no_case_from_stdin(save_case: &Option<PathBuf>, world: &Path) -> anyhow::Result<()> {
    if save_case.is_some() && super::stdin::is_stdin(world) {
        return Err(anyhow!(
            "--save-case needs the world as a file: the saved case names it, and `-` (stdin) cannot be read again; give --world FILE"
        ));
    }
    Ok(())
}

/// Says where `--save-case` saved a case.
fn saved(name: &str, path: &Path, line: usize) {
    err(&format!(
        "saved case `{}` at {}:{line}\n",
        shown_owned(name),
        shown_owned(&path.display().to_string())
    ));
}

fn batch(a: BatchArgs) -> CliResult {
    let (rules, _) = a.rules.load()?;
    let world = super::stdin::world(&a.world)?;
    let input: Box<dyn Read + Send> = if super::stdin::is_stdin(&a.input) {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(&a.input).with_context(|| format!("cannot read `{}`", a.input.display()))?)
    };
    let mut output: Box<dyn Write> = if super::stdin::is_stdin(&a.output) {
        Box::new(io::stdout().lock())
    } else {
        Box::new(File::create(&a.output).with_context(|| format!("cannot write `{}`", a.output.display()))?)
    };
    // Decision lines streaming to a terminal would scribble over a bar.
    let to_terminal = super::stdin::is_stdin(&a.output) && super::ui::get().out_terminal;
    let bar = if to_terminal {
        Bar::start_hidden()
    } else {
        Bar::start("routing", "events", progress::size_of(&a.input))
    };
    let summary = batch::run_with_progress(
        &rules,
        &world,
        input,
        &mut output,
        batch::Options::default(),
        bar.progress(),
    )
    .context("batch routing stopped")?;
    bar.finish();
    err(&format!("{summary}\n"));
    Ok(if summary.errors > 0 { Exit::Failed } else { Exit::Ok })
}
