//! The check report as people and CI systems read it: text (coloured on a terminal; NO_COLOR
//! and CLICOLOR_FORCE are honoured by `anstream`), the JSON of `CheckReport`, or JUnit XML
//! (one test suite per kind, one test case per check).

use std::io::Write;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use vantage_shared::check::{CheckKind, CheckReport, CheckResult, CheckStatus};
use vantage_shared::duration::fmt_ms;

use crate::config::ReportFormat;

pub(super) fn print(report: &CheckReport, format: ReportFormat) -> anyhow::Result<()> {
    let mut out = anstream::stdout();
    match format {
        ReportFormat::Text => out.write_all(text(report).as_bytes())?,
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
        }
        ReportFormat::Junit => {
            out.write_all(junit(report)?.as_bytes())?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn style(status: CheckStatus) -> Style {
    let colour = match status {
        CheckStatus::Pass => AnsiColor::Green,
        CheckStatus::Warn => AnsiColor::Yellow,
        CheckStatus::Fail => AnsiColor::Red,
    };
    Style::new().fg_color(Some(colour.into())).bold()
}

/// The readable report: one line per check, findings indented under it, a summary line.
/// Styles are ANSI codes that `anstream` strips when stdout is not a terminal.
pub(super) fn text(r: &CheckReport) -> String {
    let mut s = String::new();
    for note in &r.notes {
        s.push_str(&format!("note: {note}\n"));
    }
    for c in &r.checks {
        s.push_str(&line(c));
    }
    let st = style(r.status);
    s.push_str(&format!(
        "\n{st}{}{st:#}: {} passed, {} warned, {} failed in {} (from {})\n",
        r.status.as_str().to_uppercase(),
        r.counts.pass,
        r.counts.warn,
        r.counts.fail,
        fmt_ms(r.duration_ms as f64),
        r.from
    ));
    s
}

fn line(c: &CheckResult) -> String {
    let st = style(c.status);
    let took = c
        .duration_ms
        .map(|ms| format!(" ({})", fmt_ms(ms as f64)))
        .unwrap_or_default();
    let mut s = format!(
        "{st}{:<4}{st:#} {:<9} {}: {}{took}\n",
        c.status.as_str().to_uppercase(),
        c.kind.as_str(),
        c.name,
        c.summary
    );
    // The first finding is often the summary itself; the rest add to it.
    for f in c.findings.iter().filter(|f| f.summary != c.summary) {
        s.push_str(&format!(
            "       - {}: {}\n",
            f.severity.as_str(),
            f.summary
        ));
    }
    s
}

/// JUnit XML: warnings pass (their findings go to system-out), failures carry the summary
/// as their message and the findings as their text.
pub(super) fn junit(r: &CheckReport) -> anyhow::Result<String> {
    let mut report = Report::new("vantage check");
    report.set_timestamp(r.started_at.fixed_offset());
    report.set_time(Duration::from_millis(r.duration_ms));
    for kind in [CheckKind::Target, CheckKind::Container, CheckKind::Rule] {
        let mut suite = TestSuite::new(format!("{}s", kind.as_str()));
        for c in r.checks.iter().filter(|c| c.kind == kind) {
            let findings = c
                .findings
                .iter()
                .map(|f| format!("{}: {}\n{}", f.severity.as_str(), f.summary, f.explanation))
                .collect::<Vec<_>>()
                .join("\n\n");
            let status = if c.status == CheckStatus::Fail {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(c.summary.clone()).set_type(kind.as_str());
                if !findings.is_empty() {
                    st.set_description(findings.clone());
                }
                st
            } else {
                TestCaseStatus::success()
            };
            let mut case = TestCase::new(c.name.clone(), status);
            case.set_classname(format!("vantage.{}", kind.as_str()));
            if let Some(ms) = c.duration_ms {
                case.set_time(Duration::from_millis(ms));
            }
            if c.status != CheckStatus::Fail {
                let out = if findings.is_empty() {
                    c.summary.clone()
                } else {
                    format!("{}\n\n{findings}", c.summary)
                };
                case.set_system_out(out);
            }
            suite.add_test_case(case);
        }
        if !suite.test_cases.is_empty() {
            report.add_test_suite(suite);
        }
    }
    Ok(report.to_string()?)
}
