// The server as `npm start` runs it: server/ and shared/ compiled to JavaScript (scripts/build-server.sh)
// and run with no TypeScript loader at all, worker threads included. A module that still named a .ts
// file, or a worker started through tsx, fails here: plain Node cannot load TypeScript.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { KERNEL_BTF } from "../server/capture/btf.ts";
import { siblingModule, workerEntry } from "../server/workerEntry.ts";
import type { Ping } from "../shared/types.ts";
import { Topology } from "./lib/netns.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const skip = process.getuid?.() !== 0 ? "needs root (loads a BPF program, creates a namespace)"
  : !existsSync(KERNEL_BTF) ? `needs kernel BTF (${KERNEL_BTF})` : false;

test("a worker is the module beside its parent in the parent's own form; only a TypeScript one registers tsx", () => {
  const js = siblingModule("ringWorker", "file:///opt/pktpath/dist/server/capture/ebpf.js");
  assert.equal(js.href, "file:///opt/pktpath/dist/server/capture/ringWorker.js");
  assert.equal(workerEntry(js), `import("file:///opt/pktpath/dist/server/capture/ringWorker.js");`);
  const ts = siblingModule("ringWorker", "file:///opt/pktpath/server/capture/ebpf.ts");
  assert.equal(ts.href, "file:///opt/pktpath/server/capture/ringWorker.ts");
  assert.match(workerEntry(ts), /^import\(".*tsx.*"\)\.then\(\(m\) => \{ m\.register\(\); return import\("file:\/\/\/opt\/pktpath\/server\/capture\/ringWorker\.ts"\); \}\);$/);
});

test("the compiled server serves a live ping with plain node: no TypeScript in any thread", { skip, timeout: 120_000 }, async (t) => {
  execFileSync("bash", [`${ROOT}scripts/build-server.sh`], { stdio: ["ignore", "ignore", "inherit"] });
  const topo = new Topology("ppBs");
  t.after(() => topo.destroy());
  topo.netns("lo");
  const child = spawn(process.execPath, [`${ROOT}dist/server/cli.js`, "serve", "--source", "ebpf", "--port", "0"],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_OPTIONS: "" } });
  t.after(() => void child.kill("SIGTERM"));
  let err = "";
  for (const out of [child.stdout, child.stderr]) out.on("data", (d: Buffer) => void (err += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 60_000);
    child.stdout.on("data", () => {
      const m = /serving (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  topo.exec("lo", "ping", "-c", "1", "-e", "4813", "127.0.0.1");
  let pings: Ping[] = [];
  for (let i = 0; i < 100 && !pings.some((p) => p.icmpId === 4813); i++) {
    await new Promise((r) => setTimeout(r, 100));
    pings = (await (await fetch(`${url}/api/pings?limit=100`)).json()) as Ping[];
  }
  const listed = pings.filter((p) => p.icmpId === 4813);
  assert.equal(listed.length, 1, err);
  const ping = (await (await fetch(`${url}/api/pings/${listed[0]!.id}`)).json()) as Ping;
  assert.deepEqual([ping.status, ping.request?.hops.map((h) => h.event), ping.reply?.hops.length],
    ["complete", ["__ip_local_out", "ip_output", "net_dev_queue", "netif_rx", "net_dev_xmit", "netif_receive_skb", "ip_rcv", "ip_local_deliver"], 8], err);
  assert.doesNotMatch(err, /tsx|\.ts\b|ERR_UNKNOWN_FILE_EXTENSION/, "nothing asked for TypeScript");
});
