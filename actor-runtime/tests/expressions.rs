//! Expressions evaluated column-at-a-time agree with an independent,
//! row-at-a-time interpreter of the same syntax tree on random batches
//! with nulls (where the interpreter finds a row with no value, such as a
//! division by zero, evaluation must fail), and known expressions give
//! known answers.

use faro_runtime::expr::ast::{parse, Ast, BinaryOp, Literal};
use faro_runtime::expr::{EvalContext, Expr, Input};
use faro_runtime::{Batch, BatchBuilder, ColumnView, DataType, Field, Schema, Value};
use proptest::prelude::*;

fn schema() -> Schema {
    Schema::new(vec![
        Field::nullable("a", DataType::Int64),
        Field::new("b", DataType::Int64),
        Field::nullable("x", DataType::Float64),
        Field::nullable("s", DataType::Utf8),
        Field::nullable("flag", DataType::Bool),
    ])
}

type Row = (Option<i64>, i64, Option<f64>, Option<String>, Option<bool>);

fn batch(rows: &[Row]) -> Batch {
    let mut builder = BatchBuilder::new(schema(), rows.len());
    for (a, b, x, s, flag) in rows {
        builder
            .push_row(&[
                a.map_or(Value::Null, Value::Int64),
                Value::Int64(*b),
                x.map_or(Value::Null, Value::Float64),
                s.clone().map_or(Value::Null, Value::Utf8),
                flag.map_or(Value::Null, Value::Bool),
            ])
            .unwrap();
    }
    builder.finish().unwrap()
}

fn eval_rows(text: &str, batch: &Batch) -> Vec<Value> {
    try_eval_rows(text, batch).unwrap()
}

fn try_eval_rows(text: &str, batch: &Batch) -> Result<Vec<Value>, String> {
    let expr = Expr::compile(text, batch.schema()).unwrap();
    let columns: Vec<ColumnView<'_>> = (0..batch.columns().len())
        .map(|i| batch.column(i).unwrap())
        .collect();
    let input = Input {
        columns: &columns,
        rows: batch.num_rows(),
        context: EvalContext::default(),
    };
    let column = expr.eval_column(&input).map_err(|e| e.to_string())?;
    let out = Batch::new(
        Schema::new(vec![expr.field("out")]),
        batch.num_rows(),
        vec![column],
    )
    .expect("the result is a valid column of the declared type");
    let view = out.column(0).unwrap();
    Ok((0..out.num_rows()).map(|i| view.value(i)).collect())
}

// ---- the reference: row at a time over `Value`s ---------------------

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Int64(i) => Some(*i as f64),
        Value::Float64(f) => Some(*f),
        _ => None,
    }
}

fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// A row with no value (a division by zero, an overflow).
#[derive(Debug, PartialEq)]
struct NoValue;

fn logic(and: bool, values: &[Value]) -> Value {
    let dominant = !and;
    let truths: Vec<Option<bool>> = values.iter().map(truth).collect();
    if truths.contains(&Some(dominant)) {
        Value::Bool(dominant)
    } else if truths.iter().all(Option::is_some) {
        Value::Bool(!dominant)
    } else {
        Value::Null
    }
}

