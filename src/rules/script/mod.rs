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
    /// Each thread's variables and function cache for this script.
    state: PerThread,
}

/// A script's [`RunState`] on each thread that ran it, dropped with the
/// script (a reloaded rule set does not leave its scripts' states behind).
#[derive(Default)]
pub(crate) struct PerThread(thread_local::ThreadLocal<RefCell<RunState>>);

impl Clone for PerThread {
    /// A copy of a script starts with no state of its own.
    fn clone(&self) -> Self {
        PerThread::default()
    }
}

impl std::fmt::Debug for PerThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PerThread")
    }
}

/// What one thread keeps between runs of one script: the root variables
/// (one object map per root, holding exactly the properties the script
/// reads) and Rhai's function resolution cache.
///
/// Before a run, [`RunState::set`] writes the event's values into the maps
/// in place. A script may have changed its variables (reassigned a root,
/// added or removed a property, pushed to a list): every value it reads is
/// written again, and a map whose shape is not exactly the expected one is
/// built anew, so a run never sees what an earlier run left.
pub(crate) struct RunState {
    scope: Scope<'static>,
    caches: rhai::Caches,
}

impl RunState {
    fn new() -> RunState {
        RunState {
            scope: Scope::new(),
            caches: rhai::Caches::new(),
        }
    }

    /// Puts the values of `ctx` into the root variables of `script`.
    fn set(&mut self, script: &Script, ctx: &Ctx) {
        if self.scope.len() != script.reads.len() || !self.update(script, ctx) {
            self.scope.clear();
            for (root, facts) in &script.reads {
                let mut map = Map::new();
                for f in facts {
                    map.insert(prop(*root, *f).into(), to_dynamic(&ctx.value(*f), ctx));
                }
                self.scope.push(ROOTS[*root], map);
            }
        }
    }

    /// Writes the values into the maps already there; false when one of
    /// them is not a map of exactly the script's properties.
    fn update(&mut self, script: &Script, ctx: &Ctx) -> bool {
        for (root, facts) in &script.reads {
            let Some(map) = self.scope.get_value_mut::<Map>(ROOTS[*root]) else {
                return false;
            };
            if map.len() != facts.len() {
                return false;
            }
            for f in facts {
                let Some(slot) = map.get_mut(prop(*root, *f)) else {
                    return false;
                };
                set_dynamic(slot, *f, ctx);
            }
        }
        true
    }
}

/// The property name of fact `f` in the map of root `root`.
fn prop(root: usize, f: Fact) -> &'static str {
    &f.name()[ROOTS[root].len() + 1..]
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
    ///
    /// Each thread keeps, per script, the variables and Rhai's function
    /// resolution cache from its last run (see [`RunState`]): a run writes
    /// this event's values into the maps already there and resolves a
    /// function call once per thread, not once per decision.
    pub(crate) fn run(&self, script: &Script, ctx: &Ctx) -> Result<Output, RuleError> {
        let cell = script.state.0.get_or(|| RefCell::new(RunState::new()));
        // A run never starts another on its thread; should one ever, it gets
        // a state of its own rather than a panic.
        let mut fresh;
        let mut borrowed = cell.try_borrow_mut();
        let state: &mut RunState = match borrowed.as_deref_mut() {
            Ok(state) => state,
            Err(_) => {
                fresh = RunState::new();
                &mut fresh
            }
        };
        state.set(script, ctx);
        let RunState { scope, caches } = state;
        // A new run-time state each run: `max_operations` and the depth
        // limits count from zero (keeping one saved 1.3% of a decision and
        // needed resetting field by field).
        let mut global = self.engine.new_global_runtime_state();
        global.lib.push(script.ast.shared_lib().clone());
        // Rhai is not ours: a panic inside it becomes this rule's error
        // instead of ending the process.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // `eval_ast_with_scope` would start with an empty function cache
            // on every call; this is the same evaluation with the cache
            // kept (the AST's own functions are pushed above, as it does).
            #[allow(deprecated)]
            self.engine
                .eval_statements_raw(&mut global, caches, scope, script.ast.statements())
        }));
        // Whatever the script declared goes; the roots stay for the next run.
        scope.rewind(script.reads.len());
        match out {
            Ok(out) => out.map_err(|e| run_error(&e)),
            Err(_) => {
                // A panic may have left the state half-written: start over.
                *state = RunState::new();
                Err(RuleError::EngineFailed {
                    what: "the script engine failed on this script".into(),
                })
            }
        }
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

/// Writes the value of fact `f` into `slot`; a set goes into the list the
/// slot holds, if it holds one, without copying the set first.
fn set_dynamic(slot: &mut Dynamic, f: Fact, ctx: &Ctx) {
    if f.is_set() {
        if let Some(mut list) = slot.write_lock::<Array>() {
            list.clear();
            list.extend(ctx.set(f).iter().map(|l| Dynamic::from(ctx.world.script_loc_id(l))));
            return;
        }
    }
    *slot = to_dynamic(&ctx.value(f), ctx);
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
