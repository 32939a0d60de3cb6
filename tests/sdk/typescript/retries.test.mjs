import assert from "node:assert/strict";
import { test } from "node:test";

import { InternalServerError, RateLimitError, ServiceUnavailableError } from "../../../sdks/typescript/dist/index.js";
import { REQUEST_ID, fault, signUp } from "./live.mjs";

test("retries recover from 503s", async () => {
  const client = await signUp();
  const page = await client.apiKeys.list({}, { headers: fault(503, { times: 2 }) });
  assert.deepEqual(page.data, []);
  assert.equal(page.lastResponse.status, 200);
});

test("retries recover from a 429", async () => {
  const client = await signUp();
  const org = await client.organizations.getCurrent({ headers: fault(429) });
  assert.equal(org.lastResponse.status, 200);
});

test("a retried create creates once", async () => {
  const client = await signUp();
  const key = await client.apiKeys.create({ name: "retried" }, { headers: fault(503) });
  const page = await client.apiKeys.list();
  assert.deepEqual(page.data.map((k) => k.id), [key.id]);
});

test("with maxRetries 0 a 503 surfaces as the typed error", async () => {
  const client = await signUp({ maxRetries: 0 });
  await assert.rejects(client.apiKeys.list({}, { headers: fault(503) }), (err) => {
    assert.ok(err instanceof ServiceUnavailableError && err instanceof InternalServerError);
    assert.equal(err.status, 503);
    assert.equal(err.code, "injected_fault");
    assert.match(err.requestId, REQUEST_ID);
    return true;
  });
});

test("retries stop after maxRetries, and a request may allow more than its client", async () => {
  const client = await signUp({ maxRetries: 1 });
  await assert.rejects(client.apiKeys.list({}, { headers: fault(429, { times: 2 }) }), RateLimitError);
  const page = await client.apiKeys.list({}, { headers: fault(429, { times: 2 }), maxRetries: 2 });
  assert.equal(page.lastResponse.status, 200);
});

test("Retry-After is honoured", async () => {
  const client = await signUp();
  const started = performance.now();
  await client.apiKeys.list({}, { headers: fault(503, { retryAfter: 1 }) });
  // Without Retry-After the first backoff is at most 500 ms.
  assert.ok(performance.now() - started >= 950, `retried after ${performance.now() - started} ms`);
});
