//! Owned column storage, laid out for in-place reading once archived.
//!
//! Every column is a handful of flat buffers, Arrow-style: fixed-width
//! values in one contiguous vector, text and bytes as `offsets` (rows + 1
//! ascending `u32`) into one `data` buffer, booleans and validity as
//! LSB-first bitmaps. Archived, each buffer is one rkyv vector, so reading a
//! fixed-width column is a pointer and a length: O(1) per column, whatever
//! the row count.

/// Values of one column.
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub enum ColumnData {
    /// Bitmap, one bit per row, least significant bit first.
    Bool(Vec<u8>),
    /// One `i64` per row.
    Int64(Vec<i64>),
    /// One `f64` per row.
    Float64(Vec<f64>),
    /// Row `i` is `data[offsets[i]..offsets[i + 1]]`, valid UTF-8.
    Utf8 {
        /// rows + 1 ascending positions into `data`.
        offsets: Vec<u32>,
        /// The concatenated text.
        data: Vec<u8>,
    },
    /// Row `i` is `data[offsets[i]..offsets[i + 1]]`.
    Binary {
        /// rows + 1 ascending positions into `data`.
        offsets: Vec<u32>,
        /// The concatenated bytes.
        data: Vec<u8>,
    },
    /// Milliseconds since the epoch, one per row.
    Timestamp(Vec<i64>),
    /// `dim` consecutive `f32` per row.
    F32Vector(Vec<f32>),
    /// `dim` consecutive `f64` per row.
    F64Vector(Vec<f64>),
}

/// A column: its values and, for nullable columns with nulls, a validity
/// bitmap (bit set = value present).
#[derive(Debug, Clone, PartialEq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Column {
    /// Validity bitmap; `None` means no row is null.
    pub validity: Option<Vec<u8>>,
    /// The values; a null row holds a placeholder (zero, empty).
    pub data: ColumnData,
}

/// A read-only view of an LSB-first bitmap of `len` bits.
#[derive(Debug, Clone, Copy)]
pub struct Bitmap<'a> {
    bytes: &'a [u8],
    len: usize,
}

impl<'a> Bitmap<'a> {
    /// Bytes a bitmap of `bits` bits takes.
    pub fn bytes_for(bits: usize) -> usize {
        bits.div_ceil(8)
    }

    /// A view of `len` bits; `bytes` must hold at least `bytes_for(len)`.
    pub(crate) fn new(bytes: &'a [u8], len: usize) -> Self {
        Self { bytes, len }
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the bitmap has no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i`; `i` must be below `len()`.
    pub fn get(&self, i: usize) -> bool {
        assert!(i < self.len, "bit {i} of a {}-bit bitmap", self.len);
        self.bytes[i / 8] & (1 << (i % 8)) != 0
    }

    /// Bits set.
    pub fn count_ones(&self) -> usize {
        (0..self.len).filter(|&i| self.get(i)).count()
    }
}

/// Appends bits to an LSB-first bitmap.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitmapBuilder {
    bytes: Vec<u8>,
    len: usize,
}

impl BitmapBuilder {
    pub(crate) fn with_capacity(bits: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(Bitmap::bytes_for(bits)),
            len: 0,
        }
    }

    /// A bitmap of `len` set bits.
    pub(crate) fn all_set(len: usize) -> Self {
        let mut builder = Self::with_capacity(len);
        for _ in 0..len {
            builder.push(true);
        }
        builder
    }

    pub(crate) fn push(&mut self, bit: bool) {
        if self.len.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 1 << (self.len % 8);
        }
        self.len += 1;
    }

    /// Bit `i` (false past the end).
    pub(crate) fn get(&self, i: usize) -> bool {
        i < self.len && self.bytes[i / 8] & (1 << (i % 8)) != 0
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.bytes
    }
}
