//! Printing a streaming job's rows as they come: the table's header from
//! the first batch, then one line per row, flushed per batch so a reader
//! sees them at once (or one JSON object per line with `--json`).
//!
//! The printer runs on a blocking thread and reads a bounded channel: a
//! terminal or pipe that stops taking output holds the job's `collect`
//! sink, and through its credits the whole job, instead of piling rows
//! up in memory. A reader that goes away (`| head`) ends the printing and
//! says so, so the run can stop the job rather than fail it.

use std::io::Write;

use faro_runtime::data::Batch;
use faro_runtime::kernels::views;
use faro_runtime::operators::basic::LiveRows;
use faro_runtime::Value;
use tokio::sync::{mpsc, oneshot};

use super::run::{cell, printable};

/// Batches waiting for the printer.
const WAITING_BATCHES: usize = 4;

/// The narrowest a column is printed, so later rows rarely outgrow it.
const MIN_WIDTH: usize = 8;

/// A running printer.
pub struct LivePrinter {
    /// Where the job's rows go.
    pub rows: LiveRows,
    /// Completes when the reader of the output went away.
    pub reader_gone: oneshot::Receiver<()>,
    /// The printer's thread; yields the rows printed.
    pub printed: tokio::task::JoinHandle<u64>,
}

/// Starts printing rows as tables (or JSON lines if `json`).
pub fn start(json: bool) -> LivePrinter {
    let (rows, mut incoming) = mpsc::channel::<Batch>(WAITING_BATCHES);
    let (gone, reader_gone) = oneshot::channel();
    let printed = tokio::task::spawn_blocking(move || {
        let mut printer = Printer {
            json,
            widths: None,
            printed: 0,
        };
        while let Some(batch) = incoming.blocking_recv() {
            if printer.print(&batch).is_err() {
                let _ = gone.send(());
                break;
            }
        }
        printer.printed
    });
    LivePrinter {
        rows,
        reader_gone,
        printed,
    }
}

struct Printer {
    json: bool,
    /// Column widths, fixed by the header and first batch.
    widths: Option<Vec<usize>>,
    printed: u64,
}

impl Printer {
    fn print(&mut self, batch: &Batch) -> std::io::Result<()> {
        let names: Vec<String> = batch
            .schema()
            .fields
            .iter()
            .map(|f| printable(&f.name))
            .collect();
        let columns = views(batch);
        let rows = (0..batch.num_rows())
            .map(|row| -> Vec<Value> { columns.iter().map(|c| c.value(row)).collect() });
        let mut out = std::io::stdout().lock();
        if self.json {
            for row in rows {
                writeln!(out, "{}", super::run::row_object(&names, &row))?;
                self.printed += 1;
            }
            return out.flush();
        }
        let cells: Vec<Vec<String>> = rows.map(|row| row.iter().map(cell).collect()).collect();
        let widths = match &self.widths {
            Some(widths) => widths.clone(),
            None => {
                let widths = first_widths(&names, &cells);
                writeln!(out, "{}", line(&names, &widths))?;
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                writeln!(out, "{}", line(&rule, &widths))?;
                self.widths = Some(widths.clone());
                widths
            }
        };
        for row in &cells {
            writeln!(out, "{}", line(row, &widths))?;
            self.printed += 1;
        }
        out.flush()
    }
}

/// Widths fitting the names and the first rows.
fn first_widths(names: &[String], cells: &[Vec<String>]) -> Vec<usize> {
    let mut widths: Vec<usize> = names
        .iter()
        .map(|n| n.chars().count().max(MIN_WIDTH))
        .collect();
    for row in cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    widths
}

/// One aligned line; a cell wider than its column pushes the rest right.
fn line(values: &[String], widths: &[usize]) -> String {
    values
        .iter()
        .zip(widths)
        .map(|(v, w)| format!("{v:<w$}"))
        .collect::<Vec<_>>()
        .join("  ")
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::{first_widths, line};

    #[test]
    fn columns_fit_the_header_and_first_rows() {
        let names = vec!["auction".to_string(), "n".to_string()];
        let cells = vec![vec!["1".to_string(), "123456789012".to_string()]];
        let widths = first_widths(&names, &cells);
        assert_eq!(widths, vec![8, 12]);
        assert_eq!(line(&cells[0], &widths), "1         123456789012");
        // A later, wider cell is printed whole.
        let wide = vec!["123456789".to_string(), "2".to_string()];
        assert_eq!(line(&wide, &widths), "123456789  2");
    }
}
