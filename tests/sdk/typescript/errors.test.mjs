import assert from "node:assert/strict";
import { test } from "node:test";

import {
  APIError,
  AuthenticationError,
  BadRequestError,
  NeoForge,
  NeoForgeError,
  NotFoundError,
} from "../../../sdks/typescript/dist/index.js";
import { REQUEST_ID, baseUrl, signUp } from "./live.mjs";

test("an unknown API key is an AuthenticationError with code invalid_api_key and a request id", async () => {
  const client = new NeoForge({ baseUrl, apiKey: `nf_test_${"x".repeat(32)}` });
  await assert.rejects(client.apiKeys.list(), (err) => {
    assert.ok(err instanceof AuthenticationError && err instanceof APIError && err instanceof NeoForgeError);
    assert.equal(err.name, "AuthenticationError");
    assert.equal(err.status, 401);
    assert.equal(err.code, "invalid_api_key");
    assert.match(err.requestId, REQUEST_ID);
    assert.equal(err.problem.request_id, err.requestId);
    assert.equal(err.message, err.problem.detail);
    return true;
  });
});

test("an unknown id is a NotFoundError carrying the request id", async () => {
  const client = await signUp();
  await assert.rejects(client.apiKeys.get(`key_${"0".repeat(32)}`), (err) => {
    assert.ok(err instanceof NotFoundError);
    assert.equal(err.status, 404);
    assert.equal(err.code, "resource_not_found");
    assert.match(err.requestId, REQUEST_ID);
    return true;
  });
});

test("a validation failure is a BadRequestError listing the fields", async () => {
  const client = new NeoForge({ baseUrl });
  await assert.rejects(client.users.create({ email: "short@example.com", password: "short" }), (err) => {
    assert.ok(err instanceof BadRequestError);
    assert.equal(err.code, "validation_error");
    assert.deepEqual(err.problem.errors.map((e) => e.field), ["password"]);
    assert.match(err.requestId, REQUEST_ID);
    return true;
  });
});
