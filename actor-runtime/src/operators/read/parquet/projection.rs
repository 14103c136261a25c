//! Which of a Parquet file's leaf columns a `read` takes, and how each is
//! turned into the declared column: the projection is the declared
//! schema, matched by name against the file's schema, so a file may hold
//! more columns than are read and only the named ones are fetched.
//!
//! Pure: it looks at the footer's schema only, so every rule is tested
//! without files.
//!
//! Conversions are the lossless ones a user expects: narrower integers
//! and floats widen, integers may be read as floats (features are often
//! counts), timestamps of any unit become milliseconds, dates become
//! midnight in milliseconds, and a list of floats becomes a fixed-size
//! vector whose length each row must match.

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as Physical};
use parquet::schema::types::SchemaDescriptor;

use crate::data::{DataType, Field, Schema, VectorElement};

/// How a millisecond timestamp is made from a stored integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scale {
    /// Stored in milliseconds already (or a plain integer).
    Same,
    /// Multiply: days of a date.
    Times(i64),
    /// Divide: micro- or nanoseconds.
    Divide(i64),
}

impl Scale {
    /// `value` in the declared unit.
    pub(super) fn apply(self, value: i64) -> i64 {
        match self {
            Self::Same => value,
            Self::Times(n) => value.saturating_mul(n),
            Self::Divide(n) => value.div_euclid(n),
        }
    }
}

/// What a leaf column holds and how it is read into its declared column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decode {
    /// BOOLEAN into bool.
    Bool,
    /// INT32 into int64 or timestamp.
    Int32(Scale),
    /// INT64 into int64 or timestamp.
    Int64(Scale),
    /// INT32 into float64.
    Int32AsFloat,
    /// INT64 into float64.
    Int64AsFloat,
    /// FLOAT into float64.
    Float,
    /// DOUBLE into float64.
    Double,
    /// BYTE_ARRAY into text (checked to be UTF-8) or bytes.
    Bytes {
        /// Into a utf8 column.
        text: bool,
    },
    /// FIXED_LEN_BYTE_ARRAY into bytes.
    FixedBytes,
    /// A list of FLOAT or DOUBLE into a vector of `dim` elements.
    Vector {
        /// The stored elements are FLOAT.
        stored_f32: bool,
        /// Elements every row must have.
        dim: u32,
        /// The declared element width.
        element: VectorElement,
    },
}

/// One declared column's source in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ColumnSource {
    /// The leaf column's index in the file's schema.
    pub(super) leaf: usize,
    /// How it is decoded.
    pub(super) decode: Decode,
    /// The declared field.
    pub(super) field: Field,
}

/// The leaf columns of `file` (named so in errors) that `schema`'s
/// columns are read from, in the schema's order.
pub(super) fn project(
    schema: &Schema,
    file_schema: &SchemaDescriptor,
    file: &str,
) -> Result<Vec<ColumnSource>, String> {
    schema
        .fields
        .iter()
        .map(|field| {
            source_of(field, file_schema)
                .map_err(|problem| format!("{file}: column {:?}: {problem}", field.name))
        })
        .collect()
}

