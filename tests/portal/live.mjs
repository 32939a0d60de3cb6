// What both portal suites share: the server under test (NEOFORGE_BASE_URL, started by
// `cargo xtask test`), a fresh account on it, and where artefacts go.

import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, "..", "..");

export const baseUrl = process.env.NEOFORGE_BASE_URL;
if (!baseUrl) throw new Error("NEOFORGE_BASE_URL is not set: run the suite through `cargo xtask test`");

export const screenshots = join(repo, "target", "portal-screenshots");
mkdirSync(screenshots, { recursive: true });

export function uniqueEmail(tag) {
  return `${tag}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}@example.com`;
}

/** Signs up through the API; returns a sandbox key. */
export async function sandboxKey() {
  const signup = await fetch(`${baseUrl}/v1/users`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: uniqueEmail("samples"), password: "correct horse battery staple" }),
  });
  if (signup.status !== 201) throw new Error(`sign-up failed: ${signup.status} ${await signup.text()}`);
  const { session } = await signup.json();
  const key = await fetch(`${baseUrl}/v1/api_keys`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${session.token}` },
    body: JSON.stringify({ name: "samples" }),
  });
  if (key.status !== 201) throw new Error(`key creation failed: ${key.status}`);
  return (await key.json()).secret;
}
