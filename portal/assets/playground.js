// The playground of an operation page: a form built from the operation (path and query
// parameters, headers, a JSON body checked against its schema), Send for a real request with
// the sandbox key, the answer with its headers, a history, and copy as curl.
//
// Only sandbox keys: a live key is refused here, before anything is sent, and the server
// refuses it too for requests marked `NeoForge-Portal` (403 live_key_in_portal).

import { apiBase, el, storage } from "./api.js";
import { copyText } from "./portal.js";
import { validate } from "./validate.js";

const spec = JSON.parse(document.getElementById("playground-spec").textContent);
const form = document.getElementById("pg-form");
const keyInput = document.getElementById("pg-key");
const bodyInput = document.getElementById("pg-body");
const error = document.getElementById("pg-error");
const SHOWN_HEADERS = /^(x-request-id|ratelimit|x-ratelimit|retry-after|content-type|idempotent-replayed|deprecation|sunset)/;
const MAX_HISTORY = 30;

keyInput.value = storage.get("key") ?? "";

/** Why the key cannot be used, or null. */
export function keyProblem(key) {
  if (!key) return "Paste your sandbox key (nf_test_…), or sign up on the home page to get one.";
  if (key.startsWith("nf_live_")) {
    return "Live keys (nf_live_…) cannot be used in the playground: it only sends sandbox requests. Use an nf_test_ key; live keys belong on your servers.";
  }
  if (!key.startsWith("nf_test_")) return "Sandbox keys start with nf_test_.";
  return null;
}

/** The request the form describes: {method, url, headers, body} or {errors}. */
function request() {
  const errors = [];
  const key = keyInput.value.trim();
  const problem = spec.auth ? keyProblem(key) : null;
  if (problem) errors.push(problem);
  let path = spec.path;
  for (const input of form.querySelectorAll("[data-path]")) {
    const value = input.value.trim();
    if (!value) errors.push(`${input.dataset.path} is required.`);
    path = path.replace(`{${input.dataset.path}}`, encodeURIComponent(value));
  }
  const query = new URLSearchParams();
  for (const input of form.querySelectorAll("[data-query]")) {
    const value = input.value.trim();
    if (value) query.set(input.dataset.query, value);
    else if (input.required) errors.push(`${input.dataset.query} is required.`);
  }
  const headers = { "NeoForge-Portal": "playground" };
  if (spec.auth && key) headers.Authorization = `Bearer ${key}`;
  for (const input of form.querySelectorAll("[data-header]")) {
    if (input.value.trim()) headers[input.dataset.header] = input.value.trim();
  }
  let body;
  const bodyErrors = document.getElementById("pg-body-errors");
  bodyErrors?.replaceChildren();
  if (bodyInput) {
    try {
      const value = JSON.parse(bodyInput.value || "null");
      const invalid = validate(value, spec.body.schema, spec.body.defs);
      for (const e of invalid) bodyErrors.append(el("li", {}, `${e.path} ${e.message}`));
      if (invalid.length) errors.push("The body does not match the schema.");
      body = JSON.stringify(value);
      headers["Content-Type"] = "application/json";
    } catch (e) {
      errors.push(`The body is not valid JSON: ${e.message}`);
    }
  }
  if (errors.length) return { errors };
  const search = query.toString();
  return { method: spec.method, url: `${apiBase()}${path}${search ? `?${search}` : ""}`, headers, body };
}

function show(res, text, millis) {
  document.getElementById("pg-response").hidden = false;
  const status = document.getElementById("pg-status");
  status.textContent = `${res.status} ${res.statusText}`;
  status.className = res.ok ? "status-ok" : "status-err";
  document.getElementById("pg-request-id").textContent = res.headers.get("x-request-id") ?? "—";
  document.getElementById("pg-time").textContent = `${millis} ms`;
  const headers = document.getElementById("pg-headers");
  headers.replaceChildren();
  for (const [name, value] of res.headers) {
    if (SHOWN_HEADERS.test(name)) headers.append(el("dt", {}, name), el("dd", {}, value));
  }
  let pretty = text;
  try {
    pretty = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: shown as it came
  }
  document.getElementById("pg-body-out").textContent = pretty;
}

function renderHistory() {
  const list = document.getElementById("pg-history");
  list.replaceChildren(
    ...storage.json("history", []).map((h) =>
      el("li", {}, `${new Date(h.at).toLocaleTimeString()} `, el("code", {}, `${h.method} ${h.path}`), ` → ${h.status} `, el("code", {}, h.request_id ?? "")),
    ),
  );
}

function remember(req, res) {
  const entry = { at: Date.now(), op: spec.id, method: req.method, path: new URL(req.url).pathname, status: res.status, request_id: res.headers.get("x-request-id") };
  storage.set("history", JSON.stringify([entry, ...storage.json("history", [])].slice(0, MAX_HISTORY)));
  renderHistory();
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.textContent = "";
  const req = request();
  if (req.errors) {
    error.textContent = req.errors.join(" ");
    return;
  }
  const send = document.getElementById("pg-send");
  send.disabled = true;
  const started = performance.now();
  try {
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, credentials: "omit" });
    const text = await res.text();
    show(res, text, Math.round(performance.now() - started));
    remember(req, res);
  } catch (err) {
    error.textContent = `The request failed: ${err.message}`;
  } finally {
    send.disabled = false;
  }
});

document.getElementById("pg-copy-curl").addEventListener("click", (e) => {
  const req = request();
  if (req.errors) {
    error.textContent = req.errors.join(" ");
    return;
  }
  const quote = (s) => `'${s.replaceAll("'", "'\\''")}'`;
  const parts = [`curl${req.method === "GET" ? "" : ` -X ${req.method}`} ${quote(req.url)}`];
  for (const [name, value] of Object.entries(req.headers)) parts.push(`-H ${quote(`${name}: ${value}`)}`);
  if (req.body !== undefined) parts.push(`-d ${quote(req.body)}`);
  copyText(parts.join(" \\\n  "), e.target);
});

document.getElementById("pg-clear-history").addEventListener("click", () => {
  storage.remove("history");
  renderHistory();
});

renderHistory();
