// The dashboard pages of a signed-in developer, in the sandbox or live (the switch sends
// `NeoForge-Environment`): API keys, the request log with per-key analytics, webhook
// endpoints and deliveries with replay, invoices, revenue (MRR, its movements, the key
// metrics and cohorts), single sign-on connections and domains. Everything goes through
// the session cookie.

import { apiBase, call, currentUser, describe, el, formatTime, storage } from "./api.js";
import { bars, lines, stacked } from "./charts.js";

const board = document.getElementById("board");
const errorBox = document.getElementById("dash-error");
const permissions = JSON.parse(document.getElementById("permissions").textContent);
let env = storage.get("env") === "live" ? "live" : "test";

const api = (method, path, body) => call(method, path, { body, env });

/** Runs `work`, showing its failure in the page's alert. */
async function guard(work) {
  errorBox.textContent = "";
  try {
    await work();
  } catch (e) {
    errorBox.textContent = describe(e);
  }
}

function table(caption, headings, rows) {
  return el(
    "table",
    {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: headings.length }, "Nothing yet."))),
  );
}

function field(id, label, input) {
  input.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, label), input);
}

function secretNotice(title, secret) {
  const code = el("code", { id: "new-secret", class: "secret" }, secret);
  return el("div", { class: "notice", role: "status" }, el("p", {}, title, " Shown only now: "), el("p", {}, code, " ", el("button", { type: "button", class: "copy", "data-copy": "new-secret" }, "Copy")));
}

// ---- API keys -------------------------------------------------------------------------

async function keys() {
  const { data } = await api("GET", "/v1/api_keys?limit=100");
  const notice = el("div", { id: "key-notice" });
  const name = el("input", { required: true, autocomplete: "off" });
  const scopes = el(
    "fieldset",
    {},
    el("legend", {}, "Scopes (none checked: all of yours)"),
    permissions.map((p, i) => el("label", { class: "check" }, el("input", { type: "checkbox", value: p, id: `scope-${i}` }), ` ${p}`)),
  );
  const create = el(
    "form",
    { class: "card", "aria-label": "Create a key" },
    el("h2", {}, `Create a ${env === "test" ? "sandbox" : "live"} key`),
    field("key-name", "Name", name),
    scopes,
    el("button", { type: "submit", class: "primary" }, "Create key"),
  );
  create.addEventListener("submit", (e) => {
    e.preventDefault();
    guard(async () => {
      const checked = [...scopes.querySelectorAll("input:checked")].map((c) => c.value);
      const key = await api("POST", "/v1/api_keys", { name: name.value, ...(checked.length ? { scopes: checked } : {}) });
      await render();
      document.getElementById("key-notice").replaceChildren(secretNotice(`Key “${key.name}” created.`, key.secret));
    });
  });
  const rows = data.map((k) => {
    const roll = el("button", { type: "button" }, "Roll");
    const revoke = el("button", { type: "button", class: "danger" }, "Revoke");
    roll.addEventListener("click", () =>
      guard(async () => {
        const rolled = await api("POST", `/v1/api_keys/${k.id}/roll`, {});
        if (env === "test" && k.name === "Portal sandbox key") storage.set("key", rolled.secret);
        await render();
        document.getElementById("key-notice").replaceChildren(secretNotice(`Key “${k.name}” rolled.`, rolled.secret));
      }),
    );
    revoke.addEventListener("click", () => guard(async () => {
      await api("POST", `/v1/api_keys/${k.id}/revoke`, {});
      await render();
    }));
    const revoked = Boolean(k.revoked_at);
    return el(
      "tr",
      { "data-key": k.id },
      el("th", { scope: "row" }, k.name),
      el("td", {}, el("code", {}, `${k.prefix}…`)),
      el("td", {}, k.scopes.length === permissions.length ? "all" : k.scopes.join(", ")),
      el("td", {}, formatTime(k.last_used_at)),
      el("td", {}, revoked ? `revoked ${formatTime(k.revoked_at)}` : "active"),
      el("td", {}, revoked ? "" : [roll, " ", revoke]),
    );
  });
  return [notice, table(`${env === "test" ? "Sandbox" : "Live"} keys`, ["Name", "Prefix", "Scopes", "Last used", "Status", "Actions"], rows), create];
}

// ---- Request log ----------------------------------------------------------------------

const RANGES = { "1h": [3_600_000, "minute"], "24h": [86_400_000, "hour"], "7d": [604_800_000, "hour"] };

