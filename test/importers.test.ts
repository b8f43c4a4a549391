// Text captures recorded on a real kernel by test/fixtures/record-text.sh, read back line by line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { TextCaptureReader } from "../shared/importers/textCapture.ts";
import { detectFormat, parseTextLine } from "../shared/importers/textLine.ts";
import type { RawEvent } from "../shared/types.ts";

const fixture = (name: string) => new URL(`./fixtures/text/${name}`, import.meta.url);

function readAll(path: URL, reasonName?: (v: number) => string | undefined): RawEvent[] {
  const reader = new TextCaptureReader(reasonName ? { reasonName } : {});
  const out: RawEvent[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const r = reader.push(line);
    assert.ok(r.ok, r.ok ? "" : r.error);
    out.push(...r.value);
  }
  return [...out, ...reader.end()];
}

const brief = (e: RawEvent) => [e.event, e.ifname ?? e.dropReason ?? e.location, e.len ?? null].join(" ");

test("perf trace (perf 6.x layout): first echo request and reply, in kernel order", () => {
  const events = readAll(fixture("perf-trace-veth.txt"), (v) => (v === 3 ? "NO_SOCKET" : undefined));
  assert.deepEqual(events.slice(0, 11).map(brief), [
    "net_dev_queue ppF-h 98",
    "netif_rx ppF-n 84",
    "net_dev_xmit ppF-h 98",
    "netif_receive_skb ppF-n 84",
    "net_dev_queue ppF-n 98",
    "netif_rx ppF-h 84",
    "net_dev_xmit ppF-n 98",
    "consume_skb 0xffffffff8204f009 ",
    "netif_receive_skb ppF-h 84",
    "kfree_skb NO_SOCKET ",
    "consume_skb 0xffffffff8203db8c ",
  ]);
  assert.equal(events[0]!.skbaddr, "0xffff888138f58800");
  assert.equal(events[0]!.tNs, 0);
  assert.equal(events[1]!.tNs, 67_000);
  assert.equal(events[4]!.skbaddr, "0xffff888138f58400");
  assert.equal(events.length, 22);
});

test("perf script: timestamps relative to the first event, symbolized locations kept", () => {
  const events = readAll(fixture("perf-script-veth.txt"));
  assert.equal(events.length, 22);
  assert.deepEqual(events[0], { event: "net_dev_queue", skbaddr: "0xffff88810ae98e00", ifname: "ppF-h", len: 98, tNs: 0 });
  const drop = events.find((e) => e.event === "kfree_skb");
  assert.deepEqual(drop, { event: "kfree_skb", skbaddr: "0xffff88810ae98a00", location: "ping_rcv+0xab",
    dropReason: "NO_SOCKET", tNs: 34_000 });
});

test("tracefs: hashed pointers become addresses, the nft drop keeps its reason and location", () => {
  const events = readAll(fixture("tracefs-veth-drop.txt"));
  const drops = events.filter((e) => e.event === "kfree_skb" && e.dropReason === "NETFILTER_DROP");
  assert.equal(drops.length, 1);
  assert.equal(drops[0]!.skbaddr, "0x93c883e3");
  assert.equal(drops[0]!.location, "nft_do_chain+0x3e8/0x610");
  assert.deepEqual(events.slice(0, 4).map(brief), [
    "net_dev_queue ppF-h 98", "netif_rx ppF-n 84", "net_dev_xmit ppF-h 98", "netif_receive_skb ppF-n 84",
  ]);
  assert.equal(events[3]!.tNs, 8_000);
});

test("the seed's perf trace layout (dev=… skbaddr=… len=…)", () => {
  const lines = [
    "     0.000 net:net_dev_queue:       dev=cali6ecc40249f1          skbaddr=0xffff9eb2d36c5500 len=98",
    "     0.017 net:netif_rx:            dev=eth0                     skbaddr=0xffff9eb2d36c5500 len=84",
    "     0.021 net:net_dev_xmit:        dev=cali6ecc40249f1          skbaddr=0xffff9eb2d36c5500 len=98 rc=0",
  ];
  assert.equal(detectFormat(lines[0]!), "perf-trace");
  const reader = new TextCaptureReader();
  const out = lines.flatMap((l) => { const r = reader.push(l); assert.ok(r.ok); return r.value; });
  out.push(...reader.end());
  assert.deepEqual(out.map((e) => [e.event, e.ifname, e.tNs, e.len]), [
    ["net_dev_queue", "cali6ecc40249f1", 0, 98], ["netif_rx", "eth0", 17_000, 84], ["net_dev_xmit", "cali6ecc40249f1", 21_000, 98],
  ]);
});

test("malformed lines are errors naming the field; other tracepoints and comments are passed over", () => {
  const reader = new TextCaptureReader({ format: "tracefs" });
  assert.deepEqual(reader.push("# tracer: nop"), { ok: true, value: [] });
  assert.deepEqual(reader.push("  ping-1 [000] b.... 1.000000: netif_rx_entry: dev=lo skbaddr=00ab len=1"), { ok: true, value: [] });
  const bad = reader.push("  ping-1 [000] b.... 1.000001: netif_rx: dev=lo skbaddr=zz len=84");
  assert.deepEqual(bad, { ok: false, error: "netif_rx: missing or malformed skbaddr" });
  const noLen = parseTextLine("  ping-1 [000] b.... 1.000001: netif_rx: dev=lo skbaddr=00ab", "tracefs");
  assert.deepEqual(noLen, { ok: false, error: "netif_rx: missing or malformed len" });
  assert.deepEqual(parseTextLine("garbage", "tracefs"), { ok: false, error: "not a tracefs event line" });
});

test("events printed out of order across CPUs leave in time order", () => {
  const reader = new TextCaptureReader({ format: "tracefs" });
  const out: RawEvent[] = [];
  for (const [t, name] of [["1.000010", "netif_rx"], ["1.000000", "net_dev_queue"], ["1.000020", "net_dev_xmit"]] as const) {
    const r = reader.push(`  ping-1 [001] b.... ${t}: ${name}: dev=lo skbaddr=00ab len=84`);
    assert.ok(r.ok);
    out.push(...r.value);
  }
  out.push(...reader.end());
  assert.deepEqual(out.map((e) => e.event), ["net_dev_queue", "netif_rx", "net_dev_xmit"]);
});
