//! Expressions as a hostile or careless user writes them: flat chains of
//! thousands of operators, deep nesting, huge `IN` lists, and values at
//! the edge of their types. None may exhaust a thread's stack (each case
//! runs on a thread with a small stack, smaller than any thread Faro runs
//! expressions on); what cannot be computed is an error naming the
//! expression and the row, never a wrapped or silently null number.

use faro_runtime::expr::ast::{MAX_DEPTH, MAX_TOKENS};
use faro_runtime::expr::{EvalContext, Expr, ExprError, Input};
use faro_runtime::{Batch, BatchBuilder, DataType, Field, Schema, Value};

/// Smaller than the 2 MiB of tokio's and actix's threads.
const SMALL_STACK: usize = 512 << 10;

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("a thread starts")
        .join()
        .expect("no stack overflow or panic")
}

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("i", DataType::Int64),
        Field::nullable("x", DataType::Float64),
        Field::new("s", DataType::Utf8),
    ])
}

fn make(rows: &[(i64, Option<f64>, &str)]) -> Batch {
    let mut builder = BatchBuilder::new(schema(), rows.len());
    for (i, x, s) in rows {
        builder
            .push_row(&[
                Value::Int64(*i),
                x.map_or(Value::Null, Value::Float64),
                Value::Utf8((*s).into()),
            ])
            .unwrap();
    }
    builder.finish().unwrap()
}

/// Compiles `text` and evaluates it over `batch`: its values, or the
/// error's message.
fn run(text: &str, batch: &Batch) -> Result<Vec<Value>, String> {
    let expr = Expr::compile(text, batch.schema()).map_err(|e| e.to_string())?;
    let columns: Vec<_> = (0..batch.columns().len())
        .map(|c| batch.column(c).unwrap())
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
    .map_err(|e| e.to_string())?;
    let view = out.column(0).unwrap();
    Ok((0..out.num_rows()).map(|r| view.value(r)).collect())
}

fn rows() -> Batch {
    make(&[(1, Some(0.5), "a"), (2, None, "b"), (3, Some(-1.0), "c")])
}

