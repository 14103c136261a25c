//! Timestamps as people read them: the calendar fields of a timestamp
//! (UTC, the proleptic Gregorian calendar, via `jiff`), Java-style
//! `date_format` patterns (what Flink and Spark users write), and adding
//! milliseconds. Every function of a timestamp outside what the calendar
//! can hold is an error naming it, never a wrapped value.

use jiff::civil::{DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::types::{Scalar, Ty};

/// A timestamp function of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFunction {
    /// `year(ts)`, `hour(ts)`, … (SQL's `EXTRACT(field FROM ts)`)
    Part(Field),
    /// `date_format(ts, pattern)`
    Format,
    /// `add_millis(ts, n)` (SQL's `ts + INTERVAL …`)
    AddMillis,
}

impl TimeFunction {
    /// The function called `name` with `arity` arguments, if it is one.
    pub fn named(name: &str, arity: usize) -> Option<Self> {
        match (name, arity) {
            ("date_format", 2) => Some(Self::Format),
            ("add_millis", 2) => Some(Self::AddMillis),
            (name, 1) => Field::named(name).map(Self::Part),
            _ => None,
        }
    }

    /// Its parameters' types and its result's type.
    pub fn signature(self) -> (&'static [Ty], Ty, bool) {
        match self {
            Self::Part(_) => (&[Ty::Timestamp], Ty::Int64, false),
            Self::Format => (&[Ty::Timestamp, Ty::Utf8], Ty::Utf8, false),
            Self::AddMillis => (&[Ty::Timestamp, Ty::Int64], Ty::Timestamp, false),
        }
    }

    /// Its value for one row's arguments (null if any is).
    pub fn apply(self, args: &[Scalar]) -> Result<Scalar, String> {
        use Scalar as S;
        Ok(match (self, args) {
            (Self::Part(f), [S::Timestamp(ms)]) => S::Int64(field(*ms, f)?),
            (Self::Format, [S::Timestamp(ms), S::Utf8(pattern)]) => S::Utf8(format(*ms, pattern)?),
            (Self::AddMillis, [S::Timestamp(ms), S::Int64(delta)]) => {
                S::Timestamp(add(*ms, *delta)?)
            }
            _ => S::Null,
        })
    }
}

/// A calendar field of a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The year.
    Year,
    /// 1–4.
    Quarter,
    /// 1–12.
    Month,
    /// Day of the month, 1–31.
    Day,
    /// 0–23.
    Hour,
    /// 0–59.
    Minute,
    /// 0–59.
    Second,
    /// 0–999.
    Millisecond,
    /// 1 (Sunday) to 7 (Saturday), as Flink and Spark number them.
    DayOfWeek,
    /// 1–366.
    DayOfYear,
}

impl Field {
    /// The field a function name asks for.
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "year" => Self::Year,
            "quarter" => Self::Quarter,
            "month" => Self::Month,
            "day" | "dayofmonth" => Self::Day,
            "hour" => Self::Hour,
            "minute" => Self::Minute,
            "second" => Self::Second,
            "millisecond" => Self::Millisecond,
            "dayofweek" => Self::DayOfWeek,
            "dayofyear" => Self::DayOfYear,
            _ => return None,
        })
    }
}

/// The civil date and time of `ms` milliseconds since the epoch, in UTC.
fn civil(ms: i64) -> Result<DateTime, String> {
    let at = Timestamp::from_millisecond(ms)
        .map_err(|_| format!("the timestamp {ms} ms is outside the years -9999 to 9999"))?;
    Ok(at.to_zoned(TimeZone::UTC).datetime())
}

/// Field `field` of timestamp `ms`.
pub fn field(ms: i64, field: Field) -> Result<i64, String> {
    let t = civil(ms)?;
    Ok(match field {
        Field::Year => i64::from(t.year()),
        Field::Quarter => i64::from((t.month() - 1) / 3 + 1),
        Field::Month => i64::from(t.month()),
        Field::Day => i64::from(t.day()),
        Field::Hour => i64::from(t.hour()),
        Field::Minute => i64::from(t.minute()),
        Field::Second => i64::from(t.second()),
        Field::Millisecond => i64::from(t.millisecond()),
        Field::DayOfWeek => i64::from(t.weekday().to_sunday_one_offset()),
        Field::DayOfYear => i64::from(t.day_of_year()),
    })
}

/// Longest `date_format` pattern: a value is at most a few times longer
/// than its pattern, so this bounds what one row can build.
pub const MAX_PATTERN_CHARS: usize = 256;

