// Line plots for what a person would rather look at than read: a job's
// throughput over time, a training job's loss per epoch.

import { s, h, count } from "./dom.js";

const W = 560;
const H = 180;
const LEFT = 56;
const BOTTOM = 24;
const TOP = 10;
const RIGHT = 12;

/**
 * A plot of `series` (`[{name, points: [[x, y], …]}]`) with the x axis
 * labelled by `xLabel(x)`; "no data" until a series has two points.
 */
export function linePlot(series, { id, title, xLabel, yLabel, logY }) {
  const figure = h("figure", { class: "plot", id });
  figure.append(h("figcaption", {}, title));
  const points = series.flatMap((one) => one.points);
  if (points.length < 2) {
    figure.append(h("p", { class: "empty" }, "no data yet"));
    return figure;
  }
  const ys = points.map(([, y]) => (logY ? Math.log10(Math.max(y, 1e-12)) : y));
  const xs = points.map(([x]) => x);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!logY) y0 = Math.min(0, y0);
  if (y1 === y0) y1 = y0 + 1;
  const px = (x) => LEFT + ((x - x0) / (x1 - x0 || 1)) * (W - LEFT - RIGHT);
  const py = (y) => TOP + (1 - ((logY ? Math.log10(Math.max(y, 1e-12)) : y) - y0) / (y1 - y0)) * (H - TOP - BOTTOM);
  const label = (v) => (logY ? Number(Math.pow(10, v).toPrecision(3)).toExponential(2) : count(v));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot-area", role: "img", "aria-label": title });
  svg.append(
    s("line", { x1: LEFT, y1: H - BOTTOM, x2: W - RIGHT, y2: H - BOTTOM, class: "axis" }),
    s("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM, class: "axis" }),
    s("text", { x: LEFT - 6, y: TOP + 8, "text-anchor": "end", class: "tick" }, label(y1)),
    s("text", { x: LEFT - 6, y: H - BOTTOM, "text-anchor": "end", class: "tick" }, label(y0)),
    s("text", { x: LEFT, y: H - 6, class: "tick" }, xLabel(x0)),
    s("text", { x: W - RIGHT, y: H - 6, "text-anchor": "end", class: "tick" }, xLabel(x1)),
    s("text", { x: 4, y: TOP + 8, class: "tick", transform: `rotate(-90 10 ${H / 2})` }, yLabel || ""),
  );
  series.forEach((one, i) => {
    if (one.points.length === 0) return;
    const path = one.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    svg.append(s("polyline", { points: path, class: "series series-" + (i % 6), "data-series": one.name }));
  });
  figure.append(svg);
  if (series.length > 1) {
    figure.append(h("div", { class: "legend" }, series.map((one, i) => h("span", { class: "key series-" + (i % 6) }, one.name))));
  }
  return figure;
}
