//! Tables, compact lines, markdown and JSON lines for people and programs.
//!
//! Every value of data put into a table or a sentence goes through [`shown`]
//! first (control and bidi characters escaped, newlines included), so it
//! cannot reach the terminal as a control sequence or fake a row; JSON is
//! exact, with DEL and C1 controls written as `\u00XX` escapes.
//!
//! A command builds its rows once as a [`Grid`] and the [`Layout`] lays them
//! out: a box table sized to the terminal, one compact line per row for a
//! pipe, or a markdown table for a pull-request comment. Every `--format`
//! with an `auto` default resolves it here ([`Layout::auto`]), so all
//! commands agree on what a pipe gets.
//!
//! [`shown`]: crate::text::shown

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width};
use unicode_width::UnicodeWidthStr;

/// How output for people is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// A box-drawn table sized to the terminal (`--format table`, or `auto`
    /// on a terminal).
    Table,
    /// One line per row, columns aligned two spaces apart, no borders and
    /// nothing wrapped (`auto` when stdout is not a terminal).
    Compact,
    /// A GitHub-flavoured markdown document (`--format markdown`).
    Markdown,
}

impl Layout {
    /// What `--format auto` means for this run: the table on a terminal,
    /// compact lines in a pipe or a file.
    pub(crate) fn auto() -> Layout {
        if super::ui::get().out_terminal {
            Layout::Table
        } else {
            Layout::Compact
        }
    }
}

/// A `--format` value: `auto` and the layouts for people, or a format for
/// programs (JSON, CSV, JUnit), which the command writes itself.
pub(crate) trait FormatChoice: Copy {
    /// The layout for people, `None` for a format for programs.
    fn layout(self) -> Option<Layout>;
}

/// Defines a `--format` value enum with `auto` as its default.
macro_rules! format_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $layout:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
        pub(crate) enum $name {
            /// A table on a terminal, one compact line per row in a pipe
            #[default]
            Auto,
            /// A box-drawn table sized to the terminal, also in a pipe
            Table,
            $($(#[$vdoc])* $variant,)*
        }

        impl FormatChoice for $name {
            fn layout(self) -> Option<Layout> {
                match self {
                    $name::Auto => Some(Layout::auto()),
                    $name::Table => Some(Layout::Table),
                    $($name::$variant => $layout,)*
                }
            }
        }
    };
}

format_enum! {
    /// `--format` of the commands that print a table or sentences, or JSON.
    Format {
        /// One JSON object per line, with a `type` field
        Json => None,
    }
}

format_enum! {
    /// `--format` of `diff` and `coverage`.
    ReportFormat {
        /// One JSON object per line, with a `type` field
        Json => None,
        /// A GitHub-flavoured markdown document, for a pull-request comment
        Markdown => Some(Layout::Markdown),
    }
}

format_enum! {
    /// `--format` of the commands whose output is one table (`analyze`, `usage`).
    TableFormat {
        /// One JSON object per line, with a `type` field
        Json => None,
        /// Comma-separated values with a header line
        Csv => None,
        /// A GitHub-flavoured markdown document, for a pull-request comment
        Markdown => Some(Layout::Markdown),
    }
}

format_enum! {
    /// `--format` of `test`.
    TestFormat {
        /// One JSON object per line, with a `type` field
        Json => None,
        /// JUnit XML, for CI systems
        Junit => None,
        /// A GitHub-flavoured markdown document, for a pull-request comment
        Markdown => Some(Layout::Markdown),
    }
}

/// Rows of cells under a header, laid out by [`Grid::render`]. Cells are
/// text as shown (data already through `text::shown`); a line break in a
/// cell is the command's own.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Columns of ids: a box table never splits a word of theirs.
    whole: Vec<bool>,
}

impl Grid {
    pub(crate) fn new(header: &[&str]) -> Grid {
        Grid {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            whole: vec![false; header.len()],
        }
    }

    /// Marks columns that hold ids (rule, client, location ids): a box table
    /// wraps them between words only, never inside `campaign-reply-with-history`,
    /// even when that makes it wider than the terminal.
    pub(crate) fn ids(mut self, columns: &[usize]) -> Grid {
        for &c in columns {
            self.whole[c] = true;
        }
        self
    }

