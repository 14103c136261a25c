//! `expression`: SQL expression text from a job spec, compiled with
//! `Expr::compile` against a fixed schema (`i` i64, `x` nullable f64, `s`
//! utf8, `b` bool, `t` timestamp) and, when it compiles, evaluated over
//! archived batches read through `BatchView` (as an operator reads its
//! input) holding edge values: 0, -1, i64::MIN, i64::MAX, NaN, ±inf,
//! -0.0, subnormals, empty and multi-byte text, nulls; with 10, 1 and 0
//! rows. `eval_column` and, for conditions, `eval_selection` run; an `Err`
//! is a fine answer, a panic or abort is a finding.
//!
//! A result column whose type or nullability disagrees with what the type
//! checker promised (operators build their output batches from it) is
//! printed as `INVARIANT:` on stderr, not treated as a crash.

#![no_main]

use std::sync::OnceLock;

use faro_runtime::expr::{EvalContext, Expr, Input, Ty};
use faro_runtime::{Batch, BatchBuilder, BatchView, DataType, Field, Schema, Value};
use libfuzzer_sys::fuzz_target;
use rkyv::util::AlignedVec;

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("i", DataType::Int64),
        Field::nullable("x", DataType::Float64),
        Field::new("s", DataType::Utf8),
        Field::new("b", DataType::Bool),
        Field::new("t", DataType::Timestamp),
    ])
}

fn rows() -> Vec<[Value; 5]> {
    let i = [
        0,
        -1,
        1,
        i64::MIN,
        i64::MAX,
        2,
        -2,
        3,
        1_000_000_007,
        i64::MIN + 1,
    ];
    let x = [
        Some(0.0),
        Some(-0.0),
        Some(f64::NAN),
        Some(f64::INFINITY),
        Some(f64::NEG_INFINITY),
        None,
        Some(1.5),
        Some(-2.5),
        Some(f64::MAX),
        Some(5e-324),
    ];
    let s = [
        "",
        "a",
        " padded ",
        "ÄÖü",
        "💥x",
        "123",
        "-9223372036854775808",
        "1e308",
        "%_\\",
        "NaN",
    ];
    let t = [
        0,
        -1,
        i64::MIN,
        i64::MAX,
        1_700_000_000_000,
        1,
        -86_400_000,
        253_402_300_799_999,
        86_400_000,
        i64::MIN + 1,
    ];
    (0..10)
        .map(|r| {
            [
                Value::Int64(i[r]),
                x[r].map_or(Value::Null, Value::Float64),
                Value::Utf8(s[r].to_string()),
                Value::Bool(r % 3 == 0),
                Value::Timestamp(t[r]),
            ]
        })
        .collect()
}

/// The archives of the 10-, 1- and 0-row batches, built once.
fn archives() -> &'static [AlignedVec] {
    static ARCHIVES: OnceLock<Vec<AlignedVec>> = OnceLock::new();
    ARCHIVES.get_or_init(|| {
        let all = rows();
        [10usize, 1, 0]
            .iter()
            .map(|&n| {
                let mut builder = BatchBuilder::new(schema(), n);
                for row in &all[..n] {
                    builder.push_row(row).expect("edge row");
                }
                builder.finish().expect("edge batch").to_bytes()
            })
            .collect()
    })
}

fn evaluate(expr: &Expr, text: &str) {
    for (k, archive) in archives().iter().enumerate() {
        let view = BatchView::new(archive).expect("edge batch archive");
        let context = EvalContext {
            seed: [0, 42, u64::MAX][k],
            first_row: [0, 1 << 40, 7][k],
        };
        let input = Input {
            columns: view.columns(),
            rows: view.num_rows(),
            context,
        };
        if let Ok(column) = expr.eval_column(&input) {
            let field = expr.field("out");
            if let Err(error) = Batch::new(Schema::new(vec![field]), input.rows, vec![column]) {
                eprintln!("INVARIANT: {text:?} over {} rows: {error}", input.rows);
            }
        }
        if expr.ty() == Ty::Bool {
            if let Ok(selection) = expr.eval_selection(&input) {
                assert_eq!(selection.len(), input.rows);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    let schema = SCHEMA.get_or_init(schema);
    match Expr::compile(text, schema) {
        Ok(expr) => {
            let _ = expr.field("out");
            evaluate(&expr, text);
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
