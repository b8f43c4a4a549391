// The tracefs source on the real kernel: a private instance, real veth traffic, clean removal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { createTracefsSource, removeStaleInstances } from "../server/capture/tracefs.ts";
import type { RawEvent } from "../shared/types.ts";

const P = "ppT";
const isRoot = process.getuid?.() === 0;
const sh = (...args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: "pipe" }).toString();
const quiet = (...args: string[]) => { try { sh(...args); } catch { /* absent */ } };

function teardown(): void {
  quiet("ip", "netns", "del", `${P}-ns`);
  quiet("ip", "link", "del", `${P}-h`);
}

function setup(): void {
  teardown();
  sh("ip", "netns", "add", `${P}-ns`);
  sh("ip", "link", "add", `${P}-h`, "type", "veth", "peer", "name", `${P}-n`, "netns", `${P}-ns`);
  // No IPv6 on the pair: the multicast listener report a new link sends could be the first skb seen
  // (a 90-byte one was, once), and this source reads no headers to tell it from the echo.
  sh("sysctl", "-qw", `net.ipv6.conf.${P}-h.disable_ipv6=1`);
  sh("ip", "netns", "exec", `${P}-ns`, "sysctl", "-qw", `net.ipv6.conf.${P}-n.disable_ipv6=1`);
  sh("ip", "addr", "add", "10.232.0.1/24", "dev", `${P}-h`);
  sh("ip", "link", "set", `${P}-h`, "up");
  sh("ip", "-n", `${P}-ns`, "addr", "add", "10.232.0.2/24", "dev", `${P}-n`);
  sh("ip", "-n", `${P}-ns`, "link", "set", `${P}-n`, "up");
  sh("ping", "-c", "1", "-W", "1", "10.232.0.2"); // ARP now, so the capture holds the echo only
}

test("tracefs source: a veth ping arrives hop by hop, and the instance is gone after stop", { skip: !isRoot && "needs root (tracefs)" }, async (t) => {
  setup();
  t.after(teardown);
  const source = createTracefsSource();
  const events: RawEvent[] = [];
  await source.start((batch) => events.push(...batch));
  const instance = `/sys/kernel/tracing/instances/pktpath-${process.pid}`;
  try {
    assert.ok(existsSync(instance));
    sh("ping", "-c", "1", "10.232.0.2");
    await new Promise((r) => setTimeout(r, 600));
  } finally {
    await source.stop();
  }
  assert.equal(existsSync(instance), false);
  const ours = events.filter((e) => e.ifname?.startsWith(`${P}-`));
  const request = ours[0]!;
  const reqHops = events.filter((e) => e.skbaddr === request.skbaddr && e.ifname !== undefined).slice(0, 4);
  assert.deepEqual(reqHops.map((e) => [e.event, e.ifname, e.len]), [
    ["net_dev_queue", `${P}-h`, 98], ["netif_rx", `${P}-n`, 84], ["net_dev_xmit", `${P}-h`, 98], ["netif_receive_skb", `${P}-n`, 84],
  ]);
  const reply = ours.find((e) => e.event === "net_dev_queue" && e.ifname === `${P}-n`);
  assert.ok(reply, "the echo reply leaves the namespace");
  assert.ok(reqHops.every((e, i) => i === 0 || e.tNs >= reqHops[i - 1]!.tNs));
  assert.ok(source.counters().events >= 8);
  assert.ok(source.nowNs!() >= reqHops[3]!.tNs);
});

test("instances left by a killed pktpath are removed at the next start", { skip: !isRoot && "needs root (tracefs)" }, async () => {
  const dead = 4_194_400; // above the largest pid_max Linux allows (2^22): never a live process
  const dir = `/sys/kernel/tracing/instances/pktpath-${dead}`;
  mkdirSync(dir);
  const removed = await removeStaleInstances();
  assert.ok(removed.includes(`pktpath-${dead}`));
  assert.equal(readdirSync("/sys/kernel/tracing/instances").includes(`pktpath-${dead}`), false);
});

test("trace --source tracefs: no headers, so each skb's journey is printed instead of pings", { skip: !isRoot && "needs root (tracefs)" }, async (t) => {
  setup();
  t.after(teardown);
  const bin = new URL("../bin/pktpath.js", import.meta.url).pathname;
  const child = spawn(process.execPath, [bin, "trace", "--source", "tracefs", "--duration", "3"], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  const closed = once(child, "close");
  const killer = setTimeout(() => child.kill("SIGINT"), 15_000);
  await new Promise<void>((resolve) => child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
    if (stderr.includes("printing journeys")) resolve();
  }));
  sh("ping", "-c", "1", "10.232.0.2");
  const [code] = (await closed) as [number];
  clearTimeout(killer);
  assert.equal(code, 0, stderr);
  assert.deepEqual(stderr.trim().split("\n"), [
    "pktpath: tracing (source: tracefs)",
    "pktpath: tracefs gives no packet headers: printing journeys (one skb's hops each), not pings",
  ]);
  // Other traffic shows too (IPv6 neighbour discovery on the new veth, say): the echoes are the
  // journeys that leave as 98-byte frames.
  const blocks = stdout.trim().split("\n\n").filter((b) => b.includes(`${P}-`))
    .map((b) => b.split("\n").map((l) => l.trim().split(/\s+/)))
    .filter((b) => b[1]?.[4] === "len=98");
  // `j-N ADDR N hops[, dropped: …]`, then `[netns] ifname event len=… +Δ` per hop
  assert.deepEqual(blocks.map((b) => b.slice(1).map((hop) => `${hop[2]} ${hop[3]}`)), [
    [`${P}-h net_dev_queue`, `${P}-n netif_rx`, `${P}-h net_dev_xmit`, `${P}-n netif_receive_skb`],
    [`${P}-n net_dev_queue`, `${P}-h netif_rx`, `${P}-n net_dev_xmit`, `${P}-h netif_receive_skb`],
  ]);
});
