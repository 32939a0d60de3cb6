import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { UnprocessableEntityError } from "../../../sdks/typescript/dist/index.js";
import { REQUEST_ID, signUp } from "./live.mjs";

test("the same idempotency key creates once and replays the answer", async () => {
  const client = await signUp();
  const idempotencyKey = randomUUID();
  const first = await client.apiKeys.create({ name: "deploys" }, { idempotencyKey });
  const second = await client.apiKeys.create({ name: "deploys" }, { idempotencyKey });
  assert.equal(second.id, first.id);
  const page = await client.apiKeys.list();
  assert.deepEqual(page.data.map((k) => k.id), [first.id]);
});

test("a different body with the same idempotency key is refused", async () => {
  const client = await signUp();
  const idempotencyKey = randomUUID();
  await client.apiKeys.create({ name: "first" }, { idempotencyKey });
  await assert.rejects(client.apiKeys.create({ name: "second" }, { idempotencyKey }), (err) => {
    assert.ok(err instanceof UnprocessableEntityError);
    assert.equal(err.status, 422);
    assert.equal(err.code, "idempotency_key_reused");
    assert.match(err.requestId, REQUEST_ID);
    return true;
  });
});

test("calls without a key get distinct generated ones", async () => {
  const client = await signUp();
  const a = await client.apiKeys.create({ name: "same body" });
  const b = await client.apiKeys.create({ name: "same body" });
  assert.notEqual(a.id, b.id);
});
