// The kernel program's header parser and filter (bpf/parse.h, bpf/filter.h), run in the real kernel
// with BPF_PROG_TEST_RUN on packets built byte by byte: the tunnels this machine has no driver for
// (Geneve, GRE, IPIP, SIT, ip6tnl), VXLAN, IPv6 extension headers and fragments, ICMP errors, TCP
// flags, the DNS id; decoded by the capture's own decoder, and the filter's verdicts on them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readObjectBtf, KERNEL_BTF } from "../server/capture/btf.ts";
import { RecordDecoder } from "../server/capture/decode.ts";
import { PKTPATH_OBJ } from "../server/capture/ebpf.ts";
import { readRecordLayout } from "../server/capture/layout.ts";
import { openAndAttach, type BpfSession } from "../server/capture/libbpf.ts";
import { buildFilter, encodeProgram } from "../shared/filter/index.ts";
import type { RawEvent } from "../shared/types.ts";
import * as w from "./support/packets.ts";

const TEST_OBJ = fileURLToPath(new URL("../bpf/parse_test.bpf.o", import.meta.url));
const skip = process.getuid?.() !== 0 ? "needs root (loads a BPF program)" : !existsSync(KERNEL_BTF) ? "needs kernel BTF" : false;

let session: BpfSession | undefined;
let decoder: RecordDecoder;
let eventSize = 0, pktAt = 0, auxAt = 0, kindAt = 0, queueKind = 0;
let result: { size: number; pkt: number; aux: number; parsed: number; accepted: number };

async function setup(): Promise<BpfSession> {
  if (session) return session;
  const layout = await readRecordLayout(PKTPATH_OBJ);
  assert.ok(layout.ok, layout.ok ? "" : layout.error);
  decoder = new RecordDecoder(layout.value, { startKtimeNs: 0n, dropReasons: new Map() });
  ({ eventSize } = layout.value);
  [pktAt, auxAt, kindAt] = [layout.value.ev.pkt, layout.value.ev.aux, layout.value.ev.kind];
  queueKind = [...layout.value.kinds].find(([, n]) => n === "net_dev_queue")![0];
  const btf = await readObjectBtf(TEST_OBJ);
  assert.ok(btf.ok, btf.ok ? "" : btf.error);
  const r = btf.value.struct("parse_result")!;
  const at = (n: string): number => r.members.find((m) => m.name === n)!.offset;
  result = { size: r.size, pkt: at("pkt"), aux: at("aux"), parsed: at("parsed"), accepted: at("accepted") };
  const s = openAndAttach({ objPath: TEST_OBJ, noAttach: true });
  assert.ok(s.ok, s.ok ? "" : s.error);
  session = s.value;
  return session;
}

/** Runs the parser (and the filter `expression`) on a frame; what the decoder makes of it, and the verdict. */
async function run(frame: number[], expression = "ip or ip6"): Promise<{ ev: RawEvent; parsed: boolean; accepted: boolean }> {
  const s = await setup();
  const built = buildFilter(expression);
  assert.ok(built.ok, built.ok ? "" : built.error);
  const bytes = encodeProgram(built.value.program);
  assert.ok(bytes.ok);
  assert.ok(s.updateMap("filter", 0, bytes.value).ok);
  // BPF_PROG_TEST_RUN wants at least an Ethernet header's worth of bytes
  const ran = s.testRun("parse_test", Uint8Array.from(frame));
  assert.ok(ran.ok, ran.ok ? "" : ran.error);
  const out = s.lookupMap("result", 0, result.size);
  assert.ok(out.ok);
  const dv = new DataView(out.value.buffer, out.value.byteOffset, out.value.byteLength);
  // As a record of the capture: the same struct pktpath_pkt, decoded by the same decoder.
  const record = new Uint8Array(eventSize);
  record[kindAt] = queueKind;
  record.set(out.value.subarray(result.pkt, result.pkt + (auxAt - pktAt)), pktAt);
  record.set(out.value.subarray(result.aux, result.aux + (auxAt - pktAt)), auxAt);
  const ev = decoder.decode(new DataView(record.buffer), 0)!;
  return { ev, parsed: dv.getUint32(result.parsed, true) === 1, accepted: dv.getUint32(result.accepted, true) === 1 };
}

const echo = (src: string, dst: string, id = 7, seq = 1) => w.ipv4(src, dst, 1, w.icmp(8, 0, id, seq, [1, 2, 3, 4]));

