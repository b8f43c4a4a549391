// End to end over HTTP on the real kernel: `serve --source ebpf`, a ping routed through a forwarding
// namespace, then /api/pings and /api/pings/:id answer with its exact hops and namespace inodes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePing } from "../shared/validate.ts";
import type { Ping } from "../shared/types.ts";
import { startServe, waitFor } from "./support/cli-child.ts";
import { Topology, routed } from "./lib/netns.ts";

const isRoot = process.getuid?.() === 0;

test("a routed ping over HTTP: list without hops, detail with every hop, health counts", { skip: !isRoot && "needs root: loads BPF and creates network namespaces" }, async (t) => {
  const topo = new Topology("ppH1");
  t.after(() => topo.destroy());
  const { a, r, b } = routed(topo, "10.246");

  const serve = await startServe(["--source", "ebpf"]);
  t.after(() => serve.stop());
  topo.exec("a", "ping", "-c", "2", "-i", "0.2", "10.246.2.2");

  const list = await waitFor(async () => {
    const res = await fetch(`${serve.url}/api/pings?limit=10`);
    const body = (await res.json()) as unknown[];
    const ours = body.filter((p) => typeof p === "object" && p !== null && (p as { dst?: unknown }).dst === "10.246.2.2");
    return ours.length === 2 ? ours : undefined;
  }, 5000, "both pings listed");
  const summaries = list.map((p) => { const r = parsePing(p); assert.ok(r.ok); return r.value; });
  assert.deepEqual(summaries.map((p) => [p.seq, p.status, p.request?.hops.length, p.reply?.hops.length]),
    [[2, "complete", 0, 0], [1, "complete", 0, 0]], "newest first, hops omitted in the list");

  const res = await fetch(`${serve.url}/api/pings/${summaries[1]!.id}`);
  assert.equal(res.status, 200);
  const detail = parsePing(await res.json());
  assert.ok(detail.ok);
  const p: Ping = detail.value;
  const hop = (event: string, ifname: string, netns: number) => `${event} ${ifname} ${netns}`;
  const veth = (x: string, xn: number, y: string, yn: number) =>
    [hop("net_dev_queue", x, xn), hop("netif_rx", y, yn), hop("net_dev_xmit", x, xn), hop("netif_receive_skb", y, yn)];
  // sent, forwarded once, delivered: the stack's steps around each veth crossing
  const stepsVia = (x0: string, xn: number, ri: string, ro: string, y0: string, yn: number) => [
    hop("__ip_local_out", x0, xn), hop("ip_output", x0, xn), ...veth(x0, xn, ri, r),
    hop("ip_rcv", ri, r), hop("ip_forward", ri, r), hop("ip_output", ro, r), ...veth(ro, r, y0, yn),
    hop("ip_rcv", y0, yn), hop("ip_local_deliver", y0, yn)];
  assert.deepEqual(p.request!.hops.map((h) => hop(h.event, h.ifname, h.netns!)), stepsVia("ppH1-a0", a, "ppH1-ra", "ppH1-rb", "ppH1-b0", b));
  assert.deepEqual(p.reply!.hops.map((h) => hop(h.event, h.ifname, h.netns!)), stepsVia("ppH1-b0", b, "ppH1-rb", "ppH1-ra", "ppH1-a0", a));
  assert.deepEqual([...new Set(p.request!.hops.map((h) => h.netnsName))], ["ppH1-a", "ppH1-r", "ppH1-b"]);
  assert.equal(p.rttNs, p.reply!.hops[0]!.tNs - p.request!.hops[0]!.tNs);

  const health = (await (await fetch(`${serve.url}/api/health`)).json()) as { source: string; live: boolean; events: number; lost: number };
  assert.deepEqual([health.source, health.live, health.lost], ["ebpf", true, 0]);
  assert.ok(health.events >= 32, `${health.events} events: at least 16 hops and 2 frees per ping`);
  assert.equal((await fetch(`${serve.url}/api/pings/p-999999`)).status, 404);
});
