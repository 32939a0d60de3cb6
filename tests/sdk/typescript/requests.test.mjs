import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";

import {
  APIConnectionError,
  APITimeoutError,
  ConflictError,
  NeoForge,
  VERSION,
} from "../../../sdks/typescript/dist/index.js";
import { never, problem, stubServer } from "./stub-server.mjs";

const created = { status: 201, body: { id: "key_1" } };

test("requests carry auth, User-Agent, JSON headers and one Idempotency-Key reused by retries", async (t) => {
  const stub = await stubServer(t, (n) => (n === 1 ? problem(500, "internal_error") : created));
  const client = new NeoForge({ baseUrl: stub.baseUrl, apiKey: "nf_test_abc" });
  await client.apiKeys.create({ name: "ci" });
  await client.apiKeys.create({ name: "ci" });
  const [first, retry, next] = stub.requests.map((r) => r.headers);
  assert.equal(first.authorization, "Bearer nf_test_abc");
  assert.equal(first["user-agent"], `neoforge-typescript/${VERSION}`);
  assert.equal(first.accept, "application/json");
  assert.equal(first["content-type"], "application/json");
  assert.equal(stub.requests[0].body, JSON.stringify({ name: "ci" }));
  assert.match(first["idempotency-key"], /^[0-9a-f-]{36}$/);
  assert.equal(retry["idempotency-key"], first["idempotency-key"]);
  assert.notEqual(next["idempotency-key"], first["idempotency-key"]);
});

test("a caller's idempotency key and headers win; GETs send no key and no body", async (t) => {
  const stub = await stubServer(t, () => ({ status: 200, body: { data: [], has_more: false, next_cursor: null } }));
  const client = new NeoForge({ baseUrl: stub.baseUrl, headers: { "x-team": "a" } });
  await client.apiKeys.create({ name: "ci" }, { idempotencyKey: "mine", headers: { "x-team": "b" } });
  await client.apiKeys.list({ limit: 3, starting_after: undefined });
  assert.equal(stub.requests[0].headers["idempotency-key"], "mine");
  assert.equal(stub.requests[0].headers["x-team"], "b");
  assert.equal(stub.requests[1].url, "/v1/api_keys?limit=3");
  assert.equal(stub.requests[1].headers["idempotency-key"], undefined);
  assert.equal(stub.requests[1].headers["content-type"], undefined);
});

test("a 409 is retried only while the idempotency key is in use", async (t) => {
  const stub = await stubServer(t, (n) => (n === 1 ? problem(409, "idempotency_key_in_use") : n === 2 ? created : problem(409, "last_owner")));
  const client = new NeoForge({ baseUrl: stub.baseUrl, maxRetries: 2 });
  await client.apiKeys.create({ name: "ci" });
  await assert.rejects(client.apiKeys.create({ name: "ci" }), ConflictError);
  assert.equal(stub.requests.length, 3);
});

test("a slow answer is an APITimeoutError, after the retries", async (t) => {
  const stub = await stubServer(t, never);
  const client = new NeoForge({ baseUrl: stub.baseUrl, timeoutMs: 100, maxRetries: 1 });
  await assert.rejects(client.health.live(), (err) => {
    assert.ok(err instanceof APITimeoutError && err instanceof APIConnectionError);
    assert.equal(err.status, undefined);
    return true;
  });
  assert.equal(stub.requests.length, 2);
});

test("a refused connection is an APIConnectionError", async () => {
  // A port that was free a moment ago: nothing listens there.
  const server = createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  const client = new NeoForge({ baseUrl: `http://127.0.0.1:${port}`, maxRetries: 0 });
  await assert.rejects(client.health.live(), (err) => err instanceof APIConnectionError && !(err instanceof APITimeoutError));
});