    pub(crate) fn add_row(&mut self, row: Vec<String>) {
        debug_assert_eq!(row.len(), self.header.len());
        self.rows.push(row);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The columns to show: those with a non-empty cell (all of them when
    /// there are no rows).
    fn shown_columns(&self) -> Vec<usize> {
        (0..self.header.len())
            .filter(|&c| self.rows.is_empty() || self.rows.iter().any(|r| !r[c].trim().is_empty()))
            .collect()
    }

    /// The rows laid out, ending with a line break. Columns whose every cell
    /// is empty are left out.
    pub(crate) fn render(&self, layout: Layout) -> String {
        let columns = self.shown_columns();
        match layout {
            Layout::Table => self.boxed(&columns),
            Layout::Compact => self.compact(&columns),
            Layout::Markdown => self.markdown(&columns),
        }
    }

    fn boxed(&self, columns: &[usize]) -> String {
        let header: Vec<&str> = columns.iter().map(|&c| self.header[c].as_str()).collect();
        let mut t = table(&header);
        for row in &self.rows {
            t.add_row(columns.iter().map(|&c| row[c].as_str()));
        }
        for (i, &c) in columns.iter().enumerate() {
            if !self.whole[c] {
                continue;
            }
            let longest = std::iter::once(&self.header[c])
                .chain(self.rows.iter().map(|r| &r[c]))
                .flat_map(|cell| cell.split([' ', '\n']))
                .map(UnicodeWidthStr::width)
                .max()
                .unwrap_or(0);
            // Lower bounds include the padding of one space each side.
            let bound = u16::try_from(longest + 2).unwrap_or(u16::MAX);
            if let Some(col) = t.column_mut(i) {
                col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(bound)));
            }
        }
        format!("{t}\n")
    }

    fn compact(&self, columns: &[usize]) -> String {
        let one_line = |cell: &str| cell.replace('\n', "; ");
        let header: Vec<String> = columns.iter().map(|&c| self.header[c].clone()).collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| columns.iter().map(|&c| one_line(&r[c])).collect())
            .collect();
        aligned(std::iter::once(&header).chain(&rows))
    }

    fn markdown(&self, columns: &[usize]) -> String {
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        let mut text = line(columns.iter().map(|&c| markdown_cell(&self.header[c])).collect());
        text.push_str(&line(columns.iter().map(|_| "---".to_owned()).collect()));
        for r in &self.rows {
            text.push_str(&line(columns.iter().map(|&c| markdown_cell(&r[c])).collect()));
        }
        text
    }
}

/// Lines of cells, each column padded to its widest cell and two spaces
/// apart; the last column is not padded.
pub(crate) fn aligned<'a>(rows: impl IntoIterator<Item = &'a Vec<String>> + Clone) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for r in rows.clone() {
        for (i, cell) in r.iter().enumerate() {
            let w = cell.width();
            match widths.get_mut(i) {
                Some(old) => *old = (*old).max(w),
                None => widths.push(w),
            }
        }
    }
    let mut text = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < r.len() {
                line.push_str(&" ".repeat(widths[i] - cell.width()));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// A cell of a markdown table as text: nothing in it can start HTML, an
/// entity, a code span, a link, emphasis or a new cell, and it stays on its
/// line. The cell's own line breaks become `<br>`.
pub(crate) fn markdown_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            '\\' | '`' | '|' | '*' | '_' | '[' | ']' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text as a fenced markdown code block: the fence is longer than any run of
/// backticks in the text, so nothing in it can close the block.
pub(crate) fn markdown_code(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let mut body = text.to_owned();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    format!("{fence}text\n{body}{fence}\n")
}

/// A table with a header row, sized to the terminal when there is one.
fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if let Some(w) = super::ui::get().width {
        t.set_width(w);
    }
    t
}

/// Labelled values: a two-column box table, or one `label  value` line
/// each (a value's own line breaks become `; `).
pub(crate) fn fields(rows: &[(&str, String)], layout: Layout) -> String {
    if layout != Layout::Table {
        let lines: Vec<Vec<String>> = rows
            .iter()
            .map(|(k, v)| vec![(*k).to_owned(), v.replace('\n', "; ")])
            .collect();
        return aligned(&lines);
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(w) = super::ui::get().width {
        t.set_width(w);
    }
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v.clone()]);
    }
    format!("{t}\n")
}

