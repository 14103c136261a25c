// One job's page: what it is and how it is doing — its graph with live
// rows, rates, backpressure and watermarks per box, throughput over time,
// every subtask's attempts, re-runs by cause, checkpoints, a training
// job's epochs, its result.

import { h, show, table, badge, when, duration, elapsed, count, bytes } from "./dom.js";
import { get, call, jobPath, ApiError } from "./api.js";
import { drawGraph } from "./graph.js";
import { linePlot } from "./plot.js";
import { chainStats } from "./stats.js";

/** The page for `#/jobs/ID`. */
export function jobPage(root, id) {
  const parts = {
    head: h("div", { id: "job-head" }),
    graph: h("section", { id: "graph-section" }, h("h2", {}, "Graph"), h("div", { class: "scroll graph-box", id: "graph-box" }, "loading…")),
    throughput: h("section", { id: "throughput-section" }),
    vertices: h("section", { id: "vertices-section" }),
    attempts: h("section", { id: "attempts-section" }),
    checkpoints: h("section", { id: "checkpoints-section" }),
    epochs: h("section", { id: "epochs-section" }),
    skew: h("section", { id: "skew-section" }),
    result: h("section", { id: "result-section" }),
  };
  show(root, h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", id), ...Object.values(parts));
  let drawing = null;
  let graph = null;
  let resultShown = false;
  const seen = {};
  const history = []; // [{t, rates: [per chain]}]
  let previous = null;

  async function refresh() {
    let job;
    try {
      job = await get(jobPath(id));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        show(parts.head, h("h1", {}, "No such job"), h("p", { class: "error" }, e.message));
        return;
      }
      throw e;
    }
    if (!graph) {
      graph = await get(jobPath(id) + "/graph");
      drawing = drawGraph(graph);
      show(parts.graph.querySelector("#graph-box"), drawing.svg);
    }
    const now = Date.now();
    const stats = chainStats(graph, job, previous, now);
    previous = stats.sample;
    drawing.update(stats.boxes);
    if (job.state === "running") {
      history.push({ t: now, rates: stats.rates });
      if (history.length > 600) history.shift();
    }
    once("head", job, () => show(parts.head, ...header(job)));
    showThroughput(job);
    once("vertices", [stats.rows, job.state], () => show(parts.vertices, h("h2", {}, "Vertices"), h("div", { class: "scroll" }, table(["Vertex", "Parallelism", "Tasks done", "Running", "Failed", "Rows in", "Rows out", "Bytes in", "Bytes out", "Rows/s", "Backpressure", "Watermark", "Late rows"], stats.rows, { id: "vertices" }))));
    once("attempts", job.tasks, () => show(parts.attempts, h("h2", {}, "Attempts"), h("div", { class: "scroll" }, attemptsTable(job))));
    once("checkpoints", job.checkpoints, () => show(parts.checkpoints, ...checkpoints(job.checkpoints)));
    once("epochs", job.epochs, () => show(parts.epochs, ...epochs(job.epochs || [])));
    once("skew", job.divided, () => show(parts.skew, ...skew(job.divided || [])));
    if (job.state === "finished" && !resultShown) {
      resultShown = true;
      showResult();
    }
  }

  /** Runs `draw` only when `data` changed since it last ran for `name`. */
  function once(name, data, draw) {
    const key = JSON.stringify(data === undefined ? null : data);
    if (seen[name] === key) return;
    seen[name] = key;
    draw();
  }

  function showThroughput(job) {
    if (history.length === 0) {
      once("throughput", job.state, () => show(parts.throughput, h("h2", {}, "Throughput"), h("p", { class: "empty", id: "throughput" }, job.state === "running" || job.state === "queued" ? "measuring…" : "Throughput is plotted while the page is open on a running job.")));
      return;
    }
    const t0 = history[0].t;
    const names = graph.vertices.map((v) => v.name);
    const series = names.length <= 6 ? names.map((name, c) => ({ name, points: history.map((sample) => [sample.t - t0, sample.rates[c] || 0]) })) : [{ name: "all", points: history.map((sample) => [sample.t - t0, sample.rates.reduce((a, b) => a + (b || 0), 0)]) }];
    show(parts.throughput, h("h2", {}, "Throughput"), linePlot(series, { id: "throughput", title: "rows in per second", xLabel: (ms) => duration(ms), yLabel: "rows/s" }));
  }

  async function showResult() {
    let result;
    try {
      result = await get(jobPath(id) + "/result");
    } catch (e) {
      return; // a job without `collect` has no result to show
    }
    if (!result || !result.columns || result.columns.length === 0) return;
    const rows = result.rows.slice(0, 100).map((row) => row.map((v) => (v === null ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v))));
    const note = result.rows.length > 100 || result.truncated ? `first 100 of ${result.rows.length}${result.truncated ? "+" : ""} rows` : `${result.rows.length} rows`;
    show(parts.result, h("h2", {}, "Result"), h("p", { class: "dim" }, note), h("div", { class: "scroll" }, table(result.columns, rows, { id: "result" })));
  }

  async function cancel() {
    await call("POST", jobPath(id) + "/cancel");
    await refresh();
  }

  function header(job) {
    const reruns = job.reruns || {};
    const causes = [
      ["task failures", reruns.task_failures],
      ["lost workers", reruns.lost_workers],
      ["lost partitions", reruns.lost_partitions],
    ].filter(([, n]) => n > 0);
    const rerunText = causes.length ? causes.map(([cause, n]) => `${n} (${cause})`).join(", ") : "none";
    const items = [
      ["Id", job.id],
      ["Mode", job.streaming ? "streaming" : "batch"],
      ["Submitted", when(job.submitted_ms)],
      ["Started", when(job.started_ms)],
      ["Duration", duration(elapsed(job))],
      ["Re-runs", rerunText],
    ];
    if (reruns.records_possibly_lost) items.push(["Rows possibly lost", count(reruns.records_possibly_lost)]);
    const live = job.state === "running" || job.state === "queued";
    return [
      h("h1", {}, h("span", { id: "job-name" }, job.name || job.id), " ", badge(job.state)),
      h("dl", { class: "facts" }, items.map(([k, v]) => [h("dt", {}, k), h("dd", { "data-fact": k }, v)])),
      live ? h("button", { id: "cancel-job", class: "cancel", onclick: cancel }, "Cancel job") : null,
      job.error ? h("pre", { class: "error-text", id: "job-error" }, job.error) : null,
    ];
  }
  return { refresh };
}

