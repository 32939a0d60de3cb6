import assert from "node:assert/strict";
import { test } from "node:test";

import { AuthenticationError } from "../../../sdks/typescript/dist/index.js";
import { REQUEST_ID, signUp } from "./live.mjs";

test("returned objects expose a non-enumerable lastResponse", async () => {
  const client = await signUp();
  const key = await client.apiKeys.create({ name: "meta" });
  assert.match(key.lastResponse.requestId, REQUEST_ID);
  assert.equal(key.lastResponse.status, 201);
  assert.equal(key.lastResponse.headers.get("x-request-id"), key.lastResponse.requestId);
  assert.ok(!Object.keys(key).includes("lastResponse"));
  assert.equal(JSON.parse(JSON.stringify(key)).lastResponse, undefined);
});

test("returned arrays expose lastResponse too", async () => {
  const client = await signUp();
  const roles = await client.roles.list();
  assert.ok(Array.isArray(roles) && roles.length > 0);
  assert.match(roles.lastResponse.requestId, REQUEST_ID);
});

test("a call with no response body resolves to its request id and status", async () => {
  const client = await signUp();
  const answer = await client.sessions.delete();
  assert.match(answer.requestId, REQUEST_ID);
  assert.equal(answer.status, 204);
  await assert.rejects(client.users.me(), AuthenticationError);
});
