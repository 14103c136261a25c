//! SQL `LIKE` patterns: `%` matches any run of characters, `_` exactly
//! one; everything else matches itself. Compiled once per expression.

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    One,
    Many,
}

/// A compiled `LIKE` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePattern {
    pieces: Vec<Piece>,
}

fn char_len_at(text: &str, at: usize) -> usize {
    text[at..].chars().next().map_or(1, char::len_utf8)
}

impl LikePattern {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Self {
        let mut pieces = Vec::new();
        let mut text = String::new();
        for c in pattern.chars() {
            let wildcard = match c {
                '%' => Piece::Many,
                '_' => Piece::One,
                c => {
                    text.push(c);
                    continue;
                }
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            if !(wildcard == Piece::Many && pieces.last() == Some(&Piece::Many)) {
                pieces.push(wildcard);
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Self { pieces }
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        let (mut piece, mut at) = (0usize, 0usize);
        // Where to resume after the last `%`: the piece after it, and the
        // text position it currently absorbs up to.
        let mut resume: Option<(usize, usize)> = None;
        loop {
            if piece < self.pieces.len() {
                match &self.pieces[piece] {
                    Piece::Many => {
                        resume = Some((piece + 1, at));
                        piece += 1;
                        continue;
                    }
                    Piece::One if at < text.len() => {
                        at += char_len_at(text, at);
                        piece += 1;
                        continue;
                    }
                    Piece::Text(s) if text[at..].starts_with(s.as_str()) => {
                        at += s.len();
                        piece += 1;
                        continue;
                    }
                    _ => {}
                }
            } else if at == text.len() {
                return true;
            }
            match resume {
                Some((next, from)) if from < text.len() => {
                    let from = from + char_len_at(text, from);
                    resume = Some((next, from));
                    piece = next;
                    at = from;
                }
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_in_sql() {
        let cases = [
            ("abc", "abc", true),
            ("abc", "ab", false),
            ("a%", "abc", true),
            ("%c", "abc", true),
            ("%b%", "abc", true),
            ("%x%", "abc", false),
            ("a_c", "abc", true),
            ("a_c", "ac", false),
            ("_é_", "aéb", true),
            ("%%", "", true),
            ("%a%a%", "banana", true),
            ("%ana", "banana", true),
            ("b%n_", "banana", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                LikePattern::new(pattern).matches(text),
                expected,
                "{text:?} LIKE {pattern:?}"
            );
        }
    }
}
