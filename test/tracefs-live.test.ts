// The tracefs source on the real kernel: a private instance, real veth traffic, clean removal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
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
