//! One value of a row, for row-wise building and reading back, and how a
//! value is written out: as text (tables, CSV, `CAST … AS VARCHAR`) and as
//! JSON (results, JSON-lines files). Every place that writes a value goes
//! through here, so a double reads the same everywhere.
//!
//! JSON has no NaN or infinity; they are written as the strings `"NaN"`,
//! `"Infinity"` and `"-Infinity"` (what Spark and Jackson write), never
//! as `null`, which would be a different value.

use std::fmt;

/// One value of a row, for row-wise building and reading back.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Absent.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int64(i64),
    /// A 64-bit float.
    Float64(f64),
    /// Text.
    Utf8(String),
    /// Bytes.
    Binary(Vec<u8>),
    /// Milliseconds since the epoch.
    Timestamp(i64),
    /// A vector of 32-bit floats.
    F32Vector(Vec<f32>),
    /// A vector of 64-bit floats.
    F64Vector(Vec<f64>),
}

/// A double as text: the shortest digits that read back the same value,
/// in exponent form when very large or small (`1e300`, not 301 digits),
/// with `NaN`, `Infinity` and `-Infinity` spelled as SQL engines do.
pub fn format_f64(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if x != 0.0 && !(1e-5..1e16).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// A double as JSON: a number, or a string for NaN and the infinities.
pub fn json_f64(x: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(x) {
        Some(number) => serde_json::Value::Number(number),
        None => serde_json::Value::String(format_f64(x)),
    }
}

impl Value {
    /// The value as JSON (timestamps as milliseconds, bytes as numbers,
    /// non-finite doubles as strings).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int64(v) | Value::Timestamp(v) => (*v).into(),
            Value::Float64(v) => json_f64(*v),
            Value::Utf8(s) => s.clone().into(),
            Value::Binary(b) => b.clone().into(),
            Value::F32Vector(v) => v.iter().map(|x| json_f64(f64::from(*x))).collect(),
            Value::F64Vector(v) => v.iter().map(|x| json_f64(*x)).collect(),
        }
    }

    /// The name of its type, for errors.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int64(_) => "i64",
            Value::Float64(_) => "f64",
            Value::Utf8(_) => "utf8",
            Value::Binary(_) => "binary",
            Value::Timestamp(_) => "timestamp",
            Value::F32Vector(_) => "vector<f32>",
            Value::F64Vector(_) => "vector<f64>",
        }
    }
}

/// The value as text: `null`, numbers as written, text as is, bytes as
/// their count, vectors as `[x, y, …]`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vector = |f: &mut fmt::Formatter<'_>, items: &mut dyn Iterator<Item = f64>| {
            let items: Vec<String> = items.map(format_f64).collect();
            write!(f, "[{}]", items.join(", "))
        };
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int64(v) | Value::Timestamp(v) => write!(f, "{v}"),
            Value::Float64(v) => f.write_str(&format_f64(*v)),
            Value::Utf8(s) => f.write_str(s),
            Value::Binary(b) => write!(f, "{} bytes", b.len()),
            Value::F32Vector(v) => vector(f, &mut v.iter().map(|x| f64::from(*x))),
            Value::F64Vector(v) => vector(f, &mut v.iter().copied()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_doubles_are_spelled_out_in_text_and_json() {
        assert_eq!(Value::Float64(f64::NAN).to_string(), "NaN");
        assert_eq!(Value::Float64(f64::NEG_INFINITY).to_string(), "-Infinity");
        assert_eq!(Value::Float64(0.5).to_string(), "0.5");
        assert_eq!(Value::Float64(-1e300).to_string(), "-1e300");
        assert_eq!(Value::Float64(2.5e-9).to_string(), "2.5e-9");
        assert_eq!(Value::Float64(123456.0).to_string(), "123456");
        assert_eq!(
            Value::Float64(f64::INFINITY).to_json(),
            serde_json::json!("Infinity")
        );
        assert_eq!(Value::Float64(2.5).to_json(), serde_json::json!(2.5));
        assert_eq!(
            Value::F64Vector(vec![1.0, f64::NAN]).to_json(),
            serde_json::json!([1.0, "NaN"])
        );
    }
}
