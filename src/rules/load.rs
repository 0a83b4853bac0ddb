//! Reading the three rules files: each file's keys, its `limits`, its lists
//! of rules with their conditions and outcomes, rule ids unique across the
//! files, and a catch-all at the end of every first-match list. Every problem
//! is reported at once, with file:line:col and the rule id.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::Node;

use crate::diag::{one_of, Diagnostic, Diagnostics, Pos, Source};
use crate::rules::condition::{Cond, Op, Reader, SetExpr};
use crate::rules::facts::{Channel, Fact, PolicyKind, CHANNEL_VALUES};
use crate::rules::script::{Limits, Returns, Sandbox};
use crate::rules::{
    parse_template, ChannelChoice, DeliveryPolicy, FirstMatch, InboundPolicy, OutboundPolicy, Piece, PolicyFile, Rule,
    RuleSet, Template, FILES, MAX_RULES_FILE_SIZE, SHIPPED,
};
use crate::yaml::{self, Doc};

impl RuleSet {
    /// Loads `inbound.yaml`, `delivery.yaml` and `outbound.yaml` from a directory.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, Diagnostics> {
        let help = "give a directory holding inbound.yaml, delivery.yaml and outbound.yaml";
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(
                    Diagnostic::new(dir, Pos::default(), "the rules directory is not a directory")
                        .help(help)
                        .into(),
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(
                    Diagnostic::new(dir, Pos::default(), "the rules directory does not exist")
                        .help(help)
                        .into(),
                )
            }
            // A symlink loop, a permission problem: say what the system said.
            Err(e) => {
                return Err(
                    Diagnostic::new(dir, Pos::default(), format!("cannot open the rules directory: {e}"))
                        .help(help)
                        .into(),
                )
            }
        }
        let mut diags = Diagnostics::default();
        let mut sources = Vec::new();
        for name in FILES {
            match Source::read(&dir.join(name)) {
                Ok(s) => sources.push(s),
                Err(d) => diags.extend(d),
            }
        }
        if !diags.is_empty() {
            return Err(diags.sorted());
        }
        let [i, d, o]: [Source; 3] = sources.try_into().expect("three files were read");
        RuleSet::parse(i, d, o)
    }

    /// The rules that ship with commroute (the contract's default policy).
    pub fn shipped() -> RuleSet {
        let [i, d, o] = SHIPPED.map(|(name, text)| Source::new(format!("<shipped>/rules/{name}"), text));
        RuleSet::parse(i, d, o).expect("the shipped rules are valid (checked by tests)")
    }

    /// Loads the three policies from their sources, reporting every problem.
    pub fn parse(inbound: Source, delivery: Source, outbound: Source) -> Result<RuleSet, Diagnostics> {
        let digest = digest_of([&inbound.text, &delivery.text, &outbound.text]);
        let mut diags = Diagnostics::default();
        let mut ids: HashMap<String, (PathBuf, Pos)> = HashMap::new();
        let i = load_file(inbound, "inbound", &mut ids, read_inbound);
        let d = load_file(delivery, "delivery", &mut ids, read_delivery);
        let o = load_file(outbound, "outbound", &mut ids, read_outbound);
        let (i, d, o) = match (i, d, o) {
            (Ok(i), Ok(d), Ok(o)) => (i, d, o),
            (i, d, o) => {
                for r in [i.err(), d.err(), o.err()].into_iter().flatten() {
                    diags.extend(r);
                }
                return Err(diags.sorted());
            }
        };
        Ok(RuleSet {
            inbound: i,
            delivery: d,
            outbound: o,
            digest,
        })
    }
}

impl RuleSet {
    /// The digest [`RuleSet::digest`] the three texts would load to, without
    /// loading them (the playground compares the files on disk with the
    /// rules serving).
    pub(crate) fn digest_of_texts(texts: [&str; 3]) -> u64 {
        digest_of(texts)
    }
}

/// The digest of the three files' texts, each followed by its length so
/// that text moved from one file to the next changes it.
fn digest_of(texts: [&str; 3]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for t in texts {
        h.update(t.as_bytes());
        h.update(&(t.len() as u64).to_le_bytes());
    }
    h.digest()
}

type FileReader<T> = fn(&mut Doc, &MarkedMappingNode, &mut Vec<(String, Pos)>, Sandbox) -> Option<T>;

