//! `faro run JOB`: starts the embedded cluster (a shuffle node and a
//! worker with a slot per core, on temporary directories), runs one job
//! (behind the scheduler and its web UI with `--ui`, see [`super::run_ui`]),
//! prints what its `collect` sinks gathered (a streaming job's as they
//! come, see [`live_rows`]), and exits 0 only on success (130 when Ctrl-C
//! stopped it, see [`crate::exit`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use faro_runtime::kernels::views;
use faro_runtime::spec::{validate, ValidJob};
use faro_runtime::{Batch, Value};
use faro_scheduler::Embedded;

use super::live_rows;
use crate::exit::Status;

/// Options of `faro run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The job spec (JSON or YAML).
    job: PathBuf,
    /// Print the result as JSON (one object per row) instead of a table.
    #[arg(long)]
    json: bool,
    /// Slots of the embedded worker [default: one per core].
    #[arg(long)]
    slots: Option<usize>,
    /// Write the result to FILE instead of printing it: CSV (with a
    /// header), JSON lines or Parquet, by its extension (.csv, .jsonl or
    /// .json, .parquet).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Serve the scheduler's web UI (and REST API) on this loopback
    /// address while the job runs, and after it ends until Ctrl-C.
    #[arg(
        long,
        value_name = "ADDR",
        num_args = 0..=1,
        default_missing_value = "127.0.0.1:8080",
        conflicts_with = "output"
    )]
    ui: Option<std::net::SocketAddr>,
    #[command(flatten)]
    access: super::job_access::JobAccessArgs,
}

/// Column names and rows of `batches`.
pub fn table(batches: &[Batch]) -> (Vec<String>, Vec<Vec<Value>>) {
    let names = batches
        .first()
        .map(|b| b.schema().fields.iter().map(|f| f.name.clone()).collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    for batch in batches {
        let columns = views(batch);
        for row in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c.value(row)).collect());
        }
    }
    (names, rows)
}

/// `text` safe to print on a terminal: control characters (escape
/// sequences, line breaks) shown escaped, not obeyed — cells hold what
/// jobs and their submitters wrote.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// [`printable`] line by line: line breaks kept (a SQL error points at
/// its column on the next line), other control characters escaped.
pub fn printable_lines(text: &str) -> String {
    text.lines().map(printable).collect::<Vec<_>>().join("\n")
}

/// A value as a table cell: timestamps as RFC 3339 UTC (`2026-11-29T15:54:40.391Z`),
/// everything else as it displays; escaped for a terminal.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Timestamp(ms) => match jiff::Timestamp::from_millisecond(*ms) {
            Ok(at) => at.to_string(),
            Err(_) => ms.to_string(),
        },
        other => printable(&other.to_string()),
    }
}

/// Prints rows as an aligned text table. A reader that stops early (`|
/// head`) ends the printing, not the process.
pub fn print_table(names: &[String], rows: &[Vec<Value>]) {
    let names: Vec<String> = names.iter().map(|n| printable(n)).collect();
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(cell).collect()).collect();
    let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |values: &[String]| {
        values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let rule = line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>());
    let lines = [line(&names), rule]
        .into_iter()
        .chain(cells.iter().map(|row| line(row)));
    for text in lines {
        if writeln!(out, "{text}").is_err() {
            return;
        }
    }
}

/// Rows as a JSON array of objects, each as [`row_object`] writes it.
pub fn rows_json(names: &[String], rows: &[Vec<Value>]) -> String {
    let objects: Vec<String> = rows.iter().map(|row| row_object(names, row)).collect();
    format!("[{}]", objects.join(","))
}

/// One row as a JSON object whose members keep the schema's column order
/// (a `serde_json` map would sort them by name).
pub fn row_object(names: &[String], row: &[Value]) -> String {
    let members: Vec<String> = names
        .iter()
        .zip(row)
        .map(|(name, value)| {
            format!(
                "{}:{}",
                serde_json::Value::from(name.as_str()),
                value.to_json()
            )
        })
        .collect();
    format!("{{{}}}", members.join(","))
}

/// Runs the job: a batch job to its end, then its rows; a streaming job's
/// rows as they come, until it ends or Ctrl-C stops it (cleanly: its
/// tasks cancelled, its temporary data removed, exit status 130).
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let output = args
        .output
        .as_deref()
        .map(super::output::format_of)
        .transpose()?;
    let spec = super::load_spec(&args.job)?;
    let job = validate(&spec).with_context(|| format!("in {}", args.job.display()))?;
    let slots = super::slots_or_cores(args.slots);
    let access = args.access.policy()?;
    if let Some(listen) = args.ui {
        // Served with no token: only this machine's users may reach it.
        if !listen.ip().is_loopback() {
            return Err(Status::usage(format!(
                "--ui {listen}: the UI of `faro run` serves loopback addresses only \
                 (`faro local --token` serves others)"
            ))
            .into());
        }
        return super::run_ui::run(spec, listen, slots, access, args.json);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut cluster = Embedded::start(slots, None, access)?;
        print_epochs(&mut cluster);
        let printing = super::output::Printing {
            json: args.json,
            output,
        };
        run_on(&cluster, &job, &printing).await
    })
}

