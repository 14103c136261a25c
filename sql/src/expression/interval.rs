//! `INTERVAL` literals as milliseconds: window sizes, watermark delays,
//! join bounds and timestamp arithmetic all take them.

use sqlparser::ast as sql;
use sqlparser::tokenizer::Span;

use crate::error::SqlError;

/// Milliseconds of `INTERVAL 'n' UNIT` (or `INTERVAL 'n unit'`).
pub fn interval_ms(interval: &sql::Interval, span: Span) -> Result<i64, SqlError> {
    use sql::DateTimeField as F;
    let bad = || {
        SqlError::invalid(
            span,
            format!("cannot read INTERVAL {interval} (write INTERVAL '10' SECOND)"),
        )
    };
    if interval.last_field.is_some() {
        return Err(SqlError::unsupported(
            span,
            format!("the interval range {interval}"),
        ));
    }
    let text = match interval.value.as_ref() {
        sql::Expr::Value(v) => match &v.value {
            sql::Value::SingleQuotedString(s) => s.trim().to_string(),
            sql::Value::Number(n, _) => n.clone(),
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    let (number, unit) = match &interval.leading_field {
        Some(field) => (text.as_str(), unit_ms(field).ok_or_else(bad)?),
        None => {
            let (number, unit) = text.split_once(char::is_whitespace).ok_or_else(bad)?;
            let field = match unit.trim().to_lowercase().trim_end_matches('s') {
                "millisecond" => F::Millisecond,
                "second" => F::Second,
                "minute" => F::Minute,
                "hour" => F::Hour,
                "day" => F::Day,
                _ => return Err(bad()),
            };
            (number, unit_ms(&field).ok_or_else(bad)?)
        }
    };
    let n: i64 = number.trim().parse().map_err(|_| bad())?;
    n.checked_mul(unit).filter(|ms| *ms > 0).ok_or_else(|| {
        SqlError::invalid(
            span,
            format!("INTERVAL {interval} must be positive and fit in milliseconds"),
        )
    })
}

fn unit_ms(field: &sql::DateTimeField) -> Option<i64> {
    use sql::DateTimeField as F;
    Some(match field {
        F::Millisecond | F::Milliseconds => 1,
        F::Second | F::Seconds => 1_000,
        F::Minute | F::Minutes => 60_000,
        F::Hour | F::Hours => 3_600_000,
        F::Day | F::Days => 86_400_000,
        _ => return None,
    })
}
