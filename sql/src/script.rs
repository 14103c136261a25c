//! From script text to sqlparser statements, with the two pieces of
//! Flink's dialect that sqlparser does not read taken care of first, on
//! the tokens (so every position stays the one in the user's text):
//!
//! - `TABLE name` as a table function's argument (`TUMBLE(TABLE bid, …)`)
//!   becomes plain `name`, which the window planner reads as a table;
//! - a `WATERMARK FOR column AS expr` line in `CREATE TABLE` is cut out of
//!   the column list and parsed on its own.
//!
//! Statements are split at top-level semicolons, so one bad statement's
//! error names its own line.

use sqlparser::ast::{Expr, Ident, Statement};
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, Tokenizer};

use crate::error::{ErrorKind, Position, SqlError};

/// Largest script accepted, in bytes (as large as a job spec may be).
pub const MAX_SCRIPT_BYTES: usize = faro_runtime::spec::limits::MAX_SPEC_BYTES;

/// How deep sqlparser may recurse into one statement (parentheses,
/// subqueries, calls): deep enough for any query people write.
const RECURSION_LIMIT: usize = 64;

/// Most operators one statement may have. sqlparser reads a chain such
/// as `a + b + … + z` in a loop into a tree as deep as the chain is long,
/// and printing, cloning, planning and dropping the tree recurse down
/// it; with this bound (and [`RECURSION_LIMIT`]) no tree is deeper than
/// about 10,000 levels, which [`crate::Session`] plans on a stack made
/// for it.
pub const MAX_OPERATORS: usize = 10_000;

/// A `WATERMARK FOR column AS expr` clause of a `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct WatermarkClause {
    /// The event-time column.
    pub column: Ident,
    /// How the watermark follows it.
    pub expr: Expr,
    /// Where the clause is.
    pub span: Span,
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedStatement {
    /// The statement.
    pub statement: Statement,
    /// Its `WATERMARK` clause, for a `CREATE TABLE` that has one.
    pub watermark: Option<WatermarkClause>,
    /// Where it starts.
    pub span: Span,
}

/// Parses a script of `;`-separated statements.
pub fn parse_script(text: &str) -> Result<Vec<ParsedStatement>, SqlError> {
    if text.len() > MAX_SCRIPT_BYTES {
        return Err(SqlError {
            kind: ErrorKind::Invalid,
            message: format!(
                "the script is {} bytes, more than the {MAX_SCRIPT_BYTES} a script may have",
                text.len()
            ),
            at: None,
        });
    }
    let tokens = Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .map_err(|e| SqlError {
            kind: ErrorKind::Syntax,
            message: strip_location(&e.message),
            at: Position::at(e.location),
        })?;
    split_statements(tokens)
        .into_iter()
        .map(parse_statement)
        .collect()
}

/// Parses one statement's tokens.
fn parse_statement(tokens: Vec<TokenWithSpan>) -> Result<ParsedStatement, SqlError> {
    let span = tokens.first().map_or(Span::empty(), |t| t.span);
    let operators = tokens.iter().filter(|t| is_operator(&t.token)).count();
    if operators > MAX_OPERATORS {
        return Err(SqlError::new(
            ErrorKind::Invalid,
            span,
            format!("the statement has {operators} operators, more than the {MAX_OPERATORS} a statement may have"),
        ));
    }
    let mut tokens = unwrap_table_arguments(tokens);
    // An explicit end, placed after the last token, so "found: EOF" has a
    // position.
    let end = tokens.last().map_or(Location::new(0, 0), |t| t.span.end);
    tokens.push(TokenWithSpan::new(Token::EOF, Span::new(end, end)));
    let (tokens, watermark) = cut_watermark(tokens)?;
    let mut parser = parser(tokens);
    let statement = parser.parse_statement().map_err(syntax_error)?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(SqlError::new(
            ErrorKind::Syntax,
            next.span,
            format!("unexpected {} after the statement", next.token),
        ));
    }
    Ok(ParsedStatement {
        statement,
        watermark,
        span,
    })
}

fn parser(tokens: Vec<TokenWithSpan>) -> Parser<'static> {
    Parser::new(&GenericDialect {})
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens_with_locations(tokens)
}

/// The tokens of each statement: split at semicolons outside
/// parentheses, empty statements dropped.
fn split_statements(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut statements = Vec::new();
    let mut current = Vec::new();
    let mut depth = 0usize;
    for token in tokens {
        match token.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::SemiColon if depth == 0 => {
                statements.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(token);
    }
    statements.push(current);
    statements
        .into_iter()
        .filter(|s| s.iter().any(|t| !is_blank(&t.token)))
        .collect()
}

fn is_blank(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_))
}

