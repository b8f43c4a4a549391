// The decoder against its two authorities: the compiled BPF object's BTF (record layout, read at
// run time) and the running kernel (drop reason names), then a real record read from the kernel.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readDropReasons, readObjectBtf, KERNEL_BTF } from "../server/capture/btf.ts";
import { dropReasonName, ipv6Text, RecordDecoder, type DecodeContext } from "../server/capture/decode.ts";
import { createEbpfSource, PKTPATH_OBJ } from "../server/capture/ebpf.ts";
import { EVENT_FIELDS, PKT_FIELDS, readRecordLayout, type RecordLayout } from "../server/capture/layout.ts";
import { CURSOR_BYTES, slotLayout } from "../server/capture/rings.ts";
import { captureFilter } from "./support/filter.ts";
import { hostNetnsInode } from "./lib/netns.ts";

const isRoot = process.getuid?.() === 0;
const hasBtf = existsSync(KERNEL_BTF);
const liveSkip = !isRoot ? "needs root (loads a BPF program)" : !hasBtf ? `needs kernel BTF (${KERNEL_BTF})` : false;

assert.ok(existsSync(PKTPATH_OBJ), `${PKTPATH_OBJ} missing: run make -C bpf`);
const layoutResult = await readRecordLayout(PKTPATH_OBJ);
assert.ok(layoutResult.ok, layoutResult.ok ? "" : layoutResult.error);
const L: RecordLayout = layoutResult.value;
const decoder = (ctx: Partial<DecodeContext> = {}): RecordDecoder => new RecordDecoder(L, { startKtimeNs: 0n, dropReasons: new Map(), ...ctx });
const kindValue = (name: string): number => [...L.kinds].find(([, n]) => n === name)![0];

test("the record layout comes from the object's BTF: every field the decoder reads, with its size", async () => {
  const btf = await readObjectBtf(PKTPATH_OBJ);
  assert.ok(btf.ok);
  const ev = btf.value.struct("pktpath_event")!;
  assert.equal(L.eventSize, ev.size);
  // struct pktpath_event has exactly the fields the decoder reads (no field unread, none missing)
  assert.deepEqual(ev.members.map((m) => m.name).filter((n) => n !== "pad").sort(), [...EVENT_FIELDS].sort());
  assert.deepEqual(btf.value.struct("pktpath_pkt")!.members.map((m) => m.name).sort(), [...PKT_FIELDS].sort());
  assert.deepEqual([L.sizes.ts_ns, L.sizes.skbaddr, L.sizes.ifname, L.sizes["pkt.saddr"], L.sizes["pkt.sport"], L.sizes["pkt.ip_id"]], [8, 8, 16, 16, 2, 4]);
  assert.equal(L.sizes.pkt, L.sizes.aux, "pkt and aux are both struct pktpath_pkt");
  // the per-CPU ring's slot and cursor, as server/capture/rings.ts reads them
  const slot = btf.value.struct("pktpath_slot");
  assert.deepEqual(slot && [slot.size, slot.members.map((m) => [m.name, m.offset])], [8 + L.eventSize, [["len", 0], ["pad", 4], ["ev", 8]]]);
  assert.deepEqual(slotLayout(L), { bytes: 8 + L.eventSize, tsOffset: 8 + L.ev.ts_ns,
    lost: { eventSize: L.eventSize, kind: 11, kindOffset: 8 + L.ev.kind, locationOffset: 8 + L.ev.location, lenOffset: 8 + L.ev.len } });
  assert.equal(L.kinds.get(11), "records_lost");
  assert.equal(btf.value.struct("pktpath_ring_cursor")?.size, CURSOR_BYTES);
  // every kind the decoder gives a meaning to is in the enum, under that name
  assert.deepEqual([...L.kinds.values()], ["net_dev_queue", "net_dev_xmit", "netif_rx", "netif_receive_skb",
    "napi_gro_receive_entry", "kfree_skb", "consume_skb", "nf_hook", "rx_handler", "neigh_queue", "records_lost"]);
  assert.deepEqual([...L.auxKinds.values()], ["none", "vxlan", "geneve", "gre", "ipip", "sit", "ip6tnl", "quoted", "neigh"]);
  assert.deepEqual([...L.stats], [["lost", 0], ["collisions", 1], ["sampled", 2], ["max", 3]]);
});

