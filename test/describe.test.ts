// Words and numbers for people (shared/describe.ts), flow groups (shared/flows.ts) and the parsers of
// the contract's new fields (shared/validate.ts): table-driven, exact, with zones named explicitly.
import assert from "node:assert/strict";
import { test } from "node:test";
import { asExchange, epochUsOf, exchangeLine, formatDeltaNs, formatDurationNs, formatWallClock, hopEpochUs, isoOfEpochUs } from "../shared/describe.ts";
import { groupFlows, percentile } from "../shared/flows.ts";
import type { Exchange, Ping } from "../shared/types.ts";
import { parseExchange, parsePing } from "../shared/validate.ts";
import { errorPing, fragmentPing, natPing, ruleDropPing, vxlanPing } from "./support/path-cases.ts";

test("durations: one scale for page and terminal, the unit spelled for each", () => {
  const table: [number, string, string][] = [[0, "0 ns", "0ns"], [850, "850 ns", "850ns"], [1000, "1.0 µs", "1.0us"], [15_000, "15.0 µs", "15.0us"],
    [999_949, "999.9 µs", "999.9us"], [1_250_000, "1.25 ms", "1.25ms"], [2e9, "2.000 s", "2.000s"], [-3000, "-3.0 µs", "-3.0us"]];
  for (const [ns, page, ascii] of table) assert.deepEqual([formatDurationNs(ns), formatDurationNs(ns, true)], [page, ascii], String(ns));
  assert.deepEqual([formatDeltaNs(1500), formatDeltaNs(-1500)], ["+1.5 µs", "−1.5 µs"]);
});

test("wall clock: µs kept, shown in the viewer's zone with the zone named, daylight saving included", () => {
  const at = "2026-07-02T06:34:15.123456Z";
  assert.equal(epochUsOf(at), Date.parse("2026-07-02T06:34:15.123Z") * 1000 + 456);
  assert.equal(isoOfEpochUs(epochUsOf(at) ?? 0), at);
  assert.equal(isoOfEpochUs(0), "1970-01-01T00:00:00.000000Z");
  const table: [string, string, boolean, string][] = [
    [at, "UTC", false, "06:34:15.123456 UTC"],
    [at, "Europe/Berlin", true, "2026-07-02 08:34:15.123456 GMT+2"],
    ["2026-12-02T06:34:15.000001Z", "Europe/Berlin", true, "2026-12-02 07:34:15.000001 GMT+1"],
    ["2026-12-02T02:00:00Z", "America/New_York", true, "2026-12-01 21:00:00.000000 EST"],
  ];
  for (const [iso, timeZone, date, want] of table) assert.equal(formatWallClock(iso, { timeZone, date }), want, `${iso} ${timeZone}`);
  assert.equal(formatWallClock(at, { timeZone: "UTC", fractionDigits: 3 }), "06:34:15.123 UTC");
  assert.equal(formatWallClock("yesterday", { timeZone: "UTC" }), "yesterday", "what is not ISO 8601 UTC is shown as given");
  for (const bad of ["2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00+01:00"]) assert.equal(epochUsOf(bad), undefined, bad);
  // A hop's time: the journey's `at` is its first hop; later hops add their tNs.
  const j = { id: "j-1", skbaddr: "0x1", at, hops: [{ event: "net_dev_queue", ifname: "a", tNs: 1000, len: 1 }] };
  assert.equal(hopEpochUs(j, 26_000), (epochUsOf(at) ?? 0) + 25);
});

