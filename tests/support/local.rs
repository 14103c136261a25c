//! `faro local` as a process for the tests, and its REST API as a client
//! with or without a bearer token sees it: status codes and JSON bodies.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `faro local`, killed when dropped.
pub struct Local {
    pub child: Child,
    /// `http://HOST:PORT`.
    pub url: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub token: Option<String>,
    /// Kept open: a process writing to a closed pipe dies.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `faro local --listen 127.0.0.1:0 --slots 2 ARGS` in `cwd`.
pub fn start_local(args: &[&str], cwd: &Path) -> Local {
    let mut child = Command::new(env!("CARGO_BIN_EXE_faro"))
        .arg("local")
        .args(["--listen", "127.0.0.1:0", "--slots", "2"])
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("faro local starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("prints its address");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(url.starts_with("http://"), "faro local said {line:?}");
    Local {
        child,
        url,
        token: None,
        _stdout: stdout,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

impl Local {
    fn authorize<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("authorization", &format!("Bearer {token}")),
            None => request,
        }
    }

    /// `GET path`: the status and the body as JSON (or as a JSON string).
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .authorize(agent().get(&format!("{}{path}", self.url)))
            .call();
        answer(response)
    }

    /// `POST path` with `body`.
    pub fn post(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let request = agent()
            .post(&format!("{}{path}", self.url))
            .header("content-type", "application/json");
        answer(self.authorize(request).send(body))
    }

    /// Submits `spec`; the new job's id (panics unless it was accepted).
    pub fn submit(&self, spec: &str) -> String {
        let (status, body) = self.post("/v1/jobs", spec);
        assert_eq!(status, 201, "submitting: {body}");
        body["id"].as_str().expect("an id").to_string()
    }

    /// Polls job `id` until it ends (finished, failed or cancelled);
    /// returns its status.
    pub fn ended(&self, id: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, job) = self.get(&format!("/v1/jobs/{id}"));
            if matches!(
                job["state"].as_str(),
                Some("finished" | "failed" | "cancelled")
            ) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} never ended: {job}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process's resident memory, in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the process is alive");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .expect("VmRSS in /proc/PID/status")
    }

    /// A sample of the metric `name` (the first series whose line starts
    /// with it) from `/metrics`.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let mut response = self
            .authorize(agent().get(&format!("{}/metrics", self.url)))
            .call()
            .ok()?;
        let text = response.body_mut().read_to_string().ok()?;
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }
}

fn answer(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> (u16, serde_json::Value) {
    let mut response = response.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, body)
}

/// Every attempt of a job's status, flattened.
pub fn attempts(job: &serde_json::Value) -> Vec<serde_json::Value> {
    job["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["attempts"].as_array().cloned().unwrap_or_default())
        .collect()
}