test("drop reasons are named from the running kernel's BTF", { skip: !hasBtf && `needs kernel BTF (${KERNEL_BTF})` }, async () => {
  const reasons = await readDropReasons();
  assert.ok(reasons.ok, reasons.ok ? "" : reasons.error);
  // The kernel's own table, as the kfree_skb tracepoint prints it: { 12, "NETFILTER_DROP" }, ...
  const format = readFileSync("/sys/kernel/tracing/events/skb/kfree_skb/format", "utf8");
  const printed = [...format.matchAll(/\{ (\d+), "(\w+)" \}/g)].map((m) => [Number(m[1]), m[2]] as const);
  assert.ok(printed.length > 50, "the kfree_skb format lists the drop reasons");
  for (const [value, name] of printed) assert.equal(reasons.value.get(value), name, `reason ${value}`);
  assert.equal(dropReasonName(printed.find(([, n]) => n === "NETFILTER_DROP")![0], reasons.value), "NETFILTER_DROP");
  assert.equal(dropReasonName(0x30005, reasons.value), "SUBSYS_3_5");
});

test("IPv6 text follows RFC 5952", () => {
  const b = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  assert.equal(ipv6Text(b("20010db8000000000000000000000001")), "2001:db8::1");
  assert.equal(ipv6Text(b("20010db8000000010000000000000001")), "2001:db8:0:1::1");
  assert.equal(ipv6Text(b("20010db8000000000001000000000001")), "2001:db8::1:0:0:1");
  assert.equal(ipv6Text(b("20010db800000001000100010001000a")), "2001:db8:0:1:1:1:1:a");
  assert.equal(ipv6Text(b("00000000000000000000000000000001")), "::1");
  assert.equal(ipv6Text(b("00000000000000000000000000000000")), "::");
  assert.equal(ipv6Text(b("fe800000000000000000000000000000")), "fe80::");
  assert.equal(ipv6Text(b("00000000000000000000ffffc0000201")), "::ffff:192.0.2.1");
});

/** A record of `kind` at slot i of a buffer of records (event bytes only, no slot frame). */
function records(n: number): { dv: DataView; at: (i: number) => number } {
  const dv = new DataView(new ArrayBuffer(L.eventSize * n));
  return { dv, at: (i) => i * L.eventSize };
}

test("ring bytes: discarded and foreign-sized records are skipped, events sorted by time", () => {
  const rec = (kind: number, ts: bigint, flags = 0, len = L.eventSize): Uint8Array => {
    const out = new Uint8Array(8 + ((len + 7) & ~7));
    const dv = new DataView(out.buffer);
    dv.setUint32(0, (len | flags) >>> 0, true);
    if (len === L.eventSize) {
      dv.setBigUint64(8 + L.ev.ts_ns, ts, true);
      dv.setUint8(8 + L.ev.kind, kind);
    }
    return out;
  };
  const parts = [rec(2, 1500n), rec(1, 1000n, 0x40000000), rec(3, 1200n), rec(1, 0n, 0, 12)];
  const buf = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (buf.set(p, at), at + p.length), 0);
  const out = decoder({ startKtimeNs: 1000n }).decodeBytes(buf.buffer);
  assert.deepEqual(out.events.map((e) => [e.event, e.tNs]), [["netif_rx", 200], ["net_dev_xmit", 500]]);
  assert.equal(out.malformed, 1);
});

