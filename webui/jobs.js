// The jobs page: every job with its state, mode, start, duration and
// re-runs, filtered by state; a form to submit a job spec or SQL; cancel.

import { h, show, table, badge, when, duration, elapsed } from "./dom.js";
import { allJobs, call, jobPath } from "./api.js";

const STATES = ["all", "queued", "running", "finished", "failed", "cancelled"];

/** The page for `#/jobs?state=…`. */
export function jobsPage(root, params) {
  const state = STATES.includes(params.get("state")) ? params.get("state") : "all";
  const filters = h("div", { class: "filters", id: "filters" });
  const list = h("div", { class: "scroll", id: "job-list" });
  const form = submitForm();
  show(root, h("h1", {}, "Jobs"), form, filters, list);
  let shown = "";

  async function refresh() {
    const jobs = await allJobs();
    jobs.reverse(); // newest first
    const counts = { all: jobs.length };
    for (const job of jobs) counts[job.state] = (counts[job.state] || 0) + 1;
    show(
      filters,
      STATES.map((s) =>
        h(
          "a",
          { href: s === "all" ? "#/jobs" : "#/jobs?state=" + s, class: s === state ? "filter active" : "filter", "data-filter": s },
          `${s} (${counts[s] || 0})`,
        ),
      ),
    );
    const visible = jobs.filter((job) => state === "all" || job.state === state);
    // Rows are rebuilt only when something in them changed, so a person
    // reading or clicking is not disturbed every second.
    const key = JSON.stringify(visible) + (visible.some((j) => j.state === "running") ? Math.floor(Date.now() / 1000) : "");
    if (key === shown) return;
    shown = key;
    if (visible.length === 0) {
      show(list, h("p", { class: "empty" }, state === "all" ? "No jobs yet: submit one above." : `No ${state} jobs.`));
      return;
    }
    show(
      list,
      table(
        ["Name", "Id", "State", "Mode", "Started", "Duration", "Re-runs", ""],
        visible.map((job) => row(job)),
        { id: "jobs", class: "jobs" },
      ),
    );
  }

  function row(job) {
    const cancel = ["queued", "running"].includes(job.state)
      ? h("button", { class: "cancel", "data-cancel": job.id, onclick: () => cancelJob(job.id) }, "Cancel")
      : "";
    return h(
      "tr",
      { "data-job": job.id, "data-state": job.state },
      h("td", { class: "name" }, h("a", { href: "#/jobs/" + encodeURIComponent(job.id) }, job.name || job.id)),
      h("td", { class: "id" }, job.id),
      h("td", {}, badge(job.state)),
      h("td", {}, job.streaming ? "streaming" : "batch"),
      h("td", {}, when(job.started_ms)),
      h("td", { class: "n" }, duration(elapsed(job))),
      h("td", { class: "n" }, String(job.reruns || 0)),
      h("td", {}, cancel),
    );
  }

  async function cancelJob(id) {
    await call("POST", jobPath(id) + "/cancel");
    shown = "";
    await refresh();
  }

  return { refresh };
}

/** The submit form: a job spec (JSON or YAML) or a SQL script. */
function submitForm() {
  const text = h("textarea", {
    id: "submit-text",
    rows: 6,
    spellcheck: "false",
    placeholder: "A job spec (JSON or YAML), or SQL statements",
    "aria-label": "job spec or SQL",
  });
  const kind = h(
    "select",
    { id: "submit-kind", "aria-label": "what the text is" },
    h("option", { value: "spec" }, "Job spec"),
    h("option", { value: "sql" }, "SQL"),
  );
  const outcome = h("div", { id: "submit-outcome", role: "status" });
  const button = h("button", { id: "submit", type: "submit" }, "Submit");
  const form = h(
    "form",
    { class: "submit", id: "submit-form" },
    h("details", { open: true }, h("summary", {}, "Submit a job"), text, h("div", { class: "row" }, kind, button), outcome),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      if (kind.value === "sql") show(outcome, ...sqlOutcome(await call("POST", "/v1/sql", text.value, "text/plain")));
      else {
        const created = await call("POST", "/v1/jobs", text.value, "application/json");
        show(outcome, "Submitted ", jobLink(created.id), ".");
      }
      outcome.className = "ok";
    } catch (e) {
      outcome.className = "error";
      show(outcome, e.message);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function jobLink(id) {
  return h("a", { href: "#/jobs/" + encodeURIComponent(id), class: "job-link" }, id);
}

/** What each statement of a script did. */
function sqlOutcome(answer) {
  return answer.statements.map((statement) => {
    if (statement.job) return h("div", {}, "Submitted ", jobLink(statement.job), statement.inserts_into ? ` (into ${statement.inserts_into})` : "", ".");
    if (statement.explain) return h("pre", {}, statement.explain);
    return h("div", {}, statement.done || "");
  });
}
