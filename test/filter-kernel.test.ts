// The kernel filter on real traffic, one pcap-filter construct after another (host, net, port,
// src/dst, and/or/not), each set live on one running capture: the table goes into the filter map and
// the next packet is judged by it, with the same BPF programs loaded throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { createEbpfSource } from "../server/capture/ebpf.ts";
import { KERNEL_BTF } from "../server/capture/btf.ts";
import { programsHeldBy } from "./support/bpf-programs.ts";
import { captureFilter } from "./support/filter.ts";
import type { PacketInfo, RawEvent } from "../shared/types.ts";
import { Topology } from "./lib/netns.ts";

const skip = process.getuid?.() !== 0 ? "needs root (loads a BPF program, creates namespaces)"
  : !existsSync(KERNEL_BTF) ? `needs kernel BTF (${KERNEL_BTF})` : false;

const A = "10.241.0.1", B1 = "10.241.0.2", B2 = "10.241.1.2";

/** What a packet of the probes below is, by its header ("" for traffic that is not the test's). */
function label(p: PacketInfo | undefined): string {
  if (!p || p.family !== 4 || ![p.src, p.dst].some((a) => a.startsWith("10.241."))) return "";
  if (p.proto === "udp") return `udp:${p.dport}`;
  if (p.proto === "tcp") return p.dport === 47003 && p.tcpFlags === "S" ? "syn" : p.sport === 47003 && p.tcpFlags?.includes("R") ? "rst" : `tcp:${p.tcpFlags}`;
  if (p.proto === "icmp" && p.icmp?.type === 8) return "echo";
  if (p.proto === "icmp" && p.icmp?.type === 0) return "echo-reply";
  if (p.proto === "icmp" && p.icmp?.type === 3) return `unreach:${p.quoted?.dport}`;
  return `other:${p.proto}`;
}

const udp = (dst: string, port: number): Promise<void> => new Promise((resolve, reject) => {
  const sock = createSocket("udp4");
  sock.send(Buffer.from("pktpath"), port, dst, (e) => (sock.close(), e ? reject(e) : resolve()));
});
const tcp = (dst: string, port: number): Promise<void> => new Promise((resolve) => {
  const s = connect({ host: dst, port });
  s.on("error", () => resolve());
  s.on("connect", () => (s.destroy(), resolve()));
});

// The probes sent for each expression, and what each expression must let through: a datagram to
// 47001 at B1 and to 47002 at B2 (each answered by a port unreachable, which the filter judges by its
// own header or by the one it quotes), a TCP SYN to B1:47003 (answered by RST), an echo to B2.
const ALL = ["udp:47001", "udp:47002", "unreach:47001", "unreach:47002", "syn", "rst", "echo", "echo-reply"];
const CASES: [expression: string, admitted: string[]][] = [
  ["udp port 47001", ["udp:47001", "unreach:47001"]],
  [`host ${B2}`, ["udp:47002", "unreach:47002", "echo", "echo-reply"]],
  ["net 10.241.1.0/24", ["udp:47002", "unreach:47002", "echo", "echo-reply"]],
  [`src host ${B2}`, ["unreach:47002", "echo-reply"]],
  ["dst port 47002", ["udp:47002", "unreach:47002"]],
  ["src port 47003", ["rst"]],
  [`tcp and dst host ${B1}`, ["syn"]],
  ["udp or icmp", ALL.filter((l) => l !== "syn" && l !== "rst")],
  ["not tcp", ALL.filter((l) => l !== "syn" && l !== "rst")],
  [`icmp and not host ${B1}`, ["unreach:47002", "echo", "echo-reply"]],
  ["tcp port 47003 or (udp and dst port 47001)", ["syn", "rst", "udp:47001", "unreach:47001"]],
  // The port unreachable from B1 is ICMP between A and B1: its own header matches.
  [`not (udp or host ${B2})`, ["syn", "rst", "unreach:47001"]],
];

test("the kernel filter on real traffic, construct by construct, changed live with the same programs loaded", { skip, timeout: 120_000 }, async (t) => {
  const topo = new Topology("ppK1");
  t.after(() => topo.destroy());
  topo.netns("ns");
  topo.veth({ name: "h" }, { ns: "ns", name: "n" });
  topo.addr({ name: "h" }, `${A}/24`);
  topo.addr({ ns: "ns", name: "n" }, `${B1}/24`);
  topo.addr({ ns: "ns", name: "n" }, `${B2}/24`);
  topo.route(undefined, "10.241.1.0/24", B1);
  // Two port unreachables per case, more than the default ICMP error rate to one peer allows.
  topo.exec("ns", "sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0");
  execFileSync("ping", ["-c", "1", "-W", "2", B2], { stdio: "ignore" });

  const before = programsHeldBy();
  const source = createEbpfSource(captureFilter(CASES[0]![0]));
  let events: RawEvent[] = [];
  await source.start((batch) => events.push(...batch));
  const loaded = programsHeldBy().filter((id) => !before.includes(id));
  assert.ok(loaded.length > 0, "the capture holds its BPF programs");
  try {
    for (const [expression, admitted] of CASES) {
      await source.setFilter(captureFilter(expression).program);
      events = [];
      await udp(B1, 47001);
      await udp(B2, 47002);
      await tcp(B1, 47003);
      execFileSync("ping", ["-c", "1", "-W", "1", B2], { stdio: "ignore" });
      await new Promise((r) => setTimeout(r, 400));
      const seen = [...new Set(events.map((e) => label(e.packet)).filter(Boolean))].sort();
      assert.deepEqual(seen, [...admitted].sort(), `what \`${expression}\` let through`);
      assert.deepEqual(programsHeldBy().filter((id) => !before.includes(id)), loaded, `\`${expression}\` was set without loading a program`);
    }
  } finally {
    await source.stop();
  }
});
