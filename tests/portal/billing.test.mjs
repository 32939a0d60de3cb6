// Charging from day one, in Debian's headless Chromium, as a founder's customer lives it:
// the pricing table → hosted checkout with pm_card_visa → an active subscription → the
// customer portal (on a phone's screen): an upgrade whose preview is the invoice to the
// cent → the card switched to a declining one → the renewal fails → the payment-failed
// email arrives at a real SMTP server (aiosmtpd) with a portal link that works → the card
// fixed, the invoice paid → cancel with a reason, the retention offer declined.
//
// It runs a server of its own (target/debug/neoforge, as `cargo xtask test` built it) so
// the sandbox's email goes to its own SMTP server. Screenshots: target/portal-screenshots/.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

import { repo, screenshots, uniqueEmail } from "./live.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const PYTHON = process.env.NEOFORGE_PYTHON ?? join(repo, "target", "py", "bin", "python");
const children = [];
let browser;
let base;
let mailDir;
const work = mkdtempSync(join(tmpdir(), "neoforge-billing-"));

/** Starts `command` and resolves with the first stdout line `ready` accepts. */
function startProcess(command, args, ready, env = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, ...env } });
  children.push(child);
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const found = ready(line);
      if (found) resolve(found);
    });
    child.on("exit", (code) => reject(new Error(`${command} exited with ${code}`)));
  });
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium is required at ${CHROMIUM} (apt-get install chromium)`);
  mailDir = join(work, "mail");
  const smtp = await startProcess(PYTHON, [join(repo, "tests", "email", "smtp_sink.py"), mailDir], (line) => JSON.parse(line).port);
  const binary = join(repo, "target", "debug", "neoforge");
  assert.ok(existsSync(binary), `${binary} is missing: run through \`cargo xtask test\``);
  base = await startProcess(
    binary,
    [
      "serve", "--listen", "127.0.0.1:0", "--database-url", `sqlite:${join(work, "server.db")}`,
      "--sandbox-smtp-url", `smtp://127.0.0.1:${smtp}`, "--email-interval-ms", "100",
      "--billing-interval-secs", "0",
    ],
    (line) => {
      try {
        const entry = JSON.parse(line);
        return entry.message === "listening" ? `http://${entry.addr}` : undefined;
      } catch {
        return undefined;
      }
    },
    { NEOFORGE_LOG: "warn,neoforge_server::app=info", NEOFORGE_LOG_FORMAT: "json" },
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  for (const child of children) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

async function api(token, method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Minor units as the pages show them, in USD. */
const usd = (minor) => `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, "0")} USD`;

/** Waits for `check` to return something, polling; fails after a minute. */
async function eventually(what, check) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const found = await check();
    if (found) return found;
    assert.ok(Date.now() < deadline, `${what}: not within a minute`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function received() {
  if (!existsSync(mailDir)) return [];
  return readdirSync(mailDir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(mailDir, f), "utf8")));
}

/** A page on a phone's screen; fails the test on any console error of ours. */
async function phone() {
  const context = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  context.setDefaultTimeout(60_000);
  const page = await context.newPage();
  const errors = [];
  // The pages under test; the success URL (the server's /healthz here, as JSON) is not one.
  const ours = () => /\/(billing|checkout|pricing)\//.test(new URL(page.url()).pathname);
  page.on("console", (m) => {
    if (m.type() === "error" && ours()) errors.push(`${page.url()}: ${m.text()} ${m.location().url}`);
  });
  page.on("pageerror", (e) => ours() && errors.push(`${page.url()}: ${e.message}`));
  return { page, errors };
}

async function fitsThePhone(page) {
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= width, `no sideways scrolling on a phone (${scroll} > ${width}) at ${page.url()}`);
}

