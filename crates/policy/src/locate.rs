//! Turning Cedar's byte offsets into the line and column an administrator looks for, and
//! rendering Cedar's diagnostics as single-line messages that carry them.

use miette::Diagnostic;

/// 1-based line and column of byte `offset` in `text`. Offsets past the end (or inside a
/// multi-byte character) are clamped rather than trusted, since they come from another crate.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = text.get(..end).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// "line 3, column 7: <message> (help: <help>)" for one diagnostic whose spans index `text`.
pub(crate) fn describe(text: &str, diagnostic: &dyn Diagnostic) -> String {
    let mut out = String::new();
    let first_label = diagnostic.labels().and_then(|mut labels| labels.next());
    if let Some(label) = first_label {
        let (line, column) = line_col(text, label.offset());
        out.push_str(&format!("line {line}, column {column}: "));
    }
    out.push_str(&diagnostic.to_string());
    if let Some(help) = diagnostic.help() {
        out.push_str(&format!(" (help: {help})"));
    }
    out
}

/// The start of a policy's text on one line, to name a policy that has no `@id`.
pub(crate) fn excerpt(policy_text: &str) -> String {
    const MAX_CHARS: usize = 60;
    let flat = policy_text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_CHARS {
        format!("`{flat}`")
    } else {
        format!("`{}...`", flat.chars().take(MAX_CHARS).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 5), (2, 3));
        // Inside "é" (two bytes): clamped back to its start.
        assert_eq!(line_col(text, 6), (2, 3));
        assert_eq!(line_col(text, 999), (3, 2));
    }

    #[test]
    fn excerpts_are_one_short_line() {
        assert_eq!(
            excerpt("permit (\n  principal,\n  action,\n  resource\n);"),
            "`permit ( principal, action, resource );`"
        );
        assert!(excerpt(&"x ".repeat(100)).ends_with("...`"));
    }
}
