//! How long SQL takes to plan: each script of a directory (the
//! `examples/sql` ones by default) parsed and planned into job specs by a
//! fresh session, many times; the median per script, in milliseconds.
//! Jobs are not run (their speed is the runtime's, measured elsewhere).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

/// Options of `faro-bench sql-planning`.
#[derive(Debug, clap::Args)]
pub struct SqlPlanningArgs {
    /// Directory of `.sql` scripts.
    #[arg(long, default_value = "examples/sql")]
    dir: PathBuf,
    /// Times each script is planned.
    #[arg(long, default_value_t = 200)]
    repeat: usize,
}

/// Plans every script `repeat` times and prints the median.
pub fn run(args: &SqlPlanningArgs) -> anyhow::Result<()> {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&args.dir)
        .with_context(|| format!("reading {}", args.dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    scripts.sort();
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "script", "statements", "median ms", "max ms"
    );
    for script in scripts {
        let text = std::fs::read_to_string(&script)?;
        let mut times = Vec::with_capacity(args.repeat);
        let mut statements = 0;
        for _ in 0..args.repeat.max(1) {
            let started = Instant::now();
            let outcomes = faro_sql::Session::new(2)
                .execute(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", script.display()))?;
            times.push(started.elapsed());
            statements = outcomes.len();
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let name = script
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        println!(
            "{name:<28} {statements:>10} {:>10.3} {:>10.3}",
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1])
        );
    }
    Ok(())
}