async function requests() {
  const { data: keyList } = await api("GET", "/v1/api_keys?limit=100");
  const key = el("select", {}, el("option", { value: "" }, "All keys"), keyList.map((k) => el("option", { value: k.id }, `${k.name} (${k.prefix}…)`)));
  const status = el("select", {}, [["", "Any status"], ["success", "2xx"], ["client_error", "4xx"], ["server_error", "5xx"], ["error", "4xx and 5xx"]].map(([v, t]) => el("option", { value: v }, t)));
  const route = el("input", { placeholder: "/v1/api_keys/{id}", spellcheck: "false" });
  const range = el("select", {}, Object.keys(RANGES).map((r) => el("option", { value: r, selected: r === "24h" }, `Last ${r}`)));
  const refresh = el("button", { type: "submit", class: "primary" }, "Apply");
  const filters = el("form", { class: "filters", "aria-label": "Filters" }, field("f-key", "Key", key), field("f-status", "Status", status), field("f-route", "Route", route), field("f-range", "Time", range), refresh);
  const charts = el("div", { class: "charts", id: "charts" });
  const log = el("div", { id: "log" });

  const load = () =>
    guard(async () => {
      const [span, interval] = RANGES[range.value];
      const since = new Date(Date.now() - span).toISOString();
      const q = new URLSearchParams({ limit: "50", created_gte: since });
      const a = new URLSearchParams({ created_gte: since, interval });
      if (key.value) (q.set("api_key", key.value), a.set("api_key", key.value));
      if (route.value.trim()) (q.set("route", route.value.trim()), a.set("route", route.value.trim()));
      if (status.value) q.set("status_class", status.value);
      const [page, series] = await Promise.all([api("GET", `/v1/request_log?${q}`), api("GET", `/v1/request_log/analytics?${a}`)]);
      drawCharts(charts, series);
      const rows = page.data.map((r) =>
        el(
          "tr",
          {},
          el("td", {}, formatTime(r.created_at)),
          el("td", {}, el("code", {}, `${r.method} ${r.route}`)),
          el("td", { class: r.status < 400 ? "status-ok" : "status-err" }, String(r.status)),
          el("td", {}, `${(r.duration_us / 1000).toFixed(1)} ms`),
          el("td", {}, el("code", {}, r.request_id)),
          el("td", {}, el("code", {}, r.api_key)),
        ),
      );
      log.replaceChildren(table("Requests, newest first", ["Time", "Request", "Status", "Duration", "Request id", "Key"], rows));
    });
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  await load();
  return [filters, charts, log];
}

function drawCharts(container, series) {
  const b = series.buckets;
  const requestsPer = b.map((x) => x.requests);
  const errorRate = b.map((x) => (x.requests ? (100 * x.errors) / x.requests : null));
  const p50 = b.map((x) => (x.p50_us == null ? null : x.p50_us / 1000));
  const p95 = b.map((x) => (x.p95_us == null ? null : x.p95_us / 1000));
  const total = requestsPer.reduce((s, v) => s + v, 0);
  const errors = b.reduce((s, x) => s + x.errors, 0);
  const chart = (title, node) => el("figure", { class: "chart" }, el("h3", {}, title), node);
  container.replaceChildren(
    chart(`Requests per ${series.interval}`, bars(requestsPer, `${total} requests in the range`)),
    chart("Error rate", lines([errorRate], `${errors} errors of ${total} requests`, "%")),
    chart("Latency p50 (solid) and p95 (dashed)", lines([p50, p95], "Median and 95th percentile latency per bucket, in milliseconds", " ms")),
  );
}

// ---- Webhooks -------------------------------------------------------------------------