test("interface names that share their first bytes decode apart, and times count from the start", () => {
  const names = ["vethpeer0001a", "vethpeer0001b", "vethpeer0001a", "lo", "vethpeer0001abc"];
  const r = records(names.length);
  names.forEach((name, i) => {
    r.dv.setUint8(r.at(i) + L.ev.kind, kindValue("netif_rx"));
    r.dv.setBigUint64(r.at(i) + L.ev.ts_ns, 0x1_0000_0100n, true);
    for (let c = 0; c < name.length; c++) r.dv.setUint8(r.at(i) + L.ev.ifname + c, name.charCodeAt(c));
  });
  const d = decoder({ startKtimeNs: 0xffff_ff00n });
  const decoded = names.map((_, i) => d.decode(r.dv, r.at(i)));
  assert.deepEqual(decoded.map((e) => e?.ifname), names);
  assert.deepEqual(decoded.map((e) => e?.tNs), [0x200, 0x200, 0x200, 0x200, 0x200]);
});

/** Writes a struct pktpath_pkt at base: family, proto, addresses and the rest by name. */
function putPkt(dv: DataView, base: number, f: Partial<Record<(typeof PKT_FIELDS)[number], number>> & { src?: number[]; dst?: number[] }): void {
  for (const [k, v] of Object.entries(f)) {
    if (k === "src" || k === "dst" || typeof v !== "number") continue;
    const size = L.sizes[`pkt.${k as (typeof PKT_FIELDS)[number]}`];
    if (size === 1) dv.setUint8(base + L.pkt[k as (typeof PKT_FIELDS)[number]], v);
    else if (size === 2) dv.setUint16(base + L.pkt[k as (typeof PKT_FIELDS)[number]], v, true);
    else dv.setUint32(base + L.pkt[k as (typeof PKT_FIELDS)[number]], v, true);
  }
  (f.src ?? []).forEach((b, i) => dv.setUint8(base + L.pkt.saddr + i, b));
  (f.dst ?? []).forEach((b, i) => dv.setUint8(base + L.pkt.daddr + i, b));
}

test("consecutive records: headers or addresses that differ in one byte decode apart", () => {
  const r = records(5);
  const put = (i: number, kind: string, seq: number, family = 4): void => {
    r.dv.setUint8(r.at(i) + L.ev.kind, kindValue(kind));
    putPkt(r.dv, r.at(i) + L.ev.pkt, { family, l4proto: 1, icmp_type: 8, dport: seq, ttl: 64, src: [10, 0, 0, 1], dst: [10, 0, 0, 2] });
  };
  put(0, "net_dev_queue", 1);
  put(1, "netif_rx", 1);
  put(2, "netif_rx", 2);
  put(3, "netif_rx", 2, 0);
  put(4, "netif_rx", 2);
  // skb addresses: repeated, then the same low word under another high word
  const skbs = [0xffff888012345600n, 0xffff888012345600n, 0xffff888112345600n, 0xffff888012345600n, 0x12345600n];
  skbs.forEach((a, i) => r.dv.setBigUint64(r.at(i) + L.ev.skbaddr, a, true));
  const d = decoder();
  const got = [0, 1, 2, 3, 4].map((i) => d.decode(r.dv, r.at(i)));
  assert.deepEqual(got.map((e) => e?.skbaddr), skbs.map((a) => `0x${a.toString(16)}`));
  assert.deepEqual(got.map((e) => [e?.event, e?.packet?.icmp?.seq]),
    [["net_dev_queue", 1], ["netif_rx", 1], ["netif_rx", 2], ["netif_rx", undefined], ["netif_rx", 2]]);
  assert.deepEqual(got[4]?.packet, { family: 4, proto: "icmp", src: "10.0.0.1", dst: "10.0.0.2", icmp: { type: 8, id: 0, seq: 2 } });
  assert.equal(got[4]?.ttl, 64);
});