test("pricing table → checkout → portal upgrade → failed renewal email → fixed → canceled", async () => {
  // The founder's setup, through the API.
  const signup = await fetch(`${base}/v1/users`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: uniqueEmail("founder"), password: "correct horse battery staple" }),
  });
  const session = (await signup.json()).session.token;
  const product = await api(session, "POST", "/v1/products", {
    name: "Team", description: "For growing teams", features: [{ key: "projects", limit: 20 }],
  });
  const monthly = (amount) => ({ product: product.id, currency: "usd", model: "flat", unit_amount: amount, recurring: { interval: "month" } });
  const basic = await api(session, "POST", "/v1/prices", monthly(2000));
  const pro = await api(session, "POST", "/v1/prices", monthly(5000));
  const coupon = await api(session, "POST", "/v1/coupons", { percent_off: "25", duration: "repeating", duration_in_months: 3 });
  await api(session, "POST", "/v1/email_settings", { sender_name: "Acme Billing", brand: { name: "Acme", primary_color: "#0f766e" } });
  await api(session, "POST", "/v1/billing_portal/settings", {
    plan_change: { prices: [basic.id, pro.id] },
    cancellation: { reasons: ["too_expensive", "missing_features", "other"], retention_coupon: coupon.id },
  });
  const clock = await api(session, "POST", "/v1/test_clocks", { name: "browser", frozen_time: "2027-04-01T09:00:00Z" });
  const table = await api(session, "POST", "/v1/pricing_tables", {
    name: "Acme plans",
    plans: [{ product: product.id, monthly_price: basic.id }],
    success_url: `${base}/healthz?session={CHECKOUT_SESSION_ID}`,
    cancel_url: `${base}/healthz`,
    test_clock: clock.id,
  });

  // The customer: the pricing table, then checkout with a working card.
  const { page, errors } = await phone();
  await page.goto(table.url);
  await page.screenshot({ path: join(screenshots, "billing-01-pricing.png") });
  await fitsThePhone(page);
  await page.getByRole("button", { name: /Subscribe: Team/ }).click();
  await page.waitForURL(/\/checkout\//);
  assert.equal(await page.locator("#total-today").textContent(), "20.00 USD");
  await page.getByLabel("Email").fill("grace@example.com");
  await page.getByLabel("Card (sandbox test cards)").selectOption("pm_card_visa");
  await page.screenshot({ path: join(screenshots, "billing-02-checkout.png") });
  await fitsThePhone(page);
  await page.getByRole("button", { name: "Pay 20.00 USD" }).click();
  await page.waitForURL(/\/healthz\?session=cs_/);
  const checkout = await api(session, "GET", `/v1/checkout/sessions/${new URL(page.url()).searchParams.get("session")}`);
  assert.equal(checkout.status, "complete");
  const sub = await api(session, "GET", `/v1/subscriptions/${checkout.subscription}`);
  assert.equal(sub.status, "active");

  // The customer portal: upgrade with a preview, which is what is charged.
  await api(session, "POST", `/v1/test_clocks/${clock.id}/advance`, { frozen_time: "2027-04-11T09:00:00Z" });
  const portal = await api(session, "POST", "/v1/billing_portal/sessions", { customer: checkout.customer, return_url: `${base}/healthz` });
  await page.goto(portal.url);
  await page.waitForURL(/\/billing\/$/);
  assert.equal(await page.locator(`#status-${sub.id}`).textContent(), "active");
  await page.getByLabel("Plan", { exact: true }).selectOption(pro.id);
  await page.getByRole("button", { name: "Preview the change" }).click();
  const previewed = (await page.locator("#amount-due-now").textContent()).trim();
  await page.screenshot({ path: join(screenshots, "billing-03-preview.png") });
  await fitsThePhone(page);
  await page.getByRole("button", { name: "Confirm and pay" }).click();
  await page.locator("#notice").waitFor();
  const [upgrade] = (await api(session, "GET", `/v1/invoices?subscription=${sub.id}&limit=1`)).data;
  assert.equal(upgrade.billing_reason, "subscription_update");
  assert.equal(upgrade.status, "paid");
  assert.equal(previewed, usd(upgrade.amount_due), "the preview is the invoice, to the cent");

  // The card starts declining; the renewal fails; the email arrives with a portal link.
  await page.getByLabel("Test card").selectOption("pm_card_chargeDeclined");
  await page.getByRole("button", { name: "Use this card" }).click();
  await page.locator("#notice").waitFor();
  await api(session, "POST", `/v1/test_clocks/${clock.id}/advance`, { frozen_time: "2027-05-01T11:00:00Z" });
  assert.equal((await api(session, "GET", `/v1/subscriptions/${sub.id}`)).status, "past_due");
  const failed = await eventually("the payment-failed email", () =>
    received().find((m) => m.rcpt_tos.includes("grace@example.com") && /Your payment of .* failed/.test(m.subject)),
  );
  assert.equal(failed.from, "Acme Billing <billing@neoforge.localhost>");
  const link = failed.text.match(/https?:\/\/\S+\/billing\/bpl_\S+/)?.[0];
  assert.ok(link, `a portal link in ${failed.text}`);
  assert.ok(failed.html.includes("Update your payment method"), "a button in the HTML too");

  // The link works in a fresh browser: fix the card, and what is owed is paid.
  const fresh = await phone();
  await fresh.page.goto(link);
  await fresh.page.waitForURL(/\/billing\/$/);
  assert.equal(await fresh.page.locator(`#status-${sub.id}`).textContent(), "past due");
  await fresh.page.getByLabel("Test card").selectOption("pm_card_visa");
  await fresh.page.getByRole("button", { name: "Use this card" }).click();
  await fresh.page.locator("#notice").waitFor();
  assert.equal(await fresh.page.locator(`#status-${sub.id}`).textContent(), "active");
  const [renewal] = (await api(session, "GET", `/v1/invoices?subscription=${sub.id}&limit=1`)).data;
  assert.equal(renewal.status, "paid");

  // Cancel with a reason; the retention offer comes first, and is declined.
  await fresh.page.getByLabel("Why are you leaving?").selectOption("too_expensive");
  await fresh.page.getByRole("button", { name: /^Cancel/ }).click();
  await fresh.page.locator("#decline-offer").waitFor();
  assert.ok((await fresh.page.content()).includes("25% off for 3 months"));
  await fresh.page.screenshot({ path: join(screenshots, "billing-04-offer.png") });
  await fitsThePhone(fresh.page);
  await fresh.page.getByRole("button", { name: "No thanks, cancel" }).click();
  assert.equal(await fresh.page.locator("#notice").textContent(), "Your subscription will end at the end of the period.");
  const ending = await api(session, "GET", `/v1/subscriptions/${sub.id}`);
  assert.equal(ending.cancel_at_period_end, true);
  assert.equal(ending.cancellation_reason, "too_expensive");
  assert.equal(ending.discount, null, "the offer was declined");
  await fresh.page.screenshot({ path: join(screenshots, "billing-05-canceled.png") });

  assert.deepEqual([...errors, ...fresh.errors], [], "no console errors");
});
