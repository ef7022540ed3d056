//! Tables as v0.1.0 printed them: Go's tabwriter with a padding of 3 and a minimum cell width
//! (12 for `ps`, 20 for `images` and `history`); every column but the last is padded to its
//! widest cell.

/// Render `rows` (the header first) as aligned text, one line each, with `ps`'s minimum
/// width of 12.
pub fn render(rows: &[Vec<String>]) -> String {
    render_min(rows, 12)
}

/// [`render`] with a minimum cell width of `min` (padding included), as
/// `tabwriter.NewWriter(w, min, 1, 3, ' ', 0)`.
pub fn render_min(rows: &[Vec<String>], min: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                let w = (widths[i] + 3).max(min);
                out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn pads_all_but_the_last_column() {
        let t = super::render(&[
            vec!["ID".into(), "IMAGE".into(), "X".into()],
            vec!["abc".into(), "busybox:latest".into(), "y".into()],
        ]);
        assert_eq!(
            t,
            "ID          IMAGE            X\nabc         busybox:latest   y\n"
        );
    }

    #[test]
    fn images_columns_are_at_least_twenty_wide() {
        let t = super::render_min(
            &[
                vec!["REPOSITORY".into(), "TAG".into(), "ID".into()],
                vec![
                    "a-very-long-repository-name".into(),
                    "latest".into(),
                    "x".into(),
                ],
            ],
            20,
        );
        assert_eq!(
            t,
            format!(
                "{:<30}{:<20}ID\n{:<30}{:<20}x\n",
                "REPOSITORY", "TAG", "a-very-long-repository-name", "latest"
            )
        );
    }
}
