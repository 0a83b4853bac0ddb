//! Compiling a script when the rules load: Rhai's parser under the sandbox's
//! settings, then the checks that make a script fail at load rather than
//! while deciding: every variable and property it reads exists and may be
//! read by its policy, and every value whose kind the script itself says is
//! one its rule can use. Running a compiled script is in `mod.rs`.

use rhai::{Dynamic, Map, Scope, AST};

use crate::rules::facts::{Fact, PolicyKind};
use crate::rules::script::limits::check_size;
use crate::rules::script::{lowercase_first, Sandbox, Script, ROOTS};

/// A problem found while compiling a script: where in the script, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompileProblem {
    /// 1-based line and column inside the script text.
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

/// What a script must give, by where it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returns {
    /// A condition: `true` or `false`.
    Bool,
    /// Locations: an id, a list of ids, or `()` for none.
    Locations,
    /// A channel's name, a ghost text or a message text.
    Text,
}

impl Returns {
    fn allows(self, kind: ValueKind) -> bool {
        match self {
            Returns::Bool => kind == ValueKind::Bool,
            Returns::Locations => matches!(kind, ValueKind::Text | ValueKind::Array | ValueKind::Unit),
            Returns::Text => kind == ValueKind::Text,
        }
    }

    fn needs(self) -> &'static str {
        match self {
            Returns::Bool => "a condition must give `true` or `false`",
            Returns::Locations => "locations are given as an id, a list of ids, or `()` for none",
            Returns::Text => "it must give a string",
        }
    }
}

/// The kind of a value a compiled script gives, where the script itself
/// says it (a literal, a comparison, an `if` whose branches are literals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Bool,
    Int,
    Char,
    Text,
    Array,
    Map,
    Unit,
}

impl ValueKind {
    fn of(d: &Dynamic) -> Option<ValueKind> {
        Some(if d.is_bool() {
            ValueKind::Bool
        } else if d.is_int() {
            ValueKind::Int
        } else if d.is_char() {
            ValueKind::Char
        } else if d.is_string() {
            ValueKind::Text
        } else if d.is_array() {
            ValueKind::Array
        } else if d.is_map() {
            ValueKind::Map
        } else if d.is_unit() {
            ValueKind::Unit
        } else {
            return None;
        })
    }

    fn a_name(self) -> &'static str {
        match self {
            ValueKind::Bool => "`true` or `false`",
            ValueKind::Int => "a number",
            ValueKind::Char => "a character",
            ValueKind::Text => "a string",
            ValueKind::Array => "a list",
            ValueKind::Map => "a map",
            ValueKind::Unit => "nothing (`()`)",
        }
    }
}

/// Every value a compiled script can give whose kind is known at load, with
/// where it is written. Values only known when the script runs (a variable,
/// a function call) are left out: those are checked when the script runs.
fn results(ast: &AST) -> Vec<(ValueKind, rhai::Position)> {
    let mut out = Vec::new();
    block_results(ast.statements(), rhai::Position::new(1, 1), &mut out);
    out
}

/// What a block gives: the value of its last statement, `()` when empty.
fn block_results(stmts: &[rhai::Stmt], at: rhai::Position, out: &mut Vec<(ValueKind, rhai::Position)>) {
    use rhai::Stmt;
    let Some(last) = stmts.last() else {
        out.push((ValueKind::Unit, at));
        return;
    };
    match last {
        Stmt::Expr(e) => expr_results(e, out),
        Stmt::If(flow, pos) => {
            block_results(flow.body.statements(), flow.body.position().or_else(*pos), out);
            // No `else`: the `if` gives `()` when its condition does not hold.
            block_results(flow.branch.statements(), flow.branch.position().or_else(*pos), out);
        }
        Stmt::Block(b) => block_results(b.statements(), b.position().or_else(at), out),
        Stmt::Switch(sw, _) => {
            for arm in &sw.1.expressions {
                expr_results(&arm.rhs, out);
            }
        }
        Stmt::Var(_, _, pos) => out.push((ValueKind::Unit, *pos)),
        Stmt::Assignment(a) => out.push((ValueKind::Unit, a.0.position())),
        Stmt::Return(Some(e), _, _) => expr_results(e, out),
        Stmt::Return(None, _, pos) => out.push((ValueKind::Unit, *pos)),
        _ => {}
    }
}

