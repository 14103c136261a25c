//! Schemas: named, typed, possibly nullable fields.
//!
//! Schemas travel inside every archived batch (so a frame describes
//! itself) and inside job specs (so they derive serde as well as rkyv).

use std::fmt;

/// Element type of a fixed-size vector column.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
#[serde(rename_all = "lowercase")]
pub enum VectorElement {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

/// The type of a column.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    /// True or false, stored as a bitmap.
    Bool,
    /// Signed 64-bit integer.
    Int64,
    /// 64-bit float.
    Float64,
    /// UTF-8 text.
    Utf8,
    /// Arbitrary bytes.
    Binary,
    /// Milliseconds since the Unix epoch.
    Timestamp,
    /// A fixed-size vector of floats per row, e.g. ML features.
    Vector {
        /// Float width of each element.
        element: VectorElement,
        /// Elements per row.
        dim: u32,
    },
}

impl DataType {
    /// The owned type of an archived one.
    pub fn from_archived(archived: &ArchivedDataType) -> Self {
        match archived {
            ArchivedDataType::Bool => DataType::Bool,
            ArchivedDataType::Int64 => DataType::Int64,
            ArchivedDataType::Float64 => DataType::Float64,
            ArchivedDataType::Utf8 => DataType::Utf8,
            ArchivedDataType::Binary => DataType::Binary,
            ArchivedDataType::Timestamp => DataType::Timestamp,
            ArchivedDataType::Vector { element, dim } => DataType::Vector {
                element: match element {
                    ArchivedVectorElement::F32 => VectorElement::F32,
                    ArchivedVectorElement::F64 => VectorElement::F64,
                },
                dim: dim.to_native(),
            },
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Bool => f.write_str("bool"),
            DataType::Int64 => f.write_str("i64"),
            DataType::Float64 => f.write_str("f64"),
            DataType::Utf8 => f.write_str("utf8"),
            DataType::Binary => f.write_str("binary"),
            DataType::Timestamp => f.write_str("timestamp"),
            DataType::Vector { element, dim } => {
                let element = match element {
                    VectorElement::F32 => "f32",
                    VectorElement::F64 => "f64",
                };
                write!(f, "vector<{element}, {dim}>")
            }
        }
    }
}

/// One named, typed column of a schema.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct Field {
    /// Column name.
    pub name: String,
    /// Column type.
    pub data_type: DataType,
    /// Whether the column may hold nulls (and so carries a validity bitmap).
    #[serde(default)]
    pub nullable: bool,
}

impl Field {
    /// A non-nullable field.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        Self {
            name: name.into(),
            data_type,
            nullable: false,
        }
    }

    /// A nullable field.
    pub fn nullable(name: impl Into<String>, data_type: DataType) -> Self {
        Self {
            nullable: true,
            ..Self::new(name, data_type)
        }
    }
}

/// The ordered fields of a batch.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
    Default,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    serde::Serialize,
    serde::Deserialize,
)]
#[rkyv(derive(Debug))]
pub struct Schema {
    /// The fields, in column order.
    pub fields: Vec<Field>,
}

impl Schema {
    /// A schema of these fields.
    pub fn new(fields: Vec<Field>) -> Self {
        Self { fields }
    }

    /// The position of the field called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|field| field.name == name)
    }
}