fn is_keyword(token: &Token, keyword: Keyword) -> bool {
    matches!(token, Token::Word(w) if w.keyword == keyword && w.quote_style.is_none())
}

/// Whether `token` joins operands into a bigger expression.
fn is_operator(token: &Token) -> bool {
    const WORDS: &[&str] = &[
        "AND", "OR", "NOT", "IS", "LIKE", "ILIKE", "BETWEEN", "IN", "COLLATE", "AT", "ESCAPE",
        "SIMILAR",
    ];
    match token {
        Token::Word(w) => {
            w.quote_style.is_none() && WORDS.iter().any(|k| w.value.eq_ignore_ascii_case(k))
        }
        Token::Whitespace(_)
        | Token::Number(_, _)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::LParen
        | Token::RParen
        | Token::Comma
        | Token::Period
        | Token::SemiColon
        | Token::EOF => false,
        _ => true,
    }
}

/// Whether `token` is the unquoted word `word` (sqlparser has no keyword
/// for some of Flink's).
fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// `TABLE name` where a function argument starts becomes `name`.
fn unwrap_table_arguments(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let meaningful: Vec<usize> = (0..tokens.len())
        .filter(|&i| !is_blank(&tokens[i].token))
        .collect();
    let mut drop = vec![false; tokens.len()];
    for (k, &i) in meaningful.iter().enumerate() {
        if !is_keyword(&tokens[i].token, Keyword::TABLE) || k == 0 {
            continue;
        }
        let before = &tokens[meaningful[k - 1]].token;
        let after = meaningful.get(k + 1).map(|&j| &tokens[j].token);
        let opens_argument = matches!(before, Token::LParen | Token::Comma | Token::RArrow);
        if opens_argument && matches!(after, Some(Token::Word(_))) {
            drop[i] = true;
        }
    }
    tokens
        .into_iter()
        .zip(drop)
        .filter_map(|(t, d)| (!d).then_some(t))
        .collect()
}

/// Cuts a `WATERMARK FOR c AS expr` item out of a `CREATE TABLE`'s
/// column list and parses it.
fn cut_watermark(
    tokens: Vec<TokenWithSpan>,
) -> Result<(Vec<TokenWithSpan>, Option<WatermarkClause>), SqlError> {
    let words: Vec<usize> = (0..tokens.len())
        .filter(|&i| !is_blank(&tokens[i].token))
        .collect();
    let creates_table = words.len() > 2
        && is_keyword(&tokens[words[0]].token, Keyword::CREATE)
        && (is_keyword(&tokens[words[1]].token, Keyword::TABLE)
            || (is_keyword(&tokens[words[1]].token, Keyword::TEMPORARY)
                && is_keyword(&tokens[words[2]].token, Keyword::TABLE)));
    if !creates_table {
        return Ok((tokens, None));
    }
    // The item starts after `(` or `,` at depth 1 and ends before the
    // next `,` at depth 1 or the list's `)`.
    let mut depth = 0usize;
    let mut previous: Option<usize> = None;
    let mut start = None;
    for &i in &words {
        let token = &tokens[i].token;
        if depth == 1
            && start.is_none()
            && is_word(token, "WATERMARK")
            && previous.is_some_and(|p| matches!(tokens[p].token, Token::LParen | Token::Comma))
        {
            start = previous;
        }
        match token {
            Token::LParen => depth += 1,
            Token::RParen => {
                if depth == 1 {
                    if let Some(separator) = start {
                        return cut(tokens, separator, i, false);
                    }
                    break;
                }
                depth = depth.saturating_sub(1);
            }
            Token::Comma if depth == 1 => {
                if let Some(separator) = start {
                    return cut(tokens, separator, i, true);
                }
            }
            _ => {}
        }
        previous = Some(i);
    }
    Ok((tokens, None))
}

