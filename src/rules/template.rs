//! Message templates: the `text` of an outbound `text` rule, such as
//! `{sender.account_name}: {text}`, parsed once when the rules load.

use crate::diag::{did_you_mean, one_of};
use crate::rules::facts::{Fact, FactType};

/// A message template such as `{sender.account_name}: {text}`, or a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub(crate) Vec<Piece>);

impl PartialEq for Piece {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Piece::Literal(a), Piece::Literal(b)) => a == b,
            (Piece::Text, Piece::Text) => true,
            (Piece::Fact(a), Piece::Fact(b)) => a == b,
            (Piece::Script(a), Piece::Script(b)) => a.source == b.source,
            _ => false,
        }
    }
}

impl Eq for Piece {}

#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Literal(String),
    /// What staff typed.
    Text,
    Fact(Fact),
    /// A Rhai script that gives the text (`text: {rhai: ...}`).
    Script(Box<crate::rules::script::Script>),
}

/// Parses `{placeholder}` templates; `{{` and `}}` are literal braces.
pub(crate) fn parse_template(s: &str) -> Result<Template, (usize, String, String)> {
    let names: Vec<&str> = std::iter::once("text")
        .chain(
            Fact::ALL
                .iter()
                .filter(|f| f.info().ty == FactType::Text)
                .map(|f| f.name()),
        )
        .collect();
    let help = || {
        format!(
            "placeholders are {}",
            one_of(&names.iter().map(|n| format!("{{{n}}}")).collect::<Vec<_>>())
        )
    };
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|x| x.1) == Some('{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek().map(|x| x.1) == Some('}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err((i, "the placeholder is not closed with `}`".into(), help()));
                }
                let piece = if name == "text" {
                    Piece::Text
                } else {
                    match Fact::by_name(&name).filter(|f| f.info().ty == FactType::Text) {
                        Some(f) => Piece::Fact(f),
                        None => {
                            let h = match did_you_mean(&name, names.iter().copied()) {
                                Some(x) => format!("did you mean `{{{x}}}`? {}", help()),
                                None => help(),
                            };
                            return Err((i, format!("unknown placeholder `{{{name}}}`"), h));
                        }
                    }
                };
                if !lit.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut lit)));
                }
                pieces.push(piece);
            }
            '}' => {
                return Err((
                    i,
                    "a lone `}` in a template".into(),
                    "write `}}` for a literal brace".into(),
                ))
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    Ok(Template(pieces))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            parse_template("{sender.account_name}: {text}").unwrap(),
            Template(vec![
                Piece::Fact(Fact::SenderAccountName),
                Piece::Literal(": ".into()),
                Piece::Text
            ])
        );
        assert_eq!(
            parse_template("{{x}}").unwrap(),
            Template(vec![Piece::Literal("{x}".into())])
        );
        let (offset, message, help) = parse_template("Hi {client.nam}").unwrap_err();
        assert_eq!(offset, 3);
        assert_eq!(message, "unknown placeholder `{client.nam}`");
        assert!(help.starts_with("did you mean `{client.name}`?"));
    }
}
