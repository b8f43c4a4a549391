// Docker containers named live through the Docker Engine API: a private dockerd (Debian's docker.io)
// on a bridge of the test's own, two containers, pings between them and to the host under
// `pktpath trace --json` (DOCKER_HOST pointing at the engine), every hop's netnsName read back; one
// container replaced by another gets the new one's name. Needs root and docker.io, which `npm test`
// installs where that cannot start the machine's own Docker daemon (see scripts/setup-system.sh).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readlinkSync } from "node:fs";
import { DockerRuntime } from "../server/runtimes/docker.ts";
import { DockerEngine } from "./lib/docker.ts";
import { SLEEP_CMD, busyboxTar } from "./lib/podman.ts";
import { TraceChild, echoBetween, hopNames } from "./lib/trace.ts";

const PREFIX = "ppN4";
const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? "needs root: runs dockerd and loads BPF"
  : !existsSync("/usr/sbin/dockerd") ? "needs docker.io, which npm test installs only where installing it cannot start the machine's Docker daemon"
  : false;
const inodeOfPid = (pid: string): number => Number(/\d+/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[0]);

test("docker: pings between containers and to the host are named after the containers, live", { skip }, async (t) => {
  const engine = new DockerEngine(`${PREFIX}-dock0`, "10.219.16.1/24");
  t.after(() => engine.destroy());
  await engine.start();
  const image = `ppn-busybox:${PREFIX}`;
  execFileSync("/usr/bin/docker", ["-H", `unix://${engine.socket}`, "import", "--change", SLEEP_CMD, "-", image],
    { input: busyboxTar(), stdio: ["pipe", "ignore", "pipe"] });
  const run = (name: string) => engine.docker("run", "-d", "--name", name, "--cap-add", "NET_RAW", image, "sleep", "600");
  const ipOf = (name: string) => engine.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", name);
  const netnsOf = (name: string) => inodeOfPid(engine.docker("inspect", "-f", "{{.State.Pid}}", name));
  const web = `${PREFIX}-web-1`, db = `${PREFIX}-db`, cache = `${PREFIX}-cache`, gateway = "10.219.16.1";
  run(web);
  run(db);
  const webIp = ipOf(web), dbIp = ipOf(db);
  engine.docker("exec", web, "ping", "-c", "1", "-W", "2", dbIp);
  engine.docker("exec", web, "ping", "-c", "1", "-W", "2", gateway);

  // What the client reads from the engine itself: the containers, their pids, Docker (not Podman).
  const listed = await new DockerRuntime(engine.socket).list();
  assert.equal(listed.state, "ok");
  assert.deepEqual(listed.state === "ok" ? listed.containers.map((c) => `${c.runtime} ${c.name}`).sort() : [], [`docker ${db}`, `docker ${web}`]);

  const trace = await TraceChild.start([], { ...process.env, DOCKER_HOST: `unix://${engine.socket}` });
  t.after(() => trace.stop());
  const expected = new Map([[inodeOfPid("self"), "host"], [netnsOf(web), `docker ${web}`], [netnsOf(db), `docker ${db}`]]);
  engine.docker("exec", web, "ping", "-c", "1", "-W", "2", dbIp);
  assert.deepEqual(hopNames(await trace.ping(echoBetween(webIp, dbIp), "ping web-1 → db"), expected), [`docker ${web}`, "host", `docker ${db}`]);
  engine.docker("exec", web, "ping", "-c", "1", "-W", "2", gateway);
  assert.deepEqual(hopNames(await trace.ping(echoBetween(webIp, gateway), "ping web-1 → host"), expected), [`docker ${web}`, "host"]);

  // db removed, cache started in its place: named from Docker's event stream.
  expected.delete(netnsOf(db));
  engine.docker("rm", "-f", db);
  run(cache);
  const cacheIp = ipOf(cache);
  expected.set(netnsOf(cache), `docker ${cache}`);
  // Docker hands cache db's address: web's neighbour entry still holds db's MAC, and the first echo
  // after the swap comes out without its request. One to settle it, then the one looked at.
  engine.docker("exec", web, "ping", "-c", "1", "-W", "2", cacheIp);
  await trace.ping(echoBetween(webIp, cacheIp), "ping web-1 → cache (neighbour settling)");
  engine.docker("exec", web, "ping", "-c", "1", "-W", "2", cacheIp);
  const toCache = await trace.ping(echoBetween(webIp, cacheIp), "ping web-1 → cache");
  assert.ok(toCache.request !== undefined);
  assert.deepEqual(hopNames(toCache, expected), [`docker ${web}`, "host", `docker ${cache}`]);
});
