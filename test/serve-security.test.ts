// The access rules as a user meets them, on a real `serve` child: headers on every answer, the token
// a non-loopback bind generates and prints, and the same token guarding the WebSocket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { startServe, waitFor } from "./support/cli-child.ts";

const DEMO = fileURLToPath(new URL("../server/demo/capture.ndjson", import.meta.url));

/** Resolves with the HTTP status of a refused upgrade, or 101 once the socket opens. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on("open", () => { ws.close(); resolve(101); });
    ws.on("unexpected-response", (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on("error", () => undefined);
  });
}

test("every answer carries the security headers", async (t) => {
  const serve = await startServe(["--source", DEMO]);
  t.after(() => serve.stop());
  for (const path of ["/", "/api/health", "/api/pings/nope"]) {
    const res = await fetch(serve.url + path);
    assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'self'/, path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(res.headers.get("x-frame-options"), "DENY", path);
    assert.equal(res.headers.get("referrer-policy"), "no-referrer", path);
  }
});

test("a wildcard bind generates a token, prints it, and refuses HTTP and WebSocket without it", async (t) => {
  const serve = await startServe(["--host", "0.0.0.0", "--source", DEMO]);
  t.after(() => serve.stop());
  const port = new URL(serve.url).port;
  const printed = /^pktpath: open http:\/\/0\.0\.0\.0:\d+\/\?token=([A-Za-z0-9_-]{32})$/m;
  const m = await waitFor(async () => printed.exec(serve.stderr()) ?? undefined, 5000, "the token line on stderr");
  const token = m[1]!;
  // Traffic goes to loopback only, whatever the bind.
  const base = `http://127.0.0.1:${port}`;
  assert.equal((await fetch(`${base}/api/health`)).status, 401);
  assert.equal((await fetch(`${base}/api/health`, { headers: { authorization: `Bearer ${token}x` } })).status, 401);
  assert.equal((await fetch(`${base}/api/health`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  const first = await fetch(`${base}/?token=${token}`);
  assert.equal(first.status, 200);
  const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0]!;
  assert.equal(cookie, `pktpath_token_${port}=${token}`);
  assert.match(first.headers.get("set-cookie") ?? "", /HttpOnly/i);
  assert.equal((await fetch(`${base}/api/pings`, { headers: { cookie } })).status, 200);

  const ws = `ws://127.0.0.1:${port}/api/stream`;
  assert.equal(await upgradeStatus(ws), 401);
  assert.equal(await upgradeStatus(ws, { cookie }), 101);
  assert.equal(await upgradeStatus(`${ws}?token=${token}`), 101);
  assert.equal(await upgradeStatus(ws, { cookie, origin: "http://evil.example" }), 403);
});

test("a token given on loopback is required too", async (t) => {
  const token = "given-token-0123456789";
  const serve = await startServe(["--token", token, "--source", DEMO]);
  t.after(() => serve.stop());
  assert.equal(serve.stderr().includes(token), false, "a token the user gave is not printed");
  assert.equal((await fetch(`${serve.url}/api/health`)).status, 401);
  assert.equal((await fetch(`${serve.url}/api/health?token=${token}`)).status, 200);
});