test("one line per exchange: protocol, ports, flags, status", () => {
  const tcp: Exchange = { id: "x-1", kind: "tcp", family: 4, src: "10.0.0.2", dst: "10.0.1.5", sport: 51514, dport: 443, status: "refused",
    request: { id: "j-1", skbaddr: "0x1", hops: [], packet: { family: 4, proto: "tcp", src: "10.0.0.2", dst: "10.0.1.5", sport: 51514, dport: 443, tcpFlags: "S" } },
    reply: { id: "j-2", skbaddr: "0x2", hops: [], packet: { family: 4, proto: "tcp", src: "10.0.1.5", dst: "10.0.0.2", sport: 443, dport: 51514, tcpFlags: "R" } } };
  const dns: Exchange = { id: "x-2", kind: "udp", family: 6, src: "fd00::2", dst: "fd00::53", sport: 40000, dport: 53, status: "no-reply",
    request: { id: "j-3", skbaddr: "0x3", hops: [], packet: { family: 6, proto: "udp", src: "fd00::2", dst: "fd00::53", dnsId: 0x1a2b } } };
  assert.equal(exchangeLine(tcp), "tcp 10.0.0.2:51514 → 10.0.1.5:443 · S → R · refused");
  assert.equal(exchangeLine(dns), "udp [fd00::2]:40000 → [fd00::53]:53 dns 0x1a2b · no-reply");
  assert.equal(exchangeLine(asExchange(natPing())), "icmp 10.0.0.2 → 10.0.1.5 seq 1 · complete");
  assert.deepEqual(asExchange(natPing()).kind, "icmp-echo");
});

test("flows: counts per status and nearest-rank percentiles, groups in order of their newest member", () => {
  assert.deepEqual([percentile([], 50), percentile([5], 99), percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 99)], [undefined, 5, 2, 4]);
  const mk = (id: string, dst: string, status: Ping["status"], rttNs?: number): Ping =>
    ({ id, family: 4, src: "10.0.0.2", dst, icmpId: 1, seq: 1, status, ...(rttNs !== undefined ? { rttNs } : {}) });
  const rtts = Array.from({ length: 100 }, (_, i) => (i + 1) * 1000);
  const pings = [mk("p-200", "10.0.0.9", "error"), ...rtts.map((r, i) => mk(`p-${i}`, "10.0.0.5", "complete", r)), mk("p-150", "10.0.0.5", "dropped")];
  const [a, b] = groupFlows(pings);
  assert.deepEqual(a, { key: "icmp-echo 10.0.0.2 10.0.0.9", kind: "icmp-echo", family: 4, src: "10.0.0.2", dst: "10.0.0.9", count: 1, dropped: 0,
    errors: 1, noReply: 0, refused: 0, ids: ["p-200"] });
  assert.deepEqual([b?.count, b?.dropped, b?.rttP50Ns, b?.rttP99Ns, b?.ids.length], [101, 1, 50_000, 99_000, 101]);
});

test("validate: the contract's new fields survive the wire (at, per-hop header, outer, netfilter, ttl, fragments, error, rule)", () => {
  for (const make of [natPing, vxlanPing, ruleDropPing, errorPing, fragmentPing]) {
    const p = { ...make(), at: "2026-12-02T06:34:15.123456Z" };
    const wire: unknown = JSON.parse(JSON.stringify(p));
    assert.deepEqual(parsePing(wire), { ok: true, value: p }, make.name);
    assert.deepEqual(parseExchange(JSON.parse(JSON.stringify(asExchange(p)))), { ok: true, value: asExchange(p) }, make.name);
  }
  const table: [unknown, string][] = [
    [{ ...errorPing(), status: "refused" }, "ping.status: expected one of complete, no-reply, dropped, error"],
    [{ ...errorPing(), error: { from: "10.0.0.1", type: "11", code: 0, text: "x" } }, "ping.error.type: expected a number"],
    [{ ...fragmentPing(), fragments: {} }, "ping.fragments: expected an array"],
    [{ ...vxlanPing(), request: { id: "j", skbaddr: "0x1", hops: [{ event: "e", ifname: "i", tNs: 0, len: 1, outer: { kind: "vxlan", src: 1, dst: "b" } }] } },
      "ping.request.hops[0].outer.src: expected a string"],
    [{ ...ruleDropPing(), request: { id: "j", skbaddr: "0x1", hops: [{ event: "e", ifname: "i", tNs: 0, len: 1, fragment: { ipId: 1, offset: 0, more: "no" } }] } },
      "ping.request.hops[0].fragment.more: expected a boolean"],
  ];
  for (const [v, error] of table) assert.deepEqual(parsePing(v), { ok: false, error });
  assert.deepEqual(parseExchange({ id: "x", kind: "sctp", family: 4, src: "a", dst: "b", status: "complete" }),
    { ok: false, error: "exchange.kind: expected one of icmp-echo, tcp, udp" });
});