function attemptsTable(job) {
  const rows = [];
  for (const task of job.tasks) {
    for (const attempt of task.attempts) {
      const end = attempt.finished_ms || (attempt.state === "running" ? Date.now() : null);
      rows.push(
        h(
          "tr",
          { "data-attempt": `${task.chain}/${task.subtask}/${attempt.attempt}`, "data-state": attempt.state },
          h("td", {}, task.vertex),
          h("td", { class: "n" }, String(task.subtask)),
          h("td", { class: "n" }, String(attempt.attempt)),
          h("td", {}, attempt.worker),
          h("td", {}, badge(attempt.state)),
          h("td", {}, when(attempt.started_ms)),
          h("td", { class: "n" }, end ? duration(end - attempt.started_ms) : "–"),
          h("td", { class: "n" }, count(attempt.rows_in)),
          h("td", { class: "n" }, count(attempt.rows_out)),
          h("td", { class: "error-cell" }, attempt.error || ""),
        ),
      );
    }
  }
  return table(["Vertex", "Subtask", "Attempt", "Worker", "State", "Started", "Duration", "Rows in", "Rows out", "Error"], rows, { id: "attempts" });
}

function checkpoints(history) {
  if (!history || (history.completed.length === 0 && !history.abandoned && history.restores.length === 0)) return [];
  const summary = `${history.completed_total || history.completed.length} completed, ${history.abandoned} abandoned, ${history.restores.length} restores` + (history.unusable.length ? `, ${history.unusable.length} unusable` : "");
  const rows = history.completed
    .slice()
    .reverse()
    .map((c) => [String(c.id), when(c.triggered_ms), duration(c.duration_ms), bytes(c.bytes), duration(c.alignment_ms), bytes(c.in_flight_bytes || 0), String(c.tasks)]);
  return [h("h2", {}, "Checkpoints"), h("p", { id: "checkpoint-summary" }, summary), h("div", { class: "scroll" }, table(["Id", "Triggered", "Duration", "Size", "Alignment", "In flight", "Tasks"], rows, { id: "checkpoints" }))];
}

function epochs(list) {
  if (list.length === 0) return [];
  const losses = list.filter((e) => e.loss !== null && e.loss !== undefined);
  const plot = linePlot([{ name: "loss", points: losses.map((e) => [e.epoch, e.loss]) }], { id: "loss", title: "loss per epoch", xLabel: (x) => "epoch " + x, yLabel: "loss", logY: losses.every((e) => e.loss > 0) });
  const rows = list.map((e) => [String(e.epoch), e.loss === null || e.loss === undefined ? "–" : e.loss.toExponential(4), duration(e.duration_ms)]);
  return [h("h2", {}, "Iterations"), plot, h("div", { class: "scroll" }, table(["Epoch", "Loss", "Duration"], rows, { id: "epochs" }))];
}

function skew(divided) {
  if (divided.length === 0) return [];
  const rows = divided.map((d) => [d.vertex, String(d.partition), bytes(d.bytes), String(d.pieces)]);
  return [h("h2", {}, "Skewed partitions read in pieces"), table(["Vertex", "Partition", "Size", "Pieces"], rows, { id: "skew" })];
}
