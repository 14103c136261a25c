//! What `faro status` and `faro jobs` print for a person: a job's summary
//! (state, local start, duration, mode, re-runs by cause, a training
//! job's epochs, the error) and a table of its vertices, and the job list with durations — from the REST
//! API's JSON, as plain functions of it (and of the clock and time zone
//! they are given) so their output is tested against golden files.

use serde_json::Value;

use super::run::printable;

/// Columns left-aligned, two spaces apart, a rule under the header; no
/// trailing spaces.
pub fn text_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let mut out = vec![
        line(header.to_vec()),
        line(rule.iter().map(String::as_str).collect()),
    ];
    for row in rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    out.join("\n") + "\n"
}

/// Milliseconds as a person reads them: `850 ms`, `12.3 s`, `4 min 05 s`,
/// `2 h 03 min`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => {
            let seconds = ms / 1000;
            if seconds < 3600 {
                format!("{} min {:02} s", seconds / 60, seconds % 60)
            } else {
                format!("{} h {:02} min", seconds / 3600, (seconds / 60) % 60)
            }
        }
    }
}

/// Epoch milliseconds as a date and time in `zone` (`–` for none).
pub fn local_time(ms: Option<u64>, zone: &jiff::tz::TimeZone) -> String {
    let Some(at) = ms.and_then(|ms| i64::try_from(ms).ok()) else {
        return "–".to_string();
    };
    match jiff::Timestamp::from_millisecond(at) {
        Ok(at) => at
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => at.to_string(),
    }
}

/// How long a job ran: to its end, or to `now_ms` while it runs.
fn ran_for(job: &Value, now_ms: u64) -> Option<u64> {
    let started = job["started_ms"].as_u64()?;
    let ended = job["finished_ms"].as_u64().unwrap_or(now_ms);
    Some(ended.saturating_sub(started))
}

fn text(value: &Value) -> String {
    printable(value.as_str().unwrap_or_default())
}

/// Re-runs by cause: `none`, or `3 (2 task failures, 1 lost worker)`.
pub fn reruns(reruns: &Value) -> String {
    let causes = [
        ("task_failures", "task failure", "task failures"),
        ("lost_workers", "lost worker", "lost workers"),
        ("lost_partitions", "lost partition", "lost partitions"),
    ];
    let mut total = 0;
    let mut parts = Vec::new();
    for (field, one, many) in causes {
        let n = reruns[field].as_u64().unwrap_or(0);
        total += n;
        if n > 0 {
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    match total {
        0 => "none".to_string(),
        _ => format!("{total} ({})", parts.join(", ")),
    }
}

/// `faro jobs`: one line per job.
pub fn jobs_table(jobs: &[Value], now_ms: u64, zone: &jiff::tz::TimeZone) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            vec![
                text(&job["id"]),
                text(&job["name"]),
                text(&job["state"]),
                if job["streaming"].as_bool() == Some(true) {
                    "streaming"
                } else {
                    "batch"
                }
                .to_string(),
                local_time(job["started_ms"].as_u64(), zone),
                ran_for(job, now_ms).map_or("–".to_string(), duration),
                job["reruns"].as_u64().unwrap_or(0).to_string(),
            ]
        })
        .collect();
    text_table(
        &[
            "id", "name", "state", "mode", "started", "duration", "re-runs",
        ],
        &rows,
    )
}

