// End to end on the real kernel: `pktpath trace --json` attached, real pings across namespaces built
// for each test, exact hop sequences (event, interface, namespace inode) read back as Ping objects.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parsePing } from "../shared/validate.ts";
import type { Hop, Ping } from "../shared/types.ts";
import { Topology, hostNetnsInode, routed, sh } from "./lib/netns.ts";

const BIN = fileURLToPath(new URL("../bin/pktpath.js", import.meta.url));
const isRoot = process.getuid?.() === 0;
const skip = !isRoot && "needs root: loads BPF and creates network namespaces";

/** Starts `trace --json`, waits for its ready line, runs `traffic`, returns the pings it printed. */
async function traceWhile(args: string[], traffic: () => void): Promise<Ping[]> {
  const child = spawn(process.execPath, [BIN, "trace", "--json", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  const exited = once(child, "close");
  const killer = setTimeout(() => child.kill("SIGINT"), 20_000);
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        if (stderr.includes("pktpath: tracing (source: ebpf)")) resolve();
      });
      void exited.then(() => reject(new Error(`trace exited before attaching: ${stderr}`)));
    });
    traffic();
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, stderr);
  } finally {
    clearTimeout(killer);
    child.kill("SIGINT");
  }
  return stdout.trim().split("\n").filter(Boolean).map((line) => {
    const r = parsePing(JSON.parse(line));
    assert.ok(r.ok, r.ok ? "" : r.error);
    return r.value;
  });
}

/**
 * Each hop as "event ifname netns". The host namespace's own netfilter chains are left out: they are
 * whatever this machine's firewall (and container runtimes, which other tests run) have set up there.
 */
const steps = (hops: Hop[] | undefined) => (hops ?? [])
  .filter((h) => !(h.netfilter && h.netns === hostNetnsInode()))
  .map((h) => `${h.event} ${h.ifname} ${h.netns}`);

test("veth host ↔ namespace: request and reply hop by hop, namespaces by inode", { skip }, async (t) => {
  const topo = new Topology("ppE1");
  t.after(() => topo.destroy());
  topo.netns("b");
  topo.veth({ name: "h" }, { ns: "b", name: "b0" });
  topo.addr({ name: "h" }, "10.241.1.1/24");
  topo.addr({ ns: "b", name: "b0" }, "10.241.1.2/24");
  const host = hostNetnsInode(), b = topo.inode("b");
  topo.exec("b", "ping", "-c", "1", "-W", "1", "10.241.1.1"); // ARP settled before capture

  const pings = await traceWhile(["--count", "1", "--host", "10.241.1.2"], () => {
    sh("ping", "-c", "1", "-W", "2", "10.241.1.2");
  });
  assert.equal(pings.length, 1);
  const p = pings[0]!;
  assert.equal(p.status, "complete");
  assert.deepEqual([p.family, p.src, p.dst, p.seq], [4, "10.241.1.1", "10.241.1.2", 1]);
  // The stack's own steps (netfilter hooks) around the device hops: sent by __ip_local_out, ip_output,
  // received by ip_rcv and delivered by ip_local_deliver in b.
  assert.deepEqual(steps(p.request?.hops), [
    `__ip_local_out ppE1-h ${host}`, `ip_output ppE1-h ${host}`,
    `net_dev_queue ppE1-h ${host}`, `netif_rx ppE1-b0 ${b}`, `net_dev_xmit ppE1-h ${host}`, `netif_receive_skb ppE1-b0 ${b}`,
    `ip_rcv ppE1-b0 ${b}`, `ip_local_deliver ppE1-b0 ${b}`,
  ]);
  assert.deepEqual(steps(p.reply?.hops), [
    `__ip_local_out ppE1-b0 ${b}`, `ip_output ppE1-b0 ${b}`,
    `net_dev_queue ppE1-b0 ${b}`, `netif_rx ppE1-h ${host}`, `net_dev_xmit ppE1-b0 ${b}`, `netif_receive_skb ppE1-h ${host}`,
    `ip_rcv ppE1-h ${host}`, `ip_local_deliver ppE1-h ${host}`,
  ]);
  assert.equal(p.request?.hops[0]?.netnsName, "host");
  assert.equal(p.request?.hops.find((h) => h.event === "netif_rx")?.netnsName, "ppE1-b");
  // IP length at the stack's steps, the Ethernet frame's at the devices that send one
  assert.deepEqual(p.request?.hops.filter((h) => !h.netfilter).map((h) => h.len), [84, 84, 98, 84, 98, 84, 84, 84]);
  assert.deepEqual(p.request?.hops.filter((h) => !h.netfilter).map((h) => h.ttl), [64, 64, 64, 64, undefined, 64, 64, 64]);
  assert.ok(p.rttNs !== undefined && p.rttNs > 0);
  assert.deepEqual(p.request?.packet?.icmp?.type, 8);
  assert.deepEqual(p.reply?.packet?.icmp?.type, 0);
});

