//! Text taken from data, made safe and short enough to show a person.
//!
//! Ids, names and message texts come from files and, for messages, from
//! clients. Printed raw, a control character in them could clear the screen,
//! retitle the terminal window, plant a hyperlink, hide the text after it, or
//! reorder a line with a bidi override; a newline inside one value could fake
//! a table row or a diagnostic line. Every human-readable output therefore
//! shows such characters escaped, visibly, the way Rust writes them in string
//! literals (`\u{1b}`, `\n`, `\u{202e}`): [`shown`] for one value of data,
//! [`guarded`] for whole output the tool wrote itself (it keeps the tool's
//! own newlines). JSON output is left exact.
//!
//! A value quoted in a message is also kept short: [`excerpt`] keeps the
//! start and the end of a long value, [`brief`] does that for every
//! `` `quoted` `` value of a message, so a 12 MB id is not echoed whole.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether a character is shown escaped: C0 controls (including tab, line
/// feed and carriage return), DEL, C1 controls, the bidi controls (embeddings,
/// overrides and isolates U+202A–U+202E and U+2066–U+2069, the marks U+200E,
/// U+200F and U+061C) and the Unicode line and paragraph separators.
pub fn is_escaped(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{61c}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// Appends `c` as it is shown: itself, or its escape.
pub fn push_shown(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_escaped(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// How many characters `c` takes once shown.
pub fn shown_len(c: char) -> usize {
    match c {
        '\n' | '\r' | '\t' => 2,
        // `\u{` + hex digits + `}`
        c if is_escaped(c) => 4 + format!("{:x}", c as u32).len(),
        _ => 1,
    }
}

fn escape_if(s: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    // Printable ASCII, the common case, needs no look at characters.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(&escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if escape(c) {
            push_shown(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One value of data (an id, a name, a message text, a path) as it is shown
/// to a person: every character [`is_escaped`] says is escaped, newlines and
/// tabs included, so the value stays on its line.
pub fn shown(s: &str) -> Cow<'_, str> {
    escape_if(s, is_escaped)
}

/// Output the tool wrote, as it reaches a terminal: like [`shown`], but the
/// tool's own line feeds stay. The last guard before stdout and stderr, so a
/// control character that reached the text any other way is still escaped.
pub fn guarded(s: &str) -> Cow<'_, str> {
    escape_if(s, |c| c != '\n' && is_escaped(c))
}

/// The longest value quoted whole in a message, in characters.
pub const QUOTE_MAX: usize = 80;

/// `s` if it has at most `max` characters, else its start and its end around
/// `…`, `max` characters in all.
pub fn excerpt(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let n = s.chars().count();
    if n <= max {
        return Cow::Borrowed(s);
    }
    let max = max.max(3);
    let head = (max - 1) * 2 / 3;
    let tail = max - 1 - head;
    let head_end = s.char_indices().nth(head).map_or(s.len(), |(i, _)| i);
    let tail_start = match tail {
        0 => s.len(),
        t => s.char_indices().rev().nth(t - 1).map_or(0, |(i, _)| i),
    };
    Cow::Owned(format!("{}…{}", &s[..head_end], &s[tail_start..]))
}

/// The longest message shown whole, in characters, once its quoted values
/// are shortened.
pub const MESSAGE_MAX: usize = 1000;

/// A message with every `` `quoted` `` value longer than [`QUOTE_MAX`]
/// characters shortened to an [`excerpt`], and the whole message to
/// [`MESSAGE_MAX`] characters, so that a huge id in a file is not echoed
/// whole.
pub fn brief(s: &str) -> Cow<'_, str> {
    if s.len() <= QUOTE_MAX {
        return Cow::Borrowed(s);
    }
    let mut out = String::new();
    let mut changed = false;
    let mut rest = s;
    // Text before an opening backtick is kept; text between a pair of
    // backticks is a quoted value.
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('`') else { break };
        let quoted = &after[..close];
        out.push_str(&rest[..=open]);
        let short = excerpt(quoted, QUOTE_MAX);
        changed |= matches!(short, Cow::Owned(_));
        out.push_str(&short);
        out.push('`');
        rest = &after[close + 1..];
    }
    if changed {
        out.push_str(rest);
    }
    let whole: Cow<'_, str> = if changed { Cow::Owned(out) } else { Cow::Borrowed(s) };
    match excerpt(&whole, MESSAGE_MAX) {
        Cow::Borrowed(_) => whole,
        Cow::Owned(o) => Cow::Owned(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_shown_escaped() {
        assert_eq!(shown("plain text, é ü 日本"), "plain text, é ü 日本");
        assert_eq!(shown("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(shown("line\nfake row\r\tx"), "line\\nfake row\\r\\tx");
        assert_eq!(shown("\u{7f}\u{85}\u{9b}"), "\\u{7f}\\u{85}\\u{9b}");
        assert_eq!(
            shown("\u{202e}evil\u{202c}\u{2066}\u{2069}\u{200e}\u{200f}\u{61c}"),
            "\\u{202e}evil\\u{202c}\\u{2066}\\u{2069}\\u{200e}\\u{200f}\\u{61c}"
        );
        assert_eq!(guarded("a\n\u{1b}]0;title\u{7}\n"), "a\n\\u{1b}]0;title\\u{7}\n");
    }

    #[test]
    fn shown_len_is_the_length_of_the_escape() {
        for c in ['a', 'é', '\n', '\t', '\u{1b}', '\u{0}', '\u{9b}', '\u{202e}', '\u{61c}'] {
            let mut s = String::new();
            push_shown(&mut s, c);
            assert_eq!(shown_len(c), s.chars().count(), "{c:?}");
        }
    }

    #[test]
    fn long_values_keep_their_start_and_end() {
        assert_eq!(excerpt("short", 10), "short");
        let long = format!("{}{}", "a".repeat(50), "z".repeat(50));
        let e = excerpt(&long, 20);
        assert_eq!(e.chars().count(), 20);
        assert!(e.starts_with("aaaa") && e.ends_with("zzzz") && e.contains('…'), "{e}");
        let wide = "é".repeat(100);
        assert_eq!(excerpt(&wide, 10).chars().count(), 10);
    }

    #[test]
    fn a_huge_quoted_id_is_shortened_and_the_rest_of_the_message_kept() {
        let id = "x".repeat(12_000_000);
        let msg = format!("unknown location `{id}`; did you mean `A`?");
        let b = brief(&msg);
        assert!(b.len() < 200, "{}", b.len());
        assert!(b.starts_with("unknown location `xxx"), "{b}");
        assert!(b.ends_with("xxx`; did you mean `A`?"), "{b}");
        // Short messages are untouched.
        assert_eq!(brief("unknown key `x`"), "unknown key `x`");
        // A long message without quotes is cut to its start and end.
        let plain = "word ".repeat(1000);
        assert_eq!(brief(&plain).chars().count(), MESSAGE_MAX);
    }
}
