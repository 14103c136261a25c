//! The commands that talk to a scheduler's REST API: `submit`, `jobs`,
//! `status`, `cancel`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use faro_runtime::Value;

/// Where the scheduler is.
#[derive(clap::Args, Debug, Clone)]
pub struct Remote {
    /// The scheduler's REST API.
    #[arg(long, env = "FARO_SCHEDULER", default_value = "http://127.0.0.1:8080")]
    scheduler: String,
    /// Bearer token, if the scheduler wants one.
    #[arg(long, env = "FARO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File whose content is the bearer token (`api-token` from `faro
    /// identity`).
    #[arg(long)]
    token_file: Option<PathBuf>,
}

impl Remote {
    /// The scheduler at `url`, with a token or a token file.
    pub fn new(url: &str, token: Option<String>, token_file: Option<PathBuf>) -> Self {
        Self {
            scheduler: url.to_string(),
            token,
            token_file,
        }
    }

    /// The bearer token to send, if any.
    fn token(&self) -> anyhow::Result<Option<String>> {
        match (&self.token, &self.token_file) {
            (Some(token), _) => Ok(Some(token.trim().to_string())),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|text| Some(text.trim().to_string()))
                .with_context(|| format!("reading the API token {}", file.display())),
            (None, None) => Ok(None),
        }
    }
}

/// Options of `faro submit`.
#[derive(clap::Args, Debug)]
pub struct SubmitArgs {
    /// The job spec (JSON or YAML).
    job: PathBuf,
    /// Wait for the job to end and print its result.
    #[arg(long)]
    wait: bool,
    /// Start the job from a savepoint's state: its directory, as `faro
    /// savepoint` printed it (the job may have other parallelisms).
    #[arg(long, value_name = "PATH")]
    from_savepoint: Option<String>,
    /// With --wait: print the result as JSON (one object per row).
    #[arg(long, requires = "wait")]
    json: bool,
    #[command(flatten)]
    remote: Remote,
}

/// `faro savepoint`'s arguments.
#[derive(clap::Args, Debug)]
pub struct SavepointArgs {
    /// The job's id.
    id: String,
    /// Stop the job at the savepoint (nothing after it becomes visible).
    #[arg(long)]
    stop: bool,
    #[command(flatten)]
    remote: Remote,
}

/// A job id and the scheduler.
#[derive(clap::Args, Debug)]
pub struct JobArgs {
    /// The job's id.
    id: String,
    #[command(flatten)]
    remote: Remote,
}

/// `faro status`'s arguments.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// The job's id.
    id: String,
    /// Print the whole record as the API gives it (JSON) instead of a
    /// summary.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    remote: Remote,
}

/// `faro jobs`'s arguments.
#[derive(clap::Args, Debug)]
pub struct JobsArgs {
    /// Only jobs in this state.
    #[arg(long, value_enum)]
    state: Option<JobStateFilter>,
    #[command(flatten)]
    remote: Remote,
}

/// A job state, as `--state` takes it.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStateFilter {
    /// Accepted, not started.
    Queued,
    /// Running.
    Running,
    /// Ended well.
    Finished,
    /// Ended with an error.
    Failed,
    /// Stopped on request.
    Cancelled,
}

/// How long a request may take; a savepoint answers only once taken.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `faro savepoint` waits (a checkpoint's own default timeout
/// is 60 s; copying large state adds to it).
const SAVEPOINT_TIMEOUT: Duration = Duration::from_secs(600);

/// Sends a request; returns the status and JSON body.
fn call(
    remote: &Remote,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    call_within(remote, method, path, body, REQUEST_TIMEOUT)
}

