// Any traffic, not only pings (issue "Any traffic"): TCP and UDP exchanges through a routed topology
// and behind a masquerading router, under a pcap-filter FILTER given to `pktpath trace --json`: a
// connect that completes, one refused with RST, one dropped by an nft rule (its retries counted, the
// rule named), a DNS-shaped query answered with its id, a datagram answered by port unreachable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import type { Exchange, Journey } from "../shared/types.ts";
import { Topology } from "./lib/netns.ts";
import { TraceChild } from "./lib/trace.ts";

const skip = process.getuid?.() !== 0 && "needs root: loads BPF and creates network namespaces";

// A TCP listener on 8080 and a DNS-shaped UDP server on 53 (it answers with the query's id) in b.
const SERVERS = `
const net = require("node:net"), dgram = require("node:dgram");
net.createServer((c) => c.end()).listen(8080, "0.0.0.0");
const u = dgram.createSocket("udp4");
u.on("message", (m, r) => u.send(Buffer.concat([m.subarray(0, 2), Buffer.from([0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0])]), r.port, r.address));
u.bind(53, "0.0.0.0", () => console.log("ready"));`;

// The client in a: connect (complete), connect to a closed port (refused), connect to a port nft
// drops (3.5 s: the SYN and three retransmissions), a DNS query with id 0xbeef, a datagram to a closed port.
const CLIENT = `
const net = require("node:net"), dgram = require("node:dgram");
const [dst] = process.argv.slice(1);
const connect = (port, ms) => new Promise((res) => { const s = net.connect({ port, host: dst }); const t = setTimeout(() => (s.destroy(), res()), ms);
  s.on("connect", () => (clearTimeout(t), s.end(), res())); s.on("error", () => (clearTimeout(t), res())); });
const udp = (port, payload) => new Promise((res) => { const s = dgram.createSocket("udp4"); s.on("message", () => (s.close(), res()));
  s.on("error", () => (s.close(), res())); s.send(payload, port, dst); setTimeout(() => { try { s.close(); } catch {} res(); }, 700); });
(async () => {
  await connect(8080, 2000);
  await connect(8081, 2000);
  await connect(8082, 3500);
  await udp(53, Buffer.from([0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
  await udp(9999, Buffer.from("x"));
})();`;