fn joined(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

#[test]
fn long_chains_of_and_or_and_concat_evaluate_flat() {
    on_small_stack(|| {
        let batch = rows();
        let or = (0..3000)
            .map(|k| format!("i = {k}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        assert_eq!(run(&or, &batch).unwrap(), vec![Value::Bool(true); 3]);
        let and = joined("i > 0", " AND ", 3000);
        assert_eq!(run(&and, &batch).unwrap(), vec![Value::Bool(true); 3]);
        let concat = joined("s", " || ", 3000);
        let got = run(&concat, &batch).unwrap();
        assert_eq!(got[1], Value::Utf8("b".repeat(3000)));
    });
}

#[test]
fn an_in_list_of_thousands_of_values_is_one_lookup() {
    on_small_stack(|| {
        let list = (2..2002).map(|k| k.to_string()).collect::<Vec<_>>();
        let text = format!("i IN ({})", list.join(", "));
        assert_eq!(
            run(&text, &rows()).unwrap(),
            [Value::Bool(false), Value::Bool(true), Value::Bool(true)]
        );
        let text = format!("i NOT IN ({}, NULL)", list.join(", "));
        assert_eq!(
            run(&text, &rows()).unwrap(),
            [Value::Null, Value::Bool(false), Value::Bool(false)]
        );
    });
}

#[test]
fn a_flat_arithmetic_chain_deeper_than_the_limit_is_refused_by_name() {
    on_small_stack(|| {
        let batch = rows();
        let fits = joined("i", " + ", MAX_DEPTH);
        assert_eq!(
            run(&fits, &batch).unwrap()[0],
            Value::Int64(MAX_DEPTH as i64)
        );
        for text in [
            joined("i", " + ", 1500),
            joined("i", " * ", 4000),
            joined("x", " - ", 1500),
            format!("{} IS NULL", joined("i", " + ", 3000)),
        ] {
            let error = Expr::compile(&text, &schema()).unwrap_err();
            assert!(matches!(error, ExprError::TooLarge { .. }), "{error}");
            let message = error.to_string();
            assert!(
                message.contains(&format!("nested more than {MAX_DEPTH} levels")),
                "{message}"
            );
            assert!(
                message.len() < 600,
                "the message quotes an excerpt: {message}"
            );
        }
    });
}

#[test]
fn expressions_beyond_the_token_limit_are_refused_before_parsing() {
    on_small_stack(|| {
        let text = format!("i IN ({})", vec!["1"; MAX_TOKENS].join(", "));
        let message = Expr::compile(&text, &schema()).unwrap_err().to_string();
        assert!(message.contains("tokens, more than the"), "{message}");
        // Deep parentheses are cut off by the parser's own limit.
        let nested = format!("{}i{}", "(".repeat(1000), ")".repeat(1000));
        let message = Expr::compile(&nested, &schema()).unwrap_err().to_string();
        assert!(message.contains("cannot parse"), "{message}");
        let negations = format!("{}i", "- ".repeat(5000));
        assert!(Expr::compile(&negations, &schema()).is_err());
        // The longest chains the token limit lets through are taken apart
        // without deep recursion, whatever their shape.
        for chain in [
            joined("i", " + ", MAX_TOKENS / 2),
            format!("i{}", " IS NULL".repeat(MAX_TOKENS / 3)),
            format!("i{}", "::BIGINT".repeat(MAX_TOKENS / 3)),
            format!("i{}", " IN (1)".repeat(MAX_TOKENS / 5)),
            format!("s{}", " LIKE 'a'".repeat(MAX_TOKENS / 3)),
            format!("i{}", " BETWEEN 1 AND 2".repeat(MAX_TOKENS / 5)),
        ] {
            assert!(
                Expr::compile(&chain, &schema()).is_err(),
                "{}",
                &chain[..40]
            );
        }
    });
}

#[test]
fn integer_overflow_is_an_error_naming_the_expression_and_the_row() {
    let max = make(&[(0, None, "a"), (i64::MAX, None, "b")]);
    let message = run("i + 1", &max).unwrap_err();
    assert_eq!(
        message,
        "BIGINT overflow: 9223372036854775807 + 1 in \"i + 1\" at the row where i = 9223372036854775807"
    );
    assert!(run("i * 2", &max)
        .unwrap_err()
        .contains("BIGINT overflow: 9223372036854775807 * 2"));
    assert!(run("-i - 2", &max).unwrap_err().contains("BIGINT overflow"));
    assert_eq!(
        run("9223372036854775807 + 1", &max).unwrap_err(),
        "BIGINT overflow: 9223372036854775807 + 1 in \"9223372036854775807 + 1\""
    );
    let min = batch_min();
    assert!(run("abs(i)", &min)
        .unwrap_err()
        .contains("BIGINT overflow: abs(-9223372036854775808)"));
    assert!(run("-i", &min)
        .unwrap_err()
        .contains("BIGINT overflow: -(-9223372036854775808)"));
    assert!(run("i / -1", &min).unwrap_err().contains("BIGINT overflow"));
    assert_eq!(run("i % -1", &min).unwrap(), [Value::Int64(0)]);
    assert_eq!(
        run("-9223372036854775808", &min).unwrap(),
        [Value::Int64(i64::MIN)]
    );
    // A row that is null anyway does not overflow.
    let nulls = make(&[(i64::MAX, None, "a")]);
    assert_eq!(run("CAST(x AS BIGINT) + i", &nulls).unwrap(), [Value::Null]);
}

fn batch_min() -> Batch {
    make(&[(i64::MIN, None, "a")])
}

#[test]
fn division_by_zero_is_an_error_for_integers_and_doubles() {
    let batch = make(&[(4, Some(2.0), "a"), (0, Some(0.0), "b")]);
    assert_eq!(
        run("10 / i", &batch).unwrap_err(),
        "division by zero: 10 / 0 in \"10 / i\" at the row where i = 0"
    );
    assert!(run("i % i", &batch)
        .unwrap_err()
        .contains("division by zero"));
    assert!(run("1.0 / x", &batch)
        .unwrap_err()
        .contains("division by zero: 1 / 0"));
    assert_eq!(
        run("CASE WHEN i = 0 THEN 0 ELSE 8 / i END", &batch).unwrap_err(),
        "division by zero: 8 / 0 in \"CASE WHEN i = 0 THEN 0 ELSE 8 / i END\" at the row where i = 0",
        "CASE evaluates every branch column-at-a-time"
    );
}

#[test]
fn nan_and_infinity_are_values_with_one_consistent_meaning() {
    let batch = make(&[
        (0, Some(f64::NAN), "a"),
        (1, Some(f64::INFINITY), "b"),
        (2, Some(1.5), "c"),
    ]);
    assert!(run("CAST(x AS BIGINT)", &batch)
        .unwrap_err()
        .starts_with("cannot cast NaN to i64"));
    let big = batch_with_x(1e300);
    assert!(run("CAST(x AS BIGINT)", &big)
        .unwrap_err()
        .contains("cannot cast 1e300 to i64"));
    assert_eq!(
        run("CAST(x AS BIGINT)", &batch_with_x(-2.7)).unwrap(),
        [Value::Int64(-2)]
    );
    let rounded = run("round(x)", &batch).unwrap();
    assert!(matches!(rounded[0], Value::Float64(v) if v.is_nan()));
    assert_eq!(
        rounded[1..],
        [Value::Float64(f64::INFINITY), Value::Float64(2.0)]
    );
    assert_eq!(
        run("x = x", &batch).unwrap(),
        vec![Value::Bool(true); 3],
        "NaN equals itself"
    );
    assert_eq!(
        run("x > 1e308", &batch).unwrap(),
        [Value::Bool(true), Value::Bool(true), Value::Bool(false)],
        "NaN is above every number"
    );
    assert_eq!(
        run("CAST(x AS VARCHAR)", &batch).unwrap(),
        [
            Value::Utf8("NaN".into()),
            Value::Utf8("Infinity".into()),
            Value::Utf8("1.5".into())
        ]
    );
    let parsed = run("CAST(CAST(x AS VARCHAR) AS DOUBLE)", &batch).unwrap();
    assert_eq!(
        parsed[1..],
        [Value::Float64(f64::INFINITY), Value::Float64(1.5)]
    );
    assert_eq!(
        run("sqrt(-1.0) = sqrt(-1.0)", &batch).unwrap(),
        vec![Value::Bool(true); 3]
    );
    assert_eq!(
        run("ln(0.0)", &batch).unwrap()[0],
        Value::Float64(f64::NEG_INFINITY)
    );
}

fn batch_with_x(x: f64) -> Batch {
    make(&[(0, Some(x), "a")])
}

#[test]
fn constants_evaluate_over_an_empty_batch() {
    let empty = make(&[]);
    for text in ["3 % 8", "1 + 1", "1.5 * 2.0", "2 > 1", "-(4)", "'a' || 'b'"] {
        assert_eq!(run(text, &empty).unwrap(), Vec::<Value>::new(), "{text}");
    }
}
