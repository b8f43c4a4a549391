// The Correlator on a real eBPF capture (test/fixtures/record-ebpf.sh fixture): host↔ns veth, a routed
// path through a forwarding namespace, a bridge, IPv6, and an nft drop — one ping each.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { readCapture } from "../server/capture/file.ts";
import { correlateAll } from "../shared/correlate.ts";
import { formatPing } from "../shared/tracepkt.ts";
import type { Journey, RawEvent } from "../shared/types.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/ebpf/topologies.ndjson", import.meta.url));

async function load(): Promise<RawEvent[]> {
  const events: RawEvent[] = [];
  for await (const item of readCapture(FIXTURE)) {
    assert.ok(item.ok, item.ok ? "" : item.error);
    if (item.value.kind === "event") events.push(item.value.event);
  }
  return events;
}

/** `event ifname@namespace` per hop, with the ppR- prefix dropped for reading. */
const path = (j: Journey | undefined) =>
  (j?.hops ?? []).map((h) => `${h.event} ${h.ifname.slice(4)}@${(h.netnsName ?? "?").replace("ppR-", "")}`);
const veth = (a: string, an: string, b: string, bn: string) =>
  [`net_dev_queue ${a}@${an}`, `netif_rx ${b}@${bn}`, `net_dev_xmit ${a}@${an}`, `netif_receive_skb ${b}@${bn}`];

const TABLE: { name: string; status: string; flow: string; request: string[]; reply: string[] }[] = [
  { name: "veth host↔ns", status: "complete", flow: "4 10.250.0.1 10.250.0.2",
    request: veth("host", "host", "cl0", "client"), reply: veth("cl0", "client", "host", "host") },
  { name: "routed", status: "complete", flow: "4 10.251.1.2 10.251.2.2",
    request: [...veth("cl1", "client", "rt0", "router"), ...veth("rt1", "router", "sv0", "server")],
    reply: [...veth("sv0", "server", "rt1", "router"), ...veth("rt0", "router", "cl1", "client")] },
  { name: "bridge", status: "complete", flow: "4 10.252.0.2 10.252.0.9",
    request: [...veth("wb0", "web", "brw", "bridge"), ...veth("brd", "bridge", "db0", "db")],
    reply: [...veth("db0", "db", "brd", "bridge"), ...veth("brw", "bridge", "wb0", "web")] },
  { name: "IPv6 veth", status: "complete", flow: "6 fd00:250::1 fd00:250::2",
    request: veth("host", "host", "cl0", "client"), reply: veth("cl0", "client", "host", "host") },
  { name: "nft drop", status: "dropped", flow: "4 10.252.0.3 10.252.0.9",
    request: [...veth("wb0", "web", "brw", "bridge"), ...veth("brd", "bridge", "db0", "db")], reply: [] },
];

test("each recorded topology correlates into its exact request and reply paths", async () => {
  const { pings, journeys } = correlateAll(await load());
  assert.equal(pings.length, TABLE.length);
  for (const [i, row] of TABLE.entries()) {
    const p = pings[i]!;
    assert.equal(p.status, row.status, row.name);
    assert.equal(`${p.family} ${p.src} ${p.dst}`, row.flow, row.name);
    assert.deepEqual(path(p.request), row.request, row.name);
    assert.deepEqual(path(p.reply), row.reply, row.name);
    assert.equal(p.seq, 1, row.name);
  }
  // Every journey of the capture belongs to one of these pings: the filter let only echoes through.
  assert.equal(journeys.length, 9);
});

test("rtt is reply's first hop minus request's first hop; hop times ascend; lengths per layer", async () => {
  const { pings } = correlateAll(await load());
  for (const p of pings.filter((x) => x.status === "complete")) {
    assert.equal(p.rttNs, p.reply!.hops[0]!.tNs - p.request!.hops[0]!.tNs);
    const times = [...p.request!.hops, ...p.reply!.hops].map((h) => h.tNs);
    assert.deepEqual(times, [...times].sort((a, b) => a - b));
    // queue/xmit see the Ethernet frame, rx/receive the IP packet: 14 bytes apart
    const lens = p.request!.hops.map((h) => h.len);
    const ip = p.family === 4 ? 84 : 104;
    assert.deepEqual(lens.slice(0, 4), [ip + 14, ip, ip + 14, ip]);
  }
});

test("the drop keeps the kernel's reason and where it happened; delivered replies are not drops", async () => {
  const { pings } = correlateAll(await load());
  const dropped = pings[4]!;
  assert.equal(dropped.request?.dropped?.reason, "NETFILTER_DROP");
  assert.match(dropped.request?.dropped?.location ?? "", /^nft_do_chain\+0x[0-9a-f]+$/);
  assert.match(formatPing(dropped).split("\n")[0]!, /^p-5 dropped 10\.252\.0\.3 -> 10\.252\.0\.9 id=\d+ seq=1 hops=8\/0 \(request dropped: NETFILTER_DROP at nft_do_chain\+0x[0-9a-f]+ after ppR-db0\)$/);
  // ping runs as root here: the raw socket took a copy of each reply, the original ends NO_SOCKET
  for (const p of pings.slice(0, 4)) assert.equal(p.reply?.dropped?.reason, "NO_SOCKET");
});