async function webhooks() {
  const [{ data: endpoints }, { data: events }] = await Promise.all([api("GET", "/v1/webhook_endpoints?limit=100"), api("GET", "/v1/webhook_events?limit=20")]);
  const notice = el("div", { id: "key-notice" });
  const url = el("input", { type: "url", required: true, placeholder: "https://example.com/webhooks" });
  const create = el("form", { class: "card", "aria-label": "Add an endpoint" }, el("h2", {}, "Add an endpoint (every event)"), field("wh-url", "URL", url), el("button", { type: "submit", class: "primary" }, "Add endpoint"));
  create.addEventListener("submit", (e) => {
    e.preventDefault();
    guard(async () => {
      const endpoint = await api("POST", "/v1/webhook_endpoints", { url: url.value, enabled_events: ["*"] });
      await render();
      document.getElementById("key-notice").replaceChildren(secretNotice("Endpoint added. Its signing secret:", endpoint.secret));
    });
  });
  const attempts = el("div", { id: "attempts" });
  const endpointRows = endpoints.map((w) => {
    const show = el("button", { type: "button" }, "Deliveries");
    show.addEventListener("click", () =>
      guard(async () => {
        const { data } = await api("GET", `/v1/webhook_endpoints/${w.id}/attempts?limit=50`);
        const rows = data.map((a) => el("tr", {}, el("td", {}, formatTime(a.attempted_at)), el("td", {}, el("code", {}, a.event)), el("td", { class: a.succeeded ? "status-ok" : "status-err" }, a.succeeded ? "delivered" : "failed"), el("td", {}, String(a.status_code ?? a.error ?? "")), el("td", {}, `${a.duration_ms} ms`)));
        attempts.replaceChildren(table(`Delivery attempts to ${w.url}`, ["Time", "Event", "Outcome", "Answer", "Duration"], rows));
      }),
    );
    return el("tr", {}, el("th", { scope: "row" }, w.url), el("td", {}, w.enabled_events.join(", ")), el("td", {}, w.status), el("td", {}, show));
  });
  const eventRows = events.map((ev) => {
    const replay = el("button", { type: "button" }, "Replay");
    replay.addEventListener("click", () => guard(async () => {
      const result = await api("POST", `/v1/webhook_events/${ev.id}/replay`, {});
      replay.textContent = `Replayed (${result.deliveries?.length ?? 0})`;
    }));
    return el("tr", {}, el("td", {}, formatTime(ev.created_at)), el("th", { scope: "row" }, ev.type), el("td", {}, el("code", {}, ev.id)), el("td", {}, replay));
  });
  return [notice, table("Endpoints", ["URL", "Events", "Status", ""], endpointRows), create, attempts, table("Recent events", ["Time", "Type", "Id", ""], eventRows)];
}

// ---- Invoices -------------------------------------------------------------------------

async function invoices() {
  const { data } = await api("GET", "/v1/invoices?limit=100");
  const rows = data.map((i) =>
    el("tr", {}, el("th", { scope: "row" }, i.number ?? "draft"), el("td", {}, el("code", {}, i.customer)), el("td", {}, i.status), el("td", {}, money(i.total, i.currency)), el("td", {}, formatTime(i.created_at)), el("td", {}, el("a", { href: `${apiBase()}/v1/invoices/${i.id}/html` }, "View"))),
  );
  return [table("Invoices, newest first", ["Number", "Customer", "Status", "Total", "Created", ""], rows)];
}

// ---- Revenue ---------------------------------------------------------------------------

let revenueCurrency = "usd";

/** Minor units (a decimal string) in `currency`, with its own number of decimals. */
function money(minor, currency) {
  const format = new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() });
  return format.format(Number(minor) / 10 ** format.resolvedOptions().maximumFractionDigits);
}

const percent = (rate) => (rate == null ? "–" : `${(Number(rate) * 100).toFixed(1)}%`);

/** The first instant of the UTC month `offset` months from this one. */
function monthStart(offset) {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)).toISOString().replace(".000", "");
}

const KINDS = ["new", "expansion", "reactivation", "contraction", "churn"];

