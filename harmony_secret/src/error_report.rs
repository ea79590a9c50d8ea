//! One line for an error and its causes, each said once: what a binary prints at exit.

/// `error` and the causes behind it, `: `-separated, for a binary to print once at exit.
///
/// Harmony's messages (in every crate of the workspace) already name their cause (the summary
/// prints `to_string()` alone), and the same cause is also kept as `source()` so callers can
/// match its kind: a plain chain
/// (`anyhow`'s `{:#}` or `Caused by:`) would print it two or three times. A cause whose text is
/// already shown is skipped, and so is a wrapper that only adds context to a cause already
/// shown; what lies deeper (e.g. `Connection refused`) is still printed.
pub fn error_report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut report = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        let below = e.source().map(|s| s.to_string());
        let shown = report.contains(&text)
            || below.is_some_and(|b| text.contains(&b) && report.contains(&b));
        if !shown {
            report.push_str(": ");
            report.push_str(&text);
        }
        cause = e.source();
    }
    report
}
