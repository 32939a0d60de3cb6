// The portal in Debian's headless Chromium, as a new developer uses it: sign up, see the
// sandbox key, open an operation, Send, find the request in the request log, create and
// revoke a key, see two subscriptions on the revenue dashboard; a live key is refused; single sign-on is set up and used against a real
// OpenID provider (tests/identity); no console errors. Screenshots go to
// target/portal-screenshots/.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

import { baseUrl, repo, screenshots, uniqueEmail } from "./live.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
let browser;
let page;
const consoleErrors = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium is required at ${CHROMIUM} (apt-get install chromium)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Generous: a loaded machine is slow, and only a broken page waits this long.
  context.setDefaultTimeout(60_000);
  page = await context.newPage();
  // Only our pages count: the identity provider's login page is not ours.
  const ours = () => page.url().startsWith(baseUrl);
  page.on("console", (m) => {
    if (m.type() === "error" && ours()) consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => {
    if (ours()) consoleErrors.push(`${page.url()}: ${e.message}`);
  });
});

after(async () => {
  await browser?.close();
});

const shot = (name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: false });

test("sign up, first sandbox call, request log, keys, live key refused", async (t) => {
  const started = Date.now();

  let sandboxKey;
  await t.test("the root opens the portal and sign-up hands out a sandbox key", async () => {
    await page.goto(`${baseUrl}/`);
    assert.equal(new URL(page.url()).pathname, "/portal/");
    await shot("01-home");
    await page.getByLabel("Email", { exact: true }).first().fill(uniqueEmail("browser"));
    await page.locator("#signup-password").fill("correct horse battery staple");
    await page.getByRole("button", { name: "Sign up and create a sandbox key" }).click();
    await page.locator("#ready").waitFor({ state: "visible" });
    const key = await page.locator("#ready-key").textContent();
    assert.match(key, /^nf_test_/);
    sandboxKey = key;
    await shot("02-sandbox-ready");
  });

  let requestId;
  await t.test("the playground sends a real request with the key", async () => {
    await page.getByRole("link", { name: /Make your first sandbox call/ }).click();
    await page.waitForURL(/reference\/organizations\/get_current\.html/);
    assert.match(await page.locator("#pg-key").inputValue(), /^nf_test_/);
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator("#pg-response").waitFor({ state: "visible" });
    assert.match(await page.locator("#pg-status").textContent(), /^200/);
    requestId = await page.locator("#pg-request-id").textContent();
    assert.match(requestId, /^req_/);
    assert.match(await page.locator("#pg-body-out").textContent(), /"id": "org_/);
    assert.match(await page.locator("#pg-history").textContent(), /GET \/v1\/organization → 200/);
    await shot("03-playground-200");
  });

  // A figure, not a check: how long a machine takes says nothing of how long a person does.
  t.diagnostic(`front door to a first sandbox call: ${Date.now() - started} ms`);

  await t.test("the request appears in the request log", async () => {
    await page.goto(`${baseUrl}/portal/dashboard/requests.html`);
    const row = page.locator("#log tr", { hasText: requestId });
    // Entries are written in batches, within about a second: wait a second for the row,
    // ask again, for up to a minute.
    const seen = () => row.waitFor({ timeout: 1_000 }).then(() => true, () => false);
    for (const deadline = Date.now() + 60_000; !(await seen()); ) {
      assert.ok(Date.now() < deadline, `request ${requestId} not in the log within a minute`);
      await page.getByRole("button", { name: "Apply" }).click();
    }
    assert.match(await row.textContent(), /GET \/v1\/organization.*200/);
    await page.locator("#charts svg").first().waitFor();
    await shot("04-request-log");
  });

  await t.test("a key is created and revoked", async () => {
    await page.goto(`${baseUrl}/portal/dashboard/keys.html`);
    await page.getByLabel("Name").fill("browser-made");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.locator("#new-secret").waitFor();
    assert.match(await page.locator("#new-secret").textContent(), /^nf_test_/);
    const row = page.locator("tr", { hasText: "browser-made" });
    await row.getByRole("button", { name: "Revoke" }).click();
    await page.locator("tr", { hasText: "browser-made" }).filter({ hasText: "revoked" }).waitFor();
    await shot("05-keys");
  });

  await t.test("the revenue dashboard shows MRR, its movements and cohorts", async () => {
    const post = async (path, body) => {
      const r = await fetch(`${baseUrl}${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${sandboxKey}` },
        body: JSON.stringify(body),
      });
      const text = await r.text();
      assert.equal(r.status, 201, `${path}: ${text}`);
      return JSON.parse(text);
    };
    const product = await post("/v1/products", { name: "Team" });
    const price = await post("/v1/prices", { product: product.id, currency: "usd", model: "per_unit", unit_amount: 2500, recurring: { interval: "month" } });
    for (const quantity of [2, 4]) {
      const customer = await post("/v1/customers", { name: `Team of ${quantity}`, default_payment_method: "pm_card_visa" });
      await post("/v1/subscriptions", { customer: customer.id, items: [{ price: price.id, quantity }] });
    }
    await page.goto(`${baseUrl}/portal/dashboard/revenue.html`);
    const mrr = page.locator("#mrr-now");
    await mrr.waitFor();
    // Two new customers this month: 2 × 25.00 and 4 × 25.00.
    assert.match(await mrr.textContent(), /150\.00/);
    assert.equal(await page.locator("#customers-now").textContent(), "2");
    assert.equal(await page.locator("#movements tbody tr", { hasText: "new" }).count(), 2);
    assert.match(await page.locator("#cohorts tbody tr").first().textContent(), /\(2\)\s*100\.0%/);
    assert.equal(await page.locator("#revenue-charts svg").count(), 2);
    await shot("06-revenue");
  });

  await t.test("a live key is refused before anything is sent", async () => {
    await page.goto(`${baseUrl}/portal/reference/organizations/get_current.html`);
    const sent = [];
    page.on("request", (r) => {
      if (r.url().includes("/v1/")) sent.push(r.url());
    });
    await page.locator("#pg-key").fill("nf_live_0123456789abcdef");
    await page.getByRole("button", { name: "Send" }).click();
    assert.match(await page.locator("#pg-error").textContent(), /Live keys \(nf_live_…\) cannot be used in the playground/);
    assert.deepEqual(sent, []);
    await shot("06-live-key-refused");
  });

  await t.test("search finds operations from the keyboard", async () => {
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press("/");
    assert.equal(await page.evaluate(() => document.activeElement.id), "search-input");
    await page.keyboard.type("revoke key");
    const hit = page.locator("#search-results a").first();
    await hit.waitFor();
    assert.match(await hit.textContent(), /Revoke a key/);
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Enter");
    await page.waitForURL(/reference\/api_keys\/revoke\.html/);
  });

  await t.test("the layout holds on a phone", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${baseUrl}/portal/reference/api_keys/create.html`);
    const menu = page.getByRole("button", { name: "Menu" });
    assert.ok(await menu.isVisible());
    assert.ok(!(await page.locator("#sidebar").isVisible()));
    await menu.click();
    assert.ok(await page.locator("#sidebar").isVisible());
    await shot("07-phone");
  });

  await t.test("single sign-on is configured and used from the dashboard", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    const provider = await startProvider();
    try {
      await page.goto(`${baseUrl}/portal/dashboard/sso.html`);
      await page.getByLabel("Name", { exact: true }).fill("Acme IdP");
      await page.getByLabel("Issuer").fill(provider.issuer);
      await page.getByLabel("Client id").fill("portal-test");
      await page.getByLabel("Client secret").fill("portal-secret");
      await page.getByRole("button", { name: "Add connection" }).click();
      const row = page.locator("tr[data-connection]");
      await row.waitFor();
      assert.match(await row.locator(".sso-status").textContent(), /no login yet/);
      assert.match(await row.textContent(), /\/v1\/sso\/oidc\/callback/);

      const domain = `acme-${Date.now()}.test`;
      await page.getByLabel("Domain", { exact: true }).fill(domain);
      await page.getByRole("button", { name: "Claim" }).click();
      const claimed = page.locator(`tr[data-domain="${domain}"]`);
      await claimed.waitFor();
      assert.match(await claimed.textContent(), /_neoforge-verification/);
      await shot("08-sso-configured");

      // Log in through the provider's own pages, and land back in the portal.
      const sso = uniqueEmail("sso");
      await row.getByRole("link", { name: "Log in" }).click();
      await page.locator("input[name=login]").fill(sso);
      await page.locator("input[name=password]").fill("anything");
      await page.locator("button[type=submit]").click();
      await page.getByRole("button", { name: "Continue" }).click();
      await page.waitForURL(`${baseUrl}/portal/`);
      const me = await page.evaluate(async () => (await fetch("/v1/users/me")).json());
      assert.equal(me.user.email, sso);

      await page.goto(`${baseUrl}/portal/dashboard/sso.html`);
      await row.waitFor();
      assert.match(await row.locator(".sso-status").textContent(), /last login/);
      await shot("09-sso-status");
    } finally {
      provider.stop();
    }
  });

  assert.deepEqual(consoleErrors, [], "no console errors");
});

/** tests/identity's OpenID provider, with a client that returns to this server. */
async function startProvider() {
  const child = spawn("node", ["oidc_provider.mjs"], {
    cwd: join(repo, "tests", "identity"),
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = await once(createInterface({ input: child.stdout }), "line");
  const created = await fetch(`${JSON.parse(line).base}/providers`, {
    method: "POST",
    body: JSON.stringify({
      client_id: "portal-test",
      client_secret: "portal-secret",
      redirect_uri: `${baseUrl}/v1/sso/oidc/callback`,
    }),
  });
  assert.equal(created.status, 201);
  return { issuer: (await created.json()).issuer, stop: () => child.kill() };
}