fn expr_results(e: &rhai::Expr, out: &mut Vec<(ValueKind, rhai::Position)>) {
    use rhai::Expr;
    let kind = match e {
        Expr::BoolConstant(..) | Expr::And(..) | Expr::Or(..) => ValueKind::Bool,
        Expr::IntegerConstant(..) => ValueKind::Int,
        Expr::CharConstant(..) => ValueKind::Char,
        Expr::StringConstant(..) | Expr::InterpolatedString(..) => ValueKind::Text,
        Expr::Array(..) => ValueKind::Array,
        Expr::Map(..) => ValueKind::Map,
        Expr::Unit(..) => ValueKind::Unit,
        Expr::DynamicConstant(d, _) => match ValueKind::of(d) {
            Some(k) => k,
            None => return,
        },
        Expr::Stmt(b) => return block_results(b.statements(), b.position(), out),
        _ => return,
    };
    out.push((kind, e.position()));
}

impl Sandbox {
    /// Compiles a script for a policy: unknown variables and properties, and
    /// facts the policy cannot read, are reported with their position.
    ///
    /// A script that gives a value `returns` does not allow, where the
    /// compiled script itself says so (`"yes"` as a condition, an `if`
    /// without `else`), is refused with the position of that value; values
    /// known only when it runs are checked then.
    pub(crate) fn compile(&self, source: &str, policy: PolicyKind, returns: Returns) -> Result<Script, CompileProblem> {
        check_size(&self.engine, source)?;
        let mut scope = Scope::new();
        for root in ROOTS {
            // Plain variables, not constants: the optimiser would fold constants.
            scope.push(*root, Map::new());
        }
        let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.engine.compile_with_scope(&scope, source)
        }))
        .map_err(|_| CompileProblem {
            line: 1,
            col: 1,
            message: "the script engine failed on this script".into(),
            help: Some("simplify the script".into()),
        })?;
        let ast = compiled.map_err(|e| {
            let pos = e.position();
            let help = match &*e.0 {
                rhai::ParseErrorType::VariableUndefined(_) => {
                    Some(format!("scripts can read {}", crate::diag::one_of(ROOTS)))
                }
                _ => None,
            };
            CompileProblem {
                line: pos.line().unwrap_or(1),
                col: pos.position().unwrap_or(1),
                message: lowercase_first(&e.0.to_string()),
                help,
            }
        })?;
        if let Some((kind, pos)) = results(&ast).into_iter().find(|(k, _)| !returns.allows(*k)) {
            return Err(CompileProblem {
                line: pos.line().unwrap_or(1),
                col: pos.position().unwrap_or(1),
                message: format!("it gives {} here, but {}", kind.a_name(), returns.needs()),
                help: Some(match returns {
                    Returns::Bool => {
                        "end it with a test such as `client.locations.len() > 1`, and give every `if` an `else`".into()
                    }
                    Returns::Locations => "e.g. `client.last_appointment` or `[\"A\", \"B\"]`".into(),
                    Returns::Text => "e.g. `\"push\"` or `message.text.to_upper()`".into(),
                }),
            });
        }
        let reads = fact_reads(source, policy)?;
        Ok(Script {
            ast,
            source: source.to_owned(),
            reads,
            state: Default::default(),
        })
    }
}

