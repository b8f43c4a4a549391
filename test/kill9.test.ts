// A pktpath killed with -9 leaves nothing attached: BPF links die with its file descriptors, the
// `podman events` it listens to dies with it (a parent-death signal), and the tracefs instance it
// leaves is removed by the next run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createTracefsSource } from "../server/capture/tracefs.ts";
import { programsHeldBy } from "./support/bpf-programs.ts";
import { startServe, waitFor } from "./support/cli-child.ts";

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && "needs root (BPF, tracefs)";

/** Loaded BPF programs, from the kernel (bpftool, from Debian's bpftool package). */
function loadedPrograms(): { id: number; name: string }[] {
  const out = JSON.parse(execFileSync("bpftool", ["-j", "prog", "show"], { encoding: "utf8" })) as { id: number; name?: string }[];
  return out.map((p) => ({ id: p.id, name: p.name ?? "" }));
}
/** Processes whose parent is pid (from /proc), with their command lines. */
function childrenOf(pid: number): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${d}/status`, "utf8"))?.[1];
      if (Number(ppid) === pid) out.push({ pid: Number(d), cmd: readFileSync(`/proc/${d}/cmdline`, "utf8").replaceAll("\0", " ").trim() });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

const HANDLERS = ["handle_consume_skb", "handle_kfree_skb", "handle_napi_gro_receive_entry", "handle_net_dev_queue",
  "handle_net_dev_xmit", "handle_netif_receive_skb", "handle_netif_rx"];

test("kill -9 of serve with eBPF: every program and link is gone", { skip }, async () => {
  // By id, of the programs the serve process holds: another pktpath on this machine (a user's,
  // another test's) has programs of the same names.
  const serve = await startServe(["--source", "ebpf"]);
  let theirs: number[];
  let watchers: { pid: number; cmd: string }[] = [];
  try {
    // podman is installed by scripts/setup-system.sh: the namer listens to its events.
    watchers = await waitFor(async () => {
      const found = childrenOf(serve.child.pid!).filter((c) => c.cmd.includes("podman events"));
      return found.length > 0 ? found : undefined;
    }, 10_000, "the namer's podman events child");
    const held = new Set(programsHeldBy(serve.child.pid!));
    const loaded = loadedPrograms().filter((p) => held.has(p.id));
    assert.deepEqual(loaded.map((p) => p.name).filter((n) => HANDLERS.includes(n)).sort(), HANDLERS);
    assert.ok(loaded.some((p) => p.name === "nf_enter"), "the netfilter observers' program is loaded");
    theirs = loaded.map((p) => p.id);
  } finally {
    serve.child.kill("SIGKILL");
    await serve.stop();
  }
  const left = (): number[] => { const now = new Set(loadedPrograms().map((p) => p.id)); return theirs.filter((id) => now.has(id)); };
  await waitFor(async () => (left().length === 0 ? true : undefined), 5000, "programs to unload");
  await waitFor(async () => (watchers.every((w) => !alive(w.pid)) ? true : undefined), 5000,
    `the podman events children to end: ${JSON.stringify(watchers)}`);
});

test("kill -9 of serve with tracefs: the next run removes the instance it left", { skip }, async () => {
  const serve = await startServe(["--source", "tracefs"]);
  const pid = serve.child.pid!;
  const left = `/sys/kernel/tracing/instances/pktpath-${pid}`;
  serve.child.kill("SIGKILL");
  await serve.stop();
  assert.equal(existsSync(left), true, "a killed process cannot clean up after itself");
  const next = createTracefsSource();
  await next.start(() => undefined);
  await next.stop();
  assert.equal(existsSync(left), false);
});
