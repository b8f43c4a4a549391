// The decoder against its two authorities: the compiled BPF object's BTF (record layout) and the
// running kernel (drop reason names), then a real record read from the kernel through the per-CPU rings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readDropReasons, readObjectBtf, KERNEL_BTF } from "../server/capture/btf.ts";
import {
  decodeEvent, decodeRingBytes, dropReasonName, EVENT_KINDS, EVENT_LAYOUT, EVENT_SIZE, ipv6Text, type DecodeContext,
} from "../server/capture/decode.ts";
import { createEbpfSource, PKTPATH_OBJ } from "../server/capture/ebpf.ts";
import { CURSOR_BYTES, SLOT_BYTES } from "../server/capture/rings.ts";
import { hostNetnsInode } from "./lib/netns.ts";

const isRoot = process.getuid?.() === 0;
const hasBtf = existsSync(KERNEL_BTF);
const liveSkip = !isRoot ? "needs root (loads a BPF program)" : !hasBtf ? `needs kernel BTF (${KERNEL_BTF})` : false;

test("EVENT_LAYOUT matches struct pktpath_event in the compiled object", async () => {
  assert.ok(existsSync(PKTPATH_OBJ), `${PKTPATH_OBJ} missing: run make -C bpf`);
  const btf = await readObjectBtf(PKTPATH_OBJ);
  assert.ok(btf.ok, btf.ok ? "" : btf.error);
  const st = btf.value.struct("pktpath_event");
  assert.ok(st, "struct pktpath_event is in the object's BTF");
  assert.equal(st.size, EVENT_SIZE);
  assert.deepEqual(
    Object.fromEntries(st.members.map((m) => [m.name, { offset: m.offset, size: m.size }])),
    EVENT_LAYOUT,
  );
  // the per-CPU ring's slot and cursor, as server/capture/rings.ts reads them
  const slot = btf.value.struct("pktpath_slot");
  assert.deepEqual(slot && [slot.size, slot.members.map((m) => [m.name, m.offset])], [SLOT_BYTES, [["len", 0], ["pad", 4], ["ev", 8]]]);
  assert.equal(btf.value.struct("pktpath_ring_cursor")?.size, CURSOR_BYTES);
  const kinds = btf.value.enumValues("pktpath_event_kind");
  assert.ok(kinds, "enum pktpath_event_kind is in the object's BTF");
  assert.deepEqual(
    [...kinds].map(([v, name]) => [v, name]),
    [...EVENT_KINDS].map(([v, name]) => [v, `PKTPATH_EV_${name.toUpperCase()}`]),
  );
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

test("ring bytes: discarded and foreign-sized records are skipped, events sorted by time", () => {
  const rec = (kind: number, ts: bigint, flags = 0, len = EVENT_SIZE): Uint8Array => {
    const out = new Uint8Array(8 + ((len + 7) & ~7));
    const dv = new DataView(out.buffer);
    dv.setUint32(0, (len | flags) >>> 0, true);
    if (len === EVENT_SIZE) {
      dv.setBigUint64(8 + EVENT_LAYOUT.ts_ns!.offset, ts, true);
      dv.setUint8(8 + EVENT_LAYOUT.kind!.offset, kind);
    }
    return out;
  };
  const parts = [rec(2, 1500n), rec(1, 1000n, 0x40000000), rec(3, 1200n), rec(1, 0n, 0, 12)];
  const buf = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (buf.set(p, at), at + p.length), 0);
  const ctx: DecodeContext = { startKtimeNs: 1000n, dropReasons: new Map() };
  const out = decodeRingBytes(buf.buffer, ctx);
  assert.deepEqual(out.events.map((e) => [e.event, e.tNs]), [["netif_rx", 200], ["net_dev_xmit", 500]]);
  assert.equal(out.malformed, 1);
});

test("interface names that share their first bytes decode apart, and so does a changed start time", () => {
  const names = ["vethpeer0001a", "vethpeer0001b", "vethpeer0001a", "lo", "vethpeer0001abc"];
  const dv = new DataView(new ArrayBuffer(EVENT_SIZE * names.length));
  names.forEach((name, i) => {
    const at = i * EVENT_SIZE;
    dv.setUint8(at + EVENT_LAYOUT.kind!.offset, 3);
    dv.setBigUint64(at + EVENT_LAYOUT.ts_ns!.offset, 0x1_0000_0100n, true);
    for (let c = 0; c < name.length; c++) dv.setUint8(at + EVENT_LAYOUT.ifname!.offset + c, name.charCodeAt(c));
  });
  const decoded = names.map((_, i) => decodeEvent(dv, i * EVENT_SIZE, { startKtimeNs: i < 2 ? 0x1_0000_0000n : 0xffff_ff00n, dropReasons: new Map() }));
  assert.deepEqual(decoded.map((e) => e?.ifname), names);
  assert.deepEqual(decoded.map((e) => e?.tNs), [0x100, 0x100, 0x200, 0x200, 0x200]);
});

test("consecutive records: headers or addresses that differ in one byte decode apart, the kind is not a header", () => {
  const o = (name: string): number => EVENT_LAYOUT[name]!.offset;
  const dv = new DataView(new ArrayBuffer(EVENT_SIZE * 5));
  const put = (i: number, kind: number, seq: number, family = 4): void => {
    const at = i * EVENT_SIZE;
    dv.setUint8(at + o("kind"), kind);
    dv.setUint8(at + o("family"), family);
    dv.setUint8(at + o("l4proto"), 1);
    dv.setUint8(at + o("icmp_type"), 8);
    dv.setUint16(at + o("icmp_seq"), seq, true);
    [10, 0, 0, 1].forEach((b, k) => dv.setUint8(at + o("saddr") + k, b));
    [10, 0, 0, 2].forEach((b, k) => dv.setUint8(at + o("daddr") + k, b));
  };
  put(0, 1, 1);
  put(1, 3, 1);
  put(2, 3, 2);
  put(3, 3, 2, 0);
  put(4, 3, 2);
  // skb addresses: repeated, then the same low word under another high word
  const skbs = [0xffff888012345600n, 0xffff888012345600n, 0xffff888112345600n, 0xffff888012345600n, 0x12345600n];
  skbs.forEach((a, i) => dv.setBigUint64(i * EVENT_SIZE + o("skbaddr"), a, true));
  const ctx: DecodeContext = { startKtimeNs: 0n, dropReasons: new Map() };
  const got = [0, 1, 2, 3, 4].map((i) => decodeEvent(dv, i * EVENT_SIZE, ctx));
  assert.deepEqual(got.map((e) => e?.skbaddr), skbs.map((a) => `0x${a.toString(16)}`));
  assert.deepEqual(got.map((e) => [e?.event, e?.packet?.icmp?.seq]),
    [["net_dev_queue", 1], ["netif_rx", 1], ["netif_rx", 2], ["netif_rx", undefined], ["netif_rx", 2]]);
  assert.deepEqual(got[4]?.packet, { family: 4, proto: "icmp", src: "10.0.0.1", dst: "10.0.0.2", icmp: { type: 8, id: 0, seq: 2 } });
});

test("a real record from the kernel decodes field by field", { skip: liveSkip }, async () => {
  const ICMP_ID = 4711;
  const raw: Uint8Array[] = [];
  const source = createEbpfSource({ proto: "icmp-echo", host: "127.0.0.1" }, { onRawBatch: (b) => raw.push(new Uint8Array(b.slice(0))) });
  await source.start(() => {});
  try {
    execFileSync("ping", ["-c", "1", "-e", String(ICMP_ID), "127.0.0.1"], { stdio: "ignore" });
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await source.stop();
  }
  // Find the echo request's net_dev_queue record by its raw bytes, not through the decoder.
  const off = (name: string): number => EVENT_LAYOUT[name]!.offset;
  let found: { dv: DataView; at: number } | undefined;
  for (const bytes of raw) {
    const dv = new DataView(bytes.buffer);
    for (let at = 0; at + 8 <= bytes.length; at += (dv.getUint32(at, true) + 15) & ~7) {
      const d = at + 8;
      if (dv.getUint8(d + off("kind")) === 1 && dv.getUint8(d + off("icmp_type")) === 8 && dv.getUint16(d + off("icmp_id"), true) === ICMP_ID) {
        found = { dv, at: d };
      }
    }
  }
  assert.ok(found, "the echo request's net_dev_queue record was read from the ring");
  const { dv, at } = found;
  const skb = dv.getBigUint64(at + off("skbaddr"), true);
  assert.ok(skb > 0xffff000000000000n, "skbaddr is a kernel address");
  const ev = decodeEvent(dv, at, { startKtimeNs: dv.getBigUint64(at + off("ts_ns"), true) - 5n, dropReasons: new Map() });
  assert.deepEqual(ev, {
    event: "net_dev_queue",
    tNs: 5,
    skbaddr: `0x${skb.toString(16)}`,
    len: 98,
    ifname: "lo",
    ifindex: 1,
    netns: hostNetnsInode(),
    packet: { family: 4, proto: "icmp", src: "127.0.0.1", dst: "127.0.0.1", icmp: { type: 8, id: ICMP_ID, seq: 1 } },
  });
  assert.equal(source.counters().lost, 0);
  assert.equal(source.malformed(), 0);
});