/// One value of data as a table cell or part of a sentence shows it.
pub(crate) fn shown_owned(s: &str) -> String {
    crate::text::shown(s).into_owned()
}

/// One JSON document on one line, with a `type` field first and the
/// `version` of the output ([`super::JSON_VERSION`]) second.
pub(crate) fn json_line(kind: &str, value: &impl serde::Serialize) -> String {
    let mut v = serde_json::to_value(value).expect("reports serialise");
    if let serde_json::Value::Object(map) = &mut v {
        let mut with_type = serde_json::Map::new();
        with_type.insert("type".into(), kind.into());
        with_type.insert("version".into(), super::JSON_VERSION.into());
        with_type.extend(std::mem::take(map));
        *map = with_type;
    }
    json_controls_escaped(format!("{v}\n"))
}

/// JSON text with DEL and the C1 controls (U+007F–U+009F), which
/// `serde_json` writes raw, written as `\u00XX` escapes: the same JSON value,
/// without characters a terminal may act on. They can only occur inside
/// strings, where the escape is valid.
pub(crate) fn json_controls_escaped(json: String) -> String {
    // DEL is 0x7F; U+0080–U+009F are 0xC2 0x80–0x9F in UTF-8.
    if !json.bytes().any(|b| b == 0x7f || b == 0xc2) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// One CSV record (RFC 4180: fields with commas, quotes or newlines are quoted).
pub(crate) fn csv_line(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                (*f).to_owned()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

/// `no gap`, `1 gap`, `3 gaps`: a count in words, for sentences.
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {one}"),
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> Grid {
        let mut g = Grid::new(&["rule", "events", "outcome"]).ids(&[0]);
        g.add_row(vec![
            "campaign-reply-with-history".into(),
            String::new(),
            "lands at [A]".into(),
        ]);
        g.add_row(vec!["as-typed".into(), " ".into(), "two\nlines".into()]);
        g
    }

    #[test]
    fn a_column_whose_every_cell_is_empty_is_left_out() {
        let text = grid().render(Layout::Compact);
        assert_eq!(
            text,
            "rule                         outcome\ncampaign-reply-with-history  lands at [A]\nas-typed                     two; lines\n"
        );
        let md = grid().render(Layout::Markdown);
        assert_eq!(
            md,
            "| rule | outcome |\n| --- | --- |\n| campaign-reply-with-history | lands at \\[A\\] |\n| as-typed | two<br>lines |\n"
        );
        // No rows: the header stays whole.
        assert_eq!(Grid::new(&["a", "b"]).render(Layout::Compact), "a  b\n");
    }

    #[test]
    fn a_box_table_narrower_than_an_id_keeps_the_id_on_one_line() {
        super::super::ui::set(super::super::ui::Ui {
            width: Some(30),
            ..Default::default()
        });
        let text = grid().render(Layout::Table);
        super::super::ui::set(super::super::ui::Ui::default());
        assert!(text.contains("campaign-reply-with-history"), "{text}");
    }

    #[test]
    fn markdown_cells_cannot_start_html_a_link_or_a_new_cell() {
        assert_eq!(
            markdown_cell("a|b <img src=x> `c` [l](u) *e* _f_ ~g~ &amp; \\| x\ny"),
            "a\\|b &lt;img src=x&gt; \\`c\\` \\[l\\](u) \\*e\\* \\_f\\_ \\~g\\~ &amp;amp; \\\\\\| x<br>y"
        );
    }

    #[test]
    fn a_code_block_fence_is_longer_than_any_backtick_run_inside() {
        assert_eq!(markdown_code("a ``` b"), "````text\na ``` b\n````\n");
        assert_eq!(markdown_code("plain\n"), "```text\nplain\n```\n");
    }

    #[test]
    fn compact_columns_align_by_display_width() {
        let rows = vec![
            vec!["日本".to_owned(), "x".to_owned()],
            vec!["ab".to_owned(), "y".to_owned()],
        ];
        assert_eq!(aligned(&rows), "日本  x\nab    y\n");
    }
}
