// Containers named by their runtime, live: two Podman containers on Podman's default network, pings
// between them and to the host under `pktpath trace --json`, every hop's netnsName read back; one
// container replaced by another gets the new one's name. Then the Docker Engine API client against
// Podman's Docker-compatible service. Needs root, podman (Debian's, with runc) and busybox-static,
// which `npm test` installs.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerRuntime } from "../server/runtimes/docker.ts";
import { PodmanRuntime } from "../server/runtimes/podman.ts";
import { formatPing } from "../shared/tracepkt.ts";
import { RUN_FLAGS, buildBusyboxImage, gatewayOf, ipOf, netnsOf, podman, removeContainers } from "./lib/podman.ts";
import { TraceChild, echoBetween, hopNames } from "./lib/trace.ts";
import { sh } from "./lib/netns.ts";

const PREFIX = "ppN2-";
const isRoot = process.getuid?.() === 0;
const skip = !isRoot && "needs root: loads BPF and runs containers";
const hostInode = (): number => Number(/\d+/.exec(readlinkSync("/proc/self/ns/net"))?.[0]);

/** Podman's default bridge, removed afterwards when this test brought it up. */
const BRIDGE = "cni-podman0";
const bridgeExists = (): boolean => existsSync(`/sys/class/net/${BRIDGE}`);
const hadBridge = bridgeExists();
after(() => {
  if (isRoot && !hadBridge && bridgeExists()) sh("ip", "link", "del", BRIDGE);
});

function run(name: string, image: string): void {
  podman("run", "-d", "--name", name, ...RUN_FLAGS, image, "sleep", "600");
}

test("podman: pings between containers and to the host are named after the containers, live", { skip }, async (t) => {
  const image = `localhost/ppn-busybox:${PREFIX}img`;
  removeContainers(PREFIX, image);
  t.after(() => removeContainers(PREFIX, image));
  buildBusyboxImage(`${PREFIX}img`);
  const web = `${PREFIX}web-1`, db = `${PREFIX}db`, cache = `${PREFIX}cache`;
  run(web, image);
  run(db, image);
  const webIp = ipOf(web), dbIp = ipOf(db), gateway = gatewayOf(web);
  // Neighbours resolved before capture, so each ping is one request and one reply.
  podman("exec", web, "ping", "-c", "1", "-W", "2", dbIp);
  podman("exec", web, "ping", "-c", "1", "-W", "2", gateway);

  const trace = await TraceChild.start([]);
  t.after(() => trace.stop());
  const expected = new Map([[hostInode(), "host"], [netnsOf(web), `podman ${web}`], [netnsOf(db), `podman ${db}`]]);

  podman("exec", web, "ping", "-c", "1", "-W", "2", dbIp);
  const toDb = await trace.ping(echoBetween(webIp, dbIp), "ping web-1 → db");
  assert.deepEqual(hopNames(toDb, expected), [`podman ${web}`, "host", `podman ${db}`]);
  assert.equal(toDb.request?.hops[0]?.netnsName, `podman ${web}`);
  // `trace` without --json prints the same names in its lanes' column.
  const text = formatPing(toDb).split("\n").slice(1);
  assert.ok(text.length > 0 && text.every((l) => /^ {2}\[ *(podman ppN2-web-1|podman ppN2-db|host)\] /.test(l)), text.join("\n"));

  podman("exec", web, "ping", "-c", "1", "-W", "2", gateway);
  const toHost = await trace.ping(echoBetween(webIp, gateway), "ping web-1 → host");
  assert.deepEqual(hopNames(toHost, expected), [`podman ${web}`, "host"]);

  // db stops and cache takes its place: the namespace inode may even be the same number again.
  const dbInode = netnsOf(db);
  podman("rm", "-f", "-t", "0", db);
  run(cache, image);
  const cacheIp = ipOf(cache), cacheInode = netnsOf(cache);
  expected.delete(dbInode);
  expected.set(cacheInode, `podman ${cache}`);
  podman("exec", web, "ping", "-c", "1", "-W", "2", cacheIp);
  const toCache = await trace.ping(echoBetween(webIp, cacheIp), "ping web-1 → cache");
  assert.deepEqual(hopNames(toCache, expected), [`podman ${web}`, "host", `podman ${cache}`]);
  // The ping made before keeps the name it had.
  assert.ok(toDb.reply?.hops.some((h) => h.netnsName === `podman ${db}`));
  t.diagnostic(`db's netns ${dbInode}, cache's ${cacheInode}${dbInode === cacheInode ? " (reused)" : ""}`);
});

test("docker: the Engine API client lists containers with their pids and hears of starts (Podman's compatible API)", { skip }, async (t) => {
  const image = `localhost/ppn-busybox:${PREFIX}api`;
  removeContainers(`${PREFIX}api-`, image);
  t.after(() => removeContainers(`${PREFIX}api-`, image));
  buildBusyboxImage(`${PREFIX}api`);
  const dir = mkdtempSync(join(tmpdir(), "ppN-docker-api-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, "docker.sock");
  const service = spawn("podman", ["system", "service", "--time=0", `unix://${socket}`], { stdio: "ignore" });
  t.after(async () => {
    if (service.exitCode === null) {
      service.kill("SIGTERM");
      await once(service, "exit");
    }
  });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));

  const docker = new DockerRuntime(socket);
  const a = `${PREFIX}api-a`;
  run(a, image);
  const listed = await docker.list();
  assert.equal(listed.state, "ok");
  const mine = listed.state === "ok" ? listed.containers.filter((c) => c.name.startsWith(`${PREFIX}api-`)) : [];
  assert.deepEqual(mine.map((c) => [c.runtime, c.name, c.pid]), [["podman", a, Number(podman("inspect", "-f", "{{.State.Pid}}", a))]]);

  // A start announced on the event stream: the namer would ask again.
  let changes = 0;
  const stop = docker.watch(() => changes++);
  t.after(stop);
  await new Promise((r) => setTimeout(r, 300));
  run(`${PREFIX}api-b`, image);
  for (let i = 0; i < 100 && changes === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(changes > 0, "no event for a started container");

  // The CLI path names the same containers, and a socket that is not there is no runtime at all.
  const cli = await new PodmanRuntime().list();
  assert.equal(cli.state, "ok");
  assert.ok(cli.state === "ok" && cli.containers.some((c) => c.name === a && c.runtime === "podman"));
  assert.deepEqual(await new DockerRuntime(join(dir, "absent.sock")).list(), { state: "absent" });
});