test("aux headers: a tunnel's outer header, an ICMP error's quoted one, a fragment, a neighbour; netfilter records", () => {
  const r = records(5);
  const ip = (a: number[], b: number[]) => ({ src: a, dst: b });
  // VXLAN: inner echo, outer UDP 4789 with VNI 7
  r.dv.setUint8(r.at(0) + L.ev.kind, kindValue("net_dev_queue"));
  putPkt(r.dv, r.at(0) + L.ev.pkt, { family: 4, l4proto: 1, icmp_type: 8, sport: 9, dport: 3, ttl: 63, ...ip([10, 1, 0, 1], [10, 2, 0, 1]) });
  putPkt(r.dv, r.at(0) + L.ev.aux, { family: 4, l4proto: 17, aux_kind: 1, sport: 40000, dport: 4789, vni: 7, ...ip([192, 0, 2, 10], [192, 0, 2, 20]) });
  // time exceeded from 10.0.1.1 quoting an echo request
  r.dv.setUint8(r.at(1) + L.ev.kind, kindValue("netif_rx"));
  putPkt(r.dv, r.at(1) + L.ev.pkt, { family: 4, l4proto: 1, icmp_type: 11, ...ip([10, 0, 1, 1], [10, 0, 0, 2]) });
  putPkt(r.dv, r.at(1) + L.ev.aux, { family: 4, l4proto: 1, aux_kind: 7, icmp_type: 8, sport: 5, dport: 6, ...ip([10, 0, 0, 2], [10, 9, 9, 9]) });
  // a later IPv4 fragment: no transport header
  r.dv.setUint8(r.at(2) + L.ev.kind, kindValue("netif_rx"));
  putPkt(r.dv, r.at(2) + L.ev.pkt, { family: 4, l4proto: 1, frag: 3, frag_off: 1480, ip_id: 0x1234, icmp_type: 99, ...ip([10, 0, 0, 2], [10, 0, 0, 3]) });
  // a packet queued for an INCOMPLETE neighbour
  r.dv.setUint8(r.at(3) + L.ev.kind, kindValue("neigh_queue"));
  putPkt(r.dv, r.at(3) + L.ev.aux, { family: 4, aux_kind: 8, ttl: 0x01, ...ip([], [10, 0, 0, 9]) });
  // the FORWARD hook of IPv4, entered
  r.dv.setUint8(r.at(4) + L.ev.kind, kindValue("nf_hook"));
  r.dv.setUint8(r.at(4) + L.ev.nf_pf, 2);
  r.dv.setUint8(r.at(4) + L.ev.nf_hook, 2);
  const got = [0, 1, 2, 3, 4].map((i) => decoder().decode(r.dv, r.at(i)));
  assert.deepEqual(got[0]?.outer, { kind: "vxlan", src: "192.0.2.10", dst: "192.0.2.20", vni: 7, sport: 40000, dport: 4789 });
  assert.deepEqual(got[0]?.packet, { family: 4, proto: "icmp", src: "10.1.0.1", dst: "10.2.0.1", icmp: { type: 8, id: 9, seq: 3 } });
  assert.deepEqual(got[1]?.packet?.quoted, { family: 4, proto: "icmp", src: "10.0.0.2", dst: "10.9.9.9", icmp: { type: 8, id: 5, seq: 6 } });
  assert.deepEqual(got[1]?.packet?.icmp, { type: 11, id: 0, seq: 0 });
  assert.deepEqual([got[2]?.fragment, got[2]?.packet?.icmp], [{ ipId: 0x1234, offset: 1480, more: true }, undefined]);
  assert.deepEqual([got[3]?.event, got[3]?.neighbour, got[3]?.packet], ["neigh_resolve_output", { address: "10.0.0.9", state: "INCOMPLETE" }, undefined]);
  assert.equal(got[4]?.event, "ip_forward");
});

