// Access rules of the dashboard, table-driven over request headers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { addressKind, checkRequest, checkTokenText, checkUpgrade, cookieValue, makePolicy } from "../server/security.ts";

const url = (q = "") => new URL(`http://x/api/health${q}`);
const T = "s3cret-token-0123456789";

test("loopback bind: this machine's names pass, a rebinding name does not", () => {
  const p = makePolicy("127.0.0.1", 8080, undefined);
  const cases: [string | undefined, boolean][] = [
    ["127.0.0.1:8080", true], ["localhost:8080", true], ["[::1]:8080", true], ["LOCALHOST:8080", true],
    ["evil.example:8080", false], ["127.0.0.1:9999", false], [undefined, false],
  ];
  for (const [host, pass] of cases) {
    assert.equal(checkRequest(p, host === undefined ? {} : { host }, url()).ok, pass, String(host));
  }
});

test("token: bearer header, query or cookie; wrong or missing is 401", () => {
  const p = makePolicy("0.0.0.0", 8080, T);
  const host = "10.1.2.3:8080";
  assert.deepEqual(checkRequest(p, { host }, url()), { ok: false, status: 401, code: "bad_token", message: "missing or wrong token" });
  assert.equal(checkRequest(p, { host, authorization: `Bearer ${T}` }, url()).ok, true);
  assert.equal(checkRequest(p, { host }, url(`?token=${T}`)).ok, true);
  assert.equal(checkRequest(p, { host, cookie: `a=b; pktpath_token_8080=${T}` }, url()).ok, true);
  assert.equal(checkRequest(p, { host, cookie: `a=b; pktpath_token_8081=${T}` }, url()).ok, false, "another port's cookie");
  assert.equal(checkRequest(p, { host, authorization: `Bearer ${T}x` }, url()).ok, false);
});

test("a named non-loopback bind accepts only its own Host", () => {
  const p = makePolicy("192.0.2.7", 9000, T);
  assert.equal(checkRequest(p, { host: "192.0.2.7:9000", authorization: `Bearer ${T}` }, url()).ok, true);
  const v = checkRequest(p, { host: "other:9000", authorization: `Bearer ${T}` }, url());
  assert.deepEqual(v, { ok: false, status: 403, code: "bad_host", message: 'Host "other:9000" is not this dashboard' });
});

test("WebSocket upgrade: a foreign Origin is refused, the page's own and none (non-browser) pass", () => {
  const p = makePolicy("127.0.0.1", 8080, undefined);
  const host = "127.0.0.1:8080";
  assert.equal(checkUpgrade(p, { host, origin: "http://127.0.0.1:8080" }, url()).ok, true);
  assert.equal(checkUpgrade(p, { host }, url()).ok, true);
  assert.deepEqual(checkUpgrade(p, { host, origin: "http://evil.example" }, url()),
    { ok: false, status: 403, code: "bad_origin", message: 'Origin "http://evil.example" may not open the stream' });
});

test("token text and cookie parsing", () => {
  assert.equal(checkTokenText("short"), "--token: at least 16 characters");
  assert.equal(checkTokenText("has space in it 1234"), "--token: only letters, digits and . _ ~ -");
  assert.equal(checkTokenText(T), null);
  assert.equal(cookieValue("x=1; pktpath_token=abc=def", "pktpath_token"), "abc=def");
  assert.equal(cookieValue(undefined, "pktpath_token"), undefined);
});

test("loopback, wildcard or other: decided by the address in any spelling, never by a name", () => {
  const cases: [string, string][] = [
    ["127.0.0.1", "loopback"], ["127.0.0.2", "loopback"], ["127.255.255.254", "loopback"], ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"], ["::ffff:127.0.0.5", "loopback"], ["::ffff:7f00:1", "loopback"],
    ["0.0.0.0", "wildcard"], ["::", "wildcard"], ["0:0:0:0:0:0:0:0", "wildcard"], ["::0", "wildcard"],
    ["10.1.2.3", "other"], ["::2", "other"], ["fe80::1%lo", "other"], ["::ffff:10.0.0.1", "other"],
    ["1.127.0.0", "other"], ["127.lan.example", "other"], ["localhost", "other"], ["127.1", "other"],
  ];
  for (const [address, kind] of cases) assert.equal(addressKind(address), kind, address);
  assert.throws(() => makePolicy("127.lan.example", 8080, undefined, "10.1.2.3"), /needs a token/);
  const extra = makePolicy("127.0.0.2", 8080, undefined);
  assert.equal(checkRequest(extra, { host: "127.0.0.2:8080" }, url()).ok, true, "the bound address itself");
  assert.equal(checkRequest(extra, { host: "localhost:8080" }, url()).ok, true);
});