/// The facts a script reads, grouped by variable in the order of [`ROOTS`];
/// `Err` for the first property that does not exist or that the policy
/// cannot read, with its position in the script.
fn fact_reads(source: &str, policy: PolicyKind) -> Result<Vec<(usize, Vec<Fact>)>, CompileProblem> {
    let mut reads: Vec<(usize, Vec<Fact>)> = Vec::new();
    for r in property_reads(source) {
        let root = ROOTS
            .iter()
            .position(|x| *x == r.root)
            .expect("scanner only yields roots");
        let facts: Vec<Fact> = match &r.property {
            Some(prop) => {
                let name = format!("{}.{}", r.root, prop);
                match Fact::by_name(&name) {
                    Some(f) if f.readable_in(policy) => vec![f],
                    found => {
                        let known: Vec<&str> = Fact::names_for(policy)
                            .into_iter()
                            .filter(|n| n.starts_with(&format!("{}.", r.root)))
                            .collect();
                        let message = match found {
                            Some(_) => format!("`{name}` cannot be read by {} rules", policy.name()),
                            None => format!("unknown property `{name}`"),
                        };
                        let help = match crate::diag::did_you_mean(&name, known.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None if known.is_empty() => {
                                format!("{} rules cannot read `{}`", policy.name(), r.root)
                            }
                            None => format!("`{}` has {}", r.root, crate::diag::one_of(&known)),
                        };
                        return Err(CompileProblem {
                            line: r.line,
                            col: r.col,
                            message,
                            help: Some(help),
                        });
                    }
                }
            }
            // The whole map is used: give it every fact the policy may read.
            None => Fact::ALL
                .iter()
                .copied()
                .filter(|f| f.readable_in(policy) && f.name().split('.').next() == Some(r.root))
                .collect(),
        };
        match reads.iter_mut().find(|(i, _)| *i == root) {
            Some((_, list)) => {
                for f in facts {
                    if !list.contains(&f) {
                        list.push(f);
                    }
                }
            }
            None => reads.push((root, facts)),
        }
    }
    reads.sort_by_key(|(i, _)| *i);
    Ok(reads)
}

/// A `root.property` (or a bare `root`) found in a script's text.
#[derive(Debug, PartialEq, Eq)]
struct PropertyRead {
    root: &'static str,
    property: Option<String>,
    line: usize,
    col: usize,
}

/// Scans a script for reads of the context variables, skipping strings and
/// comments, so property typos are caught at load time with a position.
fn property_reads(src: &str) -> Vec<PropertyRead> {
    let mut sc = Scanner {
        chars: src.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    let mut prev_significant: Option<char> = None;
    while let Some(c) = sc.peek(0) {
        if c == '/' && sc.peek(1) == Some('/') {
            while sc.peek(0).is_some_and(|c| c != '\n') {
                sc.bump();
            }
            continue;
        }
        if c == '/' && sc.peek(1) == Some('*') {
            sc.bump();
            sc.bump();
            while sc.peek(0).is_some() && !(sc.peek(0) == Some('*') && sc.peek(1) == Some('/')) {
                sc.bump();
            }
            sc.bump();
            sc.bump();
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            sc.bump();
            while let Some(d) = sc.peek(0) {
                if d == c {
                    break;
                }
                if d == '\\' {
                    sc.bump();
                }
                sc.bump();
            }
            sc.bump();
            prev_significant = Some(c);
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let (start, sline, scol) = (sc.i, sc.line, sc.col);
            while sc.peek(0).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                sc.bump();
            }
            let word: String = sc.chars[start..sc.i].iter().collect();
            // `x.client` is a property named client, not the variable.
            let is_property = prev_significant == Some('.');
            if let (false, Some(root)) = (is_property, ROOTS.iter().find(|r| **r == word)) {
                let chars = &sc.chars;
                let mut j = sc.i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let mut property = None;
                if j < chars.len() && (chars[j] == '.' || (chars[j] == '?' && chars.get(j + 1) == Some(&'.'))) {
                    j += if chars[j] == '?' { 2 } else { 1 };
                    while j < chars.len() && chars[j].is_whitespace() {
                        j += 1;
                    }
                    let ps = j;
                    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                        j += 1;
                    }
                    if j > ps {
                        property = Some(chars[ps..j].iter().collect());
                    }
                }
                out.push(PropertyRead {
                    root,
                    property,
                    line: sline,
                    col: scol,
                });
            }
            prev_significant = Some('a');
            continue;
        }
        if !c.is_whitespace() {
            prev_significant = Some(c);
        }
        sc.bump();
    }
    out
}

struct Scanner {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
}

