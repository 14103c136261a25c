//! The bounds a job spec must stay within. A spec comes from anyone who
//! may submit; whatever it sizes — vertices, parallelism, batches, names —
//! the scheduler and every worker allocate for. Each bound is far above
//! what a real job needs and far below what would take a process down;
//! a spec over one is refused by name before anything runs.

use super::error::SpecError;
use super::job::JobSpec;

/// Largest spec text (JSON or YAML), in bytes.
pub const MAX_SPEC_BYTES: usize = 1 << 20;
/// Longest job name, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Longest vertex id, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Most vertices in a job.
pub const MAX_VERTICES: usize = 1024;
/// Most edges in a job.
pub const MAX_EDGES: usize = 4096;
/// Most parallel instances of one vertex.
pub const MAX_PARALLELISM: u32 = 4096;
/// Most subtasks of all vertices together (each is a task to place).
pub const MAX_SUBTASKS: u64 = 65_536;
/// Most rows an operator may be asked to put in one batch.
pub const MAX_BATCH_ROWS: usize = 1 << 20;
/// Most columns a vertex may declare or compute.
pub const MAX_COLUMNS: usize = 4096;
/// Rows per batch when an operator's spec gives no `batch_rows`.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

/// [`DEFAULT_BATCH_ROWS`], as serde defaults are written.
pub fn default_batch_rows() -> usize {
    DEFAULT_BATCH_ROWS
}

fn too_large(what: String, message: String) -> SpecError {
    SpecError::TooLarge { what, message }
}

/// Refuses a text of `bytes` bytes over [`MAX_SPEC_BYTES`].
pub fn check_spec_bytes(bytes: usize) -> Result<(), SpecError> {
    if bytes > MAX_SPEC_BYTES {
        return Err(too_large(
            "the job spec".into(),
            format!("{bytes} bytes, more than the {MAX_SPEC_BYTES} allowed"),
        ));
    }
    Ok(())
}

/// A name people read: not over `max` characters, and free of control
/// characters (which would reach terminals and logs as commands).
pub fn check_name(what: &str, name: &str, max: usize) -> Result<(), SpecError> {
    let chars = name.chars().count();
    if chars > max {
        return Err(too_large(
            what.to_string(),
            format!("{chars} characters, more than the {max} allowed"),
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(SpecError::Malformed(format!(
            "{what} {:?} holds the control character {:?}",
            excerpt(name),
            c
        )));
    }
    Ok(())
}

fn excerpt(text: &str) -> String {
    crate::expr::excerpt(text)
}

/// Checks the spec's shape against the bounds: counts, names, ids and
/// parallelism (each operator's own sizes are checked with its params).
pub fn check_shape(spec: &JobSpec) -> Result<(), SpecError> {
    check_name("the job name", &spec.name, MAX_NAME_CHARS)?;
    if spec.vertices.len() > MAX_VERTICES {
        return Err(too_large(
            "the job".into(),
            format!(
                "{} vertices, more than the {MAX_VERTICES} allowed",
                spec.vertices.len()
            ),
        ));
    }
    if spec.edges.len() > MAX_EDGES {
        return Err(too_large(
            "the job".into(),
            format!(
                "{} edges, more than the {MAX_EDGES} allowed",
                spec.edges.len()
            ),
        ));
    }
    let mut subtasks = 0u64;
    for vertex in &spec.vertices {
        check_name("a vertex id", &vertex.id, MAX_ID_CHARS)?;
        if vertex.parallelism > MAX_PARALLELISM {
            return Err(too_large(
                format!("vertex {:?}", vertex.id),
                format!(
                    "parallelism {}, more than the {MAX_PARALLELISM} allowed",
                    vertex.parallelism
                ),
            ));
        }
        subtasks += u64::from(vertex.parallelism);
    }
    if subtasks > MAX_SUBTASKS {
        return Err(too_large(
            "the job".into(),
            format!("{subtasks} subtasks in all, more than the {MAX_SUBTASKS} allowed"),
        ));
    }
    Ok(())
}

/// Checks an operator's `batch_rows` (1 to [`MAX_BATCH_ROWS`]).
pub fn check_batch_rows(vertex: &str, rows: usize) -> Result<(), SpecError> {
    if rows == 0 || rows > MAX_BATCH_ROWS {
        return Err(SpecError::BadParams {
            vertex: vertex.to_string(),
            message: format!("batch_rows must be 1 to {MAX_BATCH_ROWS}, not {rows}"),
        });
    }
    Ok(())
}

/// Checks a count of columns a vertex declares or computes.
pub fn check_columns(vertex: &str, columns: usize) -> Result<(), SpecError> {
    if columns > MAX_COLUMNS {
        return Err(too_large(
            format!("vertex {vertex:?}"),
            format!("{columns} columns, more than the {MAX_COLUMNS} allowed"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(check_name("the job name", "word count", MAX_NAME_CHARS).is_ok());
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        let error = check_name("the job name", &long, MAX_NAME_CHARS).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("257 characters, more than the 256"),
            "{error}"
        );
        let error = check_name("the job name", "a\u{1b}[2Jb", MAX_NAME_CHARS).unwrap_err();
        assert!(
            error.to_string().contains("control character '\\u{1b}'"),
            "{error}"
        );
        assert!(check_name("the job name", "line\nbreak", MAX_NAME_CHARS).is_err());
    }

    #[test]
    fn sizes_beyond_the_bounds_are_refused() {
        assert!(check_spec_bytes(MAX_SPEC_BYTES).is_ok());
        assert!(check_spec_bytes(MAX_SPEC_BYTES + 1).is_err());
        assert!(check_batch_rows("g", 0).is_err());
        assert!(check_batch_rows("g", MAX_BATCH_ROWS + 1).is_err());
        assert!(check_batch_rows("g", 8192).is_ok());
    }
}