fn load_file<T>(
    source: Source,
    kind: &str,
    ids: &mut HashMap<String, (PathBuf, Pos)>,
    read: FileReader<T>,
) -> Result<T, Diagnostics> {
    let path = source.path.clone();
    if source.text.len() > MAX_RULES_FILE_SIZE {
        return Err(Diagnostic::new(
            &path,
            Pos::new(1, 1),
            format!(
                "the rules file is {} bytes, more than the {} KiB a rules file may have",
                source.text.len(),
                MAX_RULES_FILE_SIZE / 1024
            ),
        )
        .help("a policy is a few dozen rules; say more with fewer, broader rules")
        .into());
    }
    let (mut doc, node) = Doc::parse(source)?;
    let Some(top) = doc.mapping(&node, "a rules file", None) else {
        return Err(doc.diags);
    };
    match yaml::get(top, "policy").and_then(|n| doc.string(n, "`policy`", None)) {
        Some(p) if p.value == kind => {}
        Some(p) => doc.error(
            p.pos,
            None,
            format!("this file holds the `{kind}` policy, but it says `policy: {}`", p.value),
            Some(format!("write `policy: {kind}`, or move the file to {}.yaml", p.value)),
        ),
        None => doc.error(
            Pos::new(1, 1),
            None,
            "the file does not say which policy it holds",
            Some(format!("add `policy: {kind}` at the top")),
        ),
    }
    let sandbox = Sandbox::new(read_limits(&mut doc, top));
    let mut local_ids = Vec::new();
    let value = read(&mut doc, top, &mut local_ids, sandbox);
    for (id, pos) in local_ids {
        if let Some((prev_path, prev_pos)) = ids.get(&id) {
            let same = *prev_path == path;
            doc.error(
                pos,
                Some(&format!("rule `{id}`")),
                format!("duplicate rule id `{id}`"),
                Some(if same {
                    format!(
                        "the same id is used at line {}; every rule needs its own id",
                        prev_pos.line
                    )
                } else {
                    format!(
                        "the same id is used in {}:{}; rule ids are unique across all rules files",
                        prev_path.display(),
                        prev_pos.line
                    )
                }),
            );
        } else {
            ids.insert(id, (path.clone(), pos));
        }
    }
    match value {
        Some(v) if doc.diags.is_empty() => Ok(v),
        _ => Err(doc.diags),
    }
}

fn read_limits(doc: &mut Doc, top: &MarkedMappingNode) -> Limits {
    let mut limits = Limits::DEFAULT;
    let Some(node) = yaml::get(top, "limits") else {
        return limits;
    };
    let Some(m) = doc.mapping(node, "`limits`", None) else {
        return limits;
    };
    let names: Vec<&str> = Limits::DEFAULT.fields().iter().map(|(n, _)| *n).collect();
    doc.check_keys(m, &names, "`limits`", None);
    let before = doc.diags.len();
    for (key, value) in m.iter() {
        let name = key.as_str();
        let Some(ceiling) = Limits::CEILING
            .fields()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
        else {
            continue;
        };
        let Some(v) = doc.integer(value, &format!("`limits.{name}`"), None) else {
            continue;
        };
        if v < 1 || v as u64 > ceiling {
            doc.error(
                Pos::of(value.span()),
                None,
                format!("`limits.{name}` is {v}, outside the safe range"),
                Some(format!("choose a value from 1 to {ceiling}")),
            );
            continue;
        }
        limits.set(name, v as u64);
    }
    // Each limit may be within its ceiling and their product still let a
    // script fill gigabytes or sort for minutes: bound the product too.
    let worst = limits.worst_case_bytes();
    if doc.diags.len() == before && worst > Limits::MAX_WORST_CASE_BYTES {
        doc.error(
            Pos::of(node.span()),
            None,
            format!(
                "these `limits` let one script fill about {} MiB, more than the safe {} MiB",
                worst >> 20,
                Limits::MAX_WORST_CASE_BYTES >> 20
            ),
            Some(
                "`max_operations` times the largest value (`max_string_size` + 16 × `max_array_size` + 64 × `max_map_size` bytes) must stay within 1 GiB: lower `max_operations` or the size limits".into(),
            ),
        );
    }
    limits
}

