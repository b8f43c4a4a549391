// The parts of container naming that need no runtime running: the names given to a namespace's
// containers (table-driven), the protobuf wire format, and the namer's rules: absent runtimes are
// silent, failing ones warn once, a vanished namespace keeps its name for a grace period.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetnsNamer } from "../server/names.ts";
import { CriRuntime, parseContainers, parseSandboxStatus, parseSandboxes } from "../server/runtimes/cri.ts";
import { DockerRuntime, defaultDockerSocket } from "../server/runtimes/docker.ts";
import { PodmanRuntime, parsePodmanPs } from "../server/runtimes/podman.ts";
import { ProtoWriter, decodeMessage } from "../server/runtimes/protobuf.ts";
import { labelOf, type ContainerInfo } from "../server/runtimes/runtime.ts";
import { formatNetnsOwner, parseNetnsName, type NetnsOwner } from "../shared/netnsNames.ts";

const isRoot = process.getuid?.() === 0;

const docker = (id: string, name: string): ContainerInfo => ({ runtime: "docker", id, name, pid: 1 });
const podman = (id: string, name: string, extra: Partial<ContainerInfo> = {}): ContainerInfo => ({ runtime: "podman", id, name, pid: 1, ...extra });
const cri = (id: string, name: string, pod: string, extra: Partial<ContainerInfo> = {}): ContainerInfo => {
  const [namespace = "", podName = ""] = pod.split("/");
  return { runtime: "cri", id, name, pod: { namespace, name: podName }, ...extra };
};

test("labelOf: the most specific name for the containers sharing one namespace", () => {
  const cases: [string, ContainerInfo[], string | undefined][] = [
    ["one docker container", [docker("a", "web-1")], "docker web-1"],
    ["docker containers sharing a netns (--network container:)", [docker("b", "sidecar"), docker("a", "web-1")], "docker sidecar, web-1"],
    ["one podman container", [podman("a", "db")], "podman db"],
    ["a podman pod: infra container unnamed", [podman("i", "abc-infra", { infra: true, podmanPod: "shop" }), podman("a", "db", { podmanPod: "shop" })], "podman pod shop (container db)"],
    ["a podman pod with only its infra", [podman("i", "abc-infra", { infra: true, podmanPod: "shop" })], "podman pod shop"],
    ["a pod with one container", [cri("s", "", "default/checkout-7d9f", { infra: true }), cri("c", "app", "default/checkout-7d9f")], "pod default/checkout-7d9f (container app)"],
    ["a pod with two, sorted", [cri("s", "", "db/redis-0", { infra: true }), cri("r", "redis", "db/redis-0"), cri("e", "exporter", "db/redis-0")], "pod db/redis-0 (containers exporter, redis)"],
    ["a pod whose containers have not started", [cri("s", "", "default/job-x", { infra: true })], "pod default/job-x"],
    ["a pod seen through both CRI and Docker (cri-dockerd)", [cri("c", "app", "default/web"), { ...docker("c", "app"), pod: { namespace: "default", name: "web" } }], "pod default/web (container app)"],
    ["the same container twice", [docker("a", "web-1"), docker("a", "web-1")], "docker web-1"],
    ["nothing named", [podman("i", "x", { infra: true })], undefined],
  ];
  for (const [what, containers, want] of cases) {
    assert.equal(labelOf(containers), want, what);
    assert.equal(labelOf([...containers].reverse()), want, `${what}, other order`);
  }
});

test("netnsName: what the namer writes, a view parses back to its owner", () => {
  const owners: NetnsOwner[] = [
    { kind: "host" },
    { kind: "pod", namespace: "default", pod: "checkout-7d9f", containers: ["app"] },
    { kind: "pod", namespace: "db", pod: "redis-0", containers: ["exporter", "redis"] },
    { kind: "pod", namespace: "default", pod: "job-x", containers: [] },
    { kind: "podman-pod", pod: "shop", containers: ["db"] },
    { kind: "podman-pod", pod: "shop", containers: [] },
    { kind: "docker", containers: ["web-1"] },
    { kind: "docker", containers: ["sidecar", "web-1"] },
    { kind: "podman", containers: ["db"] },
    { kind: "process", pid: 2031, comm: "sleep" },
    { kind: "process", pid: 7, comm: "" },
    { kind: "netns", name: "ppE2-a" },
    { kind: "netns", name: "cni-bb5b9e21-0a65-4a9c-c644-fc229198cdf6" },
  ];
  for (const owner of owners) assert.deepEqual(parseNetnsName(formatNetnsOwner(owner)), owner, formatNetnsOwner(owner));
  assert.equal(formatNetnsOwner(owners[1]!), "pod default/checkout-7d9f (container app)");
  // Names of other shapes are taken as `ip netns` names, whatever they hold.
  for (const name of ["pod x", "docker", "dockerd x", "pid x", "podman", "4026531840"]) {
    assert.deepEqual(parseNetnsName(name), { kind: "netns", name });
  }
});