fn reference(ast: &Ast, row: &[Value], names: &[&str]) -> Result<Value, NoValue> {
    let r = |a: &Ast| reference(a, row, names);
    Ok(match ast {
        Ast::Column(name) => row[names.iter().position(|n| n == name).unwrap()].clone(),
        Ast::Literal(Literal::Null) => Value::Null,
        Ast::Literal(Literal::Bool(b)) => Value::Bool(*b),
        Ast::Literal(Literal::Int64(i)) => Value::Int64(*i),
        Ast::Literal(Literal::Float64(f)) => Value::Float64(*f),
        Ast::Literal(Literal::Utf8(s)) => Value::Utf8(s.clone()),
        Ast::Not(a) => truth(&r(a)?).map_or(Value::Null, |b| Value::Bool(!b)),
        Ast::IsNull { expr, negated } => Value::Bool((r(expr)? == Value::Null) != *negated),
        Ast::Chain(op, operands) => {
            let values = operands.iter().map(r).collect::<Result<Vec<_>, _>>()?;
            match op {
                BinaryOp::And | BinaryOp::Or => logic(*op == BinaryOp::And, &values),
                _ if values.contains(&Value::Null) => Value::Null,
                _ => Value::Utf8(
                    values
                        .iter()
                        .map(|v| match v {
                            Value::Utf8(s) => s.as_str(),
                            _ => unreachable!(),
                        })
                        .collect(),
                ),
            }
        }
        Ast::Binary(op, a, b) => {
            let (l, rr) = (r(a)?, r(b)?);
            match op {
                BinaryOp::And | BinaryOp::Or => logic(*op == BinaryOp::And, &[l, rr]),
                _ if l == Value::Null || rr == Value::Null => Value::Null,
                BinaryOp::Concat => match (l, rr) {
                    (Value::Utf8(x), Value::Utf8(y)) => Value::Utf8(x + &y),
                    _ => unreachable!(),
                },
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                    match (&l, &rr) {
                        (Value::Int64(x), Value::Int64(y)) => Value::Int64(
                            match op {
                                BinaryOp::Add => x.checked_add(*y),
                                BinaryOp::Sub => x.checked_sub(*y),
                                BinaryOp::Mul => x.checked_mul(*y),
                                BinaryOp::Div => x.checked_div(*y),
                                _ => x.checked_rem(*y),
                            }
                            .ok_or(NoValue)?,
                        ),
                        _ => {
                            let (x, y) = (num(&l).unwrap(), num(&rr).unwrap());
                            match op {
                                BinaryOp::Add => Value::Float64(x + y),
                                BinaryOp::Sub => Value::Float64(x - y),
                                BinaryOp::Mul => Value::Float64(x * y),
                                _ if y == 0.0 => return Err(NoValue),
                                BinaryOp::Div => Value::Float64(x / y),
                                _ => Value::Float64(x % y),
                            }
                        }
                    }
                }
                _ => {
                    let ordering = match (&l, &rr) {
                        (Value::Utf8(x), Value::Utf8(y)) => x.as_bytes().cmp(y.as_bytes()),
                        (Value::Int64(x), Value::Int64(y)) => x.cmp(y),
                        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
                        // NaN is one value, above every number.
                        _ => {
                            let (x, y) = (num(&l).unwrap(), num(&rr).unwrap());
                            match (x.is_nan(), y.is_nan()) {
                                (true, true) => std::cmp::Ordering::Equal,
                                (true, false) => std::cmp::Ordering::Greater,
                                (false, true) => std::cmp::Ordering::Less,
                                _ => x.partial_cmp(&y).unwrap(),
                            }
                        }
                    };
                    use std::cmp::Ordering::*;
                    Value::Bool(match op {
                        BinaryOp::Eq => ordering == Equal,
                        BinaryOp::NotEq => ordering != Equal,
                        BinaryOp::Lt => ordering == Less,
                        BinaryOp::LtEq => ordering != Greater,
                        BinaryOp::Gt => ordering == Greater,
                        _ => ordering != Less,
                    })
                }
            }
        }
        Ast::InList {
            expr,
            list,
            negated,
        } => {
            let value = r(expr)?;
            let candidates = list.iter().map(r).collect::<Result<Vec<_>, _>>()?;
            let equal = |c: &Value| match (num(&value), num(c)) {
                (Some(x), Some(y)) => x == y,
                _ => *c == value,
            };
            if value == Value::Null {
                Value::Null
            } else if candidates.iter().any(equal) {
                Value::Bool(!negated)
            } else if candidates.contains(&Value::Null) {
                Value::Null
            } else {
                Value::Bool(*negated)
            }
        }
        Ast::Case {
            whens, otherwise, ..
        } => {
            for (condition, result) in whens {
                if truth(&r(condition)?) == Some(true) {
                    return Ok(widen(r(result)?, ast, names));
                }
            }
            match otherwise {
                Some(o) => widen(r(o)?, ast, names),
                None => Value::Null,
            }
        }
        Ast::Call(name, args) => {
            let args = args.iter().map(r).collect::<Result<Vec<Value>, _>>()?;
            match (name.as_str(), args.as_slice()) {
                ("lower", [Value::Utf8(s)]) => Value::Utf8(s.to_lowercase()),
                ("upper", [Value::Utf8(s)]) => Value::Utf8(s.to_uppercase()),
                ("length", [Value::Utf8(s)]) => Value::Int64(s.chars().count() as i64),
                ("abs", [Value::Int64(i)]) => Value::Int64(i.checked_abs().ok_or(NoValue)?),
                ("abs", [Value::Float64(f)]) => Value::Float64(f.abs()),
                ("coalesce", args) => args
                    .iter()
                    .find(|v| **v != Value::Null)
                    .cloned()
                    .unwrap_or(Value::Null),
                (_, args) if args.contains(&Value::Null) => Value::Null,
                other => panic!("the reference has no {other:?}"),
            }
        }
        other => panic!("the reference does not interpret {other:?}"),
    })
}