async function revenue() {
  const currency = revenueCurrency;
  const range = `currency=${encodeURIComponent(currency)}&from=${monthStart(-11)}&to=${monthStart(1)}`;
  const [mrr, cohorts, moves] = await Promise.all([
    api("GET", `/v1/analytics/mrr?${range}&interval=month`),
    api("GET", `/v1/analytics/cohorts?${range}`),
    api("GET", `/v1/analytics/movements?currency=${encodeURIComponent(currency)}&from=${monthStart(-2)}&to=${monthStart(1)}`),
  ]);
  const input = el("input", { value: currency, size: 4, maxlength: 3, autocomplete: "off" });
  const pick = el("form", { class: "card", "aria-label": "Currency" }, field("rev-currency", "Currency", input), el("button", { type: "submit" }, "Show"));
  pick.addEventListener("submit", (e) => {
    e.preventDefault();
    revenueCurrency = input.value.trim().toLowerCase();
    guard(render);
  });
  const windows = mrr.data;
  const last = windows[windows.length - 1];
  const before = windows[windows.length - 2];
  const month = (w) => w.start.slice(0, 7);
  const card = (id, label, value, previous) =>
    el("div", {}, el("dt", {}, label), el("dd", {}, el("span", { id }, value), previous == null ? "" : el("small", {}, `last month ${previous}`)));
  const metrics = el(
    "dl",
    { class: "metrics", "aria-label": "Key metrics this month" },
    card("mrr-now", "MRR", money(last.mrr, currency), before && money(before.mrr, currency)),
    card("arr-now", "ARR", money(last.arr, currency), before && money(before.arr, currency)),
    card("customers-now", "Customers", String(last.customers), before && String(before.customers)),
    card("arpa-now", "ARPA", last.arpa == null ? "–" : money(last.arpa, currency), before?.arpa == null ? null : money(before.arpa, currency)),
    card("nrr-now", "Net revenue retention", percent(last.net_revenue_retention), before && percent(before.net_revenue_retention)),
    card("churn-now", "Customer churn", percent(last.customer_churn_rate), before && percent(before.customer_churn_rate)),
    card("quick-now", "Quick ratio", last.quick_ratio ?? "–", before && (before.quick_ratio ?? "–")),
  );
  const major = (minor) => Number(minor) / 100;
  const charts = el(
    "div",
    { id: "revenue-charts", class: "charts" },
    el("figure", { class: "chart" }, lines([windows.map((w) => major(w.mrr))], `MRR by month, ${month(windows[0])} to ${month(last)}: now ${money(last.mrr, currency)}`), el("figcaption", {}, "MRR")),
    el(
      "figure",
      { class: "chart" },
      stacked(
        KINDS.map((k) => ({ cls: k, values: windows.map((w) => major(w[k])) })),
        `MRR movements by month; this month ${KINDS.map((k) => `${k} ${money(last[k], currency)}`).join(", ")}`,
      ),
      el("figcaption", {}, "Movements ", el("span", { class: "legend" }, KINDS.map((k) => el("span", {}, el("i", { class: `swatch ${k}` }), k)))),
    ),
  );
  // Shaded in five steps by revenue retention (classes: the page allows no inline styles).
  const heat = (rate) => (rate == null ? "" : `heat${Math.round(Math.min(1, Math.max(0, Number(rate))) * 5)}`);
  const width = Math.max(0, ...cohorts.data.map((c) => c.windows.length));
  const cohortRows = cohorts.data.map((c) =>
    el(
      "tr",
      {},
      el("th", { scope: "row" }, month(c), " (", String(c.customers), ")"),
      c.windows.map((w) => el("td", { class: heat(w.revenue_retention), title: `${w.customers} customers, ${money(w.mrr, currency)}` }, percent(w.revenue_retention))),
    ),
  );
  const months = Array.from({ length: width }, (_, i) => `Month ${i}`);
  const moveRows = [...moves.data].reverse().map((m) =>
    el("tr", {}, el("td", {}, formatTime(m.at)), el("td", {}, el("code", {}, m.customer)), el("td", {}, m.kind), el("td", {}, money(m.delta, currency)), el("td", {}, money(m.mrr_after, currency)), el("td", {}, m.cause)),
  );
  const cohortTable = table("Revenue retention by first paid month (customers in brackets)", ["Cohort", ...months], cohortRows);
  cohortTable.id = "cohorts";
  const moveTable = table("Movements of the last three months, newest first", ["When", "Customer", "Kind", "Change", "MRR after", "Cause"], moveRows);
  moveTable.id = "movements";
  return [pick, metrics, charts, cohortTable, moveTable];
}

// ---- Single sign-on -------------------------------------------------------------------

