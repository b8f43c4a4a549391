// The server's REST answers, fetched and parsed with the contract's own parser (a test that reads a
// bad answer fails there, naming what was wrong).
import assert from "node:assert/strict";
import type { Ping } from "../../shared/types.ts";
import { parsePing } from "../../shared/validate.ts";

/** GET /api/pings?limit=N: newest first, journeys without hops. */
export async function fetchPings(baseUrl: string, limit = 1000): Promise<Ping[]> {
  const body: unknown = await (await fetch(`${baseUrl}/api/pings?limit=${limit}`)).json();
  assert.ok(Array.isArray(body), "GET /api/pings answers an array");
  return body.map((p) => {
    const r = parsePing(p);
    assert.ok(r.ok, r.ok ? "" : r.error);
    return r.value;
  });
}

/** GET /api/pings/:id, expecting 200: one ping with its hops. */
export async function fetchPing(baseUrl: string, id: string): Promise<Ping> {
  const res = await fetch(`${baseUrl}/api/pings/${id}`);
  assert.equal(res.status, 200, `GET /api/pings/${id}`);
  const r = parsePing(await res.json());
  assert.ok(r.ok, r.ok ? "" : r.error);
  return r.value;
}
