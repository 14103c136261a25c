// The job graph: chains as boxes laid out in layers (sources on the left,
// each chain one layer right of its furthest producer), exchanges as
// arrows labelled with their partitioning and whether they stream or go
// through the shuffle service. Laid out once; each refresh only changes
// the boxes' texts and colours, so a 200-box graph stays cheap to keep
// live.

import { s } from "./dom.js";

const BOX_W = 230;
const BOX_H = 104;
const GAP_X = 170;
const GAP_Y = 34;
const PAD = 16;

/** Boxes' positions: `{at: [{x, y}] by chain, width, height}`. */
export function layout(graph) {
  const n = graph.vertices.length;
  const layer = new Array(n).fill(0);
  const inputs = Array.from({ length: n }, () => []);
  for (const edge of graph.edges) inputs[edge.to].push(edge.from);
  // Chains come producers first, so one pass settles every layer.
  for (let c = 0; c < n; c++) for (const from of inputs[c]) layer[c] = Math.max(layer[c], layer[from] + 1);
  const layers = [];
  for (let c = 0; c < n; c++) (layers[layer[c]] = layers[layer[c]] || []).push(c);
  const row = new Array(n).fill(0);
  for (const members of layers) {
    if (!members) continue;
    // Each box near the middle of its producers: fewer crossing arrows.
    const centre = (c) => (inputs[c].length ? inputs[c].reduce((sum, f) => sum + row[f], 0) / inputs[c].length : c);
    members.sort((a, b) => centre(a) - centre(b) || a - b);
    members.forEach((c, i) => (row[c] = i));
  }
  const tallest = Math.max(1, ...layers.map((m) => (m ? m.length : 0)));
  const at = [];
  for (let c = 0; c < n; c++) {
    const members = layers[layer[c]].length;
    // Short layers are centred against the tallest one.
    const offset = ((tallest - members) * (BOX_H + GAP_Y)) / 2;
    at[c] = { x: PAD + layer[c] * (BOX_W + GAP_X), y: PAD + offset + row[c] * (BOX_H + GAP_Y) };
  }
  return {
    at,
    width: PAD * 2 + layers.length * (BOX_W + GAP_X) - GAP_X,
    height: PAD * 2 + tallest * (BOX_H + GAP_Y) - GAP_Y,
  };
}

function clip(text, most) {
  return text.length > most ? text.slice(0, most - 1) + "…" : text;
}

function operatorsLine(vertex) {
  return clip(vertex.operators.map((o) => (o.phase === "complete" ? o.operator : `${o.operator} (${o.phase})`)).join(" → "), 36);
}

function edgeLabel(edge) {
  const keys = edge.keys.length ? `(${edge.keys.join(", ")})` : "";
  return `${edge.partitioning}${keys} · ${edge.exchange}`;
}

/**
 * The drawing of `graph`: `{svg, update(stats)}`, where `stats[chain]` is
 * `{tasks, rows, rate, backpressure, watermark}` (texts) and `level`
 * ("ok", "busy", "high", "idle": the box's colour).
 */
export function drawGraph(graph) {
  const { at, width, height } = layout(graph);
  const svg = s("svg", {
    id: "job-graph",
    class: "graph",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `job graph: ${graph.vertices.length} vertices, ${graph.edges.length} edges`,
  });
  svg.append(
    s(
      "defs",
      {},
      s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" })),
    ),
  );
  graph.edges.forEach((edge, i) => {
    const from = at[edge.from];
    const to = at[edge.to];
    const x1 = from.x + BOX_W;
    const y1 = from.y + BOX_H / 2;
    const x2 = to.x;
    const y2 = to.y + BOX_H / 2;
    const bend = Math.max(40, (x2 - x1) / 2);
    svg.append(
      s(
        "g",
        { class: "edge " + edge.exchange, "data-edge": i, "data-from": edge.from, "data-to": edge.to },
        s("path", { d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`, "marker-end": "url(#arrow)" }),
        s("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 6, "text-anchor": "middle", class: "edge-label" }, edgeLabel(edge)),
      ),
    );
  });
  const boxes = graph.vertices.map((vertex) => {
    const { x, y } = at[vertex.chain];
    const text = (dy, cls, content) => s("text", { x: x + 10, y: y + dy, class: cls }, content);
    const rect = s("rect", { x, y, width: BOX_W, height: BOX_H, rx: 6, class: "box idle" });
    const lines = {
      tasks: text(52, "line", ""),
      rows: text(70, "line", ""),
      extra: text(88, "line dim", ""),
    };
    const title = s("title", {}, vertex.operators.map((o) => `${o.vertex}: ${o.operator}${o.phase === "complete" ? "" : " (" + o.phase + ")"}`).join("\n"));
    svg.append(
      s(
        "g",
        { class: "vertex", "data-chain": vertex.chain, "data-name": vertex.name },
        title,
        rect,
        text(18, "title", clip(vertex.name, 26)),
        text(34, "operators dim", operatorsLine(vertex)),
        s("text", { x: x + BOX_W - 10, y: y + 18, "text-anchor": "end", class: "parallelism" }, `×${vertex.parallelism}`),
        lines.tasks,
        lines.rows,
        lines.extra,
      ),
    );
    return { rect, lines };
  });
  function update(stats) {
    boxes.forEach((box, chain) => {
      const stat = stats[chain];
      if (!stat) return;
      box.rect.setAttribute("class", "box " + stat.level);
      box.lines.tasks.textContent = stat.tasks;
      box.lines.rows.textContent = stat.rows;
      box.lines.extra.textContent = stat.extra;
    });
  }
  return { svg, update };
}
