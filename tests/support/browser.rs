//! A real headless Chromium, driven over WebDriver by ChromeDriver
//! (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs),
//! for the web UI's tests: open a page, find what it shows, click, type,
//! read the browser's console. A browser dropped while its test panics
//! saves a screenshot of what it showed to `target/ui-screenshots/`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Where ChromeDriver and Chromium are (Debian's paths unless the
/// environment says otherwise).
fn driver_path() -> String {
    std::env::var("FARO_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

fn chromium_path() -> String {
    std::env::var("FARO_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// One browser session and the driver process behind it.
pub struct Browser {
    driver: Child,
    session: String,
    base: String,
    name: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// The W3C key an element reference is stored under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts Chromium at `width`×`height`; `name` names its screenshots.
    pub fn start(name: &str, width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new(driver_path())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {} failed ({e}): the UI tests need Debian's chromium and \
                     chromium-driver (.ci/run installs them)",
                    driver_path()
                )
            });
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(
            agent().get(&format!("{base}/status")).call(),
            Ok(r) if r.status() == 200
        ) {
            assert!(Instant::now() < deadline, "chromedriver never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("a profile directory");
        // Without the background-networking flags Chromium keeps dialling
        // Google's hosts, which this closed network refuses.
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium_path(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ]
            }
        }}});
        let mut browser = Browser {
            driver,
            session: String::new(),
            base,
            name: name.to_string(),
            _profile: profile,
        };
        let created = browser.call("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        browser
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let response = match (method, body) {
            ("GET", _) => agent().get(&url).call(),
            ("DELETE", _) => agent().delete(&url).call(),
            (_, body) => agent()
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status < 300, "{method} {path} answered {status}: {text}");
        answer.get("value").cloned().unwrap_or(answer)
    }

    /// Opens `url` and waits for it to load.
    pub fn open(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body) with `args`; what it returns.
    pub fn run(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs `script` (a function body whose last argument is a callback
    /// it calls with its answer) with `args`; what it answers.
    pub fn run_async(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The texts of every element `css` matches, in page order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let found = self.run(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent.trim())",
            json!([css]),
        );
        found
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|t| t.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many elements `css` matches.
    pub fn count(&self, css: &str) -> usize {
        self.texts(css).len()
    }

    /// Waits until `check` gives something (at most 60 s), then returns it;
    /// panics naming `what` otherwise.
    pub fn wait_for<T>(&self, what: &str, mut check: impl FnMut(&Browser) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = check(self) {
                return found;
            }
            assert!(Instant::now() < deadline, "the page never showed {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The element `css` matches first (waiting for it to appear).
    fn element(&self, css: &str) -> String {
        self.wait_for(css, |b| {
            let found =
                b.call_lenient("/element", json!({"using": "css selector", "value": css}))?;
            found
                .get(ELEMENT)
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    }

    /// A POST whose refusal (no such element yet) is `None`.
    fn call_lenient(&self, path: &str, body: Value) -> Option<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut response = agent()
            .post(&url)
            .header("content-type", "application/json")
            .send(body.to_string())
            .ok()?;
        if response.status().as_u16() >= 300 {
            return None;
        }
        let answer: Value = response.body_mut().read_json().ok()?;
        answer.get("value").cloned()
    }

    /// Clicks what `css` matches, as a person would (it must be visible
    /// and not covered).
    pub fn click(&self, css: &str) {
        let element = self.element(css);
        self.call("POST", &format!("/element/{element}/click"), None);
    }

    /// Types `text` into the field `css` matches.
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css);
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Sets the field `css` matches to `text` at once (long texts typed
    /// key by key take seconds).
    pub fn fill(&self, css: &str, text: &str) {
        self.run(
            "const e = document.querySelector(arguments[0]); e.value = arguments[1]; \
             e.dispatchEvent(new Event('input', {bubbles: true}));",
            json!([css, text]),
        );
    }

    /// Resizes the window.
    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    /// Console messages that are errors: JavaScript exceptions and
    /// `console.error` calls (from the browser's log and from the page's
    /// own record), and failed loads of the UI's own files. Failed API
    /// calls are not among them: refusals are answers the page shows.
    pub fn console_errors(&self) -> Vec<String> {
        let logged = self.call("POST", "/se/log", Some(json!({"type": "browser"})));
        let mut errors: Vec<String> = logged
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_string())
            .filter(|message| !(message.contains("/v1/") && message.contains("Failed to load")))
            .collect();
        let own = self.run("return window.faroErrors || []", json!([]));
        errors.extend(
            own.as_array()
                .into_iter()
                .flatten()
                .map(|e| e.as_str().unwrap_or_default().to_string()),
        );
        errors
    }

    /// Saves what the window shows as a PNG; returns where.
    pub fn screenshot(&self, label: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{}-{label}.png", self.name));
        let shot = self.call("GET", "/screenshot", None);
        if let Some(encoded) = shot.as_str() {
            use base64::Engine;
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) {
                let _ = std::fs::write(&path, bytes);
            }
        }
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.session.is_empty() {
            let path = self.screenshot("failed");
            eprintln!("the page as it was: {}", path.display());
        }
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = agent().delete(&url).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