/// One vertex (chain) of a job as the status table shows it.
fn vertex_row(vertex: &Value, tasks: &[&Value]) -> Vec<String> {
    let chain = vertex["chain"].as_u64();
    let mine: Vec<&Value> = tasks
        .iter()
        .copied()
        .filter(|t| t["chain"].as_u64() == chain)
        .collect();
    let (mut done, mut failed, mut attempts) = (0, 0, 0);
    let (mut rows_in, mut rows_out, mut bytes_out) = (0, 0, 0);
    for task in &mine {
        let tries = task["attempts"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        attempts += tries.len();
        failed += tries.iter().filter(|a| a["state"] == "failed").count();
        if let Some(last) = tries.last() {
            done += usize::from(last["state"] == "finished");
            rows_in += last["rows_in"].as_u64().unwrap_or(0);
            rows_out += last["rows_out"].as_u64().unwrap_or(0);
            bytes_out += last["bytes_out"].as_u64().unwrap_or(0);
        }
    }
    let operators: Vec<String> = vertex["operators"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| match o["phase"].as_str() {
            Some("complete") | None => text(&o["operator"]),
            Some(phase) => format!("{} ({phase})", text(&o["operator"])),
        })
        .collect();
    let parallelism = vertex["parallelism"].as_u64().unwrap_or(0);
    vec![
        text(&vertex["name"]),
        operators.join(" → "),
        parallelism.to_string(),
        format!("{done}/{parallelism}"),
        failed.to_string(),
        rows_in.to_string(),
        rows_out.to_string(),
        bytes(bytes_out),
        attempts.to_string(),
    ]
}

/// Bytes in binary units.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// `faro status ID`: the summary and the vertex table of `job` (as `GET
/// /v1/jobs/{id}` gives it) drawn as `graph` (`GET /v1/jobs/{id}/graph`).
pub fn status_summary(
    job: &Value,
    graph: &Value,
    now_ms: u64,
    zone: &jiff::tz::TimeZone,
) -> String {
    let mut out = format!("{}  {}\n", text(&job["name"]), text(&job["state"]));
    let mut facts = vec![
        ("id", text(&job["id"])),
        (
            "mode",
            if job["streaming"].as_bool() == Some(true) {
                "streaming".to_string()
            } else {
                "batch".to_string()
            },
        ),
        ("submitted", local_time(job["submitted_ms"].as_u64(), zone)),
        ("started", local_time(job["started_ms"].as_u64(), zone)),
        (
            "duration",
            ran_for(job, now_ms).map_or("–".to_string(), duration),
        ),
        ("re-runs", reruns(&job["reruns"])),
    ];
    if let Some(epochs) = job["epochs"].as_array().filter(|e| !e.is_empty()) {
        let last = epochs.last().and_then(|e| e["loss"].as_f64());
        let loss = last.map_or(String::new(), |l| format!(", last loss {l:.6e}"));
        facts.push(("epochs", format!("{}{loss}", epochs.len())));
    }
    if let Some(lost) = job["reruns"]["records_possibly_lost"]
        .as_u64()
        .filter(|n| *n > 0)
    {
        facts.push(("rows possibly lost", lost.to_string()));
    }
    let width = facts.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in facts {
        out.push_str(&format!("  {key:<width$}  {value}\n"));
    }
    let tasks: Vec<&Value> = job["tasks"].as_array().into_iter().flatten().collect();
    let rows: Vec<Vec<String>> = graph["vertices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|vertex| vertex_row(vertex, &tasks))
        .collect();
    if !rows.is_empty() {
        out.push('\n');
        out.push_str(&text_table(
            &[
                "vertex",
                "operators",
                "parallelism",
                "done",
                "failed",
                "rows in",
                "rows out",
                "bytes out",
                "attempts",
            ],
            &rows,
        ));
    }
    if let Some(error) = job["error"].as_str() {
        out.push_str(&format!(
            "\nerror: {}\n",
            super::run::printable_lines(error)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_would_say_them() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_340), "12.3 s");
        assert_eq!(duration(245_000), "4 min 05 s");
        assert_eq!(duration(7_380_000), "2 h 03 min");
    }

    #[test]
    fn reruns_are_counted_by_cause() {
        let none = serde_json::json!({"task_failures": 0, "lost_workers": 0, "lost_partitions": 0});
        assert_eq!(reruns(&none), "none");
        let some = serde_json::json!({"task_failures": 2, "lost_workers": 1, "lost_partitions": 0});
        assert_eq!(reruns(&some), "3 (2 task failures, 1 lost worker)");
    }

    #[test]
    fn a_table_has_no_trailing_spaces_and_a_rule_under_its_header() {
        let table = text_table(
            &["a", "long header"],
            &[vec!["wide cell".into(), "x".into()]],
        );
        assert_eq!(
            table,
            "a          long header\n---------  -----------\nwide cell  x\n"
        );
    }

    #[test]
    fn times_are_shown_in_the_zone_given() {
        let zone = jiff::tz::TimeZone::fixed(jiff::tz::offset(2));
        assert_eq!(local_time(Some(0), &zone), "1970-01-01 02:00:00");
        assert_eq!(local_time(None, &zone), "–");
    }
}