test("tunnels: VXLAN, Geneve (with options), GRE (key, checksum, Ethernet inside), IPIP, SIT, ip6tnl: inner header as the packet, outer with VNI/key", { skip }, async () => {
  const inner = echo("10.1.0.1", "10.2.0.1");
  const innerFrame = w.ethernet(w.ETH_IPV4, inner);
  const cases: [string, number[], { kind: string; vni?: number; dport?: number }][] = [
    ["vxlan", w.ipv4("192.0.2.1", "192.0.2.2", 17, w.udp(40000, 4789, w.vxlan(7, innerFrame))), { kind: "vxlan", vni: 7, dport: 4789 }],
    ["vxlan (linux port)", w.ipv4("192.0.2.1", "192.0.2.2", 17, w.udp(40000, 8472, w.vxlan(70000, w.ethernet(w.ETH_IPV4, inner, 10)))), { kind: "vxlan", vni: 70000, dport: 8472 }],
    ["geneve", w.ipv4("192.0.2.1", "192.0.2.2", 17, w.udp(40001, 6081, w.geneve(42, w.ETH_TEB, innerFrame, 2))), { kind: "geneve", vni: 42, dport: 6081 }],
    ["geneve, IP inside", w.ipv4("192.0.2.1", "192.0.2.2", 17, w.udp(40001, 6081, w.geneve(43, w.ETH_IPV4, inner))), { kind: "geneve", vni: 43, dport: 6081 }],
    ["gre with key", w.ipv4("192.0.2.1", "192.0.2.2", 47, w.gre(w.ETH_IPV4, inner, 0x1234)), { kind: "gre", vni: 0x1234 }],
    ["gretap with checksum and key", w.ipv4("192.0.2.1", "192.0.2.2", 47, w.gre(w.ETH_TEB, innerFrame, 99, true)), { kind: "gre", vni: 99 }],
    ["ipip", w.ipv4("192.0.2.1", "192.0.2.2", 4, inner), { kind: "ipip" }],
  ];
  for (const [name, outer, want] of cases) {
    const { ev, parsed } = await run(w.ethernet(w.ETH_IPV4, outer));
    assert.ok(parsed, name);
    assert.deepEqual(ev.packet, { family: 4, proto: "icmp", src: "10.1.0.1", dst: "10.2.0.1", icmp: { type: 8, id: 7, seq: 1 } }, name);
    assert.deepEqual({ kind: ev.outer?.kind, src: ev.outer?.src, dst: ev.outer?.dst, vni: ev.outer?.vni, dport: ev.outer?.dport },
      { kind: want.kind, src: "192.0.2.1", dst: "192.0.2.2", vni: want.vni, dport: want.dport }, name);
  }
  const echo6 = w.ipv6("fd00::1", "fd00::2", 58, w.icmp(128, 0, 9, 2));
  const sit = await run(w.ethernet(w.ETH_IPV4, w.ipv4("192.0.2.1", "192.0.2.2", 41, echo6)));
  assert.deepEqual([sit.ev.outer?.kind, sit.ev.packet?.src, sit.ev.packet?.icmp], ["sit", "fd00::1", { type: 128, id: 9, seq: 2 }]);
  const tnl = await run(w.ethernet(w.ETH_IPV6, w.ipv6("2001:db8::1", "2001:db8::2", 4, inner)));
  assert.deepEqual([tnl.ev.outer?.kind, tnl.ev.outer?.src, tnl.ev.packet?.dst], ["ip6tnl", "2001:db8::1", "10.2.0.1"]);
  // UDP to another port, or a truncated VXLAN: the outer header is the packet.
  const plain = await run(w.ethernet(w.ETH_IPV4, w.ipv4("192.0.2.1", "192.0.2.2", 17, w.udp(40000, 4790, w.vxlan(7, innerFrame)))));
  assert.deepEqual([plain.ev.outer, plain.ev.packet?.proto, plain.ev.packet?.dport], [undefined, "udp", 4790]);
  const cut = await run(w.ethernet(w.ETH_IPV4, w.ipv4("192.0.2.1", "192.0.2.2", 17, w.udp(40000, 4789, [8, 0, 0, 0]))));
  assert.deepEqual([cut.ev.outer, cut.ev.packet?.dport], [undefined, 4789]);
});

test("IPv6 extension headers are walked to the transport header; a fragment header gives id, offset and more", { skip }, async () => {
  const hbh = await run(w.ethernet(w.ETH_IPV6, w.ipv6("fd00::1", "fd00::2", 0, [...w.optionsHeader(60), ...w.optionsHeader(58), ...w.icmp(128, 0, 5, 6)])));
  assert.deepEqual([hbh.ev.packet?.proto, hbh.ev.packet?.icmp, hbh.ev.fragment], ["icmpv6", { type: 128, id: 5, seq: 6 }, undefined]);
  const first = await run(w.ethernet(w.ETH_IPV6, w.ipv6("fd00::1", "fd00::2", 44, [...w.fragmentHeader(58, 0, true, 0xdeadbeef), ...w.icmp(128, 0, 5, 6)])));
  assert.deepEqual([first.ev.packet?.icmp, first.ev.fragment], [{ type: 128, id: 5, seq: 6 }, { ipId: 0xdeadbeef, offset: 0, more: true }]);
  const later = await run(w.ethernet(w.ETH_IPV6, w.ipv6("fd00::1", "fd00::2", 44, [...w.fragmentHeader(58, 1448, false, 0xdeadbeef), 1, 2, 3, 4, 5, 6, 7, 8])));
  assert.deepEqual([later.ev.packet?.proto, later.ev.packet?.icmp, later.ev.fragment], ["icmpv6", undefined, { ipId: 0xdeadbeef, offset: 1448, more: false }]);
  const v4later = await run(w.ethernet(w.ETH_IPV4, w.ipv4("10.0.0.1", "10.0.0.2", 1, [9, 9, 9, 9, 9, 9, 9, 9], { id: 77, offset: 1480, more: true, ttl: 3 })));
  assert.deepEqual([v4later.ev.packet?.icmp, v4later.ev.fragment, v4later.ev.ttl], [undefined, { ipId: 77, offset: 1480, more: true }, 3]);
});

