// The REST API, the UI's only source: every call carries the bearer token
// the user gave (kept for this browser tab only), and a refusal comes back
// as an ApiError naming the status and the API's own message.

const TOKEN_KEY = "faro.token";

/** A call the API refused or could not answer. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The token in use, if any. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

/** Uses `value` as the bearer token from now on (empty: none). */
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * `method path` with an optional body (a string, sent as it is); resolves
 * to the answer's JSON. A 401 also tells the page, which asks for a token.
 */
export async function call(method, path, body, contentType) {
  const headers = {};
  if (token()) headers.authorization = "Bearer " + token();
  if (body !== undefined) headers["content-type"] = contentType || "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch (e) {
    throw new ApiError(0, "the scheduler cannot be reached: " + e.message);
  }
  const text = await response.text();
  let answer = null;
  try {
    answer = text ? JSON.parse(text) : null;
  } catch (e) {
    answer = { error: text };
  }
  if (response.status === 401) window.dispatchEvent(new CustomEvent("faro:unauthorized"));
  if (!response.ok) {
    const message = (answer && answer.error) || response.statusText || "refused";
    throw new ApiError(response.status, message);
  }
  return answer;
}

/** `GET path`. */
export function get(path) {
  return call("GET", path);
}

/** Every job, following the API's pages (at most `most`). */
export async function allJobs(most = 5000) {
  const jobs = [];
  let after = null;
  while (jobs.length < most) {
    const query = "/v1/jobs?limit=1000" + (after ? "&after=" + encodeURIComponent(after) : "");
    const page = await get(query);
    jobs.push(...page.jobs);
    if (!page.next) break;
    after = page.next;
  }
  return jobs;
}

/** A job's path segment. */
export function jobPath(id) {
  return "/v1/jobs/" + encodeURIComponent(id);
}
