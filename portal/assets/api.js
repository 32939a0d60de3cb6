// Calls from the portal to the API of the server that serves it. Dashboard calls ride on the
// session cookie (HttpOnly, set by sign-up and log-in); the playground sends a sandbox key.

const STORE = {
  key: "neoforge.portal.sandbox_key",
  session: "neoforge.portal.signed_in",
  history: "neoforge.portal.history",
  env: "neoforge.portal.env",
  apiBase: "neoforge.portal.api_base",
};

/** Where the API is: this origin, unless the portal is hosted apart from it. */
export function apiBase() {
  return localStorage.getItem(STORE.apiBase) || location.origin;
}

export const storage = {
  get: (name) => localStorage.getItem(STORE[name]),
  set: (name, value) => localStorage.setItem(STORE[name], value),
  remove: (name) => localStorage.removeItem(STORE[name]),
  json(name, fallback) {
    try {
      return JSON.parse(localStorage.getItem(STORE[name])) ?? fallback;
    } catch {
      return fallback;
    }
  },
};

/** An error answer of the API: its problem document, status and request id. */
export class ApiError extends Error {
  constructor(status, problem, requestId) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.requestId = requestId;
  }
}

/** A dashboard call with the session cookie, in `env` (test or live) when given. */
export async function call(method, path, { body, env } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (env) headers["NeoForge-Environment"] = env;
  const res = await fetch(apiBase() + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "include",
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!res.ok) throw new ApiError(res.status, data, res.headers.get("x-request-id"));
  return data;
}

/** The signed-in user, or null. Asks the server only when this browser signed in, so a
 *  visitor's first page load makes no failing request. */
export async function currentUser() {
  if (!storage.get("session")) return null;
  try {
    return await call("GET", "/v1/users/me");
  } catch (e) {
    if (e.status === 401) {
      storage.remove("session");
      return null;
    }
    throw e;
  }
}

/** A sandbox key for the playground, created with the session and kept in this browser. */
export async function createSandboxKey() {
  const key = await call("POST", "/v1/api_keys", { body: { name: "Portal sandbox key" }, env: "test" });
  storage.set("key", key.secret);
  return key;
}

/** `detail` and each field error of a failed call, as one message. */
export function describe(error) {
  const fields = error.problem?.errors?.map((f) => `${f.field}: ${f.message}`) ?? [];
  const id = error.requestId ? ` (request ${error.requestId})` : "";
  return [error.message, ...fields].join(" · ") + id;
}

/** An element with attributes and children (strings become text, never HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child != null) node.append(child);
  }
  return node;
}

export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}
