//! The string functions beyond the basic ones, as Flink and Spark users
//! write them: `replace`, `ltrim`/`rtrim`, `lpad`/`rpad`, `strpos`
//! (`POSITION(sub IN s)`), `left`/`right`, `reverse`, `initcap`,
//! `split_index`, and `regexp_extract`/`regexp_replace` (whose patterns
//! [`super::regex`] compiles). Positions and lengths count characters; a
//! result that
//! grows past [`MAX_GROWTH_BYTES`] beyond twice its input is an error,
//! not an allocation.

use super::types::{Scalar, Ty};

/// How much larger than its input one value these functions build may
/// be, in bytes: padding or replacing can make a large value from a small
/// one, and a batch of rows each asking for much would claim memory no
/// input held (a result may also double its input, for replacements that
/// escape).
pub const MAX_GROWTH_BYTES: usize = 64 << 10;

/// A string function of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFunction {
    /// `replace(s, from, to)`
    Replace,
    /// `ltrim(s)`
    Ltrim,
    /// `rtrim(s)`
    Rtrim,
    /// `lpad(s, len, pad)`
    Lpad,
    /// `rpad(s, len, pad)`
    Rpad,
    /// `strpos(s, sub)` (SQL's `POSITION(sub IN s)`)
    Strpos,
    /// `left(s, n)`
    Left,
    /// `right(s, n)`
    Right,
    /// `reverse(s)`
    Reverse,
    /// `initcap(s)`
    Initcap,
    /// `split_index(s, separator, index)`
    SplitIndex,
    /// `regexp_extract(s, pattern, group)`
    RegexpExtract,
    /// `regexp_replace(s, pattern, replacement)`
    RegexpReplace,
}

impl TextFunction {
    /// The function called `name` with `arity` arguments, if it is one.
    pub fn named(name: &str, arity: usize) -> Option<Self> {
        Some(match (name, arity) {
            ("replace", 3) => Self::Replace,
            ("ltrim", 1) => Self::Ltrim,
            ("rtrim", 1) => Self::Rtrim,
            ("lpad", 3) => Self::Lpad,
            ("rpad", 3) => Self::Rpad,
            ("strpos" | "instr", 2) => Self::Strpos,
            ("left", 2) => Self::Left,
            ("right", 2) => Self::Right,
            ("reverse", 1) => Self::Reverse,
            ("initcap", 1) => Self::Initcap,
            ("split_index", 3) => Self::SplitIndex,
            ("regexp_extract", 3) => Self::RegexpExtract,
            ("regexp_replace", 3) => Self::RegexpReplace,
            _ => return None,
        })
    }

    /// Its parameters' types and its result's type; `true` when its
    /// result may be null whatever its arguments.
    pub fn signature(self) -> (&'static [Ty], Ty, bool) {
        use Ty::{Int64 as I, Utf8 as T};
        match self {
            Self::Replace | Self::RegexpReplace => (&[T, T, T], T, false),
            Self::Ltrim | Self::Rtrim | Self::Reverse | Self::Initcap => (&[T], T, false),
            Self::Lpad | Self::Rpad => (&[T, I, T], T, false),
            Self::Strpos => (&[T, T], I, false),
            Self::Left | Self::Right => (&[T, I], T, false),
            Self::SplitIndex | Self::RegexpExtract => (&[T, T, I], T, true),
        }
    }

    /// Its value for one row's arguments (null if any is).
    pub fn apply(self, args: &[Scalar]) -> Result<Scalar, String> {
        use Scalar as S;
        let text = |s: String| S::Utf8(s);
        Ok(match (self, args) {
            (Self::Replace, [S::Utf8(s), S::Utf8(from), S::Utf8(to)]) => {
                text(replace(s, from, to)?)
            }
            (Self::Ltrim, [S::Utf8(s)]) => text(s.trim_start().to_string()),
            (Self::Rtrim, [S::Utf8(s)]) => text(s.trim_end().to_string()),
            (Self::Lpad, [S::Utf8(s), S::Int64(n), S::Utf8(p)]) => text(pad(s, *n, p, true)?),
            (Self::Rpad, [S::Utf8(s), S::Int64(n), S::Utf8(p)]) => text(pad(s, *n, p, false)?),
            (Self::Strpos, [S::Utf8(s), S::Utf8(sub)]) => S::Int64(position(s, sub)),
            (Self::Left, [S::Utf8(s), S::Int64(n)]) => text(edge(s, *n, true)),
            (Self::Right, [S::Utf8(s), S::Int64(n)]) => text(edge(s, *n, false)),
            (Self::Reverse, [S::Utf8(s)]) => text(s.chars().rev().collect()),
            (Self::Initcap, [S::Utf8(s)]) => text(initcap(s)),
            (Self::SplitIndex, [S::Utf8(s), S::Utf8(sep), S::Int64(i)]) => {
                split_index(s, sep, *i).map_or(S::Null, S::Utf8)
            }
            (Self::RegexpExtract, [S::Utf8(s), S::Utf8(pattern), S::Int64(group)]) => {
                super::regex::extract(s, pattern, *group)?.map_or(S::Null, S::Utf8)
            }
            (Self::RegexpReplace, [S::Utf8(s), S::Utf8(pattern), S::Utf8(to)]) => {
                text(super::regex::replace_all(s, pattern, to)?)
            }
            _ => S::Null,
        })
    }
}

