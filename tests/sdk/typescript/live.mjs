// Helpers for the tests that run against a live NeoForge server (started with --inject-faults).
import { randomUUID } from "node:crypto";

import { NeoForge } from "../../../sdks/typescript/dist/index.js";

export const baseUrl = process.env.NEOFORGE_BASE_URL;
if (!baseUrl) {
  throw new Error("Set NEOFORGE_BASE_URL to a NeoForge server started with --inject-faults");
}

export const REQUEST_ID = /^req_[0-9a-f]{32}$/;

/** A client for a new user, authenticated by their session token (which acts in the sandbox). */
export async function signUp(options = {}) {
  const { session } = await new NeoForge({ baseUrl }).users.create({
    email: `ts-sdk-${randomUUID()}@example.com`,
    password: "correct horse battery staple",
  });
  return new NeoForge({ baseUrl, apiKey: session.token, ...options });
}

/** Request headers that make the server fail the first `times` requests with `status`. */
export function fault(status, { times = 1, retryAfter = 0 } = {}) {
  return {
    "NeoForge-Fault": String(status),
    "NeoForge-Fault-Key": randomUUID(),
    "NeoForge-Fault-Times": String(times),
    "NeoForge-Fault-Retry-After": String(retryAfter),
  };
}