/// CASE results of mixed numeric types are doubles.
fn widen(value: Value, case: &Ast, _names: &[&str]) -> Value {
    let Ast::Case {
        whens, otherwise, ..
    } = case
    else {
        return value;
    };
    let any_float = whens
        .iter()
        .map(|(_, r)| r)
        .chain(otherwise.as_deref())
        .any(|r| matches!(r, Ast::Literal(Literal::Float64(_)) | Ast::Column(_) if is_float(r)));
    match value {
        Value::Int64(i) if any_float => Value::Float64(i as f64),
        other => other,
    }
}

fn is_float(ast: &Ast) -> bool {
    matches!(ast, Ast::Literal(Literal::Float64(_))) || *ast == Ast::Column("x".into())
}

const EXPRESSIONS: &[&str] = &[
    "a + b",
    "a - b * 3",
    "a / b",
    "a % 7",
    "b % 5 = 0",
    "x * 0.908",
    "a + x",
    "x / b",
    "a < b",
    "a >= 10 AND s <> 'x'",
    "flag OR a > 0",
    "NOT flag",
    "a IS NULL",
    "s IS NOT NULL AND flag",
    "CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'zero' END",
    "CASE WHEN flag THEN b ELSE x END",
    "CASE WHEN b > 100 THEN a END",
    "s || '!'",
    "upper(s)",
    "lower(s)",
    "length(s)",
    "abs(a)",
    "coalesce(a, b)",
    "s < 'm'",
    "x = x",
    "a IN (1, 2, 3, -4)",
    "a NOT IN (1, NULL)",
    "s IN ('a', 'x', 'mm')",
    "x IN (0.5, 1)",
    "flag AND a > 0 AND b < 3 AND s IS NULL",
    "a > 10 OR b > 10 OR x > 1 OR flag",
    "s || '-' || s || upper(s)",
];

fn text() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "",
        "a",
        "x",
        "m",
        "Zebra",
        "émile",
        "mm",
        "hello world",
    ])
    .prop_map(str::to_string)
}

fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            prop::option::of(-50i64..50),
            -120i64..120,
            prop::option::of(-5.0f64..5.0),
            prop::option::of(text()),
            prop::option::of(any::<bool>()),
        ),
        0..40,
    )
}

proptest! {
    #[test]
    fn columnar_evaluation_matches_the_row_reference(rows in rows()) {
        let batch = batch(&rows);
        let names = ["a", "b", "x", "s", "flag"];
        let view: Vec<ColumnView<'_>> = (0..5).map(|i| batch.column(i).unwrap()).collect();
        for text in EXPRESSIONS {
            let ast = parse(text).unwrap();
            let wanted: Result<Vec<Value>, NoValue> = (0..batch.num_rows())
                .map(|i| {
                    let row: Vec<Value> = view.iter().map(|c| c.value(i)).collect();
                    reference(&ast, &row, &names)
                })
                .collect();
            match (try_eval_rows(text, &batch), wanted) {
                (Ok(got), Ok(want)) => prop_assert_eq!(got, want, "{}", text),
                (Err(_), Err(NoValue)) => {}
                (got, want) => prop_assert!(false, "{}: got {:?}, the reference {:?}", text, got, want),
            }
        }
    }
}

#[test]
fn known_answers() {
    let batch = batch(&[
        (Some(7), 2, Some(1.5), Some("Bid".into()), Some(true)),
        (None, 0, None, None, None),
    ]);
    assert_eq!(
        eval_rows("a / b", &batch),
        [Value::Int64(3), Value::Null],
        "integer division; a null operand's row is null, not a division by zero"
    );
    assert_eq!(
        eval_rows("CAST(a AS DOUBLE) / b", &batch),
        [Value::Float64(3.5), Value::Null]
    );
    assert_eq!(
        eval_rows("lower(s) LIKE 'b_d%'", &batch),
        [Value::Bool(true), Value::Null]
    );
    assert_eq!(
        eval_rows("b BETWEEN 1 AND 2", &batch),
        [Value::Bool(true), Value::Bool(false)]
    );
    assert_eq!(
        eval_rows("b IN (0, 5)", &batch),
        [Value::Bool(false), Value::Bool(true)]
    );
    assert_eq!(
        eval_rows("substr(s, 2, 1) || concat(a, '-', b)", &batch),
        [Value::Utf8("i7-2".into()), Value::Null]
    );
    assert_eq!(
        eval_rows("trim('  a ') || upper(s)", &batch),
        [Value::Utf8("aBID".into()), Value::Null]
    );
    assert_eq!(
        eval_rows("floor(x) + ceil(x)", &batch),
        [Value::Float64(3.0), Value::Null]
    );
    assert_eq!(
        eval_rows("CAST(b AS VARCHAR)", &batch),
        [Value::Utf8("2".into()), Value::Utf8("0".into())]
    );
}

