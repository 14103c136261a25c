// The cluster page: workers (slots, attempts running, when each was last
// heard from) and shuffle nodes (what they store, in which tier, what
// they moved and refused).

import { h, show, table, count, bytes, duration } from "./dom.js";
import { get } from "./api.js";

/** The page for `#/cluster`. */
export function clusterPage(root) {
  const workers = h("section", { id: "workers-section" });
  const nodes = h("section", { id: "nodes-section" });
  show(root, h("h1", {}, "Cluster"), workers, nodes);

  async function refresh() {
    const [workerList, nodeList] = await Promise.all([get("/v1/workers"), get("/v1/shuffle/nodes")]);
    const slots = workerList.reduce((sum, w) => sum + w.slots, 0);
    const busy = workerList.reduce((sum, w) => sum + (w.running_attempts || 0), 0);
    show(
      workers,
      h("h2", {}, "Workers"),
      h("p", { id: "worker-summary" }, `${workerList.length} workers, ${slots} slots, ${busy} attempts running`),
      h(
        "div",
        { class: "scroll" },
        table(
          ["Worker", "Slots", "Running attempts", "Where", "Last heartbeat"],
          workerList.map((w) => h("tr", { "data-worker": w.id }, [w.id, String(w.slots), String(w.running_attempts || 0), w.embedded ? "in the scheduler's process" : "own process", duration(w.last_heartbeat_ms_ago) + " ago"].map((v) => h("td", {}, v)))),
          { id: "workers" },
        ),
      ),
    );
    show(
      nodes,
      h("h2", {}, "Shuffle nodes"),
      nodeList.length === 0
        ? h("p", { class: "empty" }, "No shuffle service: blocking edges cannot run.")
        : h(
            "div",
            { class: "scroll" },
            table(
              ["Node", "Address", "Replicas", "Shuffles", "On disk", "Memory tier", "Open partitions", "Pushed", "Fetched", "Object store up / read", "Refused"],
              nodeList.map((node) => nodeRow(node)),
              { id: "shuffle-nodes" },
            ),
          ),
    );
  }
  return { refresh };
}

function nodeRow(node) {
  const cells = [node.name, node.address, String(node.replicas)];
  const stats = node.stats;
  if (!stats) {
    return h("tr", { "data-node": node.name, class: "down" }, cells.map((v) => h("td", {}, v)), h("td", { colspan: 8, class: "error-cell" }, node.error || "no answer"));
  }
  const memory = stats.memory_budget_bytes ? `${bytes(stats.memory_bytes)} of ${bytes(stats.memory_budget_bytes)}` : "off";
  cells.push(
    String(stats.shuffles),
    bytes(stats.stored_bytes),
    memory,
    String(stats.open_partition_files),
    bytes(stats.bytes_pushed),
    bytes(stats.bytes_fetched),
    `${count(stats.tier_uploads)} / ${count(stats.tier_reads)}`,
    count(stats.refused || 0),
  );
  return h("tr", { "data-node": node.name }, cells.map((v) => h("td", {}, v)));
}
