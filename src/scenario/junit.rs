//! JUnit XML for CI systems: one `<testsuite>` per scenario file, one
//! `<testcase>` per case, a `<failure>` with expected, actual and the trace
//! when a case fails, an `<error>` for a file that cannot be loaded. Every
//! case and file carries the `time` it took, in seconds.
//!
//! The XML is written by `quick-junit` (the writer cargo-nextest uses): it
//! escapes text and drops what XML cannot hold (control characters and ANSI
//! escapes); this module only removes the two noncharacters it lets through.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, SerializeError, TestCase, TestCaseStatus, TestSuite};

use crate::diag::Diagnostics;
use crate::scenario::FileReport;

/// Text for the XML writer, without U+FFFE and U+FFFF, which XML 1.0 cannot
/// hold and `quick-junit` does not remove (it removes control characters).
fn xml_text(s: &str) -> String {
    s.replace(['\u{FFFE}', '\u{FFFF}'], "")
}

/// The JUnit report of a scenario run; `broken` are files that could not be
/// loaded. Fails only if the XML writer does.
pub(crate) fn xml(reports: &[FileReport], broken: &Diagnostics) -> Result<String, SerializeError> {
    let mut report = Report::new("commroute scenarios");
    for r in reports {
        let file = xml_text(&r.path.display().to_string());
        let mut suite = TestSuite::new(file.as_str());
        suite.set_time(r.time);
        for c in &r.cases {
            let status = if c.passed {
                TestCaseStatus::success()
            } else {
                let summary = c
                    .mismatches
                    .iter()
                    .map(|m| format!("{}: expected {}, got {}", m.field, m.expected, m.actual))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(xml_text(&summary))
                    .set_description(xml_text(&c.failure_text()));
                s
            };
            let mut case = TestCase::new(xml_text(&c.name), status);
            case.set_classname(file.as_str()).set_time(c.time);
            case.extra.insert("file".into(), file.as_str().into());
            case.extra.insert("line".into(), c.line.to_string().into());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    if !broken.is_empty() {
        let mut suite = TestSuite::new("files that cannot be loaded");
        suite.set_time(Duration::ZERO);
        for d in &broken.0 {
            let path = xml_text(&d.path.display().to_string());
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(xml_text(&d.message))
                .set_description(xml_text(&d.to_string()));
            let mut case = TestCase::new(format!("{path}:{}", d.pos.line), status);
            case.set_classname(path.as_str()).set_time(Duration::ZERO);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.set_time(reports.iter().map(|r| r.time).sum());
    report.to_string()
}