fn source_of(field: &Field, file_schema: &SchemaDescriptor) -> Result<ColumnSource, String> {
    let leaves: Vec<usize> = (0..file_schema.num_columns())
        .filter(|&i| file_schema.column(i).path().parts().first() == Some(&field.name))
        .collect();
    let leaf = match leaves.as_slice() {
        [leaf] => *leaf,
        [] => {
            let names: Vec<&str> = file_schema
                .root_schema()
                .get_fields()
                .iter()
                .map(|f| f.name())
                .collect();
            return Err(format!(
                "not in the file (its columns: {})",
                names.join(", ")
            ));
        }
        _ => {
            return Err("a struct or map column; only scalars and lists of numbers are read".into())
        }
    };
    let column = file_schema.column(leaf);
    let physical = column.physical_type();
    let logical = column.logical_type_ref();
    let converted = column.converted_type();
    let repeated = column.max_rep_level() > 0;
    let stored = || {
        let kind = logical
            .map(|l| format!("{l:?}"))
            .unwrap_or_else(|| format!("{physical}"));
        if repeated {
            format!("a list of {kind}")
        } else {
            kind
        }
    };
    let refuse = || {
        Err(format!(
            "holds {}, which is not {}",
            stored(),
            field.data_type
        ))
    };
    if repeated != matches!(field.data_type, DataType::Vector { .. }) || column.max_rep_level() > 1
    {
        return refuse();
    }
    let timestamp_scale = match logical {
        Some(LogicalType::Timestamp(t)) => Some(match t.unit {
            TimeUnit::MILLIS => Scale::Same,
            TimeUnit::MICROS => Scale::Divide(1_000),
            TimeUnit::NANOS => Scale::Divide(1_000_000),
        }),
        _ => match converted {
            ConvertedType::TIMESTAMP_MILLIS => Some(Scale::Same),
            ConvertedType::TIMESTAMP_MICROS => Some(Scale::Divide(1_000)),
            _ => None,
        },
    };
    let date = matches!(logical, Some(LogicalType::Date)) || converted == ConvertedType::DATE;
    let decimal =
        matches!(logical, Some(LogicalType::Decimal(_))) || converted == ConvertedType::DECIMAL;
    if decimal {
        return Err(format!(
            "holds decimals, which `read` does not convert; cast it to a float where it is written ({})",
            stored()
        ));
    }
    let decode = match (field.data_type, physical) {
        (DataType::Bool, Physical::BOOLEAN) => Decode::Bool,
        (DataType::Int64, Physical::INT32) if !date => Decode::Int32(Scale::Same),
        (DataType::Int64, Physical::INT64) if timestamp_scale.is_none() => {
            Decode::Int64(Scale::Same)
        }
        (DataType::Timestamp, Physical::INT32) if date => Decode::Int32(Scale::Times(86_400_000)),
        (DataType::Timestamp, Physical::INT64) => {
            Decode::Int64(timestamp_scale.unwrap_or(Scale::Same))
        }
        (DataType::Float64, Physical::INT32) if !date => Decode::Int32AsFloat,
        (DataType::Float64, Physical::INT64) if timestamp_scale.is_none() => Decode::Int64AsFloat,
        (DataType::Float64, Physical::FLOAT) => Decode::Float,
        (DataType::Float64, Physical::DOUBLE) => Decode::Double,
        (DataType::Utf8, Physical::BYTE_ARRAY) => Decode::Bytes { text: true },
        (DataType::Binary, Physical::BYTE_ARRAY) => Decode::Bytes { text: false },
        (DataType::Binary, Physical::FIXED_LEN_BYTE_ARRAY) => Decode::FixedBytes,
        (DataType::Vector { element, dim }, Physical::FLOAT | Physical::DOUBLE) => Decode::Vector {
            stored_f32: physical == Physical::FLOAT,
            dim,
            element,
        },
        _ => return refuse(),
    };
    Ok(ColumnSource {
        leaf,
        decode,
        field: field.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    fn file_schema(message: &str) -> SchemaDescriptor {
        SchemaDescriptor::new(Arc::new(parse_message_type(message).unwrap()))
    }

    const FILE: &str = "message m {
        required int32 small;
        optional int64 big;
        optional int64 at (TIMESTAMP(MICROS,true));
        optional int32 day (DATE);
        required float f;
        required double d;
        optional binary name (STRING);
        optional binary blob;
        optional group features (LIST) { repeated group list { optional double element; } }
        optional group point { required double x; required double y; }
    }";

    fn decode_of(name: &str, data_type: DataType) -> Result<Decode, String> {
        let schema = Schema::new(vec![Field::nullable(name, data_type)]);
        project(&schema, &file_schema(FILE), "f.parquet").map(|c| c[0].decode)
    }

    #[test]
    fn declared_columns_widen_and_convert_losslessly() {
        assert_eq!(
            decode_of("small", DataType::Int64),
            Ok(Decode::Int32(Scale::Same))
        );
        assert_eq!(
            decode_of("small", DataType::Float64),
            Ok(Decode::Int32AsFloat)
        );
        assert_eq!(
            decode_of("big", DataType::Float64),
            Ok(Decode::Int64AsFloat)
        );
        assert_eq!(
            decode_of("at", DataType::Timestamp),
            Ok(Decode::Int64(Scale::Divide(1_000)))
        );
        assert_eq!(
            decode_of("day", DataType::Timestamp),
            Ok(Decode::Int32(Scale::Times(86_400_000)))
        );
        assert_eq!(decode_of("f", DataType::Float64), Ok(Decode::Float));
        assert_eq!(
            decode_of("name", DataType::Utf8),
            Ok(Decode::Bytes { text: true })
        );
        assert_eq!(
            decode_of("blob", DataType::Binary),
            Ok(Decode::Bytes { text: false })
        );
        let vector = DataType::Vector {
            element: VectorElement::F64,
            dim: 3,
        };
        assert_eq!(
            decode_of("features", vector),
            Ok(Decode::Vector {
                stored_f32: false,
                dim: 3,
                element: VectorElement::F64
            })
        );
    }

    #[test]
    fn only_the_declared_columns_are_projected_in_declared_order() {
        let schema = Schema::new(vec![
            Field::new("d", DataType::Float64),
            Field::new("small", DataType::Int64),
        ]);
        let sources = project(&schema, &file_schema(FILE), "f.parquet").unwrap();
        let leaves: Vec<usize> = sources.iter().map(|s| s.leaf).collect();
        assert_eq!(leaves, vec![5, 0]);
    }

    #[test]
    fn mismatches_name_the_file_the_column_and_what_it_holds() {
        let err = decode_of("name", DataType::Float64).unwrap_err();
        assert!(
            err.contains("f.parquet") && err.contains("\"name\""),
            "{err}"
        );
        assert!(err.contains("String") && err.contains("f64"), "{err}");
        let err = decode_of("nope", DataType::Int64).unwrap_err();
        assert!(
            err.contains("not in the file") && err.contains("small, big"),
            "{err}"
        );
        let err = decode_of("point", DataType::Float64).unwrap_err();
        assert!(err.contains("struct"), "{err}");
        let err = decode_of("features", DataType::Float64).unwrap_err();
        assert!(err.contains("a list of"), "{err}");
        assert!(
            decode_of("at", DataType::Int64).is_err(),
            "a timestamp is not a plain integer"
        );
    }
}
