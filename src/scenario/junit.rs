//! JUnit XML for CI systems: one `<testsuite>` per scenario file, one
//! `<testcase>` per case, a `<failure>` with expected, actual and the trace
//! when a case fails, an `<error>` for a file that cannot be loaded.
//!
//! The format is small and fixed, so it is written directly with XML escaping
//! rather than through an XML library.

use std::fmt::Write;

use crate::diag::Diagnostics;
use crate::scenario::FileReport;

/// Escapes text for XML content and attribute values; drops characters XML 1.0 cannot hold.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The JUnit report of a scenario run; `broken` are files that could not be loaded.
pub(crate) fn xml(reports: &[FileReport], broken: &Diagnostics) -> String {
    let tests: usize = reports.iter().map(|r| r.cases.len()).sum::<usize>() + broken.len();
    let failures: usize = reports.iter().map(FileReport::failed).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"commroute scenarios\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{}\">",
        broken.len()
    );
    for r in reports {
        let file = escape(&r.path.display().to_string());
        let _ = writeln!(
            x,
            "  <testsuite name=\"{file}\" tests=\"{}\" failures=\"{}\" errors=\"0\">",
            r.cases.len(),
            r.failed()
        );
        for c in &r.cases {
            let _ = write!(
                x,
                "    <testcase classname=\"{file}\" name=\"{}\" file=\"{file}\" line=\"{}\"",
                escape(&c.name),
                c.line
            );
            if c.passed {
                x.push_str("/>\n");
            } else {
                let summary = c
                    .mismatches
                    .iter()
                    .map(|m| format!("{}: expected {}, got {}", m.field, m.expected, m.actual))
                    .collect::<Vec<_>>()
                    .join("; ");
                let _ = writeln!(
                    x,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    escape(&summary),
                    escape(&c.failure_text())
                );
            }
        }
        x.push_str("  </testsuite>\n");
    }
    if !broken.is_empty() {
        let _ = writeln!(
            x,
            "  <testsuite name=\"files that cannot be loaded\" tests=\"{0}\" failures=\"0\" errors=\"{0}\">",
            broken.len()
        );
        for d in &broken.0 {
            let _ = writeln!(
                x,
                "    <testcase classname=\"{0}\" name=\"{0}:{1}\">\n      <error message=\"{2}\">{3}</error>\n    </testcase>",
                escape(&d.path.display().to_string()),
                d.pos.line,
                escape(&d.message),
                escape(&d.to_string())
            );
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}
