//! Colours for people's output: PASS green, FAIL red, `error:` red,
//! `warning:` yellow, `note:` cyan, with anstyle (the styles clap uses).
//!
//! Colour is added last, to text already guarded ([`crate::text::guarded`]),
//! so the escape sequences here are the only ones that reach a terminal,
//! and only when [`super::ui::get`] says the stream is coloured. JSON, CSV,
//! markdown and JUnit are never coloured.

use anstyle::{AnsiColor, Style};

/// A passing result.
pub(crate) const PASS: Style = AnsiColor::Green.on_default();
/// A failing result.
pub(crate) const FAIL: Style = AnsiColor::Red.on_default().bold();
/// `error:`.
pub(crate) const ERROR: Style = AnsiColor::Red.on_default().bold();
/// `warning:`, and findings that need a look (a shadowed rule, a gap).
pub(crate) const WARNING: Style = AnsiColor::Yellow.on_default().bold();
/// `note:` and `help:`.
pub(crate) const NOTE: Style = AnsiColor::Cyan.on_default().bold();

/// `text` in `style`.
pub(crate) fn paint(text: &str, style: Style) -> String {
    format!("{}{text}{}", style.render(), style.render_reset())
}

/// The labels at the start of a line (after any indentation and a `= `)
/// that get their colour on stderr.
const LABELS: &[(&str, Style)] = &[
    ("error:", ERROR),
    ("warning:", WARNING),
    ("note:", NOTE),
    ("help:", NOTE),
];

/// Colours the labels that start lines: `error:`, `warning:`, `note:`,
/// `help:`, and those in `extra`.
pub(crate) fn labels(text: &str, extra: &[(&str, Style)]) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    for line in text.split_inclusive('\n') {
        let body = line.trim_start_matches(' ');
        let body = body.strip_prefix("= ").unwrap_or(body);
        let at = line.len() - body.len();
        match LABELS.iter().chain(extra).find(|(l, _)| body.starts_with(l)) {
            Some((label, style)) => {
                out.push_str(&line[..at]);
                out.push_str(&paint(label, *style));
                out.push_str(&body[label.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Colours every occurrence of the words in `words` that stands alone:
/// between the start or end of a line, spaces and table borders.
pub(crate) fn words(text: &str, words: &[(&str, Style)]) -> String {
    let apart = |c: Option<char>| c.is_none_or(|c| c.is_whitespace() || "│┆|".contains(c));
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for (word, style) in words {
            if rest.starts_with(word) {
                let before = out.chars().next_back();
                let after = rest[word.len()..].chars().next();
                if apart(before) && apart(after) {
                    out.push_str(&paint(word, *style));
                    rest = &rest[word.len()..];
                    continue 'scan;
                }
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_coloured_only_at_the_start_of_a_line() {
        let text = "error: rule `a`: no\n  --> r.yaml:1:2\n  = help: say error: here\nnote: n\n";
        let shown = labels(text, &[]);
        assert!(shown.starts_with(&paint("error:", ERROR)));
        assert!(shown.contains(&format!("  = {} say error: here", paint("help:", NOTE))));
        assert!(shown.contains(&paint("note:", NOTE)));
        // Bold, colour and reset for each of the three labels.
        assert_eq!(shown.matches("\x1b[").count(), 9, "{shown:?}");
    }

    #[test]
    fn words_are_coloured_when_they_stand_alone() {
        let shown = words("│ pass ┆ FAIL │ passed\nFAIL x\n", &[("pass", PASS), ("FAIL", FAIL)]);
        assert_eq!(
            shown,
            format!(
                "│ {} ┆ {} │ passed\n{} x\n",
                paint("pass", PASS),
                paint("FAIL", FAIL),
                paint("FAIL", FAIL)
            )
        );
    }
}
