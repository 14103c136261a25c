//! Regular expressions in expressions: `regexp_extract(s, pattern,
//! group)` and `regexp_replace(s, pattern, replacement)`, as Flink and
//! Spark users write them.
//!
//! Patterns are untrusted input, so they go to the `regex` crate, whose
//! matching takes time linear in the text whatever the pattern (no
//! look-around, no backreferences: a pattern using them is refused with
//! the engine's message), within a compiled size and nesting limit.
//! Classes such as `\d` are Unicode-aware (Java's are ASCII unless asked).
//! A pattern is nearly always a literal, the same on every row, so each
//! thread keeps its last few compiled patterns rather than compiling one
//! per row.

use std::cell::RefCell;
use std::rc::Rc;

use regex::{Regex, RegexBuilder};

use super::text::bounded;

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 4096;

/// Compiled patterns kept per thread.
const KEPT: usize = 16;

thread_local! {
    static COMPILED: RefCell<Vec<(String, Rc<Regex>)>> = const { RefCell::new(Vec::new()) };
}

/// `pattern` compiled, from this thread's cache when it was used lately.
fn compiled(function: &str, pattern: &str) -> Result<Rc<Regex>, String> {
    if let Some(regex) = COMPILED.with(|kept| {
        kept.borrow()
            .iter()
            .find(|(p, _)| p == pattern)
            .map(|(_, r)| r.clone())
    }) {
        return Ok(regex);
    }
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "{function}: a pattern of {} bytes, more than the {MAX_PATTERN_BYTES} allowed",
            pattern.len()
        ));
    }
    let regex = RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .nest_limit(64)
        .build()
        .map_err(|error| format!("{function}: the pattern {pattern:?} is not valid: {error}"))?;
    let regex = Rc::new(regex);
    COMPILED.with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.len() == KEPT {
            kept.remove(0);
        }
        kept.push((pattern.to_string(), regex.clone()));
    });
    Ok(regex)
}

/// Group `group` (0: the whole match) of the first match of `pattern` in
/// `s`; `None` when nothing matches, the group does not exist or did not
/// take part in the match.
pub fn extract(s: &str, pattern: &str, group: i64) -> Result<Option<String>, String> {
    let regex = compiled("regexp_extract", pattern)?;
    let Ok(group) = usize::try_from(group) else {
        return Ok(None);
    };
    Ok(regex
        .captures(s)
        .and_then(|captures| captures.get(group))
        .map(|m| m.as_str().to_string()))
}

/// `s` with every match of `pattern` replaced by `replacement` (where
/// `$1` or `${name}` stand for a group).
pub fn replace_all(s: &str, pattern: &str, replacement: &str) -> Result<String, String> {
    let regex = compiled("regexp_replace", pattern)?;
    let replaced = regex.replace_all(s, replacement).into_owned();
    bounded("regexp_replace", s.len(), replaced.len())?;
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_a_group_of_the_first_match() {
        let url = "https://www.nexmark.com/abc/item.htm?query=1&channel_id=1234";
        let pattern = "(&|^)channel_id=([^&]*)";
        assert_eq!(extract(url, pattern, 2).unwrap().as_deref(), Some("1234"));
        assert_eq!(
            extract(url, pattern, 0).unwrap().as_deref(),
            Some("&channel_id=1234")
        );
        assert_eq!(extract("no id here", pattern, 2).unwrap(), None);
        assert_eq!(extract(url, pattern, 3).unwrap(), None);
        assert_eq!(extract(url, pattern, -1).unwrap(), None);
    }

    #[test]
    fn replaces_every_match_with_groups() {
        assert_eq!(replace_all("a1b22c", "[0-9]+", "#").unwrap(), "a#b#c");
        assert_eq!(
            replace_all("2026-11-30", r"(\d+)-(\d+)-(\d+)", "$3/$2/$1").unwrap(),
            "30/11/2026"
        );
    }

    #[test]
    fn bad_and_hostile_patterns_are_refused_by_name() {
        let error = extract("x", "(unclosed", 1).unwrap_err();
        assert!(
            error.contains("regexp_extract: the pattern \"(unclosed\" is not valid"),
            "{error}"
        );
        // Backreferences would make matching exponential; refused.
        assert!(extract("aa", r"(a)\1", 0).is_err());
        let long = "a".repeat(MAX_PATTERN_BYTES + 1);
        assert!(extract("a", &long, 0).unwrap_err().contains("more than"));
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(extract("a", &deep, 0).is_err());
        // A pattern that backtracking engines take exponential time on
        // answers at once.
        let text = format!("{}!", "a".repeat(5000));
        assert_eq!(extract(&text, "(a+)+$", 0).unwrap(), None);
    }

    #[test]
    fn replacing_cannot_blow_a_value_up() {
        let s = "a".repeat(100_000);
        let error = replace_all(&s, "a", "bbbbbbbb").unwrap_err();
        assert!(error.contains("regexp_replace would build"), "{error}");
    }
}