/// Timestamp `ms` written by a Java-style pattern: `yyyy` (year), `yy`,
/// `MM`, `M`, `dd`, `d`, `HH`, `H`, `mm`, `ss`, `SSS`, `EEE` (Mon),
/// `EEEE` (Monday); text in single quotes and anything that is not a
/// pattern letter is copied.
pub fn format(ms: i64, pattern: &str) -> Result<String, String> {
    let length = pattern.chars().count();
    if length > MAX_PATTERN_CHARS {
        return Err(format!(
            "a date_format pattern of {length} characters, more than the {MAX_PATTERN_CHARS} it may have"
        ));
    }
    let t = civil(ms)?;
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted text; '' is a quote.
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                out.push(chars[j]);
                j += 1;
            }
            if j == i + 1 && j < chars.len() {
                out.push('\'');
            }
            i = j + 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        let pad = |value: i64, width: usize| format!("{value:0width$}");
        match c {
            'y' if run == 2 => out += &pad(i64::from(t.year()).rem_euclid(100), 2),
            'y' => out += &pad(i64::from(t.year()), run),
            'M' => out += &pad(i64::from(t.month()), run),
            'd' => out += &pad(i64::from(t.day()), run),
            'H' => out += &pad(i64::from(t.hour()), run),
            'm' => out += &pad(i64::from(t.minute()), run),
            's' => out += &pad(i64::from(t.second()), run),
            'S' => out += &pad(i64::from(t.millisecond()), 3)[..run.min(3)],
            'E' => out += weekday_name(t.weekday(), run >= 4),
            other if other.is_ascii_alphabetic() => {
                return Err(format!("date_format pattern letter {other:?} is not supported (use yyyy MM dd HH mm ss SSS EEE)"))
            }
            other => {
                for _ in 0..run {
                    out.push(other);
                }
            }
        }
        i += run;
    }
    Ok(out)
}

fn weekday_name(day: Weekday, full: bool) -> &'static str {
    let (short, long) = match day {
        Weekday::Monday => ("Mon", "Monday"),
        Weekday::Tuesday => ("Tue", "Tuesday"),
        Weekday::Wednesday => ("Wed", "Wednesday"),
        Weekday::Thursday => ("Thu", "Thursday"),
        Weekday::Friday => ("Fri", "Friday"),
        Weekday::Saturday => ("Sat", "Saturday"),
        Weekday::Sunday => ("Sun", "Sunday"),
    };
    if full {
        long
    } else {
        short
    }
}

/// `ms` plus `delta` milliseconds, if the sum is a timestamp.
pub fn add(ms: i64, delta: i64) -> Result<i64, String> {
    let sum = ms
        .checked_add(delta)
        .ok_or_else(|| format!("BIGINT overflow: timestamp {ms} ms + {delta} ms"))?;
    civil(sum)?;
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-30T09:05:07.042Z, a Monday.
    const AT: i64 = 1_796_029_507_042;

    #[test]
    fn fields_of_a_known_instant() {
        let got: Vec<i64> = [
            Field::Year,
            Field::Quarter,
            Field::Month,
            Field::Day,
            Field::Hour,
            Field::Minute,
            Field::Second,
            Field::Millisecond,
            Field::DayOfWeek,
            Field::DayOfYear,
        ]
        .iter()
        .map(|&f| field(AT, f).unwrap())
        .collect();
        assert_eq!(got, [2026, 4, 11, 30, 9, 5, 7, 42, 2, 334]);
        // Before the epoch counts backwards into 1969.
        assert_eq!(field(-1, Field::Year), Ok(1969));
        assert_eq!(field(-1, Field::Millisecond), Ok(999));
        assert!(field(i64::MAX, Field::Year)
            .unwrap_err()
            .contains("outside"));
    }

    #[test]
    fn java_patterns() {
        assert_eq!(
            format(AT, "yyyy-MM-dd HH:mm:ss.SSS").unwrap(),
            "2026-11-30 09:05:07.042"
        );
        assert_eq!(
            format(AT, "yy/M/d EEE 'at' H'h'").unwrap(),
            "26/11/30 Mon at 9h"
        );
        assert_eq!(format(AT, "EEEE ''").unwrap(), "Monday '");
        assert!(format(AT, "yyyy Q").unwrap_err().contains("'Q'"));
        assert!(format(AT, &"y".repeat(300)).unwrap_err().contains("256"));
    }

    #[test]
    fn adding_stays_in_the_calendar() {
        assert_eq!(add(AT, 1_000), Ok(AT + 1_000));
        assert!(add(i64::MAX - 1, 10).is_err());
        assert!(add(AT, i64::MAX / 2).unwrap_err().contains("outside"));
    }
}
