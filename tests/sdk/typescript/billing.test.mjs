import assert from "node:assert/strict";
import { test } from "node:test";

import { signUp } from "./live.mjs";

test("a subscription's life on a test clock: trial, renewal, upgrade with prorations, dunning", async () => {
  const client = await signUp();
  const product = await client.products.create({ name: "Team" });
  const recurring = { interval: "month" };
  const basic = await client.prices.create({
    product: product.id, currency: "usd", model: "flat", unit_amount: 1000, recurring, trial_days: 14,
  });
  const pro = await client.prices.create({ product: product.id, currency: "usd", model: "flat", unit_amount: 2000, recurring });
  const clock = await client.testClocks.create({ name: "ts", frozen_time: "2027-01-01T00:00:00Z" });
  const customer = await client.customers.create({ test_clock: clock.id, default_payment_method: "pm_card_visa" });

  const sub = await client.subscriptions.create({ customer: customer.id, items: [{ price: basic.id }] });
  assert.equal(sub.status, "trialing");
  assert.equal(sub.trial_end, "2027-01-15T00:00:00Z");

  await client.testClocks.advance(clock.id, { frozen_time: "2027-01-16T00:00:00Z" });
  const renewed = await client.invoices.list({ subscription: sub.id });
  // The trial's paid 0.00 invoice, then the first period's.
  assert.deepEqual(renewed.data.map((i) => [i.billing_reason, i.status, i.amount_due]), [
    ["subscription_cycle", "paid", 1000],
    ["subscription_create", "paid", 0],
  ]);

  // A day into the Jan 15 → Feb 15 period: 30 of 31 days left. Clocks only move forward.
  await client.testClocks.advance(clock.id, { frozen_time: "2027-01-15T12:00:00Z" }).then(
    () => assert.fail("a clock only moves forward"),
    (err) => assert.equal(err.status, 400),
  );
  const upgraded = await client.subscriptions.update(sub.id, {
    items: [{ price: pro.id }], proration_behavior: "always_invoice",
  });
  assert.equal(upgraded.items[0].price, pro.id);
  const [proration] = (await client.invoices.list({ subscription: sub.id, limit: 1 })).data;
  assert.deepEqual(proration.lines.map((l) => [l.price, l.amount, l.proration]), [
    [basic.id, -968, true], // 30/31 of 10.00 = 9.677… → 9.68
    [pro.id, 1935, true], //   30/31 of 20.00 = 19.354… → 19.35
  ]);
  assert.equal(proration.total, 967);
  assert.equal(proration.status, "paid");

  await client.customers.update(customer.id, { default_payment_method: "pm_card_chargeDeclined" });
  await client.testClocks.advance(clock.id, { frozen_time: "2027-02-16T00:00:00Z" });
  assert.equal((await client.subscriptions.get(sub.id)).status, "past_due");
  await client.testClocks.advance(clock.id, { frozen_time: "2027-03-02T00:00:00Z" });
  const ended = await client.subscriptions.get(sub.id);
  assert.equal(ended.status, "canceled");
  const [failed] = (await client.invoices.list({ subscription: sub.id, limit: 1 })).data;
  assert.equal(failed.attempt_count, 4);
  assert.equal(failed.payment_error, "card_declined");
});