#[test]
fn generated_values_depend_on_seed_and_row_position_only() {
    let schema = Schema::new(vec![Field::new("i", DataType::Int64)]);
    let column = |start: i64, rows: i64| {
        let mut builder = BatchBuilder::new(schema.clone(), rows as usize);
        for i in start..start + rows {
            builder.push_row(&[Value::Int64(i)]).unwrap();
        }
        builder.finish().unwrap()
    };
    let run = |batch: &Batch, seed: u64, first_row: u64| {
        let expr = Expr::compile("random_int(0, 1000) + hash(i) % 2", &schema).unwrap();
        let views = vec![batch.column(0).unwrap()];
        let input = Input {
            columns: &views,
            rows: batch.num_rows(),
            context: EvalContext { seed, first_row },
        };
        expr.eval_column(&input).unwrap()
    };
    let whole = run(&column(0, 10), 7, 0);
    let tail = run(&column(5, 5), 7, 5);
    let faro_runtime::ColumnData::Int64(whole) = whole.data else {
        panic!()
    };
    let faro_runtime::ColumnData::Int64(tail) = tail.data else {
        panic!()
    };
    assert_eq!(&whole[5..], &tail[..], "the same rows, split differently");
    assert!(whole.iter().all(|v| (0..1001).contains(v)));
    let other_seed = run(&column(0, 10), 8, 0);
    assert_ne!(other_seed.data, faro_runtime::ColumnData::Int64(whole));
}

#[test]
fn a_bad_cast_names_the_value() {
    let schema = Schema::new(vec![Field::new("s", DataType::Utf8)]);
    let mut builder = BatchBuilder::new(schema.clone(), 1);
    builder.push_row(&[Value::Utf8("12x".into())]).unwrap();
    let batch = builder.finish().unwrap();
    let expr = Expr::compile("CAST(s AS BIGINT)", &schema).unwrap();
    let views = vec![batch.column(0).unwrap()];
    let input = Input {
        columns: &views,
        rows: 1,
        context: EvalContext::default(),
    };
    assert_eq!(
        expr.eval_column(&input).unwrap_err().to_string(),
        "cannot cast \"12x\" to i64 in \"CAST(s AS BIGINT)\" at the row where s = \"12x\""
    );
}

#[test]
fn trim_of_a_column_is_strs_trim_for_words_spaces_and_other_whitespace() {
    let texts = [
        "word",
        " word",
        "word ",
        "a",
        "",
        "  ",
        "é",
        "é ",
        " x é",
        "\u{2003}em\u{2003}",
        "tab\t",
        "\u{a0}nbsp",
        "mid dle",
    ];
    let rows: Vec<Row> = texts
        .iter()
        .map(|t| (None, 0, None, Some(t.to_string()), None))
        .collect();
    let expected: Vec<Value> = texts.iter().map(|t| Value::Utf8(t.trim().into())).collect();
    assert_eq!(eval_rows("trim(s)", &batch(&rows)), expected);
}

#[test]
fn case_changes_match_rusts_for_all_ascii_columns_and_mixed_ones_keeping_nulls() {
    let column = |texts: &[Option<&str>]| -> Vec<Row> {
        texts
            .iter()
            .map(|t| (None, 0, None, t.map(str::to_string), None))
            .collect()
    };
    let ascii = [Some("MiXeD Case"), None, Some(""), Some("abc-XYZ 42")];
    let mixed = [Some("MiXeD"), None, Some("ÉTÉ ß"), Some("abc")];
    for texts in [&ascii[..], &mixed[..]] {
        let rows = batch(&column(texts));
        let expect = |f: fn(&str) -> String| -> Vec<Value> {
            texts
                .iter()
                .map(|t| t.map_or(Value::Null, |t| Value::Utf8(f(t))))
                .collect()
        };
        assert_eq!(eval_rows("lower(s)", &rows), expect(str::to_lowercase));
        assert_eq!(eval_rows("upper(s)", &rows), expect(str::to_uppercase));
        assert_eq!(
            eval_rows("lower(trim(s))", &rows),
            expect(|t| t.trim().to_lowercase())
        );
    }
}
