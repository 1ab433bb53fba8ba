//! Progress bars for transfers: bytes, rate and ETA on stderr, hidden when stderr is not a
//! terminal or with --quiet / --json.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A byte progress bar that may be hidden.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    visible: bool,
}

impl Progress {
    /// A bar for `total` bytes; hidden unless `wanted` and stderr is a terminal.
    pub fn bytes(total: u64, wanted: bool) -> Self {
        let visible = wanted && std::io::stderr().is_terminal();
        if !visible {
            return Self {
                bar: ProgressBar::hidden(),
                visible,
            };
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(
            "{msg:30!} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Self { bar, visible }
    }

    /// Bytes done.
    pub fn inc(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    /// Bytes counted that have to be sent again.
    pub fn dec(&self, bytes: u64) {
        self.bar.dec(bytes);
    }

    /// What is being worked on.
    pub fn set_message(&self, message: &str) {
        if self.visible {
            self.bar
                .set_message(crate::output::terminal_safe(message).into_owned());
        }
    }

    /// Prints a line of text output on stdout (escaped) without tearing the bar.
    pub fn println_stdout(&self, line: &str) {
        if self.visible {
            self.bar.suspend(|| crate::output::emit_text(line));
        } else {
            crate::output::emit_text(line);
        }
    }

    /// Prints a line on stderr (escaped) without tearing the bar.
    pub fn eprintln(&self, line: &str) {
        if self.visible {
            self.bar.suspend(|| crate::output::eprint_text(line));
        } else {
            crate::output::eprint_text(line);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