/// Prints a training job's progress as it goes (its table comes at the
/// end).
pub fn print_epochs(cluster: &mut Embedded) {
    cluster.on_epoch(|done| {
        let loss = done
            .loss
            .map_or(String::new(), |l| format!(", loss {l:.6e}"));
        eprintln!(
            "{}: epoch {} done in {} ms{loss}",
            done.vertex, done.epoch, done.duration_ms
        );
    });
}

/// Runs one validated job on `cluster` and prints its rows (as JSON
/// objects with `json`).
pub async fn run_on(
    cluster: &Embedded,
    job: &ValidJob,
    printing: &super::output::Printing,
) -> anyhow::Result<()> {
    let json = printing.json;
    if printing.output.is_some() && job.streaming {
        return Err(Status::usage(
            "--output takes a batch job's result; a streaming job's rows print as they come",
        )
        .into());
    }
    let started = Instant::now();
    let job_id = format!("run-{}-{}", std::process::id(), next_run());
    let name = if job.name.is_empty() {
        job_id.clone()
    } else {
        job.name.clone()
    };
    let mut printer = job.streaming.then(|| live_rows::start(json));
    let live = printer.as_ref().map(|p| p.rows.clone());
    let reader_gone = printer.as_mut().map(|p| &mut p.reader_gone);
    // Ctrl-C ends the run as interrupted (exit status 130); a reader that
    // went away (`| head`) ends it as done.
    let interrupted = std::sync::atomic::AtomicBool::new(false);
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        interrupted.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let stop = async {
        match reader_gone {
            Some(gone) => tokio::select! {
                _ = ctrl_c => {}
                _ = gone => {}
            },
            None => ctrl_c.await,
        }
    };
    // A batch job's progress, on a terminal (a streaming job's rows are
    // its progress there).
    let bars = (!json && !job.streaming)
        .then(|| super::progress::Watched::start(cluster, &job_id, job))
        .flatten();
    let output = match bars {
        Some(mut watched) => {
            let run = cluster.run_until(&job_id, job, live, stop);
            tokio::pin!(run);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let output = loop {
                tokio::select! {
                    output = &mut run => break output,
                    _ = tick.tick() => watched.draw(cluster, &job_id),
                }
            };
            watched.finish(cluster);
            output
        }
        None => cluster.run_until(&job_id, job, live, stop).await,
    };
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(printer) = printer {
        // The job's copies of the channel are gone with its tasks.
        drop(printer.rows);
        let printed = tokio::time::timeout(Duration::from_secs(5), printer.printed)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(0);
        let output = output.map_err(Status::job_failed)?;
        let how = if output.stopped {
            "stopped"
        } else {
            "finished"
        };
        let said = format!("job {name:?} {how} after {elapsed:.2} s: {printed} rows printed");
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Status::interrupted(said).into());
        }
        eprintln!("{said}");
        return Ok(());
    }
    let output = output.map_err(Status::job_failed)?;
    if output.stopped {
        return Err(
            Status::interrupted(format!("job {name:?} stopped after {elapsed:.2} s")).into(),
        );
    }
    if let Some((path, format)) = &printing.output {
        let written = super::output::write(path, *format, job, &output.collected)?;
        eprintln!(
            "job {name:?} finished in {elapsed:.2} s: {written} rows written to {}",
            path.display()
        );
        return Ok(());
    }
    let (names, rows) = table(&output.collected);
    if json {
        println!("{}", rows_json(&names, &rows));
    } else {
        if !names.is_empty() {
            print_table(&names, &rows);
        }
        // What crossed exchanges (to consumers or the shuffle service):
        // Spark's "shuffle write".
        let shipped: u64 = output.reports.iter().map(|r| r.bytes_out).sum();
        eprintln!(
            "job {name:?} finished in {elapsed:.2} s: {} tasks, {} rows collected, {:.1} MB shipped",
            output.reports.len(),
            rows.len(),
            shipped as f64 / 1e6
        );
        for divided in &output.divided {
            eprintln!(
                "  {}: skewed partition {} ({:.1} MB) read in {} pieces",
                divided.vertex,
                divided.partition,
                divided.bytes as f64 / 1e6,
                divided.pieces
            );
        }
    }
    Ok(())
}

/// A number for each job this process runs, so their ids differ.
fn next_run() -> u64 {
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(printable("word count"), "word count");
        assert_eq!(printable("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
        assert_eq!(printable("émile\t"), "émile\\t");
    }

    #[test]
    fn timestamps_print_as_rfc_3339() {
        use faro_runtime::Value;
        assert_eq!(super::cell(&Value::Timestamp(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::cell(&Value::Timestamp(1_764_431_680_391)),
            "2025-11-29T15:54:40.391Z"
        );
        assert_eq!(super::cell(&Value::Int64(7)), "7");
    }

    #[test]
    fn json_rows_keep_the_column_order() {
        use faro_runtime::Value;
        let names = [
            "word".to_string(),
            "count".to_string(),
            "a \"q\"".to_string(),
        ];
        let row = [Value::Utf8("hi".into()), Value::Int64(2), Value::Null];
        assert_eq!(
            super::rows_json(&names, &[row.to_vec()]),
            r#"[{"word":"hi","count":2,"a \"q\"":null}]"#
        );
    }
}
