import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";

import { Webhook as Reference } from "standardwebhooks";

import { Webhook, WebhookVerificationError } from "../../../sdks/typescript/dist/index.js";

const secret = `whsec_${randomBytes(24).toString("base64")}`;
const payload = JSON.stringify({ type: "api_key.created", data: { id: "key_123" } });

/** Headers as the reference implementation signs them. */
function signed(body, at = new Date()) {
  const id = "msg_2mYqT3wBoVdQpXrZ";
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Reference(secret).sign(id, at, body),
  };
}

test("a good signature verifies and the payload comes back parsed", async () => {
  assert.deepEqual(await new Webhook(secret).verify(payload, signed(payload)), JSON.parse(payload));
});

test("fetch Headers and any one of several signatures are accepted", async () => {
  const headers = new Headers(signed(payload));
  headers.set("webhook-signature", `v1,${randomBytes(32).toString("base64")} ${headers.get("webhook-signature")}`);
  assert.deepEqual(await new Webhook(secret).verify(payload, headers), JSON.parse(payload));
});

test("a tampered body is rejected", async () => {
  const headers = signed(payload);
  await assert.rejects(new Webhook(secret).verify(payload.replace("key_123", "key_999"), headers), WebhookVerificationError);
});

test("another secret's signature is rejected", async () => {
  const other = new Webhook(`whsec_${randomBytes(24).toString("base64")}`);
  await assert.rejects(other.verify(payload, signed(payload)), WebhookVerificationError);
});

test("a stale timestamp is rejected, within a configurable tolerance", async () => {
  const tenMinutesAgo = new Date(Date.now() - 10 * 60 * 1000);
  const headers = signed(payload, tenMinutesAgo);
  await assert.rejects(new Webhook(secret).verify(payload, headers), /tolerance/);
  const lenient = new Webhook(secret, { toleranceSeconds: 15 * 60 });
  assert.deepEqual(await lenient.verify(payload, headers), JSON.parse(payload));
});

test("missing headers are rejected", async () => {
  const { "webhook-signature": _, ...headers } = signed(payload);
  await assert.rejects(new Webhook(secret).verify(payload, headers), WebhookVerificationError);
});