/// [`call`], waiting at most `timeout` for the answer.
fn call_within(
    remote: &Remote,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    timeout: Duration,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let url = format!("{}{path}", remote.scheduler.trim_end_matches('/'));
    let auth = remote.token()?.map(|t| format!("Bearer {t}"));
    let response = match (method, body) {
        ("POST", Some(body)) => {
            let mut request = agent.post(&url);
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.send_json(body)
        }
        ("POST", None) => {
            let mut request = agent.post(&url);
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.send_empty()
        }
        _ => {
            let mut request = agent.get(&url);
            if let Some(auth) = &auth {
                request = request.header("Authorization", auth);
            }
            request.call()
        }
    };
    let mut response = response.with_context(|| format!("calling the scheduler at {url}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .context("reading the scheduler's answer")?;
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Ok((status, json))
}

fn ok(status: u16, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let message = body
        .get("error")
        .and_then(|e| e.as_str())
        .map_or_else(|| body.to_string(), str::to_string);
    let said = format!("the scheduler said {status}: {message}");
    // A request it found malformed (a bad spec, a spec too large) is the
    // caller's to fix: bad usage, as a spec refused locally is.
    if matches!(status, 400 | 413) {
        return Err(crate::exit::Status::usage(said).into());
    }
    bail!(said)
}

/// Prints a job's result (`{"columns", "rows"}` as the API gives it): a
/// table, or with `json` an array of objects whose members keep the
/// columns' order.
pub fn print_rows(result: &serde_json::Value, json: bool) {
    if !json {
        return print_result(result);
    }
    let names: Vec<&str> = result["columns"]
        .as_array()
        .map(|c| c.iter().filter_map(|n| n.as_str()).collect())
        .unwrap_or_default();
    let objects: Vec<String> = result["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            let cells = row.as_array().map(Vec::as_slice).unwrap_or_default();
            let members: Vec<String> = names
                .iter()
                .zip(cells)
                .map(|(name, value)| format!("{}:{value}", serde_json::Value::from(*name)))
                .collect();
            format!("{{{}}}", members.join(","))
        })
        .collect();
    println!("[{}]", objects.join(","));
}

fn print_result(result: &serde_json::Value) {
    let names: Vec<String> = result["columns"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<Vec<Value>> = result["rows"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| {
                    row.as_array()
                        .map(|cells| {
                            cells
                                .iter()
                                .map(|c| match c {
                                    serde_json::Value::Null => Value::Null,
                                    serde_json::Value::String(s) => Value::Utf8(s.clone()),
                                    other => Value::Utf8(other.to_string()),
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    if !names.is_empty() {
        super::run::print_table(&names, &rows);
    }
}

/// `faro submit`.
pub fn submit(args: &SubmitArgs) -> anyhow::Result<()> {
    let spec = super::load_spec(&args.job)?;
    let path = match &args.from_savepoint {
        Some(savepoint) => format!("/v1/jobs?from_savepoint={}", query_encoded(savepoint)),
        None => "/v1/jobs".to_string(),
    };
    submit_to(&args.remote, &path, &spec, args.wait, args.json)
}

/// Submits `spec`; with `wait`, waits for it to end and prints its rows,
/// else prints its id.
pub fn submit_spec(
    remote: &Remote,
    spec: &faro_runtime::spec::JobSpec,
    wait: bool,
) -> anyhow::Result<()> {
    submit_to(remote, "/v1/jobs", spec, wait, false)
}

fn submit_to(
    remote: &Remote,
    path: &str,
    spec: &faro_runtime::spec::JobSpec,
    wait: bool,
    json: bool,
) -> anyhow::Result<()> {
    let body = serde_json::to_value(spec)?;
    let (status, answer) = call(remote, "POST", path, Some(&body))?;
    let answer = ok(status, answer)?;
    let id = answer["id"]
        .as_str()
        .context("the scheduler returned no id")?
        .to_string();
    if !wait {
        println!("{id}");
        return Ok(());
    }
    eprintln!("submitted {id}; waiting");
    // Progress on a terminal, unless the output is JSON for a program.
    let mut bars = match json {
        true => None,
        false => graph_of(remote, &id).and_then(|graph| {
            super::progress::LiveProgress::start(&graph).map(|bars| (graph, bars))
        }),
    };
    loop {
        let (status, job) = call(remote, "GET", &format!("/v1/jobs/{id}"), None)?;
        let job = ok(status, job)?;
        let ended = matches!(
            job["state"].as_str(),
            Some("finished" | "failed" | "cancelled")
        );
        match (&mut bars, ended) {
            (Some((graph, drawn)), false) => {
                if let Ok(record) = serde_json::from_value(job.clone()) {
                    drawn.update(graph, &record);
                }
            }
            (Some(_), true) => {
                if let Some((_, drawn)) = bars.take() {
                    drawn.finish();
                }
            }
            (None, _) => {}
        }
        match job["state"].as_str() {
            Some("finished") => {
                let (status, result) = call(remote, "GET", &format!("/v1/jobs/{id}/result"), None)?;
                print_rows(&ok(status, result)?, json);
                eprintln!("job {id} finished");
                return Ok(());
            }
            Some(state @ ("failed" | "cancelled")) => {
                return Err(crate::exit::Status::job_failed(format!(
                    "job {id} {state}: {}",
                    job["error"].as_str().unwrap_or("no reason given")
                ))
                .into());
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Job `id`'s graph, if the scheduler can plan it.
fn graph_of(remote: &Remote, id: &str) -> Option<faro_scheduler::graph::JobGraph> {
    let (status, graph) = call(remote, "GET", &format!("/v1/jobs/{id}/graph"), None).ok()?;
    serde_json::from_value(ok(status, graph).ok()?).ok()
}

/// `faro jobs`: every job (page after page), oldest first, with its
/// mode, start and duration; `--state` keeps one state's.
pub fn jobs(args: &JobsArgs) -> anyhow::Result<()> {
    let mut jobs: Vec<serde_json::Value> = Vec::new();
    let mut path = "/v1/jobs?limit=1000".to_string();
    loop {
        let (status, page) = call(&args.remote, "GET", &path, None)?;
        let page = ok(status, page)?;
        jobs.extend(page["jobs"].as_array().into_iter().flatten().cloned());
        match page["next"].as_str() {
            Some(next) => path = format!("/v1/jobs?limit=1000&after={}", query_encoded(next)),
            None => break,
        }
    }
    if let Some(state) = args.state {
        let wanted = format!("{state:?}").to_lowercase();
        jobs.retain(|job| job["state"].as_str() == Some(wanted.as_str()));
    }
    let zone = jiff::tz::TimeZone::system();
    print!(
        "{}",
        super::status_view::jobs_table(&jobs, faro_scheduler::jobs::now_ms(), &zone)
    );
    Ok(())
}

/// `faro status ID`: a summary a person reads at a glance, or with
/// `--json` the whole record.
pub fn status(args: &StatusArgs) -> anyhow::Result<()> {
    let (status, job) = call(&args.remote, "GET", &format!("/v1/jobs/{}", args.id), None)?;
    let job = ok(status, job)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&job)?);
        return Ok(());
    }
    // A job whose spec this scheduler no longer plans still has a summary.
    let graph = graph_of(&args.remote, &args.id)
        .and_then(|graph| serde_json::to_value(graph).ok())
        .unwrap_or_default();
    let zone = jiff::tz::TimeZone::system();
    print!(
        "{}",
        super::status_view::status_summary(&job, &graph, faro_scheduler::jobs::now_ms(), &zone)
    );
    Ok(())
}

/// `faro cancel ID`.
pub fn cancel(args: &JobArgs) -> anyhow::Result<()> {
    let (status, job) = call(
        &args.remote,
        "POST",
        &format!("/v1/jobs/{}/cancel", args.id),
        None,
    )?;
    let job = ok(status, job)?;
    println!("{} {}", args.id, job["state"].as_str().unwrap_or("?"));
    Ok(())
}

/// Takes a savepoint of a job (and stops it there with `--stop`); prints
/// the savepoint's directory.
pub fn savepoint(args: &SavepointArgs) -> anyhow::Result<()> {
    let body = serde_json::json!({ "stop": args.stop });
    let path = format!("/v1/jobs/{}/savepoints", args.id);
    let (status, answer) =
        call_within(&args.remote, "POST", &path, Some(&body), SAVEPOINT_TIMEOUT)?;
    let answer = ok(status, answer)?;
    let dir = answer["path"]
        .as_str()
        .context("the scheduler returned no savepoint path")?;
    println!("{dir}");
    if args.stop {
        eprintln!("job {} stopped at the savepoint", args.id);
    }
    Ok(())
}

/// `value` percent-encoded for a URL's query.
fn query_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}
