//! The one sandboxed Rhai engine, for rules the declarative vocabulary cannot say.
//!
//! A rule may give a condition or an outcome as `rhai: <script>`. Scripts are
//! compiled once when the rules load, with strict variables (an unknown name is
//! a load error with its position) and a check that every property read exists
//! (`client.locatons` is a load error too). They run in a sandbox: bounded
//! operations, call depth, expression depth, string, array and map sizes, no
//! `eval`, no modules, no printing, and nothing that reaches files, the
//! environment or the network (Rhai has no such functions unless a host adds
//! them, and this host adds none).
//!
//! A script sees the facts of its policy as object maps named after the fact
//! prefixes: `conversation`, `client`, `staff`, `recipient`, `message`,
//! `sender`. Locations are their ids (strings), sets are arrays of ids, a
//! missing location or account is `()`.

use std::cell::RefCell;

use rhai::{Array, Dynamic, Engine, ImmutableString, Map, Scope, AST};

use crate::rules::facts::{Ctx, Fact, PolicyKind, Value};
use crate::world::locset::LocSet;

/// Limits every script runs under. Rules files may lower or raise them within
/// [`Limits::CEILING`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_operations: 10_000,
        max_call_levels: 16,
        max_expr_depth: 32,
        max_string_size: 4_096,
        max_array_size: 1_024,
        max_map_size: 256,
    };
    /// The highest value a rules file may set for each limit.
    pub const CEILING: Limits = Limits {
        max_operations: 1_000_000,
        max_call_levels: 64,
        max_expr_depth: 128,
        max_string_size: 65_536,
        max_array_size: 65_536,
        max_map_size: 4_096,
    };

    /// The most a file's limits may let one script evaluation fill, in bytes
    /// (see [`Limits::worst_case_bytes`]): 1 GiB.
    pub const MAX_WORST_CASE_BYTES: u64 = 1 << 30;

    /// A bound on the memory one evaluation can fill, in bytes: every
    /// operation storing a new copy of the largest value a script may build
    /// (a string of `max_string_size` bytes, an array of `max_array_size`
    /// 16-byte values, a map of `max_map_size` entries of about 64 bytes).
    /// Rhai checks the size of each value, but not of a map or array that
    /// grows by index assignment, so operations times value size is the
    /// bound. The same product bounds the time of operations that walk a
    /// whole value (sorting, searching, copying).
    pub fn worst_case_bytes(&self) -> u64 {
        let value = self.max_string_size as u64 + 16 * self.max_array_size as u64 + 64 * self.max_map_size as u64;
        self.max_operations.saturating_mul(value)
    }

    /// The limits by name, for loading and documentation.
    pub fn fields(&self) -> [(&'static str, u64); 6] {
        [
            ("max_operations", self.max_operations),
            ("max_call_levels", self.max_call_levels as u64),
            ("max_expr_depth", self.max_expr_depth as u64),
            ("max_string_size", self.max_string_size as u64),
            ("max_array_size", self.max_array_size as u64),
            ("max_map_size", self.max_map_size as u64),
        ]
    }

    pub fn set(&mut self, name: &str, value: u64) -> bool {
        match name {
            "max_operations" => self.max_operations = value,
            "max_call_levels" => self.max_call_levels = value as usize,
            "max_expr_depth" => self.max_expr_depth = value as usize,
            "max_string_size" => self.max_string_size = value as usize,
            "max_array_size" => self.max_array_size = value as usize,
            "max_map_size" => self.max_map_size = value as usize,
            _ => return false,
        }
        true
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The sandboxed engine shared by every script of a rule set.
pub struct Sandbox {
    engine: Engine,
    pub limits: Limits,
}

/// What one script may contain, so that loading stays fast whatever a rules
/// file holds. Rhai's parser takes time that grows with the square of some
/// counts (the arms of a `switch`, the names declared: `let`, `const`,
/// parameters), and linearly with the text; these bounds are checked on the
/// tokens before the script is compiled, Rhai's own compile-time limits
/// (expression depth, string, array and map literals, functions) do the
/// rest, and a rules file is at most [`crate::rules::MAX_RULES_FILE_SIZE`].
pub struct Size;

impl Size {
    /// The longest script, in bytes.
    pub const MAX_SCRIPT_BYTES: usize = 16 * 1024;
    /// The most names one script may declare (`let`, `const`, `for` and
    /// `catch` variables, function and closure parameters).
    pub const MAX_DECLARATIONS: usize = 128;
    /// The most arms of `switch` one script may have.
    pub const MAX_SWITCH_ARMS: usize = 256;
}

/// Counts what [`Size`] bounds in a script, with Rhai's own tokenizer (so
/// comments, strings and the code inside `${...}` are read exactly as the
/// compiler reads them); `Err` names the first bound it passes, where.
fn check_size(engine: &Engine, src: &str) -> Result<(), CompileProblem> {
    use rhai::Token;
    let too_much = |pos: rhai::Position, message: String, help: &str| CompileProblem {
        line: pos.line().unwrap_or(1),
        col: pos.position().unwrap_or(1),
        message,
        help: Some(help.to_owned()),
    };
    if src.len() > Size::MAX_SCRIPT_BYTES {
        return Err(too_much(
            rhai::Position::new(1, 1),
            format!(
                "the script is {} bytes long, more than the {} a script may have",
                src.len(),
                Size::MAX_SCRIPT_BYTES
            ),
            "say it with declarative conditions, or split it across rules",
        ));
    }
    let inputs = [src];
    let (tokens, control) = engine.lex(&inputs);
    let (mut declarations, mut arms) = (0usize, 0usize);
    // Where the parameters of `fn name(...)` or of a closure `|...|` are read.
    let mut params: Option<Token> = None;
    // `fn`, then its name: a `(` next opens its parameters.
    let mut fn_name = 0u8;
    // Whether the token before ended an operand: a `|` after one is `or`,
    // anywhere else it opens a closure's parameters.
    let mut after_operand = false;
    // The brace depths at which `${` interpolations close.
    let mut interpolations: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    for (token, pos) in tokens {
        let declares = match &token {
            Token::EOF | Token::LexError(_) => break,
            Token::Let | Token::Const | Token::For | Token::Catch => true,
            Token::Identifier(_) => params.is_some(),
            _ => false,
        };
        if declares {
            declarations += 1;
            if declarations > Size::MAX_DECLARATIONS {
                return Err(too_much(
                    pos,
                    format!("the script declares more than {} names", Size::MAX_DECLARATIONS),
                    "`let`, `const`, `for`, `catch` and each parameter declare a name; use fewer variables",
                ));
            }
        }
        fn_name = match (&token, fn_name) {
            (Token::Fn, _) => 1,
            (Token::Identifier(_), 1) => 2,
            (Token::LeftParen, 2) => {
                params = Some(Token::RightParen);
                0
            }
            _ => 0,
        };
        match &token {
            Token::DoubleArrow => {
                arms += 1;
                if arms > Size::MAX_SWITCH_ARMS {
                    return Err(too_much(
                        pos,
                        format!("the script has more than {} `switch` arms", Size::MAX_SWITCH_ARMS),
                        "a long list of values can be an array: `[\"a\", \"b\"].contains(client.account)`",
                    ));
                }
            }
            t if params.as_ref() == Some(t) => params = None,
            Token::Pipe if params.is_none() && !after_operand => params = Some(Token::Pipe),
            Token::InterpolatedString(_) => interpolations.push(braces),
            Token::LeftBrace => braces += 1,
            Token::RightBrace => {
                braces = braces.saturating_sub(1);
                if interpolations.last() == Some(&braces) {
                    // The interpolation ends: what follows is text again.
                    interpolations.pop();
                    control.borrow_mut().is_within_text = true;
                }
            }
            _ => {}
        }
        after_operand = matches!(
            token,
            Token::Identifier(_)
                | Token::IntegerConstant(_)
                | Token::CharConstant(_)
                | Token::StringConstant(_)
                | Token::True
                | Token::False
                | Token::Unit
                | Token::RightParen
                | Token::RightBracket
        );
    }
    Ok(())
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("limits", &self.limits).finish()
    }
}

/// The variables a script may name.
pub const ROOTS: &[&str] = &["conversation", "client", "staff", "recipient", "message", "sender"];

/// A compiled script and what it reads.
#[derive(Debug, Clone)]
pub struct Script {
    ast: AST,
    pub source: String,
    /// The facts it reads, grouped by variable, in the order of [`ROOTS`].
    reads: Vec<(usize, Vec<Fact>)>,
}

/// A problem found while compiling a script: where in the script, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileProblem {
    /// 1-based line and column inside the script text.
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub help: Option<String>,
}

