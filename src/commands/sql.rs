//! `faro sql`: SQL statements from `-e`, a file (`-f`) or an interactive
//! prompt, planned here ([`faro_sql::Session`]) and run on an embedded
//! cluster, or submitted to a scheduler with `--scheduler`. Definitions
//! and settings carry from one statement to the next; each query or
//! `INSERT` is one job, its rows printed as a table (or JSON).

use std::path::PathBuf;

use anyhow::{bail, Context};
use faro_runtime::spec::validate;
use faro_scheduler::Embedded;
use faro_sql::{Outcome, Session};

use super::client::Remote;

/// Options of `faro sql`.
#[derive(clap::Args, Debug)]
pub struct SqlArgs {
    /// Statements to run (`;`-separated).
    #[arg(short = 'e', long = "execute", conflicts_with = "file")]
    execute: Option<String>,
    /// A file of statements to run.
    #[arg(short = 'f', long)]
    file: Option<PathBuf>,
    /// Submit jobs to this scheduler's REST API instead of running them on
    /// an embedded cluster.
    #[arg(long, env = "FARO_SCHEDULER")]
    scheduler: Option<String>,
    /// Bearer token, if the scheduler wants one.
    #[arg(long, env = "FARO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File whose content is the bearer token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Print rows as JSON (one object per row) instead of a table.
    #[arg(long)]
    json: bool,
    /// Slots of the embedded worker [default: one per core].
    #[arg(long)]
    slots: Option<usize>,
    #[command(flatten)]
    access: super::job_access::JobAccessArgs,
}

/// Where planned jobs go.
enum Target {
    Embedded(Box<Embedded>),
    Scheduler(Remote),
}

/// Runs `faro sql`.
pub fn run(args: &SqlArgs) -> anyhow::Result<()> {
    let slots = super::slots_or_cores(args.slots);
    let mut session = Session::new(slots as u32);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let target = match &args.scheduler {
            Some(url) => Target::Scheduler(Remote::new(
                url,
                args.token.clone(),
                args.token_file.clone(),
            )),
            None => {
                let mut cluster = Embedded::start(slots, None, args.access.policy()?)?;
                super::run::print_epochs(&mut cluster);
                Target::Embedded(Box::new(cluster))
            }
        };
        match (&args.execute, &args.file) {
            (Some(text), _) => execute(&mut session, text, "-e", &target, args.json).await,
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                execute(
                    &mut session,
                    &text,
                    &path.display().to_string(),
                    &target,
                    args.json,
                )
                .await
            }
            (None, None) => prompt(&mut session, &target, args.json).await,
        }
    })
}

/// Runs every statement of `text`.
async fn execute(
    session: &mut Session,
    text: &str,
    origin: &str,
    target: &Target,
    json: bool,
) -> anyhow::Result<()> {
    // Every statement is planned before any job runs: a mistake in the
    // last statement is reported before the first one's job has run.
    let outcomes = session
        .execute(text)
        .map_err(|e| anyhow::anyhow!("in {origin}: {}", e.pointed(text)))?;
    for outcome in outcomes {
        act(outcome, target, json).await?;
    }
    Ok(())
}

/// Does what one statement came to.
async fn act(outcome: Outcome, target: &Target, json: bool) -> anyhow::Result<()> {
    match outcome {
        Outcome::Done(message) => eprintln!("{message}"),
        Outcome::Explain(plan) => print!("{plan}"),
        Outcome::Job(job) => {
            let valid =
                validate(&job.spec).context("the planned job is not valid (a planner bug)")?;
            match target {
                Target::Embedded(cluster) => {
                    let printing = super::output::Printing { json, output: None };
                    super::run::run_on(cluster, &valid, &printing).await?
                }
                Target::Scheduler(remote) => {
                    let remote = remote.clone();
                    let spec = job.spec.clone();
                    let wait = job.inserts_into.is_none() && !valid.streaming;
                    tokio::task::spawn_blocking(move || {
                        super::client::submit_spec(&remote, &spec, wait)
                    })
                    .await
                    .context("submitting the job")??;
                }
            }
            if let Some(table) = job.inserts_into {
                eprintln!("rows inserted into {table}");
            }
        }
    }
    Ok(())
}

/// The interactive prompt: statements end with `;`, `quit` leaves.
async fn prompt(session: &mut Session, target: &Target, json: bool) -> anyhow::Result<()> {
    let mut editor = rustyline::DefaultEditor::new().context("starting the line editor")?;
    eprintln!("Faro SQL: end statements with ';', leave with 'quit' or Ctrl-D.");
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "faro> "
        } else {
            "   -> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => return Ok(()),
            Err(error) => bail!("reading a line: {error}"),
        };
        let trimmed = line.trim();
        if pending.is_empty()
            && matches!(
                trimmed.to_lowercase().trim_end_matches(';'),
                "quit" | "exit"
            )
        {
            return Ok(());
        }
        pending.push_str(&line);
        pending.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let text = std::mem::take(&mut pending);
        let _ = editor.add_history_entry(text.trim());
        // A failed statement is reported and the prompt goes on.
        if let Err(error) = execute(session, &text, "the statement", target, json).await {
            eprintln!("{}", super::run::printable_lines(&format!("{error:#}")));
        }
    }
}