async function sso() {
  const [{ data: connections }, { data: domains }] = await Promise.all([api("GET", "/v1/sso/connections?limit=100"), api("GET", "/v1/sso/domains?limit=100")]);
  const status = (c) => {
    if (c.status !== "active") return el("span", { class: "status-err" }, "inactive");
    if (c.last_error_at && (!c.last_login_at || c.last_error_at > c.last_login_at)) return el("span", { class: "status-err" }, `failing: ${c.last_error}`);
    return el("span", { class: "status-ok" }, c.last_login_at ? `last login ${formatTime(c.last_login_at)}` : "no login yet");
  };
  const connectionRows = connections.map((c) => {
    const toggle = el("button", { type: "button" }, c.status === "active" ? "Deactivate" : "Activate");
    toggle.addEventListener("click", () => guard(async () => {
      await api("PATCH", `/v1/sso/connections/${c.id}`, { status: c.status === "active" ? "inactive" : "active" });
      await render();
    }));
    return el(
      "tr",
      { "data-connection": c.id },
      el("th", { scope: "row" }, c.name),
      el("td", {}, c.kind),
      el("td", {}, el("code", {}, c.oidc ? c.oidc.redirect_uri : c.saml.acs_url)),
      el("td", {}, el("a", { href: c.login_url }, "Log in")),
      el("td", { class: "sso-status" }, status(c)),
      el("td", {}, toggle),
    );
  });
  const name = el("input", { required: true, autocomplete: "off" });
  const issuer = el("input", { type: "url", required: true, placeholder: "https://acme.okta.com" });
  const clientId = el("input", { required: true, autocomplete: "off" });
  const clientSecret = el("input", { type: "password", required: true, autocomplete: "off" });
  const role = el("select", {}, ["viewer", "developer", "billing", "admin"].map((r) => el("option", { value: r }, r)));
  const create = el(
    "form",
    { class: "card", "aria-label": "Add an OpenID Connect connection" },
    el("h2", {}, "Add an OpenID Connect connection"),
    field("sso-name", "Name", name),
    field("sso-issuer", "Issuer", issuer),
    field("sso-client-id", "Client id", clientId),
    field("sso-client-secret", "Client secret", clientSecret),
    field("sso-role", "Role of new members", role),
    el("button", { type: "submit", class: "primary" }, "Add connection"),
  );
  create.addEventListener("submit", (e) => {
    e.preventDefault();
    guard(async () => {
      await api("POST", "/v1/sso/connections", { name: name.value, kind: "oidc", default_role: role.value, oidc: { issuer: issuer.value, client_id: clientId.value, client_secret: clientSecret.value } });
      await render();
    });
  });
  const samlName = el("input", { required: true, autocomplete: "off" });
  const samlMetadata = el("textarea", { required: true, rows: 4, spellcheck: "false", placeholder: "<EntityDescriptor …>" });
  const samlCreate = el(
    "form",
    { class: "card", "aria-label": "Add a SAML connection" },
    el("h2", {}, "Add a SAML 2.0 connection"),
    field("saml-name", "Connection name", samlName),
    field("saml-metadata", "Identity provider metadata (XML)", samlMetadata),
    el("button", { type: "submit", class: "primary" }, "Add SAML connection"),
  );
  samlCreate.addEventListener("submit", (e) => {
    e.preventDefault();
    guard(async () => {
      await api("POST", "/v1/sso/connections", { name: samlName.value, kind: "saml", saml: { idp_metadata_xml: samlMetadata.value } });
      await render();
    });
  });
  const domainRows = domains.map((d) => {
    const actions = [];
    if (d.status === "pending") {
      const verify = el("button", { type: "button" }, "Verify");
      verify.addEventListener("click", () => guard(async () => {
        await api("POST", `/v1/sso/domains/${d.id}/verify`, {});
        await render();
      }));
      actions.push(verify);
    } else {
      const require = el("button", { type: "button" }, d.sso_required ? "Allow passwords" : "Require SSO");
      require.addEventListener("click", () => guard(async () => {
        await api("PATCH", `/v1/sso/domains/${d.id}`, { sso_required: !d.sso_required });
        await render();
      }));
      actions.push(require);
    }
    return el(
      "tr",
      { "data-domain": d.domain },
      el("th", { scope: "row" }, d.domain),
      el("td", {}, d.status === "verified" ? (d.sso_required ? "verified, SSO required" : "verified") : "pending"),
      el("td", {}, el("code", {}, `${d.verification.name} TXT "${d.verification.value}"`)),
      el("td", {}, actions),
    );
  });
  const domain = el("input", { required: true, placeholder: "acme.com" });
  const claim = el("form", { class: "card", "aria-label": "Claim a domain" }, el("h2", {}, "Claim an email domain"), field("sso-domain", "Domain", domain), el("button", { type: "submit", class: "primary" }, "Claim"));
  claim.addEventListener("submit", (e) => {
    e.preventDefault();
    guard(async () => {
      await api("POST", "/v1/sso/domains", { domain: domain.value });
      await render();
    });
  });
  return [table(`${env === "test" ? "Sandbox" : "Live"} connections`, ["Name", "Kind", "Redirect URI / ACS URL", "", "Status", ""], connectionRows), create, samlCreate, table("Email domains (both environments)", ["Domain", "Status", "DNS record", ""], domainRows), claim];
}

const BOARDS = { keys, requests, webhooks, invoices, revenue, sso };

async function render() {
  const parts = await BOARDS[board.dataset.board]();
  board.replaceChildren(...parts);
}

function initEnvSwitch() {
  for (const button of document.querySelectorAll(".env-switch button")) {
    button.setAttribute("aria-pressed", String(button.dataset.env === env));
    button.addEventListener("click", () => {
      env = button.dataset.env;
      storage.set("env", env);
      for (const b of document.querySelectorAll(".env-switch button")) b.setAttribute("aria-pressed", String(b === button));
      guard(render);
    });
  }
}

currentUser().then((user) => {
  if (!user) {
    document.getElementById("dash-login").hidden = false;
    return;
  }
  initEnvSwitch();
  guard(render);
});
