//! `commroute analyze`: the decision matrix, shadowed rules and gaps.

use crate::authoring::analysis::{self, Analysis, Classes, Row};

use super::output::{count, csv_line, json_line, markdown_cell, shown_owned, Grid};
use super::{
    out, out_exact, out_painted, style, CliResult, Exit, FormatChoice, Layout, RulesArg, RulesFrom, TableFormat,
};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    rules: RulesArg,
    #[arg(long, value_enum, default_value_t)]
    format: TableFormat,
    /// Print the witness world of matrix row N (as numbered in the table) and the command that routes it
    #[arg(long, value_name = "N")]
    witness: Option<usize>,
}

pub(crate) fn run(args: Args) -> CliResult {
    let (rules, from) = args.rules.load()?;
    let classes = Classes::for_rules(&[&rules]);
    let a = analysis::analyze(&rules, &classes);
    if let Some(n) = args.witness {
        let Some(row) = n.checked_sub(1).and_then(|i| a.rows.get(i)) else {
            return Err(anyhow::anyhow!("--witness {n}: the matrix has rows 1 to {}", a.rows.len()).into());
        };
        out(&format!(
            "# row {n}: {} ({})\n# {}, decided by `{}`\n# save this file as witness.yaml, then: {} --explain\n{}",
            shown_owned(&row.description),
            row.policy,
            shown_owned(&row.outcome),
            shown_owned(&row.rule),
            shown_owned(&row.witness.command),
            row.witness.world
        ))?;
        return Ok(Exit::Ok);
    }
    let text = render(&a, args.format, &from);
    match args.format.layout() {
        Some(Layout::Markdown) => out(&text)?,
        Some(_) => out_painted(&text, |t| {
            style::labels(t, &[("shadowed:", style::WARNING), ("gap:", style::WARNING)])
        })?,
        None => out_exact(&text)?,
    }
    Ok(if a.clean() { Exit::Ok } else { Exit::Failed })
}

fn live(row: &Row) -> String {
    row.received_live_by().join("; ")
}

pub(crate) fn render(a: &Analysis, format: TableFormat, from: &RulesFrom) -> String {
    let mut text = String::new();
    match format {
        TableFormat::Json => {
            for r in &a.rows {
                text.push_str(&json_line("class", r));
            }
            for s in &a.shadowed {
                text.push_str(&json_line("shadowed", s));
            }
            for g in &a.gaps {
                text.push_str(&json_line("gap", g));
            }
            for r in &a.redundant {
                text.push_str(&json_line("redundant", r));
            }
            text.push_str(&json_line(
                "summary",
                &serde_json::json!({"classes": a.rows.len(), "shadowed": a.shadowed.len(), "gaps": a.gaps.len(), "rules": from.json()}),
            ));
        }
        TableFormat::Csv => {
            text.push_str(&csv_line(&[
                "policy",
                "class",
                "example",
                "outcome",
                "rule",
                "text_rule",
                "received_live_by",
                "partial",
                "gap",
            ]));
            for r in &a.rows {
                text.push_str(&csv_line(&[
                    r.policy,
                    &r.description,
                    &r.example,
                    &r.outcome,
                    &r.rule,
                    r.text_rule.as_deref().unwrap_or(""),
                    &live(r),
                    &r.partial.join("; "),
                    r.gap.as_deref().unwrap_or(""),
                ]));
            }
        }
        TableFormat::Auto | TableFormat::Table | TableFormat::Markdown => {
            let layout = format.layout().expect("a layout for people");
            // The class, the longest cell, comes last: compact lines are not padded to it.
            let mut t = Grid::new(&["#", "policy", "outcome", "deciding rule", "example", "class"]).ids(&[3]);
            for (i, r) in a.rows.iter().enumerate() {
                let mut rule = shown_owned(&r.rule);
                if let Some(t) = &r.text_rule {
                    rule.push_str(&format!(" + {}", shown_owned(t)));
                }
                if !r.partial.is_empty() {
                    rule.push_str(&format!(
                        " (evaluated on the witness: {})",
                        shown_owned(&r.partial.join(", "))
                    ));
                }
                t.add_row(vec![
                    (i + 1).to_string(),
                    r.policy.to_string(),
                    shown_owned(&r.outcome),
                    rule,
                    shown_owned(&r.example),
                    shown_owned(&r.description),
                ]);
            }
            let mut findings = Vec::new();
            for s in &a.shadowed {
                findings.push(format!("shadowed: {} rule {}", s.policy, shown_owned(&s.reason)));
            }
            for g in &a.gaps {
                findings.push(format!(
                    "gap: {}: {} (for example: {})",
                    shown_owned(&g.class),
                    shown_owned(&g.reason),
                    shown_owned(&g.example)
                ));
            }
            for r in &a.redundant {
                findings.push(format!("note: {} rule {}", r.policy, shown_owned(&r.reason)));
            }
            if layout == Layout::Markdown {
                let inbound = a.rows.iter().filter(|r| r.policy == "inbound").count();
                text.push_str(&format!(
                    "## Decision matrix\n\nThe rules decide {} ({inbound} inbound, {} outbound), with {} and {}.\n\n",
                    count(a.rows.len(), "class of input", "classes of input"),
                    a.rows.len() - inbound,
                    count(a.shadowed.len(), "shadowed rule", "shadowed rules"),
                    count(a.gaps.len(), "gap", "gaps"),
                ));
                for f in &findings {
                    text.push_str(&format!("- {}\n", markdown_cell(f)));
                }
                if !findings.is_empty() {
                    text.push('\n');
                }
                // The matrix is long: folded, so the findings stay in view.
                text.push_str(&format!(
                    "<details><summary>The matrix: {} rows</summary>\n\n{}\n</details>\n",
                    a.rows.len(),
                    t.render(layout)
                ));
                return text;
            }
            text.push_str(&t.render(layout));
            for f in &findings {
                text.push_str(f);
                text.push('\n');
            }
            text.push_str(&format!(
                "{} classes, {} shadowed rules, {} gaps\n",
                a.rows.len(),
                a.shadowed.len(),
                a.gaps.len()
            ));
        }
    }
    text
}