test("routed through a forwarding namespace: three lanes, every step each way, TTL falling at the router", { skip }, async (t) => {
  const topo = new Topology("ppE2");
  t.after(() => topo.destroy());
  const { a, r, b } = routed(topo, "10.242");

  const pings = await traceWhile(["--count", "1", "--host", "10.242.2.2"], () => {
    topo.exec("a", "ping", "-c", "1", "-W", "2", "10.242.2.2");
  });
  const p = pings[0]!;
  assert.equal(p.status, "complete");
  assert.deepEqual(steps(p.request?.hops), [
    `__ip_local_out ppE2-a0 ${a}`, `ip_output ppE2-a0 ${a}`,
    `net_dev_queue ppE2-a0 ${a}`, `netif_rx ppE2-ra ${r}`, `net_dev_xmit ppE2-a0 ${a}`, `netif_receive_skb ppE2-ra ${r}`,
    `ip_rcv ppE2-ra ${r}`, `ip_forward ppE2-ra ${r}`, `ip_output ppE2-rb ${r}`,
    `net_dev_queue ppE2-rb ${r}`, `netif_rx ppE2-b0 ${b}`, `net_dev_xmit ppE2-rb ${r}`, `netif_receive_skb ppE2-b0 ${b}`,
    `ip_rcv ppE2-b0 ${b}`, `ip_local_deliver ppE2-b0 ${b}`,
  ]);
  assert.deepEqual(steps(p.reply?.hops), [
    `__ip_local_out ppE2-b0 ${b}`, `ip_output ppE2-b0 ${b}`,
    `net_dev_queue ppE2-b0 ${b}`, `netif_rx ppE2-rb ${r}`, `net_dev_xmit ppE2-b0 ${b}`, `netif_receive_skb ppE2-rb ${r}`,
    `ip_rcv ppE2-rb ${r}`, `ip_forward ppE2-rb ${r}`, `ip_output ppE2-ra ${r}`,
    `net_dev_queue ppE2-ra ${r}`, `netif_rx ppE2-a0 ${a}`, `net_dev_xmit ppE2-ra ${r}`, `netif_receive_skb ppE2-a0 ${a}`,
    `ip_rcv ppE2-a0 ${a}`, `ip_local_deliver ppE2-a0 ${a}`,
  ]);
  assert.deepEqual(p.request?.hops.map((h) => h.netnsName), ["ppE2-a", "ppE2-a", "ppE2-a", "ppE2-r", "ppE2-a", "ppE2-r",
    "ppE2-r", "ppE2-r", "ppE2-r", "ppE2-r", "ppE2-b", "ppE2-r", "ppE2-b", "ppE2-b", "ppE2-b"]);
  // ip_forward decrements the TTL before its netfilter hook: 64 up to the router's ip_rcv, 63 from then on
  const ttls = p.request?.hops.flatMap((h) => (h.ttl === undefined ? [] : [`${h.event}:${h.ttl}`]));
  assert.deepEqual(ttls, ["__ip_local_out:64", "ip_output:64", "net_dev_queue:64", "netif_rx:64", "netif_receive_skb:64",
    "ip_rcv:64", "ip_forward:63", "ip_output:63", "net_dev_queue:63", "netif_rx:63", "netif_receive_skb:63", "ip_rcv:63", "ip_local_deliver:63"]);
  assert.equal(p.request?.hops.find((h) => h.event === "ip_forward")?.toIfname, "ppE2-rb", "where the router forwards it");
});

test("through a bridge: the ports carry it, the bridge's receive handler takes it between them", { skip }, async (t) => {
  const topo = new Topology("ppE3");
  t.after(() => topo.destroy());
  for (const ns of ["a", "s", "b"]) topo.netns(ns);
  topo.veth({ ns: "a", name: "a0" }, { ns: "s", name: "pa" });
  topo.veth({ ns: "b", name: "b0" }, { ns: "s", name: "pb" });
  topo.bridge("s", "br", ["pa", "pb"]);
  topo.addr({ ns: "a", name: "a0" }, "10.243.1.1/24");
  topo.addr({ ns: "b", name: "b0" }, "10.243.1.2/24");
  topo.exec("a", "ping", "-c", "1", "-W", "1", "10.243.1.2");
  const [a, s, b] = ["a", "s", "b"].map((ns) => topo.inode(ns));

  const pings = await traceWhile(["--count", "1", "--host", "10.243.1.2"], () => {
    topo.exec("a", "ping", "-c", "1", "-W", "2", "10.243.1.2");
  });
  const p = pings[0]!;
  assert.equal(p.status, "complete");
  // br_handle_frame (the port's receive handler) hands it to the bridge, which forwards it out of pb;
  // br_netfilter runs the IP hooks for the bridged frame on the way (no routing happens).
  assert.deepEqual(steps(p.request?.hops), [
    `__ip_local_out ppE3-a0 ${a}`, `ip_output ppE3-a0 ${a}`,
    `net_dev_queue ppE3-a0 ${a}`, `netif_rx ppE3-pa ${s}`, `net_dev_xmit ppE3-a0 ${a}`, `netif_receive_skb ppE3-pa ${s}`,
    `br_handle_frame ppE3-pa ${s}`, `br_nf_pre_routing ppE3-br ${s}`, `br_nf_forward_ip ppE3-br ${s}`, `br_nf_post_routing ppE3-br ${s}`,
    `net_dev_queue ppE3-pb ${s}`, `netif_rx ppE3-b0 ${b}`, `net_dev_xmit ppE3-pb ${s}`, `netif_receive_skb ppE3-b0 ${b}`,
    `ip_rcv ppE3-b0 ${b}`, `ip_local_deliver ppE3-b0 ${b}`,
  ]);
  assert.equal(p.request?.hops.find((h) => h.event === "br_handle_frame")?.toIfname, "ppE3-br", "the port's bridge");
  assert.equal(p.reply?.hops.length, 16);
});

