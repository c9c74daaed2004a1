//! Progress on a terminal for the commands that wait (`--wait`): a spinner or a
//! bar on standard error, nothing when standard error is not a terminal (a
//! script reads only the answer), and the deadline of `--timeout`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::error::Error;

/// How often a waiting command asks the server again.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// A spinner or a bar, or nothing off a terminal.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    fn styled(bar: ProgressBar, template: &str, message: &str) -> Self {
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Self(Some(bar))
    }

    /// A spinner with the elapsed time and a message.
    pub fn spinner(message: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        Self::styled(
            ProgressBar::new_spinner(),
            "{spinner} {elapsed:>4} {msg}",
            message,
        )
    }

    /// A bar of `steps` steps with a message.
    pub fn bar(steps: u64, message: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        Self::styled(
            ProgressBar::new(steps),
            "{spinner} {elapsed:>4} [{bar:30}] {pos}/{len} {msg}",
            message,
        )
    }

    /// Replaces the message.
    pub fn message(&self, message: String) {
        if let Some(bar) = &self.0 {
            bar.set_message(message);
        }
    }

    /// Moves the bar to `position`.
    pub fn position(&self, position: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(position);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// The end of a `--timeout` wait.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(Instant);

impl Deadline {
    /// `seconds` from now.
    pub fn after(seconds: u64) -> Self {
        Self(Instant::now() + Duration::from_secs(seconds))
    }

    /// True once it has passed.
    pub fn passed(self) -> bool {
        Instant::now() >= self.0
    }

    /// Sleeps [`POLL_EVERY`] (less when the deadline is nearer); an error naming
    /// `what` once it has passed.
    pub async fn tick(self, what: impl FnOnce() -> String) -> Result<(), Error> {
        if self.passed() {
            return Err(Error::Usage(format!("{} (gave up waiting)", what())));
        }
        let left = self.0.saturating_duration_since(Instant::now());
        tokio::time::sleep(POLL_EVERY.min(left)).await;
        Ok(())
    }
}
