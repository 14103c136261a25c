//! What a SQL user is told when a statement cannot run: the kind of
//! problem, a message naming what was wrong, and where in the text it is
//! (line and column, 1-based, as sqlparser counts them).

use sqlparser::tokenizer::{Location, Span};

/// Where in the SQL text something is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl Position {
    /// The start of `span`, if sqlparser knows it (it records 0 for
    /// nodes it made up).
    pub fn of(span: Span) -> Option<Self> {
        Self::at(span.start)
    }

    /// `location`, if it is a real one.
    pub fn at(location: Location) -> Option<Self> {
        (location.line > 0).then_some(Self {
            line: location.line,
            column: location.column,
        })
    }
}

/// What kind of problem a statement has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not SQL the parser reads.
    Syntax,
    /// A table, view, column or function that does not exist.
    UnknownName,
    /// Types that do not fit (an expression the engine refuses).
    Type,
    /// SQL that Faro does not run (yet), named.
    Unsupported,
    /// A statement that is well-formed but wrong: bad options, a streaming
    /// query that needs a watermark, a name defined twice.
    Invalid,
}

/// A statement that cannot be planned, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", at.map(|p| format!("line {}, column {}: ", p.line, p.column)).unwrap_or_default())]
pub struct SqlError {
    /// The kind of problem.
    pub kind: ErrorKind,
    /// What was wrong, naming it.
    pub message: String,
    /// Where, when known.
    pub at: Option<Position>,
}

impl SqlError {
    /// A `kind` error at `span`.
    pub fn new(kind: ErrorKind, span: Span, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            at: Position::of(span),
        }
    }

    /// An unsupported construct at `span`.
    pub fn unsupported(span: Span, what: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            span,
            format!("{what} is not supported"),
        )
    }

    /// An invalid statement at `span`.
    pub fn invalid(span: Span, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, span, message)
    }

    /// The error with the line of `text` it is at and a caret under its
    /// column, as a terminal shows it.
    pub fn pointed(&self, text: &str) -> String {
        let Some(at) = self.at else {
            return self.to_string();
        };
        let Some(line) = text.lines().nth((at.line as usize).saturating_sub(1)) else {
            return self.to_string();
        };
        let column = (at.column as usize).saturating_sub(1);
        let indent: String = line
            .chars()
            .take(column)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{self}\n  {line}\n  {indent}^")
    }

    /// The same error at `span` if it has no position yet.
    pub fn or_at(mut self, span: Span) -> Self {
        if self.at.is_none() {
            self.at = Position::of(span);
        }
        self
    }
}

/// The closest of `candidates` to `name`, if one is close enough to be
/// a likely typo (edit distance at most a third of the name, at least 1).
pub fn suggestion<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wanted = name.to_lowercase();
    let limit = (wanted.chars().count().div_ceil(3)).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&wanted, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean "x"?)`, or nothing.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggestion(name, candidates)
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(suggestion("prcie", ["price", "auction"]), Some("price"));
        assert_eq!(suggestion("Auction", ["price", "auction"]), Some("auction"));
        assert_eq!(suggestion("zzz", ["price", "auction"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn shows_the_position_first() {
        let error = SqlError {
            kind: ErrorKind::UnknownName,
            message: "no column x".into(),
            at: Some(Position { line: 2, column: 7 }),
        };
        assert_eq!(error.to_string(), "line 2, column 7: no column x");
        assert_eq!(
            error.pointed("SELECT a\nFROM  x"),
            "line 2, column 7: no column x\n  FROM  x\n        ^"
        );
    }
}
