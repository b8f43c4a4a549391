// A live eBPF session's capture log keeps the kernel's records as bytes (server/captureLog.ts) and
// makes them events again only for a download. The download must be what the pipeline correlated,
// event for event: netns names and netfilter chains as they were then, even after the namespace,
// and with it its chains and its name, is gone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { KERNEL_BTF } from "../server/capture/btf.ts";
import { createEbpfSource } from "../server/capture/ebpf.ts";
import { NetfilterLayout, type HookPlan } from "../server/capture/nfplan.ts";
import { CaptureLog, viewChunks } from "../server/captureLog.ts";
import { NetnsNamer } from "../server/names.ts";
import { Pipeline } from "../server/pipeline.ts";
import type { RawEvent } from "../shared/types.ts";
import { captureFilter } from "./support/filter.ts";
import { Topology } from "./lib/netns.ts";

const skip = process.getuid?.() !== 0 ? "needs root (loads a BPF program, creates a namespace)"
  : !existsSync(KERNEL_BTF) ? `needs kernel BTF (${KERNEL_BTF})` : false;

test("the raw log's download is every event as correlated, named as then, after its namespace is gone", { skip, timeout: 60_000 }, async (t) => {
  const topo = new Topology("ppRw");
  t.after(() => topo.destroy());
  topo.netns("lo");
  topo.nft("lo", "table inet ppRw_t {\n  chain out {\n    type filter hook output priority 0; policy accept;\n    icmp type echo-request counter accept\n  }\n}");
  const inode = topo.inode("lo");
  const pipeline = new Pipeline(createEbpfSource(captureFilter("", { host: "127.0.0.1" })), { namer: new NetnsNamer() });
  const seen: string[] = [];
  let rawBatches = 0;
  pipeline.onEvents((events, raw) => {
    if (raw !== undefined) rawBatches++;
    // As the pipeline handed them on: in text at once, so nothing done to them later counts.
    for (const e of events) seen.push(JSON.stringify(e));
  });
  const { log } = CaptureLog.follow(pipeline);
  await pipeline.start();
  let stopped = false;
  t.after(async () => (stopped ? undefined : pipeline.stop()));
  topo.exec("lo", "ping", "-c", "20", "-i", "0.01", "-q", "127.0.0.1");
  await new Promise((r) => setTimeout(r, 500));
  await pipeline.stop();
  stopped = true;
  topo.destroy();

  const mine = seen.map((l) => JSON.parse(l) as RawEvent).filter((e) => e.netns === inode);
  t.diagnostic(`${seen.length} events in ${rawBatches} raw batches, ${mine.length} in the namespace`);
  assert.ok(rawBatches > 0, "the eBPF source handed the log its records");
  assert.ok(mine.length >= 20 * 2 * 5, "every echo's records");
  assert.ok(mine.every((e) => e.netnsName === "ppRw-lo"), "named by the namespace's name");
  assert.ok(mine.some((e) => e.netfilter?.table === "ppRw_t" && e.netfilter.chain === "out"), "the chain that passed the echo, named");

  const lines = [...viewChunks(log.view())].join("").trimEnd().split("\n");
  assert.equal(log.size, seen.length);
  assert.deepEqual(lines, seen, "the download: every event the pipeline correlated, as it was then");
});

test("the netfilter layout a kept batch decodes with: as it was, whatever the observers learn after", () => {
  const layout = new NetfilterLayout();
  const chain = (name: string) => ({ family: "inet", table: "t", chain: name, hook: "output", priority: 0 });
  const plan = (name: string): HookPlan => ({ pf: 2, hook: 3, afterPriorities: [1], chainsBefore: [[chain(name)]] });
  layout.set(7, [plan("first")]);
  const then = layout.snapshot();
  assert.equal(layout.snapshot(), then, "shared until a change");
  layout.set(7, [plan("second")]);
  layout.set(8, [plan("other")]);
  assert.equal(layout.step(7, 2, 3, 1)?.netfilter.chain, "second");
  assert.equal(then.step(7, 2, 3, 1)?.netfilter.chain, "first", "a chain replaced since: named as it was");
  const before = layout.snapshot();
  layout.delete(7);
  assert.equal(layout.step(7, 2, 3, 1), undefined);
  assert.equal(before.step(7, 2, 3, 1)?.netfilter.chain, "second", "a namespace gone since: still named");
  assert.equal(then.step(8, 2, 3, 1), undefined, "and nothing that came after");
});