test("ICMP errors carry the header they quote; TCP flags and the DNS id are read", { skip }, async () => {
  const quoted = echo("10.0.0.2", "10.9.9.9", 31, 4);
  const err = await run(w.ethernet(w.ETH_IPV4, w.ipv4("10.0.1.1", "10.0.0.2", 1, w.icmpError(11, 0, quoted.slice(0, 28)))));
  assert.deepEqual(err.ev.packet, { family: 4, proto: "icmp", src: "10.0.1.1", dst: "10.0.0.2", icmp: { type: 11, id: 0, seq: 0 },
    quoted: { family: 4, proto: "icmp", src: "10.0.0.2", dst: "10.9.9.9", icmp: { type: 8, id: 31, seq: 4 } } });
  const q6 = w.ipv6("fd00::2", "fd00::9", 58, w.icmp(128, 0, 8, 1));
  const err6 = await run(w.ethernet(w.ETH_IPV6, w.ipv6("fd00::1", "fd00::2", 58, w.icmpError(1, 4, q6.slice(0, 48)))));
  assert.deepEqual([err6.ev.packet?.icmp, err6.ev.packet?.quoted?.icmp], [{ type: 1, id: 0, seq: 0, code: 4 }, { type: 128, id: 8, seq: 1 }]);
  const synack = await run(w.ethernet(w.ETH_IPV4, w.ipv4("10.0.0.2", "10.0.0.1", 6, w.tcp(443, 51514, 0x12))));
  assert.deepEqual([synack.ev.packet?.sport, synack.ev.packet?.dport, synack.ev.packet?.tcpFlags], [443, 51514, "SA"]);
  const dns = await run(w.ethernet(w.ETH_IPV4, w.ipv4("10.0.0.1", "10.0.0.53", 17, w.udp(5353, 53, w.dnsQuery(0xbeef)))));
  assert.deepEqual([dns.ev.packet?.dport, dns.ev.packet?.dnsId], [53, 0xbeef]);
});

test("the filter, as the kernel runs it: inner headers first, then the outer; errors about echoes; fragments", { skip }, async () => {
  const tunnelled = w.ethernet(w.ETH_IPV4, w.ipv4("192.0.2.1", "192.0.2.2", 17, w.udp(40000, 4789, w.vxlan(7, w.ethernet(w.ETH_IPV4, echo("10.1.0.1", "10.2.0.1")))))) ;
  const quotedEcho = w.ethernet(w.ETH_IPV4, w.ipv4("10.0.1.1", "10.0.0.2", 1, w.icmpError(3, 13, echo("10.0.0.2", "10.9.9.9").slice(0, 28))));
  const quotedUdp = w.ethernet(w.ETH_IPV4, w.ipv4("10.0.1.1", "10.0.0.2", 1, w.icmpError(3, 3, w.ipv4("10.0.0.2", "10.9.9.9", 17, w.udp(1, 2, [])).slice(0, 28))));
  const laterFrag = w.ethernet(w.ETH_IPV4, w.ipv4("10.0.0.1", "10.0.0.2", 1, [9, 9, 9, 9, 9, 9, 9, 9], { offset: 1480 }));
  const syn = w.ethernet(w.ETH_IPV4, w.ipv4("10.0.0.1", "10.0.0.2", 6, w.tcp(51514, 443, 0x02)));
  const table: [string, number[], boolean][] = [
    ["host 10.2.0.1", tunnelled, true], // the inner header matches
    ["udp port 4789", tunnelled, true], // the outer one does
    ["host 10.9.9.9", tunnelled, false],
    ["", tunnelled, true], // the default: an echo inside
    ["", quotedEcho, true], // an error about an echo request
    ["", quotedUdp, false],
    ["udp port 2", quotedUdp, true], // an error goes with the packet it quotes
    ["udp port 3", quotedUdp, false],
    ["", laterFrag, true], // a later fragment of an ICMP message may be an echo's
    ["icmp", laterFrag, true],
    ["tcp port 443 and host 10.0.0.2", syn, true],
    ["tcp port 443 and not net 10.0.0.0/8", syn, false],
    ["tcp dst port 51514", syn, false],
    ["ip6", syn, false],
  ];
  for (const [expression, frame, want] of table) assert.equal((await run(frame, expression)).accepted, want, `${expression || "(default)"}`);
});

test.after(() => session?.close());
