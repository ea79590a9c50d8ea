//! Progress display for long waits (cluster creation, helm installs, readiness waits).
//!
//! Every spinner is drawn through one process-wide [`MultiProgress`], so code that needs the
//! terminal (a credential prompt in the middle of a Score) can hide all of them at once with
//! [`hide_spinners`] / [`suspend`] and they come back afterwards.

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle, WeakProgressBar};

const TICK: Duration = Duration::from_millis(120);

struct Registry {
    multi: MultiProgress,
    /// Where the spinners are drawn when not hidden (stderr unless a test replaced it).
    target: fn() -> ProgressDrawTarget,
    bars: Vec<WeakProgressBar>,
    /// Number of live [`SpinnersHidden`] guards.
    hidden: usize,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            Mutex::new(Registry {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                target: ProgressDrawTarget::stderr,
                bars: Vec::new(),
                hidden: 0,
            })
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registry {
    fn live_bars(&mut self) -> Vec<ProgressBar> {
        self.bars
            .retain(|b| b.upgrade().is_some_and(|b| !b.is_finished()));
        self.bars
            .iter()
            .filter_map(WeakProgressBar::upgrade)
            .collect()
    }
}

/// A spinner on stderr showing `message` and the elapsed time. Call `finish_and_clear()` (or
/// `finish_with_message`) when done; it is hidden automatically when stderr is not a terminal,
/// and while a [`hide_spinners`] guard lives.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.into());
    let mut registry = registry();
    let bar = registry.multi.add(bar);
    registry.bars.push(bar.downgrade());
    if registry.hidden == 0 {
        bar.enable_steady_tick(TICK);
    }
    bar
}

/// While this lives, no spinner is drawn (those started meanwhile too); dropping it brings them
/// back. Hold it around anything that reads from or writes to the terminal, e.g.
/// `harmony_config::get_or_prompt`, across `.await`s.
#[must_use = "spinners come back as soon as the guard is dropped"]
#[derive(Debug)]
pub struct SpinnersHidden {
    _private: (),
}

/// Clears every spinner from the terminal and stops redrawing them until the guard is dropped.
pub fn hide_spinners() -> SpinnersHidden {
    let mut registry = registry();
    registry.hidden += 1;
    if registry.hidden == 1 {
        // Stop the redraw threads first, so nothing draws between the clear and the switch.
        for bar in registry.live_bars() {
            bar.disable_steady_tick();
        }
        let _ = registry.multi.clear();
        registry.multi.set_draw_target(ProgressDrawTarget::hidden());
    }
    SpinnersHidden { _private: () }
}

impl Drop for SpinnersHidden {
    fn drop(&mut self) {
        let mut registry = registry();
        registry.hidden = registry.hidden.saturating_sub(1);
        if registry.hidden == 0 {
            let target = (registry.target)();
            registry.multi.set_draw_target(target);
            for bar in registry.live_bars() {
                bar.enable_steady_tick(TICK);
            }
        }
    }
}

/// Runs `f` with every spinner hidden (see [`hide_spinners`] for async code).
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let _hidden = hide_spinners();
    f()
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

    use super::*;

    /// A terminal that records what is drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<Vec<String>>>);

    static SCREEN: OnceLock<Screen> = OnceLock::new();

    impl Screen {
        fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
        fn push(&self, s: impl Into<String>) -> io::Result<()> {
            self.0.lock().unwrap().push(s.into());
            Ok(())
        }
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.push(s)
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.push(s)
        }
        fn clear_line(&self) -> io::Result<()> {
            self.push("<clear>")
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    fn screen_target() -> ProgressDrawTarget {
        ProgressDrawTarget::term_like(Box::new(SCREEN.get_or_init(Screen::default).clone()))
    }

    fn drew(lines: &[String], text: &str) -> bool {
        lines.iter().any(|l| l.contains(text))
    }

    #[test]
    fn spinners_are_cleared_and_silent_while_a_prompt_is_shown() {
        let screen = SCREEN.get_or_init(Screen::default).clone();
        {
            let mut registry = registry();
            registry.target = screen_target;
            registry.multi.set_draw_target(screen_target());
        }
        let bar = spinner("running OpenbaoSetupScore");
        bar.force_draw();
        assert!(drew(&screen.take(), "running OpenbaoSetupScore"));

        let hidden = hide_spinners();
        let cleared = screen.take();
        assert!(
            cleared.iter().any(|l| l == "<clear>"),
            "the spinner line stays on screen under the prompt: {cleared:?}"
        );
        bar.set_message("still running OpenbaoSetupScore");
        bar.force_draw();
        let late = spinner("started during the prompt");
        late.force_draw();
        assert_eq!(screen.take(), Vec::<String>::new(), "drawn over the prompt");
        // Nested (e.g. a prompt inside `suspend`) keeps them hidden until the last guard.
        suspend(|| {});
        bar.force_draw();
        assert_eq!(screen.take(), Vec::<String>::new());

        drop(hidden);
        bar.force_draw();
        let after = screen.take();
        assert!(drew(&after, "still running OpenbaoSetupScore"), "{after:?}");
        late.finish_and_clear();
        bar.finish_and_clear();
    }
}
