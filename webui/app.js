// The UI's frame: which page the address names (`#/jobs`, `#/jobs/ID`,
// `#/cluster`), refreshing it every second while the tab is visible, the
// token prompt when the API asks for one, and the error line when a call
// fails. Errors the page itself raises are kept in `window.faroErrors`
// as well as reported, so a browser test can fail on any.

import { h, show } from "./dom.js";
import { setToken, token } from "./api.js";
import { jobsPage } from "./jobs.js";
import { jobPage } from "./job.js";
import { clusterPage } from "./cluster.js";

const REFRESH_MS = 1000;

window.faroErrors = window.faroErrors || [];
window.addEventListener("error", (event) => window.faroErrors.push(String(event.message)));
window.addEventListener("unhandledrejection", (event) => window.faroErrors.push(String(event.reason && event.reason.message ? event.reason.message : event.reason)));

const view = document.getElementById("view");
const problem = document.getElementById("problem");
const updated = document.getElementById("updated");
const tokenBar = document.getElementById("token-bar");
let page = null;
let timer = null;
let generation = 0;

function route() {
  const hash = location.hash || "#/jobs";
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", path.startsWith(link.getAttribute("href").slice(1)));
  const job = path.match(/^\/jobs\/(.+)$/);
  if (job) return jobPage(view, decodeURIComponent(job[1]));
  if (path === "/cluster") return clusterPage(view);
  return jobsPage(view, params);
}

async function tick(mine) {
  if (mine !== generation) return;
  clearTimeout(timer);
  try {
    if (!document.hidden) {
      await page.refresh();
      if (mine !== generation) return;
      show(problem);
      problem.hidden = true;
      updated.textContent = "updated " + new Date().toLocaleTimeString();
    }
  } catch (e) {
    if (mine !== generation) return;
    problem.hidden = false;
    show(problem, e.message);
  }
  if (mine === generation) timer = setTimeout(() => tick(mine), REFRESH_MS);
}

function open() {
  generation += 1;
  clearTimeout(timer);
  page = route();
  tick(generation);
}

window.addEventListener("faro:unauthorized", () => {
  tokenBar.hidden = false;
  document.getElementById("token-message").textContent = token() ? "The API refused this token: give another." : "The API needs a bearer token.";
});
document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("token");
  setToken(input.value.trim());
  input.value = "";
  tokenBar.hidden = true;
  open();
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) tick(generation);
});
window.addEventListener("hashchange", open);
open();