fn file_description(doc: &mut Doc, top: &MarkedMappingNode) -> String {
    yaml::get(top, "description")
        .and_then(|n| doc.string(n, "`description`", None))
        .map(|s| s.value)
        .unwrap_or_default()
}

/// Which list of rules to read: its key, its policy and its outcome keys.
struct List<'a> {
    key: &'a str,
    policy: PolicyKind,
    outcome_keys: &'a [&'a str],
    /// The keys the file may have, to tell a missing list from a misspelt one.
    file_keys: &'a [&'a str],
}

/// Reads a list of rules, calling `outcome` for each rule's outcome keys.
fn read_rules<O>(
    doc: &mut Doc,
    top: &MarkedMappingNode,
    list: List,
    sandbox: &Sandbox,
    ids: &mut Vec<(String, Pos)>,
    mut outcome: impl FnMut(&mut Reader, &MarkedMappingNode) -> Option<O>,
) -> Option<Vec<Rule<O>>> {
    let List {
        key,
        policy,
        outcome_keys,
        file_keys,
    } = list;
    let Some(node) = yaml::get(top, key) else {
        // A misspelt list is reported once, as an unknown key.
        if yaml::misspelt(top, key, file_keys).is_none() {
            doc.error(
                Pos::new(1, 1),
                None,
                format!("the file has no `{key}` list"),
                Some(format!("add `{key}:` with one `- id: ...` entry per rule")),
            );
        }
        return None;
    };
    let seq = doc.sequence(node, &format!("`{key}`"), None)?;
    let mut keys = vec!["id", "description", "when"];
    keys.extend_from_slice(outcome_keys);
    let mut rules = Vec::new();
    let mut ok = true;
    for item in seq.iter() {
        let Some(m) = doc.mapping(item, &format!("each entry of `{key}`"), None) else {
            ok = false;
            continue;
        };
        let pos = Pos::of(m.span());
        // A misspelt `id` (reported below as an unknown key) still names the rule.
        let id = yaml::get(m, "id").or_else(|| yaml::misspelt(m, "id", &keys));
        let Some(id) = id.and_then(|n| doc.string(n, "`id`", None)) else {
            doc.error(
                pos,
                None,
                "this rule has no `id`",
                Some("every rule needs a stable, unique `id`".into()),
            );
            ok = false;
            continue;
        };
        let subject = format!("rule `{}`", id.value);
        ids.push((id.value.clone(), id.pos));
        doc.check_keys(m, &keys, "a rule", Some(&subject));
        let description = match yaml::get(m, "description") {
            Some(n) => doc.string(n, "`description`", Some(&subject)).map(|s| s.value),
            // Misspelt: reported once, as an unknown key.
            None if yaml::misspelt(m, "description", &keys).is_some() => None,
            None => {
                doc.error(
                    id.pos,
                    Some(&subject),
                    "the rule has no `description`",
                    Some("say in plain words what the rule does and which documented scenarios it serves".into()),
                );
                None
            }
        };
        let mut reader = Reader {
            doc,
            sandbox,
            policy,
            subject,
            keys: &keys,
        };
        let when = match yaml::get(m, "when") {
            Some(n) => reader.condition(n, 0),
            None if yaml::misspelt(m, "when", &keys).is_some() => None,
            None => {
                reader.doc.error(
                    id.pos,
                    Some(&reader.subject.clone()),
                    "the rule has no `when`",
                    Some("give a condition, or `when: always` for a catch-all".into()),
                );
                None
            }
        };
        let out = outcome(&mut reader, m);
        match (description, when, out) {
            (Some(description), Some(when), Some(outcome)) => rules.push(Rule {
                id: id.value,
                description,
                when,
                outcome,
                pos: id.pos,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(rules)
}

/// A first-match policy must end with `when: always`, so every input is decided.
fn require_catch_all<O>(doc: &mut Doc, rules: &[Rule<O>], key: &str, what: &str) {
    match rules.last() {
        None => doc.error(
            Pos::new(1, 1),
            None,
            format!("`{key}` has no rules"),
            Some("add at least a catch-all rule with `when: always`".into()),
        ),
        Some(last) if !matches!(last.when, Cond::Always) => doc.error(
            last.pos,
            Some(&format!("rule `{}`", last.id)),
            format!("the last rule of `{key}` is not a catch-all, so some {what} would match no rule"),
            Some("end the list with a rule whose condition is `when: always`".into()),
        ),
        Some(_) => {}
    }
}

fn require<'a>(r: &mut Reader, m: &'a MarkedMappingNode, key: &str, help: &str) -> Option<&'a Node> {
    let node = yaml::get(m, key);
    if node.is_none() && yaml::misspelt(m, key, r.keys).is_none() {
        let subject = r.subject.clone();
        r.doc.error(
            Pos::of(m.span()),
            Some(&subject),
            format!("the rule has no `{key}`"),
            Some(help.to_owned()),
        );
    }
    node
}

fn read_inbound(
    doc: &mut Doc,
    top: &MarkedMappingNode,
    ids: &mut Vec<(String, Pos)>,
    sandbox: Sandbox,
) -> Option<InboundPolicy> {
    const FILE_KEYS: &[&str] = &[
        "policy",
        "description",
        "limits",
        "rules",
        "opt_out_keywords",
        "opt_in_keywords",
    ];
    doc.check_keys(top, FILE_KEYS, "the inbound rules file", None);
    let description = file_description(doc, top);
    let rules = read_rules(
        doc,
        top,
        List {
            key: "rules",
            policy: PolicyKind::Inbound,
            outcome_keys: &["lands_at"],
            file_keys: FILE_KEYS,
        },
        &sandbox,
        ids,
        |r, m| {
            let node = require(r, m, "lands_at", "say where the message lands: a fact such as `client.locations`, a list of ids, `{intersection: [...]}`, `{union: [...]}` or `{rhai: ...}`")?;
            r.set_expr(node, 0)
        },
    );
    if let Some(rules) = &rules {
        require_catch_all(doc, rules, "rules", "messages");
    }
    let mut keywords = |key: &str| -> Vec<String> {
        yaml::get(top, key)
            .and_then(|n| doc.strings(n, &format!("`{key}`"), None))
            .map(|v| v.into_iter().map(|s| s.value.trim().to_uppercase()).collect())
            .unwrap_or_default()
    };
    let opt_out_keywords = keywords("opt_out_keywords");
    let opt_in_keywords = keywords("opt_in_keywords");
    Some(InboundPolicy {
        file: PolicyFile {
            path: doc.source.path.clone(),
            description,
            sandbox,
        },
        rules: FirstMatch::new(rules?),
        opt_out_keywords,
        opt_in_keywords,
    })
}

fn read_delivery(
    doc: &mut Doc,
    top: &MarkedMappingNode,
    ids: &mut Vec<(String, Pos)>,
    sandbox: Sandbox,
) -> Option<DeliveryPolicy> {
    const FILE_KEYS: &[&str] = &["policy", "description", "limits", "gates", "grants"];
    doc.check_keys(top, FILE_KEYS, "the delivery rules file", None);
    let description = file_description(doc, top);
    let gates = read_rules(
        doc,
        top,
        List {
            key: "gates",
            policy: PolicyKind::Delivery,
            outcome_keys: &[],
            file_keys: FILE_KEYS,
        },
        &sandbox,
        ids,
        |_, _| Some(()),
    );
    let grants = read_rules(
        doc,
        top,
        List {
            key: "grants",
            policy: PolicyKind::Delivery,
            outcome_keys: &[],
            file_keys: FILE_KEYS,
        },
        &sandbox,
        ids,
        |_, _| Some(()),
    );
    let (gates, grants) = (gates?, grants?);
    let is_access = |g: &Rule<()>| {
        matches!(&g.when, Cond::Test(t) if t.fact == Fact::RecipientAccess
            && matches!(&t.op, Op::SharesAnyWith(SetExpr::Fact(Fact::LandsAt))))
    };
    let is_live = |g: &Rule<()>| {
        matches!(&g.when, Cond::Test(t) if t.fact == Fact::RecipientLoggedIn
            && matches!(&t.op, Op::Bool(true)))
    };
    let access_gate = gates.iter().any(is_access);
    let live_gate = access_gate && gates.iter().any(is_live);
    let unindexed_gates = (0..gates.len())
        .filter(|&i| !(is_access(&gates[i]) || (live_gate && is_live(&gates[i]))))
        .collect();
    Some(DeliveryPolicy {
        file: PolicyFile {
            path: doc.source.path.clone(),
            description,
            sandbox,
        },
        gates,
        grants,
        access_gate,
        live_gate,
        unindexed_gates,
    })
}

fn read_outbound(
    doc: &mut Doc,
    top: &MarkedMappingNode,
    ids: &mut Vec<(String, Pos)>,
    sandbox: Sandbox,
) -> Option<OutboundPolicy> {
    const FILE_KEYS: &[&str] = &["policy", "description", "limits", "rules", "text"];
    doc.check_keys(top, FILE_KEYS, "the outbound rules file", None);
    let description = file_description(doc, top);
    let rules = read_rules(
        doc,
        top,
        List {
            key: "rules",
            policy: PolicyKind::Outbound,
            outcome_keys: &["channel", "ghost_text"],
            file_keys: FILE_KEYS,
        },
        &sandbox,
        ids,
        |r, m| {
            let subject = r.subject.clone();
            let ch = require(r, m, "channel", "give the channel: `push`, `sms`, `email` or `none`")?;
            let gt = require(r, m, "ghost_text", "give the text shown in the compose box")?;
            let mut choice = ChannelChoice {
                channel: Channel::None,
                ghost_text: String::new(),
                channel_script: None,
                ghost_text_script: None,
            };
            match script_of(ch) {
                Some(node) => choice.channel_script = Some(Box::new(r.script(node, Returns::Text)?)),
                None => {
                    let ch = r.doc.string(ch, "`channel`", Some(&subject))?;
                    choice.channel = match Channel::parse(&ch.value) {
                        Some(c) => c,
                        None => {
                            r.doc.error(
                                ch.pos,
                                Some(&subject),
                                format!("`{}` is not a channel", ch.value),
                                Some(format!(
                                    "a channel is {}, or `{{rhai: ...}}` giving one of them",
                                    one_of(CHANNEL_VALUES)
                                )),
                            );
                            return None;
                        }
                    };
                }
            }
            match script_of(gt) {
                Some(node) => choice.ghost_text_script = Some(Box::new(r.script(node, Returns::Text)?)),
                None => choice.ghost_text = r.doc.string(gt, "`ghost_text`", Some(&subject))?.value,
            }
            Some(choice)
        },
    );
    if let Some(rules) = &rules {
        require_catch_all(doc, rules, "rules", "clients");
    }
    let text = read_rules(
        doc,
        top,
        List {
            key: "text",
            policy: PolicyKind::Text,
            outcome_keys: &["text"],
            file_keys: FILE_KEYS,
        },
        &sandbox,
        ids,
        |r, m| {
            let subject = r.subject.clone();
            let node = require(r, m, "text", "give the message template, e.g. `\"{text}\"`")?;
            if let Some(script) = script_of(node) {
                return r
                    .script(script, Returns::Text)
                    .map(|sc| Template(vec![Piece::Script(Box::new(sc))]));
            }
            let s = r.doc.string(node, "`text`", Some(&subject))?;
            match parse_template(&s.value) {
                Ok(t) => Some(t),
                Err((offset, message, help)) => {
                    r.doc.error(s.pos.shifted(offset), Some(&subject), message, Some(help));
                    None
                }
            }
        },
    );
    if let Some(text) = &text {
        require_catch_all(doc, text, "text", "messages");
    }
    Some(OutboundPolicy {
        file: PolicyFile {
            path: doc.source.path.clone(),
            description,
            sandbox,
        },
        rules: FirstMatch::new(rules?),
        text: FirstMatch::new(text?),
    })
}

/// The script of an outcome written `{rhai: <script>}`, if it is one.
fn script_of(node: &Node) -> Option<&Node> {
    match node {
        Node::Mapping(map) if map.len() == 1 => yaml::get(map, "rhai"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_load() {
        let rules = RuleSet::shipped();
        assert_eq!(rules.inbound.rules.rules.len(), 9);
        assert_eq!(rules.outbound.rules.rules.len(), 4);
        assert!(rules.delivery.access_gate);
        assert!(rules.delivery.live_gate);
        assert!(rules.delivery.unindexed_gates.is_empty());
    }
}