/// What a script returned, before it is checked against what the rule needs.
pub type Output = Dynamic;

/// What a script must give, by where it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// A condition: `true` or `false`.
    Bool,
    /// Locations: an id, a list of ids, or `()` for none.
    Locations,
    /// A channel's name, a ghost text or a message text.
    Text,
}

impl Returns {
    fn allows(self, kind: Kind) -> bool {
        match self {
            Returns::Bool => kind == Kind::Bool,
            Returns::Locations => matches!(kind, Kind::Text | Kind::Array | Kind::Unit),
            Returns::Text => kind == Kind::Text,
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
enum Kind {
    Bool,
    Int,
    Char,
    Text,
    Array,
    Map,
    Unit,
}

impl Kind {
    fn of(d: &Dynamic) -> Option<Kind> {
        Some(if d.is_bool() {
            Kind::Bool
        } else if d.is_int() {
            Kind::Int
        } else if d.is_char() {
            Kind::Char
        } else if d.is_string() {
            Kind::Text
        } else if d.is_array() {
            Kind::Array
        } else if d.is_map() {
            Kind::Map
        } else if d.is_unit() {
            Kind::Unit
        } else {
            return None;
        })
    }

    fn a_name(self) -> &'static str {
        match self {
            Kind::Bool => "`true` or `false`",
            Kind::Int => "a number",
            Kind::Char => "a character",
            Kind::Text => "a string",
            Kind::Array => "a list",
            Kind::Map => "a map",
            Kind::Unit => "nothing (`()`)",
        }
    }
}

/// Every value a compiled script can give whose kind is known at load, with
/// where it is written. Values only known when the script runs (a variable,
/// a function call) are left out: those are checked when the script runs.
fn results(ast: &AST) -> Vec<(Kind, rhai::Position)> {
    let mut out = Vec::new();
    block_results(ast.statements(), rhai::Position::new(1, 1), &mut out);
    out
}

/// What a block gives: the value of its last statement, `()` when empty.
fn block_results(stmts: &[rhai::Stmt], at: rhai::Position, out: &mut Vec<(Kind, rhai::Position)>) {
    use rhai::Stmt;
    let Some(last) = stmts.last() else {
        out.push((Kind::Unit, at));
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
        Stmt::Var(_, _, pos) => out.push((Kind::Unit, *pos)),
        Stmt::Assignment(a) => out.push((Kind::Unit, a.0.position())),
        Stmt::Return(Some(e), _, _) => expr_results(e, out),
        Stmt::Return(None, _, pos) => out.push((Kind::Unit, *pos)),
        _ => {}
    }
}

fn expr_results(e: &rhai::Expr, out: &mut Vec<(Kind, rhai::Position)>) {
    use rhai::Expr;
    let kind = match e {
        Expr::BoolConstant(..) | Expr::And(..) | Expr::Or(..) => Kind::Bool,
        Expr::IntegerConstant(..) => Kind::Int,
        Expr::CharConstant(..) => Kind::Char,
        Expr::StringConstant(..) | Expr::InterpolatedString(..) => Kind::Text,
        Expr::Array(..) => Kind::Array,
        Expr::Map(..) => Kind::Map,
        Expr::Unit(..) => Kind::Unit,
        Expr::DynamicConstant(d, _) => match Kind::of(d) {
            Some(k) => k,
            None => return,
        },
        Expr::Stmt(b) => return block_results(b.statements(), b.position(), out),
        _ => return,
    };
    out.push((kind, e.position()));
}

impl Sandbox {
    pub fn new(limits: Limits) -> Sandbox {
        let mut engine = Engine::new();
        engine
            .set_strict_variables(true)
            .set_fail_on_invalid_map_property(true)
            .set_max_operations(limits.max_operations)
            .set_max_call_levels(limits.max_call_levels)
            .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
            .set_max_string_size(limits.max_string_size)
            .set_max_array_size(limits.max_array_size)
            .set_max_map_size(limits.max_map_size)
            .set_max_variables(256)
            .set_max_functions(64);
        engine.disable_symbol("eval");
        engine.on_print(|_| {});
        engine.on_debug(|_, _, _| {});
        Sandbox { engine, limits }
    }

    /// Compiles a script for a policy: unknown variables and properties, and
    /// facts the policy cannot read, are reported with their position.
    ///
    /// A script that gives a value `returns` does not allow, where the
    /// compiled script itself says so (`"yes"` as a condition, an `if`
    /// without `else`), is refused with the position of that value; values
    /// known only when it runs are checked then.
    pub fn compile(&self, source: &str, policy: PolicyKind, returns: Returns) -> Result<Script, CompileProblem> {
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
        Ok(Script {
            ast,
            source: source.to_owned(),
            reads,
        })
    }

    /// Runs a script on the facts of an event.
    pub fn run(&self, script: &Script, ctx: &Ctx) -> Result<Output, String> {
        thread_local! {
            static SCOPE: RefCell<Scope<'static>> = RefCell::new(Scope::new());
        }
        SCOPE.with(|cell| {
            let mut scope = cell.borrow_mut();
            scope.rewind(0);
            for (root, facts) in &script.reads {
                let mut map = Map::new();
                for f in facts {
                    let prop = &f.name()[ROOTS[*root].len() + 1..];
                    map.insert(prop.into(), to_dynamic(&ctx.value(*f), ctx));
                }
                scope.push(ROOTS[*root], map);
            }
            // Rhai is not ours: a panic inside it becomes this rule's error
            // instead of ending the process.
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.engine.eval_ast_with_scope::<Dynamic>(&mut scope, &script.ast)
            }))
            .unwrap_or_else(|_| {
                Err(Box::new(rhai::EvalAltResult::ErrorSystem(
                    "the script engine failed on this script".into(),
                    "a panic inside Rhai".into(),
                )))
            })
            .map_err(|e| describe_eval_error(&e));
            scope.rewind(0);
            out
        })
    }

    /// The facts a script read and their values, for explanations.
    pub fn reads(&self, script: &Script, ctx: &Ctx) -> Vec<(&'static str, String)> {
        script
            .reads
            .iter()
            .flat_map(|(_, facts)| facts.iter())
            .map(|f| (f.name(), ctx.value(*f).show(ctx.world)))
            .collect()
    }
}

