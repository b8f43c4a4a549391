// netns inode → name on the real machine: an `ip netns` namespace, the init netns, a process's own
// unnamed namespace, and the once-a-second limit on refreshes. Needs root (ip netns, unshare).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, readlinkSync, statSync } from "node:fs";
import { NetnsNamer } from "../server/names.ts";

const PREFIX = "ppN1-";
const isRoot = process.getuid?.() === 0;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "ignore" });
}

function removeLeftovers(): void {
  const list = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  for (const name of list.split("\n").map((l) => l.split(" ")[0] ?? "")) {
    if (name.startsWith(PREFIX)) ip("netns", "del", name);
  }
}

const inodeOf = (path: string): number => statSync(path).ino;

test("names: ip netns name, host, a process's netns; unknown inodes refresh at most once a second",
  { skip: isRoot ? false : "needs root to create network namespaces" }, async (t) => {
    removeLeftovers();
    t.after(removeLeftovers);
    ip("netns", "add", `${PREFIX}a`);
    // No container runtimes here: this test is about the namespaces themselves (names-*.test.ts
    // cover the runtimes).
    const namer = new NetnsNamer({ minRefreshMs: 1000, runtimes: [] });
    t.after(() => namer.close());
    await namer.refresh();
    const a = inodeOf(`/run/netns/${PREFIX}a`);
    assert.equal(namer.lookup(a), `${PREFIX}a`);
    assert.equal(namer.lookup(Number(/\d+/.exec(readlinkSync("/proc/self/ns/net"))?.[0])), "host");

    // A namespace only a process holds: named after that process.
    const child = spawn("unshare", ["--net", "sleep", "30"], { stdio: "ignore" });
    t.after(() => void child.kill("SIGKILL"));
    let childIno = 0;
    // Ready once unshare has exec'd sleep inside its new namespace.
    for (let i = 0; i < 100 && childIno === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      if (readFileSync(`/proc/${child.pid}/comm`, "utf8").trim() !== "sleep") continue;
      childIno = Number(/\d+/.exec(readlinkSync(`/proc/${child.pid}/ns/net`))?.[0]);
    }
    assert.notEqual(childIno, 0, "unshare made a namespace");

    // Created right after a refresh: still unknown until a second has passed since it.
    ip("netns", "add", `${PREFIX}b`);
    const b = inodeOf(`/run/netns/${PREFIX}b`);
    await namer.resolve([b, childIno]);
    assert.equal(namer.lookup(b), undefined);
    await new Promise((r) => setTimeout(r, 1000));
    await namer.resolve([b, childIno]);
    assert.equal(namer.lookup(b), `${PREFIX}b`);
    assert.equal(namer.lookup(childIno), `pid ${child.pid} sleep`);
    child.kill("SIGKILL");
    await once(child, "exit");
  });
