//! Progress display for long waits (cluster creation, helm installs, readiness waits).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A spinner on stderr showing `message` and the elapsed time. Call `finish_and_clear()` (or
/// `finish_with_message`) when done; it is hidden automatically when stderr is not a terminal.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
