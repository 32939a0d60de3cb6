import assert from "node:assert/strict";
import { test } from "node:test";

import { signUp } from "./live.mjs";

test("listAutoPaging follows the cursor across pages, each item once", async () => {
  const client = await signUp();
  const created = [];
  for (let i = 0; i < 5; i++) created.push((await client.apiKeys.create({ name: `key ${i}` })).id);
  const first = await client.apiKeys.list({ limit: 2 });
  assert.equal(first.data.length, 2, "a page holds `limit` items, so 5 need 3 pages");
  const seen = [];
  for await (const key of client.apiKeys.listAutoPaging({ limit: 2 })) seen.push(key.id);
  assert.equal(seen.length, 5);
  assert.deepEqual([...seen].sort(), [...created].sort());
});
