//! Line numbers for error messages. The parsed values carry no positions, so a
//! line is found by searching the text for what the message is about. Only the
//! error path searches, once, so validation stays linear in the text.

/// 1-based line of the `nth` (0-based) occurrence of `needle` standing as a whole
/// token (not inside a longer key or value, so `id: n1` does not match `id: n10`
/// or `node_id: n1`); 0 when there is none.
pub(super) fn line_of_nth(text: &str, needle: &str, nth: usize) -> usize {
    if needle.is_empty() {
        return 0;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == '.';
    let found = text.match_indices(needle).filter(|(at, _)| {
        let before = text[..*at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    });
    found
        .map(|(at, _)| at)
        .nth(nth)
        .map_or(0, |at| line_at(text, at))
}

/// 1-based line of the first whole-token occurrence of `needle` (0 if absent).
pub(super) fn line_of(text: &str, needle: &str) -> usize {
    line_of_nth(text, needle, 0)
}

/// 1-based line of byte `offset`.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_tokens_only() {
        let text = "nodes:\n  - node_id: n1\n  - id: n10\n  - id: n1\n  - id: n1\n";
        assert_eq!(line_of(text, "id: n1"), 4);
        assert_eq!(line_of_nth(text, "id: n1", 1), 5);
        assert_eq!(line_of_nth(text, "id: n1", 2), 0);
        assert_eq!(line_of(text, "nodes:"), 1);
        assert_eq!(line_of(text, "links:"), 0);
    }
}