impl Scanner {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek(0) {
            self.i += 1;
            if c == '\n' {
                self.line += 1;
                self.col = 1;
            } else {
                self.col += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::script::Limits;

    #[test]
    fn scanner_finds_reads_outside_strings_and_comments() {
        let reads =
            property_reads("client.locations.len() > 1 // staff.nope\n && \"client.x\" != conversation . started_by");
        let names: Vec<(String, usize, usize)> = reads
            .iter()
            .map(|r| {
                (
                    format!("{}.{}", r.root, r.property.clone().unwrap_or_default()),
                    r.line,
                    r.col,
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("client.locations".into(), 1, 1),
                ("conversation.started_by".into(), 2, 19)
            ]
        );
    }

    #[test]
    fn typos_fail_at_compile_time_with_a_position() {
        let sb = Sandbox::new(Limits::DEFAULT);
        let e = sb
            .compile("client.locatons.len() >= 2", PolicyKind::Inbound, Returns::Bool)
            .unwrap_err();
        assert_eq!((e.line, e.col), (1, 1));
        assert_eq!(e.message, "unknown property `client.locatons`");
        assert_eq!(e.help.as_deref(), Some("did you mean `client.locations`?"));
        let e = sb
            .compile("x && clent.guest_app", PolicyKind::Inbound, Returns::Bool)
            .unwrap_err();
        assert!(e.message.contains("undefined variable"), "{e:?}");
        let e = sb
            .compile("recipient.logged_in", PolicyKind::Inbound, Returns::Bool)
            .unwrap_err();
        assert!(e.message.contains("cannot be read by inbound rules"), "{e:?}");
    }

    #[test]
    fn what_a_script_gives_is_checked_at_load_where_the_script_says_it() {
        let sb = Sandbox::new(Limits::DEFAULT);
        let gives = |src: &str, returns: Returns| {
            sb.compile(src, PolicyKind::Inbound, returns)
                .map(|_| ())
                .map_err(|e| (e.message, e.line, e.col))
        };
        let refused = |src: &str, returns: Returns| gives(src, returns).unwrap_err();
        // Literals, and every branch of an `if`, are known at load.
        assert_eq!(
            refused("\"yes\"", Returns::Bool).0,
            "it gives a string here, but a condition must give `true` or `false`"
        );
        assert_eq!(
            refused("if client.global { true } else { \"no\" }", Returns::Bool),
            (
                "it gives a string here, but a condition must give `true` or `false`".into(),
                1,
                34
            )
        );
        assert_eq!(
            refused("if client.global {\n  true\n}", Returns::Bool),
            (
                "it gives nothing (`()`) here, but a condition must give `true` or `false`".into(),
                1,
                1
            )
        );
        assert!(refused("", Returns::Bool).0.contains("nothing (`()`)"));
        assert!(refused("let x = client.global;", Returns::Bool).0.contains("nothing"));
        assert!(
            refused("switch client.account { \"a\" => true, _ => 0 }", Returns::Bool)
                .0
                .contains("a number")
        );
        assert!(refused("[1]", Returns::Text).0.contains("a list"));
        assert!(refused("7", Returns::Locations).0.contains("a number"));
        // What only running tells is checked when it runs.
        for ok in [
            "client.global",
            "client.locations.len() > 1 && !client.guest_app",
            "let x = client.global; x",
            "if client.global { true } else { client.guest_app }",
            "switch client.account { \"a\" => true, _ => false }",
        ] {
            assert_eq!(gives(ok, Returns::Bool), Ok(()), "{ok}");
        }
        for ok in ["\"A\"", "[\"A\", \"B\"]", "()", "client.locations"] {
            assert_eq!(gives(ok, Returns::Locations), Ok(()), "{ok}");
        }
        assert_eq!(gives("`${message.text}!`", Returns::Text), Ok(()));
    }

    #[test]
    fn eval_is_disabled() {
        let sb = Sandbox::new(Limits::DEFAULT);
        assert!(sb.compile("eval(\"1\")", PolicyKind::Inbound, Returns::Bool).is_err());
    }
}
