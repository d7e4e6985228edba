//! Aligned columns for short reports (`describe`, `stats`), fitted to their
//! contents since the whole report is known before it is printed.

/// Renders `rows` indented by two spaces, columns two spaces apart; columns
/// listed in `right_aligned` (numbers) are padded on the left, and columns
/// empty in every row are left out.
pub fn aligned(rows: &[Vec<String>], right_aligned: &[usize]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for row in rows {
        let mut line = String::from(" ");
        for (column, cell) in row.iter().enumerate() {
            let width = widths[column];
            if width == 0 {
                continue;
            }
            line.push(' ');
            if right_aligned.contains(&column) {
                line.push_str(&format!("{cell:>width$}"));
            } else {
                line.push_str(&format!("{cell:width$}"));
            }
            line.push(' ');
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let rows = vec![
            vec!["user.login".to_owned(), "12".to_owned()],
            vec!["a".to_owned(), "3".to_owned()],
        ];
        assert_eq!(aligned(&rows, &[1]), "  user.login  12\n  a            3\n");
    }

    #[test]
    fn empty_columns_are_left_out() {
        let rows = vec![vec!["u1".to_owned(), String::new(), "7".to_owned()]];
        assert_eq!(aligned(&rows, &[2]), "  u1  7\n");
    }
}
