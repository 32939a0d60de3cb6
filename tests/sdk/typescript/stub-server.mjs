// A local HTTP server with scripted answers, for what a live NeoForge never does on demand
// (hang, hold an idempotency key) and to see the exact requests the SDK sends.
import { createServer } from "node:http";

/**
 * Serves `answer(n)` to the n-th request (from 1): `{ status, headers, body }`, or a promise
 * that never settles to hang. Closed after the test `t`.
 */
export async function stubServer(t, answer) {
  const requests = [];
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    const reply = await answer(requests.length);
    res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
    res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { baseUrl: `http://127.0.0.1:${server.address().port}`, requests };
}

export const never = () => new Promise(() => {});

export function problem(status, code) {
  return { status, body: { type: "about:blank", title: code, status, detail: code, code, request_id: `req_${status}` } };
}