test("a real record from the kernel decodes field by field", { skip: liveSkip }, async () => {
  const ICMP_ID = 4711;
  const raw: Uint8Array[] = [];
  const source = createEbpfSource(captureFilter("", { host: "127.0.0.1" }), { onRawBatch: (b) => raw.push(new Uint8Array(b.slice(0))) });
  await source.start(() => {});
  try {
    execFileSync("ping", ["-c", "1", "-e", String(ICMP_ID), "127.0.0.1"], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await source.stop();
  }
  // Find the echo request's net_dev_queue record by its raw bytes, not through the decoder.
  let found: { dv: DataView; at: number } | undefined;
  for (const bytes of raw) {
    const dv = new DataView(bytes.buffer);
    for (let at = 0; at + 8 <= bytes.length; at += (dv.getUint32(at, true) + 15) & ~7) {
      const d = at + 8, pkt = d + L.ev.pkt;
      if (dv.getUint8(d + L.ev.kind) === kindValue("net_dev_queue") && dv.getUint8(pkt + L.pkt.icmp_type) === 8 &&
        dv.getUint16(pkt + L.pkt.sport, true) === ICMP_ID) found = { dv, at: d };
    }
  }
  assert.ok(found, "the echo request's net_dev_queue record was read from the ring");
  const { dv, at } = found;
  const skb = dv.getBigUint64(at + L.ev.skbaddr, true);
  assert.ok(skb > 0xffff000000000000n, "skbaddr is a kernel address");
  const ev = decoder({ startKtimeNs: dv.getBigUint64(at + L.ev.ts_ns, true) - 5n }).decode(dv, at);
  assert.deepEqual(ev, {
    event: "net_dev_queue",
    tNs: 5,
    skbaddr: `0x${skb.toString(16)}`,
    len: 98,
    ifname: "lo",
    ifindex: 1,
    netns: hostNetnsInode(),
    packet: { family: 4, proto: "icmp", src: "127.0.0.1", dst: "127.0.0.1", icmp: { type: 8, id: ICMP_ID, seq: 1 } },
    ttl: 64,
  });
  assert.equal(source.counters().lost, 0);
  assert.equal(source.malformed(), 0);
});

test("headers seen before, with another record between, are handed out again as the same objects", () => {
  const r = records(4);
  const put = (i: number, type: number, seq: number): void => {
    r.dv.setUint8(r.at(i) + L.ev.kind, kindValue("netif_rx"));
    putPkt(r.dv, r.at(i) + L.ev.pkt, { family: 4, l4proto: 1, icmp_type: type, dport: seq, ttl: 64, src: [10, 0, 0, 1], dst: [10, 0, 0, 2] });
  };
  put(0, 8, 1); // request
  put(1, 0, 1); // its reply
  put(2, 8, 1); // the request's next hop
  put(3, 8, 2); // the next request: its own header
  const d = decoder();
  const got = [0, 1, 2, 3].map((i) => d.decode(r.dv, r.at(i))!);
  assert.equal(got[2]!.packet, got[0]!.packet, "one object: comparing them is an identity check");
  assert.notEqual(got[1]!.packet, got[0]!.packet);
  assert.deepEqual(got.map((e) => [e.packet?.icmp?.type, e.packet?.icmp?.seq]), [[8, 1], [0, 1], [8, 1], [8, 2]]);
});

test("past the headers it keeps, the decoder forgets them and starts over: every header still decodes as itself", () => {
  // 4096 are kept: 5000 distinct ones, then the first and the last again
  const n = 5000;
  const r = records(n + 2);
  const put = (i: number, seq: number): void => {
    r.dv.setUint8(r.at(i) + L.ev.kind, kindValue("netif_rx"));
    putPkt(r.dv, r.at(i) + L.ev.pkt, { family: 4, l4proto: 1, icmp_type: 8, dport: seq, ttl: 64, src: [10, 0, 0, 1], dst: [10, 0, 0, 2] });
  };
  for (let i = 0; i < n; i++) put(i, i + 1);
  put(n, 1);
  put(n + 1, n);
  const d = decoder();
  const got = Array.from({ length: n + 2 }, (_, i) => d.decode(r.dv, r.at(i))!.packet?.icmp?.seq);
  assert.deepEqual(got, [...Array.from({ length: n }, (_, i) => i + 1), 1, n]);
});