/// Refuses a result of `bytes` bytes from an input of `input` bytes if
/// it grows more than [`MAX_GROWTH_BYTES`] beyond twice the input.
pub(super) fn bounded(function: &str, input: usize, bytes: usize) -> Result<(), String> {
    let limit = input.saturating_mul(2).saturating_add(MAX_GROWTH_BYTES);
    if bytes > limit {
        return Err(format!(
            "{function} would build {bytes} bytes of text from {input}, more than the {limit} it may"
        ));
    }
    Ok(())
}

/// `s` with every `from` replaced by `to` (an empty `from` changes
/// nothing).
pub fn replace(s: &str, from: &str, to: &str) -> Result<String, String> {
    if from.is_empty() {
        return Ok(s.to_string());
    }
    let count = s.matches(from).count();
    let bytes = (s.len() - count * from.len()).saturating_add(count.saturating_mul(to.len()));
    bounded("replace", s.len(), bytes)?;
    Ok(s.replace(from, to))
}

/// `s` padded with `pad` to `len` characters, on the left or the right
/// (cut to `len` if longer).
pub fn pad(s: &str, len: i64, pad: &str, left: bool) -> Result<String, String> {
    let len = usize::try_from(len.max(0)).unwrap_or(0);
    let have = s.chars().count();
    if have >= len {
        return Ok(s.chars().take(len).collect());
    }
    if pad.is_empty() {
        return Ok(s.to_string());
    }
    let widest = pad.chars().map(char::len_utf8).max().unwrap_or(1);
    let function = if left { "lpad" } else { "rpad" };
    bounded(function, s.len(), len.saturating_mul(widest))?;
    let filler: String = pad.chars().cycle().take(len - have).collect();
    Ok(if left {
        filler + s
    } else {
        s.to_string() + &filler
    })
}

/// The 1-based character position of `sub` in `s`, 0 if absent (1 for
/// an empty `sub`).
pub fn position(s: &str, sub: &str) -> i64 {
    match s.find(sub) {
        Some(byte) => s[..byte].chars().count() as i64 + 1,
        None => 0,
    }
}

/// The first (`left`) or last `n` characters of `s`.
pub fn edge(s: &str, n: i64, left: bool) -> String {
    let n = usize::try_from(n.max(0)).unwrap_or(0);
    if left {
        s.chars().take(n).collect()
    } else {
        let count = s.chars().count();
        s.chars().skip(count.saturating_sub(n)).collect()
    }
}

/// Each word's first letter upper case, the rest lower case.
pub fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = !c.is_alphanumeric();
    }
    out
}

/// Piece `index` (from 0) of `s` split at `separator`, if there is one.
pub fn split_index(s: &str, separator: &str, index: i64) -> Option<String> {
    let index = usize::try_from(index).ok()?;
    if separator.is_empty() {
        return (index == 0).then(|| s.to_string());
    }
    s.split(separator).nth(index).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behave_as_in_flink() {
        assert_eq!(replace("a-b-c", "-", "+").unwrap(), "a+b+c");
        assert_eq!(replace("abc", "", "x").unwrap(), "abc");
        assert_eq!(pad("7", 3, "0", true).unwrap(), "007");
        assert_eq!(pad("abcd", 2, "0", false).unwrap(), "ab");
        assert_eq!(pad("é", 4, "xy", false).unwrap(), "éxyx");
        assert!(pad("a", i64::MAX, "x", true).unwrap_err().contains("bytes"));
        assert!(pad("", 70_000, "x", false).unwrap_err().contains("65536"));
        assert_eq!(pad("", 60_000, "x", false).unwrap().len(), 60_000);
        let big = "a".repeat(1 << 20);
        assert_eq!(replace(&big, "a", "bb").unwrap().len(), 2 << 20);
        assert!(replace(&big, "a", "bbb").unwrap_err().contains("replace"));
        assert_eq!(position("héllo", "llo"), 3);
        assert_eq!(position("hello", "z"), 0);
        assert_eq!(edge("héllo", 2, true), "hé");
        assert_eq!(edge("héllo", 2, false), "lo");
        assert_eq!(edge("hi", 5, false), "hi");
        assert_eq!(initcap("hELLO wORLD-x"), "Hello World-X");
        assert_eq!(split_index("a,b,c", ",", 1).as_deref(), Some("b"));
        assert_eq!(split_index("a,b,c", ",", 3), None);
        assert_eq!(split_index("a,b,c", ",", -1), None);
    }
}
