// A job's numbers per chain, from its status and the previous sample:
// tasks done, rows and bytes, the rate rows arrive at, the share of time
// tasks waited for their consumers (backpressure), the slowest watermark,
// rows dropped as late.
// Rates and ratios are differences between two samples the page took,
// so they describe the last second or so, as Flink's dashboard does.

import { count, bytes, when } from "./dom.js";

/** Backpressure above which a box is coloured busy, and high. */
const BUSY = 0.1;
const HIGH = 0.5;

/**
 * `{boxes, rows, rates, sample}` for `job` drawn as `graph`: `boxes` and
 * `rows` feed the graph and the vertices table, `rates` the throughput
 * plot, `sample` the next call's `previous`.
 */
export function chainStats(graph, job, previous, now) {
  const sample = { t: now, rowsIn: [], backpressure: {} };
  const boxes = [];
  const rows = [];
  const rates = [];
  const running = job.state === "running";
  for (const vertex of graph.vertices) {
    const c = vertex.chain;
    const tasks = job.tasks.filter((t) => t.chain === c);
    let done = 0;
    let live = 0;
    let failed = 0;
    let rowsIn = 0;
    let rowsOut = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    let pressure = null;
    let watermark = null;
    let late = null;
    for (const task of tasks) {
      failed += task.attempts.filter((a) => a.state === "failed").length;
      const last = task.attempts[task.attempts.length - 1];
      if (!last) continue;
      rowsIn += last.rows_in;
      rowsOut += last.rows_out;
      bytesIn += last.bytes_in || 0;
      bytesOut += last.bytes_out || 0;
      if (last.state === "finished") done += 1;
      if (last.state !== "running") continue;
      live += 1;
      if (typeof last.late_records === "number") late = (late || 0) + last.late_records;
      if (last.watermark_ms !== undefined && last.watermark_ms !== null) watermark = watermark === null ? last.watermark_ms : Math.min(watermark, last.watermark_ms);
      if (last.backpressure_ms === undefined || last.backpressure_ms === null) continue;
      const key = `${c}/${task.subtask}/${last.attempt}`;
      sample.backpressure[key] = last.backpressure_ms;
      const before = previous ? previous.backpressure[key] : undefined;
      const ratio = before !== undefined && now > previous.t ? (last.backpressure_ms - before) / (now - previous.t) : last.backpressure_ms / Math.max(1, now - last.started_ms);
      pressure = Math.max(pressure || 0, Math.min(1, Math.max(0, ratio)));
    }
    // Rows in: what a source produced, what any other chain's head took.
    sample.rowsIn[c] = rowsIn;
    const rate = running && previous && previous.rowsIn[c] !== undefined && now > previous.t ? Math.max(0, ((rowsIn - previous.rowsIn[c]) * 1000) / (now - previous.t)) : null;
    rates[c] = rate;
    const level = live === 0 ? "idle" : pressure === null || pressure < BUSY ? "ok" : pressure < HIGH ? "busy" : "high";
    const total = vertex.parallelism;
    const parts = [];
    if (rate !== null) parts.push(`${count(rate)} rows/s`);
    if (pressure !== null) parts.push(`backpressure ${Math.round(pressure * 100)}%`);
    if (watermark !== null) parts.push(`wm ${when(watermark).slice(11)}`);
    if (late) parts.push(`${count(late)} late`);
    if (parts.length === 0) parts.push(`${bytes(bytesOut)} out`);
    boxes[c] = {
      level,
      tasks: `${done}/${total} done` + (live ? ` · ${live} running` : "") + (failed ? ` · ${failed} failed` : ""),
      rows: `rows in ${count(rowsIn)} · out ${count(rowsOut)}`,
      extra: parts.join(" · "),
    };
    rows.push([
      vertex.name,
      String(total),
      `${done}/${total}`,
      String(live),
      String(failed),
      count(rowsIn),
      count(rowsOut),
      bytes(bytesIn),
      bytes(bytesOut),
      rate === null ? "–" : count(rate),
      pressure === null ? "–" : `${Math.round(pressure * 100)}%`,
      watermark === null ? "–" : when(watermark),
      late === null ? "–" : count(late),
    ]);
  }
  return { boxes, rows, rates, sample };
}
