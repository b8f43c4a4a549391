// Who may talk to `serve`, decided by the address it bound, never by the name it was given: a name
// beginning with "127." that resolves elsewhere gets a token; extra loopback and wildcard binds (in
// any spelling) answer at the URL they print; the token cookie is named for the port and kept to the
// API's paths.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Topology } from "./lib/netns.ts";
import { tempDir } from "./support/capture-file.ts";
import { startServe, waitFor, type ServeChild } from "./support/cli-child.ts";

const DEMO = fileURLToPath(new URL("../server/demo/capture.ndjson", import.meta.url));
const isRoot = process.getuid?.() === 0;

/** GET over node:http, which (unlike fetch) lets the test choose the Host header. */
function get(address: string, port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

const tokenLine = (serve: ServeChild) => /^pktpath: open (http:\/\/\S+)\/\?token=([A-Za-z0-9_-]{32})$/m.exec(serve.stderr());

test("a name beginning with 127. that resolves to another address gets a token", { skip: !isRoot && "needs root (a network namespace)" }, async (t) => {
  // The name lives only in the namespace's own /etc/hosts (bind-mounted in a private mount namespace),
  // and the address only on a veth of this machine: nothing outside it is touched.
  const topo = new Topology("ppH4");
  t.after(() => topo.destroy());
  const tmp = tempDir("pktpath-bind-");
  t.after(tmp.remove);
  topo.netns("ns");
  topo.veth({ name: "h" }, { ns: "ns", name: "n" });
  topo.addr({ name: "h" }, "10.209.4.1/24");
  topo.addr({ ns: "ns", name: "n" }, "10.209.4.2/24");
  const hosts = join(tmp.dir, "hosts");
  writeFileSync(hosts, "127.0.0.1 localhost\n10.209.4.2 127.lan.example\n");
  const serve = await startServe(["--host", "127.lan.example", "--source", DEMO], 15_000,
    ["ip", "netns", "exec", topo.n("ns"), "unshare", "-m", "--", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts]);
  t.after(() => serve.stop());
  const port = Number(new URL(serve.url).port);
  const line = await waitFor(async () => tokenLine(serve) ?? undefined, 5000, "the token line");
  assert.equal(line[1], `http://127.lan.example:${port}`);
  const host = `127.lan.example:${port}`;
  assert.equal(await get("10.209.4.2", port, "/api/health", { host }), 401, "no token: refused");
  assert.equal(await get("10.209.4.2", port, "/api/health", { host, authorization: `Bearer ${line[2]}` }), 200);
});

test("--host 127.0.0.2: the printed URL answers, without a token", async (t) => {
  const serve = await startServe(["--host", "127.0.0.2", "--source", DEMO]);
  t.after(() => serve.stop());
  assert.match(serve.url, /^http:\/\/127\.0\.0\.2:\d+$/);
  assert.equal((await fetch(`${serve.url}/api/health`)).status, 200);
  assert.equal(tokenLine(serve), null, "loopback: no token");
  // Still loopback only by Host: a rebinding name is refused.
  const port = Number(new URL(serve.url).port);
  assert.equal(await get("127.0.0.2", port, "/api/health", { host: `evil.example:${port}` }), 403);
});

for (const wildcard of ["0:0:0:0:0:0:0:0", "::", "0.0.0.0"]) {
  test(`--host ${wildcard}: a token is printed, and with it the printed URL and any name answer`, async (t) => {
    const serve = await startServe(["--host", wildcard, "--source", DEMO]);
    t.after(() => serve.stop());
    const line = await waitFor(async () => tokenLine(serve) ?? undefined, 5000, "the token line");
    const [, url, token] = line;
    assert.equal(url, serve.url);
    const port = Number(new URL(serve.url).port);
    assert.equal((await fetch(`${url}/api/health?token=${token}`)).status, 200, "the printed URL");
    assert.equal((await fetch(`${url}/api/health`)).status, 401);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `some.name.example:${port}`]) {
      assert.equal(await get("127.0.0.1", port, "/api/health", { host, authorization: `Bearer ${token}` }), 200, host);
      assert.equal(await get("127.0.0.1", port, "/api/health", { host }), 401, host);
    }
  });
}

test("the token cookie is named for the port and sent only to the API's paths", async (t) => {
  const token = "cookie-token-0123456789";
  const serve = await startServe(["--token", token, "--source", DEMO]);
  t.after(() => serve.stop());
  const port = new URL(serve.url).port;
  const first = await fetch(`${serve.url}/?token=${token}`);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("set-cookie"), `pktpath_token_${port}=${token}; Path=/api; HttpOnly; SameSite=Strict`);
  const health = (cookie: string) => fetch(`${serve.url}/api/health`, { headers: { cookie } }).then((r) => r.status);
  assert.equal(await health(`pktpath_token_${port}=${token}`), 200);
  assert.equal(await health(`pktpath_token=${token}`), 401, "the old, portless name");
  assert.equal(await health(`pktpath_token_${Number(port) + 1}=${token}`), 401, "another port's cookie");
  // The page itself holds no data: it loads without the cookie (which its paths no longer get).
  assert.equal((await fetch(`${serve.url}/`)).status, 200);
  assert.equal((await fetch(`${serve.url}/api/pings`)).status, 401);
  assert.equal((await fetch(`${serve.url}/API/pings`)).status, 401, "Express routes paths without regard to case");
});
