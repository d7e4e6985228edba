//! Progress bars for `import` and `export`, drawn on stderr only when it is
//! a terminal, so piped or logged runs stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Counts entries: a bar when the total is known, a spinner otherwise, with
/// the rate either way. Starts at `done` for a resumed export.
pub fn entries(total: Option<u64>, done: u64) -> ProgressBar {
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::with_draw_target(Some(total), target()),
            "{wide_bar} {human_pos}/{human_len} entries ({per_sec:0}, {eta} left)",
        ),
        None => (
            ProgressBar::with_draw_target(None, target()),
            "{spinner} {human_pos} entries ({per_sec:0}, {elapsed})",
        ),
    };
    bar.set_style(style(template));
    bar.set_position(done);
    bar
}

/// Measures a file read through, with the events sent so far as a message.
pub fn bytes(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), target());
    bar.set_style(style(
        "{wide_bar} {bytes}/{total_bytes}, {msg} ({eta} left)",
    ));
    bar.set_message("0 events");
    bar
}

fn target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

fn style(template: &str) -> ProgressStyle {
    // The templates are constants; a mistake in one costs the layout, not
    // the command.
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}