/// Removes the clause between `separator` (the `(` or `,` before it) and
/// `end` (the `,` or `)` after it), keeping the list well-formed.
fn cut(
    tokens: Vec<TokenWithSpan>,
    separator: usize,
    end: usize,
    ends_at_comma: bool,
) -> Result<(Vec<TokenWithSpan>, Option<WatermarkClause>), SqlError> {
    let clause: Vec<TokenWithSpan> = tokens[separator + 1..end].to_vec();
    let opens_list = matches!(tokens[separator].token, Token::LParen);
    // `(WATERMARK …, a INT)` loses the comma after it; `(a INT, WATERMARK …)`
    // the comma before it.
    let (from, to) = if opens_list && ends_at_comma {
        (separator + 1, end + 1)
    } else if opens_list {
        (separator + 1, end)
    } else {
        (separator, end)
    };
    let mut kept = tokens[..from].to_vec();
    kept.extend_from_slice(&tokens[to..]);
    let watermark = parse_watermark(clause)?;
    Ok((kept, Some(watermark)))
}

/// `WATERMARK FOR column AS expr`.
fn parse_watermark(mut clause: Vec<TokenWithSpan>) -> Result<WatermarkClause, SqlError> {
    let span = clause
        .iter()
        .find(|t| !is_blank(&t.token))
        .map_or(Span::empty(), |t| t.span);
    let end = clause.last().map_or(Location::new(0, 0), |t| t.span.end);
    clause.push(TokenWithSpan::new(Token::EOF, Span::new(end, end)));
    let mut parser = parser(clause);
    let parsed = (|| {
        let first = parser.next_token();
        if !is_word(&first.token, "WATERMARK") {
            return parser.expected("WATERMARK", first);
        }
        parser.expect_keyword(Keyword::FOR)?;
        let column = parser.parse_identifier()?;
        parser.expect_keyword(Keyword::AS)?;
        let expr = parser.parse_expr()?;
        Ok::<_, ParserError>((column, expr))
    })();
    let (column, expr) = parsed.map_err(syntax_error)?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(SqlError::new(
            ErrorKind::Syntax,
            next.span,
            format!("unexpected {} after the watermark", next.token),
        ));
    }
    Ok(WatermarkClause { column, expr, span })
}

/// A parser error as a syntax error at the position its message names.
fn syntax_error(error: ParserError) -> SqlError {
    let message = match &error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => {
            "the statement is nested too deeply (more than 64 levels)".to_string()
        }
    };
    SqlError {
        kind: ErrorKind::Syntax,
        at: location_in(&message),
        message: strip_location(&message),
    }
}

/// The `Line: L, Column: C` sqlparser writes into its messages.
fn location_in(message: &str) -> Option<Position> {
    let rest = &message[message.rfind("Line: ")? + "Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Position::at(Location::new(line.parse().ok()?, column.parse().ok()?))
}

/// `message` without sqlparser's ` at Line: …` (the error shows it first).
fn strip_location(message: &str) -> String {
    match message.rfind(" at Line: ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_and_unwraps_table_arguments() {
        let script = "SET 'a' = 'b';\n\nSELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(t), INTERVAL '1' SECOND));";
        let statements = parse_script(script).unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(
            statements[1].statement.to_string(),
            "SELECT * FROM TABLE(TUMBLE(bid, DESCRIPTOR(t), INTERVAL '1' SECOND))"
        );
    }

    #[test]
    fn cuts_the_watermark_out_of_create_table() {
        for script in [
            "CREATE TABLE t (a BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'nexmark')",
            "CREATE TABLE t (WATERMARK FOR ts AS ts - INTERVAL '5' SECOND, a BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'nexmark')",
            "CREATE TABLE t (a BIGINT, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND, ts TIMESTAMP(3)) WITH ('connector' = 'nexmark')",
        ] {
            let parsed = parse_script(script).unwrap().remove(0);
            let watermark = parsed.watermark.expect(script);
            assert_eq!(watermark.column.value, "ts");
            assert_eq!(watermark.expr.to_string(), "ts - INTERVAL '5' SECOND");
            let Statement::CreateTable(create) = parsed.statement else {
                panic!("{script}")
            };
            assert_eq!(create.columns.len(), 2, "{script}");
        }
    }

    #[test]
    fn syntax_errors_name_their_line_and_column() {
        let error = parse_script("SELECT 1;\nSELECT a FROM t WHERE;").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Syntax);
        assert_eq!(error.at.map(|p| p.line), Some(2), "{error}");
        assert!(!error.message.contains("Line:"), "{error}");
        let error = parse_script("SELECT 'open").unwrap_err();
        assert_eq!(error.at, Some(Position { line: 1, column: 8 }), "{error}");
        let error = parse_script("CREATE TABLE t (a INT, WATERMARK ts AS ts)").unwrap_err();
        assert!(error.message.contains("FOR"), "{error}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        let error = parse_script(&deep).unwrap_err();
        assert!(error.message.contains("nested"), "{error}");
    }
}
