// Kubernetes pods named through the CRI, live: a private containerd with its CRI plugin (Debian's
// containerd 1.6, runc, the CNI bridge plugin), pods made as kubelet makes them, pings from the host
// into them under `pktpath trace --json`, every hop's netnsName read back. Needs root, containerd,
// containernetworking-plugins and podman (to build the image), which `npm test` installs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readlinkSync } from "node:fs";
import { CriRuntime } from "../server/runtimes/cri.ts";
import type { Ping } from "../shared/types.ts";
import { Containerd } from "./lib/containerd.ts";
import { sh } from "./lib/netns.ts";
import { buildBusyboxImage, podman } from "./lib/podman.ts";
import { TraceChild } from "./lib/trace.ts";

const PREFIX = "ppN3";
const isRoot = process.getuid?.() === 0;
const skip = !isRoot && "needs root: runs containerd and loads BPF";
const inodeOfPid = (pid: number | string): number => Number(/\d+/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[0]);

test("cri: pods are named from their sandbox labels, with their containers, live through containerd", { skip }, async (t) => {
  const tag = `${PREFIX}-cri`;
  const image = buildBusyboxImage(tag);
  t.after(() => void podman("rmi", "-f", image));
  const ctrd = new Containerd({ prefix: `${PREFIX}-`, subnet24: "10.219.13", sandboxImage: image });
  t.after(() => ctrd.destroy());
  const cri = await ctrd.start();
  ctrd.importFromPodman(image);

  const checkout = { name: `${PREFIX}-checkout-7d9f`, namespace: `${PREFIX}-shop`, uid: `${PREFIX}-uid-1` };
  const redis = { name: `${PREFIX}-redis-0`, namespace: `${PREFIX}-shop`, uid: `${PREFIX}-uid-2` };
  const hostPod = { name: `${PREFIX}-agent`, namespace: `${PREFIX}-system`, uid: `${PREFIX}-uid-3`, hostNetwork: true };
  const checkoutId = await cri.runPod(checkout);
  await cri.startContainer(checkoutId, checkout, "app", image, ["sleep", "600"]);
  const redisId = await cri.runPod(redis);
  await cri.startContainer(redisId, redis, "redis", image, ["sleep", "600"]);
  await cri.startContainer(redisId, redis, "exporter", image, ["sleep", "600"]);
  const hostPodId = await cri.runPod(hostPod);
  await cri.startContainer(hostPodId, hostPod, "agent", image, ["sleep", "600"]);
  const checkoutIp = await cri.podIp(checkoutId), redisIp = await cri.podIp(redisId);

  // What the CRI client reads: each pod's namespace, by the sandbox's pid and its netns bind mount;
  // the hostNetwork pod left out, so the node's namespace stays "host".
  const runtime = new CriRuntime(ctrd.socket);
  t.after(() => runtime.close());
  const listed = await runtime.list();
  assert.equal(listed.state, "ok");
  const containers = listed.state === "ok" ? listed.containers : [];
  assert.deepEqual(containers.map((c) => `${c.pod?.namespace}/${c.pod?.name} ${c.infra ? "(sandbox)" : c.name}`).sort(), [
    `${PREFIX}-shop/${checkout.name} (sandbox)`, `${PREFIX}-shop/${checkout.name} app`,
    `${PREFIX}-shop/${redis.name} (sandbox)`, `${PREFIX}-shop/${redis.name} exporter`, `${PREFIX}-shop/${redis.name} redis`,
  ]);
  const checkoutSandbox = containers.find((c) => c.infra && c.pod?.name === checkout.name);
  assert.ok(checkoutSandbox?.pid !== undefined && checkoutSandbox.netnsPath?.startsWith("/var/run/netns/cni-"));
  const checkoutNetns = inodeOfPid(checkoutSandbox.pid);
  const redisNetns = inodeOfPid(containers.find((c) => c.infra && c.pod?.name === redis.name)?.pid ?? 0);

  sh("ping", "-c", "1", "-W", "2", checkoutIp);
  sh("ping", "-c", "1", "-W", "2", redisIp);
  const trace = await TraceChild.start([], { ...process.env, PKTPATH_CRI_SOCKET: ctrd.socket });
  t.after(() => trace.stop());
  const expected = new Map([
    [inodeOfPid("self"), "host"],
    [checkoutNetns, `pod ${PREFIX}-shop/${checkout.name} (container app)`],
    [redisNetns, `pod ${PREFIX}-shop/${redis.name} (containers exporter, redis)`],
  ]);
  for (const ip of [checkoutIp, redisIp]) {
    sh("ping", "-c", "1", "-W", "2", ip);
    const p = await trace.ping((x: Ping) => x.dst === ip && x.status === "complete", `ping host → ${ip}`);
    const hops = [...(p.request?.hops ?? []), ...(p.reply?.hops ?? [])];
    for (const hop of hops) assert.equal(hop.netnsName, expected.get(hop.netns ?? 0), `${hop.event} ${hop.ifname} in ${hop.netns}`);
    assert.equal(hops.at(-1)?.netnsName, "host");
    assert.ok(hops.some((h) => h.netnsName?.startsWith("pod ")), "no hop inside the pod");
  }
});
