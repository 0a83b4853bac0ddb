//! [`RuleError`]: why a rule could not be evaluated for one event.
//!
//! Loading problems are not here: they are [`crate::diag::Diagnostics`] with
//! a file and a position. The engine wraps a `RuleError` with the rule, its
//! file and line, as [`crate::engine::EvalError`].

/// Why a rule's condition or outcome could not be evaluated for one event:
/// a script stopped or gave the wrong kind of value, or the rules name a
/// location the world does not have. The text is what people see after
/// "rule `id` (file:line) failed: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A literal location id in a condition or outcome is not in this world.
    #[error("the rules name location `{id}`, which this world does not have")]
    UnknownLocation {
        /// The location id as the rules spell it.
        id: String,
    },
    /// The script ran past `max_operations`.
    #[error("the script ran too long (it exceeded `max_operations`)")]
    TooManyOperations,
    /// The script called functions past `max_call_levels`.
    #[error("the script recursed too deeply (it exceeded `max_call_levels`)")]
    TooDeep,
    /// The script built a string, array or map over its limit; `what` is
    /// Rhai's name for it, lower-cased.
    #[error("the script built a value too large ({what} over its limit)")]
    TooLarge {
        /// Rhai's name for what grew too large, its first letter lower-cased.
        what: String,
    },
    /// The script declared more variables than the sandbox allows.
    #[error("the script declared too many variables")]
    TooManyVariables,
    /// The script engine itself failed (a panic inside Rhai, for one).
    #[error("{what}")]
    EngineFailed {
        /// Rhai's description of the failure.
        what: String,
    },
    /// Any other run-time error of the script, in Rhai's words lower-cased.
    #[error("{message}")]
    Script {
        /// Rhai's error message, its first letter lower-cased.
        message: String,
    },
    /// A condition's script gave something other than `true` or `false`.
    #[error("the script gave a {gave}, but a condition must give `true` or `false`")]
    NotBool {
        /// The kind of value the script gave instead of a boolean.
        gave: &'static str,
    },
    /// A locations script gave a value that is not an id.
    #[error("the script gave a {gave}, but locations must be given as ids (strings)")]
    NotLocationId {
        /// The kind of value the script gave instead of a string.
        gave: &'static str,
    },
    /// A locations script gave an id that is not in this world.
    #[error("the script gave `{id}`, which is not a location of this world")]
    NotALocation {
        /// The id the script gave.
        id: String,
    },
    /// A channel script gave a word that is not a channel.
    #[error("the script gave `{gave}`, but a channel is `push`, `sms`, `email` or `none`")]
    NotAChannel {
        /// The word the script gave.
        gave: String,
    },
    /// A ghost text or message text script gave something other than a string;
    /// `what` is "a ghost text" or "a message text".
    #[error("the script gave a {gave}, but {what} must be a string")]
    NotText {
        /// The kind of value the script gave instead of a string.
        gave: &'static str,
        /// Which text was expected: "a ghost text" or "a message text".
        what: &'static str,
    },
}
