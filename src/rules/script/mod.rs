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
//!
//! This file holds the sandbox and running a compiled script. Compiling and
//! checking a script at load time is in `compile.rs`; the limits a script
//! runs under, and the size a script may have, are in `limits.rs`.

mod compile;
mod limits;

pub(crate) use compile::{CompileProblem, Returns};
pub use limits::Limits;

use std::cell::RefCell;

use rhai::{Array, Dynamic, Engine, ImmutableString, Map, Scope, AST};

use crate::rules::facts::{Ctx, Fact, Value};
use crate::rules::RuleError;
use crate::world::locset::LocSet;

/// The sandboxed engine shared by every script of a rule set.
pub(crate) struct Sandbox {
    engine: Engine,
    pub(crate) limits: Limits,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("limits", &self.limits).finish()
    }
}

/// The variables a script may name.
pub(crate) const ROOTS: &[&str] = &["conversation", "client", "staff", "recipient", "message", "sender"];

/// A compiled script and what it reads (built when the rules load).
#[derive(Debug, Clone)]
pub struct Script {
    ast: AST,
    pub(crate) source: String,
    /// The facts it reads, grouped by variable, in the order of [`ROOTS`].
    reads: Vec<(usize, Vec<Fact>)>,
}

/// What a script returned, before it is checked against what the rule needs.
pub(crate) type Output = Dynamic;

impl Sandbox {
    /// An engine configured with `limits`, with `eval` and printing switched off.
    pub(crate) fn new(limits: Limits) -> Sandbox {
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

    /// Runs a script on the facts of an event.
    pub(crate) fn run(&self, script: &Script, ctx: &Ctx) -> Result<Output, RuleError> {
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
            .map_err(|e| run_error(&e));
            scope.rewind(0);
            out
        })
    }

    /// The facts a script read and their values, for explanations.
    pub(crate) fn reads(&self, script: &Script, ctx: &Ctx) -> Vec<(&'static str, String)> {
        script
            .reads
            .iter()
            .flat_map(|(_, facts)| facts.iter())
            .map(|f| (f.name(), ctx.value(*f).show(ctx.world)))
            .collect()
    }
}

/// Reads a script's result as a yes/no.
pub(crate) fn as_bool(out: &Output) -> Result<bool, RuleError> {
    out.as_bool().map_err(|gave| RuleError::NotBool { gave })
}

/// Reads a script's result as a set of location ids (a list, one id, or `()`).
pub(crate) fn as_locations(out: Output, ctx: &Ctx) -> Result<LocSet, RuleError> {
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
            return Err(RuleError::NotLocationId { gave: id.type_name() });
        };
        match ctx.world.location(&s) {
            Some(l) => set.insert(l),
            None => return Err(RuleError::NotALocation { id: s.to_string() }),
        }
    }
    Ok(set)
}

fn to_dynamic(v: &Value, ctx: &Ctx) -> Dynamic {
    match v {
        Value::Bool(b) => Dynamic::from(*b),
        Value::Word(w) => Dynamic::from(ImmutableString::from(*w)),
        Value::Location(None) | Value::Account(None) => Dynamic::UNIT,
        Value::Location(Some(l)) => Dynamic::from(ctx.world.script_loc_id(*l)),
        Value::Set(s) => Dynamic::from_array(s.iter().map(|l| Dynamic::from(ctx.world.script_loc_id(l))).collect()),
        Value::Account(Some(a)) => Dynamic::from(ImmutableString::from(ctx.world.accounts[*a as usize].id.as_str())),
        Value::Text(t) => Dynamic::from(ImmutableString::from(t.as_str())),
    }
}

/// What stopped a script, as this crate's error.
fn run_error(e: &rhai::EvalAltResult) -> RuleError {
    use rhai::EvalAltResult as E;
    match e {
        E::ErrorTooManyOperations(_) => RuleError::TooManyOperations,
        E::ErrorStackOverflow(_) => RuleError::TooDeep,
        E::ErrorDataTooLarge(what, _) => RuleError::TooLarge {
            what: lowercase_first(what),
        },
        E::ErrorTooManyVariables(_) => RuleError::TooManyVariables,
        E::ErrorSystem(what, _) => RuleError::EngineFailed { what: what.clone() },
        other => RuleError::Script {
            message: lowercase_first(&other.to_string()),
        },
    }
}

pub(super) fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}