function node(topo: Topology, ns: string, script: string, args: string[] = []): ChildProcess {
  return spawn("ip", ["netns", "exec", topo.n(ns), process.execPath, "-e", script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
}

/** a — r — b; r routes (masquerading out of rb when nat), drops SYNs to 8082 in its forward chain. */
function build(topo: Topology, nat: boolean): string {
  for (const ns of ["a", "r", "b"]) topo.netns(ns);
  topo.veth({ ns: "a", name: "a0" }, { ns: "r", name: "ra" });
  topo.veth({ ns: "r", name: "rb" }, { ns: "b", name: "b0" });
  topo.addr({ ns: "a", name: "a0" }, "10.68.1.2/24");
  topo.addr({ ns: "r", name: "ra" }, "10.68.1.1/24");
  topo.addr({ ns: "r", name: "rb" }, "10.68.2.1/24");
  topo.addr({ ns: "b", name: "b0" }, "10.68.2.2/24");
  topo.route("a", "10.68.2.0/24", "10.68.1.1");
  if (!nat) topo.route("b", "10.68.1.0/24", "10.68.2.1");
  topo.forwarding("r");
  const P = topo.prefix;
  topo.nft("r", `table inet ${P}_filter {\n chain forward { type filter hook forward priority 0; policy accept; tcp dport 8082 drop; }\n}` +
    (nat ? `\ntable ip ${P}_nat {\n chain post { type nat hook postrouting priority srcnat; oifname "${P}-rb" masquerade; }\n}` : ""));
  topo.exec("a", "ping", "-c", "1", "-W", "1", "10.68.2.2");
  return nat ? "10.68.2.1" : "10.68.1.2";
}

const line = (x: Exchange): string => {
  const flags = x.kind === "tcp" ? ` ${x.request?.packet?.tcpFlags}/${x.reply?.packet?.tcpFlags ?? "-"}` : "";
  const dns = x.request?.packet?.dnsId !== undefined ? ` dns=${x.request.packet.dnsId}/${x.reply?.packet?.dnsId}` : "";
  return `${x.kind} ${x.src}:${x.dport} ${x.status}${flags}${dns} retries=${x.retries?.length ?? 0}`;
};

for (const nat of [false, true]) {
  test(`TCP and UDP exchanges${nat ? " behind a masquerading router" : " through a router"}: complete, refused, dropped with retries and the rule, DNS by id, port unreachable`, { skip, timeout: 60_000 }, async (t) => {
    const topo = new Topology(nat ? "ppX2" : "ppX1");
    t.after(() => topo.destroy());
    const seenFrom = build(topo, nat);
    const servers = node(topo, "b", SERVERS);
    t.after(() => servers.kill());
    await once(servers.stdout!, "data");
    const trace = await TraceChild.start(["tcp", "or", "udp", "and", "net", "10.68.0.0/16"]);
    try {
      const client = node(topo, "a", CLIENT, ["10.68.2.2"]);
      await once(client, "close");
      // the dropped connect's exchange waits 4 s after its last SYN for an answer that never comes
      await new Promise((r) => setTimeout(r, 5000));
    } finally {
      await trace.stop();
    }
    const began = (x: Exchange): number => x.request?.hops[0]?.tNs ?? 0;
    const ours = trace.exchanges.filter((x) => x.src === "10.68.1.2" && x.kind !== "icmp-echo").sort((x, y) => began(x) - began(y));
    // The DNS answer's path, hop by hop with the headers it carried: a rare run here once gave its
    // journey no DNS id, and this is what to read when it happens again.
    for (const x of ours.filter((y) => y.dport === 53)) {
      const hops = (j: Journey | undefined): string => (j?.hops ?? []).map((h) => `${h.event}@${h.netns ?? "?"}${h.packet ? ` ${JSON.stringify(h.packet)}` : ""}`).join(" > ");
      t.diagnostic(`dns reply ${x.reply?.id ?? "none"} ${JSON.stringify(x.reply?.packet)}: ${hops(x.reply)}`);
    }
    assert.deepEqual(ours.map(line), [
      "tcp 10.68.1.2:8080 complete S/SA retries=0",
      "tcp 10.68.1.2:8081 refused S/RA retries=0",
      // the SYN, then one retransmission a second (tcp_syn_linear_timeouts) until the client gave up at 3.5 s
      "tcp 10.68.1.2:8082 dropped S/- retries=3",
      "udp 10.68.1.2:53 complete dns=48879/48879 retries=0",
      "udp 10.68.1.2:9999 refused retries=0",
    ]);
    const P = topo.prefix;
    const dropped = ours[2]!;
    assert.deepEqual([dropped.request?.dropped?.reason, dropped.request?.dropped?.rule], ["NETFILTER_DROP", `inet ${P}_filter forward`]);
    assert.ok(dropped.retries!.every((r) => r.dropped?.rule === `inet ${P}_filter forward` && r.packet?.tcpFlags === "S"), "each retransmitted SYN dropped there too");
    const unreachable = ours[4]!;
    assert.deepEqual([unreachable.error?.type, unreachable.error?.code, unreachable.error?.text, unreachable.error?.from],
      [3, 3, "Destination Port Unreachable", "10.68.2.2"]);
    // Behind NAT, b sees the router's address; the answers pair through the rewritten headers.
    for (const x of ours.filter((y) => y.reply)) assert.equal(x.reply!.packet!.dst, seenFrom, `${x.kind} ${x.dport}`);
    assert.ok(ours[0]!.rttNs! > 0);
  });
}