test("protobuf: what the writer writes the reader reads; bad input is an error, not a throw", () => {
  const inner = new ProtoWriter().string(1, "sandbox-1").uint(3, 1);
  const bytes = new ProtoWriter()
    .message(1, inner).message(1, new ProtoWriter().string(1, "sandbox-2"))
    .map(5, { "io.kubernetes.pod.name": "checkout", "ключ": "значение" })
    .strings(3, ["sleep", "", "600"]).bool(2, true).uint(4, 1_796_193_295_123_456_789)
    .finish();
  const msg = decodeMessage(bytes);
  assert.ok(msg.ok);
  const items = msg.value.messages(1);
  assert.ok(items.ok);
  assert.deepEqual(items.value.map((m) => [m.string(1), m.uint(3)]), [["sandbox-1", 1], ["sandbox-2", 0]]);
  const map = msg.value.map(5);
  assert.ok(map.ok);
  assert.deepEqual([...map.value], [["io.kubernetes.pod.name", "checkout"], ["ключ", "значение"]]);
  assert.equal(msg.value.bool(2), true);
  // A nanosecond timestamp past 2^53 still reads (approximately), and does not stop the message.
  assert.ok(Math.abs(msg.value.uint(4) - 1_796_193_295_123_456_789) < 1e3);
  assert.equal(msg.value.string(9), "");

  assert.deepEqual(decodeMessage(bytes.subarray(0, bytes.length - 3)).ok, false);
  assert.deepEqual(decodeMessage(Uint8Array.from([0x0b])), { ok: false, error: "field 1: unsupported wire type 3" });
  assert.deepEqual(decodeMessage(Uint8Array.from([0x0a, 0x05, 0x01])), { ok: false, error: "field 1: length past the end" });
  // A field that should hold a message but holds a varint.
  assert.equal(parseSandboxes(new ProtoWriter().uint(1, 7).finish()).ok, false);
  assert.deepEqual(parseContainers(new Uint8Array()), { ok: true, value: [] });
  assert.deepEqual(parseSandboxStatus(new ProtoWriter().map(2, { info: "not json" }).finish()), { ok: true, value: { hostNetwork: false } });
});

test("podman ps JSON: running containers with a pid, pods and infra containers marked", () => {
  const text = JSON.stringify([
    { Id: "aa", Names: ["db"], Pid: 42, Pod: "", PodName: "", IsInfra: false },
    { Id: "bb", Names: ["shop-infra"], Pid: 43, Pod: "p1", PodName: "shop", IsInfra: true },
    { Id: "cc", Names: ["created-only"], Pid: 0 },
    { Id: 7, Names: "odd" },
  ]);
  assert.deepEqual(parsePodmanPs(text), [
    { runtime: "podman", id: "aa", name: "db", pid: 42 },
    { runtime: "podman", id: "bb", name: "shop-infra", pid: 43, podmanPod: "shop", infra: true },
  ]);
  assert.equal(parsePodmanPs("Error: something"), "`podman ps --format json` did not print a JSON array");
  assert.equal(defaultDockerSocket({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" }), "/run/user/1000/docker.sock");
  assert.equal(defaultDockerSocket({ DOCKER_HOST: "tcp://10.0.0.1:2375" }), "/var/run/docker.sock");
});

test("runtimes: an absent one is silent, a failing one warns once", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ppN5-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.deepEqual(await new DockerRuntime(join(dir, "none.sock")).list(), { state: "absent" });
  assert.deepEqual(await new CriRuntime(join(dir, "none.sock")).list(), { state: "absent" });
  assert.deepEqual(await new PodmanRuntime(join(dir, "no-podman")).list(), { state: "absent" });

  // Something listens, but it is no CRI: HTTP/1.1 on the socket. And a podman that fails.
  const http1 = createServer((_req, res) => res.end("hello"));
  http1.listen(join(dir, "http1.sock"));
  await once(http1, "listening");
  t.after(() => http1.close());
  const warnings: string[] = [];
  const namer = new NetnsNamer({ runtimes: [new CriRuntime(join(dir, "http1.sock"), 500), new PodmanRuntime("false")], onWarning: (w) => warnings.push(w) });
  t.after(() => namer.close());
  await namer.refresh();
  await namer.refresh();
  assert.equal(warnings.length, 2, warnings.join("\n"));
  t.diagnostic(warnings.join(" / "));
  assert.match(warnings.find((w) => w.includes("CRI")) ?? "", /^names: CRI \(.*http1\.sock\): /);
  assert.match(warnings.find((w) => w.includes("podman")) ?? "", /^names: podman \(false\): podman ps: /);
});

test("names: a namespace that goes away keeps its name for the grace period",
  { skip: isRoot ? false : "needs root to create network namespaces" }, async (t) => {
    const ns = "ppN5-gone";
    const del = () => {
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
      } catch {
        // not there
      }
    };
    del();
    t.after(del);
    execFileSync("ip", ["netns", "add", ns]);
    const ino = statSync(`/run/netns/${ns}`).ino;
    const keeps = new NetnsNamer({ runtimes: [], minRefreshMs: 0 });
    const forgets = new NetnsNamer({ runtimes: [], minRefreshMs: 0, graceMs: 0 });
    await Promise.all([keeps.refresh(), forgets.refresh()]);
    assert.equal(keeps.lookup(ino), ns);
    del();
    await Promise.all([keeps.refresh(), forgets.refresh()]);
    assert.equal(keeps.lookup(ino), ns);
    assert.equal(forgets.lookup(ino), undefined);
  });
