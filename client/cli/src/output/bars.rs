//! Horizontal bars from Unicode blocks, in eighths of a column, for the
//! stats histogram.

use std::io::IsTerminal;

/// Bar width when stdout is not a terminal, so piped output is stable.
pub const DEFAULT_WIDTH: usize = 50;
/// Narrowest bar worth drawing on a small terminal.
const MIN_WIDTH: usize = 10;

/// Blocks one to seven eighths wide.
const PARTIAL: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const FULL: char = '█';

/// Returns the columns left for a bar after `used` columns of labels: the
/// terminal's width on a terminal, [`DEFAULT_WIDTH`] otherwise.
pub fn width_after(used: usize) -> usize {
    if !std::io::stdout().is_terminal() {
        return DEFAULT_WIDTH;
    }
    match console::Term::stdout().size_checked() {
        // One column spare: a line exactly as wide as the terminal wraps on some.
        Some((_rows, columns)) => usize::from(columns).saturating_sub(used + 1).max(MIN_WIDTH),
        None => DEFAULT_WIDTH,
    }
}

/// Draws `count` as a bar where `max` fills `width` columns; any non-zero
/// count shows at least a sliver.
pub fn bar(count: i64, max: i64, width: usize) -> String {
    if count <= 0 || max <= 0 || width == 0 {
        return String::new();
    }
    let eighths = (count as f64 / max as f64 * width as f64 * 8.0).round() as usize;
    let eighths = eighths.clamp(1, width * 8);
    let mut bar: String = std::iter::repeat_n(FULL, eighths / 8).collect();
    let remainder = eighths % 8;
    if remainder != 0 {
        bar.push(PARTIAL[remainder]);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_count_fills_the_width() {
        assert_eq!(bar(10, 10, 5), "█████");
        assert_eq!(bar(5, 10, 5), "██▌");
        assert_eq!(bar(1, 1000, 5), "▏");
        assert_eq!(bar(0, 10, 5), "");
    }
}