test("IPv6 echo across veth: family 6, ICMPv6 128/129", { skip }, async (t) => {
  const topo = new Topology("ppE4");
  t.after(() => topo.destroy());
  topo.netns("b");
  topo.veth({ name: "h" }, { ns: "b", name: "b0" });
  topo.addr({ name: "h" }, "fd00:244::1/64");
  topo.addr({ ns: "b", name: "b0" }, "fd00:244::2/64");
  sh("ping", "-6", "-c", "1", "-W", "2", "fd00:244::2"); // neighbour discovery before capture
  const host = hostNetnsInode(), b = topo.inode("b");

  const pings = await traceWhile(["--count", "1", "--host", "fd00:244::2"], () => {
    sh("ping", "-6", "-c", "1", "-W", "2", "fd00:244::2");
  });
  const p = pings[0]!;
  assert.deepEqual([p.family, p.src, p.dst, p.status], [6, "fd00:244::1", "fd00:244::2", "complete"]);
  assert.deepEqual(steps(p.request?.hops), [
    `ip6_local_out ppE4-h ${host}`, `ip6_output ppE4-h ${host}`,
    `net_dev_queue ppE4-h ${host}`, `netif_rx ppE4-b0 ${b}`, `net_dev_xmit ppE4-h ${host}`, `netif_receive_skb ppE4-b0 ${b}`,
    `ipv6_rcv ppE4-b0 ${b}`, `ip6_input ppE4-b0 ${b}`,
  ]);
  assert.deepEqual([p.request?.packet?.icmp?.type, p.reply?.packet?.icmp?.type], [128, 129]);
  assert.deepEqual(p.request?.hops.filter((h) => !h.netfilter).map((h) => h.len), [104, 104, 118, 104, 118, 104, 104, 104]);
});

test("nft drop in the namespace: status dropped, the last hop and the kernel's reason", { skip }, async (t) => {
  const topo = new Topology("ppE5");
  t.after(() => topo.destroy());
  topo.netns("b");
  topo.veth({ name: "h" }, { ns: "b", name: "b0" });
  topo.addr({ name: "h" }, "10.245.1.1/24");
  topo.addr({ ns: "b", name: "b0" }, "10.245.1.2/24");
  sh("ping", "-c", "1", "-W", "1", "10.245.1.2");
  topo.nftDrop("b", "icmp type echo-request");
  const host = hostNetnsInode(), b = topo.inode("b");

  const pings = await traceWhile(["--count", "1", "--host", "10.245.1.2"], () => {
    try { sh("ping", "-c", "1", "-W", "1", "10.245.1.2"); } catch { /* no reply: the point */ }
  });
  const p = pings[0]!;
  assert.equal(p.status, "dropped");
  assert.equal(p.reply, undefined);
  assert.deepEqual(steps(p.request?.hops), [
    `__ip_local_out ppE5-h ${host}`, `ip_output ppE5-h ${host}`,
    `net_dev_queue ppE5-h ${host}`, `netif_rx ppE5-b0 ${b}`, `net_dev_xmit ppE5-h ${host}`, `netif_receive_skb ppE5-b0 ${b}`,
    `ip_rcv ppE5-b0 ${b}`, `ip_local_deliver ppE5-b0 ${b}`, `nft_do_chain ppE5-b0 ${b}`,
  ]);
  assert.equal(p.request?.dropped?.reason, "NETFILTER_DROP");
  assert.match(p.request?.dropped?.location ?? "", /^nft_do_chain\+0x[0-9a-f]+/);
  // the chain that dropped it, by name: the test's table, its input chain
  assert.equal(p.request?.dropped?.rule, "inet ppE5_t input");
  assert.deepEqual(p.request?.hops.at(-1)?.netfilter, { family: "inet", table: "ppE5_t", chain: "input", hook: "input", verdict: "drop" });
});
