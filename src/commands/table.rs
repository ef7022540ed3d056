//! Tables as v0.1.0 printed them (Go's tabwriter with a minimum width of 12 and a padding of
//! 3): every column but the last padded to its widest cell.

/// Render `rows` (the header first) as aligned text, one line each.
pub fn render(rows: &[Vec<String>]) -> String {
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
                let w = (widths[i] + 3).max(12);
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
}