/// Reads a script's result as a yes/no.
pub fn as_bool(out: &Output) -> Result<bool, String> {
    out.as_bool()
        .map_err(|t| format!("the script gave a {t}, but a condition must give `true` or `false`"))
}

/// Reads a script's result as a set of location ids (a list, one id, or `()`).
pub fn as_locations(out: Output, ctx: &Ctx) -> Result<LocSet, String> {
    let ids: Vec<Dynamic> = if out.is_unit() {
        Vec::new()
    } else if out.is_array() {
        out.cast::<Array>()
    } else {
        vec![out]
    };
    let mut set = LocSet::new();
    for id in ids {
        let Some(s) = id.clone().try_cast::<ImmutableString>() else {
            return Err(format!(
                "the script gave a {}, but locations must be given as ids (strings)",
                id.type_name()
            ));
        };
        match ctx.world.location(&s) {
            Some(l) => set.insert(l),
            None => return Err(format!("the script gave `{s}`, which is not a location of this world")),
        }
    }
    Ok(set)
}

fn to_dynamic(v: &Value, ctx: &Ctx) -> Dynamic {
    match v {
        Value::Bool(b) => Dynamic::from(*b),
        Value::Word(w) => Dynamic::from(ImmutableString::from(*w)),
        Value::Location(None) | Value::Account(None) => Dynamic::UNIT,
        Value::Location(Some(l)) => Dynamic::from(ImmutableString::from(ctx.world.loc_id(*l))),
        Value::Set(s) => Dynamic::from_array(
            s.iter()
                .map(|l| Dynamic::from(ImmutableString::from(ctx.world.loc_id(l))))
                .collect(),
        ),
        Value::Account(Some(a)) => Dynamic::from(ImmutableString::from(ctx.world.accounts[*a as usize].id.as_str())),
        Value::Text(t) => Dynamic::from(ImmutableString::from(t.as_str())),
    }
}

fn describe_eval_error(e: &rhai::EvalAltResult) -> String {
    use rhai::EvalAltResult as E;
    match e {
        E::ErrorTooManyOperations(_) => "the script ran too long (it exceeded `max_operations`)".into(),
        E::ErrorStackOverflow(_) => "the script recursed too deeply (it exceeded `max_call_levels`)".into(),
        E::ErrorDataTooLarge(what, _) => {
            format!(
                "the script built a value too large ({} over its limit)",
                lowercase_first(what)
            )
        }
        E::ErrorTooManyVariables(_) => "the script declared too many variables".into(),
        E::ErrorSystem(what, _) => what.clone(),
        other => lowercase_first(&other.to_string()),
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
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
    fn the_defaults_are_within_the_worst_case_bound_and_the_ceilings_together_are_not() {
        assert_eq!(Limits::DEFAULT.worst_case_bytes(), 368_640_000);
        assert!(Limits::DEFAULT.worst_case_bytes() <= Limits::MAX_WORST_CASE_BYTES);
        assert!(Limits::CEILING.worst_case_bytes() > 1_000 * Limits::MAX_WORST_CASE_BYTES);
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
