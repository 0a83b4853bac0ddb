//! What a script may do and be: the run-time [`Limits`] a rules file may set
//! within their ceilings, and the [`Size`] a script's text may have, checked
//! before Rhai compiles it.

use rhai::Engine;

use crate::rules::script::CompileProblem;

/// Limits every script runs under. Rules files may lower or raise them within
/// [`Limits::CEILING`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Rhai operations one evaluation may take.
    pub max_operations: u64,
    /// How deep function calls may nest.
    pub max_call_levels: usize,
    /// How deep expressions may nest.
    pub max_expr_depth: usize,
    /// The longest string a script may build, in bytes.
    pub max_string_size: usize,
    /// The most items an array may hold.
    pub max_array_size: usize,
    /// The most entries a map may hold.
    pub max_map_size: usize,
}

impl Limits {
    /// The limits a rules file gets when it sets none.
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

    pub(crate) fn set(&mut self, name: &str, value: u64) -> bool {
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

/// What one script may contain, so that loading stays fast whatever a rules
/// file holds. Rhai's parser takes time that grows with the square of some
/// counts (the arms of a `switch`, the names declared: `let`, `const`,
/// parameters), and linearly with the text; these bounds are checked on the
/// tokens before the script is compiled, Rhai's own compile-time limits
/// (expression depth, string, array and map literals, functions) do the
/// rest, and a rules file is at most [`crate::rules::MAX_RULES_FILE_SIZE`].
pub(crate) struct Size;

impl Size {
    /// The longest script, in bytes.
    pub(crate) const MAX_SCRIPT_BYTES: usize = 16 * 1024;
    /// The most names one script may declare (`let`, `const`, `for` and
    /// `catch` variables, function and closure parameters).
    pub(crate) const MAX_DECLARATIONS: usize = 128;
    /// The most arms of `switch` one script may have.
    pub(crate) const MAX_SWITCH_ARMS: usize = 256;
}

/// Counts what [`Size`] bounds in a script, with Rhai's own tokenizer (so
/// comments, strings and the code inside `${...}` are read exactly as the
/// compiler reads them); `Err` names the first bound it passes, where.
pub(super) fn check_size(engine: &Engine, src: &str) -> Result<(), CompileProblem> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_within_the_worst_case_bound_and_the_ceilings_together_are_not() {
        assert_eq!(Limits::DEFAULT.worst_case_bytes(), 368_640_000);
        assert!(Limits::DEFAULT.worst_case_bytes() <= Limits::MAX_WORST_CASE_BYTES);
        assert!(Limits::CEILING.worst_case_bytes() > 1_000 * Limits::MAX_WORST_CASE_BYTES);
    }
}
